"""Pure conversion of one Label Studio task into dataset rows (statements, mentions, article) and rejections.

No files, no network: `convert_task` takes a task dict and the article text it annotates and returns rows
plus a rejection line for everything it could not convert. Which annotation counts: the one flagged
ground truth, else the adjudicated one (annotator "adjudicated" or `adjudicated: true`), else the only
live annotation (a single annotator's work is its own gold); several annotators and no gold means every
relation is reported as needing adjudication. Every relation or statement item of every annotation is
either a row or part of a rejection line; `convert_task` checks that count before returning.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from corpus.codebook import (
    ACTOR_CHOICE_NAME,
    ACTOR_LABEL,
    CANONICAL_NAME,
    MENTION_NAME,
    POLICY_CHOICE_NAME,
    POLICY_LABEL,
    Codebook,
)
from corpus.schema import name_slug
from corpus.sentences import merge_across, segment, sentence_index, tokenize
from corpus.tasks import STATEMENT_TYPE, annotator_of, restore_imported, single_value, utf16_index

ADJUDICATED = "adjudicated"
UNKNOWN_TYPE = "unknown"
EXTERNAL_PREFIX = "x:"

STATEMENT_COLUMNS = (
    "id", "article_id", "task_id", "annotation_id", "annotator",
    "actor_id", "actor_label", "actor_type", "policy_id", "policy_label",
    "actor_mention", "actor_start", "actor_end", "policy_mention", "policy_start", "policy_end",
    "stance", "qualifiers", "context", "context_start",
    "actor_context_start", "actor_context_end", "policy_context_start", "policy_context_end",
    "source", "group", "origin",
)
MENTION_COLUMNS = ("id", "article_id", "sentence", "start", "end", "text", "tokens", "token_starts",
                   "token_ends", "tags")
ARTICLE_META = ("title", "source", "url", "published", "language", "rights", "checksum")
ARTICLE_COLUMNS = ("id", "title", "text", "source", "url", "published", "language", "rights", "checksum",
                   "group", "split", "source_split", "task_id", "annotation_id", "annotator", "statements",
                   "origin")

# Rejection reasons (the `reason` field of rejections.jsonl); `detail` says more in words.
CANCELLED = "cancelled_annotation"
EMPTY = "empty_annotation"
MALFORMED = "malformed"
SUPERSEDED = "superseded"
NEEDS_ADJUDICATION = "needs_adjudication"
MISSING_SPAN = "relation_missing_span"
OUTSIDE_CODEBOOK = "label_outside_codebook"
OUT_OF_RANGE = "offsets_out_of_range"
TEXT_MISMATCH = "span_text_mismatch"
AMBIGUOUS_OFFSETS = "ambiguous_offsets"  # no value.text, and code-point and UTF-16 offsets differ there
WRONG_ENDS = "relation_wrong_span_types"
OVERLAP = "overlapping_span"
UNKNOWN_ITEM = "unknown_item"
DUPLICATE_ARTICLE = "duplicate_article"
BAD_TEXT = "task_text_mismatch"


@dataclass(frozen=True)
class Document:
    """The text a task's offsets index into, with the article's metadata (title, source, rights, ...).

    `meta["sentence_spans"]`, where a source gives its own sentence offsets (SEESAW), is used for contexts
    and mention rows instead of the rule-based splitter.
    """

    article_id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def group(self) -> str:
        return str(self.meta.get("group") or self.article_id)


@dataclass(frozen=True)
class Scheme:
    """Codebook lookups the converter needs, built once per build."""

    actors: dict[str, tuple[str, str]]  # id -> (label, type)
    policies: dict[str, str]  # id -> label
    actor_names: dict[str, str]  # label or id -> id
    policy_names: dict[str, str]
    stances: frozenset[str]
    qualifiers: frozenset[str]
    article_labels: dict[str, frozenset[str]]
    span_labels: tuple[str, ...]
    names: dict[tuple[str, bool], tuple[str, str, str]] = field(default_factory=dict, compare=False)  # cache

    @classmethod
    def from_codebook(cls, codebook: Codebook) -> Scheme:
        actors = {a.id: (a.label, a.type) for a in codebook.actors}
        policies = {p.id: p.label for p in codebook.policy_options}
        return cls(
            actors=actors, policies=policies,
            actor_names={**{a.label: a.id for a in codebook.actors}, **{i: i for i in actors}},
            policy_names={**{p.label: p.id for p in codebook.policy_options}, **{i: i for i in policies}},
            stances=frozenset(codebook.stance_names), qualifiers=frozenset(codebook.qualifier_names),
            article_labels={al.id: frozenset(al.choices) for al in codebook.article_labels},
            span_labels=tuple(s.value for s in codebook.span_labels),
        )

    @property
    def tag_names(self) -> list[str]:
        """BIO tag names of the mentions config: O, then B-/I- per span label in codebook order."""
        return ["O", *(f"{p}-{label}" for label in self.span_labels for p in ("B", "I"))]


@dataclass
class MentionBlock:
    """What the `mentions` config needs of one annotated article: its sentences and its tagged spans.

    Tokens and tags are made for all articles at once by `corpus.tables` (vectorised; a large build has
    millions of tokens); `rows` is the same computation written plainly, one article at a time.
    """

    article_id: str
    text: str
    sentences: list[tuple[int, int]]  # document offsets; no span crosses a boundary
    spans: list[tuple[int, int, str]]  # (start, end, span label): sorted, not overlapping

    def __len__(self) -> int:
        return len(self.sentences)

    def rows(self, tag_names: list[str]) -> list[dict[str, Any]]:
        """One dict per sentence: tokens with offsets relative to the sentence, BIO tags as ids."""
        tag_id = {name: i for i, name in enumerate(tag_names)}
        out = []
        for k, (start, end) in enumerate(self.sentences):
            tokens, starts, ends = tokenize(self.text, start, end)
            tags = [0] * len(tokens)
            for s, e, label in self.spans:
                inside = [i for i in range(len(tokens)) if starts[i] + start < e and ends[i] + start > s]
                for n, i in enumerate(inside):
                    tags[i] = tag_id[("B-" if n == 0 else "I-") + label]
            out.append({"id": f"{self.article_id}/{k:05d}", "article_id": self.article_id, "sentence": k,
                        "start": start, "end": end, "text": self.text[start:end], "tokens": tokens,
                        "token_starts": starts, "token_ends": ends, "tags": tags})
        return out


@dataclass
class Conversion:
    """What one task became: rows, rejection lines, and the relation count it was checked against."""

    article: dict[str, Any]
    statements: list[dict[str, Any]] = field(default_factory=list)
    mentions: MentionBlock | None = None
    rejections: list[dict[str, Any]] = field(default_factory=list)
    relations_in: int = 0
    stats: Counter = field(default_factory=Counter)

    @property
    def relations_rejected(self) -> int:
        return sum(r["relations"] for r in self.rejections)


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    label: str
    text: str


class _Rejector:
    """Collects rejection lines that all name the same task."""

    def __init__(self, out: list[dict[str, Any]], base: dict[str, Any]) -> None:
        self.out, self.base = out, base

    def __call__(self, kind: str, reason: str, detail: str, *, relations: int = 0, item: Any = None,
                 annotation: dict[str, Any] | None = None) -> None:
        line = dict(self.base)
        if annotation is not None:
            line["annotation_id"] = _annotation_id(annotation)
            line["annotator"] = annotator_of(annotation)
        line.update(kind=kind, item=None if item is None else str(item), reason=reason, detail=detail,
                    relations=relations)
        self.out.append(line)


def count_relations(annotation: Any) -> int:
    """Relations and statement items in an annotation: the units that must end up as rows or rejections."""
    if not isinstance(annotation, dict) or not isinstance(annotation.get("result"), list):
        return 0
    kinds = [r.get("type") if type(r) is dict else None for r in annotation["result"]]
    return kinds.count("relation") + kinds.count(STATEMENT_TYPE)


def task_id_of(task: dict[str, Any]) -> int | None:
    tid = task.get("id")
    if isinstance(tid, bool):
        return None
    if isinstance(tid, int):
        return tid if -2**63 <= tid < 2**63 else None  # what an int64 column holds
    if isinstance(tid, str) and tid.isascii() and tid.isdigit():  # not "²": isdigit() alone lets it through
        return int(tid)
    return None


def _annotation_id(annotation: dict[str, Any]) -> str:
    return str(annotation.get("id", "?"))


def _is_adjudicated(annotation: dict[str, Any]) -> bool:
    return annotator_of(annotation) == ADJUDICATED or annotation.get("adjudicated") is True


def convert_task(task: dict[str, Any], doc: Document, scheme: Scheme, *, context_window: int = 0,
                 source: str = "", origin: str = "") -> Conversion:
    """Convert one task annotating `doc` into rows; everything not converted becomes a rejection line."""
    task = restore_imported(task)  # a pulled export of pushed imports: annotator names, statement items
    tid = task_id_of(task)
    meta = task.get("meta") if isinstance(task.get("meta"), dict) else {}
    origin = str(meta.get("origin") or doc.meta.get("origin") or origin)
    conv = Conversion(article=article_row(doc, tid, origin, scheme))
    reject = _Rejector(conv.rejections, {"source": source, "task_id": tid, "article_id": doc.article_id,
                                         "annotation_id": None, "annotator": None})
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list):
        reject("task", MALFORMED, "task 'annotations' is not a list")
        return conv
    conv.relations_in = sum(count_relations(a) for a in annotations)
    chosen = _choose(annotations, reject, conv.stats)
    if chosen is not None:
        _convert_annotation(chosen, doc, scheme, conv, reject, context_window, source, origin, tid)
    if conv.relations_in != len(conv.statements) + conv.relations_rejected:
        raise RuntimeError(f"task {tid} of {source}: {conv.relations_in} relations in, {len(conv.statements)} "
                           f"converted + {conv.relations_rejected} rejected")
    return conv


def reject_task(task: dict[str, Any], doc: Document, reason: str, detail: str, *, source: str = "") -> Conversion:
    """A task converted to nothing (a duplicate article, a text that is not the article's): one line per annotation."""
    tid = task_id_of(task)
    conv = Conversion(article={})
    reject = _Rejector(conv.rejections, {"source": source, "task_id": tid, "article_id": doc.article_id,
                                         "annotation_id": None, "annotator": None})
    annotations = task.get("annotations") or []
    if not isinstance(annotations, list) or not annotations:
        reject("task", reason, detail)
        return conv
    for ann in annotations:
        conv.relations_in += count_relations(ann)
        reject("annotation", reason, detail, relations=count_relations(ann),
               annotation=ann if isinstance(ann, dict) else None)
    return conv


def article_row(doc: Document, task_id: int | None, origin: str, scheme: Scheme) -> dict[str, Any]:
    """The `articles` row of a document, before annotation fields and the split are filled in."""
    meta = doc.meta
    row: dict[str, Any] = {"id": doc.article_id, "text": doc.text}
    for key in ARTICLE_META:
        row[key] = _str_or_none(meta.get(key))
    row.update(group=doc.group, split=None, source_split=meta.get("split"), task_id=task_id,
               annotation_id=None, annotator=None, statements=0, origin=origin)
    row.update(dict.fromkeys(scheme.article_labels))
    return row


def _choose(annotations: list[Any], reject: _Rejector, stats: Counter) -> dict[str, Any] | None:
    """Pick the annotation that becomes the rows; report every other one."""
    live: list[dict[str, Any]] = []
    for ann in annotations:
        if not isinstance(ann, dict):
            reject("annotation", MALFORMED, "annotation is not a JSON object")
        elif ann.get("was_cancelled"):
            stats["cancelled"] += 1
            reject("annotation", CANCELLED, "annotation was cancelled (skipped) in Label Studio",
                   relations=count_relations(ann), annotation=ann)
        elif not isinstance(ann.get("result"), list):
            reject("annotation", MALFORMED, "annotation 'result' is not a list", annotation=ann)
        elif not ann["result"]:
            stats["empty"] += 1
            reject("annotation", EMPTY, "annotation has no result items", annotation=ann)
        else:
            live.append(ann)
    gold = [a for a in live if a.get("ground_truth")]
    if len(gold) > 1:
        gold = [a for a in gold if _is_adjudicated(a)]
        why = "several annotations are flagged ground truth"
    else:
        gold = gold or [a for a in live if _is_adjudicated(a)]
        why = "several adjudicated annotations"
    if len(gold) == 1:
        chosen = gold[0]
    elif not gold and len(live) == 1:
        chosen = live[0]
    else:
        if not gold:
            why = f"{len(live)} annotators and no ground-truth or adjudicated annotation"
        for ann in live:
            for n, item in enumerate(ann["result"]):
                if isinstance(item, dict) and item.get("type") in ("relation", STATEMENT_TYPE):
                    reject("relation", NEEDS_ADJUDICATION, why, relations=1, item=_item_name(item, n),
                           annotation=ann)
        return None
    for ann in live:
        if ann is not chosen:
            reject("annotation", SUPERSEDED, f"superseded by annotation {_annotation_id(chosen)} "
                   f"({annotator_of(chosen)})", relations=count_relations(ann), annotation=ann)
    return chosen


def _item_name(item: dict[str, Any], n: int) -> str:
    if item.get("type") == "relation":
        return f"{item.get('from_id')}>{item.get('to_id')}"
    return str(item.get("id", n))


class _AnnotationView:
    """The result items of one annotation, sorted by kind and checked against the text and the codebook."""

    def __init__(self, ann: dict[str, Any], doc: Document, scheme: Scheme, reject: _Rejector) -> None:
        self.spans: dict[str, _Span] = {}
        self.bad_spans: dict[str, tuple[str, str]] = {}
        self.norm: dict[tuple[str, str], str] = {}  # (span id, control) -> value
        self.relations: list[tuple[int, dict[str, Any]]] = []
        self.statements: list[tuple[int, dict[str, Any]]] = []
        self.labels: dict[str, str] = {}
        text, self._utf16 = doc.text, None
        self._convention = _offset_convention(ann["result"], text)
        for n, item in enumerate(ann["result"]):
            if not isinstance(item, dict):
                reject("item", MALFORMED, "result item is not a JSON object", item=n, annotation=ann)
                continue
            kind, name, value = item.get("type"), item.get("from_name"), item.get("value")
            value = value if isinstance(value, dict) else {}
            if kind == "relation":
                self.relations.append((n, item))
            elif kind == STATEMENT_TYPE:
                self.statements.append((n, item))
            elif kind == "labels" and name == MENTION_NAME:
                self._span(str(item.get("id")), value, text, scheme, reject, ann)
            elif kind == "choices" and name in (ACTOR_CHOICE_NAME, POLICY_CHOICE_NAME) and "id" in item:
                self.norm[(str(item["id"]), name)] = single_value(value.get("choices"))
            elif kind == "textarea" and name == CANONICAL_NAME and "id" in item:
                self.norm[(str(item["id"]), CANONICAL_NAME)] = single_value(value.get("text"))
            elif kind == "choices" and isinstance(name, str) and name in scheme.article_labels:
                choice = single_value(value.get("choices"))
                if choice in scheme.article_labels[name]:
                    self.labels[name] = choice
                else:
                    reject("article_label", OUTSIDE_CODEBOOK, f"article label {name!r}: choice "
                           f"{value.get('choices')!r} is not one of the codebook's", item=item.get("id", n),
                           annotation=ann)
            else:
                reject("item", UNKNOWN_ITEM, f"result item of type {kind!r} from control {name!r} is not part "
                       "of the scheme", item=item.get("id", n), annotation=ann)

    def _span(self, sid: str, value: dict[str, Any], text: str, scheme: Scheme, reject: _Rejector,
              ann: dict[str, Any]) -> None:
        start, end, labels = value.get("start"), value.get("end"), value.get("labels")
        problem: tuple[str, str] | None = None
        if isinstance(start, bool) or isinstance(end, bool):  # JSON true/false: Python would read 1 and 0
            problem = (MALFORMED, f"span {sid}: offsets must be integers, got {start!r}..{end!r}")
        in_range = isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)
        if problem is None and not in_range:  # past the end as code points: UTF-16 units, where they fit
            if isinstance(start, int) and isinstance(end, int) and 0 <= start < end:
                mapped = self._from_utf16(start, end, value.get("text"), text)
                if mapped:
                    start, end = mapped
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                problem = (OUT_OF_RANGE, f"span {sid}: offsets {start}..{end} outside the text "
                                         f"(length {len(text)})")
        if problem is None and in_range and value.get("text") is None:
            decided = self._unchecked(sid, start, end, text)
            if decided is not None and isinstance(decided[0], int):
                start, end = decided
            elif decided is not None:
                problem = decided
        if problem is None and value.get("text") is not None and text[start:end] != value["text"]:
            mapped = self._from_utf16(start, end, value["text"], text)
            if mapped:
                start, end = mapped
            else:
                problem = (TEXT_MISMATCH, f"span {sid}: text {value['text']!r} differs from text[{start}:{end}] "
                                          f"{text[start:end]!r}")
        if problem is None and not text[start:end].strip():
            problem = (OUT_OF_RANGE, f"span {sid}: covers only white space")
        if problem is None and (not isinstance(labels, list) or len(labels) != 1
                                or labels[0] not in scheme.span_labels):
            problem = (OUTSIDE_CODEBOOK, f"span {sid}: label {labels!r} is not one of {list(scheme.span_labels)}")
        if problem is None and sid in self.spans:
            problem = (MALFORMED, f"span id {sid} is used by two spans")
        if problem:
            self.bad_spans[sid] = problem
            reject("span", problem[0], problem[1], item=sid, annotation=ann)
        else:
            self.spans[sid] = _Span(start, end, labels[0], text[start:end])

    def _unchecked(self, sid: str, start: int, end: int, text: str) -> tuple[Any, Any] | None:
        """Offsets with no value.text to check them against: where code points and UTF-16 units index different
        characters, the annotation's other spans decide (its convention); else a (reason, detail) problem."""
        as_utf16 = self._from_utf16(start, end, None, text) if utf16_index(text) else None
        if as_utf16 is None or as_utf16 == (start, end) or self._convention == "codepoint":
            return None
        if self._convention == "utf16":
            return as_utf16
        return (AMBIGUOUS_OFFSETS, f"span {sid}: no value.text, and offsets {start}..{end} read "
                                   f"{text[start:end]!r} as code points but {text[as_utf16[0]:as_utf16[1]]!r} as "
                                   "UTF-16 units (characters outside the BMP come before); no other span of the "
                                   "annotation settles which the export uses")

    def _from_utf16(self, start: int, end: int, expected: Any, text: str) -> tuple[int, int] | None:
        if self._utf16 is None:
            self._utf16 = utf16_index(text) or []
        m = self._utf16
        if not m or end >= len(m):
            return None
        if _splits_pair(m, start) or _splits_pair(m, end):
            return None  # inside a surrogate pair: not a UTF-16 offset of a character boundary
        s, e = m[start], m[end]
        return (s, e) if expected is None or text[s:e] == expected else None


