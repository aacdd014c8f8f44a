"""One training run end to end: check, load, fit, score on validation, track, register. Returns a summary."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from corpus.errors import InputError, write_text_atomic
from training.config import TrainConfig
from training.data import INPUT_COLUMNS, StatementData, load_statements
from training.paths import resolve_path, var_dir

log = logging.getLogger(__name__)

STATE_FILE = "run.json"  # in the output folder: the MLflow run a --resume continues


@dataclass
class RunSummary:
    """What a run produced, for the CLI's summary table and for callers."""

    run_id: str | None
    experiment: str
    tracking_uri: str
    config: str
    kind: str
    input_form: str
    dataset: str
    digest: str
    train_rows: int
    validation_rows: int
    metrics: dict[str, float]
    history: list[dict[str, float]]
    model_dir: Path
    registered: str | None = None
    version: str | None = None
    champion: bool = False
    previous_champion_score: float | None = None
    samples_per_second: float | None = None
    best_epoch: int | None = None
    resumed: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def output_dir(config: TrainConfig) -> Path:
    """Where checkpoints, the saved model and run.json go (default var/runs/<name>)."""
    return resolve_path(config.output_dir) if config.output_dir else var_dir() / "runs" / config.name


def read_state(out: Path) -> dict[str, Any]:
    """The interrupted run's state; InputError when there is nothing to resume."""
    file = out / STATE_FILE
    if not file.is_file():
        raise InputError(out, f"nothing to resume: no {STATE_FILE} (start without --resume)")
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(file, "not valid JSON") from None
    if not isinstance(state, dict) or not state.get("run_id"):
        raise InputError(file, "no run_id recorded: cannot resume into the same run")
    return state


def _write_state(out: Path, state: dict[str, Any]) -> None:
    write_text_atomic(out / STATE_FILE, json.dumps(state, indent=2))


def _last_checkpoint(folder: Path) -> str | None:
    if not folder.is_dir():
        return None
    found = [p for p in folder.glob("checkpoint-*") if p.is_dir() and (p / "trainer_state.json").is_file()]
    return str(max(found, key=lambda p: int(p.name.rsplit("-", 1)[-1]))) if found else None


def _log_start(config: TrainConfig, config_file: Path, data: StatementData, extra: dict[str, Any]) -> None:
    """Params (the resolved config), tags, the config files, and the splits as mlflow.data inputs."""
    import yaml

    from training import tracking

    tracking.log_params({**config.flat(), **extra})
    import os

    tracking.set_tags({"newsstance.config": config.name, "newsstance.kind": config.kind,
                       "newsstance.world_size": os.environ.get("WORLD_SIZE", "1"),
                       "newsstance.input_form": config.data.input_form,
                       "newsstance.dataset_digest": data.digest, "newsstance.dataset": str(data.path)})
    tracking.log_artifact(config_file, "config")
    tracking.log_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False), "config/resolved.yaml")
    for context, split in (("training", config.data.train_split), ("validation", config.data.validation_split)):
        frame = data.splits[split].to_pandas()
        keep = [c for c in frame.columns if c in (*INPUT_COLUMNS, "id", "article_id", "stance", "source")]
        tracking.log_dataset(frame[keep], name=f"statements/{split}", digest=data.digest, source=str(data.path),
                             context=context, targets="stance")


def _log_artifacts(data: StatementData, config: TrainConfig, proba: np.ndarray, names: list[str],
                   y_val: list[str]) -> None:
    from training import tracking
    from training.reports import classification_report, confusion_png, predictions_frame

    val_rows = data.splits[config.data.validation_split]
    predicted = [names[i] for i in proba.argmax(axis=1)]
    with tempfile.TemporaryDirectory(prefix="newsstance-artifacts-") as tmp:
        folder = Path(tmp)
        (folder / "classification_report.txt").write_text(classification_report(y_val, predicted, names),
                                                           encoding="utf-8")
        confusion_png(y_val, predicted, names, folder / "confusion_matrix.png",
                      f"{config.name}: {config.data.validation_split}")
        predictions_frame(val_rows, proba, names, y_val).to_parquet(folder / "validation_predictions.parquet",
                                                                    index=False)
        for name in ("classification_report.txt", "confusion_matrix.png", "validation_predictions.parquet"):
            tracking.log_artifact(folder / name, "evaluation")


def _train_rows(config: TrainConfig, data: StatementData) -> list[dict[str, Any]]:
    """The training split's rows, name-augmented per `data.augment_names` (validation never is)."""
    from training.augment import augment_rows

    d = config.data
    rows, changed = augment_rows(data.splits[d.train_split].to_list(), d.augment_names, d.augment_share,
                                 d.augment_sides, config.seed, d.locate_unplaced)
    if changed:
        log.info("augment_names=%s: %d of %d training rows renamed", d.augment_names, changed, len(rows))
    return rows


