"""Server set-up without starting one: credentials, the .env file, the server's environment."""

from __future__ import annotations

import stat

import pytest

from annotation import server


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("LABEL_STUDIO_USERNAME", "LABEL_STUDIO_PASSWORD", "LABEL_STUDIO_USER_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_credentials_are_generated_once_into_a_private_env_file(tmp_path, clean_env):
    env = tmp_path / ".env"
    env.write_text("OTHER=1")  # an existing file without a final newline is appended to, not replaced
    first = server.load_credentials(env)
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert env.read_text().startswith("OTHER=1\nLABEL_STUDIO_USERNAME=")
    assert server.load_credentials(env) == first
    assert len(first.token) == 40 and first.password not in repr(first) and first.token not in repr(first)


def test_environment_wins_over_the_file(tmp_path, clean_env):
    env = tmp_path / ".env"
    server.load_credentials(env)
    clean_env.setenv("LABEL_STUDIO_USER_TOKEN", "a" * 40)
    assert server.load_credentials(env).token == "a" * 40
    with pytest.raises(server.ServiceError, match="LABEL_STUDIO_USERNAME is not set"):
        server.load_credentials(tmp_path / "none.env", create=False)


def test_server_environment_is_local_and_unprefixed_names_are_dropped(tmp_path, monkeypatch):
    for name in ("USERNAME", "PASSWORD", "HOST", "PORT", "PYTHONPATH"):
        monkeypatch.setenv(name, "leak")
    creds = server.Credentials("admin@x.test", "pw-123456", "b" * 40)
    env = server.server_environment(creds, tmp_path)
    assert not {"USERNAME", "PASSWORD", "HOST", "PORT", "PYTHONPATH"} & set(env)
    assert env["LABEL_STUDIO_BASE_DATA_DIR"] == str(tmp_path)
    assert env["LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN"] == "true" and env["SENTRY_DSN"] == ""
    assert env["LABEL_STUDIO_USER_TOKEN"] == "b" * 40


def test_start_refuses_a_busy_port_and_a_missing_venv(tmp_path):
    import socket

    creds = server.Credentials("admin@x.test", "pw-123456", "b" * 40)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(server.ServiceError, match=f"port {busy} is already in use"):
            server.LabelStudioServer(creds, port=busy, data_dir=tmp_path, venv=tmp_path / "venv").start()
    with pytest.raises(server.ServiceError, match="not installed"):
        server.LabelStudioServer(creds, port=server.free_port(), data_dir=tmp_path, venv=tmp_path / "venv").start()
    assert not server.health(f"http://127.0.0.1:{server.free_port()}")


def test_data_folder_is_private_and_one_serve_holds_it(tmp_path):
    import os
    import subprocess
    import sys

    data = tmp_path / "deep" / "ls-data"
    server.private_data_dir(data)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    db = data / server.DATABASE
    db.write_text("")
    os.chmod(db, 0o644)
    server.private_files(data)
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    with server.DataDirLock(data):
        # another process (a second `serve`) is refused at once, naming this one's pid
        probe = subprocess.run([sys.executable, "-c", (
            "import sys; from pathlib import Path; from annotation import server\n"
            "try:\n    server.DataDirLock(Path(sys.argv[1])).acquire()\n"
            "except server.ServiceError as e:\n    print(e); sys.exit(3)\n"), str(data)],
            capture_output=True, text=True, timeout=60)
        assert probe.returncode == 3, probe.stderr
        assert f"another `annotation serve` (pid {os.getpid()}) is using this data folder" in probe.stdout
        assert stat.S_IMODE((data / server.SERVE_LOCK).stat().st_mode) == 0o600
    lock = server.DataDirLock(data)  # released: the next one takes it
    lock.acquire()
    lock.release()
