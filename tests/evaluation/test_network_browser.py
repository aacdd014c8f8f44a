"""The interactive network page as a reader uses it: opened offline in headless Chromium, a node found by search,
its statements and evidence sentences shown, the stance filter and the placeholder switch working."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evaluation.cli import app

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROWS = [  # a holder placeholder, evidence with markup that must be shown as text, two stances on one pair
    {"actor": "Maria Lopez", "target": "Border Act", "stance": "support", "article_id": "a1",
     "context": "Lopez backed the Border Act <b>loudly</b>."},
    {"actor": "Maria Lopez", "target": "Border Act", "stance": "oppose", "article_id": "a2",
     "context": "Later Lopez turned against the act."},
    {"actor": "Tom Hale", "target": "Border Act", "stance": "oppose", "article_id": "a1",
     "context": "Hale called the act a disaster."},
    {"actor": "(author)", "target": "Tom Hale", "stance": "oppose", "article_id": "a3", "context": "Hale is wrong."},
]


def test_network_page_search_hover_filter_offline(tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not found at {CHROMIUM} (`make browser` installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    import json

    src = tmp_path / "statements.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    out = tmp_path / "net"
    res = CliRunner().invoke(app, ["network", str(src), "--out", str(out)])
    assert res.exit_code == 0, res.output
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto((out / "network.html").as_uri())
            page.wait_for_load_state("load")
            drawn = page.eval_on_selector_all("svg text", "els => els.map(e => e.textContent)")
            page.fill("#search", "lop")
            hits = page.eval_on_selector_all("#hits li", "els => els.map(e => e.textContent)")
            page.press("#search", "Enter")
            details = page.inner_text("#details")
            bold_tags = page.eval_on_selector_all("#details b", "els => els.length")
            page.uncheck("input.stance[value=oppose]")
            page.hover("svg text[data-id='actor:x:maria-lopez']")
            filtered = page.inner_text("#details")
            lines_support_only = page.locator("svg line").count()
            page.check("input.stance[value=oppose]")
            page.check("#placeholders")
            drawn_with_placeholders = page.eval_on_selector_all("svg text", "els => els.map(e => e.textContent)")
        finally:
            browser.close()
    assert not errors, errors
    assert set(drawn) == {"Maria Lopez", "Tom Hale", "Border Act"}  # (author) left out by default
    assert hits == ["Maria Lopez (actor)"]
    assert "Maria Lopez" in details and "Border Act: +1 support, -1 oppose" in details
    assert "Lopez backed the Border Act <b>loudly</b>." in details and bold_tags == 0  # text, never markup
    assert "Later Lopez turned against the act." in details
    assert "Lopez backed" in filtered and "Later Lopez turned" not in filtered  # oppose filtered out
    assert lines_support_only == 1
    assert "(author)" in drawn_with_placeholders
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # nothing fetched from a network
