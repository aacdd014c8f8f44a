"""Imported statements as Label Studio result items: locating mentions, sharing spans, writing OUT.

External corpora name a statement's holder and target instead of marking them. `mention_candidates`
finds a name in a context string by four strategies, strongest first: ``exact`` (the name as written,
straight and curly apostrophes alike), ``casefold`` (ignoring case), ``alias`` (derived forms such as
"Mr. Obama", "Republicans", "FBI", or the codebook's aliases) and ``surname`` (a person's last name,
only when no other person in the list shares it). `AnnotationBuilder` turns each statement into spans
plus a relation when both mentions are found without clashing with spans already drawn, else into one
``statement`` item with the context offsets and no mention offsets (see `corpus.tasks`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from corpus.codebook import ACTOR_LABEL, POLICY_LABEL, Codebook
from corpus.errors import InputError, atomic_path
from corpus.schema import Article
from corpus.store import CorpusStore, dump_json
from corpus.tasks import relation_item, span_items, statement_item

STRATEGIES = ("exact", "casefold", "alias", "surname")
AUTHOR = "(author)"  # holder of a statement in the author's own voice (SEESAW subject "None")
UNLISTED = "(unlisted)"  # a holder or target the source did not name (SEESAW "Not in the list")
SUMMARY_FILE = "import-summary.json"
REPORT_FILE = "import-report.jsonl"

_TITLES = ("Mr.", "Mrs.", "Ms.", "Dr.", "President", "Sen.", "Senator", "Rep.", "Gov.", "Governor",
           "Secretary", "Judge", "Justice", "Speaker", "Leader", "Mayor", "Gen.", "General")
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_MINOR_WORDS = {"of", "and", "the", "for", "on", "in", "to", "&"}
# Collective names the news writes in the plural or by a nickname; forms only, never labels.
_PARTY_FORMS = {
    "republican party": ("Republicans", "Republican", "GOP"),
    "democratic party": ("Democrats", "Democrat", "Democratic"),
    "united states": ("U.S.", "US", "America"),
    "united kingdom": ("U.K.", "UK", "Britain"),
    "european union": ("EU", "E.U."),
}


@dataclass(frozen=True)
class Candidate:
    """A place where a mention may be: character offsets (absolute once shifted) and the strategy used."""

    start: int
    end: int
    strategy: str

    def shifted(self, offset: int) -> Candidate:
        return Candidate(self.start + offset, self.end + offset, self.strategy)


@lru_cache(maxsize=65536)
def _pattern(needle: str, ignore_case: bool) -> re.Pattern[str]:
    body = re.escape(needle.strip())
    body = re.sub(r"(\\ )+|\s+", r"\\s+", body)  # any run of whitespace
    body = re.sub("['’]", "['’]", body)  # straight or curly apostrophe
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE if ignore_case else 0)


_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lower case, one space for any white space, straight apostrophes: what the patterns treat as equal."""
    return _SPACES.sub(" ", text.lower()).replace("’", "'")


_fold_needle = lru_cache(maxsize=65536)(fold)


def find_all(text: str, needle: str, ignore_case: bool = False, folded: str | None = None) -> list[tuple[int, int]]:
    """Every whole-word occurrence of `needle` in `text`, left to right (`folded`: fold(text), if known)."""
    if not needle.strip() or _fold_needle(needle.strip()) not in (fold(text) if folded is None else folded):
        return []  # cheap and exact pre-test: most aliases are absent, and compiling them all is slow
    return [(m.start(), m.end()) for m in _pattern(needle, ignore_case).finditer(text)]


def _strip_the(name: str) -> str:
    return re.sub(r"^(the|The)\s+", "", name.strip())


def person_surname(name: str) -> str | None:
    """A person's last name ("Barack Obama" -> "Obama"; "Martin Luther King Jr." -> "King"), or None."""
    tokens = [t for t in name.split() if t.lower() not in _SUFFIXES]
    if len(tokens) < 2 or not tokens[-1][:1].isupper() or len(tokens[-1]) < 3:
        return None
    return tokens[-1]


def name_aliases(name: str, person: bool, codebook_aliases: Iterable[str] = ()) -> list[str]:
    """Surface forms of `name` other than itself, most specific first (no surname alone; see `surname`)."""
    return list(_name_aliases(name, person, tuple(codebook_aliases)))


