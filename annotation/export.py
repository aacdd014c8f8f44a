"""Reading annotated tasks: a Label Studio JSON export, a single task file, or a corpus folder (`corpus/`, an
importer's OUT) with `annotations/*.json`; the exports manifest; and who made each annotation.

Push keeps what Label Studio cannot hold in the task data under `IMPORTED_KEY`: for each imported
annotation (by its `import_id`) our annotator name and its `statement` items (imported statements without
offsets never go to the server as result items). `coded_annotations` puts them back.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotation.validate import ERROR, WARNING, CodedAnnotation, Issue, Names, read_annotation
from corpus.codebook import Codebook
from corpus.errors import InputError
from corpus.store import PULL_MANIFEST, check_pulled_export, read_json, sha256_file
from corpus.tasks import IMPORTED_KEY, annotator_of

MANIFEST_NAME = PULL_MANIFEST  # the pull manifest beside the exports (`corpus.store` reads and checks it)


@dataclass
class TaskSource:
    """Tasks read from one place, with the user names (id -> e-mail) a pull recorded for it."""

    path: Path
    tasks: list[dict[str, Any]]
    users: dict[int, str]
    sha256: str | None = None


def _as_tasks(raw: Any, where: str) -> list[dict[str, Any]]:
    tasks = raw if isinstance(raw, list) else [raw]
    for i, task in enumerate(tasks):
        ref = f"{where}[{i}]" if isinstance(raw, list) else where
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(ref, "not a Label Studio task (an object with a 'data' object)")
        if not isinstance(task.get("annotations", []), list):
            raise InputError(ref, "'annotations' must be a list")
    return tasks


def load_tasks(source: str | Path) -> TaskSource:
    """Tasks from an export file, a task file, or a folder (corpus root / importer OUT / folder of tasks).

    An export listed in its folder's manifest is checked against the sha256 recorded at pull time.
    """
    path = Path(source)
    if path.is_dir():
        folder = path / "annotations" if (path / "annotations").is_dir() else path
        files = sorted(folder.glob("*.json"))
        if not files:
            raise InputError(path, "no task files (*.json) found here or under annotations/")
        tasks: list[dict[str, Any]] = []
        for f in files:
            tasks += _as_tasks(read_json(f), str(f))
        return TaskSource(path, tasks, {})
    if not path.exists():
        raise InputError(path, "file not found")
    digest = sha256_file(path)
    entry = check_pulled_export(path, digest) or {}
    users = {int(k): v for k, v in (entry.get("users") or {}).items()}
    raw = read_json(path)
    if isinstance(raw, list) and not raw:
        raise InputError(path, "the export holds no tasks")
    return TaskSource(path, _as_tasks(raw, str(path)), users, digest)


def task_ref(task: dict[str, Any]) -> str:
    """How reports name a task: its Label Studio id, else its article id."""
    if task.get("id") is not None:
        return str(task["id"])
    return str(task.get("data", {}).get("article_id", "?"))


def annotator_name(task: dict[str, Any], annotation: dict[str, Any], users: dict[int, str]) -> str:
    """Our stable name for an annotation's author: `annotator`, the name push recorded for an imported one,
    the e-mail a pull recorded for its Label Studio user, else `ls-user:<id>`."""
    if annotation.get("annotator"):
        return str(annotation["annotator"])
    imported = task.get("data", {}).get(IMPORTED_KEY) or {}
    record = imported.get(str(annotation.get("import_id"))) if annotation.get("import_id") is not None else None
    if isinstance(record, dict) and record.get("annotator"):
        return str(record["annotator"])
    by = annotation.get("completed_by")
    if isinstance(by, int) and by in users:
        return users[by]
    return annotator_of(annotation)


def imported_statements(task: dict[str, Any], annotation: dict[str, Any]) -> list[dict[str, Any]]:
    imported = task.get("data", {}).get(IMPORTED_KEY) or {}
    record = imported.get(str(annotation.get("import_id"))) if annotation.get("import_id") is not None else None
    return list(record.get("statements") or []) if isinstance(record, dict) else []


def coded_annotations(task: dict[str, Any], codebook: Codebook, users: dict[int, str] | None = None,
                      names: Names | None = None) -> tuple[list[CodedAnnotation], list[Issue]]:
    """Every usable annotation of a task (one per annotator: the latest), and the issues met on the way."""
    ref = task_ref(task)
    text = task.get("data", {}).get("text")
    if not isinstance(text, str) or not text:
        return [], [Issue(ref, None, None, ERROR, "task has no 'text' in its data: left out")]
    names = names or Names(codebook)
    coded: dict[str, CodedAnnotation] = {}
    issues: list[Issue] = []
    for ann in task.get("annotations") or []:
        if not isinstance(ann, dict):
            issues.append(Issue(ref, None, None, ERROR, "annotation is not a JSON object: left out"))
            continue
        who = annotator_name(task, ann, users or {})
        one, found = read_annotation(ref, text, ann, who, codebook, names, imported_statements(task, ann))
        issues += found
        if one is None:
            continue
        if who in coded:
            older, newer = sorted([coded[who], one], key=_recency)
            issues.append(Issue(ref, older.annotation_id, None, WARNING,
                                f"{who} has another annotation ({newer.annotation_id}) on this task: the later one "
                                "is used"))
            one = newer
        coded[who] = one
    return list(coded.values()), issues


def _recency(c: CodedAnnotation) -> tuple[str, int]:
    raw_id = c.raw.get("id")
    return str(c.raw.get("updated_at") or c.raw.get("created_at") or ""), raw_id if isinstance(raw_id, int) else 0


INT64_MAX = 2**63 - 1  # Label Studio's ids are 64-bit; Arrow (the dataset) cannot hold a larger one


def task_id_problem(task: dict[str, Any]) -> str | None:
    """Why a task's `id` is unusable (not a whole number from 0 to 2**63-1), or None when it is fine or absent."""
    tid = task.get("id")
    if tid is None:
        return None
    if isinstance(tid, str) and tid.isascii() and tid.isdigit():
        tid = int(tid)
    if isinstance(tid, bool) or not isinstance(tid, int):
        return f"task id {str(tid)[:40]!r} is not a whole number"
    if not 0 <= tid <= INT64_MAX:
        return f"task id {str(tid)[:40]} is outside 0..2**63-1"
    return None


def validate_tasks(tasks: Iterable[dict[str, Any]], codebook: Codebook, users: dict[int, str] | None = None,
                   ) -> list[Issue]:
    """All issues of all tasks (the export validation report); a task with an unusable id is one error."""
    names = Names(codebook)
    issues: list[Issue] = []
    for task in tasks:
        problem = task_id_problem(task)
        if problem is not None:
            issues.append(Issue(str(task.get("id"))[:40], None, None, ERROR, f"{problem}: left out"))
            continue
        issues += coded_annotations(task, codebook, users, names)[1]
    return issues
