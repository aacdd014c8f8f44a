"""`python -m training`: train stance classifiers, predict with them, open the MLflow UI. Thin typer wrappers."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from corpus.errors import NewsstanceError, run_cli

app = typer.Typer(help="Train stance classifiers from the statements dataset, tracked in MLflow.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def fail(err: NewsstanceError) -> None:
    """One line on stderr and a non-zero exit: the CLI's only way of reporting bad input."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _quiet_libraries() -> None:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    for name in ("mlflow", "alembic", "urllib3", "transformers", "datasets"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def summary_table(s: Any) -> str:
    """The end-of-run summary: per-epoch metrics, then the run, its model and where to see it."""
    lines = []
    lineage = s.extra.get("lineage")
    keys = ["train_loss", "train_macro_f1", "train_accuracy", "validation_loss", "validation_macro_f1",
            "validation_accuracy"]
    lines.append("| epoch | " + " | ".join(keys) + " |")
    lines.append("|---" * (len(keys) + 1) + "|")
    for h in s.history:
        lines.append(f"| {_fmt(h.get('epoch'))} | " + " | ".join(_fmt(h.get(k)) for k in keys) + " |")
    rows = [
        ("run", s.run_id), ("experiment", s.experiment), ("tracking URI", s.tracking_uri),
        ("config", f"{s.config} ({s.kind}, input {s.input_form})"),
        ("dataset", f"{s.dataset} (digest {s.digest[:16]}; train {s.train_rows}, validation {s.validation_rows})"),
        ("validation macro-F1", _fmt(s.metrics.get("validation_macro_f1"))),
        ("validation accuracy", _fmt(s.metrics.get("validation_accuracy"))),
        ("calibration", f"temperature {_fmt(s.metrics['temperature'])}, validation ECE "
                        f"{_fmt(s.metrics.get('validation_ece_before'))} -> {_fmt(s.metrics.get('validation_ece'))}"
         if "temperature" in s.metrics else None),
        ("detection", f"P(statement) threshold {_fmt(s.metrics['detection_threshold'])}, validation statement "
                      f"P/R/F1 {_fmt(s.metrics.get('validation_statement_precision'))} / "
                      f"{_fmt(s.metrics.get('validation_statement_recall'))} / "
                      f"{_fmt(s.metrics.get('validation_statement_f1'))}"
         if "detection_threshold" in s.metrics else None),
        ("best epoch", s.best_epoch), ("train samples/s", _fmt(s.samples_per_second)),
        ("selected", ", ".join(f"{k}={v}" for k, v in s.extra.items() if k.startswith("selected.")) or None),
        ("dataset lineage", lineage.describe() if lineage else None),
        ("model folder", s.model_dir), ("model URI", s.extra.get("model_uri")),
        ("registered", f"{s.registered} v{s.version}" if s.registered else None),
        ("champion", ("moved to this version" if s.champion else
                      f"kept (champion's validation score {_fmt(s.previous_champion_score)})")
         + f", judged on dataset {lineage.describe()}" if s.registered and lineage else None),
        ("champion URI", s.extra.get("champion_uri")),
        ("time", f"{s.seconds:.1f} s" + (" (resumed)" if s.resumed else "")),
    ]
    lines.append("")
    width = max(len(k) for k, _ in rows)
    lines += [f"{k.ljust(width)}  {_fmt(v)}" for k, v in rows]
    lines.append(f"{'see it'.ljust(width)}  python -m training ui  (or: mlflow ui --backend-store-uri "
                 f"{s.tracking_uri})")
    lines += [f"note: {n}" for n in s.extra.get("notes") or []]
    return "\n".join(lines)


