"""URLs safe to show: the one helper that hides the userinfo of a URL (Label Studio and MLflow addresses)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]*)@")


def redact_url(url: str) -> str:
    """`url` with its password replaced by `***` (`user:***@host`), or a bare userinfo (often a token) by `***`;
    text that is not a URL with userinfo comes back as it is. Safe for messages, logs and stored records."""
    try:
        parts = urlsplit(url)
        if "@" not in parts.netloc:
            return url
        host = parts.netloc.rpartition("@")[2]
        user = parts.username
    except ValueError:  # not parseable as a URL (a bad port, say): hide anything that looks like userinfo
        return redact_text(url)
    shown = f"{user}:***" if parts.password is not None and user else "***"
    return urlunsplit(parts._replace(netloc=f"{shown}@{host}"))


def redact_text(text: str) -> str:
    """Every `scheme://userinfo@` in free text (an error message, a log line) with the userinfo hidden."""
    return _USERINFO.sub(lambda m: m["scheme"] + _hidden(m["userinfo"]) + "@", text)


def _hidden(userinfo: str) -> str:
    user, colon, _ = userinfo.partition(":")
    return f"{user}:***" if colon and user else "***"


def strip_userinfo(url: str) -> str:
    """`url` without any userinfo (for clients that authenticate another way)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
