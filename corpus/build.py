"""`corpus build`: read sources -> convert (pure, `corpus.convert`) -> split -> write the dataset atomically.

Sources are read by `corpus.sources`, the Arrow tables made by `corpus.tables`, the content digest computed by
`corpus.digest`. Output layout and columns are documented in `corpus.card`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.batches import RowBatches, iter_rows, relabel, split_table, value_counts
from corpus.candidates import CANDIDATE_SOURCES, article_candidates
from corpus.card import CardData, card_names, licence_outlets, render_card
from corpus.codebook import load_codebook
from corpus.convert import DUPLICATE_ARTICLE, Conversion, MentionBlock, Scheme, article_row, convert_task, reject_task
from corpus.digest import DIGEST_FILE, combine_digests, digest_text, table_digest
from corpus.digest import dataset_digest as dataset_digest  # re-exported: callers check datasets through here
from corpus.errors import InputError, atomic_path, write_text_atomic
from corpus.importers.seesaw import locate_entities
from corpus.importers.statements import codebook_alias_index
from corpus.sources import Item, Source, read_sources
from corpus.sources import read_export as read_export  # re-exported, with read_sources
from corpus.splits import (
    DEFAULT_RATIOS,
    SPLIT_BY,
    SPLITS,
    TARGET_PREFIX,
    Group,
    Manifest,
    assign_splits,
    assign_target_splits,
    check_no_straddle,
    check_targets_disjoint,
    load_manifest,
    manifest_text,
)
from corpus.store import read_json
from corpus.tables import (
    article_features,
    candidate_features,
    mention_features,
    mention_table,
    rows_table,
    statement_features,
)

log = logging.getLogger(__name__)

CONFIGS = ("statements", "mentions", "articles", "candidates")  # candidates only with a codebook no_stance label
MANIFEST_FILE = "splits.json"


@dataclass
class BuildOptions:
    """What `corpus build` does; every field is a CLI flag."""

    out: Path
    sources: list[Path] = field(default_factory=list)  # empty: the bundled corpus
    seed: int = 13
    context_window: int = 0
    manifest: Path | None = None  # default: OUT/splits.json of the previous build, if any
    agreement: Path | None = None
    codebook: Path | None = None
    ratios: tuple[float, float, float] = DEFAULT_RATIOS
    split_by: str = "group"  # group: by story or article; target: whole targets held out

    def __post_init__(self) -> None:
        if self.split_by not in SPLIT_BY:
            raise InputError("--split-by", f"must be one of {', '.join(SPLIT_BY)}, got {self.split_by!r}")
        if self.context_window < 0:
            raise InputError("--context-window", f"must be 0 or more, got {self.context_window}")


@dataclass
class BuildResult:
    """What a build wrote, for the CLI and for callers."""

    out: Path
    digest: str
    sizes: dict[str, dict[str, int]]
    stance_counts: dict[str, Counter]
    relations_in: int
    rejections: Counter  # reason -> lines
    rejected_relations: int
    rejected_by_reason: Counter  # reason -> relations
    empty_splits: list[str]
    notes: list[str]
    timings: dict[str, float] = field(default_factory=dict)  # seconds per phase


def convert_items(items: list[Item], scheme: Scheme, context_window: int,
                  progress: Callable[[Iterable[Item]], Iterable[Item]] | None = None,
                  candidates: Callable[[Item, Conversion], list[dict[str, Any]]] | None = None,
                  ) -> Iterator[tuple[Conversion, list[dict[str, Any]]]]:
    """Convert every item, with its candidate rows; a second task for an article already converted is rejected as
    a duplicate."""
    seen: dict[str, str] = {}
    for item in progress(items) if progress else items:
        src = str(item.source.path)
        fallback = "labelstudio" if item.source.kind == "export" else "corpus"
        if item.task is None:
            if item.doc.article_id not in seen:
                seen[item.doc.article_id] = src
                row = article_row(item.doc, None, item.doc.meta.get("origin") or fallback, scheme)
                yield Conversion(article={**row, "_source": src}), []
            continue
        if item.reason is None and item.doc.article_id in seen:
            item.reason = (DUPLICATE_ARTICLE, f"article {item.doc.article_id!r} already converted from "
                                              f"{seen[item.doc.article_id]}")
        if item.reason is not None:
            yield reject_task(item.task, item.doc, *item.reason, source=src), []
            continue
        seen[item.doc.article_id] = src
        conv = convert_task(item.task, item.doc, scheme, context_window=context_window, source=src,
                            origin=fallback)
        conv.article["_source"] = src
        yield conv, candidates(item, conv) if candidates else []


def nothing_converted(rejections: list[dict[str, Any]]) -> str:
    """The one-line summary of a build in which every task was rejected."""
    reasons = Counter(str(r.get("reason")) for r in rejections)
    relations = sum(int(r.get("relations") or 0) for r in rejections)
    first = rejections[0] if rejections else {}
    return (f"nothing converted: {len(rejections)} rejections, {relations} relations in them ("
            + ", ".join(f"{k} {v}" for k, v in reasons.most_common())
            + f"); first, task {first.get('task_id')}: {first.get('detail', '')}; nothing written")


def _previous_manifest(options: BuildOptions) -> Manifest | None:
    if options.manifest is not None:
        return load_manifest(options.manifest)
    return load_manifest(options.out / MANIFEST_FILE)


def _check_out(out: Path, sources: list[Source]) -> None:
    """Refuse to replace a folder that is not a dataset this command built (a corpus, a home folder...)."""
    resolved = out.resolve()
    for src in sources:
        p = src.path.resolve()
        if resolved == p or resolved in p.parents:
            raise InputError(out, f"the output would replace the source {src.path}")
    if out.exists() and not (out.is_dir() and ((out / DIGEST_FILE).is_file() or not any(out.iterdir()))):
        raise InputError(out, "exists and is not a dataset built by `corpus build`; choose another --out")


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: parsing and converting make millions of small acyclic objects,
    and its repeated full passes over them tripled the time of a large build (reference counting still frees
    everything; the collector is restored afterwards)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def build_dataset(options: BuildOptions, progress: Callable[[Iterable[Any]], Iterable[Any]] | None = None
                  ) -> BuildResult:
    """Build and write the dataset; InputError on bad input, with nothing written."""
    with _no_gc():
        return _build(options, progress)


def _build(options: BuildOptions, progress: Callable[[Iterable[Any]], Iterable[Any]] | None) -> BuildResult:
    clock = _Clock()
    codebook = load_codebook(options.codebook)
    scheme = Scheme.from_codebook(codebook)
    features = {"statements": statement_features(codebook), "mentions": mention_features(codebook),
                "articles": article_features(codebook)}
    configs = [c for c in CONFIGS if c != "candidates" or codebook.no_stance is not None]
    if "candidates" in configs:
        features["candidates"] = candidate_features(codebook)
    sources, items = read_sources(options.sources)
    clock.lap("read")
    _check_out(options.out, sources)
    agreement = None
    if options.agreement is not None:
        agreement = read_json(options.agreement)
        if not isinstance(agreement, dict):
            raise InputError(options.agreement, "agreement figures must be a JSON object")

    # statements and candidates (the many rows) become Arrow batches as they come; the export is streamed
    import pyarrow as pa

    st_schema = features["statements"].arrow_schema
    st_schema = st_schema.set(st_schema.get_field_index("stance"), pa.field("stance", pa.string()))  # names yet
    statement_rows = RowBatches(st_schema)
    candidate_rows = RowBatches(features["candidates"].arrow_schema) if "candidates" in configs else None
    mentions: list[MentionBlock] = []
    articles: list[dict[str, Any]] = []
    rejections: list[dict[str, Any]] = []
    relations_in = 0
    converted = 0
    for conv, cands in convert_items(items, scheme, options.context_window, progress,
                                     _candidate_maker(codebook, scheme, options) if "candidates" in configs else None):
        converted += 1
        if candidate_rows is not None:
            candidate_rows.extend(cands)
        statement_rows.extend(conv.statements)
        if conv.mentions is not None:
            mentions.append(conv.mentions)
        if conv.article:
            articles.append(conv.article)
        rejections += conv.rejections
        relations_in += conv.relations_in
    clock.lap("convert")
    statements = statement_rows.table()
    candidates = candidate_rows.table() if candidate_rows is not None else None
    rejected = sum(r["relations"] for r in rejections)
    if relations_in != statements.num_rows + rejected:  # the lossless promise, checked on the whole build
        raise RuntimeError(f"{relations_in} relations read but {statements.num_rows} converted + {rejected} rejected")
    if converted and not articles:  # every task rejected: an empty dataset would pass for a build
        raise InputError(", ".join(str(s.path) for s in sources), nothing_converted(rejections))

    st_rows = iter_rows(statements, ["article_id", "stance", "policy_label"])
    if options.split_by == "target":
        cand_rows = iter_rows(candidates, ["article_id", "policy_label", "candidate_source"]) if candidates else []
        manifest = _target_split(articles, st_rows, cand_rows, options)
        key, split_of = "policy_label", manifest.split_of_target
    else:
        manifest = _split(articles, st_rows, options)
        key, split_of = "article_id", manifest.split_of
    del st_rows  # an unfinished row generator would keep its table alive
    by_split: dict[str, dict[str, list[dict[str, Any]]]] = {"articles": {s: [] for s in SPLITS}}
    for row in articles:
        row["split"] = manifest.split_of(row["id"])
        by_split["articles"][row["split"]].append(row)
    split_tables = {"statements": split_table(statements, key, split_of)}
    del statements  # each whole table goes as soon as its splits are made
    if candidates is not None:
        split_tables["candidates"] = split_table(candidates, key, split_of)
    del candidates
    if options.split_by == "target":
        check_targets_disjoint({s: [r for c in split_tables for r in iter_rows(split_tables[c][s],
                                                                               ["id", "policy_label"])]
                                for s in SPLITS})
    blocks: dict[str, list[MentionBlock]] = {s: [] for s in SPLITS}
    for block in mentions:
        blocks[manifest.split_of(block.article_id)].append(block)
    by_id = sorted(codebook.label2id, key=codebook.label2id.__getitem__)
    for s in SPLITS:
        split_tables["statements"][s] = relabel(split_tables["statements"][s], "stance", by_id,
                                                features["statements"].arrow_schema)
    clock.lap("split")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # numpy work on mentions overlaps the Python work on statements
        mention_tables = {s: pool.submit(mention_table, blocks[s], features["mentions"], scheme.tag_names)
                          for s in SPLITS}
        tables = {"articles": {s: rows_table(by_split["articles"][s], features["articles"]) for s in SPLITS},
                  **split_tables}
        tables["mentions"] = {s: future.result() for s, future in mention_tables.items()}
    clock.lap("arrow")
    tables = {c: tables[c] for c in configs}  # the configs in their usual order
    sizes = {c: {s: tables[c][s].num_rows for s in SPLITS} for c in configs}
    stance_counts = {s: Counter({codebook.stance_names[k]: n for k, n in
                                 value_counts(tables["statements"][s], "stance").items()})
                     for s in SPLITS}
    if options.split_by == "target":  # the held-out units are targets
        groups_per_split = Counter(v for g, v in manifest.groups.items() if g.startswith(TARGET_PREFIX))
    else:
        groups_per_split = Counter(manifest.groups[g] for g in {r["group"] for r in articles})
    empty = [s for s in SPLITS if sizes["statements"][s] == 0]
    notes = _notes(empty, groups_per_split, sizes)
    reasons = Counter(r["reason"] for r in rejections)
    rejected_by_reason: Counter = Counter()
    for r in rejections:
        rejected_by_reason[r["reason"]] += r["relations"]
    card = CardData(
        **card_names(codebook.name, [s.path for s in sources]), codebook_name=codebook.name,
        codebook_version=codebook.version, outlets=licence_outlets(articles),
        features={c: features[c]._to_yaml_list() for c in configs}, sizes=sizes, stance_counts=stance_counts,
        digest="", seed=manifest.seed, ratios=manifest.ratios, context_window=options.context_window,
        split_by=options.split_by,
        groups=dict(groups_per_split), split_notes=notes, relations_in=relations_in, rejections=reasons,
        rejected_relations=rejected_by_reason,
        sources=[{"kind": s.kind, "path": str(s.path), "sha256": s.sha256, "files": len(s.files),
                  "tasks": s.tasks, "articles": _count_articles(articles, s)} for s in sources],
        licences=_licences(articles, sources), languages=sorted({a["language"] for a in articles if a["language"]}),
        tag_names=Scheme.from_codebook(codebook).tag_names,
        article_label_columns=[al.id for al in codebook.article_labels],
        agreement=agreement, agreement_file=str(options.agreement) if options.agreement else None,
        candidate_counts=_candidate_counts({s: iter_rows(t, ["candidate_source"]) for s, t in
                                            tables["candidates"].items()} if "candidates" in tables else None))
    digest = _write(options, tables, features, manifest, rejections, sources, card, agreement, clock)
    return BuildResult(out=options.out, digest=digest, sizes=sizes, stance_counts=stance_counts,
                       relations_in=relations_in, rejections=reasons, rejected_relations=rejected,
                       rejected_by_reason=rejected_by_reason,
                       empty_splits=empty, notes=notes, timings=clock.laps)


def _candidate_maker(codebook: Any, scheme: Scheme, options: BuildOptions
                     ) -> Callable[[Item, Conversion], list[dict[str, Any]]]:
    """The candidate rows of one converted item (`corpus.candidates`), stances as detection ClassLabel ids."""
    cb_index = codebook_alias_index(codebook)
    none_label = codebook.no_stance.id
    stance_id = {name: i for i, name in enumerate(codebook.detection_names)}

    def make(item: Item, conv: Conversion) -> list[dict[str, Any]]:
        entities = item.doc.meta.get("entities")
        locate = None
        if isinstance(entities, list) and entities:
            def locate(text: str, units: Any) -> list[tuple[int, str, int, int]]:
                return locate_entities(text, units, entities, cb_index)
        return article_candidates(item.task or {}, item.doc, scheme, conv, context_window=options.context_window,
                                  locate=locate, none_label=none_label, stance_id=stance_id)

    return make


def _candidate_counts(by_split: dict[str, Iterable[dict[str, Any]]] | None) -> dict[str, Counter] | None:
    """split -> candidate_source -> rows (None: no candidates config)."""
    if by_split is None:
        return None
    return {s: Counter(dict(sorted(Counter(r["candidate_source"] for r in rows).items(),
                                   key=lambda kv: CANDIDATE_SOURCES.index(kv[0]))))
            for s, rows in by_split.items()}


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


def _count_articles(articles: list[dict[str, Any]], src: Source) -> int:
    return sum(1 for a in articles if a.get("_source") == str(src.path))


def _licences(articles: list[dict[str, Any]], sources: list[Source]) -> dict[str, Counter]:
    out: dict[str, Counter] = {str(s.path): Counter() for s in sources}
    for a in articles:
        out.setdefault(a.get("_source") or "?", Counter())[a.get("rights") or "unknown"] += 1
    return out


def _split(articles: list[dict[str, Any]], statements: list[dict[str, Any]], options: BuildOptions) -> Manifest:
    groups: dict[str, Group] = {}
    for row in articles:
        g = groups.setdefault(row["group"], Group(row["group"]))
        g.articles.append(row["id"])
        if row["source_split"]:
            g.given[row["id"]] = row["source_split"]
    group_of = {row["id"]: row["group"] for row in articles}
    for row in statements:
        groups[group_of[row["article_id"]]].stances[row["stance"]] += 1
    manifest = assign_splits(sorted(groups.values(), key=lambda g: g.name), options.seed, options.ratios,
                             _previous_manifest(options), where=str(options.manifest or "splits"))
    check_no_straddle(group_of, manifest)
    return manifest


def _target_split(articles: list[dict[str, Any]], statements: list[dict[str, Any]],
                  candidates: list[dict[str, Any]], options: BuildOptions) -> Manifest:
    """Whole targets held out (`corpus.splits.assign_target_splits`); articles follow most of their rows."""
    targets: dict[str, Counter] = {}
    article_rows: dict[str, list[str]] = {row["id"]: [] for row in articles}
    for row in statements:
        targets.setdefault(row["policy_label"], Counter())[row["stance"]] += 1
        article_rows[row["article_id"]].append(row["policy_label"])
    for row in candidates:
        if row["candidate_source"] != "gold":  # gold rows are the statements, counted above
            targets.setdefault(row["policy_label"], Counter())["none"] += 1
            article_rows[row["article_id"]].append(row["policy_label"])
    previous = _previous_manifest(options)
    if previous is not None and previous.split_by != "target" and options.manifest is None:
        previous = None  # OUT's own manifest of a story split: this build replaces it
    return assign_target_splits(targets, article_rows, options.seed, options.ratios, previous,
                                where=str(options.manifest or "--split-by target"))


def _notes(empty: list[str], groups: Counter, sizes: dict[str, dict[str, int]]) -> list[str]:
    notes = []
    total_groups = sum(groups.values())
    if empty:
        notes.append(f"{' and '.join(empty)} {'is' if len(empty) == 1 else 'are'} empty: the corpus has "
                     f"{total_groups} group(s) (articles or stories) and "
                     f"{sum(sizes['statements'].values())} statements, too few to fill every split without "
                     "splitting a group; empty splits are left empty, not faked.")
    return notes


@contextlib.contextmanager
def _quiet_datasets() -> Iterator[None]:
    """No per-split 'Saving the dataset' bars from datasets; the CLI reports the build its own way."""
    from datasets.utils import logging as ds_logging

    was_enabled = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            ds_logging.enable_progress_bar()


def _write(options: BuildOptions, tables: dict[str, dict[str, Any]], features: dict[str, Any], manifest: Manifest,
           rejections: list[dict[str, Any]], sources: list[Source], card: CardData,
           agreement: dict[str, Any] | None, clock: _Clock) -> str:
    """Write the whole dataset folder through a temporary sibling and one rename; returns the content digest.

    Each split is hashed and saved (Arrow, Parquet) on a small thread pool: pyarrow, numpy and hashlib release
    the GIL for the heavy parts, so the work overlaps on a machine with two cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetInfo, NamedSplit

    def parquet(table: Any, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if table.num_rows:
            pq.write_table(table, target)
        else:  # no row group at all: a 0-row group makes load_dataset("parquet") fail
            pq.ParquetWriter(target, table.schema).close()

    def arrow(config: str, split: str, target: Path) -> str:
        """Hash one split, then save it with that hash as its fingerprint (the cache key `datasets` uses)."""
        table = tables[config][split]
        digest = table_digest(config, split, table, features[config])
        info = DatasetInfo(description=f"newsstance {config}", features=features[config], config_name=config)
        ds = Dataset(table, info=info, split=NamedSplit(split), fingerprint=digest[:16])
        # an empty split still gets one (empty) shard: with none, load_from_disk fails on it
        ds.save_to_disk(str(target), num_shards=None if table.num_rows else 1)
        return digest

    with atomic_path(options.out) as tmp, _quiet_datasets(), ThreadPoolExecutor(3) as pool:
        tmp.mkdir(parents=True)
        written = [pool.submit(parquet, tables[c][s], tmp / "parquet" / c / f"{s}.parquet")
                   for c in tables for s in SPLITS]
        hashed = {(c, s): pool.submit(arrow, c, s, tmp / c / s) for c in tables for s in SPLITS}
        for config in tables:  # what DatasetDict.save_to_disk writes beside its splits
            (tmp / config).mkdir(parents=True, exist_ok=True)
            (tmp / config / "dataset_dict.json").write_text(json.dumps({"splits": list(SPLITS)}), encoding="utf-8")
        digest = combine_digests({key: future.result() for key, future in hashed.items()})
        for future in written:
            future.result()
        clock.lap("write")
        card.digest = digest
        (tmp / "README.md").write_text(render_card(card), encoding="utf-8")
        with (tmp / "rejections.jsonl").open("w", encoding="utf-8") as f:
            for line in rejections:
                f.write(json.dumps({k: v for k, v in line.items() if not k.startswith("_")},
                                   ensure_ascii=False) + "\n")
        (tmp / MANIFEST_FILE).write_text(manifest_text(manifest), encoding="utf-8")
        (tmp / DIGEST_FILE).write_text(digest_text(digest, {c: {s: tables[c][s].num_rows for s in SPLITS}
                                                            for c in tables}, card.codebook_version),
                                       encoding="utf-8")
        (tmp / "sources.json").write_text(json.dumps(
            [{"kind": s.kind, "path": str(s.path), "sha256": s.sha256,
              "files": [{"path": p, "sha256": h} for p, h in s.files]} for s in sources],
            indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        if agreement is not None:
            (tmp / "agreement.json").write_text(json.dumps(agreement, indent=1, ensure_ascii=False) + "\n",
                                                encoding="utf-8")
    if options.manifest is not None:
        write_text_atomic(options.manifest, manifest_text(manifest))
    log.info("wrote %s (%s)", options.out, digest)
    return digest
