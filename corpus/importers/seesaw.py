"""The SEESAW importer: the public release (read by path) into articles and Label Studio tasks.

SEESAW (Zhang, Beauchamp & Wang, EMNLP 2022; CC BY-NC-SA 4.0) codes sentence-level statements
``(subject, POS|NEG, object)`` between entities of an article-level entity list. Here:

* one Article per document (`seesaw-<story>-<k>`): the title, then one sentence per line (empty
  sentences left out; line breaks inside a sentence become spaces); `extra["sentence_spans"]` maps each
  sentence id to its offsets in `Article.text`; group = the story (`seesaw-<story>`), split = the
  story's split (valid -> validation); `published` is the story's date (the release has no per-article date);
* the subject is the Actor, the object the Policy span: SEESAW objects are any stance target (people,
  organisations, events, topics), not only policy options. Both are normalised by name through the
  per-region `canonical` text area (outside the codebook). Subject "None" (author voice) becomes the
  holder "(author)", "Not in the list" becomes "(unlisted)"; neither has a span;
* POS -> support, NEG -> oppose, checked against the codebook's stance labels;
* each task holds one annotation flagged ground truth (annotator "seesaw:gold", all the release's
  statements of the document) and one per annotator letter ("seesaw:A", ...) with the statements whose
  `annotators` list holds that letter; an annotator who coded the document (entities, sentiments,
  ideology) but no statement gets an empty annotation, for agreement figures;
* mentions are located in their own sentence (`corpus.importers.statements`); a statement whose
  mentions cannot both be placed is kept as a `statement` item with its sentence as context, and gets a
  line in OUT/import-report.jsonl saying why. Nothing is dropped.
"""

from __future__ import annotations

import datetime
import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corpus.codebook import Codebook, load_codebook
from corpus.errors import InputError
from corpus.importers.statements import (
    AUTHOR,
    UNLISTED,
    AnnotationBuilder,
    ImportResult,
    Mention,
    annotation,
    codebook_alias_index,
    codebook_aliases_of,
    fold,
    mention_candidates,
    name_aliases,
    person_surname,
    task,
    validate_stance_map,
    write_import,
)
from corpus.schema import UNKNOWN, Article
from corpus.store import read_json

log = logging.getLogger(__name__)

ORIGIN = "seesaw"
GOLD_ANNOTATOR = "seesaw:gold"
STANCE_MAP = {"POS": "support", "NEG": "oppose"}  # SEESAW's sentiment -> codebook stance id
SPLIT_MAP = {"train": "train", "valid": "validation", "test": "test"}
SUBFOLDERS = ("articles", "annotations", "meta")
SPECIAL_NAMES = {
    "None": (AUTHOR, "author voice: no explicit holder (subject 'None')"),
    "Not in the list": (UNLISTED, "entity not in the article's entity list ('Not in the list')"),
}
RIGHTS = ("From SEESAW (Zhang, Beauchamp & Wang, 'Generative Entity-to-Entity Stance Detection with Knowledge "
          "Graph Augmentation', EMNLP 2022; https://github.com/launchnlp/SEESAW), licensed CC BY-NC-SA 4.0: "
          "attribution, non-commercial use only, share-alike. The article text is the publisher's ({source}).")
_FILE = re.compile(r"^TRIPLET_(\d+)_DOCUMENT_(\d+)\.json$")


def _is_date(value: str) -> bool:
    try:
        return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)) and bool(datetime.date.fromisoformat(value))
    except ValueError:
        return False


@dataclass(frozen=True)
class Sentence:
    id: int
    start: int
    end: int


def check_release(directory: Path) -> None:
    """DIR must be a folder with the release's three subfolders."""
    if not directory.exists():
        raise InputError(directory, "SEESAW folder not found (pass DIR, set SEESAW_DIR, or use --download)")
    if not directory.is_dir():
        raise InputError(directory, "is not a folder")
    for sub in SUBFOLDERS:
        if not (directory / sub).is_dir():
            raise InputError(directory, f"not a SEESAW release: the '{sub}' subfolder is missing "
                                        f"(expected {', '.join(SUBFOLDERS)})")


def _clean(text: str) -> str:
    """NFC, line breaks inside a sentence or title as spaces, no outer whitespace."""
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"[ \t]*[\r\n]+[ \t\r\n]*", " ", text).strip()


