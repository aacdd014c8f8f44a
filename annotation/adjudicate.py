"""Adjudication: one gold annotation per task from the annotators' work, and a list of what needs a reviewer.

Per task: an annotation flagged ground truth wins (the latest if several); a task with one annotator keeps
that annotation; otherwise each (actor, policy option) pair is decided by a strict majority of the task's
annotators on its stance. A tie between stances is a *conflict*, a pair coded by too few annotators is a
*minority* statement, and neither goes into the gold: both are listed for review, and can be pushed back to
Label Studio as predictions (model_version `disagreement`) so a reviewer sees every side in the editor.
Article labels and spans outside any statement are decided the same way.

GOLD is a JSON list of tasks in Label Studio's export shape, each with exactly one annotation,
`{"annotator": "adjudicated", "ground_truth": true, "adjudication": {...}}`.
"""

from __future__ import annotations

import copy
import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from annotation.export import IMPORTED_KEY, TaskSource, coded_annotations, imported_statements, task_ref
from annotation.validate import CodedAnnotation, Issue, Names, Span, Statement
from corpus.codebook import Codebook
from corpus.tasks import STATEMENT_TYPE

log = logging.getLogger(__name__)

ADJUDICATED = "adjudicated"
DISAGREEMENT_VERSION = "disagreement"
CONFLICT, MINORITY, NO_MAJORITY = "conflict", "minority", "no_majority"


@dataclass
class Adjudication:
    """The gold tasks, the review list and counts of how each task was decided."""

    gold: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)
    methods: Counter[str] = field(default_factory=Counter)
    statements: int = 0
    skipped: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        kinds = Counter(r["kind"] for r in self.review)
        return {"gold_tasks": len(self.gold), "statements": self.statements, "methods": dict(self.methods),
                "review_items": len(self.review), "review_by_kind": dict(kinds),
                "tasks_without_usable_annotation": len(self.skipped),
                "issues": {"errors": sum(i.severity == "error" for i in self.issues),
                           "warnings": sum(i.severity == "warning" for i in self.issues)}}


def _items_by_region(c: CodedAnnotation) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in c.raw.get("result") or []:
        if isinstance(item, dict) and item.get("type") != "relation" and item.get("id") is not None:
            by_id[str(item["id"])].append(item)
    return by_id


class _ResultBuilder:
    """Collects result items from several annotators' annotations, renaming region ids apart."""

    def __init__(self) -> None:
        self.items: list[dict[str, Any]] = []
        self._seen: set[str] = set()

    def region(self, c: CodedAnnotation, index: int, span: Span, by_id: dict[str, list[dict[str, Any]]]) -> str:
        new_id = f"m{index}_{span.id}"
        if new_id not in self._seen:
            self._seen.add(new_id)
            for item in by_id.get(span.id, []):
                if item.get("type") in ("labels", "choices", "textarea"):
                    self.items.append({**copy.deepcopy(item), "id": new_id})
        return new_id

    def statement(self, c: CodedAnnotation, index: int, st: Statement, by_id: dict[str, list[dict[str, Any]]],
                  ) -> None:
        if st.actor_span is None or st.policy_span is None:
            item = copy.deepcopy(st.item) if st.item else {}
            self.items.append({**item, "id": f"m{index}_{item.get('id', len(self.items))}"})
            return
        a = self.region(c, index, st.actor_span, by_id)
        p = self.region(c, index, st.policy_span, by_id)
        rel = copy.deepcopy(st.item) if st.item else {}
        # The relation keeps its direction as drawn; its ends are renamed.
        from_actor = str((st.item or {}).get("from_id")) == st.actor_span.id
        rel.update({"from_id": a if from_actor else p, "to_id": p if from_actor else a})
        self.items.append(rel)


def _annotation(result: list[dict[str, Any]], method: str, sources: list[str], codebook: Codebook,
                ) -> dict[str, Any]:
    return {"id": 1, "annotator": ADJUDICATED, "completed_by": None, "ground_truth": True, "was_cancelled": False,
            "lead_time": None, "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "result": result,
            "adjudication": {"method": method, "sources": sources, "codebook_version": codebook.version}}


def _gold_task(task: dict[str, Any], annotation: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in task["data"].items() if k != IMPORTED_KEY}
    out = {k: task[k] for k in ("id", "inner_id", "project", "meta") if k in task}
    return {**out, "data": data, "annotations": [annotation], "predictions": []}


def _whole(task: dict[str, Any], c: CodedAnnotation) -> list[dict[str, Any]]:
    """An annotation's result as it stands, with imported statements put back as statement items."""
    result = [i for i in copy.deepcopy(c.raw.get("result") or []) if isinstance(i, dict)]
    return result + copy.deepcopy(imported_statements(task, c.raw))


def _vote(votes: dict[str, str], n: int) -> tuple[str | None, str | None]:
    """(winner, None) for a strict majority of n annotators, else (None, why)."""
    counts = Counter(votes.values()).most_common()
    top, top_n = counts[0]
    if len(counts) > 1 and counts[1][1] == top_n:
        return None, CONFLICT
    if top_n * 2 > n:
        return top, None
    return None, MINORITY if len(votes) * 2 <= n else NO_MAJORITY


