"""`python -m corpus import seesaw|table`: thin wrappers over the importers; errors are one line on stderr."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from corpus.errors import NewsstanceError

app = typer.Typer(help="Import an external annotated corpus into OUT/articles and OUT/annotations.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

OutOpt = Annotated[Path, typer.Option("--out", help="Folder to write: articles/, annotations/, import-report.jsonl "
                                                    "(statements kept without offsets, and why) and "
                                                    "import-summary.json. Written whole or not at all; an "
                                                    "existing folder is replaced only if an import made it.")]
CodebookOpt = Annotated[Path | None, typer.Option("--codebook", help="Codebook YAML (default: the bundled one).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bar; only the summary and errors.")]


def _fail(err: NewsstanceError) -> None:
    typer.echo(f"error: {err}", err=True)
    raise typer.Exit(err.exit_code)


def _progress(label: str):  # noqa: ANN202 - a closure over a tqdm bar
    from tqdm import tqdm

    bar = tqdm(desc=label, unit="doc", leave=False, disable=None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


@app.command("seesaw")
def seesaw(
    directory: Annotated[Path | None, typer.Argument(
        envvar="SEESAW_DIR", show_default=False,
        help="The release's SEESAW/ folder (articles/, annotations/, meta/). Default: $SEESAW_DIR; with "
             "--download and no such folder, the cached or downloaded release.")] = None,
    out: OutOpt = ...,  # type: ignore[assignment]
    download: Annotated[bool, typer.Option(
        "--download", help="Fetch the public release archive into --cache when DIR is not given or does not "
                           "exist (reuses an earlier download; needs network only the first time).")] = False,
    cache: Annotated[Path, typer.Option("--cache", help="Cache folder for the downloaded release.")] = Path(
        "var/cache/seesaw"),
    url: Annotated[str | None, typer.Option(
        "--url", envvar="SEESAW_URL", show_default=False,
        help="Release archive to download instead of GitHub's zip of launchnlp/SEESAW: an http(s) or file:// "
             "URL, or a local .zip path.")] = None,
    codebook: CodebookOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """SEESAW: 609 news articles with 10,619 sentence-level (subject, POS|NEG, object) statements."""
    from corpus.codebook import load_codebook
    from corpus.importers.download import fetch_seesaw
    from corpus.importers.seesaw import import_seesaw

    try:
        if directory is None or (download and not directory.exists()):
            if not download:
                raise NewsstanceError(None, "no SEESAW folder: pass DIR, set SEESAW_DIR, or add --download")
            directory = fetch_seesaw(cache, url)
        result = import_seesaw(directory, out, load_codebook(codebook),
                               progress=None if quiet else _progress("seesaw"))
    except NewsstanceError as e:
        _fail(e)
    typer.echo("\n".join(result.lines()))


@app.command("table")
def table(
    file: Annotated[Path, typer.Argument(help="A table: .csv, .tsv, .jsonl (one object per line) or .json (a list "
                                              "of objects). One article per distinct text.")],
    out: OutOpt = ...,  # type: ignore[assignment]
    text: Annotated[str, typer.Option("--text", help="Column holding the text.")] = ...,  # type: ignore[assignment]
    target: Annotated[str, typer.Option("--target", help="Column holding the stance target (a Policy span; a "
                                                         "codebook policy id is normalised to it).")] = ...,  # type: ignore[assignment]
    label: Annotated[str, typer.Option("--label", help="Column holding the stance label.")] = ...,  # type: ignore[assignment]
    actor: Annotated[str | None, typer.Option("--actor", help="Column holding who takes the stance (an Actor "
                                                              "span); rows without one: '(author)'.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="Column holding a group id (e.g. story or event); "
                                                              "a group never straddles splits.")] = None,
    split: Annotated[str | None, typer.Option("--split", help="Column holding the split: train, valid/validation"
                                                              "/val/dev, test.")] = None,
    label_map: Annotated[list[str] | None, typer.Option(
        "--map", help="RAW=LABEL: map a raw label to a codebook stance, repeatable "
                      "(e.g. --map FAVOR=support --map AGAINST=oppose --map NONE=neutral).")] = None,
    id_prefix: Annotated[str | None, typer.Option("--id-prefix", help="Article id prefix (default: the file "
                                                                      "name's slug).")] = None,
    source: Annotated[str, typer.Option("--source", help="Source or outlet of the texts.")] = "unknown",
    rights: Annotated[str, typer.Option("--rights", help="Rights or licence note of the source data.")] = "unknown",
    on_duplicate: Annotated[str, typer.Option(
        "--on-duplicate", help="A text in two splits (a leak): 'drop-train' keeps the test (else validation) copy "
                               "and drops the others, 'report' keeps all, 'error' refuses; each row concerned is "
                               "listed in import-report.jsonl.")] = "drop-train",
    codebook: CodebookOpt = None,
) -> None:
    """A generic (text, target, stance) table, the shape of most public stance data sets."""
    from corpus.codebook import load_codebook
    from corpus.importers.table import Columns, import_table, parse_label_map

    try:
        mapping = parse_label_map(label_map or [])
        result = import_table(file, out, Columns(text, target, label, actor, group, split), mapping,
                              load_codebook(codebook), id_prefix=id_prefix, source=source, rights=rights,
                              on_duplicate=on_duplicate)
    except NewsstanceError as e:
        _fail(e)
    typer.echo("\n".join(result.lines()))
    d = result.duplicates
    typer.echo(f"rows: {d['rows_read']} read, {d['rows_imported']} imported, {d['rows_dropped']} dropped as "
               f"copies of a held-out text; {d['texts_in_several_splits']} text(s) in several splits "
               f"(--on-duplicate {d['on_duplicate']}), {d['texts_in_several_groups']} under several groups"
               + (f" (listed in {result.report_path})" if d["rows_in_several_splits"] else ""))
