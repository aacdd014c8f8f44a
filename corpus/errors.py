"""Errors every newsstance package raises for bad input, and the atomic-write helpers they share."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


class NewsstanceError(Exception):
    """A problem a user can fix; the CLI prints it as one line and exits non-zero."""

    exit_code = 2

    def __init__(self, where: str | os.PathLike[str] | None, what: str) -> None:
        self.where = str(where) if where is not None else ""
        self.what = what
        super().__init__(f"{self.where}: {what}" if self.where else what)


class InputError(NewsstanceError):
    """A file, row, task or setting that is malformed; `where` names it (file, file:row, task 12)."""


class ServiceError(NewsstanceError):
    """An external service (Label Studio, MLflow) that cannot be reached or refuses a request."""

    exit_code = 3


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it over `target` (file or folder), else remove it.

    The previous version of `target` stays intact whenever the block raises.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    staged = tmp / target.name
    try:
        yield staged
        if not staged.exists():
            raise RuntimeError(f"{target}: nothing was written")
        if target.is_dir() and not target.is_symlink():
            backup = tmp / (target.name + ".old")
            os.replace(target, backup)
            os.replace(staged, target)
        else:
            os.replace(staged, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` (UTF-8) through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def run_cli(app: Callable[[], object]) -> None:
    """Run a typer app so that bad input and failed writes end in one `error:` line and a non-zero exit.

    Commands raise NewsstanceError for what the user can fix; an OSError (disk full, permissions) that
    escapes a command is reported the same way, naming the file, instead of as a traceback.
    """
    try:
        app()
    except NewsstanceError as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(e.exit_code)
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        sys.stderr.write(f"error: {where}{e.strerror or e}\n")
        sys.exit(4)
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
