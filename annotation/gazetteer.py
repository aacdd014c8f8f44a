"""Gazetteer pre-annotation: actor and policy-option mentions found from the codebook's aliases.

Longest surface form first, whole words only, never overlapping an earlier match. Multi-word forms match
regardless of case, single words only as written (so "Trump" but not "trump"). Each region carries a
score (0.9 for multi-word forms, 0.5 for single words: "Mexico" is often a place, not an actor) and its
normalisation to the codebook id, exactly as an annotator would draw it; the prediction's score is the mean.
"""

from __future__ import annotations

import re
from typing import Any

from corpus.codebook import Codebook
from corpus.tasks import span_items

MULTI_WORD_SCORE = 0.9
SINGLE_WORD_SCORE = 0.5


def model_version(codebook: Codebook) -> str:
    """The prediction's model_version: the gazetteer tied to the codebook version it was built from."""
    return f"gazetteer-{codebook.version}"


def find_mentions(text: str, codebook: Codebook) -> list[tuple[int, int, str, str, float]]:
    """(start, end, span label, codebook id, score) for every alias match, in text order."""
    taken: list[tuple[int, int]] = []
    found = []
    for surface, label, cid in codebook.alias_table():
        multi = len(surface.split()) > 1
        flags = re.IGNORECASE if multi else 0
        for m in re.finditer(rf"(?<!\w){re.escape(surface)}(?!\w)", text, flags):
            s, e = m.span()
            if any(s < te and ts < e for ts, te in taken):
                continue
            taken.append((s, e))
            found.append((s, e, label, cid, MULTI_WORD_SCORE if multi else SINGLE_WORD_SCORE))
    return sorted(found)


def gazetteer_prediction(text: str, codebook: Codebook) -> dict[str, Any] | None:
    """A Label Studio prediction (result, model_version, score) for `text`; None when nothing matches."""
    mentions = find_mentions(text, codebook)
    if not mentions:
        return None
    result: list[dict[str, Any]] = []
    for n, (s, e, label, cid, score) in enumerate(mentions, 1):
        items = span_items(f"g{n}", s, e, text[s:e], label, cid)
        for item in items:
            item["score"] = score
        result += items
    return {"model_version": model_version(codebook), "score": round(sum(m[4] for m in mentions) / len(mentions), 4),
            "result": result}
