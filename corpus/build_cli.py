"""`python -m corpus build`: the typer command over `corpus.build.build_dataset` (registered by corpus.cli)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from corpus.errors import NewsstanceError


def build_command(
    sources: Annotated[list[Path] | None, typer.Argument(
        help="Corpus folders (articles/ + annotations/, e.g. an importer's OUT) or Label Studio JSON exports "
             "(a list of tasks). Default: the bundled corpus.", show_default=False)] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write (replaced atomically).")]
        = Path("var/dataset"),
    seed: Annotated[int, typer.Option(help="Seed of the split assignment (a reused manifest keeps its own).")]
        = 13,
    context_window: Annotated[int, typer.Option(
        "--context-window", "-k", min=0, help="Sentences added each side of the sentence(s) holding both mentions.")]
        = 0,
    manifest: Annotated[Path | None, typer.Option(
        help="Split manifest to reuse and update (default: OUT/splits.json of the previous build).")] = None,
    ratios: Annotated[str, typer.Option(help="Target shares of train,validation,test for new groups.")]
        = "0.8,0.1,0.1",
    split_by: Annotated[str, typer.Option(
        "--split-by", help="group: by story or event group (else article), keeping the source's splits; target: "
                           "whole targets (policy_label) held out, no target in two splits, for cross-target "
                           "scores (refused when the corpus has too few targets).")] = "group",
    agreement: Annotated[Path | None, typer.Option(
        help="Agreement figures (JSON from `python -m annotation agreement --json`) to put in the card.")] = None,
    codebook: Annotated[Path | None, typer.Option(help="Codebook YAML (default: the bundled one).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar while converting tasks.")] = True,
) -> None:
    """Convert Label Studio annotations to a Hugging Face dataset: statements, mentions and articles configs,
    grouped splits, a dataset card, a rejection report and a content digest."""
    from corpus.build import BuildOptions, build_dataset
    from corpus.splits import SPLITS, parse_ratios

    try:
        options = BuildOptions(out=out, sources=list(sources or []), seed=seed, context_window=context_window,
                               manifest=manifest, agreement=agreement, codebook=codebook,
                               ratios=parse_ratios(ratios), split_by=split_by)
        bar = None
        if progress and sys.stderr.isatty():
            from tqdm import tqdm

            def bar(items):  # type: ignore[no-untyped-def]
                return tqdm(items, desc="converting tasks", unit="task", leave=False)
        result = build_dataset(options, progress=bar)
    except NewsstanceError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(e.exit_code) from None
    except OSError as e:  # disk full, no permission: the dataset is written atomically, the old one stands
        typer.echo(f"error: {out}: could not write the dataset ({e.strerror or e}); nothing was replaced", err=True)
        raise typer.Exit(1) from None
    for config, sizes in result.sizes.items():
        typer.echo(f"{config:<11} " + "  ".join(f"{s} {sizes[s]}" for s in SPLITS))
    typer.echo("stances     " + "  ".join(f"{s}: " + (", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "-")
                                         for s, c in result.stance_counts.items()))
    superseded = result.rejected_by_reason.get("superseded", 0)
    typer.echo(f"relations   {result.relations_in} read = {sum(result.sizes['statements'].values())} converted + "
               f"{superseded} in superseded annotations + {result.rejected_relations - superseded} rejected")
    if result.rejections:
        typer.echo("rejections  " + ", ".join(f"{k} {v}" for k, v in result.rejections.most_common())
                   + f" (see {result.out / 'rejections.jsonl'})")
    for note in result.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"digest      {result.digest}")
    typer.echo(f"wrote {result.out} (card: {result.out / 'README.md'})")