def _need(obj: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InputError(where, f"missing field {key!r}")
    value = obj[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise InputError(where, f"field {key!r} must be a {names}")
    return value


def _sentences(raw: Any, where: str) -> list[tuple[int, str]]:
    items = _need(raw, "text", list, where)
    out, seen = [], set()
    for i, item in enumerate(items):
        sid = _need(item, "id", int, f"{where}: sentence #{i}")
        text = _need(item, "text", str, f"{where}: sentence #{i}")
        if sid in seen:
            raise InputError(where, f"sentence id {sid} appears twice")
        seen.add(sid)
        out.append((sid, _clean(text)))
    return out


def _entities(raw: Any, where: str) -> dict[str, dict[str, list[str]]]:
    entities: dict[str, dict[str, list[str]]] = {}
    for i, row in enumerate(_need(raw, "entity lists", list, where)):
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[0], str)
                and all(isinstance(col, list) for col in row[1:])):
            raise InputError(where, f"entity lists #{i}: expected [name, types, roles, annotators]")
        name, types, roles, annotators = row
        entry = entities.setdefault(name, {"types": [], "roles": [], "annotators": []})
        for key, values in (("types", types), ("roles", roles), ("annotators", annotators)):
            entry[key] += [str(v) for v in values if str(v) not in entry[key]]
    return entities


def _letters(raw: dict[str, Any], entities: dict[str, dict[str, list[str]]]) -> set[str]:
    """Every annotator who coded the document in any field (some coded entities but no statement)."""
    letters = {a for e in entities.values() for a in e["annotators"]}
    for key in ("entity sentiments", "entity ideologies"):
        for codes in (raw.get(key) or {}).values():
            letters |= {c[-1] for c in codes if isinstance(c, list) and c and isinstance(c[-1], str)}
    for code in raw.get("article ideology") or []:
        if isinstance(code, dict) and isinstance(code.get("annotator"), str):
            letters.add(code["annotator"])
    return letters


def _statements(raw: Any, where: str) -> list[tuple[int, int, dict[str, Any]]]:
    """(sentence id, statement id, statement) in sentence then statement order, each checked."""
    found = []
    for key, rows in _need(raw, "sentence-level stances", dict, where).items():
        if not re.fullmatch(r"\d+", key) or not isinstance(rows, list):
            raise InputError(where, f"sentence-level stances: key {key!r} must be a sentence id with a list")
        for j, st in enumerate(rows):
            here = f"{where}: sentence {key}, statement #{j}"
            stid = _need(st, "id", int, here)
            for field_name in ("subject", "object", "sentiment"):
                _need(st, field_name, str, here)
            annotators = _need(st, "annotators", list, here)
            if not annotators or not all(isinstance(a, str) and a for a in annotators):
                raise InputError(here, "field 'annotators' must list at least one annotator letter")
            if st["sentiment"] not in STANCE_MAP:
                raise InputError(here, f"sentiment {st['sentiment']!r} is not one of {', '.join(STANCE_MAP)}")
            found.append((int(key), stid, st))
    found.sort(key=lambda r: (r[0], r[1]))
    ids = [(s, t) for s, t, _ in found]
    if len(set(ids)) != len(ids):
        raise InputError(where, "two statements share a sentence and statement id")
    return found


class _Story:
    """One story's meta file, read once and checked."""

    def __init__(self, path: Path) -> None:
        raw = read_json(path)
        where = str(path)
        split = _need(raw, "Split", str, where)
        if split not in SPLIT_MAP:
            raise InputError(where, f"Split {split!r} is not one of {', '.join(SPLIT_MAP)}")
        self.raw = raw
        self.where = where
        self.release_split = split
        self.split = SPLIT_MAP[split]

    def document(self, k: int) -> dict[str, Any]:
        key = f"Meta info for article {k}"
        meta = self.raw.get(key)
        if not isinstance(meta, dict):
            raise InputError(self.where, f"missing field {key!r}")
        return meta


def _mention(name: str, sentence: str, offset: int, entities: dict[str, dict[str, list[str]]],
             surnames: dict[str, int], cb_index: dict[str, list[str]]) -> Mention:
    if name in SPECIAL_NAMES:
        canonical, why = SPECIAL_NAMES[name]
        return Mention(canonical, why_unlocated=why)
    person = "People" in entities.get(name, {}).get("types", [])
    surname = person_surname(name) if person else None
    if surname and surnames.get(surname, 0) > 1:
        surname = None  # two people of the article share it: a bare surname would be a guess
    aliases = name_aliases(name, person, codebook_aliases_of(name, cb_index))
    found = mention_candidates(sentence, name, aliases, surname)
    return Mention(name, [c.shifted(offset) for c in found])