@lru_cache(maxsize=65536)
def _name_aliases(name: str, person: bool, codebook_aliases: tuple[str, ...]) -> tuple[str, ...]:
    forms: list[str] = []
    bare = _strip_the(name)
    if bare != name.strip():
        forms.append(bare)
    paren = re.match(r"^(.*?)\s*\(([^)]+)\)\s*$", bare)
    if paren:
        forms += [paren.group(1), paren.group(2)]
        bare = paren.group(1)
    forms += _PARTY_FORMS.get(bare.lower(), ())
    party = re.match(r"^(.+?)\s+[Pp]arty$", bare)
    if party:
        forms += [party.group(1) + "s", party.group(1)]
    if person and bare == bare.lower():
        bare = bare.title()  # some releases write names in lower case ("brian murphy")
        forms.append(bare)
    for stripped in (re.sub(r"^(United States|U\.S\.|US)\s+(?=[A-Z])", "", bare),
                     re.sub(r"\s+of the United States$", "", bare)):
        if stripped != bare:
            forms.append(stripped)
            department = re.match(r"^Department of (\w+)$", stripped)
            if department:
                forms.append(f"{department.group(1)} Department")
    if not person and bare == bare.lower() and " " not in bare:
        plural = bare + ("es" if re.search(r"(s|x|z|ch|sh)$", bare) else "s")
        forms += [bare[:-1]] if bare.endswith("s") and not bare.endswith("ss") and len(bare) > 3 else [plural]
    words = bare.split()
    if person:
        tokens = [t for t in words if t.lower() not in _SUFFIXES]
        surname = person_surname(bare)
        if len(tokens) > 2:
            forms.append(f"{tokens[0]} {tokens[-1]}")
        if surname:
            forms += [f"{title} {surname}" for title in _TITLES]
    elif len(words) >= 2:
        capitals = [w for w in words if w.lower() not in _MINOR_WORDS]
        if len(capitals) >= 3 and all(w[:1].isupper() for w in capitals):  # two letters are too ambiguous
            acronym = "".join(w[0] for w in capitals)
            forms += [acronym, ".".join(acronym) + "."]
    forms += list(codebook_aliases)
    seen = {name.strip().lower()}
    unique = []
    for form in forms:
        if form and form.lower() not in seen:
            seen.add(form.lower())
            unique.append(form)
    return tuple(sorted(unique, key=len, reverse=True))


def mention_candidates(
    context: str, name: str, aliases: Sequence[str] = (), surname: str | None = None
) -> list[Candidate]:
    """Where `name` may be mentioned in `context`, strongest strategy first, then left to right."""
    found: list[Candidate] = []
    seen: set[tuple[int, int]] = set()

    def add(spans: list[tuple[int, int]], strategy: str) -> None:
        for start, end in spans:
            if (start, end) not in seen:
                seen.add((start, end))
                found.append(Candidate(start, end, strategy))

    folded = fold(context)
    add(find_all(context, name, folded=folded), "exact")
    add(find_all(context, name, ignore_case=True, folded=folded), "casefold")
    for alias in aliases:
        add(find_all(context, alias, folded=folded), "alias")
    if surname:
        add(find_all(context, surname, folded=folded), "surname")
    return found


def codebook_alias_index(codebook: Codebook) -> dict[str, list[str]]:
    """Lower-cased actor name or alias (without a leading 'the') -> all surface forms of that actor."""
    index: dict[str, list[str]] = {}
    for actor in codebook.actors:
        forms = sorted({actor.label, *actor.aliases}, key=len, reverse=True)
        for form in forms:
            known = index.setdefault(_strip_the(form).lower(), [])
            known += [f for f in forms if f not in known]
    return index


def codebook_aliases_of(name: str, index: dict[str, list[str]]) -> list[str]:
    """The codebook's surface forms for an entity named `name` (none when it is not a codebook actor)."""
    return index.get(_strip_the(name).lower(), [])


@dataclass
class Mention:
    """One side of a statement: its canonical value, and where it may be in the text (absolute offsets)."""

    canonical: str
    candidates: list[Candidate] = field(default_factory=list)
    in_codebook: bool = False
    why_unlocated: str = ""  # set when the mention cannot have offsets by nature (author voice, unlisted)


@dataclass(frozen=True)
class Outcome:
    """How one statement was converted: located (with both strategies) or a statement item and why."""

    located: bool
    actor_strategy: str | None = None
    target_strategy: str | None = None
    reason: str = ""

    @property
    def strategy(self) -> str | None:
        """The weaker of the two strategies: how the statement as a whole got its offsets."""
        if not self.located:
            return None
        return max(self.actor_strategy or "exact", self.target_strategy or "exact", key=STRATEGIES.index)


