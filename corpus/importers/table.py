"""The table importer: (text, target, stance) rows from CSV, TSV, JSONL or a JSON list into OUT.

Most public stance sets are shaped like this (SemEval-2016, P-Stance, VAST...). A column mapping names
the text, the target (a Policy span), the label, and optionally the holder (an Actor span; "(author)"
where there is none, as in tweets), a group id (articles of one group share a split) and a split.
`--map RAW=LABEL` renames raw labels to codebook stance labels; any label that is not one after mapping
is an error naming its row.

One article per distinct text (after normalisation); its id is the file's slug plus a hash of the text,
so ids are stable whatever the row order. Each article's task holds one ground-truth annotation
("gold") with one statement per row: spans + relation where the holder and target are found in the text
(the same strategies as SEESAW), else a `statement` item whose context is the whole text. A target or
holder that is a codebook id is normalised to the codebook; other names go to the `canonical` text area.
Rows are numbered as lines of the file (CSV/TSV: the header is line 1; JSONL: line; JSON list: item).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.codebook import Codebook, load_codebook
from corpus.errors import InputError
from corpus.importers.statements import (
    AUTHOR,
    AnnotationBuilder,
    ImportResult,
    Mention,
    annotation,
    codebook_alias_index,
    codebook_aliases_of,
    mention_candidates,
    name_aliases,
    person_surname,
    task,
    write_import,
)
from corpus.schema import UNKNOWN, Article, normalise_text, slugify
from corpus.store import json_lines, parse_json, read_text

log = logging.getLogger(__name__)

ORIGIN = "table"
ANNOTATOR = "gold"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
SPLITS = {"train": "train", "training": "train", "valid": "validation", "validation": "validation",
          "val": "validation", "dev": "validation", "development": "validation", "test": "test"}


@dataclass(frozen=True)
class Columns:
    """Which column holds what; None for an optional column that is not mapped."""

    text: str
    target: str
    label: str
    actor: str | None = None
    group: str | None = None
    split: str | None = None

    def mapped(self) -> list[tuple[str, str]]:
        """(flag, column) for every mapped column, in flag order."""
        return [(f"--{flag}", col) for flag, col in self.__dict__.items() if col is not None]


@dataclass
class _Row:
    where: str
    line: int
    values: dict[str, Any]


@dataclass
class _Pending:
    article: Article
    group_raw: str | None
    split_raw: str | None
    first: str
    rows: list[tuple[_Row, str, str, str, str]] = field(default_factory=list)  # row, actor, target, raw, stance


def parse_label_map(items: Sequence[str]) -> dict[str, str]:
    """`RAW=LABEL` strings -> {raw: label}; a malformed or repeated item is an InputError naming it."""
    mapping: dict[str, str] = {}
    for item in items:
        raw, sep, label = item.partition("=")
        if not sep or not raw.strip() or not label.strip():
            raise InputError("--map", f"{item!r} is not RAW=LABEL (for example FAVOR=support)")
        if raw.strip() in mapping and mapping[raw.strip()] != label.strip():
            raise InputError("--map", f"{raw.strip()!r} is mapped twice")
        mapping[raw.strip()] = label.strip()
    return mapping


def read_rows(path: Path) -> tuple[list[str], list[_Row]]:
    """(columns, rows) of a table file; every failure is an InputError naming the file and line."""
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise InputError(path, f"unknown table format {path.suffix or '(no extension)'!r} "
                               f"(expected {', '.join(sorted(FORMATS))})")
    text = read_text(path)
    rows: list[_Row] = []
    if kind in ("csv", "tsv"):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter="," if kind == "csv" else "\t")
        try:
            columns = [c.strip() for c in next(reader)]
            if not any(columns):
                raise InputError(f"{path}:1", "the first line must be a header naming the columns")
            dupes = sorted({c for c in columns if columns.count(c) > 1})
            if dupes:
                raise InputError(f"{path}:1", f"column {dupes[0]!r} appears twice in the header")
            start = reader.line_num + 1
            for cells in reader:
                line, start = start, reader.line_num + 1  # a quoted field may span lines: name a row by its first
                if not any(c.strip() for c in cells):
                    continue
                if len(cells) != len(columns):
                    raise InputError(f"{path}:{line}", f"{len(cells)} fields, the header has {len(columns)}")
                rows.append(_Row(f"{path}:{line}", line, dict(zip(columns, cells, strict=True))))
        except csv.Error as e:
            raise InputError(f"{path}:{reader.line_num}", f"malformed {kind.upper()} ({e})") from None
        return columns, rows
    if kind == "jsonl":
        rows += [_Row(f"{path}:{line}", line, value) for line, value in json_lines(text, path, objects=True)]
    else:
        items = parse_json(text, path)
        if not isinstance(items, list):
            raise InputError(path, "a .json table must be a list of objects (one per row)")
        for i, item in enumerate(items, start=1):
            if not isinstance(item, dict):
                raise InputError(f"{path}:{i}", "each row must be a JSON object")
            rows.append(_Row(f"{path}:{i}", i, item))
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row.values if k not in columns]
    return columns, rows


def _cell(row: _Row, column: str | None, required: bool) -> str | None:
    """A cell as stripped text; None when an optional cell is absent or empty."""
    if column is None:
        return None
    if column not in row.values or row.values[column] is None:
        if required:
            raise InputError(row.where, f"missing field {column!r}")
        return None
    value = row.values[column]
    if isinstance(value, dict | list):
        raise InputError(row.where, f"field {column!r} must be text, not a JSON {type(value).__name__}")
    text = value if isinstance(value, str) else json.dumps(value)
    if required and not text.strip():
        raise InputError(row.where, f"field {column!r} is empty")
    return text.strip() or None


def _stance(raw: str, mapping: dict[str, str], codebook: Codebook, where: str) -> str:
    label = mapping.get(raw, raw)
    names = codebook.stance_names
    if label in names:
        return label
    if label.lower() in names:
        return label.lower()
    hint = f"; map it with --map {raw}=LABEL" if raw not in mapping else ""
    raise InputError(where, f"label {label!r} is not a stance in the codebook ({', '.join(names)}){hint}")


def _mention(name: str, text: str, codebook: Codebook, index: dict[str, list[str]], actor: bool) -> Mention:
    if name == AUTHOR:
        return Mention(AUTHOR, why_unlocated="author voice: the row names no holder")
    entry = codebook.actor(name) if actor else codebook.policy(name)
    if entry is not None:
        surfaces = [entry.label, *(entry.aliases if actor else entry.examples)]  # type: ignore[union-attr]
        return Mention(name, mention_candidates(text, entry.label, surfaces), in_codebook=True)
    surname = person_surname(name) if actor else None
    aliases = name_aliases(name, person=actor, codebook_aliases=codebook_aliases_of(name, index) if actor else ())
    return Mention(name, mention_candidates(text, name, aliases, surname))


def import_table(
    path: str | Path, out: str | Path, columns: Columns, label_map: dict[str, str] | None = None,
    codebook: Codebook | None = None, id_prefix: str | None = None, source: str = UNKNOWN,
    rights: str = UNKNOWN,
) -> ImportResult:
    """Convert a (text, target, stance) table into OUT; writes nothing unless every row converted."""
    path, out = Path(path), Path(out)
    codebook = codebook or load_codebook()
    mapping = label_map or {}
    for raw, label in mapping.items():
        if label not in codebook.stance_names:
            raise InputError("--map", f"{raw}={label}: {label!r} is not a stance in the codebook "
                                      f"({', '.join(codebook.stance_names)})")
    header, rows = read_rows(path)
    for flag, column in columns.mapped():
        if column not in header:
            raise InputError(path, f"{flag} column {column!r} is not in the file; "
                                   f"available columns: {', '.join(header) or '(none)'}")
    if not rows:
        raise InputError(path, "no data rows")
    prefix = slugify(id_prefix or path.stem)[:60].strip("-") or "table"
    pending: dict[str, _Pending] = {}
    group_splits: dict[str, tuple[str, str]] = {}
    for row in rows:
        text = normalise_text(_cell(row, columns.text, True) or "")
        if not text:
            raise InputError(row.where, f"field {columns.text!r} is empty")
        target = _cell(row, columns.target, True) or ""
        raw_label = _cell(row, columns.label, True) or ""
        stance = _stance(raw_label, mapping, codebook, row.where)
        actor = _cell(row, columns.actor, False) or AUTHOR
        group = _cell(row, columns.group, False)
        split_raw = _cell(row, columns.split, False)
        if split_raw is not None and split_raw.lower() not in SPLITS:
            raise InputError(row.where, f"split {split_raw!r} is not one of {', '.join(SPLITS)}")
        entry = pending.get(text)
        if entry is None:
            article_id = f"{prefix}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"
            split = SPLITS[split_raw.lower()] if split_raw else None
            article = Article(id=article_id, title="", body=text, source=source, rights=rights, split=split,
                              group=f"{prefix}-{slugify(group)}" if group else article_id,
                              extra={"table": {"file": path.name, "rows": []}})
            entry = pending[text] = _Pending(article, group, split_raw, row.where)
        elif (group, split_raw and split_raw.lower()) != (entry.group_raw, entry.split_raw and
                                                          entry.split_raw.lower()):
            raise InputError(row.where, f"the same text as {entry.first} has another group or split; "
                                        "rows of one text must share them")
        if group and split_raw:
            first_split = group_splits.setdefault(group, (SPLITS[split_raw.lower()], row.where))
            if first_split[0] != SPLITS[split_raw.lower()]:
                raise InputError(row.where, f"group {group!r} is in split {first_split[0]!r} at {first_split[1]} "
                                            f"and {SPLITS[split_raw.lower()]!r} here; a group must not straddle splits")
        entry.article.extra["table"]["rows"].append(row.line)
        entry.rows.append((row, actor, target, raw_label, stance))

    index = codebook_alias_index(codebook)
    result = ImportResult(source="table", out=out)
    records, report = [], []
    for entry in pending.values():
        article = entry.article
        text = article.text
        builder = AnnotationBuilder(text)
        for row, actor_name, target_name, raw_label, stance in entry.rows:
            outcome = builder.add(f"r{row.line}", _mention(actor_name, text, codebook, index, True),
                                  _mention(target_name, text, codebook, index, False), stance, (0, len(text)))
            result.count(article.split, raw_label, stance, outcome)
            if not outcome.located:
                report.append({"article": article.id, "file": path.name, "row": row.line, "actor": actor_name,
                               "target": target_name, "stance": stance, "reason": outcome.reason})
        annotations = [annotation(len(records) + 1, ANNOTATOR, True, builder.items)]
        records.append((article, task(article, annotations, f"{ORIGIN}:{path.name}", codebook.version)))
        result.articles += 1
        key = article.split or "unassigned"
        result.articles_by_split[key] = result.articles_by_split.get(key, 0) + 1
    result.finish()
    write_import(out, records, report, result.to_dict())
    log.info("table %s: %d articles, %d statements -> %s", path, result.articles, result.statements, out)
    return result
