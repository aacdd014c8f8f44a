"""Target-aware model input from a statement row: entity markers in the context, or an (entities, context) pair."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

ACTOR_OPEN, ACTOR_CLOSE, POLICY_OPEN, POLICY_CLOSE = "[ACT]", "[/ACT]", "[POL]", "[/POL]"
MARKERS = [ACTOR_OPEN, ACTOR_CLOSE, POLICY_OPEN, POLICY_CLOSE]
# What each new marker token's embedding starts as (the mean of these words' embeddings): four distinct,
# meaningful vectors. The library's default (the mean of all embeddings) makes the four identical.
MARKER_WORDS = {ACTOR_OPEN: "[ actor", ACTOR_CLOSE: "actor ]", POLICY_OPEN: "[ policy", POLICY_CLOSE: "policy ]"}
# Word-like stand-ins for TF-IDF, whose tokeniser would drop the brackets.
WORD_MARKERS = {ACTOR_OPEN: "xactb", ACTOR_CLOSE: "xacte", POLICY_OPEN: "xpolb", POLICY_CLOSE: "xpole"}
NAME_WORD = "xname"
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*(?:\.[A-Z][\w'’-]*)*")
_BEFORE = re.compile(r"(\S*)\s*$")


def _span(row: Mapping[str, Any], name: str, length: int) -> tuple[int, int] | None:
    """The entity's (start, end) within the context, or None when unlocated or out of range."""
    start, end = row.get(f"{name}_context_start"), row.get(f"{name}_context_end")
    if start is None or end is None or start != start or end != end:  # None or NaN (pandas)
        return None
    start, end = int(start), int(end)
    return (start, end) if 0 <= start < end <= length else None


def _text(value: Any) -> str:
    return "" if value is None or value != value else str(value)


def locate(context: str, name: str, avoid: tuple[int, int] | None = None) -> tuple[int, int] | None:
    """Where `name` is mentioned in `context` by the importers' own rules (exact, case-folded, aliases, surname;
    `corpus.importers.statements`), skipping places that overlap `avoid`; None when nowhere (or a holder
    without a name, such as "(author)")."""
    from corpus.importers.statements import mention_candidates, name_aliases, person_surname

    if not name or not context or (name.startswith("(") and name.endswith(")")):
        return None
    for c in mention_candidates(context, name, name_aliases(name, False), person_surname(name)):
        if avoid is None or c.end <= avoid[0] or avoid[1] <= c.start:
            return c.start, c.end
    return None


def _full(row: Mapping[str, Any], name: str) -> str:
    """The side's whole text as the statement gives it: its mention, else its canonical label."""
    return _text(row.get(f"{name}_mention")) or _text(row.get(f"{name}_label"))


