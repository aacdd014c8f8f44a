"""The CLI: every command documents itself; bad input is one line and a non-zero exit."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from annotation.cli import app

from .builders import annotation, coder_a, coder_b, task

COMMANDS = ["serve", "push", "pull", "agreement", "adjudicate", "validate", "guidelines", "config", "browser-check"]


@pytest.mark.parametrize("command", COMMANDS)
def test_help(command):
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["agreement", "missing.json"], "missing.json: file not found"),
    (["validate", "missing.json"], "missing.json: file not found"),
    (["adjudicate", "missing.json", "--out", "g.json"], "missing.json: file not found"),
    (["adjudicate", "x.json", "--out", "g.json", "--push-disagreements"], "needs --project NAME"),
    (["push", "--batch-size", "0", "--url", "http://127.0.0.1:9"], "--batch-size: must be at least 1"),
])
def test_bad_input_is_one_line(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "0" * 40)
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_agreement_and_validate_commands(tmp_path):
    export = tmp_path / "export.json"
    export.write_text(json.dumps([task(1, [annotation(1, "A", coder_a()), annotation(2, "B", coder_b())])]))
    out = tmp_path / "agreement.json"
    result = CliRunner().invoke(app, ["agreement", str(export), "--json", str(out)])
    assert result.exit_code == 0 and "Krippendorff" in result.output
    assert json.loads(out.read_text())["tasks_compared"] == 1
    result = CliRunner().invoke(app, ["validate", str(export)])
    assert result.exit_code == 1  # the relation to a missing span in B's annotation
    assert "relation to a missing span (b9)" in result.output and "1 tasks: 1 errors" in result.output


def test_guidelines_check_and_config():
    assert CliRunner().invoke(app, ["guidelines", "--check"]).exit_code == 0
    result = CliRunner().invoke(app, ["config"])
    assert result.exit_code == 0 and result.output.startswith("<View>")