@app.command()
def train(
    config: Annotated[str, typer.Option("--config", help="Config YAML: a path, or the name of a bundled config "
                                                         "(majority, tfidf_logreg, minilm, tiny, detector_tfidf, "
                                                         "detector_minilm, detector_tiny).")],
    dataset: Annotated[str | None, typer.Option(help="DATASET folder holding statements/ (default: the config's "
                                                     "data.dataset, var/dataset).")] = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config field, key=value with a dotted "
                                                                 "key (value parsed as YAML); repeatable.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the newest unfinished run of this config (killed, or "
                                              "marked FAILED since) from its last checkpoint, into the same MLflow "
                                              "run and run folder; registers it once.")] = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, "
                                                          "the config's, else sqlite in var/mlflow/).")] = None,
    experiment: Annotated[str | None, typer.Option(help="MLflow experiment (default: the config's).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Train one model from a config; one MLflow run; print a summary table."""
    from training.config import load_config
    from training.run import train as run_training
    from training.transformer import is_main_process

    _quiet_libraries()
    try:
        cfg, file = load_config(config, set_ or [])
        summary = run_training(cfg, file, dataset=dataset, tracking_uri=tracking_uri, experiment=experiment,
                               resume=resume, progress=not quiet)
    except NewsstanceError as e:
        fail(e)
    if is_main_process():
        typer.echo(summary_table(summary))


@app.command()
def predict(
    input_: Annotated[str, typer.Argument(metavar="INPUT", help="DATASET:split (e.g. var/dataset:test), or a .jsonl/"
                                                                ".csv with text, actor, policy columns.")],
    model: Annotated[str, typer.Option(help="Model folder or MLflow URI (models:/newsstance-stance@champion, "
                                            "models:/m-..., runs:/...).")],
    out: Annotated[Path, typer.Option(help="Output file: .jsonl, .csv or .parquet (one row per input row, "
                                           "predicted label and p_<label> columns).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")] = None,
) -> None:
    """Predict stance probabilities for every row of INPUT."""
    from training.predict import predict_input

    _quiet_libraries()
    try:
        summary = predict_input(model, input_, out, tracking_uri)
    except NewsstanceError as e:
        fail(e)
    scores = "".join(f", {k} {summary[k]:.4f}" for k in ("macro_f1", "accuracy") if k in summary)
    typer.echo(f"{summary['rows']} rows -> {summary['out']} (labels {', '.join(summary['labels'])}{scores})")


@app.command()
def ensemble(
    model: Annotated[list[str], typer.Option("--model", help="A member: stance model folder or MLflow URI (e.g. "
                                                             "each seed's var/runs/minilm/<run id>/model); give it "
                                                             "two or more times.")],
    dataset: Annotated[str, typer.Option(help="DATASET the members were trained on: its validation split scores "
                                              "each member and the ensemble and fits the temperature.")],
    out: Annotated[Path, typer.Option(help="New folder for the ensemble (members copied in; must not exist or be "
                                           "empty).")],
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default as for train).")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment of the ensemble's run.")] = "newsstance-stance",
    registered_model: Annotated[str, typer.Option(help="Registry name; the lineage champion moves when the "
                                                       "ensemble beats it on validation macro-F1.")]
    = "newsstance-stance",
    register: Annotated[bool, typer.Option(help="Register the ensemble (--no-register: only log the run).")] = True,
    calibrate: Annotated[bool, typer.Option(help="Fit a temperature on validation for the mean.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress lines.")] = False,
) -> None:
    """Average trained stance models (several seeds of one config, say) into one model: one MLflow run."""
    from training.ensemble import build_ensemble

    _quiet_libraries()
    try:
        s = build_ensemble(model, dataset, out, tracking_uri=tracking_uri, experiment=experiment,
                           registered_model=registered_model, register=register, calibrate=calibrate,
                           progress=not quiet)
    except NewsstanceError as e:
        fail(e)
    m = s.metrics
    for i, ref in enumerate(s.members):
        typer.echo(f"member {i}  validation macro-F1 {m[f'member{i}_validation_macro_f1']:.4f}  {ref}")
    typer.echo(f"ensemble  validation macro-F1 {m['validation_macro_f1']:.4f}, accuracy "
               f"{m['validation_accuracy']:.4f}; temperature {m['temperature']:.3f}, validation ECE "
               f"{m['validation_ece_before']:.4f} -> {m['validation_ece']:.4f}")
    typer.echo(f"run {s.run_id}; model folder {s.model_dir}; model URI {s.model_uri}")
    if s.registered:
        typer.echo(f"registered {s.registered} version {s.version}"
                   + (" (champion of its dataset lineage)" if s.champion else " (champion kept)"))


@app.command("train-tagger")
def train_tagger_command(
    config: Annotated[str, typer.Option("--config", help="Tagger config YAML: a path, or a bundled name "
                                                         "(tagger, tagger_tiny).")] = "tagger",
    dataset: Annotated[str | None, typer.Option(help="DATASET folder holding mentions/ (default: the config's).")]
        = None,
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a config field, key=value; repeatable.")]
        = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default as for train).")] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars (the datasets library's preprocessing bars).")]
        = False,
) -> None:
    """Train the Actor/Policy span tagger (token classification) from DATASET/mentions; one MLflow run."""
    from training.tagger import load_tagger_config, train_tagger

    _quiet_libraries()
    if quiet:
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()
    try:
        cfg, file = load_tagger_config(config, set_ or [])
        run = train_tagger(cfg, file, dataset=dataset, tracking_uri=tracking_uri)
    except NewsstanceError as e:
        fail(e)
    scores = ", ".join(f"{k} {v:.4f}" for k, v in run.metrics.items() if k.startswith("span_"))
    typer.echo(f"run {run.run_id}: {scores or 'no validation split'}\nmodel {run.model_uri} "
               f"(registered {run.registered or '-'}; folder {run.model_dir})")


