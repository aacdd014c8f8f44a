"""`python -m evaluation`: evaluate, compare, leaderboard, network. Thin wrappers over library calls."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from corpus.errors import NewsstanceError, run_cli

app = typer.Typer(help="Evaluation reports with intervals, run comparison, leaderboards and discourse networks.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

TrackingOpt = Annotated[str | None, typer.Option(
    "--tracking-uri", help="MLflow tracking URI (default: MLFLOW_TRACKING_URI, else sqlite var/mlflow/mlflow.db).")]
CodebookOpt = Annotated[Path | None, typer.Option("--codebook", help="Codebook YAML (default: the bundled one).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of the numpy RNG used for resampling.")]
UnitOpt = Annotated[str, typer.Option(
    "--unit", help="What the bootstrap resamples: 'group' (the dataset's group column: story, event, target...), "
                   "'article', 'statement', or 'auto' (group, else article, else statement).")]


def fail(err: NewsstanceError) -> None:
    """Print one line and exit non-zero; the CLI's only way of reporting bad input."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


@app.callback()
def _setup(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress (INFO).")] = False) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")


def _quiet() -> None:
    """Progress bars and library chatter off (tqdm, datasets, transformers, MLflow's artifact bars)."""
    import os

    os.environ["TQDM_DISABLE"] = "1"
    os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] = "false"
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    logging.getLogger().setLevel(logging.ERROR)


@app.command()
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="Dataset folder written by `corpus build` "
                                                            "(reads DATASET/statements).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: metrics.json, predictions.jsonl, errors.jsonl, "
                                                    "report.md, report.html, PNG plots.")],
    model: Annotated[str | None, typer.Option("--model", help="Model to score: MLflow URI (models:/..., runs:/...) "
                                                              "or local folder, loaded by training.predict.")] = None,
    predictions: Annotated[Path | None, typer.Option(
        "--predictions", help="Score a predictions file instead of a model (JSON/JSONL/CSV/Parquet: id and a "
                              "predicted label or probabilities).")] = None,
    split: Annotated[str, typer.Option("--split", help="Dataset split to score.")] = "test",
    tracking_uri: TrackingOpt = None,
    experiment: Annotated[str | None, typer.Option(
        "--experiment", help="MLflow experiment (default: the training run's, else newsstance-evaluation).")] = None,
    no_track: Annotated[bool, typer.Option("--no-track", help="Do not log an MLflow run.")] = False,
    label_studio_url: Annotated[str | None, typer.Option(
        "--label-studio-url", envvar="LABEL_STUDIO_URL",
        help="Label Studio URL for task links in the error list; a .../projects/<id> URL also gives the project.")
    ] = None,
    label_studio_project: Annotated[str | None, typer.Option(
        "--label-studio-project", envvar="LABEL_STUDIO_PROJECT", help="Label Studio project id for task links.")
    ] = None,
    agreement: Annotated[Path | None, typer.Option(
        "--agreement", help="Agreement JSON/YAML (e.g. `annotation agreement --json`) for the human ceiling; "
                            "default: the dataset card's `agreement` figures.")] = None,
    resamples: Annotated[int, typer.Option("--resamples", help="Bootstrap resamples.")] = 1000,
    confidence: Annotated[float, typer.Option("--confidence", help="Interval level.")] = 0.95,
    seed: SeedOpt = 0,
    unit: UnitOpt = "auto",
    top_errors: Annotated[int, typer.Option("--top-errors", help="How many confident errors to list.")] = 20,
    codebook: CodebookOpt = None,
    allow_other_dataset: Annotated[bool, typer.Option(
        "--allow-other-dataset", help="Score a model trained on another dataset lineage (other sources or "
                                      "codebook) instead of refusing; the report then flags it.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars or library messages; only the "
                                                        "summary lines and errors.")] = False,
) -> None:
    """Score a model or predictions file on a split: metrics with intervals, breakdowns, errors, report, MLflow run."""
    from evaluation.evaluate import EvaluateSettings
    from evaluation.evaluate import evaluate as run

    if quiet:
        _quiet()
    try:
        settings = EvaluateSettings(n_resamples=resamples, seed=seed, confidence=confidence, unit=unit,
                                    top_errors=top_errors)
        r = run(dataset, split, out, model=model, predictions=predictions, codebook=codebook, settings=settings,
                tracking_uri=tracking_uri, experiment=experiment, track=not no_track,
                label_studio_url=label_studio_url, label_studio_project=label_studio_project,
                agreement_file=agreement, allow_other_dataset=allow_other_dataset)
    except NewsstanceError as e:
        fail(e)
    m = r["metrics"]

    def iv(d: dict) -> str:
        return f"{d['point']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"

    typer.echo(f"{r['model_name']} on {dataset} [{split}]: {r['n']} statements, "
               f"bootstrap unit {r['bootstrap']['unit']} ({r['bootstrap']['units']} clusters)")
    typer.echo(f"  macro-F1 {iv(m['macro_f1'])}   F_avg {iv(m['f_avg'])}   accuracy {iv(m['accuracy'])}")
    trained = r.get("training_dataset")
    if trained:
        same = "the evaluated dataset's lineage" if r.get("lineage_match") else "ANOTHER dataset than the evaluated"
        typer.echo(f"  trained on {trained['slug']} ({', '.join(trained['sources']) or 'sources unknown'}): {same}")
    for b in r["breakdowns"].get("Target in the training split", []):
        typer.echo(f"  targets {b['value']}: {b['n']} statements, macro-F1 {iv(b['macro_f1'])}")
    for note in r["notes"]:
        typer.echo(f"  note: {note}")
    typer.echo(f"report: {out / 'report.html'} (and report.md)")
    if r.get("mlflow"):
        typer.echo(f"MLflow run {r['mlflow']['run_id']}" + (f", linked to training run {r['source_run_id']}"
                                                          if r.get("source_run_id") else ""))


