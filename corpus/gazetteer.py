"""The codebook gazetteer: Actor and Policy mentions found from the alias table, surface forms normalised to ids.

One matcher for every package (Label Studio pre-annotations, `training extract`, the tagger's fallback), so
the same text gives the same mentions everywhere. `Gazetteer.find` matches whole words only:

* the longest alias first, anywhere in the text, then the leftmost; never overlapping a match already taken
  ("the U.S. government" gives "U.S. government", not "the U.S."); a match cut by a longer one on its right
  falls back to the longest shorter alias from the same start;
* an actor alias keeps its capitals ("The Heritage Foundation" never matches "the heritage Foundation");
  the small letters of a multi-word alias match either case ("Trump Administration", "THE WHITE HOUSE"),
  those of a single word only as written ("trump" and the dateline "WASHINGTON" are not actors); a leading
  "The" matches "the"; policy phrases match in any case; ' and ’ are one character;
* each match scores 0.9 for a multi-word alias, 0.5 for a single word ("Mexico" is often a place, not the
  government).

`Gazetteer.normalise` maps any surface form to a canonical id: exact alias, then an alias inside the
mention ("Mexican President Claudia Sheinbaum" -> "Claudia Sheinbaum") or the mention inside an example,
then fuzzy (character similarity for names, shared word stems for policy phrases). A surface that matches
nothing well enough gets None; callers decide what to do with it.
"""

from __future__ import annotations

import difflib
import heapq
import re
from bisect import bisect_right, insort
from dataclasses import dataclass, replace

from corpus.codebook import POLICY_LABEL, Codebook

# Bumped whenever a rule above changes what `find` returns, so that pre-annotations made by an older matcher
# are told apart from (and redone by) the current one. 1: the annotation package's own matcher; 2: this one.
MATCHER_VERSION = 2
MULTI_WORD_SCORE = 0.9
SINGLE_WORD_SCORE = 0.5
# Personal pronouns an actor mention may be: never normalised from the table (resolved from context instead).
PRONOUNS = frozenset({"he", "she", "him", "her", "his", "hers", "they", "them"})
_STOP_WORDS = """
a an the of to in on for and or but with by at from as that this these those our your their its his her we you
us they it be is are was were will would can could should may might not no never more less do does did
"""
_STOP = frozenset(_STOP_WORDS.split())
_WORD = re.compile(r"[A-Za-z0-9]+(?:[.'’][A-Za-z0-9]+)*")
_WORD_CHAR = re.compile(r"\w")


@dataclass(frozen=True)
class Mention:
    """A span of `text[start:end]` labelled Actor or Policy, with its canonical codebook id when known."""

    start: int
    end: int
    text: str
    label: str
    canonical: str | None
    score: float = 1.0
    source: str = "gazetteer"
    name: str | None = None  # what an unresolved mention is called: its longest form in the article (corpus.names)


# --------------------------------------------------------------------------------------------- normalisation
def surface_key(surface: str) -> str:
    """Comparison key: lower case, single spaces, no leading article, no possessive, curly quotes straight."""
    s = surface.replace("’", "'").replace("‘", "'").strip().lower()
    s = re.sub(r"'s$", "", s)
    s = re.sub(r"\s+", " ", s)
    return re.sub(r"^(the|a|an) ", "", s)