def _splits_pair(mapping: list[int], k: int) -> bool:
    """UTF-16 unit `k` is the second half of a surrogate pair (it maps to the same character as unit k-1)."""
    return 0 < k < len(mapping) - 1 and mapping[k] == mapping[k - 1]


def _offset_convention(result: Any, text: str) -> str | None:
    """'utf16' or 'codepoint' when the spans that carry value.text agree on how their offsets count (only
    spans where the two counts differ are evidence), else None."""
    mapping = utf16_index(text)
    if not mapping or not isinstance(result, list):
        return None
    votes: set[str] = set()
    for item in result:
        value = item.get("value") if isinstance(item, dict) and item.get("type") == "labels" else None
        if not isinstance(value, dict) or not isinstance(value.get("text"), str):
            continue
        start, end, want = value.get("start"), value.get("end"), value["text"]
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
            continue
        as_cp = end <= len(text) and text[start:end] == want
        as_u16 = (end < len(mapping) and not _splits_pair(mapping, start) and not _splits_pair(mapping, end)
                  and text[mapping[start]:mapping[end]] == want)
        if as_cp != as_u16:
            votes.add("codepoint" if as_cp else "utf16")
    return votes.pop() if len(votes) == 1 else None


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _canonical(view: _AnnotationView, sid: str, span: _Span, scheme: Scheme) -> tuple[str, str, str]:
    """(id, label, actor type) for a span: codebook choice, else canonical name, else its own text.

    Raises ValueError when the choice names nothing in the codebook.
    """
    is_actor = span.label == ACTOR_LABEL
    control = ACTOR_CHOICE_NAME if is_actor else POLICY_CHOICE_NAME
    choice = view.norm.get((sid, control))
    if (sid, control) in view.norm:
        if choice is None:
            raise ValueError(f"span {sid}: {control} choice must name exactly one codebook id")
        if is_actor and choice in scheme.actors:
            return choice, *scheme.actors[choice]
        if not is_actor and choice in scheme.policies:
            return choice, scheme.policies[choice], UNKNOWN_TYPE
        raise ValueError(f"span {sid}: {control} choice {choice!r} is not in the codebook")
    return resolve_name(view.norm.get((sid, CANONICAL_NAME)) or span.text, is_actor, scheme)


