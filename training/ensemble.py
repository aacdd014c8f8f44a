"""Ensembles: trained stance models of one codebook averaged into one model (`python -m training ensemble`).

Seeds of one config disagree on many SEESAW statements (three MiniLM seeds spread 0.02 in validation macro-F1);
the mean of their probabilities is steadier than any one of them. An ensemble is a model folder like any other:
`newsstance-ensemble.json` (members, labels, temperature) and `members/0..n-1`, each member's own saved folder
(copied, so the ensemble stands alone). `training.predict.load_predictor` loads it, so `predict`, `evaluate`,
`extract` and `prelabel` take it as they take one model. Each member predicts with its own inputs, pooling and
temperature; the mean is then recalibrated with a temperature fitted on validation.

Building one is an MLflow run (members as params, each member's and the ensemble's validation macro-F1 as
metrics, the model logged and registered in the dataset lineage's registry like a trained model). Members must
be stance models (not detectors) with the same labels; where a member records the dataset it was trained on,
it must be this dataset's lineage.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import InputError

log = logging.getLogger(__name__)

META_FILE = "newsstance-ensemble.json"


class EnsemblePredictor:
    """The mean of its members' probabilities (each mapped to the ensemble's labels), then its temperature."""

    def __init__(self, folder: str | Path) -> None:
        from training.predict import load_predictor

        folder = Path(folder)
        try:
            self.meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
            members = [str(m) for m in self.meta["members"]]
            self.labels: list[str] = [str(x) for x in self.meta["labels"]]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(folder / META_FILE, f"not a readable ensemble ({type(e).__name__}: {e})") from None
        if not members:
            raise InputError(folder / META_FILE, "the ensemble lists no members")
        for m in members:  # members live inside the folder: an untrusted file must not point elsewhere
            if Path(m).is_absolute() or ".." in Path(m).parts:
                raise InputError(folder / META_FILE, f"member path {m!r} leaves the ensemble folder")
        self.members = [load_predictor(str(folder / m)) for m in members]
        self.none_label: str | None = None
        self.threshold: float | None = None
        self.temperature = float(self.meta.get("temperature", 1.0))

    def predict_proba(self, rows: Any) -> np.ndarray:
        from training.calibration import apply_temperature

        return apply_temperature(mean_proba(self.members, self.labels, rows), self.temperature)


def mean_proba(members: Sequence[Any], labels: Sequence[str], rows: Any) -> np.ndarray:
    """The members' probabilities for `rows`, each in `labels` order, averaged."""
    from training.predict import _records

    rows = _records(rows)  # a DataFrame (the MLflow pyfunc's input) or a Dataset as row dicts, never its columns
    total = np.zeros((len(rows), len(labels)))
    for member in members:
        proba = np.asarray(member.predict_proba(rows), dtype=float)
        for j, name in enumerate(member.labels):
            total[:, list(labels).index(name)] += proba[:, j]
    return total / len(members)


@dataclass
class EnsembleSummary:
    run_id: str
    model_dir: Path
    metrics: dict[str, float]
    members: list[str]
    model_uri: str | None = None
    registered: str | None = None
    version: str | None = None
    champion: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def _member_digest(ref: str, tracking_uri: str | None) -> str | None:
    """The digest of the dataset a member was trained on, where it records one (run.json beside a local model
    folder, or the MLflow run behind a URI)."""
    from training import tracking
    from training.predict import MLFLOW_SCHEMES

    if ref.startswith(MLFLOW_SCHEMES):
        tracking.configure(tracking.resolve_tracking_uri(tracking_uri))
        return tracking.version_tags(ref).get("newsstance.dataset_digest")
    state = Path(ref).resolve().parent / "run.json"
    try:
        return json.loads(state.read_text(encoding="utf-8")).get("lineage", {}).get("digest")
    except (OSError, ValueError, AttributeError):
        return None


def _copy_member(ref: str, target: Path, tracking_uri: str | None) -> None:
    from training import tracking
    from training.paths import resolve_path
    from training.predict import MLFLOW_SCHEMES

    source = tracking.download_model(ref, tracking_uri) if ref.startswith(MLFLOW_SCHEMES) else resolve_path(ref)
    if not source.is_dir():
        raise InputError(ref, "model folder not found")
    shutil.copytree(source, target, symlinks=False)