class AnnotationBuilder:
    """The result items of one annotation. Spans are shared per (offsets, label); spans never overlap."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.items: list[dict[str, Any]] = []
        self._spans: dict[tuple[int, int, str], str] = {}
        self._counter = 0

    def _clashes(self, cand: Candidate, label: str, extra: Sequence[tuple[Candidate, str]] = ()) -> bool:
        others = [(s, e, lab) for (s, e, lab) in self._spans] + [(c.start, c.end, lab) for c, lab in extra]
        for s, e, lab in others:
            if (s, e, lab) == (cand.start, cand.end, label):
                continue
            if cand.start < e and s < cand.end:
                return True
        return False

    def _span(self, cand: Candidate, label: str, mention: Mention) -> str:
        key = (cand.start, cand.end, label)
        if key not in self._spans:
            self._counter += 1
            region = f"{'a' if label == ACTOR_LABEL else 'p'}{self._counter}"
            self._spans[key] = region
            self.items += span_items(region, cand.start, cand.end, self.text[cand.start:cand.end], label,
                                     mention.canonical, in_codebook=mention.in_codebook)
        return self._spans[key]

    def _place(self, actor: Mention, target: Mention) -> tuple[Candidate, Candidate] | None:
        for a in actor.candidates:
            if self._clashes(a, ACTOR_LABEL):
                continue
            for t in target.candidates:
                if not self._clashes(t, POLICY_LABEL, [(a, ACTOR_LABEL)]):
                    return a, t
        return None

    def add(
        self, item_id: str, actor: Mention, target: Mention, stance: str, context: tuple[int, int],
        qualifiers: Sequence[str] = (),
    ) -> Outcome:
        """Add one statement: spans + relation when both mentions can be placed, else a statement item."""
        reason = actor.why_unlocated or target.why_unlocated
        if not reason and not actor.candidates:
            reason = "holder not found in the context"
        if not reason and not target.candidates:
            reason = "target not found in the context"
        placed = None if reason else self._place(actor, target)
        if placed:
            a, t = placed
            self.items.append(relation_item(self._span(a, ACTOR_LABEL, actor), self._span(t, POLICY_LABEL, target),
                                            stance, list(qualifiers)))
            return Outcome(True, a.strategy, t.strategy)
        reason = reason or "mentions overlap spans already drawn"
        self.items.append(statement_item(item_id, actor.canonical, target.canonical, stance, context[0],
                                         context[1], list(qualifiers)))
        return Outcome(False, reason=reason)


def annotation(annotation_id: int, annotator: str, ground_truth: bool, result: list[dict[str, Any]]) -> dict:
    """An annotation in the task format (no Label Studio user yet, no time recorded by the source)."""
    return {"id": annotation_id, "annotator": annotator, "completed_by": None, "ground_truth": ground_truth,
            "was_cancelled": False, "lead_time": None, "created_at": None, "result": result}


def task(article: Article, annotations: list[dict[str, Any]], origin: str, codebook_version: str) -> dict:
    """The Label Studio task for `article` (the annotation file written under annotations/)."""
    return {
        "data": {"text": article.text, "article_id": article.id, "checksum": article.checksum,
                 "title": article.title, "source": article.source, "group": article.group,
                 "split": article.split},
        "annotations": annotations,
        "predictions": [],
        "meta": {"origin": origin, "codebook_version": codebook_version},
    }


def check_out_folder(out: Path) -> None:
    """Refuse an OUT that exists and is not an earlier import (so an import never replaces a real corpus)."""
    if out.exists() and not out.is_dir():
        raise InputError(out, "OUT exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not (out / SUMMARY_FILE).is_file():
        raise InputError(out, f"OUT exists, is not empty and holds no {SUMMARY_FILE} from an earlier import; "
                              "choose a new or empty folder")


def write_import(
    out: Path, records: Iterable[tuple[Article, dict[str, Any]]], report: list[dict[str, Any]],
    summary: dict[str, Any],
) -> None:
    """Write OUT (articles/, annotations/, the report and the summary) into a temporary folder, then rename."""
    check_out_folder(out)
    with atomic_path(out) as staged:
        store = CorpusStore(staged)
        store.articles_dir.mkdir(parents=True)
        store.annotations_dir.mkdir(parents=True)
        for article, task_dict in records:
            # The staged folder is private until the rename, so plain writes are atomic enough here.
            # Compact JSON: the same documents as the bundled corpus, written several times faster.
            store.article_path(article.id).write_text(_compact(article.model_dump(mode="json")), "utf-8")
            store.task_path(article.id).write_text(_compact(task_dict), "utf-8")
        (staged / REPORT_FILE).write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in report), "utf-8")
        (staged / SUMMARY_FILE).write_text(dump_json(summary), "utf-8")


def _compact(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def validate_stance_map(mapping: dict[str, str], codebook: Codebook, where: str) -> None:
    """Every target of a raw->stance map must be one of the codebook's stance labels."""
    for raw, stance in mapping.items():
        if stance not in codebook.stance_names:
            raise InputError(where, f"label {raw!r} maps to {stance!r}, which is not a stance in the codebook "
                                    f"({', '.join(codebook.stance_names)})")


