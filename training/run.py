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


def _fit_sklearn(config: TrainConfig, data: StatementData, names: list[str], out: Path, sink: Any,
                 progress: bool) -> tuple[np.ndarray, Any, Path, dict[str, Any]]:
    from training import tracking
    from training.reports import scores
    from training.sklearn_models import fit_majority, fit_tfidf_logreg

    tr, va = config.data.train_split, config.data.validation_split
    train_rows, val_rows = data.splits[tr].to_list(), data.splits[va].to_list()
    y_train, y_val = data.labels[tr], data.labels[va]
    if config.kind == "majority":
        fit = fit_majority(train_rows, y_train, names)
    else:
        fit = fit_tfidf_logreg(train_rows, y_train, val_rows, y_val, names, config.sklearn, config.seed,
                               lambda t, p: scores(t, p, names)["macro_f1"], progress=progress)
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
    model_dir = out / "model"
    shutil.rmtree(model_dir, ignore_errors=True)
    tracking.save_sklearn_model(fit.model, model_dir)
    return p_val, fit.model, model_dir, {f"selected.{k}": v for k, v in fit.chosen.items()}


def train(config: TrainConfig, config_file: Path, *, dataset: str | None = None, tracking_uri: str | None = None,
          experiment: str | None = None, resume: bool = False, progress: bool = True) -> RunSummary:
    """Train `config` on DATASET's train split, select on validation, track one MLflow run and register the model.

    Everything that can be checked (tracking store, output folder state, dataset, codebook labels, model path)
    is checked before training starts. Under torchrun only rank 0 talks to MLflow.
    """
    from corpus.codebook import load_codebook
    from training import tracking
    from training.reports import scores
    from training.transformer import fit_transformer, is_main_process, resolve_model

    started = time.perf_counter()
    names = load_codebook().stance_names
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
                           {tr: config.data.max_train_samples, va: config.data.max_validation_samples})
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
            fit = fit_transformer(config, data.splits[tr], data.labels[tr], data.splits[va], y_val, names, out,
                                  lambda t, p: scores(t, p, names)["macro_f1"], sink=sink if main else None,
                                  resume_from=checkpoint, progress=progress)
            proba, model_dir = fit.val_proba, fit.model_dir
            speed, best_epoch = fit.samples_per_second, fit.best_epoch
        else:
            proba, sk_model, model_dir, chosen = _fit_sklearn(config, data, names, out, sink if main else None,
                                                              progress)
        predicted = [names[i] for i in proba.argmax(axis=1)]
        metrics = {f"validation_{k}": v for k, v in scores(y_val, predicted, names).items()}
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
            reg = tracking.register(model_uri, config.tracking.registered_model, metrics["validation_macro_f1"], run_id,
                                    {"dataset_digest": data.digest, "config": config.name})
            summary.registered, summary.version = reg.name, reg.version
            summary.champion, summary.previous_champion_score = reg.promoted, reg.previous_score
            tracking.set_tags({"newsstance.registered_version": reg.version,
                               "newsstance.champion": str(reg.promoted).lower()})
        _write_state(out, {**base, "status": "finished", "history": history, "model_uri": model_uri})
    summary.seconds = time.perf_counter() - started
    return summary
