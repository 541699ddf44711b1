"""The default batch's pages as a CX director receives them, read as text and in a browser.

One module fixture runs the default run config (``cxkit run`` with no
argument: six notebooks for all customers, SMB and Enterprise, monthly) into
a temporary output root. The text checks read every stakeholder page (the
reports, ``index.html``, ``history.html``); the browser check opens each page
in headless Chromium (the Debian package, driven by Playwright against the
system browser; it is never downloaded) and fails on a console error, on any
request that would leave the machine, on a header that is not visible and on
a table wider than the page.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from cxkit.batch import run_batch
from cxkit.runconfig import default_run_config, read_run_config

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# an attribute loading a script, style, font or image from another host
EXTERNAL = re.compile(r"""<(script|link|img|iframe|source)\b[^>]*\s(src|href)\s*=\s*["']?"""
                      r"""(https?:)?//""", re.I)
FORBIDDEN = ("Warning", "Traceback", "NaN", "<NA>", "&lt;NA&gt;")
_DATA_URI = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=]+")


@pytest.fixture(scope="module")
def default_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("reports")
    result = run_batch(default_run_config(), output_root=root, progress="off")
    assert result.status == "ok", result.summary()
    return result


def _pages(batch) -> list[Path]:
    manifest = json.loads((batch.run_dir / "manifest.json").read_text())
    reports = [batch.run_dir / run["html"] for run in manifest["runs"]]
    return [batch.run_dir / "index.html", batch.run_dir.parent / "history.html", *reports]


def _visible_text(page: str) -> str:
    """The page without embedded images (their base64 can spell anything)."""
    return _DATA_URI.sub("data:", page)


def test_default_batch_pages_have_no_warnings_missing_values_or_external_assets(default_batch):
    pages = _pages(default_batch)
    assert len(pages) == 2 + len(default_batch.runs) >= 2 + 16
    for path in pages:
        page = _visible_text(path.read_text(encoding="utf-8"))
        for word in FORBIDDEN:
            assert word not in page, f"{path.name}: {word!r} in {path}"
        assert not EXTERNAL.search(page), f"{path}: loads {EXTERNAL.search(page).group(0)}"
        assert "<script" not in page and not re.search(r"@import\s+url\(\s*['\"]?https?:", page)


def test_every_report_names_its_segment_and_period(default_batch):
    config = read_run_config(default_run_config())
    segments = {g.get("segment") for g in config.grid} - {None}
    seen = set()
    for run in default_batch.runs:
        page = (default_batch.run_dir / run.html).read_text(encoding="utf-8")
        title = re.search(r"<title>(.*?)</title>", page).group(1)
        header = re.search(r"<header class=.cx-header.>(.*?)</header>", page, re.S).group(1)
        segment = run.parameters.get("segment")
        words = "all customers" if segment in (None, "all") else f"segment {segment}"
        for text in (title, header):
            assert words.lower() in text.lower(), (run.notebook, segment, text)
            assert "monthly periods" in text.lower(), (run.notebook, text)
            assert re.search(r"\d{1,2} \w{3} \d{4} – \d{1,2} \w{3} \d{4}", text), text
        assert "cxkit " in header and "Data: bundled sample data" in header
        seen.add(segment)
    assert segments <= seen


def test_executive_summary_shows_at_least_three_figures(default_batch):
    run = next(r for r in default_batch.runs if r.notebook == "06_executive_summary")
    page = (default_batch.run_dir / run.html).read_text(encoding="utf-8")
    assert len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", page)) >= 3


def test_history_lists_every_complete_batch(default_batch):
    root = default_batch.run_dir.parent
    batches = [p.name for p in root.iterdir() if (p / "manifest.json").exists()
               and not p.name.startswith(".") and not p.is_symlink()]
    page = (root / "history.html").read_text(encoding="utf-8")
    assert batches == [default_batch.run_id]
    for run_id in batches:
        assert f"href='{run_id}/index.html'" in page


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed here (Debian package "
                    "'chromium'; .ci/run installs it, so CI runs this test)")
def test_pages_in_a_browser(default_batch):
    from playwright.sync_api import sync_playwright

    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for path in _pages(default_batch):
                page = browser.new_page(viewport={"width": 1024, "height": 800})
                left: list[str] = []

                def block(route, left=left):
                    url = route.request.url
                    if url.startswith(("file:", "data:", "about:")):
                        route.continue_()
                    else:
                        left.append(url)
                        route.abort()

                page.route("**/*", block)
                errors = []
                page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error"
                        else None)
                page.on("pageerror", lambda exc, e=errors: e.append(str(exc)))
                page.goto(path.as_uri(), wait_until="load")
                name = f"{path.parent.name}/{path.name}"
                if left:
                    problems.append(f"{name}: requests leaving the machine: {left}")
                if errors:
                    problems.append(f"{name}: console errors: {errors}")
                if not page.locator(".cx-header").first.is_visible():
                    problems.append(f"{name}: header not visible")
                width = page.evaluate("document.documentElement.clientWidth")
                widest = page.evaluate(
                    "Math.max(0, ...Array.from(document.querySelectorAll('table'),"
                    " t => t.getBoundingClientRect().right))")
                if widest > width + 1:
                    problems.append(f"{name}: a table reaches {widest:.0f}px, page is {width}px")
                page.close()
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
