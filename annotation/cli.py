"""`python -m annotation`: serve Label Studio, push, pull, validate, agreement, adjudicate, prelabel, round.
Thin wrappers over library calls; a NewsstanceError becomes one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from corpus.errors import NewsstanceError, run_cli

app = typer.Typer(help="Annotation in Label Studio: serve (a local server, the project created and the corpus "
                       "pushed), push, pull, validate an export, agreement, adjudicate into gold, guidelines, "
                       "the labelling config, prelabel (pre-annotation and the uncertainty queue), one "
                       "model-in-the-loop round, and a browser check of the editor.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

UrlOpt = Annotated[str | None, typer.Option(
    "--url", help="Label Studio URL (default: $LABEL_STUDIO_URL, .env, else http://127.0.0.1:8080). The token "
                  "comes from $LABEL_STUDIO_USER_TOKEN (alias $LABEL_STUDIO_API_KEY) or .env, never from the "
                  "command line.")]
ProjectOpt = Annotated[str, typer.Option("--project", help="Label Studio project title.")]
CodebookOpt = Annotated[Path | None, typer.Option("--codebook", help="Codebook YAML (default: the bundled one).")]


def fail(err: NewsstanceError) -> NoReturn:
    """Print one line and exit non-zero."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _client(url: str | None) -> Any:
    from annotation.client import LabelStudioClient, resolve_connection

    return LabelStudioClient(resolve_connection(url))


def _codebook(path: Path | None) -> Any:
    from corpus.codebook import load_codebook

    return load_codebook(path)


def _write_json(path: Path, obj: Any) -> None:
    from corpus.errors import write_text_atomic

    write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1.")] = 8080,
    data_dir: Annotated[Path | None, typer.Option(help="Label Studio's data folder (default: var/label-studio; "
                                                       "created mode 0700, one `serve` at a time).")]
    = None,
    push: Annotated[bool, typer.Option("--push/--no-push", help="Create the project from the codebook and push the "
                                       "bundled corpus (idempotent: a second start adds nothing); --no-push only "
                                       "starts the server.")] = True,
    project: ProjectOpt = "newsstance",
) -> None:
    """Install Label Studio into .ls-venv if missing, start it on 127.0.0.1, create the project and push the
    bundled corpus, print the first task's URL and the login, and wait; Ctrl-C or SIGTERM stops it."""
    import signal

    from annotation import server

    def _stop(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    # SIGTERM (from kill, make, a supervisor) and SIGHUP (terminal closed) end the server like Ctrl-C does; SIGINT
    # is set explicitly too, since a process started in the background by a shell inherits it ignored (and
    # Python then installs no KeyboardInterrupt for it), yet this command promises that Ctrl-C stops it.
    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    lock = server.DataDirLock(data_dir or server.DEFAULT_DATA_DIR)
    ls = None
    try:
        try:
            lock.acquire()
            if not server.venv_ready():
                typer.echo(f"installing label-studio=={server.LABEL_STUDIO_VERSION} into {server.DEFAULT_VENV} "
                           "(once; about a minute)...")
            server.ensure_venv()
            creds = server.load_credentials()
            ls = server.LabelStudioServer(creds, port=port, data_dir=data_dir or server.DEFAULT_DATA_DIR)
            fresh = not (ls.data_dir / server.DATABASE).exists()
            typer.echo(f"starting Label Studio on {ls.url} (data in {ls.data_dir}, log in {ls.log_path}"
                       + ("; a fresh data folder takes about a minute" if fresh else "") + ")...")
            ls.start()
            waited = ls.wait_healthy()
            ready = None
            if push:
                typer.echo(f"pushing the bundled corpus into project {project!r}...")
                ready = server.prepare_project(ls.url, creds.token, project=project)
        except NewsstanceError as e:
            fail(e)
        source = "the environment" if _creds_from_env() else str(server.DEFAULT_ENV_FILE)
        lines = [f"Label Studio is up at {ls.url} (healthy after {waited:.0f} s)"]
        if ready is not None:
            lines.append(f"  project {ready.title!r}: {'created, ' if ready.created else ''}{ready.new_tasks} new "
                         f"task(s), {ready.tasks} in all")
            if ready.first_task_url:
                lines.append(f"  first task: {ready.first_task_url}")
        lines += [f"  log in as {creds.username}; the password is LABEL_STUDIO_PASSWORD in {source}",
                  f"  API token: LABEL_STUDIO_USER_TOKEN in {source} (the annotation commands read it)"]
        if port != 8080:
            lines.append(f"  other commands reach it with --url {ls.url} or LABEL_STUDIO_URL={ls.url}")
        lines.append("  press Ctrl-C to stop")
        typer.echo("\n".join(lines))
        assert ls.process is not None
        code = ls.process.wait()
        typer.echo(f"error: Label Studio exited with code {code}; see {ls.log_path}", err=True)
        raise typer.Exit(3)
    except KeyboardInterrupt:
        if ls is not None and ls.process is not None:
            typer.echo("stopping Label Studio...")
    finally:
        # Stop the server even if a second signal (another Ctrl-C) arrives while stopping.
        previous.setdefault(signal.SIGINT, signal.getsignal(signal.SIGINT))
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)
        if ls is not None:
            ls.stop()
        lock.release()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _creds_from_env() -> bool:
    import os

    return all(os.environ.get(k) for k in ("LABEL_STUDIO_USERNAME", "LABEL_STUDIO_PASSWORD",
                                            "LABEL_STUDIO_USER_TOKEN"))