def _fit_sklearn(config: TrainConfig, data: StatementData, names: list[str], out: Path, sink: Any,
                 progress: bool) -> tuple[np.ndarray, Any, Path, dict[str, Any]]:
    from training import tracking
    from training.reports import scores
    from training.sklearn_models import fit_majority, fit_tfidf_logreg

    tr, va = config.data.train_split, config.data.validation_split
    train_rows, val_rows = _train_rows(config, data), data.splits[va].to_list()
    y_train, y_val = data.labels[tr], data.labels[va]
    if config.kind == "majority":
        fit = fit_majority(train_rows, y_train, names)
    else:
        fit = fit_tfidf_logreg(train_rows, y_train, val_rows, y_val, names, config.sklearn, config.seed,
                               lambda t, p: scores(t, p, names)["macro_f1"], progress=progress,
                               locate_unplaced=config.data.locate_unplaced)
    p_train, p_val = fit.model.predict_proba(train_rows), fit.model.predict_proba(val_rows)
    record: dict[str, float] = {}
    for split, proba, gold in (("train", p_train, y_train), ("validation", p_val, y_val)):
        predicted = [names[i] for i in proba.argmax(axis=1)]
        index = np.array([names.index(g) for g in gold])
        record[f"{split}_loss"] = float(-np.log(np.clip(proba[np.arange(len(index)), index], 1e-12, 1)).mean())
        record.update({f"{split}_{k}": v for k, v in scores(gold, predicted, names).items()})
    if sink is not None:
        for i, (c, value) in enumerate(fit.search):
            tracking.log_metrics({"search_validation_macro_f1": value, "search_C": c}, step=i)
        sink(record, 1)
    return p_val, fit.model, out / "model", {f"selected.{k}": v for k, v in fit.chosen.items()}


def _finalise(config: TrainConfig, proba: np.ndarray, names: list[str], y_val: list[str],
              none_label: str | None) -> tuple[np.ndarray, dict[str, Any], dict[str, float]]:
    """After selection, on validation: the temperature (when `data.calibrate`) and, for a detector, the
    P(statement) threshold with the best statement F1. Returns the calibrated probabilities, what the model
    keeps (temperature, none_label, threshold) and the metrics to log (ECE before/after, statement P/R/F1)."""
    from training.calibration import apply_temperature, expected_calibration_error, fit_temperature
    from training.detection import choose_threshold

    gold = [names.index(g) for g in y_val]
    keep: dict[str, Any] = {"temperature": 1.0, "none_label": none_label, "threshold": None}
    metrics = {"validation_ece_before": expected_calibration_error(proba, gold)}
    if config.data.calibrate:
        keep["temperature"] = fit_temperature(proba, gold)
        proba = apply_temperature(proba, keep["temperature"])
    metrics["validation_ece"] = expected_calibration_error(proba, gold)
    metrics["temperature"] = keep["temperature"]
    if none_label is not None:
        keep["threshold"], prf = choose_threshold(proba, names, y_val, none_label)
        metrics.update({"detection_threshold": keep["threshold"],
                        **{f"validation_statement_{k}": v for k, v in prf.items()}})
    return proba, keep, metrics