def _same(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def mark(row: Mapping[str, Any], markers: Mapping[str, str] | None = None,
         locate_unplaced: bool = False) -> tuple[str, str]:
    """(prefix, marked context): markers around each located mention; the prefix says what the context cannot.

    With `locate_unplaced`, a mention without offsets is first looked for in the context (`locate`): a
    statement whose other side could not be placed (why it has no offsets) still gets this side marked in place.
    A side found nowhere goes, marked, in the prefix; a side found only in part (a surname, one word of a long
    target) is marked where found and also given whole, unmarked, in the prefix, so the model always sees the
    whole actor and target. The prefix is empty when both mentions are marked in the context as they are.
    """
    tok = markers or {m: m for m in MARKERS}
    context = _text(row.get("context"))
    spans = {name: _span(row, name, len(context)) for name in ("actor", "policy")}
    located = {name: False for name in spans}
    if locate_unplaced:
        for name, other in (("actor", "policy"), ("policy", "actor")):
            if spans[name] is None:
                spans[name] = locate(context, _full(row, name), spans[other])
                located[name] = spans[name] is not None
    events: list[tuple[int, int, int, str]] = []  # (position, closing-first order, -length, token)
    prefix: list[str] = []
    for name, open_, close in (("actor", ACTOR_OPEN, ACTOR_CLOSE), ("policy", POLICY_OPEN, POLICY_CLOSE)):
        span = spans[name]
        if span is None:
            prefix.append(f"{tok[open_]} {_full(row, name)} {tok[close]}")
            continue
        start, end = span
        if located[name] and not _same(context[start:end], _full(row, name)):
            prefix.append(_full(row, name))
        events.append((start, 1, -(end - start), tok[open_]))
        events.append((end, 0, 0, tok[close]))
    pieces, last = [], 0
    for pos, _, _, token in sorted(events):
        pieces += [context[last:pos], f" {token} "]
        last = pos
    pieces.append(context[last:])
    marked = " ".join("".join(pieces).split())
    return " ".join(prefix), marked


def model_text(row: Mapping[str, Any], form: str, locate_unplaced: bool = False, context_sentences: int = 0,
               context_title: bool = False) -> tuple[str, str | None]:
    """(text, text_pair) for the tokenizer, in `form` `markers` or `pair` (`locate_unplaced`: see `mark`).

    With article context (`context_sentences` preceding sentences, the `title`; `training.context`), the
    context goes last: after the sentence in the pair form, as the second segment in the markers form, so a
    tokenizer truncating from the left cuts the farthest context first.
    """
    from training.context import context_text

    extra = context_text(row, context_sentences, context_title) if context_sentences or context_title else ""
    if form == "pair":
        actor = _text(row.get("actor_mention")) or _text(row.get("actor_label"))
        policy = _text(row.get("policy_mention")) or _text(row.get("policy_label"))
        context = _text(row.get("context"))
        return f"{actor} ; {policy}", f"{extra} {context}".strip() if extra else context
    if form != "markers":
        raise ValueError(f"unknown input form {form!r}")
    prefix, marked = mark(row, locate_unplaced=locate_unplaced)
    if extra:
        return f"{prefix} {marked}".strip(), extra
    return (prefix, marked) if prefix else (marked, None)


def model_texts(rows: Iterable[Mapping[str, Any]], form: str, locate_unplaced: bool = False,
                context_sentences: int = 0, context_title: bool = False) -> tuple[list[str], list[str | None]]:
    """model_text over rows, as two columns."""
    firsts, seconds = [], []
    for row in rows:
        a, b = model_text(row, form, locate_unplaced, context_sentences, context_title)
        firsts.append(a)
        seconds.append(b)
    return firsts, seconds


def mask_names(text: str) -> str:
    """Capitalised words not starting a sentence -> NAME_WORD: who is named is story-specific, how they are
    spoken of is not (a bag of n-grams otherwise learns entity priors that do not carry to new stories)."""
    def starts_sentence(start: int) -> bool:
        before = _BEFORE.search(text[max(0, start - 40): start])
        word = before.group(1) if before else ""
        if not word.strip("\"“‘'(["):
            return True  # start of the text, or after an opening quote or bracket
        return word[-1] in ".!?" and len(word.rstrip(".!?\"”’)")) > 3  # "said." yes, "Mr." no

    def repl(m: re.Match[str]) -> str:
        return m.group(0) if starts_sentence(m.start()) else NAME_WORD

    return _CAPITALISED.sub(repl, text)


def sklearn_text(row: Mapping[str, Any], prefix_unlocated: bool = False, names: bool = True,
                 locate_unplaced: bool = False) -> str:
    """The context with word-like markers around located mentions, for bag-of-n-gram models; optionally the
    sides the context cannot show as a marked prefix (`prefix_unlocated`), and proper names masked in the
    context (`names=False`; the prefix keeps the actor and target as they are)."""
    prefix, marked = mark(row, WORD_MARKERS, locate_unplaced)
    if not names:
        marked = mask_names(marked)
    return f"{prefix} {marked}".strip() if prefix_unlocated else marked
