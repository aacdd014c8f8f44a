"""Issue 16 item 7: a failed pull leaves no unlisted export, and an export named like a pull that has no manifest
line, or whose content does not match the sha256 in its name, is refused by `corpus build` and `annotation
validate` with one line (nothing written)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.fault_proxy import FaultProxy, Rule
from tests.reliability import make_corpus, one_line_error, run_module, tree_snapshot

pytestmark = pytest.mark.labelstudio


@pytest.fixture(scope="module")
def pushed(label_studio: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A project of 3 annotated synthetic articles on the real server."""
    from annotation.client import Connection, LabelStudioClient
    from annotation.push import push
    from corpus.codebook import load_codebook

    url, token = label_studio
    root = tmp_path_factory.mktemp("pull-atomic")
    make_corpus(root / "corpus", 3)
    push(LabelStudioClient(Connection(url, token)), load_codebook(), root / "corpus", "pull-atomic",
         with_annotations=True)
    return "pull-atomic"


def test_pull_failing_after_the_export_leaves_nothing(label_studio: Any, pushed: str, tmp_path: Path,
                                                      record_property: Callable[[str, Any], None]) -> None:
    record_property("fault", "the version call answers 503 after the export was made (proxy)")
    url, token = label_studio
    exports = tmp_path / "exports"
    with FaultProxy(url, lifetime=120) as proxy:
        proxy.add(Rule("status", method="GET", path=r"^/api/version", times=None, status=503))
        done = run_module("annotation", "pull", "--project", pushed, "--out", str(exports), "--url", proxy.url,
                          env={"LABEL_STUDIO_API_KEY": token})
        assert proxy.count("status") >= 1
    assert done.returncode == 3, done.stderr
    line = one_line_error([ln for ln in done.stderr.splitlines() if ln.strip()][-1], done.stdout)
    assert "read the server version" in line and "HTTP 503" in line
    left = tree_snapshot(exports)
    assert not [name for name in left if name.endswith(".json") or name.endswith(".tmp")], left
    again = run_module("annotation", "pull", "--project", pushed, "--out", str(exports), "--url", url,
                       env={"LABEL_STUDIO_API_KEY": token})
    assert again.returncode == 0, again.stderr
    files = sorted(p.name for p in exports.glob("*.json"))
    lines = [json.loads(ln) for ln in (exports / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [e["file"] for e in lines] == files and len(files) == 1
    record_property("outcome", f"{line.replace(proxy.url, 'URL')}; no export and no temporary file left; the next "
                               "pull writes one file with its one manifest line")
    record_property("records_lost", 0)


@pytest.mark.parametrize("how", ["unlisted", "edited-unlisted"])
@pytest.mark.parametrize("command", ["corpus build", "annotation validate"])
def test_export_without_its_line_is_refused(how: str, command: str, label_studio: Any, pushed: str, tmp_path: Path,
                                            record_property: Callable[[str, Any], None]) -> None:
    from annotation.client import Connection, LabelStudioClient
    from annotation.pull import pull

    url, token = label_studio
    pulled = Path(pull(LabelStudioClient(Connection(url, token)), pushed, tmp_path / "exports").path)
    stray = tmp_path / "elsewhere" / pulled.name  # the same name, but no manifest line beside it
    stray.parent.mkdir()
    shutil.copyfile(pulled, stray)
    if how == "edited-unlisted":
        stray.write_text(stray.read_text(encoding="utf-8").replace('"oppose"', '"support"'), encoding="utf-8")
    before = tree_snapshot(tmp_path)
    package, verb = command.split()
    args = [verb, str(stray)] + (["--out", str(tmp_path / "ds")] if verb == "build" else [])
    done = run_module(package, *args)
    assert done.returncode == 2, done.stdout + done.stderr
    line = one_line_error(done.stderr, done.stdout)
    expected = "has no line for it" if how == "unlisted" else "does not match the sha256 in its name"
    assert str(stray) in line and expected in line, line
    assert tree_snapshot(tmp_path) == before
    record_property("check", f"{command} of a pulled export copied without its manifest line"
                             + (" and edited" if how != "unlisted" else ""))
    record_property("checked", line.replace(str(tmp_path), "$TMP"))
