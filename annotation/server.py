"""A local Label Studio server: its own virtual environment, credentials, start, health wait, stop.

Label Studio's Django pins stay out of the ML environment: it lives in a git-ignored `.ls-venv` at the
repository root. Credentials come from the environment or, failing that, are generated once into a
git-ignored `.env` (mode 0600). Nothing here prints or logs a password or token.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from corpus.errors import ServiceError

log = logging.getLogger(__name__)

LABEL_STUDIO_VERSION = "1.23.2"
REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_VENV = REPO_ROOT / ".ls-venv"
DEFAULT_DATA_DIR = REPO_ROOT / "var" / "label-studio"
DEFAULT_ENV_FILE = REPO_ROOT / ".env"
DEFAULT_PORT = 8080
HOST = "127.0.0.1"
DEFAULT_USERNAME = "admin@newsstance.local"

# Label Studio also reads these un-prefixed names; a shell's USERNAME or PORT must not leak into it.
_UNPREFIXED = ("USERNAME", "PASSWORD", "HOST", "PORT", "USER_TOKEN")
# Environment of the caller that would make the server's Python pick up the ML venv.
_PYTHON_LEAKS = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DJANGO_SETTINGS_MODULE")


@dataclass(frozen=True)
class Credentials:
    """The admin account and its API token (legacy token: valid from the first start)."""

    username: str
    password: str
    token: str

    def __repr__(self) -> str:  # never show secrets in a traceback or a log line
        return f"Credentials(username={self.username!r}, password=***, token=***)"


def _read_env_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    from dotenv import dotenv_values

    return {k: v for k, v in dotenv_values(path).items() if v is not None}


def load_credentials(env_file: Path = DEFAULT_ENV_FILE, create: bool = True) -> Credentials:
    """Admin credentials from LABEL_STUDIO_USERNAME/_PASSWORD/_USER_TOKEN, else `env_file`, else generated
    once and appended to `env_file` (created with mode 0600)."""
    saved = _read_env_file(env_file)
    values: dict[str, str] = {}
    missing: dict[str, str] = {}
    defaults = {
        "LABEL_STUDIO_USERNAME": lambda: DEFAULT_USERNAME,
        "LABEL_STUDIO_PASSWORD": lambda: secrets.token_urlsafe(18),
        # Label Studio's legacy tokens are 40 hex characters.
        "LABEL_STUDIO_USER_TOKEN": lambda: secrets.token_hex(20),
    }
    for key, make in defaults.items():
        value = os.environ.get(key) or saved.get(key)
        if not value:
            if not create:
                raise ServiceError(env_file, f"{key} is not set (in the environment or this file)")
            value = missing[key] = make()
        values[key] = value
    if missing:
        _append_env(env_file, missing)
        log.info("generated Label Studio credentials into %s", env_file)
    return Credentials(values["LABEL_STUDIO_USERNAME"], values["LABEL_STUDIO_PASSWORD"],
                       values["LABEL_STUDIO_USER_TOKEN"])


def _append_env(path: Path, entries: dict[str, str]) -> None:
    """Append KEY=value lines to a private (0600) env file, creating it if needed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.fchmod(fd, 0o600)
        lines = "".join(f"{k}={v}\n" for k, v in entries.items())
        prefix = "" if os.fstat(fd).st_size == 0 or path.read_bytes().endswith(b"\n") else "\n"
        os.write(fd, (prefix + lines).encode())
    finally:
        os.close(fd)


def venv_executable(venv: Path, name: str) -> Path:
    return venv / "bin" / name


def venv_ready(venv: Path = DEFAULT_VENV) -> bool:
    """True when `venv` holds Label Studio at the pinned version."""
    return (venv / f".installed-label-studio-{LABEL_STUDIO_VERSION}").is_file() and venv_executable(
        venv, "label-studio").is_file()


def ensure_venv(venv: Path = DEFAULT_VENV, python: str | None = None, timeout: float = 1200) -> Path:
    """Create `venv` and install label-studio==LABEL_STUDIO_VERSION into it unless already there.

    Concurrent callers (a test session and `serve`) wait on a lock instead of installing twice.
    Raises ServiceError (with pip's last lines) when the install fails, e.g. without a package registry.
    """
    if venv_ready(venv):
        return venv
    from filelock import FileLock

    venv.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(venv) + ".lock", timeout=timeout):
        if venv_ready(venv):
            return venv
        py = python or _base_python()
        started = time.monotonic()
        log.info("installing label-studio==%s into %s (about a minute)", LABEL_STUDIO_VERSION, venv)
        if not venv_executable(venv, "python").is_file():
            _run([py, "-m", "venv", str(venv)], "create the virtual environment", timeout)
        _run([str(venv_executable(venv, "python")), "-m", "pip", "install", "-q", "--disable-pip-version-check",
              f"label-studio=={LABEL_STUDIO_VERSION}"], f"install label-studio=={LABEL_STUDIO_VERSION}",
             timeout)
        (venv / f".installed-label-studio-{LABEL_STUDIO_VERSION}").write_text(
            f"installed in {time.monotonic() - started:.0f} s\n")
    return venv


def _base_python() -> str:
    """An interpreter to create venvs from: this one's base (not the ML venv itself)."""
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    return str(base) if base.is_file() else sys.executable


def _run(cmd: list[str], what: str, timeout: float) -> None:
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ServiceError(cmd[0], f"could not {what}: timed out after {timeout:.0f} s") from None
    if done.returncode != 0:
        tail = [ln for ln in (done.stderr + done.stdout).splitlines() if "is ignored" not in ln][-3:]
        raise ServiceError(cmd[0], f"could not {what} (exit {done.returncode}): {' / '.join(tail)}")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((HOST, port)) == 0