@app.command()
def extract(
    model: Annotated[str, typer.Option(help="Detector or stance model folder or MLflow URI "
                                            "(models:/newsstance-detector@champion). A detector keeps the pairs "
                                            "whose P(statement) reaches its saved threshold; a stance model "
                                            "keeps every pair.")],
    out: Annotated[Path, typer.Option(help="Output .json: the run (setting, model, kind, threshold, per-article "
                                           "counts) and its statements (actor, policy option, stance, confidence, "
                                           "evidence span), as `evaluation network` and `evaluation extraction` "
                                           "read.")],
    articles: Annotated[list[Path] | None, typer.Argument(
        metavar="[ARTICLE]...", help="Article files: stored article JSON, or .txt .md .html .json .jsonl as "
                                     "`corpus add` reads. With --gold-entities: optional, the articles of the "
                                     "split to extract (default: all of them).")] = None,
    tagger: Annotated[str | None, typer.Option(help="Span tagger folder or MLflow URI (default: the codebook's "
                                                    "alias gazetteer alone).")] = None,
    window: Annotated[int, typer.Option(min=1, help="Pair mentions at most WINDOW-1 sentences apart.")] = 1,
    min_confidence: Annotated[float, typer.Option(min=0, max=1, help="Drop statements below this confidence.")]
        = 0.0,
    keep_unresolved: Annotated[bool, typer.Option(
        help="Also pair mentions the codebook does not name (a tagger's spans on another debate, e.g. SEESAW); "
             "their statements carry the mention text as label and no id.")] = False,
    gold_entities: Annotated[Path | None, typer.Option(
        "--gold-entities", metavar="DATASET",
        help="Take the entities from a built dataset instead of the tagger/gazetteer: the pairs are "
             "DATASET/candidates rows (gold actors and targets), so only which pairs hold a stance, and which "
             "stance, is predicted (setting gold-entities).")] = None,
    split: Annotated[str, typer.Option(help="With --gold-entities: the dataset split whose articles to "
                                            "extract.")] = "test",
    either_side: Annotated[bool, typer.Option(
        help="Found entities: any mention can be the holder or the target (corpora whose targets are entities, "
             "as SEESAW's); pairs are then every two mentions of different names.")] = False,
    names: Annotated[bool, typer.Option(
        help="Found entities: also take capitalised proper names as mentions (titles and roles left out), and "
             "name every mention outside the codebook by its longest form in the article (\"Obama\" -> "
             "\"Barack Obama\"); with --keep-unresolved, for corpora whose entities no codebook lists "
             "(SEESAW).")] = False,
    learned_names: Annotated[Path | None, typer.Option(
        "--learned-names", metavar="DATASET",
        help="Found entities: the names coders of DATASET's train split gave to the surfaces they marked "
             "(\"Democrats\" -> \"Democratic Party\"), found in the text as mentions and used to name "
             "mentions; a surface seen at least twice, one name for most of them. Never the articles' own "
             "split.")] = None,
    top_entities: Annotated[int | None, typer.Option(
        min=1, metavar="K", help="Found entities: pair only the K entities each article mentions most (coders "
                                 "list an article's salient entities, not every name in it); default: all.")] = None,
    author: Annotated[bool, typer.Option(
        help="Found entities: the article's author, \"(author)\", also holds a candidate toward every target of "
             "each sentence (SEESAW codes the writer's own stance so; a build's candidates have these pairs).")]
        = False,
    stance_model: Annotated[str | None, typer.Option(
        help="Detect, then polarity: --model (a detector) decides which pairs are statements, this stance model "
             "(folder or MLflow URI, e.g. models:/newsstance-stance@champion) gives their stance.")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")] = None,
) -> None:
    """Article text -> stance statements with the detector (or stance model) and tagger."""
    from training.extract import extract_files

    _quiet_libraries()
    try:
        s = extract_files(articles or [], out, model, tagger, tracking_uri, window=window,
                          min_confidence=min_confidence, keep_unresolved=keep_unresolved,
                          gold_entities=gold_entities, split=split, stance_model=stance_model,
                          either_side=either_side, names=names, learned_names=learned_names,
                          top_entities=top_entities, author=author)
    except NewsstanceError as e:
        fail(e)
    threshold = "" if s["threshold"] is None else f", threshold {s['threshold']:.2f}"
    typer.echo(f"{s['articles']} article(s), {s['mentions']} mentions, {s['candidates']} pairs, "
               f"{s['detected']} detected, {s['statements']} statements -> {s['out']} "
               f"({s['setting']}, {s['model_kind']} {s['model_version']}{threshold}, "
               f"tagger {s['tagger'] or 'none'})")


@app.command()
def ui(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 5000,
    tracking_uri: Annotated[str | None, typer.Option(help="Store to show (default: as for train).")] = None,
) -> None:
    """Open the tracking store in the MLflow UI on 127.0.0.1 (Ctrl-C stops it)."""
    from training import tracking

    uri = tracking.resolve_tracking_uri(tracking_uri)
    if uri.startswith(("http://", "https://")):
        typer.echo(f"the store is a server already: open {tracking.redact(uri)}")
        return
    try:
        tracking.check_reachable(uri)
    except NewsstanceError as e:
        fail(e)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
           "--backend-store-uri", uri]
    artifacts = tracking.default_artifact_root(uri)
    if artifacts:
        cmd += ["--default-artifact-root", artifacts]
    typer.echo(f"MLflow UI for {tracking.redact(uri)} on http://127.0.0.1:{port} (Ctrl-C stops it)", err=True)
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)  # noqa: S606 (no shell; become the server so signals reach it)


def main() -> None:
    """Entry point of `python -m training` and the newsstance-training script."""
    run_cli(app)  # one line for a NewsstanceError or OSError that escapes a command
