"""The dataset card: README.md with YAML metadata (Hugging Face's `configs`/`dataset_info` plus ours)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from corpus.splits import SPLITS

DIGEST_METHOD = ("sha256 over the lines 'config, split, sha256 of that split' (configs by name, splits train, "
                 "validation, test); a split's sha256 covers its row count, features and each column in a fixed "
                 "binary form (null flags, then values or lengths and bytes, little-endian), rows ordered by id")

COLUMN_DOCS: dict[str, dict[str, str]] = {
    "statements": {
        "id": "stable row id: article/annotation/relation (from>to span ids) or statement item id",
        "article_id": "the article (see the articles config)",
        "task_id": "Label Studio task id (null for tasks that never were on a server)",
        "annotation_id": "Label Studio annotation id of the annotation the row comes from",
        "annotator": "who made that annotation (`gold`, `adjudicated`, `seesaw:A`, an e-mail)",
        "actor_id": "canonical actor: codebook id, or `x:<slug>` for a name outside the codebook",
        "actor_label": "the actor's label (codebook label or the name as given)",
        "actor_type": "codebook actor type, `unknown` outside the codebook",
        "policy_id": "canonical policy option: codebook id, or `x:<slug>` for a target outside it",
        "policy_label": "the policy option's label",
        "actor_mention": "surface text of the actor mention (the name as coded where it was not located)",
        "actor_start": "document offset of the actor mention (null when not located)",
        "actor_end": "end offset (exclusive) of the actor mention",
        "policy_mention": "surface text of the policy mention",
        "policy_start": "document offset of the policy mention (null when not located)",
        "policy_end": "end offset (exclusive) of the policy mention",
        "stance": "ClassLabel, names from the codebook's stance labels",
        "qualifiers": "codebook stance qualifiers on the relation (e.g. conditional)",
        "context": "the sentence(s) covering both mentions, plus the context window",
        "context_start": "document offset where the context starts",
        "actor_context_start": "actor mention start within the context (null when not located)",
        "actor_context_end": "actor mention end within the context",
        "policy_context_start": "policy mention start within the context",
        "policy_context_end": "policy mention end within the context",
        "source": "the article's outlet or source",
        "group": "story or event group used for splitting (the article id where none is given)",
        "origin": "where the annotation comes from (seed, seesaw, labelstudio, corpus)",
    },
    "mentions": {
        "id": "article id / sentence number",
        "article_id": "the article",
        "sentence": "sentence number within the article",
        "start": "document offset of the sentence",
        "end": "document end offset of the sentence",
        "text": "the sentence",
        "tokens": "words and single punctuation marks",
        "token_starts": "token start offsets within the sentence",
        "token_ends": "token end offsets within the sentence",
        "tags": "BIO tags per span label (ClassLabel sequence)",
    },
    "articles": {
        "id": "article id",
        "title": "headline", "text": "title, standfirst and body: every offset indexes this",
        "source": "outlet or source", "url": "URL", "published": "publication date",
        "language": "ISO 639-1 code", "rights": "rights or licence note", "checksum": "sha256 of the text",
        "group": "story or event group", "split": "the split the article is in",
        "source_split": "split given by the source (kept), null where none",
        "task_id": "Label Studio task id", "annotation_id": "annotation converted (null: not annotated)",
        "annotator": "its annotator", "statements": "statement rows from this article",
        "origin": "where the annotation comes from",
    },
}

COLUMN_DOCS["candidates"] = {
    **COLUMN_DOCS["statements"],
    "stance": "ClassLabel: the codebook's stance labels, then its no_stance label (`none`: a pair with no statement)",
    "candidate_source": "how the pair was formed: gold, span-pair, entity-list, author, unplaced (see Candidates)",
}


# Importers' names (import-summary.json's "source") -> how the card names the data and what its targets are.
KNOWN_SOURCES: dict[str, tuple[str, str]] = {
    "seesaw": ("SEESAW", "SEESAW (Zhang, Beauchamp & Wang, EMNLP 2022): entity-to-entity stances in US political "
                         "news, whose targets are people, parties, organisations and topics"),
}
IMPORT_SUMMARY = "import-summary.json"  # corpus.importers.statements.SUMMARY_FILE (corpus must not import it here)


def card_names(codebook_name: str, source_paths: Iterable[Path]) -> dict[str, str]:
    """`title` and `subject` of the card from its sources: an importer's OUT folder is named by the importer's
    record (`import-summary.json`: SEESAW for a SEESAW import), any other corpus folder by the codebook."""
    names: list[tuple[str, str]] = []
    for path in source_paths:
        importer = None
        summary = Path(path) / IMPORT_SUMMARY
        if summary.is_file():
            try:
                importer = json.loads(summary.read_text(encoding="utf-8")).get("source")
            except (OSError, ValueError, AttributeError):
                importer = None
        if isinstance(importer, str) and importer in KNOWN_SOURCES:
            name = KNOWN_SOURCES[importer]
        elif isinstance(importer, str) and importer:
            name = (f"{importer} import", f"an imported {importer} corpus ({Path(path).name})")
        else:
            name = (codebook_name, codebook_name)
        if name not in names:
            names.append(name)
    names = names or [(codebook_name, codebook_name)]
    return {"title": "newsstance: " + " + ".join(n for n, _ in names), "subject": "; ".join(s for _, s in names)}


def licence_outlets(articles: Iterable[dict[str, Any]]) -> dict[str, dict[str, Counter]]:
    """source folder -> rights note -> outlet -> articles (from the build's article rows)."""
    out: dict[str, dict[str, Counter]] = {}
    for a in articles:
        note = a.get("rights") or "unknown"
        out.setdefault(a.get("_source") or "?", {}).setdefault(note, Counter())[a.get("source") or "unknown"] += 1
    return out


@dataclass
class CardData:
    """Everything the card says; built by `corpus.build`, rendered here without touching files."""

    title: str
    codebook_name: str
    codebook_version: str
    features: dict[str, list[dict[str, Any]]]  # config -> Features._to_yaml_list()
    sizes: dict[str, dict[str, int]]  # config -> split -> rows
    stance_counts: dict[str, Counter]  # split -> stance -> statements
    digest: str
    seed: int
    ratios: tuple[float, float, float]
    context_window: int
    groups: dict[str, int]  # split -> groups
    split_notes: list[str]
    relations_in: int
    rejections: Counter  # reason -> lines
    rejected_relations: Counter  # reason -> relations
    sources: list[dict[str, Any]]  # kind, path, sha256, files, tasks, articles
    licences: dict[str, Counter]  # source path -> rights note -> articles
    languages: list[str]
    tag_names: list[str]
    article_label_columns: list[str] = field(default_factory=list)
    agreement: dict[str, Any] | None = None
    agreement_file: str | None = None
    split_by: str = "group"  # group (story or article) or target (whole targets held out)
    candidate_counts: dict[str, Counter] | None = None  # split -> candidate_source -> rows; None: no candidates
    subject: str = ""  # what the data is, from its sources (card_names); the codebook's name where empty
    outlets: dict[str, dict[str, Counter]] | None = None  # licence_outlets(); None: rights per source only


def render_card(data: CardData) -> str:
    """README.md text: YAML front matter, then the card in Markdown."""
    meta = {
        "pretty_name": data.title,
        "language": data.languages or ["en"],
        "license": "other",
        "task_categories": ["text-classification", "token-classification"],
        "tags": ["stance-detection", "label-studio", "newsstance"],
        # only non-empty splits: `datasets` refuses a split with no rows ("corresponds to no data")
        "configs": [{"config_name": c, "data_files": [{"split": s, "path": f"parquet/{c}/{s}.parquet"}
                                                     for s in SPLITS if data.sizes[c][s]],
                     **({"default": True} if c == "statements" else {})}
                    for c in data.features if sum(data.sizes[c].values())],
        # features only: split sizes here would make `load_dataset` expect the empty splits too
        "dataset_info": [{"config_name": c, "features": feats} for c, feats in data.features.items()],
        "newsstance": {
            "digest": data.digest, "digest_method": DIGEST_METHOD,
            "codebook_version": data.codebook_version, "seed": data.seed, "split_ratios": list(data.ratios),
            "context_window": data.context_window,
            # only when not the default, so the lineage (training.lineage) of earlier builds stays the same
            **({"split_by": data.split_by} if data.split_by != "group" else {}),
            "sources": [{k: s[k] for k in ("kind", "path", "sha256", "files", "tasks")} for s in data.sources],
            "sizes": data.sizes, "relations_in": data.relations_in,
            "statements": sum(data.sizes["statements"].values()),
            "relations_rejected": sum(data.rejected_relations.values()),
            **({"agreement": data.agreement_file} if data.agreement is not None else {}),
        },
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    parts = [f"---\n{front}---\n", f"# {data.title}\n", _summary(data), _layout(), _sizes(data),
             _stances(data), _candidates(data), _split_section(data), _features(data), _rejections(data),
             _agreement(data), _sources(data), _loading()]
    return "\n".join(p for p in parts if p)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _summary(d: CardData) -> str:
    n = sum(d.sizes["statements"].values())
    return (f"Actors' stances toward {_targets(d)} in news text ({d.subject or d.codebook_name}), converted "
            f"losslessly from Label Studio annotations by `python -m corpus build`. Codebook version "
            f"**{d.codebook_version}**. "
            f"{n} statements from {sum(d.sizes['articles'].values())} articles. Relations and statement items "
            f"read: {d.relations_in} = {n} converted + {d.rejected_relations.get('superseded', 0)} in annotators' "
            f"own annotations superseded by a ground-truth or adjudicated one + "
            f"{sum(d.rejected_relations.values()) - d.rejected_relations.get('superseded', 0)} rejected (see "
            f"`rejections.jsonl` and below).\n\nContent digest: `{d.digest}` ({DIGEST_METHOD}; also in "
            "`digest.json`).\n")


def _targets(d: CardData) -> str:
    """'policy options' for our codebook's corpora; 'targets' where a source's targets are not policy options."""
    return "targets" if any(name in d.subject for name, _ in KNOWN_SOURCES.values()) else "policy options"


def _layout() -> str:
    return ("## Layout\n\n"
            "- `statements/`, `mentions/`, `articles/` and `candidates/` (see Candidates): each a `DatasetDict` "
            "saved with `save_to_disk` (splits "
            "`train`, `validation`, `test`, always all three, possibly empty)\n"
            "- `parquet/<config>/<split>.parquet`: the same rows as Parquet\n"
            "- `splits.json`: the split manifest (group -> split, article -> group); a rebuild with it "
            "reproduces the splits and new groups never move old ones\n"
            "- `rejections.jsonl`: one line per annotation, relation, span or item not converted, with task id "
            "and reason\n- `sources.json`: every source file with its sha256\n- `digest.json`: the content digest\n")


def _sizes(d: CardData) -> str:
    rows = [[c, *(d.sizes[c][s] for s in SPLITS), sum(d.sizes[c].values())] for c in d.sizes]
    rows.append(["groups (articles or stories)", *(d.groups.get(s, 0) for s in SPLITS), sum(d.groups.values())])
    return "## Sizes\n\n" + _table(["config", *SPLITS, "total"], rows)


def _stances(d: CardData) -> str:
    labels = sorted({k for c in d.stance_counts.values() for k in c})
    rows = [[s, *(d.stance_counts.get(s, Counter())[k] for k in labels), sum(d.stance_counts.get(s, Counter())
                                                                           .values())] for s in SPLITS]
    return "## Stance labels per split\n\n" + _table(["split", *labels, "total"], rows)


def _candidates(d: CardData) -> str:
    if d.candidate_counts is None:
        return ""
    from corpus.candidates import CANDIDATE_SOURCES, CANDIDATES_DOC

    kinds = [k for k in CANDIDATE_SOURCES if any(c[k] for c in d.candidate_counts.values())]
    rows = [[s, *(d.candidate_counts[s][k] for k in kinds), sum(d.candidate_counts[s].values())] for s in SPLITS]
    none = sum(sum(c.values()) - c["gold"] for c in d.candidate_counts.values())
    gold = sum(c["gold"] for c in d.candidate_counts.values())
    ratio = f"{none / gold:.2f}" if gold else "n/a"
    return (f"## Candidates\n\n{CANDIDATES_DOC}\n\nRows per split by `candidate_source` (`gold`: the statements "
            f"themselves, every other column a `none` pair); none : statement = {ratio}.\n\n"
            + _table(["split", *kinds, "total"], rows))


def _split_section(d: CardData) -> str:
    if d.split_by == "target":
        return _target_split_section(d)
    text = (f"## Splits\n\nGrouped by article, and by story or event group where the source gives one (no "
            f"group straddles two splits: the build checks it). Splits given by a source are kept. Other groups "
            f"are assigned greedily, stratified on stance, target shares {'/'.join(f'{r:g}' for r in d.ratios)}, "
            f"seed {d.seed}. Contexts cover the sentence(s) holding both mentions plus {d.context_window} "
            f"sentence(s) each side. The `mentions` config is sentence-level (one row per sentence of each "
            f"annotated article; sentences are joined where a span would cross them), tags "
            f"{', '.join(d.tag_names)}.\n")
    return text + _split_notes(d)


def _split_notes(d: CardData) -> str:
    return ("\n" + "\n".join(f"- **Note:** {n}" for n in d.split_notes) + "\n") if d.split_notes else ""


def _target_split_section(d: CardData) -> str:
    text = (f"## Splits\n\nWhole targets held out (`--split-by target`): every statement and candidate goes to the "
            f"split of its canonical target (`policy_label`), so no target is in two splits (the build checks it); "
            f"the source's own splits are set aside. Targets are assigned greedily, stratified on stance (and "
            f"`none` candidates), target shares {'/'.join(f'{r:g}' for r in d.ratios)}, seed {d.seed}; the "
            f"`groups` row of Sizes counts targets. An article (its `articles` and `mentions` rows) goes to the "
            f"split holding most of its rows, so one article's text can be in the statements of two splits, "
            f"each about different targets. Contexts cover the sentence(s) holding both mentions plus "
            f"{d.context_window} sentence(s) each side.\n")
    return text + _split_notes(d)


def _features(d: CardData) -> str:
    out = ["## Features\n"]
    for config, feats in d.features.items():
        rows = []
        for f in feats:
            kind = f.get("dtype", f.get("list"))
            if isinstance(kind, dict) and "class_label" in kind:
                kind = "ClassLabel(" + ", ".join(kind["class_label"]["names"].values()) + ")"
            elif "list" in f:
                inner = f["list"]
                if isinstance(inner, dict) and "class_label" in inner:
                    inner = "ClassLabel(" + ", ".join(inner["class_label"]["names"].values()) + ")"
                kind = f"list[{inner}]"
            doc = COLUMN_DOCS.get(config, {}).get(f["name"])
            if doc is None and f["name"] in d.article_label_columns:
                doc = "article-level label from the codebook (null when not coded)"
            rows.append([f"`{f['name']}`", kind, doc or ""])
        out.append(f"### {config}\n\n" + _table(["column", "type", "meaning"], rows))
    return "\n".join(out)


def _rejections(d: CardData) -> str:
    if not d.rejections:
        return "## Rejections\n\nNone: every relation and statement item was converted.\n"
    rows = [[f"`{r}`", n, d.rejected_relations.get(r, 0)] for r, n in sorted(d.rejections.items())]
    return ("## Rejections\n\nRead = converted + not converted is checked by the build. Superseded annotations "
            "are annotators' own work where a ground-truth or adjudicated annotation of the same task was "
            "converted instead.\n\n" + _table(["reason", "lines", "relations"], rows))


def _agreement(d: CardData) -> str:
    if d.agreement is None:
        return ""
    flat = [[f"`{k}`", v] for k, v in d.agreement.items() if isinstance(v, int | float | str)]
    body = _table(["figure", "value"], flat) if flat else ""
    dump = json.dumps(d.agreement, indent=1, ensure_ascii=False)
    if len(dump) > 4000:
        dump = dump[:4000] + "\n..."
    return (f"## Agreement between annotators\n\nFrom `{d.agreement_file}` (copied to `agreement.json`).\n\n"
            f"{body}\n```json\n{dump}\n```\n")


def _sources(d: CardData) -> str:
    rows = [[s["kind"], f"`{s['path']}`", s["files"], s["tasks"], s["articles"], f"`{s['sha256']}`"]
            for s in d.sources]
    if d.outlets is None:
        lic = [[f"`{path}`", note, "", n] for path, rights in d.licences.items() for note, n in rights.most_common()]
    else:
        lic = [[f"`{path}`", note, ", ".join(f"{o} ({n})" for o, n in sorted(outlets.items())), sum(outlets.values())]
               for path, by_note in d.outlets.items() for note, outlets in _by_licence(by_note).items()]
    return ("## Sources and licences\n\nA folder's sha256 is taken over its files' paths and sha256s "
            "(each file is listed in `sources.json`). Each source's rights, from its articles, one row per "
            "licence (an outlet's name in its rights note is replaced by `<outlet>`):\n\n"
            + _table(["kind", "path", "files", "tasks", "articles", "sha256"], rows) + "\n"
            + _table(["source", "rights", "outlets (articles)", "articles"], lic))


def _by_licence(by_note: dict[str, Counter]) -> dict[str, Counter]:
    """Rights notes that differ only by the outlet they name, merged into one licence with the outlets listed."""
    merged: dict[str, Counter] = {}
    for note, outlets in sorted(by_note.items()):
        for outlet, n in outlets.items():
            generic = note
            if outlet and outlet != "unknown":
                generic = re.sub(re.escape(outlet), "<outlet>", note)
            merged.setdefault(generic, Counter())[outlet] += n
    return dict(sorted(merged.items(), key=lambda kv: -sum(kv[1].values())))


def _loading() -> str:
    return ("## Loading\n\n```python\nfrom datasets import load_from_disk, load_dataset\n"
            "statements = load_from_disk(\"DATASET/statements\")\n"
            "mentions = load_dataset(\"DATASET\", \"mentions\")  # the configs in this card's metadata\n"
            "train = load_dataset(\"parquet\", data_files={\"train\": \"DATASET/parquet/statements/train.parquet\"})\n"
            "```\n\n`load_dataset` refuses a split with no rows, so the card's `configs` list only the non-empty "
            "ones; the empty splits are still saved (`load_from_disk` gives all three) and their Parquet files "
            "hold the schema and no rows.\n")
