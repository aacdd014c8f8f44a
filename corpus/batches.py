"""Rows kept as Arrow record batches while a build converts (a row dict costs about ten times its Arrow form):
the small key columns a build splits on; the rows themselves are spilled to disk (`corpus.spill`)."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Iterator
from typing import Any

BATCH_ROWS = 8192


def rows_batch(rows: list[dict[str, Any]], schema: Any) -> Any:
    """One Arrow record batch of `schema` from row dicts, column by column (the keys beyond `schema` ignored)."""
    import pyarrow as pa

    names = schema.names
    values = list(zip(*map(operator.itemgetter(*names), rows), strict=True)) if rows else [()] * len(names)
    return pa.RecordBatch.from_arrays([pa.array(v, type=f.type) for v, f in zip(values, schema, strict=True)],
                                      schema=schema)


class RowBatches:
    """Rows appended as dicts, held as Arrow record batches of `schema` (`size` rows each)."""

    def __init__(self, schema: Any, size: int = BATCH_ROWS) -> None:
        self.schema, self.size = schema, size
        self.num_rows = 0
        self._rows: list[dict[str, Any]] = []
        self._batches: list[Any] = []

    def extend(self, rows: list[dict[str, Any]]) -> None:
        self._rows += rows
        self.num_rows += len(rows)
        if len(self._rows) >= self.size:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._batches.append(rows_batch(self._rows, self.schema))
            self._rows = []

    def table(self) -> Any:
        """Every row so far, in arrival order, as one table (the batches are handed over, not copied)."""
        import pyarrow as pa

        self._flush()
        table = pa.Table.from_batches(self._batches, schema=self.schema)
        self._batches = []
        return table


def iter_rows(table: Any, names: list[str]) -> Iterator[dict[str, Any]]:
    """The rows of `table` as small dicts of the columns `names`, a batch at a time (for code that reads rows)."""
    for batch in table.select(names).to_batches(BATCH_ROWS):
        columns = [batch.column(i).to_pylist() for i in range(len(names))]
        for values in zip(*columns, strict=True):
            yield dict(zip(names, values, strict=True))


def relabel(table: Any, column: str, names: Iterable[str], schema: Any) -> Any:
    """`column`'s strings replaced by their index in `names` (a ClassLabel's ids), cast to `schema`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    ids = pc.index_in(table.column(column), value_set=pa.array(list(names), pa.string()))
    if ids.null_count:
        raise ValueError(f"{column}: {ids.null_count} values outside {list(names)}")
    table = table.set_column(table.schema.get_field_index(column), column, pc.cast(ids, pa.int64()))
    return table.cast(schema)


def value_counts(table: Any, column: str) -> dict[Any, int]:
    """How often each value of `column` occurs."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return {}
    return {d["values"]: d["counts"] for d in pc.value_counts(table.column(column)).to_pylist()}
