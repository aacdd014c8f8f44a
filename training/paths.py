"""Where local state lives: the repository root (from the working directory, never from __file__) and var/."""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "NEWSSTANCE_ROOT"


def repo_root() -> Path:
    """The project root: $NEWSSTANCE_ROOT, else the nearest folder up from the cwd holding pyproject.toml and
    training/, else the cwd."""
    env = os.environ.get(ROOT_ENV)
    if env:
        return Path(env).expanduser().resolve()
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "training").is_dir():
            return folder
    return cwd


def var_dir() -> Path:
    """The git-ignored folder for local state (tracking store, checkpoints, demo output)."""
    return repo_root() / "var"


def resolve_path(value: str | os.PathLike[str]) -> Path:
    """A user-given path: absolute or relative to the cwd when it exists there, else relative to the repo root."""
    path = Path(value).expanduser()
    if path.is_absolute() or path.exists():
        return path.resolve() if path.exists() else path
    rooted = repo_root() / path
    return rooted if rooted.exists() else path