@app.command()
def push(
    project: ProjectOpt = "newsstance",
    source: Annotated[Path | None, typer.Option(help="Corpus folder with articles/ (and annotations/): the "
                                                     "bundled corpus by default, or an importer's OUT.")] = None,
    with_annotations: Annotated[bool, typer.Option("--with-annotations", help="Also load the folder's existing "
                                                   "annotations (gold, imported) onto new tasks.")] = False,
    prelabel: Annotated[list[str] | None, typer.Option(help="Pre-annotate new tasks: 'gazetteer' (codebook "
                                                            "aliases), uploaded as predictions.")] = None,
    batch_size: Annotated[int, typer.Option(help="Tasks per import request.")] = 100,
    update_config: Annotated[bool, typer.Option("--update-config", help="Replace the project's labelling config "
                                                "and instructions with the codebook's where they differ.")]
    = False,
    dedupe: Annotated[bool, typer.Option("--dedupe", help="Delete duplicate tasks of an article's text that carry "
                                         "no annotations (a copy with annotations is never deleted); without it "
                                         "duplicates are only reported.")] = False,
    codebook: CodebookOpt = None,
    url: UrlOpt = None,
) -> None:
    """Create or update the project and import new or changed articles as tasks (idempotent; pushes to one
    project wait for each other)."""
    from tqdm import tqdm

    from annotation.push import push as do_push
    from corpus.store import BUNDLED_ROOT

    try:
        with tqdm(unit="task", desc="push", leave=False, disable=None) as bar:
            report = do_push(_client(url), _codebook(codebook), source or BUNDLED_ROOT, project,
                             with_annotations=with_annotations, prelabel=prelabel or [], batch_size=batch_size,
                             update_config=update_config, progress=bar.update, dedupe=dedupe)
    except NewsstanceError as e:
        fail(e)
    if report.config_differs and not report.config_updated:
        what = "; ".join(report.config_problems) or "hints, colours or instructions only"
        typer.echo(f"warning: project {project!r}'s labelling config differs from the codebook ({what}); "
                   "run push again with --update-config to update it", err=True)
    typer.echo(f"project {project!r} (id {report.project_id}{', created' if report.created_project else ''}"
               f"{', config updated' if report.config_updated else ''}): {report.new} new, {report.changed} "
               f"changed, {report.unchanged} unchanged of {report.articles} articles; {report.annotations} "
               f"annotations, {report.predictions} predictions; {report.tasks_on_server} tasks on the server"
               + (f"; {sum(report.duplicates.values())} duplicates" if report.duplicates else ""))
    for note in report.notes:
        typer.echo(f"{'warning' if 'duplicate' in note and not dedupe else 'note'}: {note}")


