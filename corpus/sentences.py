"""Sentence segmentation and word tokenisation with character offsets, no model and no downloaded data.

A rule-based splitter, chosen over pysbd/blingfire (unmaintained since 2021, and a native or large
dependency) and NLTK's punkt (its model is a download): news prose needs only a few rules, and offsets
must be exact. Rules: a line break always ends a sentence (titles, standfirsts and paragraphs are lines);
inside a line, `.`, `!` or `?` (with any closing quotes or brackets) followed by white space and a capital,
digit or opening quote ends one, unless the word before the stop is a known abbreviation ("Mr.", "U.S.",
"Jan.") or a single initial ("J."). Sentences never start or end with white space.
"""

from __future__ import annotations

import functools
import re
from bisect import bisect_right
from typing import Any

Span = tuple[int, int]

# Words that end with a full stop without ending a sentence (compared lower-case, stop removed).
_ABBREVIATIONS = """
mr mrs ms mx dr prof sen rep gov gen lt col maj capt cpt sgt adm cmdr st jr sr rev hon pres amb supt insp
inc corp co ltd llc bros dept univ assn est approx vs etc al fig no nos vol pp ed eds
jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri sat sun
u.s u.k u.n e.u u.s.a d.c e.g i.e a.m p.m ft mt ave blvd rd
"""
ABBREVIATIONS = frozenset(_ABBREVIATIONS.split())

# A sentence-final stop inside a line: terminators, closing quotes/brackets, then white space on the same line
# and a plausible opener. (`[.!?][.!?]*`, not `[.!?]+`: a leading character set lets the regex engine skip
# ahead fast.)
_STOP = re.compile(r"[.!?][.!?]*[\"'”’)\]]*(?=[^\S\n]+[\"'“‘(\[]?[A-Z0-9¿¡])")
_TOKEN = re.compile(r"\w+|[^\w\s]")


def _is_abbreviation(text: str, stop_at: int) -> bool:
    """True when the `.` at `stop_at` closes an abbreviation or an initial, not a sentence."""
    begin = max(text.rfind(" ", 0, stop_at), text.rfind("\n", 0, stop_at), text.rfind("\t", 0, stop_at),
                text.rfind("\xa0", 0, stop_at)) + 1
    word = text[begin:stop_at].lstrip("\"'“‘([").lower()
    return word in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def split_sentences(text: str) -> list[Span]:
    """Sentence (start, end) offsets into `text`, in order, covering every non-blank character once."""
    spans: list[Span] = []
    pos = 0
    for line in text.split("\n"):
        end = pos + len(line)
        start = pos
        if "." in line or "!" in line or "?" in line:
            for m in _STOP.finditer(text, pos, end):
                # "Mr. Smith" is one sentence; a lone stop with a closing quote ('"No." Then') always ends one.
                if m.group() == "." and _is_abbreviation(text, m.start()):
                    continue
                _append(spans, text, start, m.end())
                start = m.end()
        _append(spans, text, start, end)
        pos = end + 1
    return spans


def segment(text: str, given: object = None) -> list[Span]:
    """Sentences of `text`: the source's own sentence offsets where it gives valid ones, the splitter elsewhere.

    `given` may be a list of [start, end] or [id, start, end] or a mapping id -> [start, end] (the SEESAW
    importer's `sentence_spans`); spans that overlap, leave the text or hold only white space make the
    whole list be ignored, so offsets are never guessed.
    """
    spans = _given_spans(given, len(text))
    if not spans:
        return split_sentences(text)
    gaps, pos = [], 0
    for start, end in spans:
        if start > pos:
            gaps.append((pos, start))
        pos = end
    gaps.append((pos, len(text)))
    for g_start, g_end in gaps:
        spans += [(g_start + s, g_start + e) for s, e in split_sentences(text[g_start:g_end])]
    return sorted(spans)


def _given_spans(given: object, length: int) -> list[Span]:
    if isinstance(given, dict):
        given = list(given.values())
    if not isinstance(given, list) or not given:
        return []
    spans = []
    for item in given:
        if isinstance(item, list | tuple) and len(item) in (2, 3) and all(isinstance(x, int) for x in item):
            spans.append((item[-2], item[-1]))
        else:
            return []
    spans.sort()
    pos = 0
    for start, end in spans:
        if not (pos <= start < end <= length):
            return []
        pos = end
    return spans


