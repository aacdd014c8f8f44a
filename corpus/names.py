"""Proper names found in raw text and linked within the article: the found-entities setting's mentions of
entities outside the codebook.

A corpus whose actors and targets are entities no codebook lists (SEESAW's people, parties, bills, outlets)
gives the gazetteer nothing to match, and coders name an entity by its full form ("Barack Obama") where the
text mostly says "Obama" or "Mr. Obama". Two rules, both plain and documented:

* `find_names`: runs of capitalised words (with "of", "the", "for" inside: "Department of the Treasury"),
  cut after their last title or role ("President Barack Obama", "Democratic Sen. Chris Coons", "Senate Majority
  Leader Mitch McConnell" give the names alone), without sentence-initial function words ("The", "But") or a
  trailing possessive; a run of one word that starts a sentence is kept only
  when the article also has it elsewhere, capitalised, away from a sentence start; nothing from a line in title
  case (a headline capitalises every word);
* `link_names`: each name (and each unresolved mention) is named by the longest name of the same article that
  ends with the same words ("Obama" and "Mr. Obama" -> "Barack Obama"), when exactly one longest form does.

`LearnedNames` adds what coders of a training split called the surfaces they marked ("Democrats" ->
"Democratic Party"): found in new text as mentions and used to name mentions before the longest-form rule.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from corpus.codebook import ACTOR_LABEL
from corpus.gazetteer import Mention
from corpus.importers.statements import AUTHOR, UNLISTED

NAMES_SOURCE = "names"
NAME_SCORE = 0.3
_CAP = r"(?:(?:[A-Z]\.){2,}|[A-Z][\w'’&\-]*\.?)"  # "F.B.I.", "Obama", "Sen."
_JOIN = r"(?:of|the|for|on|de|la|del|von|van|al|bin)"
_RUN = re.compile(rf"\b{_CAP}(?:[ \t]+(?:{_JOIN}[ \t]+){{0,2}}{_CAP})*")
# words that end in a full stop without ending the sentence
_ABBREVIATIONS = frozenset({"Mr", "Mrs", "Ms", "Dr", "Sen", "Rep", "Gov", "Lt", "Gen", "Col", "Sgt", "Prof", "Jr", "Sr",
                            "St", "Rev", "Dept", "Inc", "Co", "Corp", "Ft", "Mt"})
_SENTENCE_END = re.compile(r"(?:^|[.!?:;\n][\"”’')\]]*)\s*$")
# titles and roles before a name: a run is cut after the last of them ("Senate Majority Leader Mitch McConnell",
# "Democratic Sen. Chris Coons"); a run that is only a title ("the Vice President") stays whole
_TITLE_WORDS = """
President Vice Senator Sen Sens Rep Reps Representative Gov Governor Secretary Speaker Leader Chairman
Chairwoman Chair Mayor General Judge Commissioner Director Minister Chief Adviser Advisor Spokesman Spokeswoman
Spokesperson Ambassador Candidate Congressman Congresswoman Rev Mr Mrs Ms Dr Lt Gen Col Sgt Prof Whip
"""
TITLE_WORDS = frozenset(_TITLE_WORDS.split()) | {"Justice"}
# titles that also open names of their own ("Justice Department", "General Motors"): a cut after one of them
# needs two words behind it ("Justice Sonia Sotomayor", "Attorney General William Barr")
WEAK_TITLES = frozenset({"Justice", "General", "Chief", "Leader", "Director", "Minister", "Chair", "Prime"})
# titles of several words, taken as one word
_TITLE_PHRASES = re.compile(r"\b(?:Secretary of (?:State|Defense|Homeland Security|the Treasury|[A-Z][a-z]+)"
                            r"|Speaker of the House|Attorney General|Surgeon General|Secretary-General)\b")
_STATES = """
Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida Georgia Hawaii Idaho Illinois
Indiana Iowa Kansas Kentucky Louisiana Maine Maryland Massachusetts Michigan Minnesota Mississippi Missouri
Montana Nebraska Nevada Ohio Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington
Wisconsin Wyoming New_Hampshire New_Jersey New_Mexico New_York North_Carolina North_Dakota Rhode_Island
South_Carolina South_Dakota West_Virginia
"""
STATES = frozenset(w.replace("_", " ") for w in _STATES.split())
_FUNCTION_WORDS = """
The A An In On At For But And Or If When While As He She They It We I You This That These Those There Here His
Her Their Its Our My Your After Before Since Although Though Yet So Then Now Still Also Even Just Not No Yes
What Why How Who Where Which With Without From By To Of Under Over Last Next Many Some Most More One Two Three
All Every Each Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June
July August September October November December Read Related Advertisement Photo Getty Images AP Reuters
"""
FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())
_TRAIL = frozenset({"of", "the", "for", "and", "on", "de", "la", "del", "von", "van", "al", "bin"})


def _words(run: str) -> list[str]:
    return run.split()


def _title_case_lines(text: str) -> list[tuple[int, int]]:
    """(start, end) of the lines written in title case (a headline: "Justice Dept. Rejects Andrew McCabe's Bid"),
    where capitals mark every word and so no name."""
    out, start = [], 0
    for line in text.split("\n"):
        long_words = [w for w in re.findall(r"[A-Za-z][\w'’]*", line) if len(w) >= 4]
        if len(long_words) >= 3 and sum(w[0].isupper() for w in long_words) >= 0.75 * len(long_words):
            out.append((start, start + len(line)))
        start += len(line) + 1
    return out


def _ends_part(word: str) -> bool:
    """A possessive ("Iran's Islamic Revolutionary Guard Corps": two names) or a full stop that ends a sentence
    (not "Sen.", "U.S.", an initial "C.")."""
    if word.endswith("’s") or word.endswith("'s"):
        return True
    if word.endswith("."):
        stem = word[:-1]
        return not (stem in _ABBREVIATIONS or len(stem) == 1 or "." in stem)
    return False


def _parts(words: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """A run cut after each word that `_ends_part`."""
    parts: list[list[tuple[int, str]]] = [[]]
    for k, (offset, word) in enumerate(words):
        parts[-1].append((offset, word))
        if k + 1 < len(words) and _ends_part(word):
            parts.append([])
    return [p for p in parts if p]


def _name(words: list[tuple[int, str]]) -> tuple[int, int] | None:
    """(start, end) of the name in a run of capitalised words (offset, word), or None."""
    plain = [w.rstrip(".").replace("_", " ") for _, w in words]
    k = 0
    while k < len(plain) and (plain[k] in FUNCTION_WORDS or plain[k] in _TRAIL):
        k += 1
    for i in range(len(plain) - 1, k - 1, -1):  # the last title with a name behind it
        if plain[i] in TITLE_WORDS or " " in plain[i]:
            if len(plain) - i - 1 >= (2 if plain[i] in WEAK_TITLES else 1):
                k = i + 1
            break
    while k < len(plain) and plain[k] in _TRAIL:
        k += 1
    j = len(plain)
    for i in range(k + 2, len(plain) - 1):  # "Lindsey Graham of South Carolina" -> "Lindsey Graham"
        if plain[i] == "of" and " ".join(plain[i + 1:]).rstrip(",") in STATES:
            j = i
            break
    while j > k and plain[j - 1] in _TRAIL:
        j -= 1
    if k >= j:
        return None
    start, last = words[k][0], words[j - 1]
    end = last[0] + len(last[1])
    for suffix in ("’s", "'s", "’", "."):
        if last[1].endswith(suffix) and len(last[1]) > len(suffix):
            end -= len(suffix)
            break
    return start, end


def find_names(text: str) -> list[Mention]:
    """Proper-name mentions of `text` (label Actor, no canonical id, source "names"), in text order."""
    def opens_sentence(start: int) -> bool:
        return bool(_SENTENCE_END.search(text, max(0, start - 8), start)) if start else True

    # a title of several words becomes one (same length, so offsets hold): "Secretary_of_State Mike Pompeo"
    scan = _TITLE_PHRASES.sub(lambda m: m.group(0).replace(" ", "_"), text)
    runs: list[tuple[int, int, str, bool]] = []  # start, end, name, whether its run opens a sentence
    headlines = _title_case_lines(text)
    for m in _RUN.finditer(scan):
        if any(s <= m.start() < e for s, e in headlines):
            continue
        words = [(m.start() + o.start(), o.group(0)) for o in re.finditer(r"\S+", m.group(0))]
        for part in _parts(words):
            name = _name(part)
            if name is not None:
                start, end = name
                runs.append((start, end, text[start:end], opens_sentence(part[0][0]) and start == part[0][0]))
    elsewhere = {name for _, _, name, opening in runs if not opening}
    out = []
    for s, e, name, opening in runs:
        if opening and " " not in name and name not in elsewhere:
            continue  # one capitalised word opening a sentence, never seen inside one: an ordinary word
        out.append(Mention(s, e, name, ACTOR_LABEL, None, NAME_SCORE, NAMES_SOURCE))
    return out


def add_names(mentions: Iterable[Mention], names: Iterable[Mention]) -> list[Mention]:
    """`mentions` with the names that overlap none of them, in text order."""
    kept = sorted(mentions, key=lambda m: (m.start, m.end))
    taken = [(m.start, m.end) for m in kept if m.start is not None]
    for n in names:
        if not any(s < n.end and n.start < e for s, e in taken):
            kept.append(n)
    return sorted(kept, key=lambda m: (m.start, m.end))


def link_names(mentions: Sequence[Mention], learned: LearnedNames | None = None) -> list[Mention]:
    """Unresolved mentions renamed: by `learned` where it knows their surface, else to the longest name of the
    article that ends with their words (see the module); resolved mentions, mentions already named, and names
    with no single longest form stay as they are."""
    if learned is not None:
        mentions = [replace(m, name=learned.name_of(m.text)) if m.canonical is None and not m.name
                    and learned.name_of(m.text) else m for m in mentions]
    called = {m.text: m.name or m.text for m in mentions if m.canonical is None and m.text}  # text -> name
    by_words = sorted(called, key=lambda f: (-len(_words(f)), f))
    longest: dict[str, str] = {}
    for f in called:
        w = _words(f)
        longer = [g for g in by_words if len(_words(g)) > len(w) and _words(g)[-len(w):] == w]
        if longer:
            top = {called[g] for g in longer if len(_words(g)) == len(_words(longer[0]))}
            if len(top) == 1:
                longest[f] = top.pop()
    return [replace(m, name=longest[m.text])
            if m.canonical is None and not m.name and m.text in longest else m for m in mentions]


PLACEHOLDERS = frozenset({AUTHOR, UNLISTED})  # names that stand for no entity of the text
LEARNED_SOURCE = "learned"
LEARNED_SCORE = 0.6


class LearnedNames:
    """Surface forms -> the name coders gave them, learned from a dataset's split (its train split: never the
    articles being extracted). "Democrats" -> "Democratic Party", "the House" -> "United States House of
    Representatives", "abortion" -> "abortion": each located mention of a statement or candidate row, kept
    where a surface was seen `min_count` times and one name has at least `min_share` of them."""

    def __init__(self, names: dict[str, str], surfaces: dict[str, str]) -> None:
        self.names = names  # surface_key -> name
        self.surfaces = surfaces  # surface_key -> the surface as most often written
        alternatives = sorted(set(surfaces.values()), key=lambda s: (-len(s), s))
        self._pattern = (re.compile(r"(?<!\w)(?:" + "|".join(re.escape(s) for s in alternatives) + r")(?!\w)")
                         if alternatives else None)

    @classmethod
    def from_dataset(cls, dataset: str | Path, split: str = "train", min_count: int = 2,
                     min_share: float = 0.5) -> LearnedNames:
        from corpus.errors import InputError
        from corpus.gazetteer import surface_key

        root = Path(dataset)
        counts: dict[str, Counter] = {}
        written: dict[str, Counter] = {}
        configs = [c for c in ("statements", "candidates") if (root / c / split).is_dir()]
        if "statements" not in configs:
            raise InputError(root, f"no statements/{split} split: build the dataset with `python -m corpus build`")
        from datasets import load_from_disk

        for config in configs:
            table = load_from_disk(str(root / config / split)).data
            for side in ("actor", "policy"):
                cols = table.select([f"{side}_mention", f"{side}_label", f"{side}_start"]).to_pydict()
                for surface, name, start in zip(*cols.values(), strict=True):
                    if start is None or not surface or not name or name in PLACEHOLDERS:
                        continue
                    key = surface_key(surface)
                    if len(key) < 3:
                        continue
                    counts.setdefault(key, Counter())[name] += 1
                    written.setdefault(key, Counter())[surface.strip()] += 1
        names, surfaces = {}, {}
        for key, by_name in counts.items():
            (name, top), total = by_name.most_common(1)[0], sum(by_name.values())
            if total >= min_count and top / total >= min_share:
                names[key], surfaces[key] = name, written[key].most_common(1)[0][0]
        return cls(names, surfaces)

    def __len__(self) -> int:
        return len(self.names)

    def name_of(self, surface: str) -> str | None:
        from corpus.gazetteer import surface_key

        return self.names.get(surface_key(surface))

    def find(self, text: str) -> list[Mention]:
        """Every learned surface in `text` (whole words, as written), named, leftmost-longest, in text order."""
        if self._pattern is None:
            return []
        return [Mention(m.start(), m.end(), m.group(0), ACTOR_LABEL, None, LEARNED_SCORE, LEARNED_SOURCE,
                        name=self.name_of(m.group(0))) for m in self._pattern.finditer(text)]
