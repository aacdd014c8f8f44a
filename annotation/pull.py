"""Pull a project's annotations: a JSON export snapshot with full prediction objects, written once and never
overwritten as `<exports>/<project>-<UTC time>-<sha256 prefix>.json`, plus a line in `<exports>/manifest.jsonl`.

The file appears only with its line: every server call (snapshot, version, users) comes first; then the bytes go
to a hidden temporary file, the manifest line is appended (under the manifest's lock) and only then is the file
linked under its name. A pull that fails anywhere before leaves no export; one that fails at the very last step
(the link) leaves a line whose file does not exist, which nothing reads. `corpus build` and `annotation validate`
refuse an export named like a pull that has no line, or whose content does not match the sha in its name.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotation.client import LabelStudioClient
from annotation.export import MANIFEST_NAME
from corpus.errors import InputError, ServiceError
from corpus.schema import slugify
from corpus.store import BUNDLED_ROOT, read_pull_manifest

DEFAULT_EXPORTS = BUNDLED_ROOT / "annotations" / "exports"


@dataclass
class PullReport:
    """One pulled export and its manifest entry."""

    file: str
    path: str
    sha256: str
    project: str
    project_id: int
    server: str
    server_version: str
    tasks: int
    annotated_tasks: int
    annotations: int
    cancelled_annotations: int
    predictions: int
    exported_at: str
    bytes: int
    users: dict[str, str]


@contextlib.contextmanager
def _synced_temp(path: Path, data: bytes) -> Iterator[str]:
    """`data` in a hidden temporary file beside `path`, flushed to disk; removed on exit (linking it under a
    name first is how it is published)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_new(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically and never over an existing file (then `-2`, `-3`, ... is used)."""
    with _synced_temp(path, data) as tmp:
        candidate, n = path, 1
        while True:
            try:
                os.link(tmp, candidate)  # fails if the name exists: no overwrite, no race
                return candidate
            except FileExistsError:
                n += 1
                candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")


def append_manifest(folder: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line to the folder's manifest (a single write: lines never interleave)."""
    with _manifest_locked(folder) as fd:
        _append_line(fd, entry)


@contextlib.contextmanager
def _manifest_locked(folder: Path) -> Iterator[int]:
    """The manifest open for appending, under an exclusive lock (two pulls at once write whole lines)."""
    fd = os.open(folder / MANIFEST_NAME, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _append_line(fd: int, entry: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
    os.fsync(fd)


def publish_export(path: Path, data: bytes, entry: dict[str, Any]) -> Path:
    """Write `data` under `path` (or `-2`, `-3`, ... when taken) together with its manifest line `entry` (whose
    `file` is set to the name used): temporary file, then the line, then the name; returns the path."""
    with _synced_temp(path, data) as tmp, _manifest_locked(path.parent) as manifest:
        listed = {e["file"] for e in read_pull_manifest(path.parent)}
        candidate, n = path, 1
        while candidate.exists() or candidate.name in listed:
            n += 1
            candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        _append_line(manifest, {**entry, "file": candidate.name})
        os.link(tmp, candidate)  # fails if the name exists: never over a file
        _fsync_dir(path.parent)
    return candidate


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def pull(client: LabelStudioClient, project: str, out_dir: Path = DEFAULT_EXPORTS) -> PullReport:
    """Export `project` as a snapshot and store it with its manifest line (see the module docstring)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "is not a folder")
    found = client.find_project(project)
    if found is None:
        raise ServiceError(client.url, f"no project titled {project!r} (push creates it)")
    pid = int(found["id"])
    now = datetime.now(UTC)
    raw = client.export_snapshot(pid, title=f"newsstance pull {now:%Y-%m-%dT%H:%M:%SZ}")
    try:
        tasks = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ServiceError(client.url, f"the export of project {pid} is not JSON ({e})") from None
    if not isinstance(tasks, list):
        raise ServiceError(client.url, f"the export of project {pid} is not a list of tasks")
    # every server call before anything is written: a failure here leaves no file
    version = client.version()
    users = {str(u["id"]): str(u.get("email") or u.get("username") or u["id"]) for u in client.list_users()}
    digest = hashlib.sha256(raw).hexdigest()
    name = f"{slugify(project)}-{now:%Y%m%dT%H%M%SZ}-{digest[:12]}.json"
    annotations = [a for t in tasks for a in t.get("annotations") or []]
    report = PullReport(
        file=name, path="", sha256=digest, project=project, project_id=pid, server=client.url,
        server_version=str(version.get("release") or version.get("label-studio-os-package", {}).get("version")),
        tasks=len(tasks), annotated_tasks=sum(1 for t in tasks if t.get("annotations")),
        annotations=len(annotations), cancelled_annotations=sum(1 for a in annotations if a.get("was_cancelled")),
        predictions=sum(len(t.get("predictions") or []) for t in tasks), exported_at=now.isoformat(),
        bytes=len(raw), users=users,
    )
    entry = asdict(report)
    entry.pop("path")
    path = publish_export(out_dir / name, raw, entry)
    report.file, report.path = path.name, str(path)
    return report
