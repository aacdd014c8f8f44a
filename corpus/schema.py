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


def slugify(value: str) -> str:
    """A lower-case id fragment: letters, digits and single hyphens."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")[:100] or "article"


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
