"""`python -m annotation serve` against the real Label Studio (issues 16 items 6 and 10, issue 17): on a fresh data
folder it creates the project and pushes the bundled corpus, its data folder is 0700 and the database 0600, a
second `serve` on that folder refuses in one line, and SIGTERM stops the whole Label Studio process group."""

from __future__ import annotations

import os
import re
import secrets
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.reliability import REPO

pytestmark = [pytest.mark.labelstudio, pytest.mark.slow]


def _processes_using(data_dir: Path) -> list[int]:
    """Pids of live processes whose command line names `data_dir` (Label Studio is started with --data-dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = next((ln for ln in (entry / "status").read_text().splitlines() if ln.startswith("State:")), "")
        except OSError:
            continue
        if str(data_dir) in cmdline and "Z (zombie)" not in state:
            pids.append(int(entry.name))
    return pids


def _read_until(proc: subprocess.Popen[str], pattern: str, timeout: float) -> str:
    """The serve's stdout up to the first line matching `pattern` (fails with what it printed if it exits)."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"serve exited ({proc.wait()}) before {pattern!r}; it printed: {''.join(seen)}")
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    pytest.fail(f"no {pattern!r} within {timeout:.0f} s; serve printed: {''.join(seen)}")


def test_serve_pushes_the_corpus_refuses_a_second_serve_and_stops_on_sigterm(
        tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    from annotation import server
    from annotation.client import Connection, LabelStudioClient
    from corpus.errors import ServiceError
    from corpus.store import CorpusStore

    try:
        server.ensure_venv()
    except ServiceError as e:
        pytest.skip(f"cannot install the Label Studio server venv (no package registry?): {e.what}")
    record_property("fault", "SIGTERM to `annotation serve` (fresh data folder, project pushed); a second `serve` "
                             "on the same folder while the first runs")
    data_dir, port, token = tmp_path / "ls-data", server.free_port(), secrets.token_hex(20)
    env = {**os.environ, "LABEL_STUDIO_USERNAME": "admin@serve.test", "LABEL_STUDIO_PASSWORD": "pw-" + secrets.token_urlsafe(12),
           "LABEL_STUDIO_USER_TOKEN": token}
    env.pop("LABEL_STUDIO_URL", None)
    cmd = [sys.executable, "-m", "annotation", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = _read_until(proc, r"press Ctrl-C to stop", timeout=480)
        url = f"http://127.0.0.1:{port}"
        assert re.search(rf"first task: {re.escape(url)}/projects/\d+/data\?task=\d+", printed), printed
        assert "LABEL_STUDIO_PASSWORD in the environment" in printed and token not in printed

        client = LabelStudioClient(Connection(url, token))
        project = client.find_project("newsstance")
        articles = len(list(CorpusStore().articles()))
        assert project is not None and client.count_tasks(project["id"]) == articles

        assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
        assert stat.S_IMODE((data_dir / server.DATABASE).stat().st_mode) == 0o600

        second = subprocess.run([*cmd[:5], str(server.free_port()), *cmd[6:]], cwd=REPO, env=env,
                                capture_output=True, text=True, timeout=60)
        assert second.returncode != 0
        assert second.stderr.strip().count("\n") == 0 and "another `annotation serve`" in second.stderr, second.stderr
        assert f"pid {proc.pid}" in second.stderr
        assert _processes_using(data_dir), "Label Studio should still run after the refused second serve"

        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=60)
        rest = proc.stdout.read() if proc.stdout else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, rest
    deadline = time.monotonic() + 10
    while (server.port_in_use(port) or _processes_using(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = _processes_using(data_dir)
    assert not server.port_in_use(port) and not left, f"left running: port {port}, pids {left}"
    record_property("outcome", f"project with {articles} task(s) = the corpus; second serve refused in one line "
                               f"naming pid {proc.pid}; after SIGTERM exit 0, port closed, no Label Studio process; "
                               "data folder 0700, database 0600")
    record_property("records_lost", 0)

    # Idempotent: a second start on the same folder adds nothing.
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = _read_until(proc, r"press Ctrl-C to stop", timeout=240)
        assert f"0 new task(s), {articles} in all" in printed, printed
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert not _processes_using(data_dir)
