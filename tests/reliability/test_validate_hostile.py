"""Issue 16, `annotation validate` on hostile exports: a task id too large for 64 bits and a span whose `start` is
`true` are each one error line naming the task (no traceback); one annotator coding one actor-policy pair both
support and oppose is a warning line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

TEXT = "Sheinbaum rejected calls to deploy American troops on day 1."


def _task(tid: Any, start: Any = 0, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    result = [
        {"id": "a", "from_name": "mention", "to_name": "text", "type": "labels",
         "value": {"start": start, "end": 9, "text": "Sheinbaum", "labels": ["Actor"]}},
        {"id": "p", "from_name": "mention", "to_name": "text", "type": "labels",
         "value": {"start": 28, "end": 50, "text": "deploy American troops", "labels": ["Policy"]}},
        {"from_id": "a", "to_id": "p", "type": "relation", "direction": "right", "labels": ["oppose"]},
        *(extra or [])]
    return {"id": tid, "data": {"text": TEXT, "article_id": "x1"},
            "annotations": [{"id": 1, "completed_by": 1, "was_cancelled": False, "result": result}]}


CASES = {
    "task-id-2**70": ([_task(2**70)], 1, "task 1180591620717411303424: error: task id 1180591620717411303424 is "
                                         "outside 0..2**63-1"),
    "span-start-true": ([_task(7, start=True)], 1, "task 7, annotation 1, item a: error: span start True is not an "
                                                   "integer"),
    "contradictory-relations": ([_task(8, extra=[{"from_id": "a", "to_id": "p", "type": "relation",
                                                  "direction": "right", "labels": ["support"]}])], 0,
                                "task 8, annotation 1, item claudia_sheinbaum->us_troops_in_mexico: warning: "
                                "contradictory relations: claudia_sheinbaum -> us_troops_in_mexico is coded oppose "
                                "and support"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_validate_reports_hostile_tasks_in_one_line(case: str, tmp_path: Path,
                                                    record_property: Callable[[str, Any], None]) -> None:
    from annotation.cli import app

    tasks, code, expected = CASES[case]
    export = tmp_path / "export.json"
    export.write_text(json.dumps(tasks), encoding="utf-8")
    result = CliRunner().invoke(app, ["validate", str(export)])
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == code, result.output
    hits = [ln for ln in result.stdout.splitlines() if ln.startswith(expected)]
    assert len(hits) == 1, result.stdout
    record_property("check", f"annotation validate, {case}")
    record_property("checked", f"exit {code}: {hits[0]}")
