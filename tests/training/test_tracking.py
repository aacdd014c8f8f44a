"""The tracking module: which store, whether it answers (before any training), secrets kept out of messages."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from corpus.errors import InputError, ServiceError
from training import tracking


def test_uri_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("NEWSSTANCE_ROOT", str(tmp_path))
    assert tracking.resolve_tracking_uri() == f"sqlite:///{tmp_path}/var/mlflow/mlflow.db"
    assert tracking.resolve_tracking_uri(None, "http://team:5000") == "http://team:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///env.db")
    assert tracking.resolve_tracking_uri(None, "http://team:5000") == "sqlite:///env.db"
    assert tracking.resolve_tracking_uri("http://flag:1", "http://team:5000") == "http://flag:1"


def test_default_store_is_found_from_the_working_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("NEWSSTANCE_ROOT", raising=False)
    (tmp_path / "training").mkdir()
    (tmp_path / "pyproject.toml").write_text("", encoding="utf-8")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert tracking.default_tracking_uri() == f"sqlite:///{tmp_path.resolve()}/var/mlflow/mlflow.db"


def test_redact_hides_passwords() -> None:
    assert tracking.redact("https://user:s3cret@mlflow.example:8443/x") == "https://user:***@mlflow.example:8443/x"
    assert tracking.redact("sqlite:////tmp/a.db") == "sqlite:////tmp/a.db"


def test_unreachable_server_fails_naming_the_uri() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://alice:pw123@127.0.0.1:{port}"
    with pytest.raises(ServiceError) as err:
        tracking.check_reachable(uri, timeout=2)
    assert f"http://alice:***@127.0.0.1:{port}" in str(err.value) and "does not answer" in str(err.value)
    assert "pw123" not in str(err.value)


def test_sqlite_store_folder_is_created_and_file_stores_refused(tmp_path: Path) -> None:
    tracking.check_reachable(f"sqlite:///{tmp_path}/deep/er/mlflow.db")
    assert (tmp_path / "deep" / "er").is_dir()
    with pytest.raises(InputError, match="file tracking stores are refused"):
        tracking.check_reachable(str(tmp_path / "mlruns"))


def test_secret_like_params_are_never_logged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow

    uri = f"sqlite:///{tmp_path}/m.db"
    with tracking.start_run(uri, "secrets", "r") as run_id:
        tracking.log_params({"a": 1, "api_token": "t0k", "db.password": "pw", "tracking.uri": "http://u:pw9@h:1"})
        tracking.set_tags({"x": "1", "secret_key": "k"})
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.params == {"a": "1", "tracking.uri": "http://u:***@h:1"} and "secret_key" not in run.data.tags
    assert run.info.status == "FINISHED"
