"""`python -m training ui` serves the default store in the MLflow UI on 127.0.0.1."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.mlflow_server import _healthy, free_port

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.mlflow_server
def test_ui_serves_the_default_store_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "NEWSSTANCE_ROOT": str(tmp_path), "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    proc = subprocess.Popen([sys.executable, "-m", "training", "ui", "--port", str(port)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not _healthy(f"http://127.0.0.1:{port}"):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "MLflow UI did not come up"
            time.sleep(0.5)
        assert (tmp_path / "var" / "mlflow" / "mlflow.db").is_file()  # the repo's default store, git-ignored var/
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
