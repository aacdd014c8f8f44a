"""The corpus store on disk: `<root>/articles/<id>.json` and `<root>/annotations/<id>.json`.

The bundled corpus lives in `corpus/` itself; an importer's OUT folder has the same layout. Annotation
files are Label Studio tasks (see `corpus.tasks`). All writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpus.errors import InputError, write_text_atomic
from corpus.schema import Article, article_from_dict

BUNDLED_ROOT = Path(__file__).parent
# `python -m annotation pull` records every export it writes, with its sha256, in this file beside it.
PULL_MANIFEST = "manifest.jsonl"
# The name pull gives an export: <project>-<UTC time>-<first 12 hex digits of its sha256>[-N].json
PULLED_NAME = re.compile(r"-\d{8}T\d{6}Z-(?P<sha>[0-9a-f]{12})(?:-\d+)?\.json$")


def read_bytes(path: Path) -> bytes:
    """A file's bytes; a missing file, a folder or an unreadable file is an InputError naming it."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "is a folder, not a file") from None
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None


def decode_text(raw: bytes, path: Path | str) -> str:
    """UTF-8 (a BOM is dropped) and not blank, else an InputError naming the file and line."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise InputError(f"{path}:{line}", f"not UTF-8 text (invalid byte at offset {e.start})") from None
    if not text.strip():
        raise InputError(path, "file is empty")
    return text


def read_text(path: Path) -> str:
    """A non-empty UTF-8 text file; every failure is an InputError naming the file."""
    return decode_text(read_bytes(path), path)


def loads(text: str, where: Path | str) -> Any:
    """json.loads, with JSON nested too deeply for the parser (RecursionError) an InputError naming `where`."""
    try:
        return json.loads(text)
    except RecursionError:
        raise InputError(where, "JSON nested too deeply to read (deeper than the parser's recursion limit)") from None


def parse_json(text: str, path: Path | str) -> Any:
    """Decoded JSON text; InputError naming `path:line` when it is not JSON or is nested too deeply."""
    try:
        return loads(text, path)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}", f"not valid JSON ({e.msg}, column {e.colno})") from None


def read_json(path: Path) -> Any:
    """Decode a UTF-8 JSON file; every failure is an InputError naming the file (and line)."""
    return parse_json(read_text(path), path)


def json_lines(text: str, path: Path | str, *, objects: bool = False) -> Iterator[tuple[int, Any]]:
    """(line number, value) for each non-blank line of JSON Lines text; a line that is not JSON (or, with
    `objects`, not a JSON object) is an InputError naming `path:line`."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = loads(line, f"{path}:{n}")
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}", f"not valid JSON ({e.msg}, column {e.colno})") from None
        if objects and not isinstance(value, dict):
            raise InputError(f"{path}:{n}", "each line must be a JSON object")
        yield n, value


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file, read in chunks; InputError naming it when it cannot be read."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None
    return h.hexdigest()


def read_pull_manifest(folder: Path) -> list[dict[str, Any]]:
    """The entries of `folder/manifest.jsonl` (none when it is absent); a bad line is an InputError."""
    path = folder / PULL_MANIFEST
    if not path.is_file():
        return []
    entries = []
    for n, entry in json_lines(path.read_text(encoding="utf-8"), path):
        if not isinstance(entry, dict) or "file" not in entry:
            raise InputError(f"{path}:{n}", "a manifest line must be an object with a 'file'")
        entries.append(entry)
    return entries


def check_pulled_export(path: Path, sha256: str | None = None) -> dict[str, Any] | None:
    """The pull-manifest entry of an export (None when unlisted), once the file is found to still have the
    sha256 its pull recorded (exports are immutable); InputError otherwise. `sha256`: the file's, if known.
    A file named like a pull (`PULLED_NAME`) must have a manifest line and the sha256 its name carries."""
    listed = [entry for entry in read_pull_manifest(path.parent) if entry["file"] == path.name]
    named = PULLED_NAME.search(path.name)
    if named and not listed:
        sha256 = sha256 or sha256_file(path)
        if not sha256.startswith(named["sha"]):
            raise InputError(path, f"the content does not match the sha256 in its name (sha256 {sha256[:12]}, the "
                                   f"name says {named['sha']}); exports are immutable")
        raise InputError(path, f"named like a pulled export but {PULL_MANIFEST} has no line for it (a pull that "
                               "did not finish?); pull again")
    for entry in listed:
        if entry.get("sha256"):
            sha256 = sha256 or sha256_file(path)
            if sha256 != str(entry["sha256"]):
                raise InputError(path, f"the export changed since it was pulled (sha256 {sha256[:12]}, "
                                       f"{PULL_MANIFEST} says {str(entry['sha256'])[:12]}); exports are immutable")
    return listed[-1] if listed else None


def dump_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


class CorpusStore:
    """A folder holding `articles/` and `annotations/`."""

    def __init__(self, root: str | Path = BUNDLED_ROOT) -> None:
        self.root = Path(root)
        self.articles_dir = self.root / "articles"
        self.annotations_dir = self.root / "annotations"

    def article_path(self, article_id: str) -> Path:
        return self.articles_dir / f"{article_id}.json"

    def task_path(self, article_id: str) -> Path:
        return self.annotations_dir / f"{article_id}.json"

    def article_ids(self) -> list[str]:
        return sorted(p.stem for p in self.articles_dir.glob("*.json")) if self.articles_dir.is_dir() else []

    def read_article(self, article_id: str) -> Article:
        path = self.article_path(article_id)
        article = article_from_dict(read_json(path), str(path))
        if article.id != path.stem:
            raise InputError(path, f"id {article.id!r} does not match the file name {path.stem!r}")
        return article

    def articles(self) -> Iterator[Article]:
        for article_id in self.article_ids():
            yield self.read_article(article_id)

    def write_article(self, article: Article) -> Path:
        path = self.article_path(article.id)
        write_text_atomic(path, dump_json(article.model_dump(mode="json")))
        return path

    def task_files(self) -> list[Path]:
        """Annotation files (Label Studio tasks), one per article; exports live in `annotations/exports/`."""
        if not self.annotations_dir.is_dir():
            return []
        return sorted(self.annotations_dir.glob("*.json"))

    def read_task(self, path: Path) -> dict[str, Any]:
        task = read_json(path)
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise InputError(path, "a task file must be a JSON object with a 'data' object")
        return task

    def write_task(self, article_id: str, task: dict[str, Any]) -> Path:
        path = self.task_path(article_id)
        write_text_atomic(path, dump_json(task))
        return path
