"""Small Label Studio tasks of the real export shape, built inline for the annotation tests."""

from __future__ import annotations

from typing import Any

from corpus.tasks import relation_item, span_items

# One text, six statements; offsets are found, never typed by hand.
TEXT = ("Sheinbaum rejects troops. Trump backs troops. Kelly praises extradition. Heritage wants strikes. "
        "Mexico shares information. Trump wants border security.")


def at(needle: str, occurrence: int = 1, text: str = TEXT) -> tuple[int, int]:
    start = -1
    for _ in range(occurrence):
        start = text.index(needle, start + 1)
    return start, start + len(needle)


def span(rid: str, needle: str, label: str, cid: str, occurrence: int = 1, text: str = TEXT) -> list[dict[str, Any]]:
    s, e = at(needle, occurrence, text)
    return span_items(rid, s, e, text[s:e], label, cid)


def annotation(aid: int, who: str, result: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": aid, "annotator": who, "ground_truth": False, "was_cancelled": False, "result": result, **extra}


def task(tid: int, annotations: list[dict[str, Any]], text: str = TEXT, article_id: str | None = None,
         ) -> dict[str, Any]:
    return {"id": tid, "data": {"text": text, "article_id": article_id or f"art-{tid}"}, "annotations": annotations,
            "predictions": []}


def coder_a() -> list[dict[str, Any]]:
    """Six statements: trump/troops support, kelly/extradition support, sheinbaum/troops oppose,
    heritage/strikes oppose, mexico/intelligence neutral, trump/border support."""
    return [
        *span("a1", "Sheinbaum", "Actor", "claudia_sheinbaum"), *span("p1", "troops", "Policy", "us_troops_in_mexico"),
        *span("a2", "Trump", "Actor", "donald_trump"), *span("p2", "troops", "Policy", "us_troops_in_mexico", 2),
        *span("a3", "Kelly", "Actor", "anna_kelly"), *span("p3", "extradition", "Policy", "extradition"),
        *span("a4", "Heritage", "Actor", "heritage_foundation"), *span("p4", "strikes", "Policy", "unilateral_strikes"),
        *span("a5", "Mexico", "Actor", "mexican_government"),
        *span("p5", "information", "Policy", "intelligence_sharing"),
        *span("a6", "Trump", "Actor", "donald_trump", 2), *span("p6", "border security", "Policy", "border_security"),
        relation_item("a1", "p1", "oppose"), relation_item("a2", "p2", "support"),
        relation_item("a3", "p3", "support"), relation_item("a4", "p4", "oppose"),
        relation_item("a5", "p5", "neutral"), relation_item("a6", "p6", "support"),
    ]


def coder_b() -> list[dict[str, Any]]:
    """Coder A's first five statements, except kelly/extradition is oppose and the Heritage span is longer."""
    return [
        *span("b1", "Sheinbaum", "Actor", "claudia_sheinbaum"), *span("q1", "troops", "Policy", "us_troops_in_mexico"),
        *span("b2", "Trump", "Actor", "donald_trump"), *span("q2", "troops", "Policy", "us_troops_in_mexico", 2),
        *span("b3", "Kelly", "Actor", "anna_kelly"), *span("q3", "extradition", "Policy", "extradition"),
        *span("b4", "Heritage wants", "Actor", "heritage_foundation"),
        *span("q4", "strikes", "Policy", "unilateral_strikes"),
        *span("b5", "Mexico", "Actor", "mexican_government"),
        *span("q5", "information", "Policy", "intelligence_sharing"),
        relation_item("b1", "q1", "oppose"), relation_item("b2", "q2", "support"),
        relation_item("b3", "q3", "oppose"), relation_item("b4", "q4", "oppose"),
        relation_item("b5", "q5", "neutral"),
        relation_item("b9", "q1", "support"),  # to a span that does not exist: reported, left out
    ]
