"""`evaluate`: score a model or a predictions file on a dataset split, write the report, log an MLflow run.

`score` is pure (rows + predictions -> the metrics.json content); `evaluate` adds the files and tracking.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from corpus.errors import InputError
from evaluation import metrics as M
from evaluation.error_analysis import LabelStudioLinks, confident_errors
from evaluation.predictions import Predictions

log = logging.getLogger(__name__)
BREAKDOWNS = (("actor_type", "actor_type", "Actor type"), ("policy_id", "policy_label", "Policy option"),
              ("source", "source", "Source"), ("target_seen", "target_seen", "Target in the training split"),
              ("actor_seen", "actor_seen", "Actor in the training split"))
UNITS = ("auto", "group", "article", "statement")
UNIT_COLUMNS = {"group": "group", "article": "article_id"}
SEEN, UNSEEN = "seen in train", "unseen in train"
MIN_CLUSTERS = 20


@dataclass(frozen=True)
class EvaluateSettings:
    """How scores are estimated and how much of the errors is shown."""

    n_resamples: int = 1000  # bootstrap resamples
    seed: int = 0  # numpy RNG seed of the bootstrap
    confidence: float = 0.95  # interval level
    unit: str = "auto"  # what the bootstrap resamples: group, article (clusters), statement; auto: the first known
    top_errors: int = 20  # most confident errors listed
    bins: int = 10  # reliability-diagram bins

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise InputError("--unit", f"must be one of {', '.join(UNITS)}, got {self.unit!r}")
        if not 10 <= self.n_resamples <= 1_000_000:
            raise InputError("--resamples", f"must be between 10 and 1000000, got {self.n_resamples}")
        if not 0.5 <= self.confidence < 1:
            raise InputError("--confidence", f"must be in [0.5, 1), got {self.confidence}")
        if self.top_errors < 0 or not 2 <= self.bins <= 100:
            raise InputError("--top-errors/--bins", "top errors must be >= 0 and bins in 2..100")


def _groups(rows: list[dict[str, Any]], unit: str) -> tuple[list[str] | None, str, list[str]]:
    """Bootstrap clusters for `unit`, the unit actually used, and notes for the reader.

    `auto` clusters by the dataset's `group` (story, event, or whatever the build grouped splits by: rows of one
    group are correlated), else by article, else resamples statements."""
    if unit == "statement":
        return None, "statement", []
    for name in ("group", "article") if unit == "auto" else (unit,):
        ids = [r.get(UNIT_COLUMNS[name]) for r in rows]
        if not all(ids):
            if unit != "auto":
                raise InputError(f"--unit {unit}", f"some rows have no {UNIT_COLUMNS[unit]} to cluster on")
            continue
        n = len(set(ids))
        if n < 2 and unit == "auto":
            continue
        notes = [f"only {n} {name}s: {name}-clustered intervals from so few clusters are rough"] \
            if n < MIN_CLUSTERS else []
        return [str(i) for i in ids], name, notes
    note = "all statements come from one group or article: intervals resample statements and are too narrow"
    return None, "statement", [note] if any(r.get("article_id") for r in rows) else []


def mark_seen(rows: list[dict[str, Any]], train: list[dict[str, Any]]) -> None:
    """Set `target_seen` / `actor_seen` on each row: whether its policy_label / actor_label (case and spacing
    ignored) occurs in the training split, i.e. whether a model trained there has seen that target or actor."""
    def norm(value: Any) -> str:
        return " ".join(str(value or "").lower().split())

    for column, key in (("policy_label", "target_seen"), ("actor_label", "actor_seen")):
        known = {norm(r.get(column)) for r in train} - {""}
        for r in rows:
            r[key] = "unknown" if not norm(r.get(column)) else SEEN if norm(r.get(column)) in known else UNSEEN


def _sub_groups(rows: list[dict[str, Any]], unit: str) -> list[str] | None:
    """Clusters within one breakdown value: the chosen unit where it gives two or more, else the first that does."""
    if unit in UNIT_COLUMNS:
        ids = [r.get(UNIT_COLUMNS[unit]) for r in rows]
        if all(ids) and len(set(ids)) >= 2:
            return [str(i) for i in ids]
        unit = "auto"
    return _groups(rows, unit)[0]


def _interval_dict(iv: M.Interval) -> dict[str, float]:
    return {"point": iv.point, "low": iv.low, "high": iv.high}


def breakdown(rows: list[dict[str, Any]], preds: Predictions, names: list[str], key: str, label_key: str,
              settings: EvaluateSettings) -> list[dict[str, Any]]:
    """Scores per value of `key` (largest group first), each with its macro-F1 interval."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        by[str(r.get(key) if r.get(key) not in (None, "") else "unknown")].append(i)
    out = []
    for value, idx in sorted(by.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        gold = [rows[i]["stance"] for i in idx]
        pred = [preds.labels[i] for i in idx]
        groups = _sub_groups([rows[i] for i in idx], settings.unit)
        ci = M.bootstrap_intervals(gold, pred, names, groups=groups, n_resamples=settings.n_resamples,
                                   confidence=settings.confidence, seed=settings.seed, metrics=("macro_f1",))
        out.append({"value": value, "label": str(rows[idx[0]].get(label_key) or value), "n": len(idx),
                    "accuracy": M.accuracy(gold, pred), "macro_f1": _interval_dict(ci["macro_f1"]),
                    "f_avg": M.f_avg(gold, pred), "labels": dict(sorted(_count(gold).items()))})
    return out


def _count(values: list[str]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for v in values:
        out[v] += 1
    return dict(out)


def score(rows: list[dict[str, Any]], preds: Predictions, names: list[str],
          settings: EvaluateSettings | None = None, links: LabelStudioLinks | None = None) -> dict[str, Any]:
    """Everything the report shows, as plain JSON-ready data (see README of the evaluation package)."""
    settings = settings or EvaluateSettings()
    if len(rows) != len(preds.labels):
        raise InputError("predictions", f"{len(preds.labels)} predictions for {len(rows)} statements")
    gold = [r["stance"] for r in rows]
    pred = preds.labels
    groups, unit, notes = _groups(rows, settings.unit)
    per_label = [f"f1_{n}" for n in names]
    ci = M.bootstrap_intervals(gold, pred, names, groups=groups, n_resamples=settings.n_resamples,
                               confidence=settings.confidence, seed=settings.seed,
                               metrics=(*M.METRICS, *per_label))
    per_class = M.per_class(gold, pred, names)
    for n in names:
        per_class[n]["f1_low"], per_class[n]["f1_high"] = ci[f"f1_{n}"].low, ci[f"f1_{n}"].high
    result: dict[str, Any] = {
        "n": len(rows),
        "labels": list(names),
        "present_labels": M.present_labels(gold, names),
        "metrics": {m: _interval_dict(ci[m]) for m in M.METRICS},
        "per_class": per_class,
        "confusion": M.confusion(gold, pred, names),
        "bootstrap": {"unit": unit, "units": len(set(groups)) if groups else len(rows),
                      "n_resamples": settings.n_resamples, "seed": settings.seed,
                      "confidence": settings.confidence, "method": "percentile"},
        "notes": notes,
        "breakdowns": {title: breakdown(rows, preds, names, key, label_key, settings)
                       for key, label_key, title in BREAKDOWNS if any(r.get(key) is not None for r in rows)},
        "gold_counts": _count(gold),
        "predicted_counts": _count(pred),
    }
    if preds.probs is not None:
        conf = preds.probs.max(axis=1)
        correct = [p == g for p, g in zip(pred, gold, strict=True)]
        result["calibration"] = M.calibration_bins(conf, correct, settings.bins)
        result["metrics"]["ece"] = M.expected_calibration_error(conf, correct, settings.bins)
    else:
        result["calibration"] = None
        result["notes"].append("the predictions carry no probabilities: no reliability diagram or confidence")
    result["errors"] = confident_errors(rows, preds, names, settings.top_errors, links)
    result["n_errors"] = sum(p != g for p, g in zip(pred, gold, strict=True))
    return result


def prediction_rows(rows: list[dict[str, Any]], preds: Predictions, names: list[str], split: str) -> list[dict]:
    """The `predictions.jsonl` rows: statement keys, gold, predicted, confidence, probabilities."""
    out = []
    for i, r in enumerate(rows):
        row = {k: r.get(k) for k in ("id", "article_id", "group", "task_id", "actor_id", "actor_label",
                                     "actor_type", "policy_id", "policy_label", "source", "target_seen",
                                     "actor_seen")}
        row.update(split=split, gold=r["stance"], predicted=preds.labels[i])
        if preds.probs is not None:
            row["confidence"] = float(preds.probs[i].max())
            row["probabilities"] = {n: round(float(p), 6) for n, p in zip(names, preds.probs[i], strict=True)}
        out.append(row)
    return out


def training_run_tags(run_id: str | None) -> dict[str, str]:
    """`model_config` and `model_kind` from the training run's tags, for the report's title (empty if unknown)."""
    if not run_id:
        return {}
    import mlflow

    try:
        tags = mlflow.MlflowClient().get_run(run_id).data.tags
    except (mlflow.exceptions.MlflowException, OSError):
        return {}
    return {f"model_{k}": tags[f"newsstance.{k}"] for k in ("config", "kind") if tags.get(f"newsstance.{k}")}


def model_name(model: str | None) -> str | None:
    """A short readable name of a model URI or folder, for run names and headings."""
    if not model:
        return None
    if model.startswith("runs:/"):
        return "run-" + model.removeprefix("runs:/")[:8]
    if model.startswith("models:/"):
        return model.removeprefix("models:/")
    path = Path(model)
    return (path.parent.name if path.name == "model" and path.parent.name else path.name) or model


def _champion_alias(model: str, evaluated: Any) -> str:
    """`models:/NAME@champion` -> `models:/NAME@champion-<lineage>` where the evaluated dataset's lineage has a
    champion (each lineage keeps its own; the plain alias follows whichever moved last)."""
    import mlflow

    name, _, alias = model.removeprefix("models:/").partition("@")
    if alias != "champion" or "/" in name:
        return model
    try:
        mlflow.MlflowClient().get_model_version_by_alias(name, evaluated.alias)
    except mlflow.exceptions.MlflowException:
        return model
    return f"models:/{name}@{evaluated.alias}"


def training_lineage(model: str) -> Any:
    """The dataset lineage a model was trained on: from its run folder's run.json (a local model) or its training
    run's tags (an MLflow URI); None where neither records one."""
    from training import lineage as L

    if not model.startswith(("models:/", "runs:/")):
        for state in (Path(model) / "run.json", Path(model).parent / "run.json"):
            if state.is_file():
                try:
                    recorded = json.loads(state.read_text(encoding="utf-8")).get("lineage")
                except (ValueError, UnicodeDecodeError, AttributeError):
                    recorded = None
                if isinstance(recorded, dict) and recorded.get("key"):
                    return L.Lineage(recorded["key"], recorded.get("slug", ""), tuple(recorded.get("sources", ())),
                                     recorded.get("codebook_version", ""), recorded.get("split", ""),
                                     recorded.get("digest", ""))
        return None
    from training import tracking as tt

    return L.from_tags(tt.version_tags(model))


def check_lineage(model: str, evaluated: Any, tracking_uri: str | None,
                  allow_other_dataset: bool) -> tuple[str, Any, list[str]]:
    """(the model URI to load, the lineage it was trained on, notes); InputError naming both datasets when the
    model was trained on another lineage and `allow_other_dataset` is not set."""
    notes = []
    if model.startswith(("models:/", "runs:/")):
        from training import tracking as tt

        tt.configure(tt.resolve_tracking_uri(tracking_uri))
        resolved = _champion_alias(model, evaluated)
        if resolved != model:
            notes.append(f"{model} is the champion of this dataset's lineage: {resolved}")
            model = resolved
    trained = training_lineage(model)
    if trained is None:
        notes.append("the model's training dataset is not recorded (a model from before lineage tags): "
                     "check that it was trained on this dataset's sources")
    elif trained.key != evaluated.key:
        msg = (f"the model was trained on dataset {trained.describe()}, not on the evaluated dataset "
               f"{evaluated.describe()}")
        if not allow_other_dataset:
            raise InputError(model, f"{msg}; pass --allow-other-dataset to score it anyway")
        log.warning("%s", msg)
        notes.append(f"WARNING: {msg} (scored with --allow-other-dataset)")
    return model, trained, notes


def _check_out(out: Path) -> None:
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "metrics.json").is_file())):
        raise InputError(out, "exists and is not an earlier evaluation output; choose a new --out folder")


