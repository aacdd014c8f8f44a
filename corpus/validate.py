"""`corpus validate`: schema, checksums, span offsets and codebook labels across a corpus store."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from corpus.codebook import (
    ACTOR_CHOICE_NAME,
    CANONICAL_NAME,
    MENTION_NAME,
    POLICY_CHOICE_NAME,
    Codebook,
)
from corpus.errors import NewsstanceError
from corpus.store import CorpusStore
from corpus.tasks import STATEMENT_TYPE

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class Problem:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class ValidationReport:
    articles: int = 0
    tasks: int = 0
    annotations: int = 0
    spans: int = 0
    relations: int = 0
    statements: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_annotation(result: list[Any], text: str, codebook: Codebook, where: str) -> tuple[Counter, list[Problem]]:
    """Check one annotation's result items against the text and the codebook; returns counts and problems."""
    counts: Counter = Counter()
    problems: list[Problem] = []
    span_labels = {s.value for s in codebook.span_labels}
    choice_sets = {
        ACTOR_CHOICE_NAME: {a.id for a in codebook.actors},
        POLICY_CHOICE_NAME: {p.id for p in codebook.policy_options},
        **{al.id: set(al.choices) for al in codebook.article_labels},
    }
    stances, qualifiers = set(codebook.stance_names), set(codebook.qualifier_names)
    if not isinstance(result, list):
        return counts, [Problem(where, "result is not a list")]
    span_ids = {str(r.get("id")) for r in result
                if isinstance(r, dict) and r.get("type") == "labels" and r.get("from_name") == MENTION_NAME}
    for n, item in enumerate(result):
        at = f"{where} item {n}"
        if not isinstance(item, dict):
            problems.append(Problem(at, "result item is not an object"))
            continue
        kind, name, value = item.get("type"), item.get("from_name"), item.get("value") or {}
        if kind == "labels" and name == MENTION_NAME:
            counts["spans"] += 1
            start, end = value.get("start"), value.get("end")
            labels = value.get("labels") or []
            if isinstance(start, bool) or isinstance(end, bool):
                problems.append(Problem(at, f"span offsets {start!r}..{end!r} are not integers"))
            elif not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
                problems.append(Problem(at, f"span offsets {start}..{end} outside the text (length {len(text)})"))
            elif value.get("text") is not None and text[start:end] != value["text"]:
                problems.append(Problem(at, f"span text {value['text']!r} does not match text[{start}:{end}] "
                                            f"{text[start:end]!r}"))
            if len(labels) != 1 or labels[0] not in span_labels:
                problems.append(Problem(at, f"span label {labels} is not one of {sorted(span_labels)}"))
        elif kind == "choices" and name in choice_sets:
            for choice in value.get("choices") or []:
                if choice not in choice_sets[name]:
                    problems.append(Problem(at, f"choice {choice!r} of {name!r} is not in the codebook"))
        elif kind == "textarea" and name == CANONICAL_NAME:
            if not any(str(t).strip() for t in value.get("text") or []):
                problems.append(Problem(at, "empty canonical name"))
        elif kind == "relation":
            counts["relations"] += 1
            labels = item.get("labels") or []
            stance = [lb for lb in labels if lb in stances]
            unknown = [lb for lb in labels if lb not in stances and lb not in qualifiers]
            if unknown:
                problems.append(Problem(at, f"relation label {unknown[0]!r} is not in the codebook"))
            if len(stance) != 1:
                problems.append(Problem(at, f"relation needs exactly one stance label, got {labels}"))
            for end_name in ("from_id", "to_id"):
                if str(item.get(end_name)) not in span_ids:
                    problems.append(Problem(at, f"relation {end_name} {item.get(end_name)!r} names no span"))
        elif kind == STATEMENT_TYPE:
            counts["statements"] += 1
            if value.get("stance") not in stances:
                problems.append(Problem(at, f"statement stance {value.get('stance')!r} is not in the codebook"))
        elif kind in ("labels", "choices", "textarea"):
            problems.append(Problem(at, f"unknown control {name!r} (not generated from the codebook)"))
        else:
            problems.append(Problem(at, f"unknown result type {kind!r}"))
    return counts, problems


def _readable(keys: Iterable[K], read: Callable[[K], V], problems: list[Problem]) -> Iterator[tuple[K, V]]:
    """(key, read(key)) for each key that reads; each one that does not becomes a problem and is skipped."""
    for key in keys:
        try:
            value = read(key)
        except NewsstanceError as e:
            problems.append(Problem(e.where, e.what))
            continue
        yield key, value


def validate_store(store: CorpusStore, codebook: Codebook) -> ValidationReport:
    """Check every article and task file; collect every problem rather than stopping at the first."""
    report = ValidationReport()
    texts: dict[str, str] = {}
    sums: dict[str, str] = {}
    checksums: dict[str, str] = {}
    for article_id, art in _readable(store.article_ids(), store.read_article, report.problems):
        report.articles += 1
        if art.checksum in sums:
            report.problems.append(Problem(str(store.article_path(article_id)),
                                           f"duplicate article: same text as {sums[art.checksum]!r}"))
        sums[art.checksum] = article_id
        texts[article_id] = art.text
        checksums[article_id] = art.checksum
    for path, task in _readable(store.task_files(), store.read_task, report.problems):
        report.tasks += 1
        data = task["data"]
        article_id = data.get("article_id")
        if not isinstance(article_id, str):
            report.problems.append(Problem(str(path), f"data.article_id must be a string, got {article_id!r}"))
            continue
        if article_id not in texts:
            report.problems.append(Problem(str(path), f"data.article_id {article_id!r} names no stored article"))
            continue
        text = texts[article_id]
        if data.get("text") != text:
            report.problems.append(Problem(str(path), "data.text differs from the stored article's text"))
        if data.get("checksum") != checksums[article_id]:
            report.problems.append(Problem(str(path), "data.checksum differs from the stored article's checksum"))
        for k, ann in enumerate(task.get("annotations") or []):
            report.annotations += 1
            counts, problems = check_annotation(ann.get("result"), text, codebook,
                                                f"{path} annotation {ann.get('id', k)}")
            report.spans += counts["spans"]
            report.relations += counts["relations"]
            report.statements += counts["statements"]
            report.problems.extend(problems)
    return report
