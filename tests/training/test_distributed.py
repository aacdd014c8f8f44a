"""The transformer path under torchrun: two CPU processes (gloo), data-parallel, one MLflow run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import unique

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.parametrize("pooling", ["cls", "markers"])
def test_two_process_data_parallel_training_logs_one_run(statements_dataset: Path, tracking_uri: str, tmp_path: Path,
                                                         request: pytest.FixtureRequest, pooling: str) -> None:
    import mlflow

    experiment = unique("ddp", request)
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--standalone",
           "-m", "training", "train", "--config", "tiny", "--dataset", str(statements_dataset),
           "--tracking-uri", tracking_uri, "--experiment", experiment, "--quiet",
           "--set", f"output_dir={tmp_path}", "--set", "transformer.epochs=2",
           "--set", f"transformer.pooling={pooling}", "--set", f"transformer.freeze_embeddings={pooling == 'markers'}",
           "--set", f"tracking.registered_model={experiment}"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both workers: never leave them behind
        proc.communicate()
        raise
    assert proc.returncode == 0, stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri)
    exp = client.get_experiment_by_name(experiment)
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    run = runs[0]
    assert run.data.tags["newsstance.world_size"] == "2"
    assert run.info.run_id == json.loads((tmp_path / "latest" / "run.json").read_text())["run_id"]
    assert [m.step for m in client.get_metric_history(run.info.run_id, "validation_macro_f1")] == [1, 2]
    # each process saw half the data: 48 rows / (2 processes x batch 8) = 3 optimiser steps per epoch
    state = json.loads(next((tmp_path / "latest" / "checkpoints").glob("checkpoint-*/trainer_state.json")).read_text())
    assert state["global_step"] in (3, 6)
    assert stdout.count("validation macro-F1") == 1  # one summary table, from rank 0
    # the saved model (rank 0 wrote it) loads and predicts
    from datasets import load_from_disk

    from training.predict import load_predictor

    test = load_from_disk(str(statements_dataset / "statements"))["test"]
    assert load_predictor(str(tmp_path / "latest" / "model")).predict_proba(test).shape == (16, 3)