@app.command()
def compare(
    run_a: Annotated[str, typer.Argument(help="System A: MLflow run id (evaluation or training run), evaluation "
                                              "output folder, or predictions file.")],
    run_b: Annotated[str, typer.Argument(help="System B, the same kinds as A.")],
    method: Annotated[str, typer.Option("--method", help="bootstrap, randomisation, or both.")] = "both",
    metric: Annotated[str, typer.Option("--metric", help="macro_f1, f_avg or accuracy.")] = "macro_f1",
    rounds: Annotated[int, typer.Option("--rounds", help="Resamples / randomisation rounds.")] = 10_000,
    seed: SeedOpt = 0,
    unit: UnitOpt = "auto",
    dataset: Annotated[Path | None, typer.Option(
        "--dataset", help="Take gold labels from this dataset (default: the predictions' own gold column).")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Split of the runs' evaluations / of --dataset.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the result as JSON here.")] = None,
    tracking_uri: TrackingOpt = None,
    codebook: CodebookOpt = None,
) -> None:
    """Paired bootstrap and/or approximate randomisation test of the metric difference A - B on the same items."""
    from corpus.errors import write_text_atomic
    from evaluation.compare import compare as run
    from evaluation.compare import comparison_markdown

    try:
        c = run(run_a, run_b, method=method, metric=metric, n_resamples=rounds, seed=seed, unit=unit,
                dataset=dataset, split=split, codebook=codebook, tracking_uri=tracking_uri)
        if json_out:
            write_text_atomic(json_out, json.dumps(c, indent=2) + "\n")
    except NewsstanceError as e:
        fail(e)
    typer.echo(comparison_markdown(c), nl=False)


@app.command()
def leaderboard(
    experiment: Annotated[str | None, typer.Argument(help="MLflow experiment name or id (default: all).")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Only evaluations of this split.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the Markdown table to this file.")] = None,
    all_runs: Annotated[bool, typer.Option("--all", help="Every evaluation run, not only the newest per model, "
                                                         "dataset and split.")] = False,
    tracking_uri: TrackingOpt = None,
) -> None:
    """A Markdown table of evaluation runs with their scores and intervals, best macro-F1 first."""
    from corpus.errors import write_text_atomic
    from evaluation.compare import leaderboard as board
    from evaluation.compare import leaderboard_markdown

    try:
        text = leaderboard_markdown(board(experiment, split, tracking_uri, latest_only=not all_runs),
                                    f"Leaderboard{f' of {experiment}' if experiment else ''}")
        if out:
            write_text_atomic(out, text)
    except NewsstanceError as e:
        fail(e)
    typer.echo(text, nl=False)


@app.command()
def network(
    source: Annotated[Path, typer.Argument(help="Gold annotations (corpus folder, importer OUT, Label Studio export "
                                                "or task JSON), a dataset folder, or a statements/predictions "
                                                "JSON(L)/CSV/Parquet file.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: GraphML, CSV edge lists, network.png, "
                                                    "network.html (interactive, offline), network.json.")],
    gold: Annotated[Path | None, typer.Option("--gold", help="Gold source to score SOURCE against (same kinds).")
                    ] = None,
    split: Annotated[str | None, typer.Option("--split", help="For dataset sources: one split (default: all).")
                     ] = None,
    all_articles: Annotated[bool, typer.Option(
        "--all-articles", help="Score against all of gold, not only the articles SOURCE covers.")] = False,
    title: Annotated[str | None, typer.Option("--title", help="Title of the drawing (default: the data's name "
                                                              "and split).")] = None,
    placeholders: Annotated[bool, typer.Option("--placeholders", help="Also draw the placeholder holders "
                                               "(author), (unlisted) in the PNG (always kept in the files).")]
    = False,
    tracking_uri: Annotated[str | None, typer.Option(
        "--tracking-uri", help="Log the network (and score) to this MLflow store; default: only when "
                               "MLFLOW_TRACKING_URI is set.")] = None,
    experiment: Annotated[str | None, typer.Option("--experiment", help="MLflow experiment.")] = None,
    codebook: CodebookOpt = None,
) -> None:
    """Actor x policy-option discourse network (signed, weighted) and actor congruence/conflict networks."""
    from evaluation.network import network as run

    try:
        s = run(source, out, gold=gold, split=split, codebook=codebook, same_articles=not all_articles,
                tracking_uri=tracking_uri, experiment=experiment, title=title, placeholders=placeholders)
    except NewsstanceError as e:
        fail(e)
    n = s["network"]
    typer.echo(f"{n['actors']} actors, {n['policy_options']} policy options, {n['statements']} statements -> "
               f"{n['edges']} edges (+{n['positive_edges']} / -{n['negative_edges']} / ={n['ambivalent_edges']}); "
               f"congruence {n['congruence_edges']}, conflict {n['conflict_edges']} actor pairs")
    for note in s["notes"]:
        typer.echo(f"  note: {note}")
    for level, sc in (s.get("score") or {}).items():
        if isinstance(sc, dict):
            typer.echo(f"  {level} vs gold: edge P {sc['edge_precision']:.3f} R {sc['edge_recall']:.3f} "
                       f"F1 {sc['edge_f1']:.3f}, sign accuracy {sc['sign_accuracy']:.3f}, "
                       f"signed-edge F1 {sc['signed_edge_f1']:.3f}")
    typer.echo(f"network: {out / 'network.html'} (interactive; {out / 'network.png'}, GraphML and CSV beside it)")
    if s.get("mlflow"):
        typer.echo(f"MLflow run {s['mlflow']['run_id']}")


@app.command()
def extraction(
    pred: Annotated[list[Path], typer.Option("--pred", help="Statements JSON from `python -m training extract` "
                                                            "(repeat: one file per setting).")],
    dataset: Annotated[Path, typer.Option("--dataset", help="The dataset whose split is the gold (built with "
                                                            "candidates).")],
    out: Annotated[Path, typer.Option("--out", help="Output folder: extraction.json, report.md, report.html.")],
    split: Annotated[str, typer.Option("--split", help="The gold split.")] = "test",
    setting: Annotated[list[str] | None, typer.Option(
        "--setting", help="gold-entities | found-entities, one per --pred, for files that do not say (default: "
                          "the file's own 'setting').")] = None,
    resamples: Annotated[int, typer.Option("--resamples", min=1, help="Bootstrap resamples (article-clustered).")]
        = 1000,
    seed: Annotated[int, typer.Option("--seed", help="Bootstrap seed.")] = 0,
    human: Annotated[Path | None, typer.Option(
        "--human", help="Annotators' tasks (a corpus folder or importer OUT, e.g. the SEESAW import): the "
                        "annotator-vs-annotator figure with the same scorer, on the split's and on all "
                        "multiply-coded articles.")] = None,
    codebook: CodebookOpt = None,
) -> None:
    """Score extracted statements against gold: statement and pair P/R/F1, polarity accuracy, network scores."""
    from corpus.codebook import load_codebook
    from evaluation.extraction import score_extraction, write_report

    try:
        result = score_extraction(pred, dataset, split, setting or None, load_codebook(codebook), resamples, seed,
                                  human)
        files = write_report(result, out)
    except NewsstanceError as e:
        fail(e)
    for s in result["settings"]:
        st, pa = s["statements"], s["pairs"]
        typer.echo(f"{s['setting']}: statements P {st['precision']:.3f} R {st['recall']:.3f} F1 {st['f1']:.3f} "
                   f"({st['matched']} matched, {st['false']} false, {st['missed']} missed); pairs F1 {pa['f1']:.3f}; "
                   f"polarity accuracy {s['polarity']['point']:.3f} on {s['polarity']['pairs']} pairs")
        for note in s["notes"]:
            typer.echo(f"  note: {note}")
    for scope, h in (result.get("human") or {}).items():
        typer.echo(f"annotators ({scope}, {h['tasks']} tasks, {h['annotator_pairs']} pairs): statements F1 "
                   f"{h['statements']['f1']:.3f}, pairs F1 {h['pairs']['f1']:.3f}, "
                   f"polarity {h['polarity']['point']:.3f}")
    typer.echo(f"report: {files[1]} and {files[2]}")


def main() -> None:
    """Entry point of `python -m evaluation` and the `newsstance-evaluation` script."""
    run_cli(app)  # one line for a NewsstanceError or OSError that escapes a command
