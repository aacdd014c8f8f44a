"""Run folders without training: which run --resume finds, and which runs a new start marks FAILED."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from corpus.errors import InputError
from training.run import STATE_FILE, find_resumable, mark_stale_runs


def _state(root: Path, name: str, **fields: object) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / STATE_FILE).write_text(json.dumps({"run_id": name, **fields}), encoding="utf-8")
    time.sleep(0.01)  # distinct mtimes: newest first
    return folder


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_resume_finds_the_newest_unfinished_run_of_the_same_config(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="nothing to resume"):
        find_resumable(tmp_path / "none", "f1")
    old = _state(tmp_path, "old", status="running", fingerprint="f1")
    _state(tmp_path, "other", status="interrupted", fingerprint="f2")
    _state(tmp_path, "done", status="finished", fingerprint="f1")
    assert find_resumable(tmp_path, "f1")[0] == old  # not the newer run of another config, not the finished one
    assert find_resumable(tmp_path, "f2")[1]["run_id"] == "other"
    with pytest.raises(InputError, match="the config differs from the interrupted run other's"):
        find_resumable(tmp_path, "f3")


def test_resume_of_a_finished_run_is_refused(tmp_path: Path) -> None:
    _state(tmp_path, "a", status="finished", fingerprint="f1")
    with pytest.raises(InputError, match="run a already finished; nothing to resume"):
        find_resumable(tmp_path, "f1")


def test_only_runs_of_dead_processes_are_marked_failed(tmp_path: Path) -> None:
    import mlflow

    from training import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    tracking.configure(uri)
    client = mlflow.MlflowClient(uri)
    exp = tracking.ensure_experiment("stale", uri)
    dead, alive = (client.create_run(exp).info.run_id for _ in range(2))
    host = socket.gethostname()
    root = tmp_path / "runs"
    _state(root, dead, status="running", pid=_dead_pid(), host=host)
    _state(root, alive, status="running", pid=os.getpid(), host=host)  # another training still at work
    notes = mark_stale_runs(root, "tiny")
    assert len(notes) == 1 and dead in notes[0] and "--resume" in notes[0]
    assert client.get_run(dead).info.status == "FAILED"
    assert "--resume" in client.get_run(dead).data.tags["newsstance.note"]
    assert client.get_run(alive).info.status == "RUNNING"
    assert json.loads((root / dead / STATE_FILE).read_text())["status"] == "interrupted"
    assert mark_stale_runs(root, "tiny") == []  # marked once
