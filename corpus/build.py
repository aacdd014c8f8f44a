"""`corpus build`: read sources -> convert (pure, `corpus.convert`) -> split -> write the dataset atomically.

Sources: a corpus folder (`articles/` + `annotations/`, the bundled corpus by default or an importer's
OUT), or a Label Studio JSON export (a list of tasks; article text from `data.text`, article id from
`data.article_id`, else `task-<id>`). Output layout and columns are documented in `corpus.card`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import json
import logging
import operator
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corpus.card import CardData, render_card
from corpus.codebook import Codebook, load_codebook
from corpus.convert import (
    ARTICLE_COLUMNS,
    BAD_TEXT,
    DUPLICATE_ARTICLE,
    MALFORMED,
    STATEMENT_COLUMNS,
    Conversion,
    Document,
    MentionBlock,
    Scheme,
    article_row,
    convert_task,
    reject_task,
)
from corpus.errors import InputError, atomic_path, write_text_atomic
from corpus.splits import (
    DEFAULT_RATIOS,
    SPLITS,
    Group,
    Manifest,
    assign_splits,
    check_no_straddle,
    load_manifest,
    manifest_text,
)
from corpus.store import decode_text, parse_json, read_bytes

log = logging.getLogger(__name__)

CONFIGS = ("statements", "mentions", "articles")
DIGEST_FILE = "digest.json"
MANIFEST_FILE = "splits.json"
_SPLIT_ALIASES = {"valid": "validation", "val": "validation", "dev": "validation", "development": "validation"}


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

    def __post_init__(self) -> None:
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


@dataclass
class _Source:
    kind: str  # "corpus" or "export"
    path: Path
    sha256: str = ""
    files: list[tuple[str, str]] = field(default_factory=list)
    tasks: int = 0
    articles: int = 0


@dataclass
class _Item:
    """One task to convert (or a stored article with no task), and where it came from."""

    doc: Document
    task: dict[str, Any] | None
    source: _Source
    reason: tuple[str, str] | None = None  # reject the whole task: (reason, detail)


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _decode_json(path: Path) -> tuple[Any, str]:
    """(decoded JSON, sha256 of the bytes); InputError naming the file otherwise."""
    raw = read_bytes(path)
    return parse_json(decode_text(raw, path), path), _sha256(raw)


def _split_value(value: Any, where: str) -> str | None:
    if value in (None, ""):
        return None
    split = _SPLIT_ALIASES.get(str(value).lower(), str(value).lower())
    if split not in SPLITS:
        raise InputError(where, f"split {value!r} is not one of {', '.join(SPLITS)}")
    return split


# `python -m annotation pull` records every export it writes, with its sha256, in this file beside it.
PULL_MANIFEST = "manifest.jsonl"


def check_pulled_export(path: Path) -> None:
    """An export listed in the pull manifest beside it must still have the sha256 recorded at pull time
    (exports are immutable); InputError naming the file otherwise. Unlisted files are not checked."""
    manifest = path.parent / PULL_MANIFEST
    if not manifest.is_file():
        return
    recorded = None
    for n, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{manifest}:{n}", f"not a JSON line ({e.msg})") from None
        if isinstance(entry, dict) and entry.get("file") == path.name and entry.get("sha256"):
            recorded = str(entry["sha256"])
    if recorded is None:
        return
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as e:
        raise InputError(path, f"cannot read ({e.strerror})") from None
    if actual != recorded:
        raise InputError(path, f"the export changed since it was pulled (sha256 {actual[:12]}, {manifest.name} "
                               f"says {recorded[:12]}); exports are immutable")


def read_export(path: Path) -> tuple[_Source, list[_Item]]:
    """A Label Studio JSON export (list of tasks) as items; the text comes from each task's data. A pulled
    export is checked against the sha256 its pull recorded."""
    check_pulled_export(path)
    raw, digest = _decode_json(path)
    if isinstance(raw, dict) and isinstance(raw.get("data"), dict):
        raw = [raw]  # one task file
    if not isinstance(raw, list):
        raise InputError(path, f"not a Label Studio JSON export: expected a list of tasks, got a JSON "
                               f"{type(raw).__name__}")
    if not raw:
        raise InputError(path, "the export holds no tasks")
    src = _Source("export", path, digest, [(path.name, digest)], tasks=len(raw))
    items = []
    for n, task in enumerate(raw):
        where = f"{path} task #{n}"
        if not isinstance(task, dict):
            items.append(_Item(Document(f"task-#{n}", ""), {}, src, (MALFORMED, "task is not a JSON object")))
            continue
        data = task.get("data")
        data = data if isinstance(data, dict) else {}
        tid = task.get("id", f"#{n}")
        article_id = data.get("article_id") or f"task-{tid}"
        meta = {k: data.get(k) for k in ("title", "source", "url", "published", "language", "rights", "checksum",
                                         "group", "origin", "sentence_spans")}
        meta["split"] = _split_value(data.get("split"), f"{where} (id {tid})")
        text = data.get("text")
        if not isinstance(text, str) or not text:
            items.append(_Item(Document(str(article_id), "", meta), task, src,
                               (MALFORMED, "task data has no 'text' string to convert against")))
            continue
        items.append(_Item(Document(str(article_id), text, meta), task, src))
    return src, items


def read_corpus(root: Path) -> tuple[_Source, list[_Item]]:
    """A corpus folder (`articles/` + `annotations/`): every article, with its task where it has one."""
    from corpus.store import CorpusStore

    store = CorpusStore(root)
    if not store.articles_dir.is_dir() and not store.annotations_dir.is_dir():
        raise InputError(root, "not a corpus folder (no articles/ or annotations/) nor a JSON export")
    src = _Source("corpus", root)
    docs: dict[str, Document] = {}
    for article in store.articles():
        path = store.article_path(article.id)
        src.files.append((str(path.relative_to(root)), _sha256(path.read_bytes())))
        meta = {k: getattr(article, k) for k in ("title", "source", "url", "published", "language", "rights",
                                                 "checksum", "group", "split")}
        meta["origin"] = article.extra.get("origin")
        meta["sentence_spans"] = article.extra.get("sentence_spans")
        docs[article.id] = Document(article.id, article.text, meta)
    items: list[_Item] = []
    annotated: set[str] = set()
    for path in store.task_files():
        task = store.read_task(path)
        src.files.append((str(path.relative_to(root)), _sha256(path.read_bytes())))
        data = task["data"]
        article_id = str(data.get("article_id") or path.stem)
        doc = docs.get(article_id)
        if doc is None:
            items.append(_Item(Document(article_id, data.get("text") or ""), task, src,
                               (BAD_TEXT, f"{path.name}: article {article_id!r} is not in {store.articles_dir}")))
        elif data.get("text") is not None and data["text"] != doc.text:
            items.append(_Item(doc, task, src, (BAD_TEXT, f"{path.name}: data.text differs from the stored "
                                                          f"article's text; offsets would be wrong")))
        else:
            items.append(_Item(doc, task, src))
        annotated.add(article_id)
    items += [_Item(doc, None, src) for aid, doc in docs.items() if aid not in annotated]
    src.tasks = sum(1 for i in items if i.task is not None)
    listing = "".join(f"{name}\t{sha}\n" for name, sha in sorted(src.files))
    src.sha256 = _sha256(listing.encode())
    return src, items


def read_sources(paths: Iterable[Path]) -> tuple[list[_Source], list[_Item]]:
    """Read every source (the bundled corpus when none is given); InputError on the first unreadable one."""
    from corpus.store import BUNDLED_ROOT

    sources, items = [], []
    for path in list(paths) or [BUNDLED_ROOT]:
        path = Path(path)
        if path.is_dir():
            src, its = read_corpus(path)
        elif path.is_file():
            src, its = read_export(path)
        else:
            raise InputError(path, "no such file or folder")
        sources.append(src)
        items += its
    return sources, items


def convert_items(items: list[_Item], scheme: Scheme, context_window: int,
                  progress: Callable[[Iterable[_Item]], Iterable[_Item]] | None = None) -> Iterator[Conversion]:
    """Convert every item; a second task for an article already converted is rejected as a duplicate."""
    seen: dict[str, str] = {}
    for item in progress(items) if progress else items:
        src = str(item.source.path)
        fallback = "labelstudio" if item.source.kind == "export" else "corpus"
        if item.task is None:
            if item.doc.article_id not in seen:
                seen[item.doc.article_id] = src
                row = article_row(item.doc, None, item.doc.meta.get("origin") or fallback, scheme)
                yield Conversion(article={**row, "_source": src})
            continue
        if item.reason is None and item.doc.article_id in seen:
            item.reason = (DUPLICATE_ARTICLE, f"article {item.doc.article_id!r} already converted from "
                                              f"{seen[item.doc.article_id]}")
        if item.reason is not None:
            yield reject_task(item.task, item.doc, *item.reason, source=src)
            continue
        seen[item.doc.article_id] = src
        conv = convert_task(item.task, item.doc, scheme, context_window=context_window, source=src,
                            origin=fallback)
        conv.article["_source"] = src
        yield conv


def statement_features(codebook: Codebook) -> Any:
    """`datasets.Features` of the statements config; stance is a ClassLabel from the codebook."""
    from datasets import ClassLabel, Features, List, Value

    s, i32, i64 = Value("string"), Value("int32"), Value("int64")
    kinds: dict[str, Any] = {c: s for c in STATEMENT_COLUMNS}
    kinds.update({c: i32 for c in STATEMENT_COLUMNS if c.endswith(("_start", "_end"))})
    kinds.update(task_id=i64, stance=ClassLabel(names=codebook.stance_names), qualifiers=List(s))
    return Features({c: kinds[c] for c in STATEMENT_COLUMNS})


def mention_features(codebook: Codebook) -> Any:
    """`datasets.Features` of the mentions config: tokens with offsets, BIO tags as a ClassLabel sequence."""
    from datasets import ClassLabel, Features, List, Value

    s, i32 = Value("string"), Value("int32")
    return Features({"id": s, "article_id": s, "sentence": i32, "start": i32, "end": i32, "text": s,
                     "tokens": List(s), "token_starts": List(i32), "token_ends": List(i32),
                     "tags": List(ClassLabel(names=Scheme.from_codebook(codebook).tag_names))})


def article_features(codebook: Codebook) -> Any:
    """`datasets.Features` of the articles config: metadata plus one string column per article label."""
    from datasets import Features, Value

    s = Value("string")
    clash = [al.id for al in codebook.article_labels if al.id in ARTICLE_COLUMNS]
    if clash:
        raise InputError("codebook", f"article label id {clash[0]!r} clashes with an articles column")
    kinds = {c: s for c in ARTICLE_COLUMNS}
    kinds.update(task_id=Value("int64"), statements=Value("int32"))
    return Features({**kinds, **{al.id: s for al in codebook.article_labels}})


def _table(rows: list[dict[str, Any]], features: Any) -> Any:
    """One Arrow table from row dicts, built column by column in one go (no per-row appends)."""
    import pyarrow as pa

    names = list(features)
    rows = sorted(rows, key=operator.itemgetter("id"))
    # one pass over the rows (each row's values at once), then a transpose: far fewer cache misses on a
    # large build than one pass per column
    values = list(zip(*map(operator.itemgetter(*names), rows), strict=True)) if rows else [()] * len(names)
    return pa.Table.from_arrays([pa.array(v, type=f.type) for v, f in zip(values, features.arrow_schema,
                                                                          strict=True)],
                                schema=features.arrow_schema)


_BATCH_CHARS = 1 << 18  # articles are tokenised in batches of about this many characters


def _mention_table(blocks: list[MentionBlock], features: Any, tag_names: list[str]) -> Any:
    """The mentions table of one split, vectorised: tokens, offsets and tags from numpy arrays, no Python object
    per token. Same rows as `MentionBlock.rows` (a test holds them equal)."""
    import numpy as np
    import pyarrow as pa

    blocks = sorted(blocks, key=lambda b: b.article_id + "/")  # the order of the row ids
    ids: list[str] = []
    article_ids: list[str] = []
    numbers: list[int] = []
    texts: list[str] = []
    parts: dict[str, list[Any]] = {k: [] for k in ("start", "end", "count", "rel_start", "rel_end", "nbytes", "tag")}
    data: list[bytes] = []
    batch: list[MentionBlock] = []
    size = 0
    for b in [*blocks, None]:
        if b is None or (batch and size + len(b.text) > _BATCH_CHARS):
            _tokenise_batch(batch, tag_names, parts, data)
            batch, size = [], 0
        if b is not None:
            batch.append(b)
            size += len(b.text) + 1
            n = len(b.sentences)
            ids += [f"{b.article_id}/{k:05d}" for k in range(n)]
            article_ids += [b.article_id] * n
            numbers += range(n)
            texts += [b.text[s:e] for s, e in b.sentences]

    def cat(key: str, dtype: Any) -> Any:
        return np.concatenate(parts[key]).astype(dtype) if parts[key] else np.zeros(0, dtype)

    offsets = pa.array(np.concatenate(([0], np.cumsum(cat("count", np.int64)))).astype(np.int32))
    byte_offsets = np.concatenate(([0], np.cumsum(cat("nbytes", np.int64)))).astype(np.int32)
    token_array = pa.StringArray.from_buffers(len(byte_offsets) - 1, pa.py_buffer(byte_offsets),
                                              pa.py_buffer(b"".join(data)))
    columns = {
        "id": pa.array(ids, pa.string()), "article_id": pa.array(article_ids, pa.string()),
        "sentence": pa.array(numbers, pa.int32()), "start": pa.array(cat("start", np.int32)),
        "end": pa.array(cat("end", np.int32)), "text": pa.array(texts, pa.string()),
        "tokens": pa.ListArray.from_arrays(offsets, token_array),
        "token_starts": pa.ListArray.from_arrays(offsets, pa.array(cat("rel_start", np.int32))),
        "token_ends": pa.ListArray.from_arrays(offsets, pa.array(cat("rel_end", np.int32))),
        "tags": pa.ListArray.from_arrays(offsets, pa.array(cat("tag", np.int64))),
    }
    schema = features.arrow_schema
    return pa.Table.from_arrays([columns[f.name].cast(f.type) for f in schema], schema=schema)


def _tokenise_batch(batch: list[MentionBlock], tag_names: list[str], parts: dict[str, list[Any]],
                    data: list[bytes]) -> None:
    """Tokenise and tag a batch of articles at once (joined by line breaks, which no token crosses)."""
    import numpy as np

    from corpus.sentences import token_bounds

    if not batch:
        return
    text = "\n".join(b.text for b in batch)
    base = np.cumsum([0] + [len(b.text) + 1 for b in batch[:-1]], dtype=np.int64)
    sentences = np.array([(s + o, e + o) for b, o in zip(batch, base.tolist(), strict=True) for s, e in b.sentences],
                         np.int64).reshape(-1, 2)
    starts, ends, nbytes, chars = token_bounds(text)
    tag = np.zeros(starts.size, np.int64)
    spans = [(s + o, e + o, label) for b, o in zip(batch, base.tolist(), strict=True) for s, e, label in b.spans]
    if spans:
        tag_id = {name: i for i, name in enumerate(tag_names)}
        span_ends = np.array([(s, e) for s, e, _ in spans], np.int64)
        first = np.searchsorted(ends, span_ends[:, 0], side="right")  # first token ending after the span starts
        last = np.searchsorted(starts, span_ends[:, 1], side="left")  # tokens starting before it ends
        inside = np.array([tag_id["I-" + label] for *_, label in spans], np.int64)
        begin = np.array([tag_id["B-" + label] for *_, label in spans], np.int64)
        has = last > first
        # spans do not overlap: mark each [first, last) with its I- tag by a running sum, then set its B- tag
        delta = np.zeros(starts.size + 1, np.int64)
        np.add.at(delta, first[has], inside[has])
        np.add.at(delta, last[has], -inside[has])
        tag = np.cumsum(delta[:-1])
        tag[first[has]] = begin[has]
    lo = np.searchsorted(starts, sentences[:, 0], side="left")
    hi = np.searchsorted(starts, sentences[:, 1], side="left")
    if len(lo) and lo[0] == 0 and hi[-1] == starts.size and np.array_equal(lo[1:], hi[:-1]):
        keep: Any = slice(None)  # every token in a sentence (the usual case)
    else:  # some tokens outside every sentence: keep only those inside one
        keep = np.concatenate([np.arange(i, j) for i, j in zip(lo.tolist(), hi.tolist(), strict=True)]
                              or [np.zeros(0, np.int64)])
        cum = np.concatenate(([0], np.cumsum(nbytes)))
        chars = b"".join(chars[cum[i]:cum[i + 1]] for i in keep.tolist())
    sentence_of = np.repeat(sentences[:, 0], hi - lo)
    doc_of = np.repeat(base, [len(b.sentences) for b in batch])
    parts["start"].append(sentences[:, 0] - doc_of)
    parts["end"].append(sentences[:, 1] - doc_of)
    parts["count"].append(hi - lo)
    parts["rel_start"].append(starts[keep] - sentence_of)
    parts["rel_end"].append(ends[keep] - sentence_of)
    parts["nbytes"].append(nbytes[keep])
    parts["tag"].append(tag[keep])
    data.append(chars)


def _feed(h: Any, array: Any) -> None:
    """Feed a canonical binary form of an Arrow array into `h`: null flags, then values, little-endian.

    Independent of chunking, slicing and the Arrow version, so a dataset re-read from Parquet hashes the same.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks() if array.num_chunks else pa.array([], array.type)
    t = array.type
    h.update(np.packbits(array.is_null().to_numpy(zero_copy_only=False)).tobytes())
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        h.update(pc.fill_null(array, 0).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
    elif pa.types.is_floating(t):
        h.update(pc.fill_null(array, 0.0).to_numpy(zero_copy_only=False).astype("<f8").tobytes())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        filled = pc.fill_null(array, "")
        h.update(pc.binary_length(filled).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
        joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(filled)], pa.int32()), filled), "")
        h.update(joined[0].as_buffer().to_pybytes() if len(filled) else b"")
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        h.update(pc.fill_null(array.value_lengths(), 0).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
        _feed(h, array.flatten())
    else:  # not produced by this build; still hashed, just slower
        h.update(json.dumps(array.to_pylist(), ensure_ascii=False, default=str).encode())


def table_digest(config: str, split: str, table: Any, features: Any) -> str:
    """sha256 (hex) of one config's split: its name, row count, features, then each column in order."""
    h = hashlib.sha256()
    feats = json.dumps(features.to_dict(), sort_keys=True, ensure_ascii=False)
    h.update(f"{config}\t{split}\t{table.num_rows}\n{feats}\n".encode())
    for name in table.column_names:
        h.update(f"{name}\n".encode())
        _feed(h, table.column(name))
    return h.hexdigest()


def combine_digests(parts: dict[tuple[str, str], str]) -> str:
    """The dataset digest from its splits' digests: sha256 over them, configs by name, splits in order."""
    lines = "".join(f"{c}\t{s}\t{parts[c, s]}\n" for c in sorted({c for c, _ in parts}) for s in SPLITS)
    return "sha256:" + hashlib.sha256(lines.encode()).hexdigest()


def content_digest(tables: dict[str, dict[str, Any]], features: dict[str, Any]) -> str:
    """The content digest over every row of every config (see `table_digest` and `combine_digests`)."""
    return combine_digests({(c, s): table_digest(c, s, tables[c][s], features[c]) for c in tables for s in SPLITS})


def dataset_digest(path: str | Path, verify: bool = False) -> str:
    """The content digest of a built dataset (from digest.json); `verify` recomputes it from the Parquet files."""
    path = Path(path)
    from corpus.store import read_json

    stored = read_json(path / DIGEST_FILE)
    if not isinstance(stored, dict) or not str(stored.get("digest", "")).startswith("sha256:"):
        raise InputError(path / DIGEST_FILE, "no 'digest' in the file")
    if verify:
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
        from datasets import Features

        tables: dict[str, dict[str, Any]] = {}
        features = {}
        for config in stored.get("configs", {}):
            tables[config] = {}
            for split in SPLITS:
                t = pq.read_table(path / "parquet" / config / f"{split}.parquet")
                tables[config][split] = t.take(pc.sort_indices(t, [("id", "ascending")]))
            features[config] = Features.from_arrow_schema(tables[config]["train"].schema)
        actual = content_digest(tables, features)
        if actual != stored["digest"]:
            raise InputError(path, f"content digest {actual} differs from the recorded {stored['digest']}")
    return str(stored["digest"])


def _previous_manifest(options: BuildOptions) -> Manifest | None:
    if options.manifest is not None:
        return load_manifest(options.manifest)
    return load_manifest(options.out / MANIFEST_FILE)


def _check_out(out: Path, sources: list[_Source]) -> None:
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
    sources, items = read_sources(options.sources)
    clock.lap("read")
    _check_out(options.out, sources)
    agreement = None
    if options.agreement is not None:
        agreement, _ = _decode_json(options.agreement)
        if not isinstance(agreement, dict):
            raise InputError(options.agreement, "agreement figures must be a JSON object")

    statements: list[dict[str, Any]] = []
    mentions: list[MentionBlock] = []
    articles: list[dict[str, Any]] = []
    rejections: list[dict[str, Any]] = []
    relations_in = 0
    for conv in convert_items(items, scheme, options.context_window, progress):
        statements += conv.statements
        if conv.mentions is not None:
            mentions.append(conv.mentions)
        if conv.article:
            articles.append(conv.article)
        rejections += conv.rejections
        relations_in += conv.relations_in
    clock.lap("convert")
    rejected = sum(r["relations"] for r in rejections)
    if relations_in != len(statements) + rejected:  # the lossless promise, checked on the whole build
        raise RuntimeError(f"{relations_in} relations read but {len(statements)} converted + {rejected} rejected")

    manifest = _split(articles, statements, options)
    by_split: dict[str, dict[str, list[dict[str, Any]]]] = {c: {s: [] for s in SPLITS} for c in CONFIGS}
    for row in articles:
        row["split"] = manifest.split_of(row["id"])
        by_split["articles"][row["split"]].append(row)
    for row in statements:
        by_split["statements"][manifest.split_of(row["article_id"])].append(row)
    blocks: dict[str, list[MentionBlock]] = {s: [] for s in SPLITS}
    for block in mentions:
        blocks[manifest.split_of(block.article_id)].append(block)
    label2id = codebook.label2id
    for row in statements:
        row["stance"] = label2id[row["stance"]]
    clock.lap("split")
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:  # numpy work on mentions overlaps the Python work on statements
        mention_tables = {s: pool.submit(_mention_table, blocks[s], features["mentions"], scheme.tag_names)
                          for s in SPLITS}
        tables = {c: {s: _table(by_split[c][s], features[c]) for s in SPLITS} for c in ("statements", "articles")}
        tables["mentions"] = {s: future.result() for s, future in mention_tables.items()}
    clock.lap("arrow")
    sizes = {c: {s: tables[c][s].num_rows for s in SPLITS} for c in CONFIGS}
    stance_counts = {s: Counter({codebook.stance_names[k]: n for k, n in
                                 Counter(map(operator.itemgetter("stance"), by_split["statements"][s])).items()})
                     for s in SPLITS}
    groups_per_split = Counter(manifest.groups[g] for g in {r["group"] for r in articles})
    empty = [s for s in SPLITS if sizes["statements"][s] == 0]
    notes = _notes(empty, groups_per_split, sizes)
    reasons = Counter(r["reason"] for r in rejections)
    rejected_by_reason: Counter = Counter()
    for r in rejections:
        rejected_by_reason[r["reason"]] += r["relations"]
    card = CardData(
        title=f"newsstance: {codebook.name}", codebook_name=codebook.name, codebook_version=codebook.version,
        features={c: features[c]._to_yaml_list() for c in CONFIGS}, sizes=sizes, stance_counts=stance_counts,
        digest="", seed=manifest.seed, ratios=manifest.ratios, context_window=options.context_window,
        groups=dict(groups_per_split), split_notes=notes, relations_in=relations_in, rejections=reasons,
        rejected_relations=rejected_by_reason,
        sources=[{"kind": s.kind, "path": str(s.path), "sha256": s.sha256, "files": len(s.files),
                  "tasks": s.tasks, "articles": _count_articles(articles, s)} for s in sources],
        licences=_licences(articles, sources), languages=sorted({a["language"] for a in articles if a["language"]}),
        tag_names=Scheme.from_codebook(codebook).tag_names,
        article_label_columns=[al.id for al in codebook.article_labels],
        agreement=agreement, agreement_file=str(options.agreement) if options.agreement else None)
    digest = _write(options, tables, features, manifest, rejections, sources, card, agreement, clock)
    return BuildResult(out=options.out, digest=digest, sizes=sizes, stance_counts=stance_counts,
                       relations_in=relations_in, rejections=reasons, rejected_relations=rejected,
                       rejected_by_reason=rejected_by_reason,
                       empty_splits=empty, notes=notes, timings=clock.laps)


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = self.laps.get(name, 0.0) + now - self._last
        self._last = now


def _count_articles(articles: list[dict[str, Any]], src: _Source) -> int:
    return sum(1 for a in articles if a.get("_source") == str(src.path))


def _licences(articles: list[dict[str, Any]], sources: list[_Source]) -> dict[str, Counter]:
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
           rejections: list[dict[str, Any]], sources: list[_Source], card: CardData,
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
                   for c in CONFIGS for s in SPLITS]
        hashed = {(c, s): pool.submit(arrow, c, s, tmp / c / s) for c in CONFIGS for s in SPLITS}
        for config in CONFIGS:  # what DatasetDict.save_to_disk writes beside its splits
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
        (tmp / DIGEST_FILE).write_text(json.dumps({
            "digest": digest, "method": "see README.md (newsstance.digest_method)",
            "configs": {c: {s: tables[c][s].num_rows for s in SPLITS} for c in CONFIGS},
            "codebook_version": card.codebook_version}, indent=1) + "\n", encoding="utf-8")
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
