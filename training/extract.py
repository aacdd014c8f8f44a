"""Article text -> stance statements: mentions, candidate pairs, a detector's statement-or-none decision.

Two settings (recorded as `setting` in the output):

* **found-entities** (default): find Actor and Policy mentions (`training.tagger.find_mentions`: the tagger,
  or the codebook gazetteer), pair every actor mention with every policy mention whose sentences lie within
  `window` sentences of each other (1: the same sentence), and make each pair the statement row a dataset
  build makes (context = the sentences covering both mentions, mention offsets inside it, the article's
  title and preceding sentences for a model that reads them). Pairs whose ends are not both normalised to
  the codebook are left out unless `keep_unresolved` (such a side gets the id a dataset build gives a name
  outside the codebook, `x:<name slug>`, so it can match a SEESAW entity of that name). With `names`, proper
  names found by `corpus.names` join the mentions, and each mention outside the codebook is named by its
  longest form in the article ("Obama" -> "Barack Obama"; `name` in its mention JSON); `learned` adds the
  surfaces a train split's coders named, `top_entities` keeps the K most-mentioned entities, `author` lets
  "(author)" hold a candidate toward every target of each sentence.
* **gold-entities** (`gold_entities=DATASET`): the pairs are DATASET/candidates rows of the articles (every
  co-occurring gold actor-target pair, including sides given by name without offsets), so only which pairs
  hold a stance, and which stance, is predicted. Their gold labels are never shown to the model.

Each pair goes through the model (`training.predict.load_predictor`) and `training.detection.decide`: a
detector (its `none_label` and validation `threshold`) keeps the pairs whose P(statement) reaches the
threshold; a plain stance model keeps every pair. The kept pairs with confidence >= `min_confidence` become
statements, one per (actor, target, context): several mentions of the same actor and target in one sentence
give one statement, the most confident (`mention_pairs` says how many were merged).

The JSON output (written atomically) is an object: `setting`, `model`, `model_version`, `model_kind`
(detector | stance), `none_label`, `threshold`, `tagger`, `window`, `min_confidence`, `keep_unresolved`,
`names`, `learned_names` (how many), `top_entities`, `author`, `dataset` / `split` (gold-entities), `articles`
(one row per article read: `article_id`, `mentions`, `candidates`, `detected`, `statements`) and `statements`,
a list that `python -m evaluation network` and `python -m evaluation extraction` read: per statement
`article_id`, `actor_id`, `actor_label`, `actor_type`, `policy_id`, `policy_label`, `stance`, `confidence`,
`p_statement`, `probabilities`, `mention_pairs`, `evidence` {text, start, end}, `actor_mention` and
`policy_mention` {text, start, end, score, source, and `name` where linked}
(offsets into the article's text; null for a gold side given by name only), `setting`, `model_version`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.codebook import ACTOR_LABEL, POLICY_LABEL, Codebook
from corpus.errors import InputError
from corpus.gazetteer import Gazetteer, Mention, surface_key
from corpus.importers.statements import AUTHOR
from corpus.names import LearnedNames, add_names, find_names, link_names
from corpus.schema import Article
from training.tagger import SpanTagger, find_mentions

log = logging.getLogger(__name__)

FOUND, GOLD = "found-entities", "gold-entities"
SETTINGS = (FOUND, GOLD)
GOLD_SOURCE = "gold"  # Mention.source of a gold-entities side
LABEL_COLUMNS = ("stance", "qualifiers", "candidate_source")  # what a candidate row says of its gold label


@dataclass(frozen=True)
class Candidate:
    """An actor mention and a policy mention close enough to be a statement, with the context covering both.

    `row` is the dataset's candidate row in the gold-entities setting (its ids and labels name the sides)."""

    actor: Mention
    policy: Mention
    context_start: int
    context_end: int
    row: Mapping[str, Any] | None = field(default=None, compare=False)


AUTHOR_MENTION = Mention(None, None, AUTHOR, ACTOR_LABEL, None, 1.0, "author", name=AUTHOR)  # type: ignore[arg-type]