def adjudicate(source: TaskSource, codebook: Codebook) -> Adjudication:
    """Decide every task of `source` (pure: returns gold tasks and the review list)."""
    names = Names(codebook)
    out = Adjudication()
    for task in source.tasks:
        ref = task_ref(task)
        article_id = task["data"].get("article_id")
        coded, issues = coded_annotations(task, codebook, source.users, names)
        out.issues += issues
        if not coded:
            out.skipped.append(ref)
            continue
        truth = sorted((c for c in coded if c.ground_truth),
                       key=lambda c: (str(c.raw.get("updated_at") or c.raw.get("created_at") or ""),
                                      c.raw.get("id") if isinstance(c.raw.get("id"), int) else 0))
        if truth:
            chosen = truth[-1]
            if len(truth) > 1:
                out.review.append({"task": ref, "article_id": article_id, "kind": "ground_truth",
                                   "detail": f"{len(truth)} ground-truth annotations; the latest "
                                             f"({chosen.annotator}, {chosen.annotation_id}) is used",
                                   "votes": {c.annotator: c.annotation_id for c in truth}})
            method, result, sources = "ground_truth", _whole(task, chosen), [chosen.annotator]
            out.statements += len(chosen.statements)
        elif len(coded) == 1:
            method, result, sources = "single", _whole(task, coded[0]), [coded[0].annotator]
            out.statements += len(coded[0].statements)
        else:
            method, sources = "majority", sorted(c.annotator for c in coded)
            result, kept = _majority(task, ref, article_id, coded, out.review, codebook)
            out.statements += kept
        out.methods[method] += 1
        out.gold.append(_gold_task(task, _annotation(result, method, sources, codebook)))
    return out


def _majority(task: dict[str, Any], ref: str, article_id: Any, coded: list[CodedAnnotation],
              review: list[dict[str, Any]], codebook: Codebook) -> tuple[list[dict[str, Any]], int]:
    from annotation.agreement import stance_by_pair

    n = len(coded)
    coded = sorted(coded, key=lambda c: c.annotator)
    order = codebook.stance_names
    stances = {c.annotator: stance_by_pair(c, order) for c in coded}
    by_id = {c.annotator: _items_by_region(c) for c in coded}
    builder = _ResultBuilder()
    kept = 0
    pairs = sorted({p for s in stances.values() for p in s})
    used_spans: dict[str, set[str]] = defaultdict(set)
    for pair in pairs:
        votes = {who: s[pair] for who, s in stances.items() if pair in s}
        winner, why = _vote(votes, n)
        if winner is None:
            review.append({"task": ref, "article_id": article_id, "kind": why, "actor": pair[0], "policy": pair[1],
                           "votes": votes, "annotators": n})
            continue
        index, c = next((i, c) for i, c in enumerate(coded) if votes.get(c.annotator) == winner)
        for st in c.statements:
            if st.pair == pair and st.stance == winner:
                builder.statement(c, index, st, by_id[c.annotator])
                kept += 1
                for span in (st.actor_span, st.policy_span):
                    if span is not None:
                        used_spans[c.annotator].add(span.id)
    # Spans outside any statement (mentions only): kept when a majority drew the same span.
    span_votes: dict[tuple[str, int, int, str], list[tuple[int, CodedAnnotation, Span]]] = defaultdict(list)
    for i, c in enumerate(coded):
        in_statements = {s.id for st in c.statements for s in (st.actor_span, st.policy_span) if s is not None}
        for span in c.spans.values():
            if span.id not in in_statements:
                span_votes[(span.label, span.start, span.end, span.canonical)].append((i, c, span))
    for (label, start, end, canonical), voters in sorted(span_votes.items()):
        if len({c.annotator for _, c, _ in voters}) * 2 > n:
            i, c, span = voters[0]
            builder.region(c, i, span, by_id[c.annotator])
        else:
            review.append({"task": ref, "article_id": article_id, "kind": "span", "label": label,
                           "start": start, "end": end, "canonical": canonical,
                           "votes": {c.annotator: span.text for _, c, span in voters}, "annotators": n})
    # Article-level labels.
    for label in codebook.article_labels:
        votes = {c.annotator: c.article_labels[label.id] for c in coded if label.id in c.article_labels}
        if not votes:
            continue
        winner, why = _vote(votes, n)
        if winner is None:
            review.append({"task": ref, "article_id": article_id, "kind": "article_label", "label": label.id,
                           "votes": votes, "annotators": n, "detail": why})
            continue
        builder.items.append({"id": f"article-{label.id}", "from_name": label.id, "to_name": "text",
                              "type": "choices", "value": {"choices": [winner]}})
    return builder.items, kept


def disagreement_predictions(source: TaskSource, adjudication: Adjudication, codebook: Codebook,
                             ) -> dict[str, dict[str, Any]]:
    """Per article id, a prediction showing every side of each conflict, minority or unmatched statement:
    each voter's spans and relation (region ids prefixed by the voter), scored by the share of agreement."""
    from annotation.agreement import stance_by_pair

    names = Names(codebook)
    wanted: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in adjudication.review:
        if r["kind"] in (CONFLICT, MINORITY, NO_MAJORITY):
            wanted[r["task"]].append(r)
    out: dict[str, dict[str, Any]] = {}
    for task in source.tasks:
        ref = task_ref(task)
        if ref not in wanted or not task["data"].get("article_id"):
            continue
        coded = sorted(coded_annotations(task, codebook, source.users, names)[0], key=lambda c: c.annotator)
        coded = [c for c in coded if not c.ground_truth]
        builder = _ResultBuilder()
        shares = []
        for r in wanted[ref]:
            pair = (r["actor"], r["policy"])
            shares.append(Counter(r["votes"].values()).most_common(1)[0][1] / max(r["annotators"], 1))
            for i, c in enumerate(coded):
                stance = stance_by_pair(c, codebook.stance_names).get(pair)
                for st in c.statements:
                    if st.pair == pair and st.stance == stance and st.actor_span is not None:
                        builder.statement(c, i, st, _items_by_region(c))
                        break
        if builder.items:
            out[str(task["data"]["article_id"])] = {
                "model_version": DISAGREEMENT_VERSION, "score": round(sum(shares) / len(shares), 4),
                "result": [i for i in builder.items if i.get("type") != STATEMENT_TYPE]}
    return out
