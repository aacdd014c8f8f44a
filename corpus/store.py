"""The corpus store on disk: `<root>/articles/<id>.json` and `<root>/annotations/<id>.json`.

The bundled corpus lives in `corpus/` itself; an importer's OUT folder has the same layout. Annotation
files are Label Studio tasks (see `corpus.tasks`). All writes are atomic.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from corpus.errors import InputError, write_text_atomic
from corpus.schema import Article, article_from_dict

BUNDLED_ROOT = Path(__file__).parent


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


def parse_json(text: str, path: Path | str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{path}:{e.lineno}", f"not valid JSON ({e.msg}, column {e.colno})") from None


def read_json(path: Path) -> Any:
    """Decode a UTF-8 JSON file; every failure is an InputError naming the file (and line)."""
    return parse_json(read_text(path), path)


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