@app.command()
def pull(
    project: ProjectOpt = "newsstance",
    out: Annotated[Path | None, typer.Option(help="Exports folder (default: corpus/annotations/exports).")] = None,
    url: UrlOpt = None,
) -> None:
    """Export the project as a snapshot (full predictions) into a new file, never overwriting one."""
    from annotation.pull import DEFAULT_EXPORTS
    from annotation.pull import pull as do_pull

    try:
        report = do_pull(_client(url), project, out or DEFAULT_EXPORTS)
    except NewsstanceError as e:
        fail(e)
    except OSError as e:  # disk full, no permission: exports are written atomically, earlier ones stand
        typer.echo(f"error: {out or DEFAULT_EXPORTS}: could not write the export ({e.strerror or e}); earlier "
                   "exports are untouched", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {report.path}: {report.tasks} tasks ({report.annotated_tasks} annotated), "
               f"{report.annotations} annotations, {report.predictions} predictions; sha256 {report.sha256[:12]}")


@app.command()
def agreement(
    export: Annotated[Path, typer.Argument(help="A pulled export, a task file, or a corpus/importer folder.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the report as JSON here.")] = None,
    include_ground_truth: Annotated[bool, typer.Option(
        "--include-ground-truth", help="Count ground-truth annotations as an annotator too.")] = False,
    codebook: CodebookOpt = None,
) -> None:
    """Inter-annotator agreement on tasks coded by two or more annotators."""
    from annotation.agreement import compute_agreement, format_report
    from annotation.export import load_tasks

    try:
        report = compute_agreement(load_tasks(export), _codebook(codebook), include_ground_truth)
        if json_out:
            _write_json(json_out, report)
    except NewsstanceError as e:
        fail(e)
    typer.echo(format_report(report), nl=False)


@app.command()
def adjudicate(
    export: Annotated[Path, typer.Argument(help="A pulled export, a task file, or a corpus/importer folder.")],
    out: Annotated[Path, typer.Option("--out", help="GOLD: the adjudicated tasks (JSON list, one annotation "
                                                    "each).")],
    review: Annotated[Path | None, typer.Option(help="Review list (default: GOLD with .review.json).")] = None,
    push_disagreements: Annotated[bool, typer.Option(
        "--push-disagreements", help="Upload conflicts as predictions (model_version 'disagreement') to the "
                                     "project named by --project.")] = False,
    project: Annotated[str | None, typer.Option(help="Project for --push-disagreements.")] = None,
    codebook: CodebookOpt = None,
    url: UrlOpt = None,
) -> None:
    """Gold per task: ground truth wins, else a majority per statement; ties and conflicts go to review."""
    from annotation.adjudicate import adjudicate as do_adjudicate
    from annotation.adjudicate import disagreement_predictions
    from annotation.export import load_tasks

    try:
        if push_disagreements and not project:
            raise NewsstanceError("--push-disagreements", "needs --project NAME")
        cb = _codebook(codebook)
        source = load_tasks(export)
        result = do_adjudicate(source, cb)
        review_path = review or out.with_suffix(".review.json")
        _write_json(out, result.gold)
        _write_json(review_path, {"summary": result.summary(), "review": result.review,
                                  "skipped_tasks": result.skipped, "issues": [i.as_dict() for i in result.issues]})
        pushed = 0
        if push_disagreements:
            from annotation.push import push_predictions

            pushed = push_predictions(_client(url), project or "", disagreement_predictions(source, result, cb))
    except NewsstanceError as e:
        fail(e)
    s = result.summary()
    typer.echo(f"wrote {out}: {s['gold_tasks']} tasks, {s['statements']} statements ({s['methods']}); "
               f"{s['review_items']} items for review {s['review_by_kind']} in {review_path}")
    if push_disagreements:
        typer.echo(f"pushed {pushed} disagreement predictions to project {project!r}")


