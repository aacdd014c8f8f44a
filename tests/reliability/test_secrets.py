"""Secrets: a full pipeline runs with a known Label Studio token and password (and an MLflow password in a tracking
URI); every output is scanned for them: stdout/stderr, DEBUG logs of every library, files written, MLflow params
and tags, files under git. `.env` is git-ignored; the servers the project starts listen on 127.0.0.1 only.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.reliability import REPO, make_corpus, run_module

pytestmark = pytest.mark.slow


def _scan_files(root: Path, needles: dict[str, str]) -> list[str]:
    """'<file>: <which secret>' for every file under `root` holding a needle (raw bytes, so binary files too)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            found += [f"{path}: {name}" for name, value in needles.items() if value.encode() in data]
    return found


def _scan_text(where: str, text: str, needles: dict[str, str]) -> list[str]:
    return [f"{where}: {name}" for name, value in needles.items() if value in text]


def _listening(pid: int) -> list[tuple[str, int]]:
    """(ip, port) of every TCP socket in LISTEN state held by the process `pid` or its children."""
    import psutil

    root = psutil.Process(pid)
    found = []
    for proc in [root, *root.children(recursive=True)]:
        try:
            conns = proc.net_connections(kind="inet")
        except psutil.NoSuchProcess:
            continue
        found += [(c.laddr.ip, c.laddr.port) for c in conns if c.status == psutil.CONN_LISTEN]
    return found