def server_environment(creds: Credentials, data_dir: Path) -> dict[str, str]:
    """The environment Label Studio starts with: non-interactive, local, no telemetry, no stray names."""
    env = {k: v for k, v in os.environ.items() if k not in _UNPREFIXED + _PYTHON_LEAKS}
    env.update({
        "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
        "LABEL_STUDIO_USERNAME": creds.username,
        "LABEL_STUDIO_PASSWORD": creds.password,
        "LABEL_STUDIO_USER_TOKEN": creds.token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        "LABEL_STUDIO_LATEST_VERSION_CHECK": "false",
        "LABEL_STUDIO_COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    })
    return env


class LabelStudioServer:
    """A Label Studio process on 127.0.0.1: `start()`, `wait_healthy()`, `stop()` (or use `with`)."""

    def __init__(self, creds: Credentials, port: int = DEFAULT_PORT, data_dir: Path = DEFAULT_DATA_DIR,
                 venv: Path = DEFAULT_VENV) -> None:
        self.creds, self.port, self.data_dir, self.venv = creds, port, Path(data_dir), Path(venv)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def start(self) -> None:
        """Launch the server process (returns at once; call `wait_healthy`)."""
        if port_in_use(self.port):
            raise ServiceError(self.url, f"port {self.port} is already in use on {HOST} "
                                         "(another Label Studio? pick one with --port)")
        exe = venv_executable(self.venv, "label-studio")
        if not exe.is_file():
            raise ServiceError(exe, "Label Studio is not installed (annotation.server.ensure_venv installs it)")
        private_data_dir(self.data_dir)
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        logfile = os.fdopen(fd, "ab")
        try:
            # umask 077: the database (it holds the API token in plain text), uploads and logs are the owner's
            # alone; a session of its own, so stop() can end the server with everything it spawned.
            self.process = subprocess.Popen(
                [str(exe), "start", "--no-browser", "--internal-host", HOST, "--port", str(self.port),
                 "--data-dir", str(self.data_dir)],
                env=server_environment(self.creds, self.data_dir), cwd=self.data_dir,
                stdin=subprocess.DEVNULL, stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True,
                umask=0o077,
            )
        finally:
            logfile.close()

    def wait_healthy(self, timeout: float = 240) -> float:
        """Block until GET /health answers 200; returns the seconds waited. Raises if the process dies."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(self.url, f"Label Studio exited with code {self.process.returncode} "
                                             f"during start-up; last log lines: {self.log_tail()}")
            if health(self.url):
                private_files(self.data_dir)
                return time.monotonic() - started
            time.sleep(0.5)
        raise ServiceError(self.url, f"Label Studio did not answer /health within {timeout:.0f} s; "
                                     f"see {self.log_path}")

    def log_tail(self, lines: int = 3) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return "(no log)"
        return " / ".join(ln.strip() for ln in text[-lines:])

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the server (its whole process group), SIGKILL after `timeout` seconds."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # a worker that outlived the leader still belongs to the group

    def __enter__(self) -> LabelStudioServer:
        self.start()
        try:
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


DATABASE = "label_studio.sqlite3"
SERVE_LOCK = "serve.lock"


def private_data_dir(data_dir: Path) -> Path:
    """Create `data_dir` (and missing parents) with mode 0700, and make an existing one 0700: its database
    holds the API token in plain text."""
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    return data_dir


def private_files(data_dir: Path) -> None:
    """Mode 0600 on the server's database and its journal files (created before umask 077 applied, or by an
    older start)."""
    for path in Path(data_dir).glob(DATABASE + "*"):
        if path.is_file() and not path.is_symlink():
            os.chmod(path, 0o600)


class DataDirLock:
    """An exclusive, non-blocking lock on a data folder: one `serve` per folder. Released when the process
    ends, however it ends (a kernel flock on `serve.lock`, which also names the holder's pid)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / SERVE_LOCK
        self.fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise ServiceError naming the folder and the pid that holds it."""
        import fcntl

        private_data_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise ServiceError(self.path.parent, f"another `annotation serve` (pid {holder}) is using this data "
                                                 "folder; stop it first or pass another --data-dir") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd

    def release(self) -> None:
        """Drop the lock (the file stays: removing it would race with a waiting start)."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> DataDirLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def health(url: str, timeout: float = 2.0) -> bool:
    """True when `url`/health answers 200."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/health", timeout=timeout) as r:  # noqa: S310 - http(s) URL
            return r.status == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def remove_data_dir(data_dir: Path) -> None:
    """Delete a server's data folder (tests use fresh ones)."""
    shutil.rmtree(data_dir, ignore_errors=True)


@dataclass(frozen=True)
class ProjectReady:
    """What `prepare_project` left on the server: the project, its tasks, and where annotation starts."""

    project_id: int
    title: str
    created: bool
    new_tasks: int
    tasks: int
    first_task_url: str | None


def prepare_project(url: str, token: str, source: Path | None = None, project: str = "newsstance",
                    codebook_path: Path | None = None) -> ProjectReady:
    """Create `project` from the codebook and push the corpus folder `source` (the bundled corpus by default)
    with annotation.push (idempotent: a second call adds nothing); returns the first task's editor URL."""
    from annotation.client import Connection, LabelStudioClient
    from annotation.push import push
    from corpus.codebook import load_codebook
    from corpus.store import BUNDLED_ROOT

    client = LabelStudioClient(Connection(url, token))
    report = push(client, load_codebook(codebook_path), source or BUNDLED_ROOT, project)
    first = next(iter(client.iter_tasks(report.project_id, page_size=1)), None)
    link = f"{url}/projects/{report.project_id}/data?task={first['id']}" if first else None
    return ProjectReady(report.project_id, project, report.created_project, report.new + report.changed,
                        report.tasks_on_server, link)
