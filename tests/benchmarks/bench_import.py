"""Importer speed: `python -m corpus import seesaw` on the real release, and `import table` on a large table."""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SEESAW_DIR = Path(os.environ.get("SEESAW_DIR") or REPO.parent / "shared" / "datasets" / "seesaw" / "SEESAW")
TABLE_ROWS = 20_000


def _run(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `python -m corpus ...` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "corpus", *args], check=True, cwd=REPO, capture_output=True)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def _table(path: Path) -> None:
    rng = random.Random(0)
    names = ["Maria Lopez", "Tom Hale", "Claudia Sheinbaum", "Jane Roe"]
    targets = ["border wall", "carbon tax", "deploy American troops", "tax cuts"]
    with path.open("w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["text", "target", "stance", "speaker", "split"])
        for i in range(TABLE_ROWS):
            who, what = rng.choice(names), rng.choice(targets)
            out.writerow([f"Item {i}: {who} spoke about the {what} on day {i % 365}.", what,
                          rng.choice(["FAVOR", "AGAINST", "NONE"]), who, rng.choice(["train", "dev", "test"])])


def main() -> str:
    lines = ["## Importers", "", "Machine: 2 cores, 24 GiB, CPU. Each command timed end to end in a child process "
             "(start-up included); peak RSS of that process.", "",
             "| command | input | wall s | items/s | peak RSS MiB |", "|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        if (SEESAW_DIR / "annotations").is_dir():
            out = Path(tmp) / "seesaw"
            wall, rss = _run(["import", "seesaw", str(SEESAW_DIR), "--out", str(out)])
            summary = json.loads((out / "import-summary.json").read_text())
            n = summary["statements"]
            lines.append(f"| `python -m corpus import seesaw $SEESAW_DIR --out OUT` | {summary['articles']} articles, "
                         f"{n:,} statements | {wall:.1f} | {n / wall:,.0f} statements | {rss:.0f} |")
            located = summary["with_offsets"]
            strategies = ", ".join(f"{k} {v:,}" for k, v in summary["by_strategy"].items())
            reasons = ", ".join(f"{k} {v:,}" for k, v in summary["without_offsets"].items())
            note = (f"\nSEESAW: {located:,} of {n:,} statements ({100 * located / n:.1f}%) got character offsets for "
                    f"both mentions (by the weaker of the two strategies: {strategies}); the rest are kept as "
                    f"statements with their sentence as context ({reasons}).")
        else:
            note = f"\nSEESAW not found at {SEESAW_DIR}: its row was skipped."
        table = Path(tmp) / "big.csv"
        _table(table)
        wall, rss = _run(["import", "table", str(table), "--out", str(Path(tmp) / "table"), "--text", "text",
                          "--target", "target", "--label", "stance", "--actor", "speaker", "--split", "split",
                          "--map", "FAVOR=support", "--map", "AGAINST=oppose", "--map", "NONE=neutral"])
        lines.append(f"| `python -m corpus import table big.csv --out OUT --text text --target target --label "
                     f"stance --actor speaker --split split --map ...` | {TABLE_ROWS:,} generated rows | {wall:.1f} | "
                     f"{TABLE_ROWS / wall:,.0f} rows | {rss:.0f} |")
    return "\n".join(lines) + "\n" + note + "\n\nCommand: `python -m tests.benchmarks import`."
