"""`corpus build`: read sources -> convert (pure, `corpus.convert`) -> split -> write the dataset atomically.

Sources are read by `corpus.sources`, the Arrow tables made by `corpus.tables`, the content digest computed by
`corpus.digest`. Output layout and columns are documented in `corpus.card`.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.batches import RowBatches, iter_rows, relabel, value_counts
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
from corpus.spill import Spill, id_order
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
from corpus.tables import article_features, candidate_features, mention_features, statement_features

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
    with atomic_path(options.out) as staged:
        spill_dir = staged.parent / "spill"  # beside the staged folder: removed with it, never part of the dataset
        spill_dir.mkdir()
        result = _convert_and_write(options, progress, codebook, scheme, features, configs, sources, items,
                                    agreement, clock, staged, spill_dir)
    if options.manifest is not None:
        write_text_atomic(options.manifest, manifest_text(result[1]))
    log.info("wrote %s (%s)", options.out, result[0].digest)
    return result[0]


class _Rejections:
    """Rejection lines written to a file as they come (a superseded annotation is kept whole in its line), with
    the counts the card and the summary need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("w", encoding="utf-8")
        self.lines = 0
        self.reasons: Counter = Counter()  # reason -> lines
        self.relations: Counter = Counter()  # reason -> relations
        self.first: dict[str, Any] | None = None

    def add(self, lines: list[dict[str, Any]]) -> None:
        for line in lines:
            self._file.write(json.dumps({k: v for k, v in line.items() if not k.startswith("_")},
                                        ensure_ascii=False) + "\n")
            self.lines += 1
            self.reasons[line["reason"]] += 1
            self.relations[line["reason"]] += line["relations"]
            if self.first is None:
                self.first = line

    def close(self) -> None:
        self._file.close()

    def summary(self) -> str:
        """The one-line summary of a build in which every task was rejected."""
        first = self.first or {}
        return (f"nothing converted: {self.lines} rejections, {sum(self.relations.values())} relations in them ("
                + ", ".join(f"{k} {v}" for k, v in self.reasons.most_common())
                + f"); first, task {first.get('task_id')}: {first.get('detail', '')}; nothing written")


_ARTICLE_KEYS = ("id", "group", "source_split", "_source", "rights", "source", "language")  # what is kept in memory


