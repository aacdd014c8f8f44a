"""Pull a project's annotations: a JSON export snapshot with full prediction objects, written once and never
overwritten as `<exports>/<project>-<UTC time>-<sha256 prefix>.json`, plus a line in `<exports>/manifest.jsonl`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from annotation.client import LabelStudioClient
from annotation.export import MANIFEST_NAME
from corpus.errors import InputError, ServiceError
from corpus.schema import slugify
from corpus.store import BUNDLED_ROOT

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


def write_new(path: Path, data: bytes) -> Path:
    """Write `data` to `path` atomically and never over an existing file (then `-2`, `-3`, ... is used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        candidate, n = path, 1
        while True:
            try:
                os.link(tmp, candidate)  # fails if the name exists: no overwrite, no race
                return candidate
            except FileExistsError:
                n += 1
                candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def append_manifest(folder: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line to the folder's manifest (a single write: lines never interleave)."""
    path = folder / MANIFEST_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # two pulls at once still write whole lines
        os.write(fd, (json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def pull(client: LabelStudioClient, project: str, out_dir: Path = DEFAULT_EXPORTS) -> PullReport:
    """Export `project` as a snapshot and store it (see the module docstring)."""
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
    digest = hashlib.sha256(raw).hexdigest()
    name = f"{slugify(project)}-{now:%Y%m%dT%H%M%SZ}-{digest[:12]}.json"
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(out_dir, "is not a folder")
    path = write_new(out_dir / name, raw)
    annotations = [a for t in tasks for a in t.get("annotations") or []]
    version = client.version()
    users = {str(u["id"]): str(u.get("email") or u.get("username") or u["id"]) for u in client.list_users()}
    report = PullReport(
        file=path.name, path=str(path), sha256=digest, project=project, project_id=pid, server=client.url,
        server_version=str(version.get("release") or version.get("label-studio-os-package", {}).get("version")),
        tasks=len(tasks), annotated_tasks=sum(1 for t in tasks if t.get("annotations")),
        annotations=len(annotations), cancelled_annotations=sum(1 for a in annotations if a.get("was_cancelled")),
        predictions=sum(len(t.get("predictions") or []) for t in tasks), exported_at=now.isoformat(),
        bytes=len(raw), users=users,
    )
    entry = asdict(report)
    entry.pop("path")
    append_manifest(path.parent, entry)
    return report
