"""`corpus add`: turn text, Markdown, HTML, JSON and JSONL files into stored articles."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.errors import InputError
from corpus.schema import UNKNOWN, Article, article_from_dict, normalise_text, slugify
from corpus.store import CorpusStore, json_lines, parse_json, read_text

SUFFIXES = (".txt", ".md", ".html", ".htm", ".json", ".jsonl")
DEFAULT_MAX_MB = 5.0  # a long news article is under 100 kB; a bigger "article" slows every later command

# Invisible characters removed from article text: NUL and the other C0/C1 controls (tab and newline kept),
# bidirectional embeddings, overrides and isolates (U+202A-202E, U+2066-2069: text that displays other than
# it reads), and zero-width spaces / word joiners / BOMs. ZWJ and ZWNJ stay: Persian, Indic scripts and emoji
# sequences need them.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b\u2060\ufeff]")


@dataclass
class Metadata:
    """Metadata given on the command line; applies to every article of the call that lacks its own."""

    source: str = UNKNOWN
    url: str = UNKNOWN
    published: str = UNKNOWN
    language: str = "en"
    rights: str = UNKNOWN


@dataclass
class AddResult:
    added: list[str] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    removed: dict[str, int] = field(default_factory=dict)  # article id -> invisible characters removed


def strip_invisible(text: str) -> tuple[str, int]:
    """`text` without the invisible controls of `_INVISIBLE`, and how many were removed."""
    cleaned, n = _INVISIBLE.subn("", text)
    return cleaned, n


def check_input_path(path: Path, max_bytes: int | None = None) -> None:
    """Refuse a symbolic link that leads out of its own folder (a link to /etc/passwd) and, for one-article
    files, a file over `max_bytes`."""
    if path.is_symlink():
        target = path.resolve()
        if path.parent.resolve() not in target.parents:
            raise InputError(path, f"is a symbolic link to {target}, outside its folder; refusing it "
                                   "(give the file itself)")
    if max_bytes is not None and path.suffix.lower() not in (".json", ".jsonl") and path.is_file():
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(path, _too_big(size, max_bytes))


def _too_big(size: int, max_bytes: int) -> str:
    return (f"{size / 1e6:.1f} MB; an article is capped at {max_bytes / 1e6:g} MB (raise the cap with "
            "--max-size MB)")


def _split_plain(text: str, path: Path) -> tuple[str, str, str]:
    """Line 1 is the headline, line 2 the standfirst (when a body follows), the rest the body."""
    lines = normalise_text(text).split("\n")
    lines = [ln.lstrip("# ").rstrip() if i == 0 else ln for i, ln in enumerate(lines)]
    non_empty = [i for i, ln in enumerate(lines) if ln.strip()]
    if len(non_empty) < 2:
        raise InputError(path, "an article needs a headline line and a body (found one line of text)")
    title = lines[non_empty[0]].strip()
    rest = lines[non_empty[0] + 1:]
    rest_idx = [i for i, ln in enumerate(rest) if ln.strip()]
    if len(rest_idx) >= 2:
        standfirst = rest[rest_idx[0]].strip()
        body = "\n".join(rest[rest_idx[0] + 1:])
    else:
        standfirst, body = "", "\n".join(rest)
    return title, standfirst, normalise_text(body)


def _split_html(text: str, path: Path) -> tuple[str, str, str, dict[str, str]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    for tag in soup(["script", "style", "noscript", "nav", "header", "footer", "aside", "form"]):
        tag.decompose()
    root = soup.find("article") or soup.body
    if root is None:
        raise InputError(path, "HTML has no <body> or <article> element")
    h1 = root.find("h1") or soup.find("h1")
    title = h1.get_text(" ", strip=True) if h1 else (soup.title.get_text(" ", strip=True) if soup.title else "")
    if h1:
        h1.decompose()
    paragraphs = [p.get_text(" ", strip=True) for p in root.find_all("p")]
    paragraphs = [p for p in paragraphs if p]
    if not paragraphs:
        body_text = root.get_text("\n", strip=True)
        paragraphs = [ln for ln in body_text.split("\n") if ln.strip()]
    if not paragraphs:
        raise InputError(path, "HTML body holds no text")
    if not title:
        raise InputError(path, "HTML has no headline (<h1> or <title>)")
    meta: dict[str, str] = {}
    for name, key in (("og:url", "url"), ("article:published_time", "published"), ("og:site_name", "source")):
        tag = soup.find("meta", attrs={"property": name})
        if tag and tag.get("content"):
            meta[key] = str(tag["content"]).strip()
    if meta.get("published"):
        meta["published"] = meta["published"][:10]
    standfirst = ""
    desc = soup.find("meta", attrs={"name": "description"})
    if desc and desc.get("content") and desc["content"].strip() != paragraphs[0]:
        standfirst = normalise_text(str(desc["content"]))
    return title, standfirst, "\n".join(paragraphs), meta


def _article(fields: dict[str, Any], where: str, meta: Metadata, fallback_id: str) -> tuple[Article, int]:
    """The article of `fields` (invisible controls removed) and how many characters were removed."""
    data = {k: v for k, v in fields.items() if v not in (None, "")}
    removed = 0
    for key in ("title", "standfirst", "body", "text"):
        if isinstance(data.get(key), str):
            data[key], n = strip_invisible(data[key])
            removed += n
    if "text" in data and "body" not in data:
        data["body"] = data.pop("text")
    for key in ("source", "url", "published", "language", "rights"):
        data.setdefault(key, getattr(meta, key))
    data.setdefault("id", fallback_id)
    return article_from_dict(data, where), removed


def parse_file(path: Path, meta: Metadata) -> list[Article]:
    """Parse one input file into articles (JSONL gives one per line); raises InputError naming file/line."""
    return [article for article, _ in parse_file_counted(path, meta)]


def parse_file_counted(path: Path, meta: Metadata) -> list[tuple[Article, int]]:
    """`parse_file`, each article with the number of invisible control characters removed from it."""
    text = read_text(path)
    suffix = path.suffix.lower()
    stem_id = slugify(path.stem)
    if suffix in (".txt", ".md"):
        title, standfirst, body = _split_plain(text, path)
        return [_article({"title": title, "standfirst": standfirst, "body": body}, str(path), meta, stem_id)]
    if suffix in (".html", ".htm"):
        title, standfirst, body, found = _split_html(text, path)
        merged = Metadata(**{**meta.__dict__, **{k: v for k, v in found.items() if getattr(meta, k) == UNKNOWN}})
        return [_article({"title": title, "standfirst": standfirst, "body": body}, str(path), merged, stem_id)]
    if suffix == ".json":
        obj = parse_json(text, path)
        items = obj if isinstance(obj, list) else [obj]
        return [_record(item, f"{path}[{i}]" if isinstance(obj, list) else str(path), meta,
                        f"{stem_id}-{i + 1}" if isinstance(obj, list) else stem_id)
                for i, item in enumerate(items)]
    if suffix == ".jsonl":
        out = [_record(item, f"{path}:{n}", meta, f"{stem_id}-{n}") for n, item in json_lines(text, path)]
        if not out:
            raise InputError(path, "no articles in file")
        return out
    raise InputError(path, f"unsupported file type {suffix!r} (expected one of {', '.join(SUFFIXES)})")


def _record(item: Any, where: str, meta: Metadata, fallback_id: str) -> tuple[Article, int]:
    if not isinstance(item, dict):
        raise InputError(where, "each article must be a JSON object")
    for required in ("title",):
        if not item.get(required):
            raise InputError(where, f"missing required field {required!r}")
    if not (item.get("body") or item.get("text")):
        raise InputError(where, "missing required field 'body' (or 'text')")
    return _article(item, where, meta, fallback_id)


def add_files(paths: list[Path], store: CorpusStore, meta: Metadata, article_id: str | None = None,
              max_mb: float = DEFAULT_MAX_MB) -> AddResult:
    """Validate every file first, then write; a duplicate (same id or same text) is an error, nothing is written.

    `article_id` names the article when exactly one is added; an article over `max_mb` MB (UTF-8) is refused.
    """
    max_bytes = int(max_mb * 1e6)
    existing_ids = set(store.article_ids())
    existing_sums = {a.checksum: a.id for a in store.articles()}
    new: list[Article] = []
    removed_by_id: dict[str, int] = {}
    if article_id and len(paths) != 1:
        raise InputError(None, "--id names one article: give exactly one file")
    for path in paths:
        check_input_path(Path(path), max_bytes)
        for art, removed in parse_file_counted(Path(path), meta):
            size = len(art.text.encode("utf-8"))
            if size > max_bytes:
                raise InputError(path, _too_big(size, max_bytes))
            if article_id:
                art = article_from_dict({**art.model_dump(), "id": article_id}, str(path))
            if art.checksum in existing_sums:
                other = existing_sums[art.checksum]
                raise InputError(path, f"duplicate article: same text as stored article {other!r}")
            if art.id in existing_ids:
                raise InputError(path, f"duplicate article id {art.id!r} (already stored; pass --id to choose another)")
            existing_sums[art.checksum] = art.id
            existing_ids.add(art.id)
            new.append(art)
            if removed:
                removed_by_id[art.id] = removed
    result = AddResult(removed=removed_by_id)
    for art in new:
        result.paths.append(store.write_article(art))
        result.added.append(art.id)
    return result
