"""Candidate (actor, target) pairs of each sentence, with `none` where gold has no statement: what a detector learns.

Pure functions of one converted task. The unit is the sentence (the source's own sentences where it gives them,
as SEESAW does; else the splitter's, as statement contexts use). In each sentence the build collects the sides
that co-occur there:

* the chosen annotation's Actor and Policy spans (Label Studio, or an importer's located mentions);
* where the article carries an entity list (SEESAW), every listed entity the importer's rules find in the
  sentence, as either side, and the author (SEESAW's subject "None") as a holder in every coded sentence;
* the sides of the gold statements of that sentence that have no offsets, by name (a holder or target the
  importer could not place, the author).

Every (actor, target) pair of different entities in a sentence for which gold has no statement with the same
canonical actor and target in that sentence (where its mentions are, or its own context for a statement given
without offsets, the context window left aside) becomes one `none` row (once per sentence, the first
mention of each side), with the context the statements have (the sentence plus the context window). Gold
statements come through unchanged with their stance. "(unlisted)" sides are never paired into negatives:
two unlisted sides need not be the same entity. Nothing is invented: every side is an annotated span, a
listed entity found in the text, or a gold statement's own side.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from corpus.codebook import ACTOR_LABEL
from corpus.convert import (
    STATEMENT_COLUMNS,
    Conversion,
    Document,
    Scheme,
    _AnnotationView,
    _canonical,
    _Context,
    _item_name,
    _Rejector,
    resolve_name,
)
from corpus.importers.statements import AUTHOR, UNLISTED
from corpus.sentences import sentence_index
from corpus.tasks import restore_imported

CANDIDATES_DOC = (
    "The `candidates` config holds, for each sentence of each converted annotation (the source's own sentences "
    "where it gives them), every (actor, target) pair of the sides that co-occur there: the annotation's Actor "
    "and Policy spans (`span-pair`); where the article has an entity list (SEESAW), each listed entity found in "
    "the sentence by the importer's rules, as either side (`entity-list`), and the author (SEESAW's subject "
    "'None') as a holder (`author`); and gold statements' sides without offsets, by name (`unplaced`). A pair "
    "of two different entities for which gold has no statement with the same canonical actor and target "
    "covering that sentence is one `none` row (once per sentence), its context the sentence plus the context "
    "window; the gold statements come through with their stance (`gold`). '(unlisted)' sides are never paired "
    "into negatives. Negatives are derived from the gold annotation only, never invented text; `stance` is a "
    "ClassLabel over the stance labels plus the codebook's `no_stance` label.")
GOLD, SPAN_PAIR, ENTITY_LIST, AUTHOR_SOURCE, UNPLACED = "gold", "span-pair", "entity-list", "author", "unplaced"
CANDIDATE_SOURCES = (GOLD, SPAN_PAIR, ENTITY_LIST, AUTHOR_SOURCE, UNPLACED)
CANDIDATE_COLUMNS = (*STATEMENT_COLUMNS, "candidate_source")
_RANK = {SPAN_PAIR: 0, ENTITY_LIST: 1, UNPLACED: 2, AUTHOR_SOURCE: 3}  # which side wins a sentence's slot

# An entity locator: (text, [(start, end) per sentence]) -> [(sentence index, entity name, start, end)]
Locator = Callable[[str, Sequence[tuple[int, int]]], list[tuple[int, str, int, int]]]


@dataclass(frozen=True)
class Side:
    """One side of a candidate: canonical id, label and type, the mention (offsets or None), how it was found."""

    id: str
    label: str
    type: str
    mention: str
    start: int | None
    end: int | None
    how: str


def chosen_annotation(task: dict[str, Any], conv: Conversion) -> dict[str, Any] | None:
    """The annotation the conversion turned into rows (None when there was none: no gold, nothing to derive)."""
    aid = conv.article.get("annotation_id") if conv.article else None
    if aid is None:
        return None
    for ann in restore_imported(task).get("annotations") or []:
        if isinstance(ann, dict) and str(ann.get("id", "?")) == str(aid):
            return ann
    return None


def _units(doc: Document, ctx: _Context) -> list[tuple[int, int]]:
    """The sentences candidates are formed in: the source's coded sentences where it lists them, else all."""
    given = doc.meta.get("sentence_spans")
    spans = {(int(x[-2]), int(x[-1])) for x in given if isinstance(x, list | tuple) and len(x) in (2, 3)} \
        if isinstance(given, list) else set()
    coded = [s for s in ctx.sentences if s in spans]
    return coded or list(ctx.sentences)


