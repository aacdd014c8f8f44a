"""One training run end to end: check, load, fit, score on validation, track, register. Returns a summary."""

from __future__ import annotations

import contextlib
import json
import logging
import os
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
from training.lineage import Lineage, dataset_lineage
from training.paths import resolve_path, var_dir

log = logging.getLogger(__name__)

STATE_FILE = "run.json"  # in a run's folder: the MLflow run a --resume continues
LATEST = "latest"  # in a config's runs folder: a link to the most recently started run's folder


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
    """The config's runs folder (default var/runs/<name>): one sub-folder per run (its MLflow run id) holding
    checkpoints/, model/ and run.json, and `latest`, a link to the most recently started run."""
    return resolve_path(config.output_dir) if config.output_dir else var_dir() / "runs" / config.name


def run_folders(root: Path) -> list[Path]:
    """The run folders under a config's runs folder (and the folder itself where an older layout left run.json
    there), newest run.json first."""
    found = [p.parent for p in root.glob(f"*/{STATE_FILE}") if p.parent.name != LATEST and not p.parent.is_symlink()]
    if (root / STATE_FILE).is_file():
        found.append(root)
    return sorted(found, key=lambda p: (p / STATE_FILE).stat().st_mtime, reverse=True)


def _load_state(file: Path) -> dict[str, Any]:
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except ValueError:
        raise InputError(file, "not valid JSON") from None
    if not isinstance(state, dict) or not state.get("run_id"):
        raise InputError(file, "no run_id recorded: cannot resume into the same run")
    return state


def read_state(out: Path) -> dict[str, Any]:
    """The state of the run in `out` (a run folder); InputError when there is none."""
    file = out / STATE_FILE
    if not file.is_file():
        raise InputError(out, f"nothing to resume: no {STATE_FILE} (start without --resume)")
    return _load_state(file)


def find_resumable(root: Path, fingerprint: str) -> tuple[Path, dict[str, Any]]:
    """The newest unfinished run under `root` (a config's runs folder) made with the same config (`fingerprint`);
    InputError naming why there is none."""
    folders = run_folders(root)
    if not folders:
        raise InputError(root, f"nothing to resume: no run folder with {STATE_FILE} (start without --resume)")
    unfinished = [(f, s) for f in folders if (s := _load_state(f / STATE_FILE)).get("status") != "finished"]
    for folder, state in unfinished:
        if state.get("fingerprint") == fingerprint:
            return folder, state
    if unfinished:
        folder, state = unfinished[0]
        raise InputError(folder / STATE_FILE, f"the config differs from the interrupted run {state['run_id']}'s; "
                                              "resume with the same --config and --set values")
    newest = _load_state(folders[0] / STATE_FILE)
    raise InputError(folders[0] / STATE_FILE, f"run {newest['run_id']} already finished; nothing to resume")


def _alive(state: dict[str, Any]) -> bool:
    """Whether the process that wrote `state` still runs (on this host; another host's run counts as alive)."""
    import socket

    pid, host = state.get("pid"), state.get("host")
    if not isinstance(pid, int) or host is None:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_stale_runs(root: Path, config_name: str, keep: str | None = None) -> list[str]:
    """Runs under `root` left RUNNING by a process that is gone (kill -9, power loss): end them FAILED in MLflow
    with a note that `--resume` continues them. Returns one message per run marked (also logged)."""
    from training import tracking

    notes = []
    for folder in run_folders(root):
        try:
            state = _load_state(folder / STATE_FILE)
        except InputError:
            continue
        if state["run_id"] == keep or state.get("status") not in ("running", "logged") or _alive(state):
            continue
        again = f"`python -m training train --config {config_name} ... --resume` (its --dataset and --set values)"
        hint = (f"its model is logged but not registered: {again} registers it" if state.get("status") == "logged"
                else f"{again} continues it from its last checkpoint")
        note = f"run {state['run_id']} ({folder}) was left RUNNING by a process that is gone; marked FAILED; {hint}"
        if tracking.mark_failed(state["run_id"], note):
            log.warning("%s", note)
            notes.append(note)
        mtime = (folder / STATE_FILE).stat().st_mtime  # kept: the newest unfinished run stays the one resumed
        _write_state(folder, {**state, "status": "interrupted" if state.get("status") == "running" else "logged",
                              "note": note})
        os.utime(folder / STATE_FILE, (mtime, mtime))
    return notes


def _point_latest(root: Path, folder: Path) -> None:
    """`root/latest` -> `folder` (a relative link, replaced atomically)."""
    link = root / LATEST
    tmp = root / f".{LATEST}-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    tmp.symlink_to(folder.name if folder.parent == root else folder, target_is_directory=True)
    os.replace(tmp, link)


def _handoff(root: Path) -> Path:
    """Under torchrun, where rank 0 tells the other ranks its run folder (one file per launch)."""
    return root / f".launch-{os.getppid()}-{os.environ.get('TORCHELASTIC_RUN_ID', 'none')}.json"


