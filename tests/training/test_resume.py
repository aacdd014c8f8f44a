"""--resume: a training killed mid-run continues from its last checkpoint into the same MLflow run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.training.conftest import unique
from training.cli import app

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_killed_training_resumes_into_the_same_run(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    import mlflow

    args = ["train", "--config", "tiny", "--dataset", str(statements_dataset), "--tracking-uri", tracking_uri,
            "--quiet", "--set", f"output_dir={tmp_path}", "--set", "transformer.epochs=6",
            "--set", f"tracking.registered_model={unique('resume', request)}"]
    proc = subprocess.Popen([sys.executable, "-m", "training", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"})
    try:
        deadline = time.monotonic() + 400
        while not list(tmp_path.glob("*/checkpoints/checkpoint-*/trainer_state.json")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint written"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)  # mid-run: after the first epoch's checkpoint, before the end
    finally:
        proc.wait(timeout=60)
    state = json.loads((tmp_path / "latest" / "run.json").read_text())
    assert state["status"] == "running"
    run_id = state["run_id"]

    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.stderr
    assert run_id in result.stdout and "(resumed)" in result.stdout
    client = mlflow.MlflowClient(tracking_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    steps = sorted({m.step for m in client.get_metric_history(run_id, "validation_macro_f1")})
    assert steps == [1, 2, 3, 4, 5, 6]
    assert len(client.search_runs([run.info.experiment_id], f"attributes.run_name = '{run.info.run_name}'")) == 1
    assert json.loads((tmp_path / "latest" / "run.json").read_text())["status"] == "finished"
    assert [h["epoch"] for h in json.loads((tmp_path / "latest" / "run.json").read_text())["history"]] == [1, 2, 3, 4, 5, 6]
    # once the model is logged nothing resumes from the checkpoints: their weights go, their history stays
    kept = {p.name for p in (tmp_path / "latest" / "checkpoints").glob("checkpoint-*/*")}
    assert kept == {"trainer_state.json"}
    # a finished run is not resumed again
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code != 0 and "already finished" in again.stderr
