"""Run the reliability suite and write RELIABILITY.md from its results (not by hand).

    python -m tests.reliability.report [--out RELIABILITY.md] [-- extra pytest args]

pytest runs `tests/reliability` with a JUnit XML report; each test records what happened in it
(`record_property`: the error line a user saw, the fault injected and its outcome, records in/out/rejected/lost),
and this script turns those into the tables and counts of RELIABILITY.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SUITE = "tests/reliability"


@dataclass
class Case:
    """One test case from the JUnit report."""

    module: str
    name: str
    outcome: str  # passed, failed, skipped, xfailed
    seconds: float
    message: str = ""
    props: dict[str, str] = field(default_factory=dict)

    @property
    def param(self) -> str:
        return self.name.split("[", 1)[1].rstrip("]") if "[" in self.name else ""


def run_suite(junit: Path, extra: list[str]) -> tuple[int, float, str]:
    """pytest over the suite with a JUnit report (xunit1 keeps the recorded properties); (exit code, s, tail)."""
    cmd = [sys.executable, "-m", "pytest", SUITE, "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
           f"--junitxml={junit}", "-q", "-rfEX", *extra]
    started = time.monotonic()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False,
                          env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
    return done.returncode, time.monotonic() - started, tail


def read_junit(path: Path) -> list[Case]:
    cases = []
    for tc in ET.parse(path).getroot().iter("testcase"):  # noqa: S314 - our own pytest run wrote it
        outcome, message = "passed", ""
        for child in tc:
            if child.tag in ("failure", "error"):
                outcome, message = "failed", (child.get("message") or "")[:300]
            elif child.tag == "skipped":
                xfail = (child.get("type") or "") == "pytest.xfail"
                outcome, message = ("xfailed" if xfail else "skipped"), child.get("message") or ""
        props = {p.get("name", ""): p.get("value", "") for p in tc.iter("property")}
        cases.append(Case(tc.get("classname", "").rsplit(".", 1)[-1], tc.get("name", ""), outcome,
                          float(tc.get("time") or 0), message, props))
    return cases


def _cell(text: str) -> str:
    """A table cell: one line, pipes escaped, machine-specific paths shortened."""
    text = re.sub(r"/tmp/pytest-of-[^/]+/pytest-\d+/", "$PYTEST_TMP/", text).replace(f"{REPO}/", "")
    return text.replace("|", "\\|").replace("\n", " ").strip()


def _mark(outcome: str) -> str:
    return {"passed": "ok", "failed": "**FAILED**", "xfailed": "known gap", "skipped": "skipped"}[outcome]


LIMITS = """## Scope and limits