def evaluate(
    dataset: str | Path, split: str, out: str | Path, *, model: str | None = None,
    predictions: str | Path | None = None, codebook: str | Path | None = None,
    settings: EvaluateSettings | None = None, tracking_uri: str | None = None, experiment: str | None = None,
    track: bool = True, label_studio_url: str | None = None, label_studio_project: str | None = None,
    agreement_file: str | Path | None = None, loader: Callable[[str], Any] | None = None,
    allow_other_dataset: bool = False,
) -> dict[str, Any]:
    """Score `model` (or a `predictions` file) on DATASET/statements[split]; write OUT; log an MLflow run.

    OUT gets metrics.json, predictions.jsonl, errors.jsonl, report.md, report.html and the PNG plots;
    it is written through a temporary folder, so a failure leaves nothing half-written. `loader` replaces
    `training.predict.load_predictor` (tests, other model kinds). A model trained on another dataset lineage
    (other sources or codebook) is refused unless `allow_other_dataset`, and then flagged in the report;
    `models:/NAME@champion` means the champion of the evaluated dataset's lineage where there is one.
    """
    from corpus.codebook import load_codebook
    from corpus.errors import atomic_path
    from evaluation import data, report
    from evaluation import predictions as P

    settings = settings or EvaluateSettings()
    if (model is None) == (predictions is None):
        raise InputError("evaluate", "give exactly one of --model and --predictions")
    out = Path(out)
    _check_out(out)
    names = load_codebook(codebook).stance_names
    rows = data.load_split(dataset, split, names)
    figures = data.read_agreement(dataset, agreement_file)
    if track:  # fail before the (possibly slow) prediction when the tracking server is down
        from evaluation import tracking

        tracking.configure(tracking_uri)
    from training.lineage import dataset_lineage

    evaluated = dataset_lineage(dataset)
    trained, lineage_notes = None, []
    if model is not None:
        model, trained, lineage_notes = check_lineage(model, evaluated, tracking_uri, allow_other_dataset)
    try:
        mark_seen(rows, data.load_split(dataset, "train", names) if split != "train" else rows)
    except InputError as e:
        lineage_notes.append(f"no seen/unseen breakdown: the training split cannot be read ({e})")
    source_run = model_id = None
    if model is not None:
        preds, predictor = P.predict_with_model(model, rows, names, loader, tracking_uri)
        if track:
            source_run, model_id = tracking.source_run_of(model, predictor)
    else:
        preds = P.align(rows, P.read_predictions(predictions, names), str(predictions))
        if preds.gold is not None:
            differ = sum(g != r["stance"] for g, r in zip(preds.gold, rows, strict=True))
            if differ:
                raise InputError(predictions, f"{differ} gold labels differ from {dataset} [{split}]: predictions "
                                              "made on another version of the dataset?")
    links = LabelStudioLinks.parse(label_studio_url, label_studio_project)
    result = score(rows, preds, names, settings, links)
    result["notes"] = lineage_notes + result["notes"]
    meta = data.card_metadata(dataset)
    result.update({
        "model": model, "model_name": model_name(model) or Path(str(predictions)).stem,
        "predictions": str(predictions) if predictions else None, "dataset": str(dataset), "split": split,
        "dataset_digest": data.dataset_digest(dataset, meta), "codebook_version": load_codebook(codebook).version,
        "source_run_id": source_run, "model_id": model_id, **training_run_tags(source_run),
        "dataset_lineage": evaluated.to_dict(), "training_dataset": trained.to_dict() if trained else None,
        "lineage_match": None if trained is None else trained.key == evaluated.key,
        "agreement": [{"name": k, "value": v} for k, v in figures],
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "settings": asdict(settings),
    })
    images = report.images(result)
    with atomic_path(out) as tmp:
        tmp.mkdir()
        (tmp / "metrics.json").write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "predictions.jsonl").write_text(data.dump_jsonl(prediction_rows(rows, preds, names, split)),
                                               encoding="utf-8")
        (tmp / "errors.jsonl").write_text(data.dump_jsonl(result["errors"]), encoding="utf-8")
        (tmp / "breakdowns.csv").write_text(report.breakdowns_csv(result), encoding="utf-8")
        for name, png in images.items():
            (tmp / name).write_bytes(png)
        (tmp / "report.md").write_text(report.markdown(result, list(images)), encoding="utf-8")
        (tmp / "report.html").write_text(report.html(result, images), encoding="utf-8")
    if track:
        result["mlflow"] = tracking.log_evaluation(result, out, tracking_uri, experiment)
    return result
