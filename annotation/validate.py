"""Read one annotation of a Label Studio task into spans and statements, checking it against the codebook.

Pure: no files, no network. Every problem becomes an `Issue` naming the task, the annotation and the item,
with a reason; an item with an *error* is left out of what is returned, a *warning* keeps it. Checks:
cancelled or empty annotation, unknown control or label, offsets outside the text, span text that does not
match its offsets, offsets that are not integers (`true` is not 1), overlapping spans, duplicate span ids, a
normalisation or relation pointing at a missing span, a relation between the wrong span types or without
exactly one stance label, a malformed statement, and (a warning) one actor-policy pair coded with two stances.
"""

from __future__ import annotations

import re
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
from corpus.tasks import STATEMENT_TYPE, single_value, utf16_index

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Issue:
    """One problem found in an export: where it is and why it matters."""

    task: str
    annotation: str | None
    item: str | None
    severity: str
    reason: str

    def line(self) -> str:
        where = f"task {self.task}"
        if self.annotation is not None:
            where += f", annotation {self.annotation}"
        if self.item is not None:
            where += f", item {self.item}"
        return f"{where}: {self.severity}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"task": self.task, "annotation": self.annotation, "item": self.item, "severity": self.severity,
                "reason": self.reason}


@dataclass(frozen=True)
class Span:
    id: str
    label: str
    start: int
    end: int
    text: str
    canonical: str  # normalised key: codebook id, else the folded canonical name or span text


@dataclass(frozen=True)
class Statement:
    """An actor -> policy stance; spans are None for imported statements without offsets."""

    actor: str
    policy: str
    stance: str
    qualifiers: tuple[str, ...] = ()
    actor_span: Span | None = None
    policy_span: Span | None = None
    item: dict[str, Any] | None = None  # the relation or statement item it came from

    @property
    def pair(self) -> tuple[str, str]:
        return self.actor, self.policy

    @property
    def triple(self) -> tuple[str, str, str]:
        return self.actor, self.policy, self.stance


@dataclass
class CodedAnnotation:
    """What one annotator coded on one task, after validation."""

    task: str
    annotation_id: str
    annotator: str
    ground_truth: bool
    spans: dict[str, Span] = field(default_factory=dict)
    statements: list[Statement] = field(default_factory=list)
    article_labels: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


class Names:
    """Folds a name to a matching key: a codebook id where the name is an id, label or alias, else the
    case-folded name with collapsed white space."""

    def __init__(self, codebook: Codebook) -> None:
        self.actor_ids = {a.id for a in codebook.actors}
        self.policy_ids = {p.id for p in codebook.policy_options}
        self._actor: dict[str, str] = {}
        self._policy: dict[str, str] = {}
        for surface, label, cid in codebook.alias_table():
            table = self._actor if label == ACTOR_LABEL else self._policy
            table.setdefault(self.fold(surface), cid)
        for a in codebook.actors:
            self._actor[self.fold(a.label)] = a.id
        for p in codebook.policy_options:
            self._policy[self.fold(p.label)] = p.id

    @staticmethod
    def fold(name: str) -> str:
        return re.sub(r"\s+", " ", name).strip().casefold()

    def actor(self, name: str) -> str:
        if name in self.actor_ids:
            return name
        key = self.fold(name)
        return self._actor.get(key, key)

    def policy(self, name: str) -> str:
        if name in self.policy_ids:
            return name
        key = self.fold(name)
        return self._policy.get(key, key)