def resolve_name(name: str, is_actor: bool, scheme: Scheme) -> tuple[str, str, str]:
    """A name given as text: the codebook entry with that id or label, else `x:<slug>` labelled by the name."""
    key = (name, is_actor)
    if key not in scheme.names:
        scheme.names[key] = _resolve_name(name, is_actor, scheme)
    return scheme.names[key]


def _resolve_name(name: str, is_actor: bool, scheme: Scheme) -> tuple[str, str, str]:
    if is_actor:
        aid = scheme.actor_names.get(name)
        if aid:
            return aid, *scheme.actors[aid]
        return EXTERNAL_PREFIX + name_slug(name), name, UNKNOWN_TYPE
    pid = scheme.policy_names.get(name)
    if pid:
        return pid, scheme.policies[pid], UNKNOWN_TYPE
    return EXTERNAL_PREFIX + name_slug(name), name, UNKNOWN_TYPE


def _stance(labels: Any, scheme: Scheme) -> tuple[str, list[str]]:
    """(stance, qualifiers) from relation labels; ValueError naming what is wrong."""
    if type(labels) is list and len(labels) == 1 and type(labels[0]) is str and labels[0] in scheme.stances:
        return labels[0], []
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise ValueError(f"labels {labels!r} are not a list of strings")
    unknown = [x for x in labels if x not in scheme.stances and x not in scheme.qualifiers]
    if unknown:
        raise ValueError(f"label {unknown[0]!r} is not a codebook stance or qualifier")
    stances = [x for x in labels if x in scheme.stances]
    if len(stances) != 1:
        raise ValueError(f"needs exactly one stance label, got {labels!r}")
    return stances[0], [x for x in labels if x in scheme.qualifiers]


