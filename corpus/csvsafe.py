"""CSV cells that a spreadsheet will not run: OWASP's rule against formula (CSV) injection.

A cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return is taken as a formula by Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)`, `@SUM(...)`, DDE payloads). Every CSV newsstance writes
passes its cells through `safe_cell`, which prefixes such a text with `'` (shown, not run). Numbers, and
texts that are plain numbers such as `-0.5`, are left as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """`value`, with a leading `'` when it is a text a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _NUMBER.match(value):
        return "'" + value
    return value


def safe_row(row: Iterable[Any]) -> list[Any]:
    """A csv.writer row with every cell through `safe_cell`."""
    return [safe_cell(v) for v in row]


def safe_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A csv.DictWriter row with every value through `safe_cell` (keys are the header: ours, left alone)."""
    return {k: safe_cell(v) for k, v in record.items()}


def safe_frame(frame: Any) -> Any:
    """A copy of a pandas DataFrame whose text cells went through `safe_cell` (for `DataFrame.to_csv`)."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    out = frame.copy()
    for column in out.columns:
        if is_object_dtype(out[column].dtype) or is_string_dtype(out[column].dtype):
            out[column] = out[column].map(safe_cell)
    out.columns = [safe_cell(str(c)) for c in out.columns]
    return out
