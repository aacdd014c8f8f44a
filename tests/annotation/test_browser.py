"""The annotator's view in a real browser: headless Chromium opens a pushed task in Label Studio's editor."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from annotation.browser_check import check_editor, chromium_path
from annotation.client import Connection, LabelStudioClient
from annotation.push import push
from corpus.codebook import load_codebook
from corpus.gazetteer import MATCHER_VERSION
from corpus.store import BUNDLED_ROOT, CorpusStore

pytestmark = [pytest.mark.labelstudio, pytest.mark.browser, pytest.mark.slow]
REPO = Path(__file__).resolve().parents[2]


def shows(tab: str, name: str) -> bool:
    """The tab shows `name`, whole or shortened in the middle with "..."."""
    head, dots, tail = tab.partition("...")
    return tab == name or bool(dots and head and tail and name.startswith(head) and name.endswith(tail)
                               and len(head) + len(tail) < len(name))


def test_shortened_tab_names_are_recognised() -> None:
    assert shows("gazettee...0.0-m2", "gazetteer-1.0.0-m2") and shows("gazetteer-1.0.0", "gazetteer-1.0.0")
    assert not shows("gazettee...0.0-m1", "gazetteer-1.0.0-m2") and not shows("seconds ago", "gazetteer-1.0.0-m2")


def test_editor_shows_text_labels_and_preannotated_spans(label_studio, tmp_path):
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if chromium_path() is None:
        pytest.skip("no Chromium (/usr/bin/chromium): `make browser` installs it")
    cb = load_codebook()
    client = LabelStudioClient(Connection(label_studio.url, label_studio.token))
    report = push(client, cb, BUNDLED_ROOT, "browser check", prelabel=["gazetteer"])
    task = next(t for t in client.iter_tasks(report.project_id) if t["data"]["article_id"] == "article-001")

    shot = tmp_path / "label-studio-editor.png"
    view = check_editor(label_studio.url, label_studio.username, label_studio.password, report.project_id,
                        task["id"], shot)

    article = CorpusStore().read_article("article-001")
    assert view.labels == [s.value for s in cb.span_labels]  # the label buttons: Actor, Policy
    assert article.title in view.text and "firmly declined" in view.text  # the article text
    assert "Mexican President Claudia Sheinbaum" in view.highlights  # a pre-annotated span, drawn on the text
    assert len(view.highlights) >= 10
    # shown as the gazetteer's prediction; the editor shortens long names in the middle ("gazettee...0.0-m2")
    assert any(shows(tab, f"gazetteer-{cb.version}-m{MATCHER_VERSION}") for tab in view.annotation_tabs), \
        view.annotation_tabs
    assert shot.stat().st_size > 20_000
    keep = REPO / "var" / "screenshots" / "label-studio-editor.png"  # git-ignored, for a person to look at
    keep.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, keep)