def train(config: TrainConfig, config_file: Path, *, dataset: str | None = None, tracking_uri: str | None = None,
          experiment: str | None = None, resume: bool = False, progress: bool = True) -> RunSummary:
    """Train `config` on DATASET's train split, select on validation, track one MLflow run and register the model.

    Everything that can be checked (tracking store, output folder state, dataset, codebook labels, model path)
    is checked before training starts. Under torchrun only rank 0 talks to MLflow.
    """
    from corpus.codebook import load_codebook
    from training import tracking
    from training.reports import scores
    from training.transformer import META_FILE, fit_transformer, is_main_process, resolve_model

    started = time.perf_counter()
    codebook = load_codebook()
    detector = config.data.config == "candidates"
    try:
        names = codebook.detection_names if detector else codebook.stance_names
    except ValueError as e:
        raise InputError(config.name, f"data.config=candidates: {e}") from None
    none_label = codebook.no_stance.id if detector and codebook.no_stance else None
    main = is_main_process()
    uri = tracking.resolve_tracking_uri(tracking_uri, config.tracking.uri)
    exp = experiment or config.tracking.experiment
    if main:
        tracking.check_reachable(uri)
    out = output_dir(config)
    state: dict[str, Any] = {}
    if resume:
        state = read_state(out)
        if state.get("status") == "finished":
            raise InputError(out / STATE_FILE, f"run {state['run_id']} already finished; nothing to resume")
        if state.get("fingerprint") != config.fingerprint():
            raise InputError(out / STATE_FILE, "the config differs from the interrupted run's; resume with the "
                                               "same --config and --set values")
    if config.kind == "transformer":
        assert config.transformer is not None
        resolve_model(config.transformer.model)  # a missing model fails here, before any work
    tr, va = config.data.train_split, config.data.validation_split
    data = load_statements(dataset or config.data.dataset, [tr, va], names,
                           {tr: config.data.max_train_samples, va: config.data.max_validation_samples},
                           config=config.data.config)
    if config.data.context_sentences or config.data.context_title:
        from training.data import with_context

        data = with_context(data, dataset or config.data.dataset)
    checkpoint = _last_checkpoint(out / "checkpoints") if resume else None
    if main and not resume:
        for stale in ("checkpoints", "model"):
            shutil.rmtree(out / stale, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)

    run_name = f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    context = tracking.start_run(uri, exp, run_name, run_id=state.get("run_id")) if main \
        else contextlib.nullcontext(None)
    y_val = data.labels[va]
    history: list[dict[str, float]] = list(state.get("history", [])) if resume else []
    with context as run_id:
        base = {"run_id": run_id, "experiment": exp, "tracking_uri": tracking.redact(uri),
                "fingerprint": config.fingerprint(), "config": config.name}
        if main:
            _write_state(out, {**base, "status": "running", "history": history})
            if not resume:
                _log_start(config, config_file, data, {
                    "dataset.path": str(data.path), "dataset.digest": data.digest,
                    "dataset.train_rows": len(data.splits[tr]), "dataset.validation_rows": len(data.splits[va]),
                    "labels": ",".join(names)})

        def sink(metrics: dict[str, float], epoch: int) -> None:
            """Rank 0: log an epoch's metrics and keep them in run.json, so a resumed run reports every epoch."""
            tracking.log_metrics(metrics, step=epoch)
            history[:] = [h for h in history if h.get("epoch") != epoch] + [{"epoch": epoch, **metrics}]
            _write_state(out, {**base, "status": "running", "history": history})

        speed = best_epoch = sk_model = None
        chosen: dict[str, Any] = {}
        if config.kind == "transformer":
            fit = fit_transformer(config, _train_rows(config, data), data.labels[tr], data.splits[va], y_val, names,
                                  out, lambda t, p: scores(t, p, names)["macro_f1"], sink=sink if main else None,
                                  resume_from=checkpoint, progress=progress)
            proba, model_dir = fit.val_proba, fit.model_dir
            speed, best_epoch = fit.samples_per_second, fit.best_epoch
        else:
            proba, sk_model, model_dir, chosen = _fit_sklearn(config, data, names, out, sink if main else None,
                                                              progress)
        proba, keep, extra_metrics = _finalise(config, proba, names, y_val, none_label) if main \
            else (proba, {}, {})
        if main and config.kind == "transformer":
            meta_file = model_dir / META_FILE
            meta = json.loads(meta_file.read_text(encoding="utf-8"))
            write_text_atomic(meta_file, json.dumps({**meta, **keep}, indent=2))
        elif main:
            for key, value in keep.items():
                setattr(sk_model, key, value)
            shutil.rmtree(model_dir, ignore_errors=True)
            tracking.save_sklearn_model(sk_model, model_dir)
        predicted = [names[i] for i in proba.argmax(axis=1)]
        metrics = {f"validation_{k}": v for k, v in scores(y_val, predicted, names).items()}
        metrics.update(extra_metrics)
        summary = RunSummary(run_id, exp, tracking.redact(uri), config.name, config.kind, config.data.input_form,
                             str(data.path), data.digest, len(data.splits[tr]), len(data.splits[va]), metrics,
                             history, model_dir, samples_per_second=speed, best_epoch=best_epoch,
                             resumed=resume, extra=chosen)
        if not main:
            return summary
        assert run_id is not None
        tracking.log_metrics({f"model_{k}": v for k, v in metrics.items()})
        if chosen:
            tracking.log_params(chosen)
        if speed:
            tracking.log_metrics({"train_samples_per_second": speed})
        if best_epoch is not None:
            tracking.log_metrics({"best_epoch": best_epoch})
        _log_artifacts(data, config, proba, names, y_val)
        if config.kind == "transformer":
            model_uri = tracking.log_transformer_model(model_dir, names)
        else:
            model_uri = tracking.log_sklearn_model(sk_model)
        summary.extra["model_uri"] = model_uri
        if config.tracking.registry:
            # a detector competes on statement F1 (its threshold's), a stance model on macro-F1
            selection = metrics["validation_statement_f1" if none_label else "validation_macro_f1"]
            reg = tracking.register(model_uri, config.tracking.registered_model, selection, run_id,
                                    {"dataset_digest": data.digest, "config": config.name})
            summary.registered, summary.version = reg.name, reg.version
            summary.champion, summary.previous_champion_score = reg.promoted, reg.previous_score
            tracking.set_tags({"newsstance.registered_version": reg.version,
                               "newsstance.champion": str(reg.promoted).lower()})
        _write_state(out, {**base, "status": "finished", "history": history, "model_uri": model_uri})
    summary.seconds = time.perf_counter() - started
    return summary
