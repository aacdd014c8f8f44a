"""Gazetteer pre-annotation: the codebook gazetteer's mentions (`corpus.gazetteer`) as a Label Studio prediction.

Each region is drawn as an annotator would draw it (span plus its codebook choice) and carries the match's
score (0.9 for multi-word aliases, 0.5 for single words); the prediction's score is their mean. The matcher
is the one `training extract` and the tagger fall back on, so a text gets the same mentions in both.
"""

from __future__ import annotations

from typing import Any

from corpus.codebook import Codebook
from corpus.gazetteer import MATCHER_VERSION, Gazetteer
from corpus.tasks import span_items


def model_version(codebook: Codebook) -> str:
    """The prediction's model_version: the codebook version the gazetteer was built from and the matcher's
    version (`corpus.gazetteer.MATCHER_VERSION`); either changing makes push pre-annotate the task again."""
    return f"gazetteer-{codebook.version}-m{MATCHER_VERSION}"


def gazetteer_prediction(text: str, gazetteer: Gazetteer) -> dict[str, Any] | None:
    """A Label Studio prediction (result, model_version, score) for `text`; None when nothing matches."""
    mentions = gazetteer.find(text)
    if not mentions:
        return None
    result: list[dict[str, Any]] = []
    for n, m in enumerate(mentions, 1):
        items = span_items(f"g{n}", m.start, m.end, m.text, m.label, m.canonical or "")
        for item in items:
            item["score"] = m.score
        result += items
    return {"model_version": model_version(gazetteer.codebook),
            "score": round(sum(m.score for m in mentions) / len(mentions), 4), "result": result}
