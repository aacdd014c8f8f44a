"""`corpus stats`: counts of articles, annotations and statements in a corpus store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from corpus.codebook import ACTOR_CHOICE_NAME, CANONICAL_NAME, MENTION_NAME, POLICY_CHOICE_NAME
from corpus.store import CorpusStore
from corpus.tasks import STATEMENT_TYPE


@dataclass
class CorpusStats:
    articles: int = 0
    tasks: int = 0
    annotations: int = 0
    ground_truth: int = 0
    spans: Counter = field(default_factory=Counter)
    stances: Counter = field(default_factory=Counter)
    actors: Counter = field(default_factory=Counter)
    policies: Counter = field(default_factory=Counter)
    splits: Counter = field(default_factory=Counter)
    annotators: Counter = field(default_factory=Counter)


def corpus_stats(store: CorpusStore) -> CorpusStats:
    """Count what the store holds; stances are counted on ground-truth annotations (else on every annotation)."""
    from corpus.tasks import annotator_of

    stats = CorpusStats()
    for art in store.articles():
        stats.articles += 1
        stats.splits[art.split or "unassigned"] += 1
    for path in store.task_files():
        task = store.read_task(path)
        stats.tasks += 1
        anns = task.get("annotations") or []
        gold = [a for a in anns if a.get("ground_truth")] or anns
        for ann in anns:
            stats.annotations += 1
            stats.ground_truth += bool(ann.get("ground_truth"))
            stats.annotators[annotator_of(ann)] += 1
        for ann in gold[:1]:
            result = ann.get("result") or []
            norm = {}
            for item in result:
                name = item.get("from_name")
                if item.get("type") == "labels" and name == MENTION_NAME:
                    stats.spans[(item["value"].get("labels") or ["?"])[0]] += 1
                elif name in (ACTOR_CHOICE_NAME, POLICY_CHOICE_NAME):
                    norm[str(item.get("id"))] = (item["value"].get("choices") or ["?"])[0]
                elif name == CANONICAL_NAME:
                    norm[str(item.get("id"))] = (item["value"].get("text") or ["?"])[0]
            for item in result:
                if item.get("type") == "relation":
                    stats.stances[(item.get("labels") or ["?"])[0]] += 1
                    stats.actors[norm.get(str(item.get("from_id")), "?")] += 1
                    stats.policies[norm.get(str(item.get("to_id")), "?")] += 1
                elif item.get("type") == STATEMENT_TYPE:
                    v = item.get("value") or {}
                    stats.stances[v.get("stance", "?")] += 1
                    stats.actors[v.get("actor", "?")] += 1
                    stats.policies[v.get("target", "?")] += 1
    return stats
