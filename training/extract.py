"""Article text -> stance statements: mentions (tagger or gazetteer), candidate pairs, stance predictions.

For each article: find Actor and Policy mentions (`training.tagger.find_mentions`), pair every actor
mention with every policy mention whose sentences lie within `window` sentences of each other (1: the
same sentence), and predict each pair's stance with a stance model (`training.predict.load_predictor`)
from the same statement row a dataset build makes (context = the sentences covering both mentions,
mention offsets inside it). Pairs whose ends are not both normalised to the codebook are left out
unless `keep_unresolved`; the model cannot say "no stance", so every kept pair gets a stance and a
confidence, and `min_confidence` filters.

The JSON output (one list) is what `python -m evaluation network` reads: per statement `article_id`,
`actor_id`, `actor_label`, `policy_id`, `policy_label`, `stance`, `confidence`, `probabilities`,
`evidence` {text, start, end}, `actor_mention` and `policy_mention` {text, start, end, score, source},
all offsets into the article's text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.codebook import ACTOR_LABEL, POLICY_LABEL, Codebook
from corpus.errors import InputError
from corpus.gazetteer import Gazetteer, Mention
from corpus.schema import Article
from training.tagger import SpanTagger, find_mentions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """An actor mention and a policy mention close enough to be a statement, with the context covering both."""

    actor: Mention
    policy: Mention
    context_start: int
    context_end: int


@dataclass(frozen=True)
class Statement:
    """A candidate with its predicted stance."""

    article_id: str
    candidate: Candidate
    stance: str
    confidence: float
    probabilities: dict[str, float]

    def to_json(self, text: str, codebook: Codebook) -> dict[str, Any]:
        c = self.candidate
        actor = codebook.actor(c.actor.canonical) if c.actor.canonical else None
        policy = codebook.policy(c.policy.canonical) if c.policy.canonical else None
        return {
            "article_id": self.article_id,
            "actor_id": c.actor.canonical, "actor_label": actor.label if actor else c.actor.text,
            "actor_type": actor.type if actor else "unknown",
            "policy_id": c.policy.canonical, "policy_label": policy.label if policy else c.policy.text,
            "stance": self.stance, "confidence": round(self.confidence, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "evidence": {"text": text[c.context_start:c.context_end], "start": c.context_start,
                         "end": c.context_end},
            "actor_mention": _mention_json(c.actor), "policy_mention": _mention_json(c.policy),
        }


def _mention_json(m: Mention) -> dict[str, Any]:
    return {"text": m.text, "start": m.start, "end": m.end, "score": m.score, "source": m.source}


@dataclass
class ArticleResult:
    """Everything extract found in one article: its mentions and its statements."""

    article_id: str
    text: str
    mentions: list[Mention] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)


def candidate_pairs(text: str, mentions: Sequence[Mention], window: int = 1,
                    keep_unresolved: bool = False) -> list[Candidate]:
    """Actor x policy mention pairs at most `window - 1` sentences apart, in text order."""
    from corpus.sentences import merge_across, sentence_index, split_sentences

    if window < 1:
        raise ValueError("window must be at least 1 (the same sentence)")
    sentences = merge_across(split_sentences(text), [(m.start, m.end) for m in mentions]) or [(0, len(text))]
    starts = [s for s, _ in sentences]

    def usable(m: Mention) -> bool:
        return keep_unresolved or m.canonical is not None

    actors = [(sentence_index(starts, m.start), m) for m in mentions if m.label == ACTOR_LABEL and usable(m)]
    policies = [(sentence_index(starts, m.start), m) for m in mentions if m.label == POLICY_LABEL and usable(m)]
    out = []
    for sa, a in actors:
        for sp, p in policies:
            if abs(sa - sp) < window:
                lo, hi = min(sa, sp), max(sa, sp)
                out.append(Candidate(a, p, sentences[lo][0], sentences[hi][1]))
    return sorted(out, key=lambda c: (c.context_start, c.actor.start, c.policy.start))


def statement_row(text: str, c: Candidate, codebook: Codebook) -> dict[str, Any]:
    """The stance model's input row for a candidate (the statements dataset's columns)."""
    actor = codebook.actor(c.actor.canonical) if c.actor.canonical else None
    policy = codebook.policy(c.policy.canonical) if c.policy.canonical else None
    base = c.context_start
    return {
        "context": text[c.context_start:c.context_end],
        "actor_mention": c.actor.text, "policy_mention": c.policy.text,
        "actor_label": actor.label if actor else c.actor.text,
        "policy_label": policy.label if policy else c.policy.text,
        "actor_context_start": c.actor.start - base, "actor_context_end": c.actor.end - base,
        "policy_context_start": c.policy.start - base, "policy_context_end": c.policy.end - base,
    }


class Extractor:
    """Mentions -> candidate pairs -> stance predictions, for many articles at once (one batched predict)."""

    def __init__(self, predictor: Any, codebook: Codebook, tagger: SpanTagger | None = None, window: int = 1,
                 min_confidence: float = 0.0, keep_unresolved: bool = False, model_version: str = "local") -> None:
        self.predictor = predictor
        self.codebook = codebook
        self.gazetteer = Gazetteer(codebook)
        self.tagger = tagger
        self.window = window
        self.min_confidence = min_confidence
        self.keep_unresolved = keep_unresolved
        self.model_version = model_version
        missing = set(predictor.labels) - set(codebook.stance_names)
        if missing:
            raise InputError("--model", f"the stance model predicts labels outside the codebook: {sorted(missing)}")

    def run(self, items: Sequence[tuple[str, str]]) -> list[ArticleResult]:
        """(article id, text) pairs -> one ArticleResult each, in order."""
        tagged = self.tagger.predict_many([t for _, t in items]) if self.tagger else [None] * len(items)
        results, rows, owners = [], [], []
        for (article_id, text), found in zip(items, tagged, strict=True):
            mentions = find_mentions(text, self.gazetteer, self.tagger, tagged=found)
            result = ArticleResult(article_id, text, mentions)
            for cand in candidate_pairs(text, mentions, self.window, self.keep_unresolved):
                rows.append(statement_row(text, cand, self.codebook))
                owners.append((result, cand))
            results.append(result)
        if rows:
            proba = self.predictor.predict_proba(rows)
            labels = list(self.predictor.labels)
            for (result, cand), p in zip(owners, proba, strict=True):
                probs = {label: float(x) for label, x in zip(labels, p, strict=True)}
                stance = max(probs, key=probs.__getitem__)
                if probs[stance] >= self.min_confidence:
                    result.statements.append(Statement(result.article_id, cand, stance, probs[stance], probs))
        return results

    def extract(self, articles: Iterable[Article]) -> list[ArticleResult]:
        return self.run([(a.id, a.text) for a in articles])


def describe_model(folder: Path, ref: str) -> str:
    """A model's version string: 'name/version' when registered, else its MLflow model id, else the reference."""
    from corpus.yamlio import read_yaml

    meta = folder / "registered_model_meta"
    if meta.is_file():
        data = read_yaml(meta) or {}
        if data.get("model_name") and data.get("model_version") is not None:
            return f"{data['model_name']}/{data['model_version']}"
    mlmodel = folder / "MLmodel"
    if mlmodel.is_file():
        data = read_yaml(mlmodel) or {}
        if data.get("model_id"):
            return str(data["model_id"])
    return ref


