"""Load a trained stance model (local folder or MLflow URI) and predict class probabilities for statement rows.

`load_predictor(uri_or_path).predict_proba(rows)` is the API evaluation and annotation call; `predict_input`
backs `python -m training predict`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from corpus.errors import InputError
from training.paths import resolve_path

log = logging.getLogger(__name__)

MLFLOW_SCHEMES = ("models:/", "runs:/", "mlflow-artifacts:/")


class Predictor(Protocol):
    """Class probabilities over `labels` (codebook order) for statement rows. A detector's labels end with its
    `none_label` and it carries the P(statement) `threshold` chosen on validation (both None for a stance model);
    `training.detection.decide` turns its probabilities into statements. A stance model may pool the rows of one
    call that share article, actor and target (`training.consistency`, weight saved with the model), so pass an
    article's rows together."""

    labels: list[str]
    none_label: str | None
    threshold: float | None

    def predict_proba(self, rows: Any) -> np.ndarray: ...


def _records(rows: Any) -> list[dict[str, Any]]:
    if hasattr(rows, "to_list"):  # datasets.Dataset
        return rows.to_list()
    if hasattr(rows, "to_dict"):  # pandas.DataFrame
        return rows.to_dict("records")
    return list(rows)


class SklearnPredictor:
    """A StatementClassifier (majority, tfidf_logreg)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.labels: list[str] = list(model.labels)
        self.none_label: str | None = getattr(model, "none_label", None)
        self.threshold: float | None = getattr(model, "threshold", None)

    def predict_proba(self, rows: Any) -> np.ndarray:
        records = _records(rows)
        if not records:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.model.predict_proba(records), dtype=float)


class TransformerPredictor:
    """A saved fine-tuned folder (config.json + tokenizer + newsstance.json)."""

    def __init__(self, folder: str | Path, batch_size: int = 64, progress: bool = False) -> None:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from training.transformer import META_FILE

        folder = Path(folder)
        meta_file = folder / META_FILE
        try:
            self.meta = json.loads(meta_file.read_text(encoding="utf-8"))
            self.tokenizer = AutoTokenizer.from_pretrained(str(folder))
            if self.meta.get("pooling", "cls") == "markers":
                from training.pooling import MarkerPooledClassifier, marker_ids
                from training.transformer import OPENING_MARKERS

                self.model = MarkerPooledClassifier.load(folder, marker_ids(self.tokenizer, OPENING_MARKERS)).eval()
            else:
                self.model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
        except (OSError, ValueError) as e:
            raise InputError(folder, f"cannot load the model ({str(e).splitlines()[0]})") from None
        id2label = self.model.config.id2label
        self.labels = [id2label[i] for i in range(len(id2label))]
        self.none_label = self.meta.get("none_label")
        self.threshold = self.meta.get("threshold")
        self.temperature = float(self.meta.get("temperature", 1.0))
        self.pool_weight = float(self.meta.get("pool_weight") or 0.0)
        self.batch_size = batch_size
        self.progress = progress

    def predict_proba(self, rows: Any) -> np.ndarray:
        from training.transformer import encode, predict_encoded

        records = _records(rows)
        if not records:
            return np.zeros((0, len(self.labels)))
        ds = encode(self.tokenizer, records, self.meta["input_form"], int(self.meta["max_length"]),
                    locate_unplaced=bool(self.meta.get("locate_unplaced", False)),
                    context_sentences=int(self.meta.get("context_sentences", 0)),
                    context_title=bool(self.meta.get("context_title", False)))
        from training.calibration import apply_temperature
        from training.consistency import apply_pooling

        proba = apply_temperature(predict_encoded(self.model, self.tokenizer, ds, self.batch_size, self.progress),
                                  self.temperature)
        return apply_pooling(proba, records, self.pool_weight, self.labels, self.none_label, self.threshold)


def load_folder(folder: Path) -> Predictor:
    """The Predictor of a local model folder: an ensemble, a fine-tuned transformer, or an MLflow model folder
    (sklearn flavour, or a pyfunc whose artifact is one of the first two)."""
    from training.ensemble import META_FILE as ENSEMBLE_FILE
    from training.ensemble import EnsemblePredictor
    from training.transformer import META_FILE

    if (folder / ENSEMBLE_FILE).is_file():
        return EnsemblePredictor(folder)
    if (folder / META_FILE).is_file():
        return TransformerPredictor(folder)
    mlmodel = folder / "MLmodel"
    if mlmodel.is_file():
        from corpus.yamlio import read_yaml

        flavors = (read_yaml(mlmodel) or {}).get("flavors", {})
        if "sklearn" in flavors:
            from training import tracking

            return SklearnPredictor(tracking.load_sklearn(folder))
        for meta in (ENSEMBLE_FILE, META_FILE):
            for candidate in sorted((folder / "artifacts").glob("*/" + meta)):
                return load_folder(candidate.parent)
        raise InputError(folder, f"MLflow model of flavour {sorted(flavors)} is not a newsstance stance model")
    raise InputError(folder, f"not a model folder (no {META_FILE} or MLmodel)")


def load_predictor(uri_or_path: str, tracking_uri: str | None = None) -> Predictor:
    """A Predictor from a local model folder or an MLflow URI (models:/name@champion, models:/m-..., runs:/)."""
    if uri_or_path.startswith(MLFLOW_SCHEMES):
        from training import tracking

        return load_folder(tracking.download_model(uri_or_path, tracking_uri))
    folder = resolve_path(uri_or_path)
    if not folder.exists():
        raise InputError(uri_or_path, "model path not found")
    return load_folder(folder)


def input_rows(spec: str, codebook_names: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], list[str] | None]:
    """Rows to predict from `DATASET:split` or a .jsonl/.csv file; gold stance names when the input has them."""
    from training.data import load_statements, rows_from_file, split_spec

    dataset_split = split_spec(spec)
    if dataset_split is not None:
        dataset, split = dataset_split
        from corpus.codebook import load_codebook

        names = list(codebook_names or load_codebook().stance_names)
        from training.context import article_texts, attach

        data = load_statements(dataset, [split], names)
        return attach(data.splits[split].to_list(), article_texts(dataset)), data.labels[split]
    rows = rows_from_file(spec)
    gold = [str(r["stance"]) for r in rows] if all(r.get("stance") not in (None, "") for r in rows) else None
    return rows, gold


def predict_input(model: str, spec: str, out: str | Path, tracking_uri: str | None = None) -> dict[str, Any]:
    """Predict every row of `spec` with `model`; write .jsonl/.csv/.parquet to `out` atomically; return a summary."""
    from corpus.errors import atomic_path
    from training.reports import predictions_frame, scores

    out = Path(out)
    if out.suffix not in (".jsonl", ".csv", ".parquet"):
        raise InputError(out, "output must end in .jsonl, .csv or .parquet")
    rows, gold = input_rows(spec)
    predictor = load_predictor(model, tracking_uri)
    if isinstance(predictor, TransformerPredictor):
        predictor.progress = True
    proba = predictor.predict_proba(rows)
    frame = predictions_frame(rows, proba, predictor.labels, gold)
    with atomic_path(out) as tmp:
        if out.suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif out.suffix == ".csv":
            from corpus.csvsafe import safe_frame

            safe_frame(frame).to_csv(tmp, index=False)  # no cell a spreadsheet would run as a formula
        else:
            frame.to_parquet(tmp, index=False)
    summary: dict[str, Any] = {"rows": len(rows), "out": str(out), "labels": predictor.labels}
    if gold is not None and set(gold) <= set(predictor.labels):
        summary.update(scores(gold, list(frame["predicted"]), predictor.labels))
    return summary
