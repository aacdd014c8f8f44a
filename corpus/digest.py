"""The content digest of a dataset: sha256 over every row of every config and split, in a canonical binary
form independent of Arrow chunking and version; and `digest.json`, where a build records it."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from corpus.errors import InputError
from corpus.splits import SPLITS
from corpus.store import read_json

DIGEST_FILE = "digest.json"


def _feed(h: Any, array: Any) -> None:
    """Feed a canonical binary form of an Arrow array into `h`: null flags, then values, little-endian.

    Independent of chunking, slicing and the Arrow version, so a dataset re-read from Parquet hashes the same.
    Fed a chunk at a time (the bytes are those of the whole column: null flags, then each part of every chunk
    in turn), so hashing a large split never copies a whole column.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = [c for c in array.chunks if len(c)] if isinstance(array, pa.ChunkedArray) else [array]
    t = array.type
    nulls = [c.is_null().to_numpy(zero_copy_only=False) for c in chunks]
    h.update(np.packbits(np.concatenate(nulls) if nulls else np.zeros(0, bool)).tobytes())
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        for c in chunks:
            h.update(pc.fill_null(c, 0).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
    elif pa.types.is_floating(t):
        for c in chunks:
            h.update(pc.fill_null(c, 0.0).to_numpy(zero_copy_only=False).astype("<f8").tobytes())
    elif pa.types.is_string(t) or pa.types.is_large_string(t):
        filled = [pc.fill_null(c, "") for c in chunks]
        for c in filled:
            h.update(pc.binary_length(c).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
        for c in filled:
            if len(c):
                joined = pc.binary_join(pa.ListArray.from_arrays(pa.array([0, len(c)], pa.int32()), c), "")
                h.update(joined[0].as_buffer().to_pybytes())
    elif pa.types.is_list(t) or pa.types.is_large_list(t):
        for c in chunks:
            h.update(pc.fill_null(c.value_lengths(), 0).to_numpy(zero_copy_only=False).astype("<i8").tobytes())
        _feed(h, pa.chunked_array([c.flatten() for c in chunks], t.value_type))
    else:  # not produced by this build; still hashed, just slower
        whole = pa.chunked_array(chunks, t).combine_chunks() if chunks else pa.array([], t)
        h.update(json.dumps(whole.to_pylist(), ensure_ascii=False, default=str).encode())


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


def digest_text(digest: str, sizes: dict[str, dict[str, int]], codebook_version: str) -> str:
    """The text of `digest.json`: the digest, the rows of each config's splits, the codebook version."""
    return json.dumps({"digest": digest, "method": "see README.md (newsstance.digest_method)", "configs": sizes,
                       "codebook_version": codebook_version}, indent=1) + "\n"


def dataset_digest(path: str | Path, verify: bool = False) -> str:
    """The content digest of a built dataset (from digest.json); `verify` recomputes it from the Parquet files."""
    path = Path(path)
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
