"""Articles: the stored record, text normalisation and checksums.

An article's annotatable `text` is its title, standfirst and body joined by blank lines; every character
offset in the project (Label Studio spans, dataset mentions) indexes into that string.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from corpus.errors import InputError

UNKNOWN = "unknown"
SCHEMA_VERSION = 1
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,127}$")


def normalise_text(text: str) -> str:
    """NFC, Unix newlines, no trailing spaces on lines, no leading/trailing blank lines."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    lines = [line.rstrip() for line in text.split("\n")]
    return "\n".join(lines).strip("\n")


def compose_text(title: str, standfirst: str, body: str) -> str:
    """The annotatable text: non-empty parts joined by a blank line."""
    return "\n\n".join(p for p in (title, standfirst, body) if p)


def checksum(text: str) -> str:
    """sha256 of the normalised text, as 'sha256:<hex>'."""
    return "sha256:" + hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()


def _short_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


def slugify(value: str) -> str:
    """A lower-case ASCII id fragment: letters, digits and single hyphens (accents folded away).

    Letters with no ASCII form (Cyrillic, Chinese, Arabic ...) cannot be folded: the fragment then ends in a
    short hash of `value`, so two such names never share one fragment (and never become 'article')."""
    value = unicodedata.normalize("NFKD", value)
    ascii_ = value.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:100].strip("-")
    dropped = any(unicodedata.category(ch)[0] in "LN" for ch in value if not ch.isascii())
    if dropped:
        return f"{slug}-{_short_hash(value)}" if slug else _short_hash(value)
    return slug or "article"


def name_slug(name: str) -> str:
    """A stable id fragment for any name: its words case-folded (Unicode letters kept), joined by '-'.

    The fragment is unique: where it does not spell the name exactly (punctuation or symbols dropped, as in
    'C++ Foundation' against 'C Foundation', or a name longer than 80 characters), it ends in a short hash of
    the name (after a '_'). Names that differ only in case or spacing are one name."""
    key = " ".join(unicodedata.normalize("NFKC", name).casefold().split())
    words = ["".join(ch for ch in w if unicodedata.category(ch)[0] in "LMN") for w in key.split(" ")]
    slug = "-".join(w for w in words if w)
    exact = slug.replace("-", " ") == key and len(slug) <= 80
    if exact and slug:
        return slug
    # '_' never occurs in an exact fragment, so a hashed fragment cannot equal another name's exact one
    return f"{slug[:80].strip('-')}_{_short_hash(key)}" if slug else f"_{_short_hash(key)}"


class Article(BaseModel):
    """One stored article (`corpus/articles/<id>.json`). Unknown metadata is the string 'unknown'."""

    model_config = ConfigDict(extra="forbid")

    schema_version: int = SCHEMA_VERSION
    id: str
    title: str
    standfirst: str = ""
    body: str
    source: str = UNKNOWN
    url: str = UNKNOWN
    published: str = UNKNOWN
    language: str = "en"
    rights: str = UNKNOWN
    checksum: str = ""
    group: str | None = None
    split: str | None = None
    extra: dict[str, Any] = {}

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"id {v!r} must be lower case letters, digits, '-', '_' or '.'")
        return v

    @field_validator("title", "standfirst", "body")
    @classmethod
    def _normalised(cls, v: str) -> str:
        return normalise_text(v)

    @field_validator("published")
    @classmethod
    def _date(cls, v: str) -> str:
        if v == UNKNOWN or re.fullmatch(r"\d{4}(-\d{2})?", v):  # a year, or a year and month
            return v
        try:
            datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"published {v!r} is not an ISO date (YYYY-MM-DD) or 'unknown'") from None
        return v

    @field_validator("split")
    @classmethod
    def _split(cls, v: str | None) -> str | None:
        if v is not None and v not in ("train", "validation", "test"):
            raise ValueError(f"split {v!r} must be train, validation or test")
        return v

    @model_validator(mode="after")
    def _checksum(self) -> Article:
        if not self.body.strip():
            raise ValueError("the article body is empty")
        actual = checksum(self.text)
        if not self.checksum:
            self.checksum = actual
        elif self.checksum != actual:
            raise ValueError(f"checksum {self.checksum} does not match the text ({actual})")
        return self

    @property
    def text(self) -> str:
        return compose_text(self.title, self.standfirst, self.body)


def article_from_dict(raw: Any, where: str) -> Article:
    """Validate a decoded JSON object as an Article; errors name `where` and the field."""
    if not isinstance(raw, dict):
        raise InputError(where, "an article must be a JSON object")
    try:
        return Article.model_validate(raw)
    except ValidationError as e:
        err = e.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            msg = "missing required field"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        raise InputError(where, f"{loc}: {msg}" if loc else msg) from None