def _wait_for_folder(root: Path, timeout: float = 900) -> Path:
    """A non-zero rank: the run folder rank 0 created for this launch."""
    deadline = time.monotonic() + timeout
    file = _handoff(root)
    while not file.is_file():
        if time.monotonic() > deadline:
            raise InputError(root, f"rank 0 named no run folder within {timeout:.0f} s ({file.name})")
        time.sleep(0.2)
    return Path(json.loads(file.read_text(encoding="utf-8"))["folder"])


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
              none_label: str | None, val_rows: Any) -> tuple[np.ndarray, dict[str, Any], dict[str, float]]:
    """After selection, on validation: the pair-pooling weight (stance models, when `data.pool_pairs`), the
    temperature (when `data.calibrate`) and, for a detector, the P(statement) threshold with the best statement
    F1. Returns the final probabilities, what the model keeps (pool_weight, temperature, none_label, threshold)
    and the metrics to log (macro-F1 before pooling, ECE before/after, statement P/R/F1)."""
    from training.calibration import apply_temperature, expected_calibration_error, fit_temperature
    from training.detection import choose_threshold
    from training.reports import scores

    gold = [names.index(g) for g in y_val]
    keep: dict[str, Any] = {"pool_weight": 0.0, "temperature": 1.0, "none_label": none_label, "threshold": None}
    metrics: dict[str, float] = {}
    if config.data.pool_pairs and none_label is None:
        from training.consistency import fit_weight, pair_keys, pool

        keys = pair_keys(val_rows)
        keep["pool_weight"], tried = fit_weight(
            proba, keys, lambda p: scores(y_val, [names[i] for i in p.argmax(axis=1)], names)["macro_f1"])
        metrics["validation_macro_f1_unpooled"] = tried[0.0]
        metrics["pool_weight"] = keep["pool_weight"]
        proba = pool(proba, keys, keep["pool_weight"])
        log.info("pair pooling on validation: %s -> weight %s",
                 ", ".join(f"{w:g} {f:.4f}" for w, f in tried.items()), keep["pool_weight"])
    metrics["validation_ece_before"] = expected_calibration_error(proba, gold)
    if config.data.calibrate:
        keep["temperature"] = fit_temperature(proba, gold)
        proba = apply_temperature(proba, keep["temperature"])
    metrics["validation_ece"] = expected_calibration_error(proba, gold)
    metrics["temperature"] = keep["temperature"]
    if none_label is not None:
        keep["threshold"], prf = choose_threshold(proba, names, y_val, none_label)
        if config.data.pool_pairs:
            proba, prf = _pool_detector(proba, names, y_val, none_label, keep, metrics, prf, val_rows)
        metrics.update({"detection_threshold": keep["threshold"],
                        **{f"validation_statement_{k}": v for k, v in prf.items()}})
    return proba, keep, metrics


def _pool_detector(proba: np.ndarray, names: list[str], y_val: list[str], none_label: str, keep: dict[str, Any],
                   metrics: dict[str, float], prf: dict[str, float],
                   val_rows: Any) -> tuple[np.ndarray, dict[str, float]]:
    """A detector's pooling weight (its stance among the rows detected as statements), on validation statement F1
    at its threshold (which pooling does not move); the pooled probabilities and their statement P/R/F1."""
    from training.consistency import fit_weight, pair_keys, pool_detected
    from training.detection import decide, statement_prf

    keys, none_index, cut = pair_keys(val_rows), names.index(none_label), keep["threshold"]

    def pooled(weight: float) -> np.ndarray:
        return pool_detected(proba, keys, weight, none_index, cut)

    def f1(p: np.ndarray) -> float:
        return statement_prf(y_val, [d.label for d in decide(p, names, none_label, cut)], none_label)["f1"]

    keep["pool_weight"], tried = fit_weight(proba, keys, f1, pooled=pooled)
    metrics.update({"validation_statement_f1_unpooled": prf["f1"], "pool_weight": keep["pool_weight"]})
    log.info("pair pooling of the detected statements' stance on validation: %s -> weight %s",
             ", ".join(f"{w:g} {f:.4f}" for w, f in tried.items()), keep["pool_weight"])
    proba = pooled(keep["pool_weight"])
    return proba, statement_prf(y_val, [d.label for d in decide(proba, names, none_label, cut)], none_label)


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
    root = output_dir(config)
    state: dict[str, Any] = {}
    out: Path | None = None
    if resume:
        out, state = find_resumable(root, config.fingerprint())
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
    lineage = dataset_lineage(data.path)
    notes: list[str] = []
    if main:
        tracking.configure(uri)
        notes = mark_stale_runs(root, config.name, keep=state.get("run_id"))
    if resume and state.get("status") == "logged":  # killed after the run ended, before the registry: register
        assert out is not None
        if main:
            tracking.end_finished(state["run_id"])
        return _register(config, state, out, lineage, none_label, started, notes, resumed=True, main=main)
    checkpoint = _last_checkpoint(out / "checkpoints") if out is not None else None

    run_name = f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    context = tracking.start_run(uri, exp, run_name, run_id=state.get("run_id")) if main \
        else contextlib.nullcontext(None)
    y_val = data.labels[va]
    history: list[dict[str, float]] = list(state.get("history", [])) if resume else []
    with context as run_id:
        if out is None and main:  # a new run: its own folder, named by its MLflow run id, never reused
            out = root / str(run_id)
            out.mkdir(parents=True, exist_ok=True)
            _point_latest(root, out)
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                write_text_atomic(_handoff(root), json.dumps({"folder": str(out)}))
        elif out is None:
            out = _wait_for_folder(root)
        base = {"run_id": run_id, "experiment": exp, "tracking_uri": tracking.redact(uri),
                "fingerprint": config.fingerprint(), "config": config.name, "pid": os.getpid(),
                "host": _host(), "registered_model": config.tracking.registered_model,
                "registry": config.tracking.registry, "lineage": lineage.to_dict(), "resumed": resume}
        if main:
            _write_state(out, {**base, "status": "running", "history": history})
            if not resume:
                _log_start(config, config_file, data, {
                    "dataset.path": str(data.path), "dataset.digest": data.digest,
                    "dataset.train_rows": len(data.splits[tr]), "dataset.validation_rows": len(data.splits[va]),
                    "labels": ",".join(names)})
                tracking.set_tags(lineage.tags())

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
        proba, keep, extra_metrics = _finalise(config, proba, names, y_val, none_label, data.splits[va]) if main \
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
        # the model is logged; the registry waits until the run has ended FINISHED (a kill from here on leaves
        # a finished run and no version; --resume then only registers)
        state = {**base, "status": "logged", "history": history, "model_uri": model_uri,
                 "summary": _summary_state(summary)}
        _write_state(out, state)
    _prune_checkpoints(out / "checkpoints")
    return _register(config, state, out, lineage, none_label, started, notes)