def build_ensemble(models: Sequence[str], dataset: str | Path, out: str | Path, *, tracking_uri: str | None = None,
                   experiment: str = "newsstance-stance", registered_model: str = "newsstance-stance",
                   register: bool = True, calibrate: bool = True, progress: bool = True) -> EnsembleSummary:
    """Check the members, score each and their mean on DATASET's validation split, fit the temperature, write the
    ensemble folder to OUT, and track it as one MLflow run (registered unless `register` is false)."""
    from corpus.codebook import load_codebook
    from training import tracking
    from training.calibration import apply_temperature, expected_calibration_error, fit_temperature
    from training.context import article_texts, attach
    from training.data import load_statements
    from training.lineage import dataset_lineage
    from training.predict import load_predictor
    from training.reports import scores

    started = time.perf_counter()
    if len(models) < 2:
        raise InputError("--model", f"an ensemble needs at least two members, got {len(models)}")
    if len(set(models)) < len(models):
        raise InputError("--model", "a member is given twice")
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise InputError(out, "the output folder exists and is not empty (choose another --out)")
    names = load_codebook().stance_names
    uri = tracking.resolve_tracking_uri(tracking_uri)
    tracking.check_reachable(uri)
    data = load_statements(dataset, ["validation"], names)
    lineage = dataset_lineage(data.path)
    rows = attach(data.splits["validation"].to_list(), article_texts(dataset))
    gold = data.labels["validation"]
    members, per_member = [], {}
    for i, ref in enumerate(models):
        digest = _member_digest(ref, tracking_uri)
        if digest and data.digest and digest != data.digest:
            raise InputError(ref, f"trained on dataset {digest[:19]}, not {data.digest[:19]} ({data.path}): "
                                  "members must be trained on the dataset the ensemble is built on")
        member = load_predictor(ref, tracking_uri)
        if getattr(member, "none_label", None) is not None:
            raise InputError(ref, "a detector (it has a none label): ensembles are of stance models")
        unknown = [x for x in member.labels if x not in names]
        if unknown:
            raise InputError(ref, f"label {unknown[0]!r} is not in the codebook {names}")
        if progress:
            print(f"  member {i + 1}/{len(models)}: predicting {len(rows)} validation rows ({ref})", flush=True)
        proba = mean_proba([member], names, rows)
        per_member[f"member{i}_validation_macro_f1"] = scores(gold, [names[k] for k in proba.argmax(axis=1)],
                                                              names)["macro_f1"]
        members.append((ref, member, proba))
    mean = sum(p for _, _, p in members) / len(members)
    index = [names.index(g) for g in gold]
    temperature = fit_temperature(mean, index) if calibrate else 1.0
    calibrated = apply_temperature(mean, temperature)
    predicted = [names[k] for k in calibrated.argmax(axis=1)]
    metrics = {**per_member, **{f"validation_{k}": v for k, v in scores(gold, predicted, names).items()},
               "validation_ece_before": expected_calibration_error(mean, index),
               "validation_ece": expected_calibration_error(calibrated, index), "temperature": temperature,
               "members": float(len(members))}
    out.mkdir(parents=True, exist_ok=True)
    for i, (ref, _, _) in enumerate(members):
        _copy_member(ref, out / "members" / str(i), tracking_uri)
    (out / META_FILE).write_text(json.dumps({
        "members": [f"members/{i}" for i in range(len(members))], "sources": list(models), "labels": names,
        "temperature": temperature, "dataset_digest": data.digest}, indent=2), encoding="utf-8")
    EnsemblePredictor(out)  # the folder loads as written
    with tracking.start_run(uri, experiment, f"ensemble-{time.strftime('%Y%m%d-%H%M%S')}") as run_id:
        tracking.log_params({"kind": "ensemble", "members": len(members), "dataset.path": str(data.path),
                             "dataset.digest": data.digest,
                             **{f"member{i}": ref for i, (ref, _, _) in enumerate(members)}})
        tracking.set_tags({"newsstance.config": "ensemble", "newsstance.kind": "ensemble",
                           "newsstance.dataset_digest": data.digest, **lineage.tags()})
        tracking.log_metrics(metrics)
        model_uri = tracking.log_transformer_model(out, names)
    summary = EnsembleSummary(run_id, out, metrics, list(models), model_uri)
    if register:
        reg = tracking.register(model_uri, registered_model, metrics["validation_macro_f1"], run_id,
                                {**lineage.tags(), "dataset_digest": data.digest, "config": "ensemble"},
                                alias=lineage.alias)
        summary.registered, summary.version, summary.champion = reg.name, reg.version, reg.promoted
    summary.extra["seconds"] = time.perf_counter() - started
    return summary