def _sides(c: Candidate, codebook: Codebook) -> dict[str, Any]:
    """actor_id, actor_label, actor_type, policy_id, policy_label of a candidate (the gold row's, or the codebook's)."""
    if c.row is not None:
        r = c.row
        return {"actor_id": r.get("actor_id"), "actor_label": r.get("actor_label") or c.actor.text,
                "actor_type": r.get("actor_type") or "unknown", "policy_id": r.get("policy_id"),
                "policy_label": r.get("policy_label") or c.policy.text}
    # a canonical id names a side only when it is an entry of that side's list (with --either-side an actor's
    # mention can be a target): otherwise the side gets the id a build gives a name outside the codebook
    actor = codebook.actor(c.actor.canonical) if c.actor.canonical else None
    policy = codebook.policy(c.policy.canonical) if c.policy.canonical else None
    actor_name, policy_name = _name_of(c.actor, codebook), _name_of(c.policy, codebook)
    return {"actor_id": actor.id if actor else external_id(actor_name),
            "actor_label": actor.label if actor else actor_name, "actor_type": actor.type if actor else "unknown",
            "policy_id": policy.id if policy else external_id(policy_name),
            "policy_label": policy.label if policy else policy_name}


def _name_of(m: Mention, codebook: Codebook) -> str:
    """What a side is called outside its codebook list: its linked name, else the label of the codebook entry it
    names on the other side (an actor as target: "Donald Trump", as a build names that target), else its text."""
    if m.name:
        return m.name
    entry = (codebook.actor(m.canonical) or codebook.policy(m.canonical)) if m.canonical else None
    return entry.label if entry is not None else m.text


def most_mentioned(mentions: Sequence[Mention], codebook: Codebook, k: int) -> list[Mention]:
    """The mentions of the `k` entities mentioned most often in the article (a codebook id, else a name; ties:
    the first mentioned first): coders list the article's salient entities, not every name in it."""
    from collections import Counter

    def entity(m: Mention) -> str:
        return m.canonical or _name_of(m, codebook)

    counts = Counter(entity(m) for m in mentions)
    first = {}
    for i, m in enumerate(mentions):
        first.setdefault(entity(m), i)
    keep = set(sorted(counts, key=lambda e: (-counts[e], first[e]))[:k])
    return [m for m in mentions if entity(m) in keep]


def external_id(text: str) -> str:
    """The id a dataset build gives a span the codebook does not name (`x:<name slug>`, corpus.convert's rule)."""
    from corpus.convert import EXTERNAL_PREFIX
    from corpus.schema import name_slug

    return EXTERNAL_PREFIX + name_slug(text)


@dataclass(frozen=True)
class PairDecision:
    """One candidate pair and what the model decided: a stance or the none label, P(statement), confidence,
    the model's probabilities and P(stance | statement) over the stance labels (for the uncertainty queue)."""

    candidate: Candidate
    label: str
    p_statement: float
    confidence: float
    probabilities: dict[str, float]
    stance_probabilities: dict[str, float]
    is_statement: bool


@dataclass(frozen=True)
class Statement:
    """A candidate detected as a statement, with its stance (one per actor, target and context)."""

    article_id: str
    candidate: Candidate
    stance: str
    confidence: float
    probabilities: dict[str, float]
    p_statement: float = 1.0
    mention_pairs: int = 1

    def to_json(self, text: str, codebook: Codebook) -> dict[str, Any]:
        c = self.candidate
        return {
            "article_id": self.article_id, **_sides(c, codebook),
            "stance": self.stance, "confidence": round(self.confidence, 4),
            "p_statement": round(self.p_statement, 4),
            "probabilities": {k: round(v, 4) for k, v in self.probabilities.items()},
            "mention_pairs": self.mention_pairs,
            "evidence": {"text": text[c.context_start:c.context_end], "start": c.context_start,
                         "end": c.context_end},
            "actor_mention": _mention_json(c.actor), "policy_mention": _mention_json(c.policy),
        }


def _mention_json(m: Mention) -> dict[str, Any]:
    return {"text": m.text, "start": m.start, "end": m.end, "score": m.score, "source": m.source,
            **({"name": m.name} if m.name else {})}


@dataclass
class ArticleResult:
    """Everything extract found in one article: its mentions, every candidate pair's decision, its statements."""

    article_id: str
    text: str
    mentions: list[Mention] = field(default_factory=list)
    statements: list[Statement] = field(default_factory=list)
    pairs: list[PairDecision] = field(default_factory=list)

    @property
    def detected(self) -> int:
        """Candidate pairs detected as statements (before the confidence filter and the merge)."""
        return sum(1 for p in self.pairs if p.is_statement)

    def summary(self) -> dict[str, Any]:
        return {"article_id": self.article_id, "mentions": len(self.mentions), "candidates": len(self.pairs),
                "detected": self.detected, "statements": len(self.statements)}