def _stem(word: str) -> str:
    """A crude suffix stripper: enough to meet 'deploying' with 'deploy' and 'strikes' with 'strike'."""
    w = word.lower().replace("’", "'").removesuffix("'s")
    for suffix in ("ations", "ation", "ments", "ment", "ing", "ies", "ed", "es", "s"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 4:
            return w[: -len(suffix)]
    return w


def _stems(text: str) -> frozenset[str]:
    return frozenset(_stem(w) for w in _WORD.findall(text) if w.lower() not in _STOP)


@dataclass(frozen=True)
class _Entry:
    label: str
    canonical: str
    key: str
    stems: frozenset[str]


def _contains(haystack: str, needle: str) -> bool:
    return bool(needle) and re.search(rf"(?<!\w){re.escape(needle)}(?!\w)", haystack) is not None


# --------------------------------------------------------------------------------------------- matching
def _char(c: str, small_either: bool) -> str:
    """One alias character as a pattern: apostrophes either way, small letters in either case if asked."""
    if c in "'’":
        return "['’]"
    upper = c.upper()
    if small_either and c != upper and len(upper) == 1:
        return f"[{c}{upper}]"
    return re.escape(c)


def alias_pattern(surface: str, label: str) -> str:
    """The regex of one alias (see the module docstring): same length as the alias, no capturing groups."""
    if label == POLICY_LABEL:
        return "(?i:" + "".join(_char(c, False) for c in surface) + ")"
    if surface[:4].lower() == "the ":  # sentence-initial "The" or "the" alike
        surface = "the " + surface[4:]
    multi = len(surface.split()) > 1
    return "".join(_char(c, multi) for c in surface)


class Gazetteer:
    """The codebook's alias table, compiled once: finds mentions and normalises surface forms."""

    def __init__(self, codebook: Codebook, threshold: float = 0.5) -> None:
        self.codebook = codebook
        self.threshold = threshold
        # Longest first: an alternation tried from one position then yields the longest alias there.
        table = [row for row in codebook.alias_table() if row[0].strip()]
        self._entries = tuple(_Entry(label, cid, surface_key(s), _stems(s)) for s, label, cid in table)
        self._definitions = {p.id: _stems(f"{p.label} {p.definition}") for p in codebook.policy_options}
        groups = "|".join(f"(?P<g{i}>{alias_pattern(s, label)})" for i, (s, label, _) in enumerate(table))
        self._starts = re.compile(rf"(?<!\w)(?=(?:{groups})(?!\w))")  # every start, its longest alias
        self._at = re.compile(rf"(?:{groups})(?!\w)")  # the longest alias from one position
        self._targets = tuple((label, cid, MULTI_WORD_SCORE if len(s.split()) > 1 else SINGLE_WORD_SCORE)
                              for s, label, cid in table)

    def _longest_at(self, text: str, start: int, limit: int) -> tuple[int, int] | None:
        """(end, alias index) of the longest alias from `start` ending by `limit`, whole words in `text`."""
        while limit > start:
            m = self._at.match(text, start, limit)
            if m is None or m.lastgroup is None:
                return None
            if not _WORD_CHAR.match(text, m.end()):  # `(?!\w)` saw the cut at `limit`, not the text
                return m.end(), int(m.lastgroup[1:])
            limit = m.end() - 1
        return None

    def find(self, text: str) -> list[Mention]:
        """Non-overlapping alias matches in `text`, longest first then leftmost, in text order."""
        heap = []
        for m in self._starts.finditer(text):
            if m.lastgroup:
                heap.append((m.start() - m.end(m.lastgroup), m.start(), m.end(m.lastgroup), int(m.lastgroup[1:])))
        heapq.heapify(heap)
        taken: list[tuple[int, int, int]] = []  # (start, end, alias index), sorted and non-overlapping
        while heap:
            _, start, end, index = heapq.heappop(heap)
            k = bisect_right(taken, start, key=lambda t: t[0])
            if k and taken[k - 1][1] > start:
                continue  # starts inside a match: so would any shorter alias from here
            if k < len(taken) and taken[k][0] < end:  # runs into a match on its right: try a shorter alias
                shorter = self._longest_at(text, start, taken[k][0])
                if shorter:
                    heapq.heappush(heap, (start - shorter[0], start, *shorter))
                continue
            insort(taken, (start, end, index))
        out = []
        for start, end, index in taken:
            label, cid, score = self._targets[index]
            out.append(Mention(start, end, text[start:end], label, cid, score, "gazetteer"))
        return out

    def normalise(self, surface: str, label: str) -> tuple[str | None, float]:
        """The canonical id of a mention and a score in [0, 1]; (None, best score) below the threshold or on a tie."""
        key = surface_key(surface)
        entries = [e for e in self._entries if e.label == label]
        if not key or key in PRONOUNS:
            return None, 0.0
        for e in entries:  # exact alias
            if e.key == key:
                return e.canonical, 1.0
        for e in entries:  # an alias inside the mention, longest first
            if len(e.key) >= 4 and _contains(key, e.key):
                return e.canonical, 0.9
        for e in entries:  # the mention inside a longer example
            if len(key) >= 6 and _contains(e.key, key) and len(key) >= 0.4 * len(e.key):
                return e.canonical, 0.85
        scores: dict[str, float] = {}
        for e in entries:  # near-identical spelling ("Sheinbaum's government" is caught above; typos here)
            ratio = difflib.SequenceMatcher(None, key, e.key).ratio()
            if ratio >= 0.85:
                scores[e.canonical] = max(scores.get(e.canonical, 0.0), ratio)
        stems = _stems(surface)
        if label == POLICY_LABEL and stems:
            for e in entries:  # shared word stems with the option's label and examples (Dice)
                shared = len(stems & e.stems)
                if shared:
                    dice = 2 * shared / (len(stems) + len(e.stems))
                    scores[e.canonical] = max(scores.get(e.canonical, 0.0), 0.8 * dice)
            for pid, definition in self._definitions.items():  # words of the definition: weaker evidence
                recall = len(stems & definition) / len(stems)
                scores[pid] = max(scores.get(pid, 0.0), 0.6 * recall)
        if not scores:
            return None, 0.0
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])
        best, score = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        if score < self.threshold or score - runner_up < 0.05:
            return None, round(score, 4)
        return best, round(score, 4)

    def normalised(self, mention: Mention) -> Mention:
        """`mention` with its canonical id filled in (kept as is when it already has one)."""
        if mention.canonical is not None:
            return mention
        cid, score = self.normalise(mention.text, mention.label)
        return replace(mention, canonical=cid, score=round(mention.score * (score if cid else 1.0), 4))