def load_extractor(model: str, tagger: str | None = None, tracking_uri: str | None = None,
                   codebook: Codebook | None = None, **options: Any) -> Extractor:
    """An Extractor over a stance model and an optional tagger (folders or MLflow URIs); version strings
    come from the registry where the models are registered."""
    from corpus.codebook import load_codebook
    from training.predict import MLFLOW_SCHEMES, load_predictor
    from training.tagger import load_tagger

    codebook = codebook or load_codebook()
    version = model
    if model.startswith(MLFLOW_SCHEMES):
        from training import tracking

        folder = tracking.download_model(model, tracking_uri)
        version = describe_model(folder, model)
        predictor = load_predictor(str(folder))
    else:
        predictor = load_predictor(model, tracking_uri)
    span_tagger = load_tagger(tagger, tracking_uri) if tagger else None
    if span_tagger is not None and tagger and tagger.startswith(MLFLOW_SCHEMES):
        span_tagger.version = tagger
    return Extractor(predictor, codebook, span_tagger, model_version=version, **options)


def read_articles(paths: Sequence[str | Path]) -> list[Article]:
    """Articles from stored article JSON or any file `python -m corpus add` reads (.txt .md .html .json .jsonl)."""
    from corpus.ingest import SUFFIXES, Metadata, parse_file

    articles: list[Article] = []
    for p in paths:
        path = Path(p)
        if path.suffix.lower() not in SUFFIXES:
            raise InputError(path, f"unsupported file type; expected one of {' '.join(SUFFIXES)}")
        articles.extend(parse_file(path, Metadata()))
    ids = [a.id for a in articles]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise InputError(paths[0] if len(paths) == 1 else "ARTICLE", f"article id {dupes[0]!r} given twice")
    return articles


def extract_files(paths: Sequence[str | Path], out: str | Path, model: str, tagger: str | None = None,
                  tracking_uri: str | None = None, batch: int = 16,
                  progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None,
                  **options: Any) -> dict[str, Any]:
    """Extract statements from article files into one JSON list at `out` (written atomically); a summary."""
    import json

    from corpus.errors import write_text_atomic

    out = Path(out)
    if out.suffix.lower() != ".json":
        raise InputError(out, "output must be a .json file")
    if not paths:
        raise InputError("ARTICLE", "give at least one article file")
    articles = read_articles(paths)
    extractor = load_extractor(model, tagger, tracking_uri, **options)
    rows: list[dict[str, Any]] = []
    mentions = 0
    chunks = [articles[i: i + batch] for i in range(0, len(articles), batch)]
    for chunk in progress(chunks) if progress else chunks:
        for result in extractor.extract(chunk):
            mentions += len(result.mentions)
            rows += [s.to_json(result.text, extractor.codebook) | {"model_version": extractor.model_version}
                     for s in result.statements]
    write_text_atomic(out, json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
    return {"articles": len(articles), "mentions": mentions, "statements": len(rows), "out": str(out),
            "model_version": extractor.model_version,
            "tagger": extractor.tagger.version if extractor.tagger else "gazetteer"}
