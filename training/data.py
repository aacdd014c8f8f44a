"""The statements dataset as training reads it: located, checked against the codebook, with its digest."""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from corpus.errors import InputError
from corpus.store import loads
from training.paths import resolve_path

if TYPE_CHECKING:
    from datasets import Dataset, DatasetDict

log = logging.getLogger(__name__)

CONFIG = "statements"
# Columns a model reads; the rest of the contract (ids, provenance) rides along untouched.
INPUT_COLUMNS = ("context", "actor_mention", "policy_mention", "actor_label", "policy_label",
                 "actor_context_start", "actor_context_end", "policy_context_start", "policy_context_end")
LABEL_COLUMN = "stance"


@dataclass(frozen=True)
class StatementData:
    """The splits a run uses, their stance names per row, and the dataset's lineage."""

    path: Path
    splits: dict[str, Dataset]
    labels: dict[str, list[str]]
    digest: str
    names: list[str]


def statements_dir(dataset: str | Path, config: str = CONFIG) -> Path:
    """DATASET/<config> (or DATASET itself when it is that DatasetDict); errors name the path."""
    root = resolve_path(dataset)
    if not root.exists():
        raise InputError(root, "dataset folder not found (build one with `python -m corpus build`)")
    if (root / config / "dataset_dict.json").is_file():
        return root / config
    if config == CONFIG and (root / "dataset_dict.json").is_file():
        return root
    if config != CONFIG and (root / CONFIG / "dataset_dict.json").is_file():
        raise InputError(root, f"no {config}/ in this dataset: it was built before {config} existed; rebuild it with "
                               "`python -m corpus build SOURCE... --out DATASET`")
    raise InputError(root, f"not a dataset: no {config}/dataset_dict.json (build one with `python -m corpus build`)")


def dataset_digest(dataset: str | Path, splits: dict[str, Dataset] | None = None, config: str = CONFIG) -> str:
    """The build's content digest from DATASET/digest.json; else a digest of the loaded splits' fingerprints."""
    folder = statements_dir(dataset, config)
    for candidate in (folder.parent / "digest.json", folder / "digest.json"):
        if candidate.is_file():
            try:
                digest = json.loads(candidate.read_text(encoding="utf-8"))["digest"]
            except (ValueError, KeyError, TypeError):
                raise InputError(candidate, "expected a JSON object with a 'digest' string") from None
            if not isinstance(digest, str) or not digest:
                raise InputError(candidate, "'digest' must be a non-empty string")
            return digest
    log.warning("%s: no digest.json; using a digest of the split fingerprints", folder)
    parts = sorted(f"{k}:{v._fingerprint}" for k, v in (splits or {}).items())
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def stance_names(ds: Dataset, names: list[str], where: str) -> list[str]:
    """Each row's stance as a codebook name; InputError for labels outside the codebook."""
    from datasets import ClassLabel

    feature = ds.features.get(LABEL_COLUMN)
    if feature is None:
        raise InputError(where, f"no '{LABEL_COLUMN}' column")
    values = ds[LABEL_COLUMN]
    if isinstance(feature, ClassLabel):
        unknown = [n for n in feature.names if n not in names]
        if unknown:
            raise InputError(where, f"stance label {unknown[0]!r} is not in the codebook ({', '.join(names)})")
        out = []
        for i, v in enumerate(values):
            if v is None or not 0 <= v < len(feature.names):
                raise InputError(f"{where}:{i}", f"stance {v!r} is not a label of the dataset's ClassLabel")
            out.append(feature.names[v])
        return out
    for i, v in enumerate(values):
        if v not in names:
            raise InputError(f"{where}:{i}", f"stance label {v!r} is not in the codebook ({', '.join(names)})")
    return list(values)


