"""The HTML report as a reader sees it: opened offline in headless Chromium, screenshot saved and checked."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from evaluation.evaluate import EvaluateSettings, evaluate
from tests.evaluation.conftest import FakePredictor

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOT_DIR = Path(__file__).resolve().parents[2] / "var" / "screenshots"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_report_renders_plots_and_tables_offline(tiny_dataset: Path, tmp_path: Path) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"chromium not found at {CHROMIUM} (`make browser` installs it)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    out = tmp_path / "report"
    evaluate(tiny_dataset, "test", out, model="fake", settings=EvaluateSettings(n_resamples=100, top_errors=5),
             track=False, loader=lambda m: FakePredictor(skill=0.7),
             label_studio_url="http://127.0.0.1:8080/projects/3")
    page_file = out / "report.html"
    shot = tmp_path / "report.png"
    requests: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({alt: e.alt, w: e.naturalWidth, h: e.naturalHeight, "
                       "shown: e.getBoundingClientRect().width}))")
            tables = page.eval_on_selector_all("table", "els => els.map(e => e.className)")
            text = page.inner_text("body")
            error_rows = page.locator("table.errors tbody tr").count()
            error_header = page.eval_on_selector_all("table.errors thead th", "els => els.map(e => e.textContent)")
            first_error = page.eval_on_selector_all("table.errors tbody tr:first-child td",
                                                    "els => els.map(e => e.textContent)")
            links = page.eval_on_selector_all("table.errors a", "els => els.map(e => e.href)")
            heading = page.inner_text("h1")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, SCREENSHOT_DIR / "evaluation-report.png")  # kept (git-ignored) for a person to look at
    assert {i["alt"] for i in images} == {"Confusion matrix", "Per-class precision, recall and F1",
                                         "Reliability diagram"}
    assert all(i["w"] > 200 and i["h"] > 150 and i["shown"] > 100 for i in images), images  # decoded and laid out
    assert {"scores", "ceiling", "per-class", "confusion", "breakdown", "errors"} <= set(tables)
    assert "Macro-F1 (gold-present labels)" in text and "Human ceiling" in text
    assert "Krippendorff's alpha" in text and "By actor type" in text
    assert error_rows == 5
    assert error_header == ["confidence", "gold", "predicted", "actor", "policy", "article", "sentence",
                            "Label Studio task"]
    article, sentence = first_error[5], first_error[6]
    assert article and len(sentence) > 10  # each error names its article and shows its sentence
    assert links and all(re.match(r"http://127\.0\.0\.1:8080/projects/3/data\?task=\d+$", u) for u in links), links
    assert heading.startswith("Stance evaluation: fake on ") and "[test]" in heading
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # nothing fetched from a network
    assert shot.stat().st_size > 50_000