def _utf16_remap(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Label Studio's browser offsets count UTF-16 code units; map them to str indices if they differ."""
    units = utf16_index(text)
    if units is None or end >= len(units):
        return None
    return units[start], units[end]


def read_annotation(task_id: str, text: str, annotation: dict[str, Any], annotator: str, codebook: Codebook,
                    names: Names | None = None, statements: list[dict[str, Any]] | None = None,
                    ) -> tuple[CodedAnnotation | None, list[Issue]]:
    """Validate one annotation; returns what survives (None for a cancelled or empty one) and the issues.

    `statements` are extra statement items (imported statements kept in the task data on a server).
    """
    names = names or Names(codebook)
    aid = str(annotation.get("id", "?"))
    issues: list[Issue] = []

    def issue(item: Any, severity: str, reason: str) -> None:
        issues.append(Issue(task_id, aid, None if item is None else str(item), severity, reason))

    result = annotation.get("result")
    if annotation.get("was_cancelled"):
        issue(None, ERROR, "cancelled (skipped) annotation: left out")
        return None, issues
    if not isinstance(result, list):
        issue(None, ERROR, "annotation has no 'result' list: left out")
        return None, issues
    items = [*result, *(statements or [])]
    if not items:
        issue(None, ERROR, "empty annotation (no result items): left out")
        return None, issues

    coded = CodedAnnotation(task_id, aid, annotator, bool(annotation.get("ground_truth")), raw=annotation)
    span_labels = {s.value for s in codebook.span_labels}
    article = {a.id: set(a.choices) for a in codebook.article_labels}
    stances, qualifiers = set(codebook.stance_names), set(codebook.qualifier_names)
    raw_spans: dict[str, tuple[str, int, int, str]] = {}
    norms: dict[str, dict[str, str]] = {}
    bad_spans: set[str] = set()
    relations: list[tuple[int, dict[str, Any]]] = []
    statement_items: list[tuple[int, dict[str, Any]]] = []

    for n, item in enumerate(items):
        if not isinstance(item, dict):
            issue(n, ERROR, "result item is not a JSON object: left out")
            continue
        kind, name = item.get("type"), item.get("from_name")
        value = item.get("value") if isinstance(item.get("value"), dict) else {}
        rid = item.get("id")
        if kind == "relation":
            relations.append((n, item))
        elif kind == STATEMENT_TYPE:
            statement_items.append((n, item))
        elif kind == "labels":
            if name != MENTION_NAME:
                issue(rid, ERROR, f"span from unknown control {name!r}: left out")
                bad_spans.add(str(rid))
                continue
            span = _check_span(str(rid), value, text, span_labels, issue)
            if span is None or str(rid) in raw_spans:
                if span is not None:
                    issue(rid, ERROR, f"span id {rid} is used by two spans: the second is left out")
                bad_spans.add(str(rid))
                continue
            raw_spans[str(rid)] = span
        elif kind == "choices" and name in (ACTOR_CHOICE_NAME, POLICY_CHOICE_NAME) and rid is not None:
            choice = single_value(value.get("choices"))
            allowed = names.actor_ids if name == ACTOR_CHOICE_NAME else names.policy_ids
            if choice not in allowed:
                issue(rid, ERROR, f"{name} choice {value.get('choices')!r} is not a codebook id: left out")
                continue
            norms.setdefault(str(rid), {})[name] = choice
        elif kind == "textarea" and name == CANONICAL_NAME and rid is not None:
            canonical = single_value(value.get("text"))
            if canonical is None:
                issue(rid, WARNING, "empty canonical name: ignored")
                continue
            norms.setdefault(str(rid), {})[CANONICAL_NAME] = canonical
        elif kind == "choices" and name in article:
            choice = single_value(value.get("choices"))
            if choice not in article[name]:
                issue(rid or name, ERROR, f"article label {name!r}: {value.get('choices')!r} is not one of "
                                          f"{sorted(article[name])}: left out")
                continue
            coded.article_labels[name] = choice
        else:
            issue(rid if rid is not None else n, ERROR,
                  f"unknown result item (type {kind!r}, control {name!r}): left out")

    for rid, norm in norms.items():
        if rid not in raw_spans:
            if rid not in bad_spans:
                issue(rid, ERROR, "normalisation of a missing span: left out")
            continue
        label = raw_spans[rid][0]
        wrong = ACTOR_CHOICE_NAME if label == POLICY_LABEL else POLICY_CHOICE_NAME
        if wrong in norm:
            issue(rid, ERROR, f"{wrong} choice on a {label} span: left out")
            del norm[wrong]

    for rid, (label, start, end, span_text) in raw_spans.items():
        norm = norms.get(rid, {})
        if label == ACTOR_LABEL:
            key = norm.get(ACTOR_CHOICE_NAME) or names.actor(norm.get(CANONICAL_NAME) or span_text)
        else:
            key = norm.get(POLICY_CHOICE_NAME) or names.policy(norm.get(CANONICAL_NAME) or span_text)
        coded.spans[rid] = Span(rid, label, start, end, span_text, key)

    ordered = sorted(coded.spans.values(), key=lambda s: (s.start, s.end))
    for a, b in zip(ordered, ordered[1:], strict=False):
        if b.start < a.end:
            issue(b.id, WARNING, f"span {b.id} [{b.start},{b.end}) overlaps span {a.id} [{a.start},{a.end})")

    for _n, rel in relations:
        ref = f"{rel.get('from_id')}->{rel.get('to_id')}"
        ends = [coded.spans.get(str(rel.get(k))) for k in ("from_id", "to_id")]
        if None in ends:
            missing = [str(rel.get(k)) for k, s in zip(("from_id", "to_id"), ends, strict=True) if s is None]
            issue(ref, ERROR, f"relation to a missing span ({', '.join(missing)}): left out")
            continue
        src, dst = ends
        assert src is not None and dst is not None
        if (src.label, dst.label) == (POLICY_LABEL, ACTOR_LABEL):
            src, dst = dst, src  # drawn from the policy end: the same statement
        elif (src.label, dst.label) != (ACTOR_LABEL, POLICY_LABEL):
            issue(ref, ERROR, f"relation between a {src.label} and a {dst.label} span (needs Actor -> Policy): "
                              "left out")
            continue
        labels = rel.get("labels") or []
        unknown = [x for x in labels if x not in stances | qualifiers]
        found = [x for x in labels if x in stances]
        if unknown:
            issue(ref, ERROR, f"unknown relation label(s) {unknown}: left out")
            continue
        if len(found) != 1:
            issue(ref, ERROR, f"relation needs exactly one stance label, has {found or 'none'}: left out")
            continue
        quals = tuple(x for x in labels if x in qualifiers)
        coded.statements.append(Statement(src.canonical, dst.canonical, found[0], quals, src, dst, rel))

    for n, st in statement_items:
        value = st.get("value") if isinstance(st.get("value"), dict) else {}
        ref = st.get("id", n)
        actor, target, stance = value.get("actor"), value.get("target"), value.get("stance")
        if not (isinstance(actor, str) and actor.strip() and isinstance(target, str) and target.strip()):
            issue(ref, ERROR, "statement without actor and target names: left out")
            continue
        if stance not in stances:
            issue(ref, ERROR, f"statement stance {stance!r} is not a codebook stance label: left out")
            continue
        quals = tuple(q for q in value.get("qualifiers") or [] if q in qualifiers)
        coded.statements.append(Statement(names.actor(actor), names.policy(target), stance, quals, None, None, st))

    stances_of: dict[tuple[str, str], list[str]] = {}
    for st in coded.statements:
        stances_of.setdefault(st.pair, []).append(st.stance)
    for (actor, policy), found in stances_of.items():
        if len(set(found)) > 1:
            issue(f"{actor}->{policy}", WARNING, f"contradictory relations: {actor} -> {policy} is coded "
                                                 f"{' and '.join(sorted(set(found)))} in this annotation")
    return coded, issues


def _check_span(rid: str, value: dict[str, Any], text: str, span_labels: set[str], issue: Any,
                ) -> tuple[str, int, int, str] | None:
    start, end, labels = value.get("start"), value.get("end"), value.get("labels")
    if not (isinstance(labels, list) and len(labels) == 1 and labels[0] in span_labels):
        issue(rid, ERROR, f"span label {labels!r} is not one of {sorted(span_labels)}: left out")
        return None
    wrong = [f"{k} {v!r}" for k, v in (("start", start), ("end", end))
             if isinstance(v, bool) or not isinstance(v, int) and v is not None]
    if wrong:
        issue(rid, ERROR, f"span {' and '.join(wrong)} {'is not an integer' if len(wrong) == 1 else 'are not integers'}"
                          ": left out")
        return None
    if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end):
        issue(rid, ERROR, f"span offsets {start!r}..{end!r} are not a valid range: left out")
        return None
    expected = value.get("text")
    if end > len(text) or (isinstance(expected, str) and text[start:end] != expected):
        remapped = _utf16_remap(text, start, end)
        if remapped and (not isinstance(expected, str) or text[remapped[0]:remapped[1]] == expected):
            start, end = remapped
        elif end > len(text):
            issue(rid, ERROR, f"span offsets [{start},{end}) outside the text (length {len(text)}): left out")
            return None
        else:
            issue(rid, ERROR, f"span text {expected!r} does not match the text at [{start},{end}) "
                              f"({text[start:end]!r}): left out")
            return None
    if not text[start:end].strip():
        issue(rid, ERROR, f"span [{start},{end}) covers only white space: left out")
        return None
    return labels[0], start, end, text[start:end]