def _append(spans: list[Span], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if stripped:
        lead = start + len(piece) - len(piece.lstrip())
        spans.append((lead, lead + len(stripped)))


def merge_across(sentences: list[Span], spans: list[Span]) -> list[Span]:
    """Join consecutive sentences wherever one of `spans` crosses a boundary, so no span is cut in two."""
    if not spans or len(sentences) < 2:
        return sentences
    starts = [s for s, _ in sentences]
    join_after = [False] * len(sentences)
    for start, end in spans:
        first = max(bisect_right(starts, start) - 1, 0)
        last = max(bisect_right(starts, max(end - 1, start)) - 1, 0)
        for k in range(first, last):
            join_after[k] = True
    merged: list[Span] = []
    cur_start = sentences[0][0]
    for k, (_, end) in enumerate(sentences):
        if not join_after[k]:
            merged.append((cur_start, end))
            if k + 1 < len(sentences):
                cur_start = sentences[k + 1][0]
    return merged


def sentence_index(starts: list[int], offset: int) -> int:
    """Index of the sentence holding `offset`, given the sentences' start offsets (the one before a gap)."""
    return max(bisect_right(starts, offset) - 1, 0)


def token_bounds(text: str) -> tuple[Any, Any, Any, bytes]:
    """The tokens of `tokenize`, vectorised: start and end offsets, UTF-8 byte lengths, and their bytes.

    No Python object per token: every character is white space, a word character (what `\\w` matches:
    alphanumeric or `_`) or another mark; a token is a run of word characters or one other mark, so the
    tokens, in order, are exactly the non-space characters, and their bytes are the text's UTF-8 bytes
    less the white space.
    """
    import numpy as np

    cp = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    utf8 = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    table = _bmp_classes()
    if cp.size and int(cp.max()) > 0xFFFF:  # characters beyond the BMP (emoji): class them one by one
        astral = cp > 0xFFFF
        cls = table[np.where(astral, 0, cp)]
        cls[astral] = [_char_class(chr(c)) for c in cp[astral].tolist()]
    else:
        cls = table[cp]
    token = cls != 0
    word, other = cls == 1, cls == 2
    starts = np.flatnonzero(other | (word & ~np.concatenate(([False], word[:-1]))))
    ends = np.flatnonzero(other | (word & ~np.concatenate((word[1:], [False])))) + 1
    if utf8.size == cp.size:  # ASCII: one byte per character
        return starts, ends, (ends - starts).astype(np.int32), utf8[token].tobytes()
    # byte offset of every character: the UTF-8 bytes that do not continue a character
    at = np.concatenate((np.flatnonzero((utf8 & 0xC0) != 0x80), [utf8.size]))
    if not np.any(~token & (cp >= 0x80)):  # no white space beyond ASCII: drop the ASCII white-space bytes
        keep = (utf8 >= 0x80) | table[np.minimum(utf8, 127)].astype(bool)
    else:
        keep = np.repeat(token, np.diff(at))
    return starts, ends, (at[ends] - at[starts]).astype(np.int32), utf8[keep].tobytes()


def _char_class(c: str) -> int:
    return 0 if c.isspace() else 1 if (c.isalnum() or c == "_") else 2


@functools.cache
def _bmp_classes() -> Any:
    """Class of every character of the Basic Multilingual Plane: 0 white space, 1 word, 2 other."""
    import numpy as np

    return np.array([_char_class(chr(i)) for i in range(0x10000)], np.uint8)


def tokenize(text: str, start: int = 0, end: int | None = None) -> tuple[list[str], list[int], list[int]]:
    """Words and single punctuation marks of text[start:end]: tokens and their offsets relative to `start`."""
    end = len(text) if end is None else end
    tokens, starts, ends = [], [], []
    for m in _TOKEN.finditer(text, start, end):
        tokens.append(m.group())
        starts.append(m.start() - start)
        ends.append(m.end() - start)
    return tokens, starts, ends
