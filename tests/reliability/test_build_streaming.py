"""Issue 16, memory: `corpus build` streams a Label Studio export instead of holding it whole (it once took about
15x the file size). The streamed reader holds one task and a bounded buffer at a time, gives exactly the tasks a
whole `json.loads` gives (numbers, Unicode, values cut by chunk boundaries), and for a file that is not a plain
list of tasks the same one-line error as before."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corpus.errors import InputError

TASK_TEXT = "Sheinbaum rejected calls to deploy American troops. Ébano, 😀 día. " * 40


def _export(path: Path, n: int) -> Path:
    tasks = ({"id": i, "data": {"text": f"{TASK_TEXT} {i}", "article_id": f"a-{i}"},
              "annotations": [{"id": i, "result": [], "lead_time": 1.5e-3, "big": 10**30}]} for i in range(n))
    with path.open("w", encoding="utf-8") as f:
        f.write("[")
        for k, task in enumerate(tasks):
            f.write((", " if k else "") + json.dumps(task, ensure_ascii=False))
        f.write("]")
    return path


def _peak_while_reading(path: Path) -> tuple[int, int]:
    """(tasks, traced peak bytes) of iterating the streamed export's items."""
    from corpus.sources import stream_export

    tracemalloc.start()
    try:
        src, items = stream_export(path)
        count = 0
        for item in items:
            assert item.task is not None and item.task["id"] == count
            count += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == src.tasks
    return count, peak


def test_streamed_export_holds_one_task_at_a_time(tmp_path: Path, record_property: Callable[[str, Any], None]) -> None:
    small, large = _export(tmp_path / "small.json", 2000), _export(tmp_path / "large.json", 8000)
    (n_small, peak_small), (n_large, peak_large) = _peak_while_reading(small), _peak_while_reading(large)
    size = large.stat().st_size
    assert (n_small, n_large) == (2000, 8000)
    assert peak_large < 1.5 * peak_small, f"peak grew with the export: {peak_small} -> {peak_large} bytes"
    assert peak_large < size / 2, f"reading a {size / 2**20:.0f} MiB export peaked at {peak_large / 2**20:.1f} MiB"
    record_property("check", "corpus build reads an export one task at a time")
    record_property("checked", f"traced peak {peak_small / 2**20:.1f} MiB for 2,000 tasks, {peak_large / 2**20:.1f} "
                               f"MiB for 8,000 ({size / 2**20:.0f} MiB): flat (a whole parse held several times "
                               "the file)")


SAMPLES: dict[str, bytes] = {
    "list": json.dumps([{"id": i, "data": {"text": "é😀 x" * (i % 7 + 1)}, "n": [1.5, 2e300, 10**30, None, True]}
                        for i in range(60)], ensure_ascii=False).encode(),
    "spaces": ("  \n[ \n" + " ,\n ".join(json.dumps({"id": i, "s": "é" * i}) for i in range(20)) + "\n ]\n").encode(),
    "scalars": b'[1, 2, 3.5, "x", [1,2], {}]',
    "empty-list": b" [ ] ",
    "one-task": json.dumps({"id": 1, "data": {"text": "a"}}).encode(),
    "bad-json": b'[{"a": 1}, {"b": }]',
    "trailing": b'[{"a":1}] x',
    "no-comma": b'[{"a":1} {"b":2}]',
    "bad-utf8": b'[{"a": "\xff"}]',
    "bom": '\ufeff[{"a": 1}]'.encode(),
    "nan": b'[{"a": NaN}]',
    "blank": b"   ",
    "not-a-list": b"5",
    "deep": b"[" + b"[" * 100_000 + b"]" * 100_000 + b"]",
    "truncated": b'[{"a": 1}, {"b": "xx',
}


def _read(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", list(fn())
    except InputError as e:
        return "error", str(e)


@pytest.mark.parametrize("chunk", [1 << 20, 64, 5])
def test_streamed_reader_matches_the_whole_reader(chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  record_property: Callable[[str, Any], None]) -> None:
    import corpus.sources as sources

    monkeypatch.setattr(sources, "_CHUNK", chunk)
    for name, data in SAMPLES.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(data)
        whole, streamed = _read(lambda p=path: sources._whole(p, 0)), _read(lambda p=path: sources._tasks(p))
        assert streamed == whole, name
    record_property("check", f"streamed export reader, {chunk}-byte chunks")
    record_property("checked", f"{len(SAMPLES)} exports (numbers, Unicode across chunk edges, bad bytes, bad JSON, "
                               "a BOM, nesting 100k deep): the same tasks or the same one-line error as a whole read")
