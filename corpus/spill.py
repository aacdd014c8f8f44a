"""Rows spilled to disk while a build converts, read back one split at a time in id order.

A large export makes more rows than fit in memory several times over (the tables of 1M statements are about
3 GB as Arrow), and each table used to be held whole, then split and sorted into copies. A `Spill` writes the
rows of one config to a temporary Arrow IPC file as they come, one record batch per article with that
article's rows sorted by id, and remembers which batches hold which article. A split is then read back by
asking for its articles in order: every row id starts with its article id and "/", so articles in the order of
`article_id + "/"`, each with its rows sorted, are the split sorted by id without a sort (checked, and sorted
after all where an unusual id breaks that order). Only the split being written is in memory; the file is read
with plain reads, not a memory map, so what was read is freed once written.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from corpus.batches import BATCH_ROWS, rows_batch


def id_order(article_id: str) -> str:
    """The sort key of an article that puts its rows where a sort of the row ids puts them."""
    return article_id + "/"


class Spill:
    """The rows of one config in a temporary Arrow IPC file, one record batch per article (see the module)."""

    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow as pa

        self.path, self.schema = path, schema
        self.num_rows = 0
        self._sink = pa.OSFile(str(path), "wb")
        self._writer = pa.ipc.new_file(self._sink, schema)
        self._batches = 0
        self._index: dict[str, list[int]] = {}  # article id -> its record batches in the file
        self._rows: dict[str, int] = {}  # article id -> rows
        self._pending: list[dict[str, Any]] = []
        self._runs: list[tuple[str, int]] = []  # (article id, rows) of the pending rows, in order

    def add_rows(self, article_id: str, rows: list[dict[str, Any]]) -> None:
        """One article's rows (any order: sorted by id here)."""
        if not rows:
            return
        self._pending += sorted(rows, key=operator.itemgetter("id"))
        self._runs.append((article_id, len(rows)))
        self._count(article_id, len(rows))
        if len(self._pending) >= BATCH_ROWS:
            self._flush()

    def add_table(self, table: Any, runs: list[tuple[str, int]]) -> None:
        """Rows already as a table of `schema`: consecutive runs of (article id, rows), each run sorted by id."""
        self._flush()
        table = table.combine_chunks()
        offset = 0
        for article_id, n in runs:
            for batch in table.slice(offset, n).to_batches():
                self._write(article_id, batch)
            self._count(article_id, n)
            offset += n

    def _flush(self) -> None:
        if not self._pending:
            return
        batch = rows_batch(self._pending, self.schema)
        offset = 0
        for article_id, n in self._runs:
            self._write(article_id, batch.slice(offset, n))
            offset += n
        self._pending, self._runs = [], []

    def _write(self, article_id: str, batch: Any) -> None:
        if batch.num_rows == 0:
            return
        self._writer.write_batch(batch)
        self._index.setdefault(article_id, []).append(self._batches)
        self._batches += 1

    def _count(self, article_id: str, rows: int) -> None:
        if rows:
            self._rows[article_id] = self._rows.get(article_id, 0) + rows
            self.num_rows += rows

    def close(self) -> None:
        """Write what is pending and finish the file (reading needs a finished file)."""
        if self._writer is not None:
            self._flush()
            self._writer.close()
            self._sink.close()
            self._writer = None

    def rows_of(self, article_id: str) -> int:
        return self._rows.get(article_id, 0)

    def read(self, article_ids: Iterable[str], keep: Callable[[Any], Any] | None = None, *,
             sort: bool = True) -> Any:
        """The rows of `article_ids`, in that order, as one table of batches of about BATCH_ROWS rows; `keep`
        (a record batch -> boolean mask) filters rows. With `sort`, the table is sorted by id (a no-op when the
        order given already is, the usual case)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        self.close()
        out: list[Any] = []
        pending: list[Any] = []
        held = 0

        def combine() -> None:
            nonlocal pending, held
            if pending:
                out.extend(pa.Table.from_batches(pending, schema=self.schema).combine_chunks().to_batches())
            pending, held = [], 0

        with pa.OSFile(str(self.path), "rb") as source:
            reader = pa.ipc.open_file(source)
            for article_id in article_ids:
                for k in self._index.get(article_id, ()):
                    batch = reader.get_batch(k)
                    if keep is not None:
                        batch = batch.filter(keep(batch))
                    if batch.num_rows:
                        pending.append(batch)
                        held += batch.num_rows
                        if held >= BATCH_ROWS:
                            combine()
            combine()
        table = pa.Table.from_batches(out, schema=self.schema)
        if sort and table.num_rows > 1:
            ids = table.column("id").combine_chunks()
            if not pc.all(pc.less_equal(ids.slice(0, len(ids) - 1), ids.slice(1))).as_py():
                table = table.sort_by("id").combine_chunks()
        return table
