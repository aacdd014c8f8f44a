"""Predictions to score: from a model (`training.predict`) or from a file, aligned to the dataset rows by id.

A predictions file is JSON (a list, or {"predictions": [...]}), JSONL, CSV or Parquet with one row per
statement: `id`, and a predicted label (`predicted` | `prediction` | `pred` | `predicted_label` |
`label`) and/or probabilities (`probabilities` as {label: p} or a list with `labels`, or columns
`prob_<label>` | `p_<label>` | `proba_<label>`). A `gold` (or `stance`) column is kept when present.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import InputError

log = logging.getLogger(__name__)
PRED_KEYS = ("predicted", "prediction", "pred", "predicted_label", "label")
GOLD_KEYS = ("gold", "stance", "true", "gold_label")
PROB_PREFIXES = ("prob_", "proba_", "p_")


@dataclass
class Predictions:
    """Predicted label per statement id, with class probabilities (codebook order) where known."""

    ids: list[str]
    labels: list[str]
    probs: np.ndarray | None  # shape (n, len(names)), columns in codebook order
    gold: list[str] | None = None
    article_ids: list[str] | None = None  # for article-clustered resampling where the file carries them

    def index(self) -> dict[str, int]:
        return {i: k for k, i in enumerate(self.ids)}


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON, JSONL, CSV or Parquet file; InputError naming the file and line on any failure."""
    from corpus.store import json_lines, read_json

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file not found" if not path.exists() else "is not a file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pylist()
        except Exception as e:  # pyarrow raises several types for a damaged file
            raise InputError(path, f"not a readable Parquet file ({type(e).__name__})") from None
    if suffix in (".csv", ".tsv"):
        try:
            with path.open(encoding="utf-8", newline="") as fh:
                return list(csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ","))
        except UnicodeDecodeError as e:
            raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
    if suffix == ".jsonl":
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise InputError(path, f"not UTF-8 text (byte {e.start})") from None
        return [row for _, row in json_lines(text, path, objects=True)]
    if suffix == ".json":
        data = read_json(path)
        if isinstance(data, dict) and isinstance(data.get("data"), dict):
            data = [data]  # one Label Studio task
        elif isinstance(data, dict):
            data = next((data[k] for k in ("predictions", "statements", "rows") if isinstance(data.get(k), list)),
                        [data])
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise InputError(path, "expected a list of JSON objects")
        return data
    raise InputError(path, f"unknown file type {suffix!r} (use .json, .jsonl, .csv, .tsv or .parquet)")


def _label(value: Any, names: Sequence[str], where: str) -> str:
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        if 0 <= int(value) < len(names):
            return names[int(value)]
        raise InputError(where, f"label index {value} out of range for {list(names)}")
    if isinstance(value, str) and value.strip().isdigit() and value.strip() not in names:
        return _label(int(value), names, where)
    if value not in names:
        raise InputError(where, f"label {value!r} is not in the codebook {list(names)}")
    return str(value)


def _probs(row: dict[str, Any], names: Sequence[str], where: str) -> list[float] | None:
    raw = row.get("probabilities", row.get("probs", row.get("proba")))
    if isinstance(raw, str) and raw.strip().startswith(("{", "[")):
        from corpus.store import parse_json

        raw = parse_json(raw, where)  # a cell that is not JSON, or nested too deeply: one line naming the row
    if isinstance(raw, dict):
        return _ordered({str(k): v for k, v in raw.items()}, names, where)
    if isinstance(raw, list):
        labels = row.get("labels") or list(names)
        if len(labels) != len(raw):
            raise InputError(where, f"{len(raw)} probabilities for {len(labels)} labels")
        return _ordered(dict(zip(labels, raw, strict=True)), names, where)
    cols = {}
    for key, value in row.items():
        for prefix in PROB_PREFIXES:
            if str(key).startswith(prefix) and str(key)[len(prefix):] in names:
                cols[str(key)[len(prefix):]] = value
    return _ordered(cols, names, where) if cols else None


def _ordered(by_label: dict[str, Any], names: Sequence[str], where: str) -> list[float]:
    unknown = [k for k in by_label if k not in names]
    if unknown:
        raise InputError(where, f"probability for label {unknown[0]!r}, not in the codebook {list(names)}")
    try:
        out = [float(by_label.get(n, 0.0)) for n in names]
    except (TypeError, ValueError):
        raise InputError(where, "probabilities must be numbers") from None
    if any(not 0.0 <= p <= 1.0 + 1e-6 for p in out) or not np.isfinite(out).all():
        raise InputError(where, "probabilities must lie in [0, 1]")
    return out