def _convert_and_write(options: BuildOptions, progress: Callable[[Iterable[Any]], Iterable[Any]] | None,
                       codebook: Any, scheme: Scheme, features: dict[str, Any], configs: list[str],
                       sources: list[Source], items: Any, agreement: dict[str, Any] | None, clock: _Clock,
                       staged: Path, spill_dir: Path) -> tuple[BuildResult, Manifest]:
    """Convert every item into spilled rows (`corpus.spill`), assign the splits from the small key columns held
    in memory, then write each config's split in turn: peak memory is about one split of one config."""
    import pyarrow as pa

    from corpus.tables import mention_table

    st_schema = features["statements"].arrow_schema
    st_schema = st_schema.set(st_schema.get_field_index("stance"), pa.field("stance", pa.string()))  # names yet
    spills = {"statements": Spill(spill_dir / "statements.arrow", st_schema),
              "mentions": Spill(spill_dir / "mentions.arrow", features["mentions"].arrow_schema),
              "articles": Spill(spill_dir / "articles.arrow", features["articles"].arrow_schema)}
    strings = pa.string()
    keys = {"statements": RowBatches(pa.schema([(n, strings) for n in ("article_id", "stance", "policy_label")]))}
    if "candidates" in configs:
        spills["candidates"] = Spill(spill_dir / "candidates.arrow", features["candidates"].arrow_schema)
        keys["candidates"] = RowBatches(pa.schema([("article_id", strings), ("policy_label", strings),
                                                   ("candidate_source", strings)]))
    blocks: list[MentionBlock] = []  # mentions are tokenised in batches of articles (numpy), then spilled
    block_chars = 0

    def spill_mentions() -> None:
        nonlocal blocks, block_chars
        if blocks:
            blocks.sort(key=lambda b: id_order(b.article_id))  # the order mention_table gives its rows
            table = mention_table(blocks, features["mentions"], scheme.tag_names)
            spills["mentions"].add_table(table, [(b.article_id, len(b.sentences)) for b in blocks])
        blocks, block_chars = [], 0

    articles: list[dict[str, Any]] = []  # without their text (that is spilled)
    rejections = _Rejections(spill_dir / "rejections.jsonl")
    relations_in = 0
    converted = 0
    for conv, cands in convert_items(items, scheme, options.context_window, progress,
                                     _candidate_maker(codebook, scheme, options) if "candidates" in configs else None):
        converted += 1
        if "candidates" in spills and cands:
            spills["candidates"].add_rows(cands[0]["article_id"], cands)
            keys["candidates"].extend(cands)
        if conv.statements:
            spills["statements"].add_rows(conv.statements[0]["article_id"], conv.statements)
            keys["statements"].extend(conv.statements)
        if conv.mentions is not None:
            blocks.append(conv.mentions)
            block_chars += len(conv.mentions.text) + 1
            if block_chars > _MENTION_BATCH_CHARS:
                spill_mentions()
        if conv.article:
            spills["articles"].add_rows(conv.article["id"], [conv.article])
            articles.append({k: conv.article.get(k) for k in _ARTICLE_KEYS})
        rejections.add(conv.rejections)
        relations_in += conv.relations_in
    spill_mentions()
    rejections.close()
    for spill in spills.values():
        spill.close()
    clock.lap("convert")
    statements = keys["statements"].table()
    candidates = keys["candidates"].table() if "candidates" in keys else None
    rejected = sum(rejections.relations.values())
    if relations_in != statements.num_rows + rejected:  # the lossless promise, checked on the whole build
        raise RuntimeError(f"{relations_in} relations read but {statements.num_rows} converted + {rejected} rejected")
    if converted and not articles:  # every task rejected: an empty dataset would pass for a build
        raise InputError(", ".join(str(s.path) for s in sources), rejections.summary())

    st_rows = iter_rows(statements, ["article_id", "stance", "policy_label"])
    if options.split_by == "target":
        cand_rows = iter_rows(candidates, ["article_id", "policy_label", "candidate_source"]) if candidates else []
        manifest = _target_split(articles, st_rows, cand_rows, options)
    else:
        manifest = _split(articles, st_rows, options)
    del st_rows  # an unfinished row generator would keep its table alive
    for row in articles:
        row["split"] = manifest.split_of(row["id"])
    in_split = {s: [a["id"] for a in articles if a["split"] == s] for s in SPLITS}
    order = {s: sorted(ids, key=id_order) for s, ids in in_split.items()}  # rows in id order (`corpus.spill`)
    # the sizes and counts of every split, from the key columns: the card is written after the tables
    if options.split_by == "target":
        key, split_of = "policy_label", manifest.split_of_target
    else:
        key, split_of = "article_id", manifest.split_of
    st_codes = split_codes(statements, key, split_of)
    sizes: dict[str, dict[str, int]] = {
        "statements": {s: int(k) for s, k in zip(SPLITS, count_codes(st_codes), strict=True)},
        "mentions": {s: sum(spills["mentions"].rows_of(a) for a in in_split[s]) for s in SPLITS},
        "articles": {s: len(in_split[s]) for s in SPLITS}}
    stance_counts = {s: Counter(value_counts(statements.filter(_is_split(st_codes, s)), "stance")) for s in SPLITS}
    candidate_counts = None
    if candidates is not None:
        cand_codes = split_codes(candidates, key, split_of)
        sizes["candidates"] = {s: int(k) for s, k in zip(SPLITS, count_codes(cand_codes), strict=True)}
        candidate_counts = {s: Counter(dict(sorted(
            value_counts(candidates.filter(_is_split(cand_codes, s)), "candidate_source").items(),
            key=lambda kv: CANDIDATE_SOURCES.index(kv[0])))) for s in SPLITS}
    sizes = {c: sizes[c] for c in configs}  # the configs in their usual order
    del statements, candidates, st_codes
    clock.lap("split")

    by_id = sorted(codebook.label2id, key=codebook.label2id.__getitem__)
    every_article = sorted((a["id"] for a in articles), key=id_order)  # a target split filters each one's rows

    def table(config: str, split: str) -> Any:
        """One config's split, read from its spill in id order."""
        if config == "articles":
            t = spills["articles"].read(sorted(in_split[split]), sort=False)  # the article table is sorted by id
            return t.set_column(t.schema.get_field_index("split"), "split", pa.array([split] * t.num_rows,
                                                                                     pa.string()))
        if config in ("statements", "candidates") and options.split_by == "target":
            keep = _target_keep(manifest.split_of_target, split)
            t = spills[config].read(every_article, keep)
        else:
            t = spills[config].read(order[split])
        if config == "statements":
            t = relabel(t, "stance", by_id, features["statements"].arrow_schema)
        return t

    if options.split_by == "target":
        groups_per_split = Counter(v for g, v in manifest.groups.items() if g.startswith(TARGET_PREFIX))
    else:
        groups_per_split = Counter(manifest.groups[g] for g in {r["group"] for r in articles})
    empty = [s for s in SPLITS if sizes["statements"][s] == 0]
    notes = _notes(empty, groups_per_split, sizes)
    card = CardData(
        **card_names(codebook.name, [s.path for s in sources]), codebook_name=codebook.name,
        codebook_version=codebook.version, outlets=licence_outlets(articles),
        features={c: features[c]._to_yaml_list() for c in configs}, sizes=sizes, stance_counts=stance_counts,
        digest="", seed=manifest.seed, ratios=manifest.ratios, context_window=options.context_window,
        split_by=options.split_by,
        groups=dict(groups_per_split), split_notes=notes, relations_in=relations_in, rejections=rejections.reasons,
        rejected_relations=rejections.relations,
        sources=[{"kind": s.kind, "path": str(s.path), "sha256": s.sha256, "files": len(s.files),
                  "tasks": s.tasks, "articles": _count_articles(articles, s)} for s in sources],
        licences=_licences(articles, sources), languages=sorted({a["language"] for a in articles if a["language"]}),
        tag_names=Scheme.from_codebook(codebook).tag_names,
        article_label_columns=[al.id for al in codebook.article_labels],
        agreement=agreement, agreement_file=str(options.agreement) if options.agreement else None,
        candidate_counts=candidate_counts)
    digest = _write(staged, configs, table, sizes, features, manifest, rejections.path, sources, card, agreement,
                    clock, check_targets=options.split_by == "target")
    result = BuildResult(out=options.out, digest=digest, sizes=sizes, stance_counts=stance_counts,
                         relations_in=relations_in, rejections=rejections.reasons, rejected_relations=rejected,
                         rejected_by_reason=rejections.relations,
                         empty_splits=empty, notes=notes, timings=clock.laps)
    return result, manifest


