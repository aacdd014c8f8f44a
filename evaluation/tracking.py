"""MLflow for evaluation: the tracking URI, evaluation and network runs, and finding runs' predictions.

URIs, experiments, runs and logging go through `training.tracking` (the project's one MLflow module);
what it does not offer (searching runs, reading runs' artifacts, model lineage) is here, on mlflow
directly. `import mlflow` happens inside the functions (it costs about two seconds).
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

from corpus.errors import InputError

log = logging.getLogger(__name__)
RUN_TYPE = "newsstance.run_type"
SOURCE_RUN = "newsstance.source_run_id"
DEFAULT_EXPERIMENT = "newsstance-evaluation"
PREDICTIONS_ARTIFACT = "predictions.jsonl"
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def resolve(uri: str | None) -> str:
    """The tracking URI to use: `uri`, else MLFLOW_TRACKING_URI, else the repo's SQLite store (training's rule)."""
    from training import tracking as tt

    return tt.resolve_tracking_uri(uri)


def safe_uri(uri: str) -> str:
    """The URI without any password, for messages."""
    from training import tracking as tt

    return tt.redact(uri)


def configure(uri: str | None) -> str:
    """Point mlflow at `uri` (or the default) and check that it answers; ServiceError naming it if not."""
    from training import tracking as tt

    uri = resolve(uri)
    tt.check_reachable(uri)
    tt.configure(uri)
    return uri


def is_run_id(value: str) -> bool:
    return bool(_RUN_ID.match(value))


def source_run_of(model: str, predictor: Any = None) -> tuple[str | None, str | None]:
    """(training run id, logged model id) of a model URI or folder, where they can be found."""
    run_id = getattr(predictor, "run_id", None) or None
    model_id = getattr(predictor, "model_id", None) or None
    try:
        import mlflow

        if model.startswith("runs:/"):
            run_id = run_id or model.removeprefix("runs:/").split("/", 1)[0]
        elif model.startswith("models:/m-"):
            model_id = model.removeprefix("models:/").split("/", 1)[0]
            run_id = run_id or mlflow.get_logged_model(model_id).source_run_id
        elif model.startswith("models:/"):
            name, _, ref = model.removeprefix("models:/").partition("/")
            if "@" in name:
                name, ref = name.split("@", 1)
                version = mlflow.MlflowClient().get_model_version_by_alias(name, ref)
            else:
                version = mlflow.MlflowClient().get_model_version(name, ref)
            run_id = run_id or version.run_id
            model_id = model_id or getattr(version, "model_id", None)
        else:
            mlmodel = Path(model) / "MLmodel"
            if mlmodel.is_file():
                from corpus.yamlio import read_yaml

                meta = read_yaml(mlmodel) or {}
                run_id = run_id or meta.get("run_id")
                model_id = model_id or meta.get("model_id")
            for state in (Path(model) / "run.json", Path(model).parent / "run.json"):  # training's output folder
                if not run_id and state.is_file():
                    run_id = json.loads(state.read_text(encoding="utf-8")).get("run_id")
    except Exception as e:  # lineage is best effort: the evaluation itself must not fail on it
        log.warning("could not find the training run of %s (%s)", model, e)
    return run_id, model_id


def _metrics_of(result: dict[str, Any]) -> dict[str, float]:
    split = result["split"]
    metrics = {f"{split}_n": float(result["n"])}
    for key, iv in result["metrics"].items():
        if isinstance(iv, dict):
            metrics[f"{split}_{key}"] = iv["point"]
            metrics[f"{split}_{key}_ci_low"] = iv["low"]
            metrics[f"{split}_{key}_ci_high"] = iv["high"]
        elif iv is not None:
            metrics[f"{split}_{key}"] = float(iv)
    for label, pc in result["per_class"].items():
        for m in ("precision", "recall", "f1"):
            metrics[f"{split}_{m}_{label}"] = pc[m]
    for title, side in (("Target in the training split", "target"), ("Actor in the training split", "actor")):
        for b in result.get("breakdowns", {}).get(title, []):  # e.g. test_macro_f1_target_unseen
            seen = {"seen in train": "seen", "unseen in train": "unseen"}.get(b["value"])
            if seen:
                metrics[f"{split}_macro_f1_{side}_{seen}"] = b["macro_f1"]["point"]
                metrics[f"{split}_n_{side}_{seen}"] = float(b["n"])
    return metrics


def _log_folder(out_dir: Path) -> None:
    from training import tracking as tt

    for path in sorted(out_dir.iterdir()):
        if path.is_file():
            tt.log_artifact(path)


def log_evaluation(result: dict[str, Any], out_dir: Path, uri: str | None, experiment: str | None) -> dict[str, str]:
    """Log an evaluation (metrics.json content + the output folder) as one MLflow run; returns its ids.

    The run sits in the training run's experiment (unless `experiment` is given), nested under and tagged
    with that run, so the MLflow UI shows the test scores under the training that made the model.
    """
    import mlflow

    from training import tracking as tt

    uri = configure(uri)
    split = result["split"]
    source = result.get("source_run_id")
    source_exp = _run_experiment_name(source) if source else None
    exp_name = experiment or source_exp or DEFAULT_EXPERIMENT
    tags = {RUN_TYPE: "evaluation", "newsstance.split": split, "newsstance.dataset": str(result["dataset"]),
            "newsstance.bootstrap_unit": result["bootstrap"]["unit"]}
    if source:
        tags[SOURCE_RUN] = source
        if exp_name == source_exp:
            tags["mlflow.parentRunId"] = source  # shows the evaluation nested under its training run
    if result.get("dataset_digest"):
        tags["newsstance.dataset_digest"] = str(result["dataset_digest"])
    if result.get("dataset_lineage"):
        tags["newsstance.dataset_lineage"] = result["dataset_lineage"]["key"]
        tags["newsstance.dataset_name"] = result["dataset_lineage"]["slug"]
    if result.get("training_dataset"):
        tags["newsstance.training_dataset"] = result["training_dataset"]["slug"]
        tags["newsstance.same_dataset"] = str(bool(result.get("lineage_match"))).lower()
    metrics = _metrics_of(result)
    with tt.start_run(uri, exp_name, f"eval-{split}-{result.get('model_name') or 'predictions'}",
                      tags=tags) as run_id:
        tt.log_params({"model": result.get("model") or "", "predictions": result.get("predictions") or "",
                       "dataset": str(result["dataset"]), "split": split,
                       "bootstrap_unit": result["bootstrap"]["unit"],
                       "bootstrap_resamples": result["bootstrap"]["n_resamples"],
                       "bootstrap_seed": result["bootstrap"]["seed"]})
        tt.log_metrics(metrics)
        if result.get("model_id"):
            try:  # MLflow 3: the test scores also appear on the logged model's page
                mlflow.log_metrics({k: v for k, v in metrics.items() if "_ci_" not in k}, model_id=result["model_id"])
            except Exception as e:
                log.warning("could not attach metrics to model %s (%s)", result["model_id"], e)
        _log_folder(out_dir)
        experiment_id = mlflow.get_run(run_id).info.experiment_id
    return {"run_id": run_id, "experiment_id": experiment_id, "experiment": exp_name}


def log_network(summary: dict[str, Any], out_dir: Path, uri: str | None, experiment: str | None) -> dict[str, str]:
    """Log a network build (and its score against gold, if any) as an MLflow run."""
    from training import tracking as tt

    uri = configure(uri)
    exp_name = experiment or DEFAULT_EXPERIMENT
    metrics = {k: float(v) for k, v in summary.get("network", {}).items() if isinstance(v, int | float)}
    for level, scores in (summary.get("score") or {}).items():
        if isinstance(scores, dict):
            metrics.update({f"{level}_{k}": float(v) for k, v in scores.items()})
    with tt.start_run(uri, exp_name, "network", tags={RUN_TYPE: "network"}) as run_id:
        tt.log_params({"source": summary["source"], "gold": summary.get("gold") or ""})
        tt.log_metrics(metrics)
        _log_folder(out_dir)
    return {"run_id": run_id, "experiment": exp_name}


def _run_experiment_name(run_id: str) -> str | None:
    import mlflow

    try:
        return mlflow.get_experiment(mlflow.get_run(run_id).info.experiment_id).name
    except Exception:  # a run id from another store: evaluation goes on without the link
        log.warning("training run %s not found in this tracking store", run_id)
        return None


def run_predictions(run_id: str, uri: str | None, split: str | None = None) -> Path:
    """A local copy of a run's predictions: its own `predictions.jsonl`, else that of the newest evaluation
    run linked to it (on `split` when given), else any predictions file it logged (training's validation
    predictions)."""
    import mlflow

    configure(uri)
    client = mlflow.MlflowClient()
    try:
        client.get_run(run_id)
    except Exception:
        raise InputError(run_id, f"no such MLflow run in {safe_uri(mlflow.get_tracking_uri())}") from None
    names = [a.path for a in client.list_artifacts(run_id)]
    dst = Path(tempfile.mkdtemp(prefix="newsstance-compare-"))
    if PREDICTIONS_ARTIFACT in names:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=PREDICTIONS_ARTIFACT,
                                                        dst_path=str(dst)))
    flt = f"tags.`{SOURCE_RUN}` = '{run_id}' and tags.`{RUN_TYPE}` = 'evaluation'"
    if split:
        flt += f" and tags.`newsstance.split` = '{split}'"
    linked = mlflow.search_runs(search_all_experiments=True, filter_string=flt, order_by=["start_time DESC"],
                                output_format="list", max_results=1)
    if linked:
        return run_predictions(linked[0].info.run_id, uri)
    for path in _walk(client, run_id, ""):
        if "pred" in path.lower() and path.lower().endswith((".jsonl", ".json", ".parquet", ".csv")):
            return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path, dst_path=str(dst)))
    raise InputError(run_id, "run has no predictions artifact and no evaluation run linked to it "
                             "(run `python -m evaluation evaluate --model runs:/<id>/...` first)")


def _walk(client: Any, run_id: str, path: str, depth: int = 0) -> list[str]:
    out = []
    for a in client.list_artifacts(run_id, path or None):
        if a.is_dir and depth < 3:
            out += _walk(client, run_id, a.path, depth + 1)
        elif not a.is_dir:
            out.append(a.path)
    return out


def evaluation_runs(experiment: str | None, uri: str | None) -> list[Any]:
    """Evaluation runs, newest first: of one experiment (name or id), or of all experiments."""
    import mlflow

    configure(uri)
    flt = f"tags.`{RUN_TYPE}` = 'evaluation'"
    if experiment:
        exp = mlflow.get_experiment_by_name(experiment)
        if exp is None and experiment.isdigit():
            exp = mlflow.get_experiment(experiment)
        if exp is None:
            raise InputError(experiment, f"no such MLflow experiment in {safe_uri(mlflow.get_tracking_uri())}")
        return mlflow.search_runs(experiment_ids=[exp.experiment_id], filter_string=flt, output_format="list",
                                  order_by=["start_time DESC"])
    return mlflow.search_runs(search_all_experiments=True, filter_string=flt, output_format="list",
                              order_by=["start_time DESC"])


def run_name(run_id: str) -> str:
    """A run's name (its id when it has none or cannot be read)."""
    import mlflow

    try:
        return mlflow.get_run(run_id).info.run_name or run_id
    except Exception:
        return run_id