def candidate_pairs(text: str, mentions: Sequence[Mention], window: int = 1,
                    keep_unresolved: bool = False, either_side: bool = False,
                    author: bool = False) -> list[Candidate]:
    """Actor x policy mention pairs at most `window - 1` sentences apart, in text order. With `either_side`
    (corpora whose targets are entities, as SEESAW's: one person is a holder in one statement and a target in
    the next), every mention can be either side: each ordered pair of two mentions of different names. With
    `author`, the article's author ("(author)", no span: SEESAW's holder of the writer's own voice) holds a
    candidate toward each target of every sentence, as a dataset build's candidates have it."""
    from corpus.sentences import merge_across, sentence_index, split_sentences

    if window < 1:
        raise ValueError("window must be at least 1 (the same sentence)")
    sentences = merge_across(split_sentences(text), [(m.start, m.end) for m in mentions]) or [(0, len(text))]
    starts = [s for s, _ in sentences]

    def usable(m: Mention) -> bool:
        return keep_unresolved or m.canonical is not None

    sides = (ACTOR_LABEL, POLICY_LABEL)
    actors = [(sentence_index(starts, m.start), m) for m in mentions
              if (m.label == ACTOR_LABEL or either_side and m.label in sides) and usable(m)]
    policies = [(sentence_index(starts, m.start), m) for m in mentions
                if (m.label == POLICY_LABEL or either_side and m.label in sides) and usable(m)]
    out = []
    for sa, a in actors:
        for sp, p in policies:
            if either_side and (a is p or surface_key(a.text) == surface_key(p.text)
                                or (a.name or a.text) == (p.name or p.text)):
                continue  # one entity on both sides
            if abs(sa - sp) < window:
                lo, hi = min(sa, sp), max(sa, sp)
                out.append(Candidate(a, p, sentences[lo][0], sentences[hi][1]))
    if author:
        out += [Candidate(AUTHOR_MENTION, p, *sentences[sp]) for sp, p in policies]
    return sorted(out, key=lambda c: (c.context_start, c.actor.start or 0, c.policy.start or 0))


def _offset(position: int | None, base: int) -> int | None:
    return None if position is None else position - base


def statement_row(text: str, c: Candidate, codebook: Codebook) -> dict[str, Any]:
    """The stance model's input row for a candidate (the statements dataset's columns)."""
    sides = _sides(c, codebook)
    base = c.context_start
    return {
        "context": text[c.context_start:c.context_end], "context_start": c.context_start,
        "actor_mention": c.actor.text, "policy_mention": c.policy.text,
        "actor_label": sides["actor_label"], "policy_label": sides["policy_label"],
        "actor_context_start": _offset(c.actor.start, base), "actor_context_end": _offset(c.actor.end, base),
        "policy_context_start": _offset(c.policy.start, base), "policy_context_end": _offset(c.policy.end, base),
    }


def _merge_key(c: Candidate, codebook: Codebook) -> tuple[Any, ...]:
    """(actor, target, context): the identity of a statement; an unresolved side by its surface form."""
    sides = _sides(c, codebook)
    return sides["actor_id"], sides["policy_id"], c.context_start, c.context_end