def locate_entities(text: str, sentences: Sequence[tuple[int, int]], entities: Sequence[dict[str, Any]],
                    cb_index: dict[str, list[str]]) -> list[tuple[int, str, int, int]]:
    """(sentence index, entity name, start, end): each listed entity where the importer's rules find it first in
    each sentence (the same rules that placed the statements' mentions); entities found nowhere are left out."""
    listed = {str(e["name"]): {"types": list(e.get("types") or [])} for e in entities
              if isinstance(e, dict) and isinstance(e.get("name"), str) and e["name"] not in SPECIAL_NAMES}
    surnames: dict[str, int] = {}
    for name, e in listed.items():
        s = person_surname(name) if "People" in e["types"] else None
        if s:
            surnames[s] = surnames.get(s, 0) + 1
    # every form the rules may find, folded: a sentence holding none of an entity's forms cannot hold the entity
    # (the same pre-test `find_all` makes), which spares the full search for most (sentence, entity) pairs
    forms = {}
    for name, e in listed.items():
        person = "People" in e["types"]
        surname = person_surname(name) if person else None
        needles = [name, *name_aliases(name, person, codebook_aliases_of(name, cb_index)), *([surname] if surname
                                                                                             else [])]
        forms[name] = [fold(x.strip()) for x in needles if x.strip()]
    found = []
    for k, (start, end) in enumerate(sentences):
        sentence = text[start:end]
        folded = fold(sentence)
        for name in listed:
            if not any(f in folded for f in forms[name]):
                continue
            mention = _mention(name, sentence, start, listed, surnames, cb_index)
            if mention.candidates:
                c = mention.candidates[0]
                found.append((k, name, c.start, c.end))
    return found


def convert_document(
    story_id: str, k: int, article_raw: Any, annotation_raw: Any, story: _Story, codebook: Codebook,
    where: str, cb_index: dict[str, list[str]] | None = None,
) -> tuple[Article, dict[str, Any], list[dict[str, Any]], list[tuple[str, str, Any]]]:
    """One document -> (Article, task, report lines, (raw label, stance, outcome) per gold statement)."""
    cb_index = codebook_alias_index(codebook) if cb_index is None else cb_index
    meta = story.document(k)
    article_where = where.replace("annotations", "articles")
    sentences = _sentences(article_raw, article_where)
    title = _clean(_need(article_raw, "title", str, article_where)) or _clean(str(meta.get("title") or ""))
    entities = _entities(annotation_raw, where)
    statements = _statements(annotation_raw, where)

    body_lines, spans, pos = [], {}, 0
    prefix = len(title) + 2 if title else 0
    for sid, text in sentences:
        if text:
            spans[sid] = Sentence(sid, prefix + pos, prefix + pos + len(text))
            body_lines.append(text)
            pos += len(text) + 1
    if not body_lines:
        raise InputError(article_where, "the document has no non-empty sentence")
    letters = sorted(_letters(annotation_raw, entities) | {a for *_, st in statements for a in st["annotators"]})
    coded = {f"seesaw:{x}": sum(x in st["annotators"] for *_, st in statements) for x in letters}
    source = str(meta.get("source") or UNKNOWN)
    date = str(story.raw.get("story_time") or "")
    article_id = f"seesaw-{story_id}-{k}"
    seesaw_extra = {
        "story": story_id, "document": k, "file": Path(where).name,
        "story_title": story.raw.get("story_title"), "story_url": story.raw.get("story_url"),
        "story_topic": story.raw.get("story_topic"), "release_split": story.release_split,
        "bias_label": meta.get("bias_label"), "article_ideology": annotation_raw.get("article ideology"),
        "entities": [{"name": n, **e} for n, e in entities.items()],
        "entity_sentiments": annotation_raw.get("entity sentiments"),
        "entity_ideologies": annotation_raw.get("entity ideologies"),
        "annotators": coded,
    }
    try:
        article = Article(
            id=article_id, title=title, body="\n".join(body_lines), source=source,
            url=str(meta.get("url") or UNKNOWN), published=date if _is_date(date) else UNKNOWN,
            rights=RIGHTS.format(source=source), group=f"seesaw-{story_id}", split=story.split,
            extra={"seesaw": seesaw_extra, "published_is": "the story's date (no per-article date in SEESAW)",
                   "sentence_spans": [[s.id, s.start, s.end] for s in spans.values()]},
        )
    except ValueError as e:
        raise InputError(article_where, f"cannot build the article: {e}") from None
    text = article.text
    if any(text[s.start:s.end] != body_lines[i] for i, s in enumerate(spans.values())):
        raise InputError(article_where, "sentence offsets drifted after normalisation (report this as a bug)")

    people = [n for n, e in entities.items() if "People" in e["types"]]
    surnames: dict[str, int] = {}
    for name in people:
        s = person_surname(name)
        if s:
            surnames[s] = surnames.get(s, 0) + 1
    gold = AnnotationBuilder(text)
    coders = {letter: AnnotationBuilder(text) for letter in letters}
    report, tallies = [], []
    for sid, stid, st in statements:
        sentence = spans.get(sid)
        if sentence is None:
            known = "no such sentence" if sid not in dict(sentences) else "the sentence is empty"
            raise InputError(where, f"sentence {sid}, statement {stid}: {known}")
        context = text[sentence.start:sentence.end]
        actor = _mention(st["subject"], context, sentence.start, entities, surnames, cb_index)
        target = _mention(st["object"], context, sentence.start, entities, surnames, cb_index)
        stance = STANCE_MAP[st["sentiment"]]
        item_id = f"s{sid}-{stid}"
        outcome = gold.add(item_id, actor, target, stance, (sentence.start, sentence.end))
        tallies.append((st["sentiment"], stance, outcome))
        if not outcome.located:
            report.append({"article": article_id, "file": Path(where).name, "sentence": sid, "statement": stid,
                           "subject": st["subject"], "object": st["object"], "sentiment": st["sentiment"],
                           "annotators": st["annotators"], "reason": outcome.reason})
        for letter in st["annotators"]:
            coders[letter].add(item_id, actor, target, stance, (sentence.start, sentence.end))

    base = (int(story_id) * 10 + k) * 100 + 1
    annotations = [annotation(base, GOLD_ANNOTATOR, True, gold.items)]
    for j, letter in enumerate(letters, start=1):
        annotations.append(annotation(base + j, f"seesaw:{letter}", False, coders[letter].items))
    return article, task(article, annotations, ORIGIN, codebook.version), report, tallies


