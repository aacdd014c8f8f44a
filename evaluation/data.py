"""Reading what evaluation scores: a split of the `statements` dataset, its card metadata, agreement figures."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from corpus.errors import InputError
from corpus.yamlio import load_yaml, read_yaml

log = logging.getLogger(__name__)
STATEMENTS = "statements"


def load_split(dataset: str | Path, split: str, names: list[str]) -> list[dict[str, Any]]:
    """Rows of `DATASET/statements[split]` as dicts, with `stance` turned into its label name.

    Raises InputError for a missing dataset or split, an empty split, or stance labels the codebook lacks.
    """
    from datasets import load_from_disk

    dataset = Path(dataset)
    if not dataset.exists():
        raise InputError(dataset, "dataset folder not found")
    folder = dataset_root(dataset) / STATEMENTS
    if not folder.is_dir():
        raise InputError(dataset, f"no '{STATEMENTS}' config here (expected {folder}, written by `corpus build`)")
    try:
        dd = load_from_disk(str(folder))
    except (FileNotFoundError, ValueError) as e:
        raise InputError(folder, f"not a saved Hugging Face dataset ({e})") from None
    splits = list(dd.keys()) if hasattr(dd, "keys") else []
    if split not in splits:
        raise InputError(folder, f"no split {split!r}; the dataset has {', '.join(splits) or 'no splits'}")
    ds = dd[split]
    if len(ds) == 0:
        raise InputError(f"{folder}[{split}]", "split is empty (the corpus may be too small to fill it)")
    if "stance" not in ds.column_names or "id" not in ds.column_names:
        raise InputError(f"{folder}[{split}]", "needs the columns 'id' and 'stance'")
    feature = ds.features["stance"]
    ds_names = list(getattr(feature, "names", None) or [])
    unknown = [n for n in ds_names if n not in names]
    if unknown:
        raise InputError(f"{folder}[{split}]", f"stance label {unknown[0]!r} is not in the codebook {names}")
    rows = ds.to_list()
    for i, row in enumerate(rows):
        value = row["stance"]
        if isinstance(value, int) and ds_names:
            if not 0 <= value < len(ds_names):
                raise InputError(f"{folder}[{split}] row {i}", f"stance index {value} out of range")
            row["stance"] = ds_names[value]
        elif value not in names:
            raise InputError(f"{folder}[{split}] row {i}", f"stance {value!r} is not in the codebook {names}")
        row["id"] = str(row["id"])
    from training.context import article_texts, attach

    rows = attach(rows, article_texts(dataset))  # for models that read the article's context
    ids = [r["id"] for r in rows]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"{folder}[{split}]", f"duplicate statement id {dup!r}")
    return rows


def dataset_root(path: str | Path) -> Path:
    """DATASET for either DATASET or DATASET/statements (both are accepted wherever a dataset is named)."""
    path = Path(path)
    if path.name == STATEMENTS and (path / "dataset_dict.json").is_file() and not (path / STATEMENTS).is_dir():
        return path.parent
    return path


def card_metadata(dataset: str | Path) -> dict[str, Any]:
    """The YAML header of `DATASET/README.md` (the dataset card); {} when there is none."""
    path = dataset_root(dataset) / "README.md"
    if not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        return {}
    head = text.split("\n---", 1)[0].removeprefix("---")
    try:
        meta = load_yaml(head, path)
    except InputError as e:
        log.warning("%s: dataset card metadata is not valid YAML (%s); ignored", path, e)
        return {}
    return meta if isinstance(meta, dict) else {}


def dataset_digest(dataset: str | Path, meta: dict[str, Any] | None = None) -> str | None:
    """The build's content digest: `digest.json`, else the card's `newsstance.digest` or any *digest* key."""
    path = dataset_root(dataset) / "digest.json"
    if path.is_file():
        try:
            value = json.loads(path.read_text(encoding="utf-8")).get("digest")
            if value:
                return str(value)
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            log.warning("%s: unreadable; digest taken from the card", path)
    meta = card_metadata(dataset) if meta is None else meta
    inner = meta.get("newsstance") if isinstance(meta.get("newsstance"), dict) else {}
    for source in (inner, meta):
        for key, value in source.items():
            if "digest" in str(key).lower() and "method" not in str(key).lower() and isinstance(value, str | int):
                return str(value)
    return None


# Headline figures of `annotation agreement --json` (its shape), with the names a reader sees.
CEILING = (
    ("stance.krippendorff_alpha", "stance: Krippendorff's alpha (nominal)"),
    ("stance.mean_cohen_kappa", "stance: mean Cohen's kappa over annotator pairs"),
    ("stance.observed_agreement", "stance: observed agreement on matched (actor, policy) pairs"),
    ("statements.f1", "whole statements (actor, policy, stance): F1 between annotators"),
    ("pairs.f1", "(actor, policy) pairs found: F1 between annotators"),
)
_MEASURE_WORDS = ("alpha", "kappa", "f1", "agreement")
ANNOTATOR_MACRO = "stance: annotators' macro-F1 (mean specific agreement)"
SPECIFIC = "stance {label}: specific agreement (annotator vs annotator F1)"


def _get(raw: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(raw, dict):
            return None
        raw = raw.get(part)
    return raw


def agreement_figures(source: Any) -> list[tuple[str, float]]:
    """(name, value) pairs to set beside the model's scores.

    For the shape `annotation agreement` writes: the headline measures, per-label specific agreement
    (which is the per-class F1 of one annotator against another) and their mean over the labels coded
    (the annotators' macro-F1). For any other shape: every numeric leaf whose name says it is a measure
    (alpha, kappa, F1, agreement), by dotted path.
    """
    if not isinstance(source, dict | list):
        return []
    per_label = _get(source, "stance.per_label")
    if any(_get(source, key) is not None for key, _ in CEILING) or isinstance(per_label, dict):
        out = [(name, float(v)) for key, name in CEILING if isinstance(v := _get(source, key), int | float)]
        specific = []
        for label, d in (per_label or {}).items():
            v = d.get("specific_agreement") if isinstance(d, dict) else None
            if isinstance(v, int | float) and (d.get("codings") or 0) > 0:
                specific.append(float(v))
                out.append((SPECIFIC.format(label=label), float(v)))
        if specific:
            out.insert(0, (ANNOTATOR_MACRO, sum(specific) / len(specific)))
        return out
    flat: list[tuple[str, float]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, bool):
            return
        if isinstance(value, int | float):
            if any(w in prefix.rsplit(".", 1)[-1].lower() for w in _MEASURE_WORDS):
                flat.append((prefix, float(value)))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, list) and len(value) <= 50:
            for i, v in enumerate(value):
                name = (v.get("name") or v.get("label")) if isinstance(v, dict) else None
                walk(f"{prefix}.{name or i}", v)

    walk("", source)
    return flat[:30]


def read_agreement(dataset: str | Path | None, agreement_file: str | Path | None) -> list[tuple[str, float]]:
    """Agreement figures from `--agreement FILE` (JSON or YAML), else the build's `DATASET/agreement.json`,
    else an `agreement` mapping in the dataset card."""
    if agreement_file:
        path = Path(agreement_file)
        if not path.is_file():
            raise InputError(path, "agreement file not found")
        raw = read_yaml(path, "agreement file not found")  # YAML is a superset of JSON
        figures = agreement_figures(raw.get("agreement", raw) if isinstance(raw, dict) else raw)
        if not figures:
            raise InputError(path, "holds no agreement figures (alpha, kappa, F1 or agreement values)")
        return figures
    if dataset is None:
        return []
    copied = dataset_root(dataset) / "agreement.json"
    if copied.is_file():
        try:
            return agreement_figures(json.loads(copied.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            log.warning("%s: not readable JSON (%s); no human ceiling shown", copied, e)
            return []
    meta = card_metadata(dataset)
    inner = meta.get("newsstance") if isinstance(meta.get("newsstance"), dict) else {}
    for raw in (meta.get("agreement"), inner.get("agreement")):
        if isinstance(raw, dict | list):
            return agreement_figures(raw)
    return []


def dump_jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