@pytest.mark.labelstudio
def test_full_pipeline_leaks_no_secret(label_studio: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture,
                                       record_property: Callable[[str, Any], None]) -> None:
    from annotation import server
    from annotation.cli import app as annotation_app
    from corpus.cli import app as corpus_app

    url, token = label_studio
    mlflow_password = "mlflow-pw-" + secrets.token_hex(8)
    wrong_token = secrets.token_hex(20)
    needles = {"token": token, "password": label_studio.password, "mlflow password": mlflow_password,
               "wrong token": wrong_token}
    out = tmp_path / "out"
    out.mkdir()
    make_corpus(out / "corpus", 10)
    store = f"sqlite:///{out / 'mlflow' / 'mlflow.db'}"
    env = {"LABEL_STUDIO_URL": url, "LABEL_STUDIO_API_KEY": token, "LABEL_STUDIO_USER_TOKEN": token,
           "LABEL_STUDIO_PASSWORD": label_studio.password, "LABEL_STUDIO_USERNAME": label_studio.username,
           "MLFLOW_TRACKING_URI": store, "NEWSSTANCE_ROOT": str(out)}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(server, "DEFAULT_ENV_FILE", out / ".env")
    caplog.set_level(logging.DEBUG)  # every library's DEBUG logs are scanned too
    transcript: list[str] = []
    project = "secrets-scan"

    def invoke(app: Any, *args: str, ok: bool = True) -> None:
        result = CliRunner().invoke(app, list(args))
        transcript.append(f"$ {' '.join(args)}\n{result.stdout}{result.stderr}{result.exception or ''}")
        assert (result.exit_code == 0) == ok, transcript[-1][-2000:]

    exports = out / "exports"
    invoke(annotation_app, "push", "--project", project, "--source", str(out / "corpus"), "--with-annotations",
           "--prelabel", "gazetteer", "--batch-size", "4")
    invoke(annotation_app, "pull", "--project", project, "--out", str(exports))
    export = next(exports.glob("*.json"))
    invoke(annotation_app, "validate", str(export), "--json", str(out / "issues.json"))
    invoke(annotation_app, "agreement", str(export), "--json", str(out / "agreement.json"))
    invoke(annotation_app, "adjudicate", str(export), "--out", str(out / "gold.json"))
    invoke(corpus_app, "build", str(export), "--out", str(out / "dataset"), "--no-progress")
    # error paths: a server that is down, a refused token (itself a secret), a tracking URI with a password
    invoke(annotation_app, "pull", "--project", project, "--url", f"http://127.0.0.1:{server.free_port()}",
           "--out", str(exports), ok=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", wrong_token)
    invoke(annotation_app, "pull", "--project", project, "--out", str(exports), ok=False)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", token)
    processes = [
        run_module("annotation", "push", "--project", project, "--source", str(out / "corpus"), env=env),
        run_module("training", "train", "--config", "majority", "--dataset", str(out / "dataset"), "--set",
                   f"output_dir={out / 'run'}", "--quiet", env=env),
        run_module("training", "train", "--config", "majority", "--dataset", str(out / "dataset"),
                   "--tracking-uri", f"http://newsstance:{mlflow_password}@127.0.0.1:{server.free_port()}",
                   env=env),
    ]
    assert [p.returncode for p in processes] == [0, 0, 3], [p.stderr[-1500:] for p in processes]
    transcript += [p.stdout + p.stderr for p in processes]

    leaks = _scan_text("console output", "\n".join(transcript), needles)
    leaks += _scan_text("logs (DEBUG, every logger)", caplog.text, needles)
    leaks += _scan_files(out, needles)
    leaks += _mlflow_leaks(store, needles)
    assert not leaks, f"secrets found: {leaks}"
    files = sum(1 for p in out.rglob("*") if p.is_file())
    record_property("scanned", f"{len(transcript)} command outputs, {len(caplog.records)} log records, {files} "
                               "files, every MLflow param and tag")
    record_property("leaks", len(leaks))


def _mlflow_leaks(store: str, needles: dict[str, str]) -> list[str]:
    import mlflow

    client = mlflow.MlflowClient(store)
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    assert runs, "the pipeline logged no run"
    found = []
    for run in runs:
        for kind, values in (("param", run.data.params), ("tag", run.data.tags)):
            for key, value in values.items():
                found += _scan_text(f"MLflow {kind} {key} of run {run.info.run_id}", f"{key}={value}", needles)
    return found


def test_files_under_git_hold_no_secret(record_property: Callable[[str, Any], None]) -> None:
    """No tracked file holds a token-shaped value assigned to a secret name; .env and local state are ignored."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=True)
    assigned = re.compile(r"(?i)\b(LABEL_STUDIO_(API_KEY|USER_TOKEN|PASSWORD)|api_key|apikey|password|passwd|"
                          r"secret|token)\b['\"]?\s*[:=]\s*['\"]([A-Za-z0-9_\-]{16,})['\"]")
    found = []
    names = [n for n in files.stdout.split("\0") if n]
    for name in names:
        path = REPO / name
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace")
        found += [f"{name}: {m.group(0)[:40]}" for m in assigned.finditer(text)]
        if name.endswith(".env") or Path(name).name == ".env":
            found.append(f"{name}: an env file is tracked")
    assert not found, found
    for ignored in (".env", "var/mlflow/mlflow.db", ".ls-venv/bin/python", "mlflow.db",
                    "corpus/annotations/exports/x.json"):
        check = subprocess.run(["git", "check-ignore", "-q", ignored], cwd=REPO, check=False)
        assert check.returncode == 0, f"{ignored} is not git-ignored"
    record_property("scanned", f"{len(names)} tracked files; .env, var/, .ls-venv, mlflow.db, pulled exports ignored")


def test_secrets_stay_out_of_reprs_and_messages(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "Connection and Credentials reprs hide token and password; tracking URIs redacted; a "
                               "generated .env is mode 0600; no CLI prints rich tracebacks (which show local "
                               "variables)")
    from annotation.client import Connection
    from annotation.server import Credentials, load_credentials
    from training.tracking import redact

    token, password = secrets.token_hex(20), "pw-" + secrets.token_hex(8)
    assert token not in repr(Connection("http://127.0.0.1:1", token))
    shown = repr(Credentials("admin@x.org", password, token))
    assert token not in shown and password not in shown
    assert password not in redact(f"http://user:{password}@127.0.0.1:5000/path")
    env_file = tmp_path / ".env"
    creds = load_credentials(env_file)  # generated once into a private file
    assert env_file.stat().st_mode & 0o077 == 0, "the generated .env is readable by others"
    assert creds.token in env_file.read_text() and creds.token not in repr(creds)
    for package in ("corpus", "annotation", "training", "evaluation"):
        import importlib

        app = importlib.import_module(f"{package}.cli").app
        assert app.pretty_exceptions_enable is False, f"{package}: rich tracebacks would print local variables"


@pytest.mark.labelstudio
def test_a_refused_token_is_not_in_the_error(label_studio: Any, record_property: Callable[[str, Any], None]) -> None:
    record_property("checked", "a 401 names the URL, not the token; the SDK's exception (request details) is "
                               "suppressed")
    from annotation.client import Connection, LabelStudioClient
    from corpus.errors import ServiceError

    url, _ = label_studio
    wrong = secrets.token_hex(20)
    with pytest.raises(ServiceError) as err:
        LabelStudioClient(Connection(url, wrong, retries=0)).find_project("x")
    assert "401" in str(err.value) and wrong not in str(err.value) and wrong not in repr(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__, "the SDK's exception would be shown"


@pytest.mark.labelstudio
def test_label_studio_listens_on_loopback_only(label_studio: Any, record_property: Callable[[str, Any], None]) -> None:
    process = label_studio.server.process
    sockets = _listening(process.pid)
    port = int(label_studio.url.rsplit(":", 1)[1])
    assert (("127.0.0.1", port) in sockets), sockets
    assert all(ip == "127.0.0.1" for ip, _ in sockets), f"Label Studio listens beyond loopback: {sockets}"
    record_property("listening", f"Label Studio (annotation.server): {sorted(set(sockets))}")


def test_mlflow_ui_listens_on_loopback_only(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    from annotation.server import free_port
    from tests.fixtures.fault_proxy import wait_until

    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "NEWSSTANCE_ROOT": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "training", "ui", "--port", str(port), "--tracking-uri",
                             f"sqlite:///{tmp_path / 'mlflow.db'}"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_until(lambda: any(p == port for _, p in _listening(proc.pid)) or proc.poll() is not None,
                          timeout=240), "the MLflow UI did not start"
        assert proc.poll() is None, f"`python -m training ui` exited with {proc.returncode}"
        sockets = _listening(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    assert all(ip == "127.0.0.1" for ip, _ in sockets), f"the MLflow UI listens beyond loopback: {sockets}"
    record_property("listening", f"MLflow UI (python -m training ui): {sorted(set(sockets))}")
