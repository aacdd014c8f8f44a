"""Article context for statement rows: the title and the sentences just before the statement's context.

A statement's `context` is its sentence (or sentences); "the president" there is often named two sentences
back. Rows get `preceding` (up to MAX_SENTENCES sentences before the context, nearest last) and `title` from
the article text, read from DATASET/articles or given by the caller (extract); a model that reads context
(`data.context_sentences`) takes the last N of them as a second segment. Rows without an article keep none.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

MAX_SENTENCES = 3  # kept on the row; a model may read fewer
MAX_CHARS = 600  # per row, of preceding text: what 128 tokens could hold, and a bound on hostile input


def preceding_sentences(text: str, start: int, n: int = MAX_SENTENCES) -> list[str]:
    """Up to `n` sentences of `text` that end at or before character `start`, in reading order."""
    from corpus.sentences import split_sentences

    if not text or start is None or start <= 0:
        return []
    before = [text[a:b].strip() for a, b in split_sentences(text[:start]) if b <= start]
    out = [s for s in before if s][-n:]
    while out and sum(len(s) for s in out) > MAX_CHARS:
        out.pop(0)
    return out


def article_texts(dataset: str | Path) -> dict[str, tuple[str, str]]:
    """article id -> (title, text) from DATASET/articles (every split); {} when the dataset has no articles."""
    from datasets import load_from_disk

    from training.paths import resolve_path

    folder = resolve_path(dataset)
    folder = folder.parent if folder.name == "statements" else folder
    if not (folder / "articles" / "dataset_dict.json").is_file():
        return {}
    out: dict[str, tuple[str, str]] = {}
    for split in load_from_disk(str(folder / "articles")).values():
        for row in split.select_columns([c for c in ("id", "title", "text") if c in split.column_names]).to_list():
            out[str(row["id"])] = (str(row.get("title") or ""), str(row.get("text") or ""))
    return out


def attach(rows: Iterable[Mapping[str, Any]], articles: Mapping[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Copies of `rows` with `preceding` (list of sentences) and `title` from their article, where known."""
    cache: dict[tuple[str, int], list[str]] = {}
    out = []
    for row in rows:
        row = dict(row)
        found = articles.get(str(row.get("article_id")))
        start = row.get("context_start")
        if found is not None and start is not None and start == start:
            key = (str(row["article_id"]), int(start))
            if key not in cache:
                cache[key] = preceding_sentences(found[1], int(start))
            row["preceding"], row["title"] = cache[key], found[0]
        out.append(row)
    return out


def context_text(row: Mapping[str, Any], sentences: int, title: bool) -> str:
    """The second segment a context-reading model gets: the title and the last `sentences` preceding ones."""
    parts = []
    if title and row.get("title"):
        parts.append(f"{row['title']} .")
    preceding = row.get("preceding")
    if sentences and isinstance(preceding, list | tuple):
        parts += [str(s) for s in list(preceding)[-sentences:]]
    return " ".join(parts)
