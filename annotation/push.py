"""Push a corpus folder into a Label Studio project: the project and its codebook-generated config, articles as
tasks (in batches, idempotent), optionally their existing annotations and gazetteer pre-annotations.

Idempotency: each task carries `article_id` and `checksum` in its data; a push lists the project's tasks
first and imports only articles that are new or whose text changed (checksum differs). An article whose
text changed gets a new task; the old one is marked `meta.superseded_by` (its annotations index the old
text, so they are kept, never rewritten). A push interrupted half-way is finished by pushing again.

Concurrency: pushes to one project of one server are serialised by a file lock (`var/locks/`, keyed by the
server URL and the project title) held from finding the project to the last import, so two pushes at once make
one project and one task per article. Duplicates already on the server (one article's text in two tasks, e.g.
from pushes made before the lock) are reported; `dedupe=True` deletes the extra copies that carry no
annotations (a copy with annotations, cancelled ones and drafts included, is never deleted).
"""

from __future__ import annotations

import copy
import hashlib
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from annotation.client import LabelStudioClient
from annotation.export import IMPORTED_KEY
from annotation.gazetteer import gazetteer_prediction
from annotation.gazetteer import model_version as gazetteer_version
from annotation.guidelines import guidelines_html
from annotation.label_config import build_label_config, config_drift
from corpus.codebook import Codebook
from corpus.errors import InputError, ServiceError
from corpus.gazetteer import Gazetteer
from corpus.schema import Article
from corpus.store import CorpusStore
from corpus.tasks import STATEMENT_TYPE, annotator_of

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "newsstance"
PRELABELLERS = ("gazetteer",)
PRELABELS_META = "prelabels"  # task meta: model versions push uploaded predictions of
# Task data fields copied from the article (text is what the config shows; the rest is for people and joins).
_DATA_FIELDS = ("title", "source", "url", "published", "group", "split")
LOCK_TIMEOUT = 1800.0  # seconds a push waits for another push to the same project


@dataclass
class PushReport:
    """What a push did; `config_problems` is non-empty when the project's config differs from the codebook."""

    project_id: int
    project: str
    created_project: bool = False
    config_updated: bool = False
    config_problems: list[str] = field(default_factory=list)
    config_differs: bool = False
    articles: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    annotations: int = 0
    statements_in_data: int = 0
    predictions: int = 0
    batches: int = 0
    tasks_on_server: int = 0
    duplicates: dict[str, int] = field(default_factory=dict)  # article id -> extra tasks of one text found
    removed_duplicates: int = 0  # extra copies without annotations deleted (dedupe)
    kept_duplicates: int = 0  # extra copies left because they carry annotations
    waited_for_lock: float = 0.0  # seconds spent waiting for another push to the same project
    notes: list[str] = field(default_factory=list)


def task_data(article: Article) -> dict[str, Any]:
    """A task's data for an article: text, article_id and checksum (the idempotency key), metadata."""
    data: dict[str, Any] = {"text": article.text, "article_id": article.id, "checksum": article.checksum}
    for name in _DATA_FIELDS:
        value = getattr(article, name)
        if value is not None:
            data[name] = value
    return data


