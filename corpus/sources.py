"""The sources of `corpus build` read as items to convert: a corpus folder (`articles/` + `annotations/`) or a
Label Studio JSON export (a list of tasks; article text from `data.text`, article id from `data.article_id`,
else `task-<id>`). Each source records the sha256 of what it read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.convert import BAD_TEXT, MALFORMED, Document
from corpus.errors import InputError
from corpus.schema import checksum
from corpus.splits import SPLITS
from corpus.store import check_pulled_export, decode_text, parse_json, read_bytes

_SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation", "development": "validation"}


@dataclass
class Source:
    """One source as read: what it is, its sha256, and the (name, sha256) of each file it holds."""

    kind: str  # "corpus" or "export"
    path: Path
    sha256: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)
    tasks: int = 0


@dataclass
class Item:
    """One task to convert (or a stored article with no task), and where it came from."""

    doc: Document
    task: dict[str, Any] | None
    source: Source
    reason: tuple[str, str] | None = None  # reject the whole task: (reason, detail)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _decode_json(path: Path) -> tuple[Any, str]:
    """(decoded JSON, sha256 of the bytes); InputError naming the file otherwise."""
    raw = read_bytes(path)
    return parse_json(decode_text(raw, path), path), _sha256(raw)


def _split_value(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    split = _SPLIT_ALIASES.get(str(value).lower(), str(value).lower())
    if split not in SPLITS:
        raise InputError(where, f"split {value!r} is not one of {', '.join(SPLITS)}")
    return split


def read_export(path: Path) -> tuple[Source, list[Item]]:
    """A Label Studio JSON export (list of tasks) as items; the text comes from each task's data. A pulled
    export is checked against the sha256 its pull recorded."""
    check_pulled_export(path)
    raw, digest = _decode_json(path)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        raw = [raw]  # one task file
    if not isinstance(raw, list):
        raise InputError(path, f"not a Label Studio JSON export: expected a list of tasks, got a JSON "
                               f"{type(raw).__name__}")
    if not raw:
        raise InputError(path, "the export holds no tasks")
    src = Source("export", path, digest, [(path.name, digest)], tasks=len(raw))
    items = []
    for n, task in enumerate(raw):
        where = f"{path} task #{n}"
        if not isinstance(task, dict):
            items.append(Item(Document(f"task-#{n}", ""), {}, src, (MALFORMED, "task is not a JSON object")))
            continue
        data = task.get("data")
        data = data if isinstance(data, dict) else {}
        tid = task.get("id", f"#{n}")
        article_id = data.get("article_id") or f"task-{tid}"
        bad = _bad_ids(task, data)
        if bad:
            items.append(Item(Document(f"task-#{n}", ""), task, src, (MALFORMED, bad)))
            continue
        meta = {k: data.get(k) for k in ("title", "source", "url", "published", "language", "rights", "checksum",
                                         "group", "origin", "sentence_spans")}
        meta["split"] = _split_value(data.get("split"), f"{where} (id {tid})")
        text = data.get("text")
        if not isinstance(text, str) or not text:
            items.append(Item(Document(str(article_id), "", meta), task, src,
                               (MALFORMED, "task data has no 'text' string to convert against")))
            continue
        if isinstance(meta["checksum"], str) and meta["checksum"] and meta["checksum"] != checksum(text):
            items.append(Item(Document(str(article_id), text, meta), task, src, (BAD_TEXT, (
                f"data.checksum {meta['checksum'][:19]}... is not the checksum of data.text "
                f"({checksum(text)[:19]}...): the text changed after the checksum was taken"))))
            continue
        items.append(Item(Document(str(article_id), text, meta), task, src))
    return src, items


def _bad_ids(task: dict[str, Any], data: dict[str, Any]) -> str | None:
    """Why a task's id or data.article_id cannot be stored (a 64-bit integer id; a string or integer article id)."""
    tid, article_id = task.get("id"), data.get("article_id")
    if isinstance(tid, bool) or (isinstance(tid, int) and not -2**63 <= tid < 2**63):
        return f"task id {tid!r} is not a 64-bit integer"
    if article_id is not None and (isinstance(article_id, bool) or not isinstance(article_id, str | int)):
        return f"data.article_id must be a string, got a JSON {type(article_id).__name__}"
    return None


def read_corpus(root: Path) -> tuple[Source, list[Item]]:
    """A corpus folder (`articles/` + `annotations/`): every article, with its task where it has one."""
    from corpus.store import CorpusStore

    store = CorpusStore(root)
    if not store.articles_dir.is_dir() and not store.annotations_dir.is_dir():
        raise InputError(root, "not a corpus folder (no articles/ or annotations/) nor a JSON export")
    src = Source("corpus", root)
    docs: dict[str, Document] = {}
    for article in store.articles():
        path = store.article_path(article.id)
        src.files.append((str(path.relative_to(root)), _sha256(path.read_bytes())))
        meta = {k: getattr(article, k) for k in ("title", "source", "url", "published", "language", "rights",
                                                 "checksum", "group", "split")}
        meta["origin"] = article.extra.get("origin")
        meta["sentence_spans"] = article.extra.get("sentence_spans")
        meta["entities"] = (article.extra.get("seesaw") or {}).get("entities")  # the entity list candidates pair
        docs[article.id] = Document(article.id, article.text, meta)
    items: list[Item] = []
    annotated: set[str] = set()
    for path in store.task_files():
        task = store.read_task(path)
        src.files.append((str(path.relative_to(root)), _sha256(path.read_bytes())))
        data = task["data"]
        article_id = str(data.get("article_id") or path.stem)
        doc = docs.get(article_id)
        if doc is None:
            items.append(Item(Document(article_id, data.get("text") or ""), task, src,
                               (BAD_TEXT, f"{path.name}: article {article_id!r} is not in {store.articles_dir}")))
        elif data.get("text") is not None and data["text"] != doc.text:
            items.append(Item(doc, task, src, (BAD_TEXT, f"{path.name}: data.text differs from the stored "
                                                          f"article's text; offsets would be wrong")))
        else:
            items.append(Item(doc, task, src))
        annotated.add(article_id)
    items += [Item(doc, None, src) for aid, doc in docs.items() if aid not in annotated]
    src.tasks = sum(1 for i in items if i.task is not None)
    listing = "".join(f"{name}\t{sha}\n" for name, sha in sorted(src.files))
    src.sha256 = _sha256(listing.encode())
    return src, items


def read_sources(paths: Iterable[Path]) -> tuple[list[Source], list[Item]]:
    """Read every source (the bundled corpus when none is given); InputError on the first unreadable one."""
    from corpus.store import BUNDLED_ROOT

    sources, items = [], []
    for path in list(paths) or [BUNDLED_ROOT]:
        path = Path(path)
        if path.is_dir():
            src, its = read_corpus(path)
        elif path.is_file():
            src, its = read_export(path)
        else:
            raise InputError(path, "no such file or folder")
        sources.append(src)
        items += its
    return sources, items
