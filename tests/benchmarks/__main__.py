"""`python -m tests.benchmarks [NAME ...]`: run the benchmarks and rewrite their sections of BENCHMARKS.md.

Each `tests/benchmarks/bench_<name>.py` has `main() -> str` returning a Markdown section. Sections live
between `<!-- bench:<name> -->` and `<!-- /bench:<name> -->` markers; other text in the file is kept.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
HEADER = """# Benchmarks

Produced by `make bench` (`python -m tests.benchmarks`); each section names the command that made it and
the machine. Speed and memory goals are checked here, never by timed assertions in tests.
"""


def _names() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def replace_section(document: str, name: str, body: str) -> str:
    """Put `body` between the markers of `name`, appending the section when it is new."""
    start, end = f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"
    block = f"{start}\n{body.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    if pattern.search(document):
        return pattern.sub(lambda _: block, document)
    return document.rstrip() + "\n\n" + block + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help=f"benchmarks to run (default all: {', '.join(_names())})")
    parser.add_argument("--out", type=Path, default=Path("BENCHMARKS.md"), help="Markdown file to update")
    args = parser.parse_args(argv)
    names = args.names or _names()
    unknown = sorted(set(names) - set(_names()))
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; have {', '.join(_names())}", file=sys.stderr)
        return 2
    document = args.out.read_text(encoding="utf-8") if args.out.exists() else HEADER
    for name in names:
        t0 = time.perf_counter()
        print(f"bench {name} ...", flush=True)
        body = importlib.import_module(f"tests.benchmarks.bench_{name}").main()
        stamp = f"\n\n_Run {time.strftime('%Y-%m-%d')} on {platform.machine()}, Python {platform.python_version()}, " \
                f"{time.perf_counter() - t0:.0f} s._"
        document = replace_section(document, name, body + stamp)
        args.out.write_text(document, encoding="utf-8")
    print(f"updated {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
