"""The table importer: (text, target, stance) rows from CSV, TSV, JSONL or a JSON list into OUT.

Most public stance sets are shaped like this (SemEval-2016, P-Stance, VAST...). A column mapping names
the text, the target (a Policy span), the label, and optionally the holder (an Actor span; "(author)"
where there is none, as in tweets), a group id (articles of one group share a split) and a split.
`--map RAW=LABEL` renames raw labels to codebook stance labels; labels that are not one after mapping are
one error listing each with its row count and the `--map` flags to add.

Duplicate texts: every row is kept or listed. One article per (text, group) (after normalisation); its id is
the file's slug plus a hash of the text (and of the group, where the text is under several groups), so ids are
stable whatever the row order. Without a split column, groups that share a text are merged so the build keeps
every copy in one split. A text in two splits would leak between them: `--on-duplicate drop-train` (default)
keeps the copy in the most held-out split (test, then validation) and drops the others; `report` keeps every
copy (the build's splits then leak); `error` refuses, naming both rows and splits. Each row concerned is a line
of OUT/import-report.jsonl (reason `duplicate_text_across_splits`, action dropped/kept) and the counts are in
the summary's `duplicates`. Each article's task holds one ground-truth annotation
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


def _stance(raw: str, mapping: dict[str, str], codebook: Codebook) -> str | None:
    """The codebook stance of a raw label (after --map; case ignored), or None when it is not one."""
    label = mapping.get(raw, raw)
    names = codebook.stance_names
    if label in names:
        return label
    return label.lower() if label.lower() in names else None


def _unmapped_error(path: Path, unmapped: dict[str, list[int]], mapping: dict[str, str],
                    codebook: Codebook) -> InputError:
    """One message for every label that is not a stance: each with its row count and first row, and the flags."""
    listed = "; ".join(f"{raw!r} ({len(rows)} row{'s' if len(rows) > 1 else ''}, first line {rows[0]})"
                       for raw, rows in sorted(unmapped.items(), key=lambda kv: (-len(kv[1]), kv[0])))
    flags = " ".join(f"--map {raw}=LABEL" for raw in sorted(unmapped) if raw not in mapping)
    n = len(unmapped)
    return InputError(path, f"{n} label{'s are' if n > 1 else ' is'} not a stance in the codebook "
                            f"({', '.join(codebook.stance_names)}): {listed}"
                            + (f"; add {flags}" if flags else "; fix the --map values"))


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


ON_DUPLICATE = ("drop-train", "report", "error")
HELD_OUT = {"test": 2, "validation": 1, "train": 0}  # the more held out split keeps a text both hold


@dataclass
class _Parsed:
    row: _Row
    text: str
    target: str
    raw_label: str
    stance: str
    actor: str
    group: str | None
    split: str | None  # normalised (train, validation, test) or None


def _parse(rows: list[_Row], columns: Columns, mapping: dict[str, str], codebook: Codebook,
           path: Path) -> list[_Parsed]:
    """Every row read and checked; all labels that are not stances reported together."""
    parsed, unmapped = [], {}
    for row in rows:
        text = normalise_text(_cell(row, columns.text, True) or "")
        if not text:
            raise InputError(row.where, f"field {columns.text!r} is empty")
        target = _cell(row, columns.target, True) or ""
        raw_label = _cell(row, columns.label, True) or ""
        stance = _stance(raw_label, mapping, codebook)
        if stance is None:
            unmapped.setdefault(raw_label, []).append(row.line)
        split_raw = _cell(row, columns.split, False)
        if split_raw is not None and split_raw.lower() not in SPLITS:
            raise InputError(row.where, f"split {split_raw!r} is not one of {', '.join(SPLITS)}")
        parsed.append(_Parsed(row, text, target, raw_label, stance or "", _cell(row, columns.actor, False) or AUTHOR,
                              _cell(row, columns.group, False), SPLITS[split_raw.lower()] if split_raw else None))
    if unmapped:
        raise _unmapped_error(path, unmapped, mapping, codebook)
    return parsed


def _cross_split_duplicates(parsed: list[_Parsed], on_duplicate: str,
                            path: Path) -> tuple[list[_Parsed], list[dict[str, Any]], int]:
    """Rows whose text also occurs in another split (a leak between train and the held-out splits): per
    `on_duplicate`, `drop-train` keeps the copies in the most held-out split (test, else validation) and drops the
    others, `report` keeps them all, `error` refuses naming both rows. Returns (rows kept, report lines, texts)."""
    splits_of: dict[str, dict[str, _Parsed]] = {}
    for p in parsed:
        if p.split is not None:
            splits_of.setdefault(p.text, {}).setdefault(p.split, p)
    leaking = {t: by for t, by in splits_of.items() if len(by) > 1}
    if not leaking:
        return parsed, [], 0
    if on_duplicate == "error":
        text, by = next(iter(leaking.items()))
        (a, sa), (b, sb) = sorted(((p, s) for s, p in by.items()), key=lambda x: x[0].row.line)[:2]
        raise InputError(b.row.where, f"the same text as line {a.row.line} is in split {sb!r} here and {sa!r} there "
                                      f"({len(leaking)} text(s) straddle splits; --on-duplicate drop-train keeps the "
                                      "held-out copy, report keeps both)")
    kept, report = [], []
    for p in parsed:
        by = leaking.get(p.text)
        if by is None or p.split is None:
            kept.append(p)
            continue
        keep_split = max(by, key=HELD_OUT.__getitem__)
        other = by[keep_split] if p.split != keep_split else by[min(by, key=HELD_OUT.__getitem__)]
        drop = on_duplicate == "drop-train" and p.split != keep_split
        report.append({"file": path.name, "row": p.row.line, "split": p.split, "target": p.target,
                       "stance": p.stance, "reason": "duplicate_text_across_splits",
                       "same_text_as": other.row.line, "its_split": other.split,
                       "action": "dropped" if drop else "kept",
                       "detail": (f"the same text is in {keep_split} (row {by[keep_split].row.line}): the copy in "
                                  f"{p.split} is dropped so that {keep_split} stays unseen" if drop else
                                  "kept in both splits (--on-duplicate report): the build's splits leak this text")})
        if not drop:
            kept.append(p)
    return kept, report, len(leaking)


def _merged_groups(parsed: list[_Parsed]) -> dict[str, str]:
    """Without a split column, groups that share a text are merged (to the first name in sort order), so the
    build puts every copy of a text in one split. {group: merged group}."""
    parent: dict[str, str] = {}

    def find(g: str) -> str:
        while parent.setdefault(g, g) != g:
            g = parent[g]
        return g

    first: dict[str, str] = {}
    for p in parsed:
        if p.group is None:
            continue
        find(p.group)
        other = first.setdefault(p.text, p.group)
        a, b = find(other), find(p.group)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return {g: find(g) for g in parent}


def import_table(
    path: str | Path, out: str | Path, columns: Columns, label_map: dict[str, str] | None = None,
    codebook: Codebook | None = None, id_prefix: str | None = None, source: str = UNKNOWN,
    rights: str = UNKNOWN, on_duplicate: str = "drop-train",
) -> ImportResult:
    """Convert a (text, target, stance) table into OUT; writes nothing unless every row converted.

    Every row is kept or listed: one article per (text, group); a text in two splits is handled per
    `on_duplicate` (drop-train, report, error; see `_cross_split_duplicates`), each row concerned listed in
    OUT/import-report.jsonl and counted in the summary's `duplicates`."""
    path, out = Path(path), Path(out)
    if on_duplicate not in ON_DUPLICATE:
        raise InputError("--on-duplicate", f"must be one of {', '.join(ON_DUPLICATE)}, got {on_duplicate!r}")
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
    parsed, duplicate_report, leaking = _cross_split_duplicates(
        _parse(rows, columns, mapping, codebook, path), on_duplicate, path)
    merged = _merged_groups(parsed) if columns.split is None else {}
    groups_of_text: dict[str, set[str | None]] = {}
    for p in parsed:
        groups_of_text.setdefault(p.text, set()).add(p.group)
    pending: dict[tuple[str, str | None, str | None], _Pending] = {}
    group_splits: dict[str, tuple[str, str]] = {}
    for p in parsed:
        row, group = p.row, p.group
        key = (p.text, group, p.split if on_duplicate == "report" else None)
        entry = pending.get(key)
        if entry is None:
            basis = p.text if len(groups_of_text[p.text]) == 1 else f"{p.text}\x00{group}"
            if key[2] is not None and any(k[:2] == key[:2] for k in pending):
                basis += f"\x00{p.split}"  # --on-duplicate report: the copy in another split is its own article
            article_id = f"{prefix}-{hashlib.sha256(basis.encode()).hexdigest()[:12]}"
            split_group = merged.get(group, group) if group else None
            article = Article(id=article_id, title="", body=p.text, source=source, rights=rights, split=p.split,
                              group=f"{prefix}-{slugify(split_group)}" if split_group else article_id,
                              extra={"table": {"file": path.name, "rows": []}})
            entry = pending[key] = _Pending(article, group, p.split, row.where)
        if group and p.split:
            first_split = group_splits.setdefault(group, (p.split, row.where))
            if first_split[0] != p.split:
                raise InputError(row.where, f"group {group!r} is in split {first_split[0]!r} at {first_split[1]} "
                                            f"and {p.split!r} here; a group must not straddle splits")
        entry.article.extra["table"]["rows"].append(row.line)
        entry.rows.append((row, p.actor, p.target, p.raw_label, p.stance))

    index = codebook_alias_index(codebook)
    result = ImportResult(source="table", out=out)
    records, report = [], list(duplicate_report)
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
    dropped = sum(r.get("action") == "dropped" for r in duplicate_report)
    result.duplicates = {"rows_read": len(rows), "rows_imported": result.statements, "rows_dropped": dropped,
                         "texts_in_several_splits": leaking, "rows_in_several_splits": len(duplicate_report),
                         "texts_in_several_groups": sum(len(g) > 1 for g in groups_of_text.values()),
                         "on_duplicate": on_duplicate}
    write_import(out, records, report, {**result.to_dict(), "duplicates": result.duplicates})
    log.info("table %s: %d articles, %d statements -> %s", path, result.articles, result.statements, out)
    return result