PARQUET_ROW_GROUP = 65_536
_MENTION_BATCH_CHARS = 1 << 20  # articles tokenised at once by `corpus.tables.mention_table`


def split_codes(table: Any, key: str, split_of: Callable[[Any], str]) -> Any:
    """The split of each row (its index in SPLITS) from the column `key`, `split_of` called once per value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return pa.array([], pa.int8())
    encoded = pc.dictionary_encode(table.column(key)).combine_chunks()
    codes = pa.array([SPLITS.index(split_of(v)) for v in encoded.dictionary.to_pylist()], pa.int8())
    return codes.take(encoded.indices)


def count_codes(codes: Any) -> list[int]:
    counts = {d["values"]: d["counts"] for d in (codes.value_counts().to_pylist() if len(codes) else [])}
    return [counts.get(k, 0) for k in range(len(SPLITS))]


def _is_split(codes: Any, split: str) -> Any:
    import pyarrow.compute as pc

    return pc.equal(codes, SPLITS.index(split))


def _target_keep(split_of_target: Callable[[str], str], split: str) -> Callable[[Any], Any]:
    """A row filter for a target split: the rows whose target is in `split`."""
    import pyarrow as pa

    def keep(batch: Any) -> Any:
        return pa.array([split_of_target(t) == split for t in batch.column("policy_label").to_pylist()], pa.bool_())

    return keep


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


def _write(staged: Path, configs: list[str], table: Callable[[str, str], Any], sizes: dict[str, dict[str, int]],
           features: dict[str, Any], manifest: Manifest, rejections: Path, sources: list[Source], card: CardData,
           agreement: dict[str, Any] | None, clock: _Clock, check_targets: bool = False) -> str:
    """Write the dataset folder into `staged` (renamed into place by the caller); returns the content digest.

    One config's split at a time (`table` reads it from its spill), so that only that split is in memory; its
    hash + save_to_disk and its Parquet file run on two threads (pyarrow, numpy and hashlib release the GIL).
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.parquet as pq
    from datasets import Dataset, DatasetInfo, NamedSplit

    def parquet(t: Any, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if t.num_rows:  # row groups of a bounded size: the writer holds one row group's pages at a time
            pq.write_table(t, target, row_group_size=PARQUET_ROW_GROUP)
        else:  # no row group at all: a 0-row group makes load_dataset("parquet") fail
            pq.ParquetWriter(target, t.schema).close()

    def arrow(config: str, split: str, t: Any, target: Path) -> str:
        """Hash one split, then save it with that hash as its fingerprint (the cache key `datasets` uses)."""
        digest = table_digest(config, split, t, features[config])
        info = DatasetInfo(description=f"newsstance {config}", features=features[config], config_name=config)
        ds = Dataset(t, info=info, split=NamedSplit(split), fingerprint=digest[:16])
        # an empty split still gets one (empty) shard: with none, load_from_disk fails on it
        ds.save_to_disk(str(target), num_shards=None if t.num_rows else 1)
        return digest

    staged.mkdir(parents=True)
    hashed: dict[tuple[str, str], str] = {}
    targets_seen: dict[str, str] = {}  # a target split: each target's split, checked on the rows written
    with _quiet_datasets(), ThreadPoolExecutor(2) as pool:
        for config in configs:
            for split in SPLITS:
                t = table(config, split)
                if t.num_rows != sizes[config][split]:  # the counts in the card are the rows written
                    raise RuntimeError(f"{config} {split}: {t.num_rows} rows read back, {sizes[config][split]} "
                                       "counted")
                if check_targets and config in ("statements", "candidates"):
                    check_targets_disjoint({split: iter_rows(t, ["id", "policy_label"])}, seen=targets_seen)
                written = pool.submit(parquet, t, staged / "parquet" / config / f"{split}.parquet")
                hashed[config, split] = pool.submit(arrow, config, split, t, staged / config / split).result()
                written.result()
                del t
            # what DatasetDict.save_to_disk writes beside its splits
            (staged / config / "dataset_dict.json").write_text(json.dumps({"splits": list(SPLITS)}),
                                                               encoding="utf-8")
    digest = combine_digests(hashed)
    clock.lap("write")
    card.digest = digest
    (staged / "README.md").write_text(render_card(card), encoding="utf-8")
    os.replace(rejections, staged / "rejections.jsonl")
    (staged / MANIFEST_FILE).write_text(manifest_text(manifest), encoding="utf-8")
    (staged / DIGEST_FILE).write_text(digest_text(digest, sizes, card.codebook_version), encoding="utf-8")
    (staged / "sources.json").write_text(json.dumps(
        [{"kind": s.kind, "path": str(s.path), "sha256": s.sha256,
          "files": [{"path": p, "sha256": h} for p, h in s.files]} for s in sources],
        indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if agreement is not None:
        (staged / "agreement.json").write_text(json.dumps(agreement, indent=1, ensure_ascii=False) + "\n",
                                               encoding="utf-8")
    return digest