def parse_predictions(rows: list[dict[str, Any]], names: Sequence[str], source: str) -> Predictions:
    """Validate rows into Predictions; each problem names `source` and the row."""
    ids, labels, probs, gold, articles = [], [], [], [], []
    for n, row in enumerate(rows, 1):
        where = f"{source}:{n}"
        if row.get("id") in (None, ""):
            raise InputError(where, "row has no 'id'")
        p = _probs(row, names, where)
        key = next((k for k in PRED_KEYS if row.get(k) not in (None, "")), None)
        if key is not None:
            label = _label(row[key], names, where)
        elif p is not None:
            label = names[int(np.argmax(p))]
        else:
            raise InputError(where, f"no predicted label ({' | '.join(PRED_KEYS)}) and no probabilities")
        gkey = next((k for k in GOLD_KEYS if row.get(k) not in (None, "") and k != key), None)
        ids.append(str(row["id"]))
        labels.append(label)
        probs.append(p)
        gold.append(_label(row[gkey], names, where) if gkey else None)
        articles.append(str(row["article_id"]) if row.get("article_id") not in (None, "") else None)
    if not ids:
        raise InputError(source, "no predictions")
    dup = _first_duplicate(ids)
    if dup is not None:
        raise InputError(source, f"duplicate id {dup!r}")
    have_probs = [p is not None for p in probs]
    matrix = np.asarray(probs, dtype=float) if all(have_probs) else None
    if any(have_probs) and matrix is None:
        log.warning("%s: only some rows carry probabilities; confidence-based outputs are left out", source)
    return Predictions(ids, labels, matrix, gold if all(g is not None for g in gold) else None,
                       articles if all(a is not None for a in articles) else None)


def read_predictions(path: str | Path, names: Sequence[str]) -> Predictions:
    """Read and validate a predictions file (see the module docstring for the accepted shapes)."""
    return parse_predictions(read_rows(path), names, str(path))


def _first_duplicate(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            return i
        seen.add(i)
    return None


def predict_with_model(model: str, rows: list[dict[str, Any]], names: Sequence[str],
                       loader: Callable[[str], Any] | None = None,
                       tracking_uri: str | None = None) -> tuple[Predictions, Any]:
    """Predict with `training.predict.load_predictor(model)` (or `loader`); returns Predictions and the predictor.

    The predictor has `.labels` and `.predict_proba(rows) -> array (n, len(labels))`.
    """
    if loader is None:
        try:
            from training.predict import load_predictor
        except ImportError as e:
            raise InputError("--model", f"the training package cannot load models here ({e})") from None

        def loader(uri: str) -> Any:
            return load_predictor(uri, tracking_uri)
    predictor = loader(model)
    labels = [str(x) for x in predictor.labels]
    unknown = [x for x in labels if x not in names]
    if unknown:  # checked before predicting, which can take a while
        raise InputError(model, f"model label {unknown[0]!r} is not in the codebook {list(names)}")
    raw = np.asarray(predictor.predict_proba(rows), dtype=float)
    if raw.shape != (len(rows), len(labels)):
        raise InputError(model, f"predictor returned shape {raw.shape}, expected ({len(rows)}, {len(labels)})")
    probs = np.zeros((len(rows), len(names)))
    for j, label in enumerate(labels):
        probs[:, list(names).index(label)] = raw[:, j]
    pred = [names[int(k)] for k in probs.argmax(axis=1)]
    return Predictions([str(r["id"]) for r in rows], pred, probs), predictor


def align(rows: list[dict[str, Any]], preds: Predictions, source: str) -> Predictions:
    """Predictions reordered to `rows`; every row needs one (extra predictions are ignored, with a log line)."""
    index = preds.index()
    missing = [r["id"] for r in rows if r["id"] not in index]
    if missing:
        raise InputError(source, f"no prediction for {len(missing)} of {len(rows)} statements "
                                 f"(first: id {missing[0]!r})")
    order = [index[r["id"]] for r in rows]
    if len(index) > len(rows):
        log.info("%s: %d predictions for statements outside this split ignored", source, len(index) - len(rows))
    return Predictions(
        [preds.ids[k] for k in order], [preds.labels[k] for k in order],
        preds.probs[order] if preds.probs is not None else None,
        [preds.gold[k] for k in order] if preds.gold is not None else None,
        [preds.article_ids[k] for k in order] if preds.article_ids is not None else None,
    )