class Extractor:
    """Mentions -> candidate pairs -> statement-or-none decisions, for many articles at once (one batched
    predict). A plain stance model (no `none_label`) keeps every pair, as before detectors."""

    def __init__(self, predictor: Any, codebook: Codebook, tagger: SpanTagger | None = None, window: int = 1,
                 min_confidence: float = 0.0, keep_unresolved: bool = False, model_version: str = "local",
                 either_side: bool = False, names: bool = False, learned: LearnedNames | None = None,
                 top_entities: int | None = None, author: bool = False) -> None:
        self.predictor = predictor
        self.codebook = codebook
        self.gazetteer = Gazetteer(codebook)
        self.tagger = tagger
        self.window = window
        self.min_confidence = min_confidence
        self.keep_unresolved = keep_unresolved
        self.either_side = either_side
        self.names = names
        self.learned = learned
        if top_entities is not None and top_entities < 1:
            raise InputError("--top-entities", f"must be 1 or more, got {top_entities}")
        self.top_entities = top_entities
        self.author = author
        self.model_version = model_version
        self.none_label: str | None = getattr(predictor, "none_label", None)
        threshold = getattr(predictor, "threshold", None)
        # a detector saved without a threshold decides at 0.5, as training.detection.decide does
        self.threshold: float | None = (0.5 if threshold is None else float(threshold)) if self.none_label else None
        labels = list(predictor.labels)
        if self.none_label is not None:
            expected = codebook.no_stance.id if codebook.no_stance else None
            if self.none_label != expected:
                raise InputError("--model", f"the detector's none label {self.none_label!r} is not the codebook's "
                                            f"no_stance ({expected!r}): trained on another codebook version")
            allowed = set(codebook.detection_names)
        else:
            allowed = set(codebook.stance_names)
        missing = set(labels) - allowed
        if missing:
            raise InputError("--model", f"the stance model predicts labels outside the codebook: {sorted(missing)}")

    @property
    def kind(self) -> str:
        """'detector' (stance-or-none) or 'stance' (every pair a statement)."""
        return "detector" if self.none_label else "stance"

    def run(self, items: Sequence[tuple[str, str]], titles: Mapping[str, str] | None = None) -> list[ArticleResult]:
        """(article id, text) pairs -> one ArticleResult each, in order (found entities)."""
        tagged = self.tagger.predict_many([t for _, t in items]) if self.tagger else [None] * len(items)
        results, owners = [], []
        for (article_id, text), found in zip(items, tagged, strict=True):
            mentions = find_mentions(text, self.gazetteer, self.tagger, tagged=found)
            if self.learned is not None:  # surfaces coders of a training split named
                mentions = add_names(mentions, self.learned.find(text))
            if self.names:  # proper names beside them
                mentions = add_names(mentions, find_names(text))
            if self.names or self.learned is not None:  # each named by what coders called it, or its longest form
                mentions = link_names(mentions, self.learned)
            if self.top_entities is not None:
                mentions = most_mentioned(mentions, self.codebook, self.top_entities)
            result = ArticleResult(article_id, text, mentions)
            for cand in candidate_pairs(text, mentions, self.window, self.keep_unresolved, self.either_side,
                                        self.author):
                owners.append((result, cand, statement_row(text, cand, self.codebook)))
            results.append(result)
        self._decide(owners, {aid: ((titles or {}).get(aid, ""), text) for aid, text in items})
        return results

    def run_gold(self, items: Sequence[tuple[str, str, str]],
                 rows: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[ArticleResult]:
        """(article id, title, text) and each article's dataset candidate rows -> ArticleResults (gold entities)."""
        results, owners = [], []
        for article_id, _, text in items:
            result = ArticleResult(article_id, text)
            for row in rows.get(article_id, ()):
                cand = gold_candidate(row, text)
                model_row = {k: v for k, v in row.items() if k not in LABEL_COLUMNS}  # never the label
                owners.append((result, cand, model_row))
                result.mentions += [cand.actor, cand.policy]
            result.mentions = sorted(set(result.mentions), key=lambda m: (m.start is None, m.start or 0, m.text))
            results.append(result)
        self._decide(owners, {aid: (title, text) for aid, title, text in items})
        return results

    def _decide(self, owners: list[tuple[ArticleResult, Candidate, dict[str, Any]]],
                articles: Mapping[str, tuple[str, str]]) -> None:
        """Predict every pair at once, decide statement or none, merge per (actor, target, context), filter."""
        from training.context import attach
        from training.detection import decide, split_proba

        if not owners:
            return
        rows = attach([{**row, "article_id": result.article_id} for result, _, row in owners], articles)
        proba = self.predictor.predict_proba(rows)
        labels = list(self.predictor.labels)
        decisions = decide(proba, labels, self.none_label, self.threshold)
        _, stance_proba, stance_names = split_proba(proba, labels, self.none_label)
        best: dict[tuple[int, tuple[Any, ...]], tuple[Statement, int]] = {}
        for (result, cand, _), p, d, sp in zip(owners, proba, decisions, stance_proba, strict=True):
            probs = {label: float(x) for label, x in zip(labels, p, strict=True)}
            is_statement = self.none_label is None or d.label != self.none_label
            result.pairs.append(PairDecision(cand, d.label, d.p_statement, d.confidence, probs,
                                             {n: float(x) for n, x in zip(stance_names, sp, strict=True)},
                                             is_statement))
            if not is_statement or d.confidence < self.min_confidence:
                continue
            key = (id(result), _merge_key(cand, self.codebook))
            st = Statement(result.article_id, cand, d.label, d.confidence, probs, d.p_statement)
            if key not in best:
                best[key] = (st, 1)
            else:
                kept, n = best[key]
                best[key] = (st if st.confidence > kept.confidence else kept, n + 1)
        by_result: dict[int, list[Statement]] = {}
        for (rid, _), (st, n) in best.items():
            by_result.setdefault(rid, []).append(Statement(st.article_id, st.candidate, st.stance, st.confidence,
                                                           st.probabilities, st.p_statement, n))
        for result, _, _ in owners:
            if id(result) in by_result:
                result.statements = sorted(by_result.pop(id(result)), key=lambda s: (
                    s.candidate.context_start, s.candidate.actor.start or 0, s.candidate.policy.start or 0))

    def extract(self, articles: Iterable[Article]) -> list[ArticleResult]:
        arts = list(articles)
        return self.run([(a.id, a.text) for a in arts], {a.id: a.title for a in arts})


def gold_candidate(row: Mapping[str, Any], text: str) -> Candidate:
    """A Candidate from a dataset candidate row: document offsets where the build placed a side, else none."""
    start = row.get("context_start")
    context = str(row.get("context") or "")
    if start is None:
        raise InputError(str(row.get("id")), "candidate row has no context_start: rebuild the dataset")
    start = int(start)
    if text[start:start + len(context)] != context:
        raise InputError(str(row.get("id")), "candidate context does not match its article's text at "
                                             f"{start}: the dataset's articles and candidates disagree")

    def side(name: str, label: str) -> Mention:
        s, e = row.get(f"{name}_start"), row.get(f"{name}_end")
        mention = str(row.get(f"{name}_mention") or row.get(f"{name}_label") or "")
        canonical = row.get(f"{name}_id")
        if s is None or e is None:
            return Mention(None, None, mention, label, canonical, 1.0, GOLD_SOURCE)  # type: ignore[arg-type]
        return Mention(int(s), int(e), text[int(s):int(e)], label, canonical, 1.0, GOLD_SOURCE)

    return Candidate(side("actor", ACTOR_LABEL), side("policy", POLICY_LABEL), start, start + len(context), row)


def gold_entities_of(dataset: str | Path, split: str, article_ids: Sequence[str] | None = None
                  ) -> tuple[list[tuple[str, str, str]], dict[str, list[dict[str, Any]]]]:
    """The articles of DATASET's `split` (or the named ones, which must be in it) as (id, title, text), and
    their DATASET/candidates rows by article id."""
    from datasets import load_from_disk

    from training.paths import resolve_path

    root = resolve_path(dataset)
    if not (root / "articles" / "dataset_dict.json").is_file():
        raise InputError(root, "not a built dataset (no articles/): build it with `python -m corpus build`")
    if not (root / "candidates" / "dataset_dict.json").is_file():
        raise InputError(root, "has no candidates config (built before candidates existed): rebuild it with "
                               "`python -m corpus build SOURCE... --out DATASET`")
    articles, candidates = load_from_disk(str(root / "articles")), load_from_disk(str(root / "candidates"))
    for name, dd in (("articles", articles), ("candidates", candidates)):
        if split not in dd:
            raise InputError(root / name, f"missing split {split!r} (has {', '.join(dd) or 'none'})")
    arts = {str(r["id"]): (str(r["id"]), str(r.get("title") or ""), str(r["text"]))
            for r in articles[split].select_columns(["id", "title", "text"]).to_list()}
    if article_ids is not None:
        missing = [a for a in article_ids if a not in arts]
        if missing:
            raise InputError(missing[0], f"article is not in the {split} split of {root} "
                                         f"({len(missing)} of {len(article_ids)} missing)")
        chosen = [arts[a] for a in article_ids]
    else:
        chosen = [arts[a] for a in sorted(arts)]
    wanted = {a for a, _, _ in chosen}
    rows: dict[str, list[dict[str, Any]]] = {}
    table = candidates[split]
    keep = [i for i, a in enumerate(table["article_id"]) if str(a) in wanted]  # no datasets.filter: no progress bar
    for row in table.select(keep).to_list() if keep else []:
        rows.setdefault(str(row["article_id"]), []).append(row)
    return chosen, rows


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
                   codebook: Codebook | None = None, stance_model: str | None = None,
                   learned_names: str | Path | None = None, **options: Any) -> Extractor:
    """An Extractor over a detector or stance model and an optional tagger (folders or MLflow URIs); with
    `stance_model`, `model` must be a detector that decides which pairs are statements and the stance model
    gives their stance (`training.detection.DetectThenPolarity`); with `learned_names` (a built dataset), the
    names its train split's coders gave to surfaces (`corpus.names.LearnedNames`). Version strings come from
    the registry where the models are registered."""
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
    if stance_model:
        from training.detection import DetectThenPolarity

        try:
            predictor = DetectThenPolarity(predictor, load_predictor(stance_model, tracking_uri))
        except ValueError as e:
            raise InputError(f"{model} + {stance_model}", str(e)) from None
        version = f"{version} + {stance_model}"
    span_tagger = load_tagger(tagger, tracking_uri) if tagger else None
    if span_tagger is not None and tagger and tagger.startswith(MLFLOW_SCHEMES):
        span_tagger.version = tagger
    learned = LearnedNames.from_dataset(learned_names) if learned_names is not None else None
    return Extractor(predictor, codebook, span_tagger, model_version=version, learned=learned, **options)


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
                  gold_entities: str | Path | None = None, split: str = "test",
                  **options: Any) -> dict[str, Any]:
    """Extract statements from article files (found entities), or from DATASET's `split` articles or the named
    ones with their gold entities, into one JSON object at `out` (written atomically; see the module
    docstring); returns a summary."""
    import json

    from corpus.errors import write_text_atomic

    out = Path(out)
    if out.suffix.lower() != ".json":
        raise InputError(out, "output must be a .json file")
    if not paths and gold_entities is None:
        raise InputError("ARTICLE", "give at least one article file (or --gold-entities DATASET)")
    if gold_entities is not None and tagger:
        raise InputError("--tagger", "gold entities come from the dataset: a tagger is not used with --gold-entities")
    for flag, given in (("--names", options.get("names")), ("--learned-names", options.get("learned_names")),
                        ("--top-entities", options.get("top_entities")), ("--author", options.get("author"))):
        if gold_entities is not None and given:
            raise InputError(flag, "finds entities in the text: not used with --gold-entities")
    articles = read_articles(paths) if paths else []
    items: list[tuple[str, str, str]] = []
    gold_rows: dict[str, list[dict[str, Any]]] = {}
    if gold_entities is not None:
        items, gold_rows = gold_entities_of(gold_entities, split, [a.id for a in articles] if articles else None)
    extractor = load_extractor(model, tagger, tracking_uri, **options)
    count = len(items) if gold_entities is not None else len(articles)
    chunks = [list(range(i, min(i + batch, count))) for i in range(0, count, batch)]
    results: list[ArticleResult] = []
    for chunk in progress(chunks) if progress else chunks:
        if gold_entities is not None:
            results += extractor.run_gold([items[i] for i in chunk], gold_rows)
        else:
            results += extractor.extract([articles[i] for i in chunk])
    document = extraction_document(extractor, results, model, gold_entities, split)
    rows, per_article = document["statements"], document["articles"]
    write_text_atomic(out, json.dumps(document, ensure_ascii=False, indent=1) + "\n")
    summary = {k: document[k] for k in ("setting", "model_version", "model_kind", "threshold", "tagger")}
    summary.update(articles=len(per_article), mentions=sum(a["mentions"] for a in per_article),
                   candidates=sum(a["candidates"] for a in per_article),
                   detected=sum(a["detected"] for a in per_article), statements=len(rows), out=str(out))
    if not rows:
        log.warning("%s: no statements extracted from %d article(s)", out, len(per_article))
    return summary


