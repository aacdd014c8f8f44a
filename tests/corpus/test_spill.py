"""`corpus.spill`: rows spilled per article and read back a split at a time, in id order."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from corpus.spill import Spill, id_order

SCHEMA = pa.schema([("id", pa.string()), ("article_id", pa.string()), ("n", pa.int64())])


def _rows(article_id: str, keys: list[str]) -> list[dict]:
    return [{"id": f"{article_id}/{k}", "article_id": article_id, "n": i, "extra": "ignored"}
            for i, k in enumerate(keys)]


def test_a_split_comes_back_sorted_by_id_whatever_the_arrival_order(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "s.arrow", SCHEMA)
    # "a-b" sorts before "a" once "/" follows the id: the order id_order gives and a sort of row ids agree
    arrived = {"b": ["2", "10", "1"], "a": ["z", "y"], "a-b": ["x"], "c": []}
    for article_id, keys in arrived.items():
        spill.add_rows(article_id, _rows(article_id, keys))
    assert spill.num_rows == 6 and spill.rows_of("b") == 3 and spill.rows_of("c") == 0
    table = spill.read(sorted(["a", "a-b", "b"], key=id_order), sort=False)
    ids = table.column("id").to_pylist()
    assert ids == sorted(ids) == ["a-b/x", "a/y", "a/z", "b/1", "b/10", "b/2"]
    assert spill.read(["b"]).column("n").to_pylist() == [2, 1, 0]  # rows keep their values
    assert spill.read([]).num_rows == 0


def test_ids_that_break_the_prefix_order_are_sorted_after_all(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "s.arrow", SCHEMA)
    spill.add_rows("x", _rows("x", ["b"]))
    spill.add_rows("x/a", _rows("x/a", ["a"]))  # "x/a/a" sorts before "x/b", though "x/" < "x/a/"
    table = spill.read(sorted(["x", "x/a"], key=id_order))
    assert table.column("id").to_pylist() == ["x/a/a", "x/b"]


def test_a_filter_keeps_rows_and_batches_span_many_articles(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "s.arrow", SCHEMA)
    articles = [f"art{k:05d}" for k in range(3000)]
    for a in reversed(articles):
        spill.add_rows(a, _rows(a, ["0", "1", "2"]))
    table = spill.read(articles, keep=lambda batch: pc.equal(batch.column("n"), 1))
    assert table.num_rows == 3000 and set(table.column("n").to_pylist()) == {1}
    assert table.column("id").to_pylist() == [f"{a}/1" for a in articles]
    assert all(len(chunk) <= 8192 + 3 for chunk in table.column("id").chunks)  # batches of about BATCH_ROWS


def test_a_table_added_in_runs_is_cut_per_article(tmp_path: Path) -> None:
    spill = Spill(tmp_path / "s.arrow", SCHEMA)
    table = pa.Table.from_pylist(_rows("a", ["0", "1"]) + _rows("b", ["0"]), schema=SCHEMA)
    spill.add_table(table, [("a", 2), ("b", 1), ("c", 0)])
    assert spill.read(["b"]).column("id").to_pylist() == ["b/0"]
    assert spill.read(["a", "b"]).num_rows == 3


def test_the_digest_fed_a_chunk_at_a_time_is_the_whole_column_digest() -> None:
    """Pinned: datasets built before the digest was fed chunk by chunk keep their digest."""
    from corpus.codebook import load_codebook
    from corpus.digest import table_digest
    from corpus.tables import mention_features

    features = mention_features(load_codebook())
    data = {"id": ["a/0", "a/1", "b/0"], "article_id": ["a", "a", None], "sentence": [0, 1, None],
            "start": [0, 5, 0], "end": [4, 9, 3], "text": ["x y", "", None], "tokens": [["x", "y"], None, ["z"]],
            "token_starts": [[0, 2], [], [0]], "token_ends": [[1, 3], [], [1]], "tags": [[1, 0], [], [0]]}
    table = pa.Table.from_pydict(data, schema=features.arrow_schema)
    chunked = pa.concat_tables([table.slice(0, 1), table.slice(1, 1), table.slice(2)])
    assert table_digest("mentions", "train", table, features) == table_digest("mentions", "train", chunked, features)
    assert table_digest("mentions", "train", table, features) == PINNED


PINNED = "dc3fedbb8a6d3244e9c5be72bce555b368a46754560e2d6d398f7a6ea941f1a8"  # the digest before chunked feeding