def _covered(units: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """Indices of the units overlapping text[start:end]."""
    return [k for k, (s, e) in enumerate(units) if s < end and start < e]


def article_candidates(task: dict[str, Any], doc: Document, scheme: Scheme, conv: Conversion, *,
                       context_window: int = 0, locate: Locator | None = None,
                       none_label: str = "none", stance_id: dict[str, int] | None = None) -> list[dict[str, Any]]:
    """The candidate rows of one converted task: its gold statements (stance kept) and `none` pairs.

    `conv.statements` must still hold stance names; `none_label` is the codebook's no_stance id; `stance_id` maps
    names (stances and `none_label`) to the ClassLabel ids of the rows (None: names kept). `locate` finds listed
    entities in the sentences (SEESAW); without it only spans and gold sides are paired.
    """
    ann = chosen_annotation(task, conv)
    if ann is None:
        return []
    ctx = _Context(doc, context_window)
    units = _units(doc, ctx)
    starts = [s for s, _ in units]
    text = doc.text
    gold_rows = [dict(r, candidate_source=GOLD) for r in conv.statements]
    gold_pairs: set[tuple[int, str, str]] = set()
    actors: list[dict[str, Side]] = [{} for _ in units]
    targets: list[dict[str, Side]] = [{} for _ in units]

    def put(slots: dict[str, Side], side: Side) -> None:
        old = slots.get(side.id)
        if old is None or _RANK[side.how] < _RANK[old.how]:
            slots[side.id] = side

    def unit_of(start: int, end: int) -> int | None:
        """The unit a mention starts in (None: outside every coded sentence, e.g. a title)."""
        k = sentence_index(starts, start)
        return k if units[k][0] < end and start < units[k][1] else None

    view = _AnnotationView(ann, doc, scheme, _Rejector([], {}))  # its problems are already in the rejections
    given = {str(_item_name(item, n)): item.get("value") for n, item in view.statements}
    prefix_len = len(f"{doc.article_id}/{conv.article.get('annotation_id')}/")

    def core(row: dict[str, Any]) -> tuple[int, int]:
        """Where a gold statement is, without the context window: its mentions, or its item's own context."""
        if row["actor_start"] is not None and row["policy_start"] is not None:
            return min(row["actor_start"], row["policy_start"]), max(row["actor_end"], row["policy_end"])
        value = given.get(row["id"][prefix_len:].split("#")[0])
        if isinstance(value, dict) and isinstance(value.get("context_start"), int) \
                and isinstance(value.get("context_end"), int):
            return value["context_start"], value["context_end"]
        return row["context_start"], row["context_start"] + len(row["context"])

    for row in conv.statements:
        lo, hi = core(row)
        for k in _covered(units, lo, hi):
            gold_pairs.add((k, row["actor_id"], row["policy_id"]))
        for prefix, slots, is_actor in (("actor", actors, True), ("policy", targets, False)):
            if row[f"{prefix}_start"] is not None or row[f"{prefix}_label"] == UNLISTED:
                continue
            how = AUTHOR_SOURCE if row[f"{prefix}_label"] == AUTHOR else UNPLACED
            side = Side(row[f"{prefix}_id"], row[f"{prefix}_label"], row.get("actor_type", "unknown")
                        if is_actor else "unknown", row[f"{prefix}_mention"], None, None, how)
            for k in _covered(units, lo, hi):
                put(slots[k], side)

    for sid, span in sorted(view.spans.items(), key=lambda kv: (kv[1].start, kv[1].end)):
        try:
            cid, label, kind = _canonical(view, sid, span, scheme)
        except ValueError:
            continue
        if label == UNLISTED:
            continue
        k = unit_of(span.start, span.end)
        if k is None:
            continue
        side = Side(cid, label, kind, span.text, span.start, span.end, SPAN_PAIR)
        put((actors if span.label == ACTOR_LABEL else targets)[k], side)

    if locate is not None:
        for k, name, s, e in sorted(locate(text, units)):
            if not (0 <= k < len(units)):
                continue
            for slots, is_actor in ((actors, True), (targets, False)):
                cid, label, kind = resolve_name(name, is_actor, scheme)
                put(slots[k], Side(cid, label, kind, text[s:e], s, e, ENTITY_LIST))
        author = resolve_name(AUTHOR, True, scheme)
        for k in range(len(units)):
            put(actors[k], Side(*author, AUTHOR, None, None, AUTHOR_SOURCE))

    base = {c: conv.statements[0][c] for c in ("article_id", "task_id", "annotation_id", "annotator", "source",
                                               "group", "origin")} if conv.statements else \
        {"article_id": doc.article_id, "task_id": conv.article.get("task_id"),
         "annotation_id": conv.article.get("annotation_id"), "annotator": conv.article.get("annotator"),
         "source": doc.meta.get("source"), "group": doc.group, "origin": conv.article.get("origin")}
    negatives = []
    for k, (u_start, u_end) in enumerate(units):
        for a in sorted(actors[k].values(), key=_order):
            for t in sorted(targets[k].values(), key=_order):
                if a.id == t.id or a.label.casefold() == t.label.casefold():
                    continue  # one entity on both sides
                if (k, a.id, t.id) in gold_pairs:
                    continue  # gold has this statement here: the gold row stands for it
                placed = [x for x in (a, t) if x.start is not None]
                lo = min([u_start, *(x.start for x in placed)])  # type: ignore[type-var]
                hi = max([u_end, *(x.end for x in placed)])  # type: ignore[type-var]
                cs, ce = ctx.around(lo, hi)
                how = max((a.how, t.how), key=lambda h: _RANK[h])
                row = {**base, "id": f"{doc.article_id}/{base['annotation_id']}/none/{k:04d}/{a.id}>{t.id}",
                       "actor_id": a.id, "actor_label": a.label, "actor_type": a.type,
                       "policy_id": t.id, "policy_label": t.label,
                       "actor_mention": a.mention, "actor_start": a.start, "actor_end": a.end,
                       "policy_mention": t.mention, "policy_start": t.start, "policy_end": t.end,
                       "stance": none_label, "qualifiers": [], "context": text[cs:ce], "context_start": cs,
                       "actor_context_start": None if a.start is None else a.start - cs,
                       "actor_context_end": None if a.end is None else a.end - cs,
                       "policy_context_start": None if t.start is None else t.start - cs,
                       "policy_context_end": None if t.end is None else t.end - cs,
                       "candidate_source": how}
                negatives.append(row)
    rows = gold_rows + negatives
    if stance_id is not None:
        for row in rows:
            row["stance"] = stance_id[row["stance"]]
    return rows


def _order(side: Side) -> tuple[Any, ...]:
    return (side.start is None, side.start or 0, side.id)
