"""Kill -9 leftovers (issue 16): a run left RUNNING is marked FAILED on the next start with a word about --resume;
a model version comes only from a finished run; --resume never registers one run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.reliability import build_small_dataset, make_corpus, run_module
from tests.reliability.test_faults import KILL_MID_EPOCH

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
       "TOKENIZERS_PARALLELISM": "false"}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("killed-dataset")
    make_corpus(root / "corpus", 30)
    return build_small_dataset(root / "corpus", root / "ds")


def _versions(uri: str, name: str) -> list[Any]:
    import mlflow

    try:
        # the registry named explicitly: an earlier in-process test may have set MLflow's global registry URI
        return list(mlflow.MlflowClient(uri, registry_uri=uri).search_model_versions(f"name = '{name}'"))
    except mlflow.exceptions.MlflowException:
        return []


def test_a_killed_run_is_marked_failed_on_the_next_start_and_resumes_once(
        dataset: Path, tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "training SIGKILLed inside epoch 2; then a new run of the same config; then --resume")
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "runs"
    args = ["train", "--config", "tiny", "--dataset", str(dataset), "--tracking-uri", uri, "--quiet",
            "--set", f"output_dir={out}", "--set", "transformer.epochs=2", "--set", "tracking.registered_model=killed"]
    env = {**os.environ, **ENV, "NEWSSTANCE_ROOT": str(tmp_path)}
    killed = subprocess.run([sys.executable, "-c", KILL_MID_EPOCH, *args], capture_output=True, text=True, env=env,
                            timeout=600, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run_id = json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))["run_id"]
    client = mlflow.MlflowClient(uri)
    assert client.get_run(run_id).info.status == "RUNNING"  # what kill -9 leaves behind
    assert _versions(uri, "killed") == []  # nothing registered from the unfinished run

    fresh = run_module("training", *args[:-4], "--set", "transformer.epochs=1", "--set",
                       "tracking.registered_model=killed", env={"NEWSSTANCE_ROOT": str(tmp_path)}, timeout=600)
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    assert f"run {run_id}" in fresh.stderr and "marked FAILED" in fresh.stderr and "--resume" in fresh.stderr
    assert "--resume" in fresh.stdout  # the summary repeats the note
    left = client.get_run(run_id)
    assert left.info.status == "FAILED" and "--resume" in left.data.tags["newsstance.note"]

    resumed = run_module("training", *args, "--resume", env={"NEWSSTANCE_ROOT": str(tmp_path)}, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert run_id in resumed.stdout and "(resumed)" in resumed.stdout  # the killed run, not the newer one
    assert client.get_run(run_id).info.status == "FINISHED"
    again = run_module("training", *args, "--resume", env={"NEWSSTANCE_ROOT": str(tmp_path)}, timeout=600)
    assert again.returncode != 0 and "already finished" in again.stderr
    from_killed = [v for v in _versions(uri, "killed") if v.tags.get("run_id") == run_id]
    assert len(from_killed) == 1 and len(_versions(uri, "killed")) == 2
    record_property("outcome", f"run {run_id[:8]} marked FAILED on the next start (note names --resume); "
                               "--resume finished it and registered it once; a second --resume refused")


def _train_majority(dataset: Path, out: Path, uri: str, *extra: str) -> Any:
    from training.cli import app

    return CliRunner().invoke(app, ["train", "--config", "majority", "--dataset", str(dataset), "--tracking-uri",
                                    uri, "--quiet", "--set", f"output_dir={out}", "--set",
                                    "tracking.registered_model=late", *extra])


@pytest.mark.parametrize("where", ["logging-the-model", "registering", "after-registering"])
def test_a_version_comes_only_from_a_finished_run_and_once(where: str, dataset: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", f"training stopped while {where.replace('-', ' ')}")
    import mlflow

    from training import tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "runs"
    target = {"logging-the-model": "log_sklearn_model", "registering": "register",
              "after-registering": "set_run_tags"}[where]
    original = getattr(tracking, target)

    def stop(*args: Any, **kwargs: Any) -> Any:
        if target == "set_run_tags":
            original(*args, **kwargs)
        raise KeyboardInterrupt  # as a signal would, between two steps

    monkeypatch.setattr(tracking, target, stop)
    first = _train_majority(dataset, out, uri)
    assert first.exit_code != 0
    monkeypatch.setattr(tracking, target, original)
    state = json.loads((out / "latest" / "run.json").read_text(encoding="utf-8"))
    run = mlflow.MlflowClient(uri).get_run(state["run_id"])
    if where == "logging-the-model":
        assert run.info.status == "KILLED" and _versions(uri, "late") == []
        assert state["status"] == "running"
    else:
        assert run.info.status == "FINISHED" and state["status"] == "logged"
        assert len(_versions(uri, "late")) == (1 if where == "after-registering" else 0)
    resumed = _train_majority(dataset, out, uri, "--resume")
    assert resumed.exit_code == 0, resumed.stderr
    again = _train_majority(dataset, out, uri, "--resume")
    assert again.exit_code != 0 and "already finished" in again.stderr
    versions = _versions(uri, "late")
    assert [v.tags["run_id"] for v in versions] == [state["run_id"]]
    assert mlflow.MlflowClient(uri).get_run(state["run_id"]).info.status == "FINISHED"
    record_property("outcome", f"one version, from run {state['run_id'][:8]} once it was FINISHED; "
                               "a second --resume refused")
