"""The sources of `corpus build` read as items to convert: a corpus folder (`articles/` + `annotations/`) or a
Label Studio JSON export (a list of tasks; article text from `data.text`, article id from `data.article_id`,
else `task-<id>`). Each source records the sha256 of what it read.

An export is streamed (`stream_export`): its bytes are decoded incrementally and one task at a time is parsed from
a bounded buffer with the standard JSON decoder (`raw_decode`, the same parser and number handling as a whole
`json.loads`), so memory does not grow with the export. Anything that is not a plain `[task, task, ...]` in UTF-8
(a single task object, a BOM-less error, bad bytes, bad JSON, nesting too deep) is read again whole by the plain
reader, which gives the one-line error naming the file, line and column it always gave."""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.convert import BAD_TEXT, MALFORMED, Document
from corpus.errors import InputError
from corpus.schema import checksum
from corpus.splits import SPLITS
from corpus.store import check_pulled_export, decode_text, parse_json, read_bytes, sha256_file

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
    """A Label Studio JSON export (list of tasks) as items, all read (`stream_export` yields them one by one)."""
    src, items = stream_export(path)
    return src, list(items)


def stream_export(path: Path) -> tuple[Source, Iterator[Item]]:
    """A Label Studio JSON export (list of tasks) as items made one task at a time; the text comes from each
    task's data. A pulled export is checked against the sha256 its pull recorded (before any item is made);
    `Source.tasks` is final once the items are exhausted."""
    digest = sha256_file(path) if path.is_file() else ""
    check_pulled_export(path, digest or None)
    src = Source("export", path, "sha256:" + digest, [(path.name, "sha256:" + digest)])

    def items() -> Iterator[Item]:
        n = -1
        for n, task in enumerate(_tasks(path)):
            yield _export_item(path, src, n, task)
        if n < 0:
            raise InputError(path, "the export holds no tasks")
        src.tasks = n + 1

    return src, items()


_CHUNK = 1 << 18  # bytes read at a time (a quarter of it is kept ahead of the parser)
_WS = re.compile(r"[ \t\n\r]*")


def _tasks(path: Path) -> Iterator[Any]:
    """The top-level values of a JSON list file, one at a time; any other shape or any error: `_whole`."""
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8")()
    done = 0  # values yielded
    try:
        with path.open("rb") as f:
            head = f.read(_CHUNK)
            buf = utf8.decode(head, final=len(head) < _CHUNK)
            pos = _WS.match(buf).end()
            if buf[pos:pos + 1] != "[":
                yield from _whole(path, done)
                return
            pos, eof, expect_comma = pos + 1, len(head) < _CHUNK, False
            while True:
                pos = _WS.match(buf, pos).end()
                if not eof and len(buf) - pos < _CHUNK // 4:  # keep a quarter chunk ahead: no value is cut short
                    more = f.read(_CHUNK)
                    eof = len(more) < _CHUNK
                    buf = buf[pos:] + utf8.decode(more, final=eof)
                    pos = 0
                    continue
                if buf[pos:pos + 1] == "]":
                    if _WS.match(buf, pos + 1).end() != len(buf) or not eof or f.read(1):
                        break  # something after the list: the whole reader names it
                    return
                if expect_comma:
                    if buf[pos:pos + 1] != ",":
                        break
                    pos, expect_comma = pos + 1, False
                    continue
                try:
                    value, end = decoder.raw_decode(buf, pos)
                except json.JSONDecodeError:
                    if eof:
                        break
                    more = f.read(_CHUNK)  # the value may run past the buffer: read on
                    eof = len(more) < _CHUNK
                    buf = buf[pos:] + utf8.decode(more, final=eof)
                    pos = 0
                    continue
                yield value
                done += 1
                pos, expect_comma = end, True
    except (UnicodeDecodeError, RecursionError, ValueError):
        pass
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None
    yield from _whole(path, done)


def _whole(path: Path, skip: int) -> Iterator[Any]:
    """The plain reader: the whole file decoded at once (its one-line errors); the values after the first `skip`."""
    raw, _ = _decode_json(path)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        raw = [raw]  # one task file
    if not isinstance(raw, list):
        raise InputError(path, f"not a Label Studio JSON export: expected a list of tasks, got a JSON "
                               f"{type(raw).__name__}")
    yield from raw[skip:]


def _export_item(path: Path, src: Source, n: int, task: Any) -> Item:
    """The item of task #n of an export (rejected with its reason where it cannot be converted)."""
    where = f"{path} task #{n}"
    if not isinstance(task, dict):
        return Item(Document(f"task-#{n}", ""), {}, src, (MALFORMED, "task is not a JSON object"))
    data = task.get("data")
    data = data if isinstance(data, dict) else {}
    tid = task.get("id", f"#{n}")
    article_id = data.get("article_id") or f"task-{tid}"
    bad = _bad_ids(task, data)
    if bad:
        return Item(Document(f"task-#{n}", ""), task, src, (MALFORMED, bad))
    meta = {k: data.get(k) for k in ("title", "source", "url", "published", "language", "rights", "checksum",
                                     "group", "origin", "sentence_spans")}
    meta["split"] = _split_value(data.get("split"), f"{where} (id {tid})")
    text = data.get("text")
    if not isinstance(text, str) or not text:
        return Item(Document(str(article_id), "", meta), task, src,
                    (MALFORMED, "task data has no 'text' string to convert against"))
    if isinstance(meta["checksum"], str) and meta["checksum"] and meta["checksum"] != checksum(text):
        return Item(Document(str(article_id), text, meta), task, src, (BAD_TEXT, (
            f"data.checksum {meta['checksum'][:19]}... is not the checksum of data.text "
            f"({checksum(text)[:19]}...): the text changed after the checksum was taken")))
    return Item(Document(str(article_id), text, meta), task, src)


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


def read_sources(paths: Iterable[Path]) -> tuple[list[Source], Iterator[Item]]:
    """Every source (the bundled corpus when none is given) and their items, an export's streamed; InputError on
    the first unreadable one (a streamed export's errors come while its items are read)."""
    from itertools import chain

    from corpus.store import BUNDLED_ROOT

    sources: list[Source] = []
    streams: list[Iterable[Item]] = []
    for path in list(paths) or [BUNDLED_ROOT]:
        path = Path(path)
        if path.is_dir():
            src, its = read_corpus(path)
        elif path.is_file():
            src, its = stream_export(path)
        else:
            raise InputError(path, "no such file or folder")
        sources.append(src)
        streams.append(its)
    return sources, chain.from_iterable(streams)