def extraction_document(extractor: Extractor, results: Sequence[ArticleResult], model: str,
                        gold_entities: str | Path | None = None, split: str | None = None) -> dict[str, Any]:
    """The JSON object `extract` writes for these results (see the module docstring)."""
    setting = FOUND if gold_entities is None else GOLD
    rows = [s.to_json(r.text, extractor.codebook) | {"setting": setting, "model_version": extractor.model_version}
            for r in results for s in r.statements]
    return {
        "setting": setting, "model": model, "model_version": extractor.model_version, "model_kind": extractor.kind,
        "none_label": extractor.none_label, "threshold": extractor.threshold,
        "tagger": (extractor.tagger.version if extractor.tagger else "gazetteer") if setting == FOUND else None,
        "window": extractor.window if setting == FOUND else None, "min_confidence": extractor.min_confidence,
        "keep_unresolved": extractor.keep_unresolved if setting == FOUND else None,
        "names": extractor.names if setting == FOUND else None,
        "learned_names": len(extractor.learned) if setting == FOUND and extractor.learned is not None else None,
        "top_entities": extractor.top_entities if setting == FOUND else None,
        "author": extractor.author if setting == FOUND else None,
        "dataset": str(gold_entities) if gold_entities is not None else None,
        "split": split if gold_entities is not None else None,
        "articles": [r.summary() for r in results], "statements": rows,
    }