@app.command()
def validate(
    export: Annotated[Path, typer.Argument(help="A pulled export, a task file, or a corpus/importer folder.")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Also write the issues as JSON here.")] = None,
    codebook: CodebookOpt = None,
) -> None:
    """Check an export against the codebook and its texts; every problem is reported with task id and reason."""
    from annotation.export import load_tasks, validate_tasks

    try:
        source = load_tasks(export)
        issues = validate_tasks(source.tasks, _codebook(codebook), source.users)
        if json_out:
            _write_json(json_out, [i.as_dict() for i in issues])
    except NewsstanceError as e:
        fail(e)
    for issue in issues:
        typer.echo(issue.line())
    errors = sum(i.severity == "error" for i in issues)
    typer.echo(f"{len(source.tasks)} tasks: {errors} errors, {len(issues) - errors} warnings")
    if errors:
        raise typer.Exit(1)


@app.command()
def guidelines(
    check: Annotated[bool, typer.Option("--check", help="Only check that GUIDELINES.md is up to date.")] = False,
    codebook: CodebookOpt = None,
) -> None:
    """Write annotation/GUIDELINES.md from the codebook (or check it)."""
    from annotation.guidelines import GUIDELINES_PATH, guidelines_markdown
    from corpus.errors import write_text_atomic

    try:
        text = guidelines_markdown(_codebook(codebook))
    except NewsstanceError as e:
        fail(e)
    current = GUIDELINES_PATH.read_text(encoding="utf-8") if GUIDELINES_PATH.is_file() else ""
    if check:
        if current != text:
            typer.echo(f"error: {GUIDELINES_PATH}: out of date; run `python -m annotation guidelines`", err=True)
            raise typer.Exit(1)
        typer.echo(f"{GUIDELINES_PATH} is up to date")
        return
    if current != text:
        write_text_atomic(GUIDELINES_PATH, text)
    typer.echo(f"wrote {GUIDELINES_PATH}")


@app.command("browser-check")
def browser_check(
    project: ProjectOpt = "newsstance",
    task: Annotated[int | None, typer.Option(help="Task id (default: the project's first task).")] = None,
    screenshot: Annotated[Path, typer.Option(help="Where to save the screenshot.")]
    = Path("var/screenshots/label-studio-editor.png"),
    url: UrlOpt = None,
) -> None:
    """Open a task in the labelling editor in headless Chromium, report what it shows, save a screenshot."""
    from annotation.browser_check import check_editor
    from annotation.server import load_credentials

    try:
        client = _client(url)
        found = client.find_project(project)
        if found is None:
            raise NewsstanceError("--project", f"no project titled {project!r} on {client.url}")
        task_id = task or next((t["id"] for t in client.iter_tasks(found["id"])), None)
        if task_id is None:
            raise NewsstanceError("--project", f"project {project!r} has no tasks; push first")
        creds = load_credentials(create=False)
        view = check_editor(client.base_url, creds.username, creds.password, found["id"], task_id, screenshot)
    except NewsstanceError as e:
        fail(e)
    typer.echo(f"opened {view.url}: label buttons {view.labels}, {len(view.highlights)} regions on the text "
               f"(first: {view.highlights[:3]}); screenshot {view.screenshot}")


@app.command("config")
def label_config(codebook: CodebookOpt = None) -> None:
    """Print the Label Studio labelling config generated from the codebook."""
    from annotation.label_config import build_label_config

    try:
        typer.echo(build_label_config(_codebook(codebook)), nl=False)
    except NewsstanceError as e:
        fail(e)


@app.command()
def prelabel(
    model: Annotated[str, typer.Option(help="Detector or stance model folder or MLflow URI "
                                            "(models:/newsstance-detector@champion). A detector pre-fills only "
                                            "the pairs it detects as statements; a stance model, every pair.")],
    tagger: Annotated[str | None, typer.Option(help="Span tagger folder or MLflow URI (default: the codebook's "
                                                    "alias gazetteer).")] = None,
    project: ProjectOpt = "newsstance",
    batch_size: Annotated[int, typer.Option(min=1, help="Tasks per extraction batch and upload request.")] = 32,
    strategy: Annotated[str, typer.Option(help="Uncertainty per pair: margin, entropy or least_confidence.")]
        = "margin",
    window: Annotated[int, typer.Option(min=1, help="Pair mentions at most WINDOW-1 sentences apart.")] = 1,
    replace: Annotated[bool, typer.Option(help="Redo tasks that already hold this model version's prediction.")]
        = False,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI for models:/ URIs.")] = None,
    url: UrlOpt = None,
) -> None:
    """Pre-annotate unannotated tasks (spans, canonical choices, stance relations, scores) and queue them by
    uncertainty (uncertainty sampling + a Data Manager tab ordered by prediction score)."""
    from tqdm import tqdm

    from annotation.prelabel import prelabel as do_prelabel
    from annotation.queue import queue_markdown

    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        r = do_prelabel(model, tagger, project, url=url, tracking_uri=tracking_uri, batch_size=batch_size,
                        strategy=strategy, window=window, replace=replace,
                        progress=lambda b: tqdm(b, unit="batch", desc="prelabel", leave=False, disable=None))
    except NewsstanceError as e:
        fail(e)
    typer.echo(f"project {project!r}: {r.predictions} task(s) pre-labelled with {r.model_version} ({r.spans} spans, "
               f"{r.relations} relations, {r.none_pairs} of {r.pairs} pairs detected as none and left without one, "
               f"{r.tasks_per_second:.2f} tasks/s); skipped {r.skipped_annotated} "
               f"annotated, {r.skipped_predicted} already pre-labelled")
    for line in r.rejected:
        typer.echo(f"warning: not uploaded: {line}", err=True)
    if r.queue:
        typer.echo(queue_markdown(r.queue, limit=10))


@app.command("round")
def round_(
    project: ProjectOpt = "newsstance",
    config: Annotated[str, typer.Option(help="Stance training config (path or bundled name).")] = "minilm",
    set_: Annotated[list[str] | None, typer.Option("--set", help="Override a stance config field; repeatable.")]
        = None,
    tagger_config: Annotated[str | None, typer.Option(help="Also train a tagger with this config (tagger, "
                                                           "tagger_tiny, a path).")] = None,
    tagger: Annotated[str | None, typer.Option(help="An existing tagger to prelabel with when none is trained.")]
        = None,
    source: Annotated[list[Path] | None, typer.Option(help="Extra build sources besides the pulled export "
                                                           "(e.g. an importer's OUT); repeatable.")] = None,
    out: Annotated[Path | None, typer.Option(help="Round folder (default var/rounds/<UTC time>).")] = None,
    exports: Annotated[Path | None, typer.Option(help="Exports folder for the pull.")] = None,
    split: Annotated[str, typer.Option(help="Split to evaluate on (skipped, with a note, when empty).")] = "test",
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI.")] = None,
    url: UrlOpt = None,
) -> None:
    """One model-in-the-loop round: pull, report what annotators kept of the last pre-annotations, build,
    train, evaluate, prelabel; logged as one MLflow run (experiment newsstance-rounds)."""
    from annotation.rounds import RoundOptions, run_round

    logging.getLogger("transformers").setLevel(logging.ERROR)
    try:
        r = run_round(RoundOptions(project=project, stance_config=config, stance_overrides=set_ or [],
                                   tagger_config=tagger_config, tagger=tagger, sources=source or [], out=out,
                                   exports=exports, evaluate_split=split, tracking_uri=tracking_uri, url=url))
    except NewsstanceError as e:
        fail(e)
    typer.echo(r.markdown())
    typer.echo(f"wrote {r.out / 'round.md'}")


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    run_cli(app)  # one line for a NewsstanceError or OSError that escapes a command