def _prune_checkpoints(folder: Path) -> None:
    """After the model is logged nothing resumes from the checkpoints: drop their weights and optimizer state
    (hundreds of MB a run, and every run keeps its folder), keep each trainer_state.json (the run's history)."""
    if not folder.is_dir():
        return
    for path in folder.glob("checkpoint-*/*"):
        if path.name == "trainer_state.json":
            continue
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def _host() -> str:
    import socket

    return socket.gethostname()


def _summary_state(s: RunSummary) -> dict[str, Any]:
    """What run.json keeps of a summary, so a resume that only registers can print it."""
    return {"kind": s.kind, "input_form": s.input_form, "dataset": s.dataset, "digest": s.digest,
            "train_rows": s.train_rows, "validation_rows": s.validation_rows, "metrics": s.metrics,
            "model_dir": str(s.model_dir), "samples_per_second": s.samples_per_second, "best_epoch": s.best_epoch,
            "extra": s.extra}


def _register(config: TrainConfig, state: dict[str, Any], out: Path, lineage: Lineage, none_label: str | None,
              started: float, notes: list[str], resumed: bool = False, main: bool = True) -> RunSummary:
    """After the run ended FINISHED: register its model (once), move its dataset lineage's champion when it is
    better, record the outcome on the run and in run.json."""
    from training import tracking

    s = state["summary"]
    summary = RunSummary(state["run_id"], state["experiment"], state["tracking_uri"], config.name, s["kind"],
                         s["input_form"], s["dataset"], s["digest"], s["train_rows"], s["validation_rows"],
                         s["metrics"], state.get("history", []), Path(s["model_dir"]),
                         samples_per_second=s["samples_per_second"], best_epoch=s["best_epoch"],
                         resumed=bool(state.get("resumed")) or resumed, extra=dict(s["extra"]))
    summary.extra["lineage"] = lineage
    summary.extra["notes"] = notes
    if not main:  # other ranks under torchrun: rank 0 alone talks to MLflow and writes run.json
        return summary
    if config.tracking.registry:
        # a detector competes on statement F1 (its threshold's), a stance model on macro-F1
        selection = summary.metrics["validation_statement_f1" if none_label else "validation_macro_f1"]
        reg = tracking.register(state["model_uri"], config.tracking.registered_model, selection, state["run_id"],
                                {**lineage.tags(), "dataset_digest": summary.digest, "config": config.name},
                                alias=lineage.alias)
        summary.registered, summary.version = reg.name, reg.version
        summary.champion, summary.previous_champion_score = reg.promoted, reg.previous_score
        summary.extra["champion_uri"] = f"models:/{reg.name}@{reg.alias}"
        tracking.set_run_tags(state["run_id"], {"newsstance.registered_version": reg.version,
                                                "newsstance.champion": str(reg.promoted).lower()})
    _write_state(out, {**state, "status": "finished"})
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        _handoff(out.parent).unlink(missing_ok=True)
    summary.seconds = time.perf_counter() - started
    return summary
