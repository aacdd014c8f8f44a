"""The Arrow tables of the dataset's three configs: their `datasets.Features` (labels from the codebook) and
rows -> table, the mentions table tokenised and tagged with numpy for all articles of a split at once."""

from __future__ import annotations

from typing import Any

from corpus.codebook import Codebook
from corpus.convert import ARTICLE_COLUMNS, STATEMENT_COLUMNS, MentionBlock, Scheme
from corpus.errors import InputError


def statement_features(codebook: Codebook) -> Any:
    """`datasets.Features` of the statements config; stance is a ClassLabel from the codebook."""
    from datasets import ClassLabel, Features, List, Value

    s, i32, i64 = Value("string"), Value("int32"), Value("int64")
    kinds: dict[str, Any] = {c: s for c in STATEMENT_COLUMNS}
    kinds.update({c: i32 for c in STATEMENT_COLUMNS if c.endswith(("_start", "_end"))})
    kinds.update(task_id=i64, stance=ClassLabel(names=codebook.stance_names), qualifiers=List(s))
    return Features({c: kinds[c] for c in STATEMENT_COLUMNS})


def candidate_features(codebook: Codebook) -> Any:
    """`datasets.Features` of the candidates config: the statements' columns, stance a ClassLabel over the
    codebook's detection names (the stances, then `no_stance`), and how the pair was formed."""
    from datasets import ClassLabel, Features, Value

    features = statement_features(codebook)
    return Features({**features, "stance": ClassLabel(names=codebook.detection_names),
                     "candidate_source": Value("string")})


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


_BATCH_CHARS = 1 << 18  # articles are tokenised in batches of about this many characters


def mention_table(blocks: list[MentionBlock], features: Any, tag_names: list[str]) -> Any:
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