- Label Studio and MLflow are real servers on 127.0.0.1 (the session fixtures, plus a Label Studio of the
  faults module's own that is SIGKILLed and restarted on the same data). 5xx answers, timeouts and lost
  answers come from `tests/fixtures/fault_proxy.py`, a bounded proxy on loopback in front of the real server.
- A kill during a request is a race by nature: the batch may or may not have been committed before the server
  died. Both outcomes are checked the same way: a second push leaves every article exactly once.
- Disk-full and I/O errors are simulated by making the write raise ENOSPC/EIO in the process (not a real full
  disk); what is checked is that the atomic write leaves the previous version and no temporary file.
- Retries are visible: the CLI prints one `WARNING: ... retrying in N s` line per retry before its one error line.
- The secrets scan covers what the project writes (console output, DEBUG logs of every library, files under the
  run's folders, the MLflow store, files under git); Label Studio's own database and log are not ours to scan.
"""


def render(cases: list[Case], command: str, code: int, seconds: float, when: datetime | None = None) -> str:
    by_module: dict[str, list[Case]] = {}
    for c in cases:
        by_module.setdefault(c.module, []).append(c)
    outcomes = Counter(c.outcome for c in cases)
    # bad input: every case of test_bad_input, and any other module's case that ran an entry point on bad input
    bad = [c for c in by_module.get("test_bad_input", [])] + [
        c for c in cases if c.module != "test_bad_input" and "entry" in c.props and "behaviour" in c.props
        and "fault" not in c.props]
    faults = [c for c in cases if "fault" in c.props]
    props = [c for c in by_module.get("test_properties", []) if "examples" in c.props]
    lost = sum(int(c.props.get("records_lost", 0)) for c in cases)
    records_in = sum(int(c.props.get("records_in", 0)) for c in props)
    gaps = [c for c in cases if c.outcome == "xfailed"]
    failed = [c for c in cases if c.outcome == "failed"]
    lines = [
        "# Reliability and security",
        "",
        "Generated by `python -m tests.reliability.report` from one run of the reliability suite; do not edit by hand.",
        "",
        f"- Command: `{command}` (exit {code}, {seconds / 60:.1f} min)",
        f"- Run: {when or datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {os.cpu_count()} cores, {platform.system()} "
        f"{platform.machine()}, Python {platform.python_version()}, CPU only",
        f"- Tests: {len(cases)} ({outcomes['passed']} passed, {outcomes['xfailed']} known gaps, "
        f"{outcomes['skipped']} skipped, {outcomes['failed']} failed)",
        "",
        "## The counts",
        "",
        "| what | count |",
        "|---|---|",
        f"| bad-input cases (distinct malformed inputs, every entry point) | {len(bad)} "
        f"({sum(c.outcome == 'passed' for c in bad)} one-line error, non-zero exit, nothing written; "
        f"{sum(c.outcome == 'xfailed' for c in bad)} known gaps) |",
        f"| generated exports checked (hypothesis examples) | {sum(int(c.props['examples']) for c in props)} |",
        f"| relations and statements in those exports | {records_in} "
        f"(converted {sum(int(c.props.get('converted', 0)) for c in props)}, "
        f"reported {sum(int(c.props.get('rejected', 0)) for c in props)}) |",
        f"| faults injected | {len(faults)} |",
        f"| faults survived | {sum(c.outcome == 'passed' for c in faults)} |",
        f"| secrets found in outputs | {sum(int(c.props.get('leaks', 0)) for c in cases)} |",
        f"| records lost | **{lost}** |",
        "",
    ]
    lines += ["## Bad input", "", "Each case runs the real CLI; the message is what the user saw ($TMP is the "
              "case's temporary folder).", "", "| entry point | case | what happens | result |", "|---|---|---|---|"]
    for c in bad:
        what = c.props.get("behaviour") or c.message
        lines.append(f"| `{_cell(c.props.get('entry', c.name))}` | {_cell(c.param or c.name)} | {_cell(what)} | "
                     f"{_mark(c.outcome)} |")
    lines += ["", "## Generated exports (hypothesis)", "", "| property | examples | records in | converted | reported "
              "| lost | result |", "|---|---|---|---|---|---|---|"]
    for c in by_module.get("test_properties", []):
        p = c.props
        lines.append(f"| {_cell(c.name)} | {p.get('examples', '-')} | {p.get('records_in', '-')} | "
                     f"{p.get('converted', '-')} | {p.get('rejected', '-')} | {p.get('records_lost', '-')} | "
                     f"{_mark(c.outcome)} |")
    lines += ["", "## Faults (real servers on 127.0.0.1)", "", "| fault | what happens | records lost | result |",
              "|---|---|---|---|"]
    for c in faults:
        lines.append(f"| {_cell(c.props['fault'])} | {_cell(c.props.get('outcome') or c.message)} | "
                     f"{c.props.get('records_lost', '-')} | {_mark(c.outcome)} |")
    lines += ["", "## Secrets and data safety", "", "| check | detail | result |", "|---|---|---|"]
    shown = {id(c) for c in bad}
    checks = by_module.get("test_secrets", []) + [c for c in by_module.get("test_data_safety", [])
                                                  if "fault" not in c.props]
    checks += [c for c in cases if c.module not in ("test_secrets", "test_data_safety", "test_bad_input")
               and "fault" not in c.props and id(c) not in shown
               and any(k in c.props for k in ("checked", "check", "scanned", "listening"))]
    for c in checks:
        detail = (c.props.get("scanned") or c.props.get("listening") or c.props.get("checked")
                  or c.props.get("check") or "")
        lines.append(f"| {_cell(c.name)} | {_cell(detail)} | {_mark(c.outcome)} |")
    lines += ["", LIMITS.rstrip(), "", "## Known gaps", ""]
    lines += [f"- `{c.module}::{c.name}`: {_cell(c.message)}" for c in gaps] or ["None."]
    if failed:
        lines += ["", "## Failures in this run", ""] + [f"- `{c.module}::{c.name}`: {_cell(c.message)}" for c in failed]
    skipped = [c for c in cases if c.outcome == "skipped"]
    if skipped:
        lines += ["", "## Skipped in this run", ""] + [f"- `{c.module}::{c.name}`: {_cell(c.message)}"
                                                        for c in skipped]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "RELIABILITY.md")
    parser.add_argument("--junit", type=Path, help="Render from an existing JUnit XML instead of running pytest.")
    parser.add_argument("pytest_args", nargs="*")
    args = parser.parse_args(argv)
    command = "python -m tests.reliability.report" + (" " + " ".join(args.pytest_args) if args.pytest_args else "")
    if args.junit:  # re-render a finished run: its duration from the report, exit code from its failures
        junit = args.junit
        root = ET.parse(junit).getroot()  # noqa: S314 - our own pytest run wrote it
        suite = root if root.tag == "testsuite" else root.find("testsuite")
        seconds = float(suite.get("time") or 0) if suite is not None else 0.0
        code = 1 if any(c.outcome == "failed" for c in read_junit(junit)) else 0
        stamp = suite.get("timestamp") if suite is not None else None
        when = datetime.fromisoformat(stamp).astimezone(UTC) if stamp else None
        tail = ""
    else:
        junit = Path(tempfile.mkdtemp(prefix="reliability-")) / "junit.xml"
        when = datetime.now(UTC)
        code, seconds, tail = run_suite(junit, args.pytest_args)
    cases = read_junit(junit)
    args.out.write_text(render(cases, command, code, seconds, when), encoding="utf-8")
    print(tail)
    print(f"wrote {args.out}: {len(cases)} tests")
    return code


if __name__ == "__main__":
    sys.exit(main())
