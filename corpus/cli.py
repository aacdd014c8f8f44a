"""`python -m corpus`: add, validate, inspect, import and build the corpus. Thin wrappers over library calls."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus.build_cli import build_command
from corpus.errors import NewsstanceError, run_cli
from corpus.importers.cli import app as import_app

app = typer.Typer(help="The newsstance corpus: articles, gold annotations, importers and the dataset build.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
app.add_typer(import_app, name="import")
app.command("build")(build_command)

RootOpt = Annotated[Path, typer.Option("--root", help="Corpus folder holding articles/ and annotations/.")]
CodebookOpt = Annotated[Path | None, typer.Option("--codebook", help="Codebook YAML (default: the bundled one).")]


def fail(err: NewsstanceError) -> None:
    """Print one line and exit non-zero; the CLI's only way of reporting bad input."""
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _bundled() -> Path:
    from corpus.store import BUNDLED_ROOT

    return BUNDLED_ROOT


@app.command()
def add(
    files: Annotated[list[Path], typer.Argument(help="Article files: .txt/.md (line 1 headline, line 2 standfirst, "
                                                     "then body), .html, .json (object or list), .jsonl.")],
    source: Annotated[str, typer.Option(help="Outlet or source name, for articles that do not give one.")] = "unknown",
    url: Annotated[str, typer.Option(help="URL of the article.")] = "unknown",
    date: Annotated[str, typer.Option(help="Publication date, YYYY-MM-DD.")] = "unknown",
    language: Annotated[str, typer.Option(help="ISO 639-1 language code.")] = "en",
    rights: Annotated[str, typer.Option(help="Rights or licence note.")] = "unknown",
    article_id: Annotated[str | None, typer.Option("--id", help="Article id (one file only); default: from the "
                                                                 "file name.")] = None,
    root: RootOpt = None,  # type: ignore[assignment]
    max_size: Annotated[float, typer.Option("--max-size", min=0.001, help="Largest article accepted, in MB of "
                                                                          "UTF-8 text.")] = 5.0,
) -> None:
    """Add articles to the corpus store; every file is checked before anything is written. NUL and other
    control characters, bidirectional overrides and zero-width spaces are removed from the text (and counted)."""
    from corpus.ingest import Metadata, add_files
    from corpus.store import CorpusStore

    try:
        meta = Metadata(source=source, url=url, published=date, language=language, rights=rights)
        result = add_files(files, CorpusStore(root or _bundled()), meta, article_id=article_id, max_mb=max_size)
    except NewsstanceError as e:
        fail(e)
    for article_id_, path in zip(result.added, result.paths, strict=True):
        typer.echo(f"added {article_id_} -> {path}")
    for article_id_, n in result.removed.items():
        typer.echo(f"note: {article_id_}: removed {n} invisible control characters (NUL, bidirectional overrides, "
                   "zero-width spaces)")


@app.command()
def validate(root: RootOpt = None, codebook: CodebookOpt = None) -> None:  # type: ignore[assignment]
    """Check articles (schema, checksums) and annotations (span offsets and texts, codebook labels)."""
    from corpus.codebook import load_codebook
    from corpus.store import CorpusStore
    from corpus.validate import validate_store

    try:
        report = validate_store(CorpusStore(root or _bundled()), load_codebook(codebook))
    except NewsstanceError as e:
        fail(e)
    for problem in report.problems:
        typer.echo(f"error: {problem}", err=True)
    typer.echo(f"{report.articles} articles, {report.tasks} annotation files, {report.annotations} annotations, "
               f"{report.spans} spans, {report.relations} relations, {report.statements} statements without "
               f"offsets: {'OK' if report.ok else f'{len(report.problems)} problems'}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
def stats(root: RootOpt = None) -> None:  # type: ignore[assignment]
    """Print counts: articles, annotations, spans, stances, top actors and policy options."""
    from corpus.stats import corpus_stats
    from corpus.store import CorpusStore

    try:
        s = corpus_stats(CorpusStore(root or _bundled()))
    except NewsstanceError as e:
        fail(e)
    typer.echo(f"articles        {s.articles}  ({', '.join(f'{k} {v}' for k, v in sorted(s.splits.items()))})")
    typer.echo(f"annotation files {s.tasks}; annotations {s.annotations} ({s.ground_truth} ground truth)")
    typer.echo(f"annotators      {', '.join(f'{k} {v}' for k, v in s.annotators.most_common())}")
    typer.echo(f"spans           {', '.join(f'{k} {v}' for k, v in sorted(s.spans.items()))}")
    typer.echo(f"stances         {', '.join(f'{k} {v}' for k, v in s.stances.most_common())} "
               f"(total {sum(s.stances.values())})")
    typer.echo(f"top actors      {', '.join(f'{k} {v}' for k, v in s.actors.most_common(8))}")
    typer.echo(f"top targets     {', '.join(f'{k} {v}' for k, v in s.policies.most_common(8))}")


def main() -> None:
    """Entry point of `python -m corpus` and the `newsstance-corpus` script."""
    run_cli(app)  # one line for a NewsstanceError or OSError that escapes a command
