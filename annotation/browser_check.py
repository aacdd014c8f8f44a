"""The annotator's view, checked in a real browser: headless Chromium logs in to Label Studio, opens a task in
the labelling editor, reads what the page shows and saves a screenshot.

Driven by playwright with the system's Chromium (Debian's `/usr/bin/chromium`); playwright never downloads
a browser here. `python -m annotation browser-check` runs it against a server.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from corpus.errors import ServiceError

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """The Chromium binary: $CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@dataclass
class EditorView:
    """What the labelling editor showed."""

    url: str
    labels: list[str] = field(default_factory=list)  # the span label buttons
    highlights: list[str] = field(default_factory=list)  # texts of the regions drawn on the text
    text: str = ""  # the visible text of the task
    annotation_tabs: list[str] = field(default_factory=list)  # lines of the annotation / prediction tabs
    screenshot: str = ""


def check_editor(url: str, username: str, password: str, project_id: int, task_id: int, screenshot: Path,
                 timeout_s: float = 90) -> EditorView:
    """Log in, open task `task_id` of `project_id` in the editor, wait for its regions, report and screenshot."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    if exe is None:
        raise ServiceError("chromium", "no Chromium found (apt-get install chromium, or set $CHROMIUM)")
    timeout_ms = timeout_s * 1000
    view = EditorView(url=f"{url}/projects/{project_id}/data?task={task_id}")
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(timeout_ms)
                page.goto(f"{url}/user/login/")
                page.fill("input[name=email]", username)
                page.fill("input[name=password]", password)
                page.click("button[type=submit], input[type=submit]")
                page.wait_for_url(lambda u: "/user/login" not in u)
                page.goto(view.url)
                page.wait_for_selector(".lsf-labels .lsf-label__text")
                page.wait_for_selector(".htx-highlight")
                page.wait_for_load_state("networkidle")
                view.labels = [t.strip() for t in page.locator(".lsf-labels .lsf-label__text").all_inner_texts()]
                view.highlights = [t.strip() for t in page.locator(".htx-highlight").all_inner_texts() if t.strip()]
                view.text = page.locator(".lsf-main-view__annotation").first.inner_text()
                tabs = page.locator("[class*=annotation-button], [class*=AnnotationButton]").all_inner_texts()
                view.annotation_tabs = list(dict.fromkeys(ln.strip() for t in tabs for ln in t.splitlines()
                                                          if ln.strip()))
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshot))
                view.screenshot = str(screenshot)
            finally:
                browser.close()
    except PlaywrightError as e:
        raise ServiceError(url, f"browser check failed: {str(e).splitlines()[0]}") from None
    return view