def load_statements(dataset: str | Path, split_names: list[str], names: list[str],
                    limits: dict[str, int | None] | None = None, config: str = CONFIG) -> StatementData:
    """Load and check the named splits of DATASET/<config> (statements, or candidates for a detector): present,
    non-empty, model columns, codebook labels."""
    from datasets import load_from_disk

    folder = statements_dir(dataset, config)
    try:
        dd: DatasetDict = load_from_disk(str(folder))
    except Exception as e:  # datasets raises anything from OSError to IndexError on a damaged folder
        raise InputError(folder, f"cannot load the dataset ({type(e).__name__}: {e})") from None
    splits: dict[str, Dataset] = {}
    labels: dict[str, list[str]] = {}
    for split in split_names:
        where = f"{folder}[{split}]"
        if split not in dd:
            raise InputError(folder, f"missing split {split!r} (has {', '.join(dd) or 'none'})")
        ds = dd[split]
        missing = [c for c in (*INPUT_COLUMNS, LABEL_COLUMN) if c not in ds.column_names]
        if missing:
            raise InputError(where, f"missing column {missing[0]!r}")
        if len(ds) == 0:
            raise InputError(where, "split is empty: too little data to train or select a model on")
        limit = (limits or {}).get(split)
        if limit and limit < len(ds):
            ds = ds.shuffle(seed=0).select(range(limit))
        splits[split] = ds
        labels[split] = stance_names(ds, names, where)
    return StatementData(folder, splits, labels, dataset_digest(dataset, splits, config), list(names))


def split_spec(value: str) -> tuple[str, str] | None:
    """`DATASET:split` -> (DATASET, split) when DATASET is a folder; None for anything else."""
    head, sep, split = value.rpartition(":")
    if sep and head and split and Path(head).expanduser().is_dir():
        return head, split
    return None


def locate(needle: str, text: str) -> tuple[int, int] | tuple[None, None]:
    """First case-insensitive occurrence of `needle` in `text` as (start, end), else (None, None)."""
    if not needle:
        return None, None
    i = text.lower().find(needle.lower())
    return (i, i + len(needle)) if i >= 0 else (None, None)


def _row_from_table(raw: dict[str, Any], where: str) -> dict[str, Any]:
    """A (text, actor, policy) row, or one already in the statements shape, as a statement row."""
    def pick(*keys: str) -> str:
        for key in keys:
            value = raw.get(key)
            if value is not None and str(value).strip():
                return str(value)
        raise InputError(where, f"missing field {keys[0]!r}")

    row = dict(raw)
    context = row["context"] = pick("text", "context")
    actor = row.setdefault("actor_mention", pick("actor", "actor_mention"))
    policy = row.setdefault("policy_mention", pick("policy", "policy_mention"))
    row.setdefault("actor_label", actor)
    row.setdefault("policy_label", policy)
    for name, mention in (("actor", actor), ("policy", policy)):
        if row.get(f"{name}_context_start") is None:
            row[f"{name}_context_start"], row[f"{name}_context_end"] = locate(mention, context)
    return row


def rows_from_file(path: str | Path) -> list[dict[str, Any]]:
    """Statement rows from a .jsonl or .csv of (text, actor, policy[, id, stance]); errors name file:row."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "input file not found")
    rows: list[dict[str, Any]] = []
    try:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        raw = loads(line, f"{path}:{n}")  # too deep: an InputError naming the line
                    except ValueError as e:
                        raise InputError(f"{path}:{n}", f"not valid JSON ({e.msg})") from None
                    if not isinstance(raw, dict):
                        raise InputError(f"{path}:{n}", "each line must be a JSON object")
                    rows.append(_row_from_table(raw, f"{path}:{n}"))
        elif path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as fh:
                for n, raw in enumerate(csv.DictReader(fh), 2):
                    rows.append(_row_from_table(dict(raw), f"{path}:{n}"))
        else:
            raise InputError(path, "expected DATASET:split, a .jsonl or a .csv file")
    except UnicodeDecodeError as e:
        raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    if not rows:
        raise InputError(path, "no rows")
    return rows


def with_context(data: StatementData, dataset: str | Path) -> StatementData:
    """`data` with each row's article context attached (`training.context.attach`: preceding sentences, title)."""
    from datasets import Dataset

    from training.context import article_texts, attach

    articles = article_texts(dataset)
    if not articles:
        log.warning("%s: no articles config, so no article context for the rows", dataset)
        return data
    splits = {name: Dataset.from_list(attach(ds.to_list(), articles)) for name, ds in data.splits.items()}
    return StatementData(data.path, splits, data.labels, data.digest, data.names)