class _Context:
    """Sentence lookups of one document, for contexts around mentions."""

    def __init__(self, doc: Document, window: int) -> None:
        self.text, self.window = doc.text, window
        self.sentences = segment(doc.text, doc.meta.get("sentence_spans")) or [(0, len(doc.text))]
        self.starts = [s for s, _ in self.sentences]

    def around(self, lo: int, hi: int) -> tuple[int, int]:
        """The sentences covering text[lo:hi], plus `window` sentences each side."""
        first = max(sentence_index(self.starts, lo) - self.window, 0)
        last = min(sentence_index(self.starts, max(hi - 1, lo)) + self.window, len(self.sentences) - 1)
        return min(self.sentences[first][0], lo), max(self.sentences[last][1], hi)


def _convert_annotation(ann: dict[str, Any], doc: Document, scheme: Scheme, conv: Conversion,
                        reject: _Rejector, window: int, source: str, origin: str, tid: int | None) -> None:
    view = _AnnotationView(ann, doc, scheme, reject)
    ctx = _Context(doc, window)
    aid, annotator = _annotation_id(ann), annotator_of(ann)
    base = {"article_id": doc.article_id, "task_id": tid, "annotation_id": aid, "annotator": annotator,
            "source": _str_or_none(doc.meta.get("source")), "group": doc.group, "origin": origin}
    seen: Counter = Counter()
    text = doc.text

    def add(row: dict[str, Any], key: str) -> None:
        seen[key] += 1
        row["id"] = f"{doc.article_id}/{aid}/{key}" + (f"#{seen[key]}" if seen[key] > 1 else "")
        row.update(base)
        conv.statements.append(row)

    for n, rel in view.relations:
        name = _item_name(rel, n)
        ends = [str(rel.get("from_id")), str(rel.get("to_id"))]
        if rel.get("direction") == "left":
            ends.reverse()
        missing = [e for e in ends if e not in view.spans]
        if missing:
            bad = view.bad_spans.get(missing[0])
            reason, detail = bad if bad else (MISSING_SPAN, f"relation names span {missing[0]!r}, which the "
                                                            "annotation does not hold")
            reject("relation", reason, detail, relations=1, item=name, annotation=ann)
            continue
        a, p = view.spans[ends[0]], view.spans[ends[1]]
        if (a.label, p.label) == (POLICY_LABEL, ACTOR_LABEL):  # drawn from the policy end: same statement
            (a, p), ends = (p, a), ends[::-1]
        if (a.label, p.label) != (ACTOR_LABEL, POLICY_LABEL):
            reject("relation", WRONG_ENDS, f"relation joins {a.label} and {p.label} spans; a stance runs from "
                   "an Actor span to a Policy span", relations=1, item=name, annotation=ann)
            continue
        try:
            stance, qualifiers = _stance(rel.get("labels"), scheme)
            actor = _canonical(view, ends[0], a, scheme)
            policy = _canonical(view, ends[1], p, scheme)
        except ValueError as e:
            reject("relation", OUTSIDE_CODEBOOK, str(e), relations=1, item=name, annotation=ann)
            continue
        cs, ce = ctx.around(min(a.start, p.start), max(a.end, p.end))
        add({"actor_id": actor[0], "actor_label": actor[1], "actor_type": actor[2],
             "policy_id": policy[0], "policy_label": policy[1],
             "actor_mention": a.text, "actor_start": a.start, "actor_end": a.end,
             "policy_mention": p.text, "policy_start": p.start, "policy_end": p.end,
             "stance": stance, "qualifiers": qualifiers, "context": text[cs:ce], "context_start": cs,
             "actor_context_start": a.start - cs, "actor_context_end": a.end - cs,
             "policy_context_start": p.start - cs, "policy_context_end": p.end - cs}, name)

    for n, item in view.statements:
        name = _item_name(item, n)
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        s, e = value.get("context_start"), value.get("context_end")
        actor_name, target = value.get("actor"), value.get("target")
        raw_qualifiers = value.get("qualifiers") or []
        if not isinstance(raw_qualifiers, list):
            reject("statement", MALFORMED, f"statement {name}: 'qualifiers' must be a list, got {raw_qualifiers!r}",
                   relations=1, item=name, annotation=ann)
            continue
        try:
            stance, qualifiers = _stance([value.get("stance"), *raw_qualifiers], scheme)
        except ValueError as err:
            reject("statement", OUTSIDE_CODEBOOK, f"statement {name}: {err}", relations=1, item=name,
                   annotation=ann)
            continue
        if isinstance(s, bool) or isinstance(e, bool) or not (
                isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(text)):
            reject("statement", OUT_OF_RANGE, f"statement {name}: context offsets {s}..{e} outside the text "
                   f"(length {len(text)})", relations=1, item=name, annotation=ann)
            continue
        if not (isinstance(actor_name, str) and actor_name.strip() and isinstance(target, str) and target.strip()):
            reject("statement", MALFORMED, f"statement {name}: needs non-empty 'actor' and 'target' names",
                   relations=1, item=name, annotation=ann)
            continue
        actor = resolve_name(actor_name.strip(), True, scheme)
        policy = resolve_name(target.strip(), False, scheme)
        cs, ce = (s, e) if not window else ctx.around(s, e)
        add({"actor_id": actor[0], "actor_label": actor[1], "actor_type": actor[2],
             "policy_id": policy[0], "policy_label": policy[1],
             "actor_mention": actor_name, "actor_start": None, "actor_end": None,
             "policy_mention": target, "policy_start": None, "policy_end": None,
             "stance": stance, "qualifiers": qualifiers, "context": text[cs:ce], "context_start": cs,
             "actor_context_start": None, "actor_context_end": None,
             "policy_context_start": None, "policy_context_end": None}, name)

    conv.mentions = _mention_rows(view, ctx, doc, reject, ann)
    conv.article.update(annotation_id=aid, annotator=annotator, statements=len(conv.statements))
    conv.article.update({name: view.labels.get(name) for name in scheme.article_labels})
    conv.stats["spans"] += len(view.spans)


def _mention_rows(view: _AnnotationView, ctx: _Context, doc: Document, reject: _Rejector,
                  ann: dict[str, Any]) -> MentionBlock:
    """The annotated article's sentences and its spans, overlapping ones reported and left out."""
    kept: list[tuple[int, int, str]] = []
    end_so_far = -1
    for sid, span in sorted(view.spans.items(), key=lambda kv: (kv[1].start, -kv[1].end, kv[1].label)):
        if kept and (span.start, span.end, span.label) == kept[-1]:
            continue  # the same mention marked twice (one per statement): one tag sequence
        if span.start < end_so_far:
            reject("span", OVERLAP, f"span {sid} ({span.label} {span.start}..{span.end}) overlaps another span; "
                   "left out of the mentions tags (kept in statements)", item=sid, annotation=ann)
            continue
        kept.append((span.start, span.end, span.label))
        end_so_far = span.end
    return MentionBlock(doc.article_id, doc.text, merge_across(ctx.sentences, [(s, e) for s, e, _ in kept]), kept)