def server_annotations(task_file: dict[str, Any], where: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The annotations of a corpus task file as Label Studio imports them, and the data entry that keeps what
    it cannot hold (our annotator names; statement items, which must not be sent as result items)."""
    out, kept = [], {}
    for n, ann in enumerate(task_file.get("annotations") or [], 1):
        if not isinstance(ann, dict) or not isinstance(ann.get("result", []), list):
            raise InputError(where, f"annotation {n} is not an object with a result list")
        result = [i for i in ann.get("result") or [] if not (isinstance(i, dict) and i.get("type") == STATEMENT_TYPE)]
        statements = [i for i in ann.get("result") or [] if isinstance(i, dict) and i.get("type") == STATEMENT_TYPE]
        import_id = n
        one: dict[str, Any] = {
            "id": import_id, "result": copy.deepcopy(result),
            # Label Studio treats an imported annotation without the flag as ground truth: always send it.
            "ground_truth": bool(ann.get("ground_truth")), "was_cancelled": bool(ann.get("was_cancelled")),
        }
        if ann.get("lead_time") is not None:
            one["lead_time"] = ann["lead_time"]
        out.append(one)
        kept[str(import_id)] = {"annotator": annotator_of(ann), "statements": statements}
    return out, kept


def _text_of(html: str) -> str:
    """The words of an HTML text (the server re-serialises the instructions, e.g. adds <tbody>)."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def model_versions(task: dict[str, Any]) -> set[str]:
    """The model versions push pre-annotated a task with (kept in its meta: the plain task listing carries
    meta but not predictions), plus those of any predictions the task dict holds."""
    found = {str(v) for v in (task.get("meta") or {}).get(PRELABELS_META) or []}
    raw = task.get("predictions_model_versions") or []
    versions = raw.split(",") if isinstance(raw, str) else raw
    found |= {str(v).strip() for v in versions if str(v).strip()}
    return found | {str(p.get("model_version")) for p in task.get("predictions") or [] if isinstance(p, dict)}


def lock_path(url: str, project: str, lock_dir: Path | None = None) -> Path:
    """The lock file serialising pushes to `project` on the server at `url`."""
    from annotation.server import REPO_ROOT

    key = hashlib.sha256(f"{url.rstrip('/')}\0{project}".encode()).hexdigest()[:20]
    return (lock_dir or REPO_ROOT / "var" / "locks") / f"push-{key}.lock"


@contextmanager
def push_lock(url: str, project: str, lock_dir: Path | None = None, timeout: float = LOCK_TIMEOUT
              ) -> Iterator[float]:
    """Hold the push lock of (server, project); yields the seconds spent waiting for it."""
    import time

    from filelock import FileLock, Timeout

    path = lock_path(url, project, lock_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    started = time.monotonic()
    try:
        lock.acquire(timeout=0)
    except Timeout:
        log.warning("another push to project %r is running; waiting for it (lock %s)", project, path)
        try:
            lock.acquire(timeout=timeout)
        except Timeout:
            raise ServiceError(url, f"another push to project {project!r} has held {path} for over {timeout:.0f} s; "
                                    "wait for it to finish") from None
    try:
        yield time.monotonic() - started
    finally:
        lock.release()


def has_annotations(task: dict[str, Any]) -> bool:
    """Whether a task carries any annotation (cancelled ones and drafts count), from its listing or full record."""
    counts = ("total_annotations", "cancelled_annotations")
    return any(int(task.get(k) or 0) > 0 for k in counts) or bool(task.get("annotations")) or bool(task.get("drafts"))


def _dedupe(client: LabelStudioClient, aid: str, copies: list[dict[str, Any]], remove: bool, report: PushReport
            ) -> list[dict[str, Any]]:
    """Report the extra copies of one article text; with `remove`, delete those without annotations (each checked
    again on the server just before). Returns the copies left, oldest first."""
    copies = sorted(copies, key=lambda t: int(t["id"]))
    report.duplicates[aid] = report.duplicates.get(aid, 0) + len(copies) - 1
    annotated = [t for t in copies if has_annotations(t)]
    keep = annotated or copies[:1]
    if not remove:
        return copies
    left = list(keep)
    for task in copies:
        if any(task is k for k in keep):
            continue
        fresh = client.get_task(int(task["id"]))
        if has_annotations(fresh):  # annotated since the listing: it stays
            left.append(task)
            continue
        client.delete_task(int(task["id"]))
        report.removed_duplicates += 1
    report.kept_duplicates += len(left) - 1
    return sorted(left, key=lambda t: int(t["id"]))


def _batches(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def ensure_project(client: LabelStudioClient, title: str, codebook: Codebook, update_config: bool,
                   report: PushReport | None = None) -> tuple[dict[str, Any], PushReport]:
    """Find or create the project; compare its config with the codebook's and update it when asked."""
    config, instructions = build_label_config(codebook), guidelines_html(codebook)
    project = client.find_project(title)
    if project is None:
        project = client.create_project(title, config, instructions,
                                        description=f"{codebook.name} (codebook {codebook.version})")
        report = report or PushReport(project["id"], title)
        report.created_project = True
        return project, report
    report = report or PushReport(project["id"], title)
    report.config_problems = config_drift(project.get("label_config") or "", codebook)
    report.config_differs = (project.get("label_config") or "").strip() != config.strip() or _text_of(
        project.get("expert_instruction") or "") != _text_of(instructions)
    if report.config_differs and update_config:
        client.update_project(project["id"], label_config=config, expert_instruction=instructions,
                              show_instruction=True)
        report.config_updated = True
    return project, report


def push(client: LabelStudioClient, codebook: Codebook, source: Path, project: str = DEFAULT_PROJECT,
         with_annotations: bool = False, prelabel: Iterable[str] = (), batch_size: int = 100,
         update_config: bool = False, progress: Callable[[int], None] | None = None, *, dedupe: bool = False,
         lock_dir: Path | None = None) -> PushReport:
    """Push the articles of the corpus folder `source` into `project` under the project's push lock; see the
    module docstring. `dedupe`: delete extra copies of an article's text that carry no annotations."""
    if batch_size < 1:
        raise InputError("--batch-size", f"must be at least 1, got {batch_size}")
    prelabel = list(prelabel)
    unknown = [p for p in prelabel if p not in PRELABELLERS]
    if unknown:
        raise InputError("--prelabel", f"unknown pre-annotator {unknown[0]!r} (known: {', '.join(PRELABELLERS)})")
    store = CorpusStore(source)
    if not store.articles_dir.is_dir():
        raise InputError(source, "not a corpus folder (no articles/ inside)")
    articles = list(store.articles())
    if not articles:
        raise InputError(source, "no articles to push")

    with push_lock(getattr(client, "base_url", client.url), project, lock_dir) as waited:
        report = _push_locked(client, codebook, store, articles, project, with_annotations, prelabel, batch_size,
                              update_config, progress, dedupe)
    report.waited_for_lock = waited
    return report


def _push_locked(client: LabelStudioClient, codebook: Codebook, store: CorpusStore, articles: list[Article],
                 project: str, with_annotations: bool, prelabel: list[str], batch_size: int, update_config: bool,
                 progress: Callable[[int], None] | None, dedupe: bool) -> PushReport:
    """The check-and-import part of `push`, run while the project's push lock is held."""
    proj, report = ensure_project(client, project, codebook, update_config)
    pid = report.project_id
    report.articles = len(articles)
    existing: dict[str, list[dict[str, Any]]] = {}
    for task in client.iter_tasks(pid):
        aid = (task.get("data") or {}).get("article_id")
        if aid:
            existing.setdefault(str(aid), []).append(task)

    version = gazetteer_version(codebook)
    gazetteer = Gazetteer(codebook) if "gazetteer" in prelabel else None
    to_import: list[tuple[Article, dict[str, Any]]] = []
    superseded: list[tuple[dict[str, Any], str]] = []
    late_predictions: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for aid, tasks in existing.items():
        by_text: dict[Any, list[dict[str, Any]]] = {}
        for t in tasks:
            by_text.setdefault(t["data"].get("checksum"), []).append(t)
        if any(len(c) > 1 for c in by_text.values()):
            existing[aid] = [t for c in by_text.values()
                             for t in (_dedupe(client, aid, c, dedupe, report) if len(c) > 1 else c)]
    for article in articles:
        tasks = existing.get(article.id, [])
        current = [t for t in tasks if t["data"].get("checksum") == article.checksum]
        # Older versions of the article's text: marked (again, if an earlier push stopped before marking them).
        superseded += [(t, article.checksum) for t in tasks if t["data"].get("checksum") != article.checksum
                       and (t.get("meta") or {}).get("superseded_by") != article.checksum]
        if current:
            report.unchanged += 1
            task = current[0]
            if gazetteer is not None and version not in model_versions(task):
                pred = gazetteer_prediction(task["data"]["text"], gazetteer)
                if pred:
                    late_predictions.append((task["id"], task.get("meta") or {}, pred))
            continue
        new_task: dict[str, Any] = {"data": task_data(article), "meta": {"codebook_version": codebook.version}}
        if with_annotations and store.task_path(article.id).is_file():
            path = store.task_path(article.id)
            file_task = store.read_task(path)
            if file_task["data"].get("text") not in (None, article.text):
                raise InputError(path, f"the task text differs from article {article.id}'s text; run "
                                       "`python -m corpus validate`")
            anns, kept = server_annotations(file_task, str(path))
            if anns:
                new_task["annotations"] = anns
                new_task["data"][IMPORTED_KEY] = kept
                report.annotations += len(anns)
                report.statements_in_data += sum(len(k["statements"]) for k in kept.values())
        if gazetteer is not None:
            pred = gazetteer_prediction(article.text, gazetteer)
            if pred:
                new_task["predictions"] = [pred]
                new_task["meta"][PRELABELS_META] = [version]
                report.predictions += 1
        if tasks:
            report.changed += 1
        else:
            report.new += 1
        to_import.append((article, new_task))

    for batch in _batches(to_import, batch_size):
        client.import_tasks(pid, [t for _, t in batch])
        report.batches += 1
        if progress:
            progress(len(batch))
    for task, checksum in superseded:
        client.update_task(task["id"], meta={**(task.get("meta") or {}), "superseded_by": checksum})
    for task_id, meta, pred in late_predictions:
        client.create_prediction(task_id, pred["result"], model_version=pred["model_version"], score=pred["score"])
        client.update_task(task_id, meta={**meta, PRELABELS_META: sorted({*meta.get(PRELABELS_META, []), version})})
        report.predictions += 1
    if "gazetteer" in prelabel and proj.get("model_version") != version:
        client.update_project(pid, model_version=version)
    if with_annotations and report.unchanged:
        report.notes.append(f"{report.unchanged} articles were already on the server: their annotations were "
                            "not sent again")
    if report.duplicates:
        extra = sum(report.duplicates.values())
        first = sorted(report.duplicates)[0]
        if dedupe:
            report.notes.append(f"{len(report.duplicates)} articles had {extra} duplicate tasks on the server (first: "
                                f"{first}): {report.removed_duplicates} without annotations deleted"
                                + (f", {report.kept_duplicates} kept because they carry annotations"
                                   if report.kept_duplicates else ""))
        else:
            report.notes.append(f"{len(report.duplicates)} articles have {extra} duplicate tasks on the server "
                                f"(first: {first} x{report.duplicates[first] + 1}); push with --dedupe deletes "
                                "the copies without annotations")
    report.tasks_on_server = client.count_tasks(pid)
    log.info("pushed %d new, %d changed, %d unchanged articles to project %s", report.new, report.changed,
             report.unchanged, pid)
    return report


def push_predictions(client: LabelStudioClient, project: str, predictions: dict[str, dict[str, Any]]) -> int:
    """Upload one prediction per article id (replacing earlier ones of the same model_version on that task);
    returns how many were uploaded. Articles without a task in the project are an error."""
    found = client.find_project(project)
    if found is None:
        raise InputError("--project", f"no project titled {project!r} on {client.url}")
    tasks: dict[str, dict[str, Any]] = {}
    for task in client.iter_tasks(int(found["id"])):
        aid = (task.get("data") or {}).get("article_id")
        if aid and not (task.get("meta") or {}).get("superseded_by"):
            tasks[str(aid)] = task
    missing = sorted(set(predictions) - set(tasks))
    if missing:
        raise InputError("--project", f"{len(missing)} articles have no task in project {project!r} "
                                      f"(first: {missing[0]}); push them first")
    for aid, pred in predictions.items():
        task_id = int(tasks[aid]["id"])
        if tasks[aid].get("total_predictions"):
            for old in client.list_predictions(task_id):
                if old.get("model_version") == pred["model_version"]:
                    client.delete_prediction(int(old["id"]))
        client.create_prediction(task_id, pred["result"], model_version=pred["model_version"], score=pred["score"])
    return len(predictions)