def release_files(directory: Path) -> list[tuple[str, int, Path]]:
    """(story id, document number, annotation file) for every document; articles must match one to one."""
    check_release(directory)
    found = []
    for path in sorted((directory / "annotations").glob("*.json")):
        m = _FILE.match(path.name)
        if not m:
            raise InputError(path, "unexpected file name (expected TRIPLET_<story>_DOCUMENT_<k>.json)")
        if not (directory / "articles" / path.name).is_file():
            raise InputError(directory / "articles" / path.name, "article file missing for its annotation file")
        found.append((m.group(1), int(m.group(2)), path))
    names = {p.name for *_, p in found}
    for path in sorted((directory / "articles").glob("*.json")):
        if path.name not in names:
            raise InputError(directory / "annotations" / path.name, "annotation file missing for its article")
    if not found:
        raise InputError(directory / "annotations", "no annotation files (TRIPLET_<story>_DOCUMENT_<k>.json)")
    return found


def import_seesaw(
    directory: str | Path, out: str | Path, codebook: Codebook | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ImportResult:
    """Convert the SEESAW release in `directory` into OUT (articles/, annotations/, report, summary).

    Raises InputError on a malformed release; writes nothing unless every document converted.
    """
    directory, out = Path(directory), Path(out)
    codebook = codebook or load_codebook()
    validate_stance_map(STANCE_MAP, codebook, "SEESAW stance map")
    files = release_files(directory)
    cb_index = codebook_alias_index(codebook)
    stories: dict[str, _Story] = {}
    result = ImportResult(source="seesaw", out=out)
    records, report = [], []
    for i, (story_id, k, path) in enumerate(files):
        if story_id not in stories:
            stories[story_id] = _Story(directory / "meta" / f"TRIPLET_{story_id}.json")
        article_raw = read_json(directory / "articles" / path.name)
        annotation_raw = read_json(path)
        if not isinstance(annotation_raw, dict):
            raise InputError(path, "an annotation file must be a JSON object")
        article, task_dict, lines, tallies = convert_document(
            story_id, k, article_raw, annotation_raw, stories[story_id], codebook, str(path), cb_index)
        records.append((article, task_dict))
        report += lines
        result.articles += 1
        key = article.split or "unassigned"
        result.articles_by_split[key] = result.articles_by_split.get(key, 0) + 1
        for raw_label, stance, outcome in tallies:
            result.count(article.split, raw_label, stance, outcome)
        for ann in task_dict["annotations"][1:]:
            n = article.extra["seesaw"]["annotators"][ann["annotator"]]
            located = sum(1 for item in ann["result"] if item.get("type") == "relation")
            result.count_annotator(ann["annotator"], n, located)
        if progress:
            progress(i + 1, len(files))
    result.finish()
    write_import(out, records, report, result.to_dict())
    log.info("SEESAW: %d articles, %d statements -> %s", result.articles, result.statements, out)
    return result
