"""Errors every newsstance package raises for bad input, and the atomic-write helpers they share."""

from __future__ import annotations

import contextlib
import errno
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


def _check_parents(target: Path) -> None:
    """Refuse a target under an existing file (the nearest existing ancestor must be a folder)."""
    for parent in target.parents:
        if parent.exists() or parent.is_symlink():
            if not parent.is_dir():
                raise InputError(parent, f"is a file, not a folder; cannot write {target.name} inside it")
            return


def _check_kind(target: Path, folder: bool) -> None:
    """Refuse to replace a folder with a file or a file with a folder: the user's data is never deleted."""
    if folder and (target.is_file() or target.is_symlink() and not target.is_dir()):
        raise InputError(target, "is a file; refusing to replace it with a folder (choose another path)")
    if not folder and target.is_dir():
        raise InputError(target, "is a folder; refusing to replace it with a file (give a file path)")


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, folder: bool | None = None) -> Iterator[Path]:
    """Yield a temporary sibling path; on success rename it over `target` (file or folder), else remove it.

    The previous version of `target` stays intact whenever the block raises. A file never replaces a folder
    and a folder never replaces a file (InputError naming `target`): checked before the block when `folder`
    says which one the caller writes, and always before the rename. Only a folder replaces a folder (the
    callers that write folders check first that the old one is their own output). ENOSPC and other write
    errors are re-raised naming `target` as their filename.
    """
    target = Path(target)
    _check_parents(target)
    if folder is not None:
        _check_kind(target, folder)
    created = [p for p in [target.parent, *target.parent.parents] if not p.exists()]  # made here, innermost first
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    except OSError as e:
        _remove_empty(created)
        raise _write_error(target, e) from None
    staged = tmp / target.name
    done = False
    try:
        try:
            yield staged
        except OSError as e:
            if e.errno in _WRITE_ERRNOS and (not e.filename or str(e.filename).startswith(str(tmp))):
                raise _write_error(target, e) from None
            raise
        if not staged.exists():
            raise RuntimeError(f"{target}: nothing was written")
        _check_kind(target, staged.is_dir())
        try:
            if target.is_dir() and not target.is_symlink():
                backup = tmp / (target.name + ".old")
                os.replace(target, backup)
                try:
                    os.replace(staged, target)
                except OSError:
                    os.replace(backup, target)  # the old folder goes back before the temporary one is removed
                    raise
            else:
                os.replace(staged, target)
        except OSError as e:
            raise _write_error(target, e) from None
        done = True
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if not done:
            _remove_empty(created)


def _remove_empty(folders: list[Path]) -> None:
    """Remove the folders a failed write created for its output (innermost first), where still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


# Errors of writing (not of the caller's logic): reported naming the output, nothing left behind.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.EACCES, errno.EPERM,
                           errno.EFBIG})


def _write_error(target: Path, e: OSError) -> OSError:
    """The same OSError, naming `target` (not the temporary path, or nothing): disk full says which output."""
    return type(e)(e.errno, e.strerror or str(e), str(target)) if e.errno else OSError(f"{target}: {e}")


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `path` (UTF-8) through a temporary file and a rename; a folder there is refused."""
    with atomic_path(path, folder=False) as tmp:
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