@dataclass
class ImportResult:
    """What an import wrote and how each source statement was converted (also OUT/import-summary.json)."""

    source: str
    out: Path
    articles: int = 0
    statements: int = 0
    articles_by_split: dict[str, int] = field(default_factory=dict)
    statements_by_split: dict[str, int] = field(default_factory=dict)
    raw_labels: dict[str, int] = field(default_factory=dict)
    stances: dict[str, int] = field(default_factory=dict)
    with_offsets: int = 0
    by_strategy: dict[str, int] = field(default_factory=dict)
    holder_strategies: dict[str, int] = field(default_factory=dict)
    target_strategies: dict[str, int] = field(default_factory=dict)
    without_offsets: dict[str, int] = field(default_factory=dict)
    annotators: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def report_path(self) -> Path:
        return self.out / REPORT_FILE

    def count(self, split: str | None, raw_label: str, stance: str, outcome: Outcome) -> None:
        """Tally one source statement (of the ground-truth annotation) and how it was converted."""
        _bump(self.statements_by_split, split or "unassigned")
        _bump(self.raw_labels, raw_label)
        _bump(self.stances, stance)
        self.statements += 1
        if outcome.located:
            self.with_offsets += 1
            _bump(self.by_strategy, outcome.strategy or "exact")
            _bump(self.holder_strategies, outcome.actor_strategy or "exact")
            _bump(self.target_strategies, outcome.target_strategy or "exact")
        else:
            _bump(self.without_offsets, outcome.reason)

    def count_annotator(self, annotator: str, statements: int, with_offsets: int) -> None:
        tally = self.annotators.setdefault(annotator, {"annotations": 0, "statements": 0, "with_offsets": 0})
        tally["annotations"] += 1
        tally["statements"] += statements
        tally["with_offsets"] += with_offsets

    def finish(self) -> None:
        """Put the tallies in a stable order: splits, then strategies, as the project lists them."""
        order = [*STRATEGIES, "train", "validation", "test"]
        for name in ("articles_by_split", "statements_by_split", "by_strategy", "holder_strategies",
                     "target_strategies"):
            tally = getattr(self, name)
            setattr(self, name, dict(sorted(tally.items(), key=lambda kv: (
                order.index(kv[0]) if kv[0] in order else len(order), kv[0]))))
        for name in ("raw_labels", "stances", "annotators"):
            setattr(self, name, dict(sorted(getattr(self, name).items())))
        self.without_offsets = dict(sorted(self.without_offsets.items(), key=lambda kv: -kv[1]))

    def to_dict(self) -> dict[str, Any]:
        fields = {k: v for k, v in self.__dict__.items() if k != "out"}
        return {**fields, "out": str(self.out), "report": REPORT_FILE}

    def lines(self) -> list[str]:
        """A short human summary (the CLI prints it)."""
        def fmt(d: dict[str, int]) -> str:
            return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"

        pct = 100.0 * self.with_offsets / self.statements if self.statements else 0.0
        return [
            f"{self.source}: wrote {self.out}",
            f"articles: {self.articles:,} ({fmt(self.articles_by_split)})",
            f"statements: {self.statements:,} ({fmt(self.statements_by_split)})",
            f"labels: {fmt(self.raw_labels)} -> {fmt(self.stances)}",
            f"with character offsets (both mentions): {self.with_offsets:,} of {self.statements:,} ({pct:.1f}%)"
            f"; by weaker strategy: {fmt(self.by_strategy)}",
            f"holder mentions by strategy: {fmt(self.holder_strategies)}",
            f"target mentions by strategy: {fmt(self.target_strategies)}",
            f"kept as statements with context only: {self.statements - self.with_offsets:,}"
            f" ({fmt(self.without_offsets)}); one line each in {self.report_path}",
            *(f"annotator {name}: {t['annotations']:,} annotations, {t['statements']:,} statements"
              for name, t in sorted(self.annotators.items())),
        ]


def _bump(counter: dict[str, int], key: str, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n
