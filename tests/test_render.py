"""Reports for readers: header, notes for the analyst, self-contained HTML, index, history.

The executed notebooks here are written by hand (outputs included), as
papermill leaves them, so rendering is tested without starting a kernel.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cxkit.history import list_batches, write_history
from cxkit.render import notes_path, render_html, report_facts, write_index

WARNING_TEXT = ("/tmp/ipykernel_1/123.py:1: SmallSampleWarning: 34 events for 8 parameters\n"
                "  retention = cx.fit_retention(panel)\n")
EXTERNAL = re.compile(r"""<(script|link|img|iframe)[^>]*\s(src|href)\s*=\s*["']?(https?:)?//""",
                      re.I)


def _executed(folder: Path, *, segment="SMB", error=False) -> Path:
    cells = [
        new_markdown_cell("# Retention drivers\n\nDoes better support keep customers?"),
        new_code_cell("import cxkit as cx"),
        new_code_cell('config = "sample"\nsegment = "all"\nperiod = "M"\nstart = ""',
                      metadata={"tags": ["parameters"]}),
        new_code_cell(f'segment = "{segment}"\noutput_dir = "."',
                      metadata={"tags": ["injected-parameters"]}),
        new_markdown_cell("The guarded retention model."),
        new_code_cell("retention = cx.fit_retention(panel)", outputs=[
            new_output("stream", name="stderr", text=WARNING_TEXT)]),
        new_markdown_cell("**Effects** per driver."),
        new_code_cell("retention.tidy()", outputs=[new_output(
            "execute_result", data={"text/html": "<p>visible table</p>",
                                    "text/plain": "visible table"}, execution_count=3)]),
    ]
    if error:
        cells.append(new_code_cell("1/0", outputs=[new_output(
            "error", ename="ZeroDivisionError", evalue="division by zero",
            traceback=["\x1b[0;31mTraceback (most recent call last)\x1b[0m", "1/0"])]))
    nb = new_notebook(cells=cells, metadata={"papermill": {
        "parameters": {"segment": segment, "config": "sample", "output_dir": "."},
        "end_time": "2026-11-30T06:01:02.5"}})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "03_retention_drivers.ipynb"
    nbformat.write(nb, path)
    (folder / "results.json").write_text(json.dumps({
        "parameters": {"segment": segment, "period": "M"}, "cxkit_version": "9.9.9",
        "coverage": {"start": "2024-01-01", "end": "2025-12-31"}, "results": [
            {"model": "logit", "outcome": "churned_next", "term": "fcr_rate",
             "estimate": -1.0, "effect": "+10 pp first-contact resolution ≈ -0.23 pp"}]}))
    return path


def test_facts_come_from_parameters_and_results(tmp_path):
    facts = report_facts(_executed(tmp_path))
    assert facts.title == "Retention drivers" and facts.segment == "SMB"
    assert facts.period == "M" and facts.cxkit_version == "9.9.9"
    assert facts.scope == "segment SMB · monthly periods · 1 Jan 2024 – 31 Dec 2025"
    assert facts.source == "bundled sample data"


def test_report_has_header_title_and_no_warnings(tmp_path):
    page_path = render_html(_executed(tmp_path))
    page = page_path.read_text()
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert "Retention drivers" in title and "SMB" in title and "monthly" in title
    header = re.search(r"<header class=.cx-header.>(.*?)</header>", page, re.S).group(1)
    for fact in ("Retention drivers", "Segment SMB", "monthly periods", "1 Jan 2024",
                 "31 Dec 2025", "bundled sample data", "cxkit 9.9.9"):
        assert fact in header
    assert "visible table" in page and "Effects" in page
    for bad in ("Warning", "Traceback", "ipykernel", "/tmp/"):
        assert bad not in page
    assert "The guarded retention model." not in page  # narrates a cell that shows nothing
    notes = notes_path(page_path).read_text()
    assert "SmallSampleWarning: 34 events" in notes
    assert "Notes for the analyst" in page and notes_path(page_path).name in page


def test_report_loads_nothing_from_elsewhere(tmp_path):
    page = render_html(_executed(tmp_path)).read_text()
    assert "<script" not in page
    assert not EXTERNAL.search(page)
    assert not re.search(r"@import\s+url\(\s*['\"]?https?:", page)
    # the check can fail: nbconvert's own template loads require.js from a CDN
    from nbconvert import HTMLExporter

    plain, _ = HTMLExporter(exclude_input=True).from_filename(str(tmp_path /
                                                                   "03_retention_drivers.ipynb"))
    assert EXTERNAL.search(plain)


def test_error_becomes_a_sentence_and_goes_to_the_notes(tmp_path):
    page_path = render_html(_executed(tmp_path, error=True))
    page = page_path.read_text()
    assert "Traceback" not in page and "ZeroDivisionError" not in page
    assert "could not be computed" in page
    notes = notes_path(page_path).read_text()
    assert "ZeroDivisionError: division by zero" in notes and "\x1b[" not in notes


def _batch(root: Path, run_id: str, *, started: str, segments=("all", "SMB"),
           status="ok") -> Path:
    folder = root / run_id
    runs = []
    for seg in segments:
        rel = Path("03_retention_drivers") / f"segment={seg}"
        nb_path = _executed(folder / rel, segment=seg)
        html = render_html(nb_path)
        runs.append({"run": str(rel), "notebook": "03_retention_drivers",
                     "parameters": {"segment": seg}, "label_parameters": {"segment": seg},
                     "notebook_path": str(nb_path.relative_to(folder)),
                     "html": str(html.relative_to(folder)),
                     "results": str((folder / rel / "results.json").relative_to(folder)),
                     "status": status, "duration_seconds": 1.0, "cells_seconds": 1.0,
                     "error": None})
        kpi = folder / "02_support_kpis" / f"segment={seg}"
        kpi.mkdir(parents=True)
        (kpi / "results.json").write_text(json.dumps({"results": [
            {"model": "kpi", "outcome": "fcr_rate", "term": "overall",
             "estimate": 0.58 if seg == "all" else 0.11, "effect": "fcr rate: 0.58 share"}]}))
        runs.append({"run": f"02_support_kpis/segment={seg}", "notebook": "02_support_kpis",
                     "parameters": {"segment": seg}, "label_parameters": {"segment": seg},
                     "notebook_path": f"02_support_kpis/segment={seg}/02_support_kpis.ipynb",
                     "html": None, "results": f"02_support_kpis/segment={seg}/results.json",
                     "status": status, "duration_seconds": 1.0, "cells_seconds": 1.0,
                     "error": None})
    manifest = {"run_id": run_id, "status": status, "started_at": started, "source": "sample",
                "versions": {"cxkit": "9.9.9"}, "data_fingerprint": "abc", "runs": runs}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    write_index(folder, manifest=manifest)
    return folder


def test_index_groups_by_notebook_and_flags_runs_with_notes(tmp_path):
    folder = _batch(tmp_path, "20261130T060000Z-aaaaaa", started="2026-11-30T06:00:00+00:00")
    index = (folder / "index.html").read_text()
    assert index.count("<h2>Retention drivers") == 1  # one group for both runs
    assert "segment SMB · monthly periods · 1 Jan 2024 – 31 Dec 2025" in index
    assert "all customers · monthly periods" in index
    assert index.count("1 note for the analyst") == 2
    assert "../history.html" in index and not EXTERNAL.search(index)


def test_history_lists_every_complete_batch(tmp_path):
    a = _batch(tmp_path, "20261123T060000Z-aaaaaa", started="2026-11-23T06:00:00+00:00")
    b = _batch(tmp_path, "20261130T060000Z-bbbbbb", started="2026-11-30T06:00:00+00:00",
               status="failed")
    (tmp_path / ".tmp-20261130T070000Z-cccccc").mkdir()  # unfinished: not a batch
    (tmp_path / "latest").symlink_to(a.name)
    assert [x["run_id"] for x in list_batches(tmp_path)] == [a.name, b.name]
    page = write_history(tmp_path).read_text()
    for folder in (a, b):
        assert f"href='{folder.name}/index.html'" in page
    assert "cccccc" not in page and "2 complete batches" in page
    # all customers only; the failed batch's runs give no figures, but the batch is listed
    assert page.count("58.0%") == 1 and "11.0%" not in page
    assert page.count("<img") == 2 and "+10 pp first-contact resolution" in page
    assert "failed" in page and not EXTERNAL.search(page)


def test_history_of_an_empty_root(tmp_path):
    page = write_history(tmp_path).read_text()
    assert "0 complete batches" in page


def test_index_headline_keeps_the_label_and_shortens_the_sensitivity_to_its_e_value():
    from cxkit.render import short_effect

    said = "an unmeasured confounder would need a risk ratio of 1.26 with both ..."
    row = {"effect": f"-2 h resolution time ≈ -0.10 pp (95% CI -0.12 to -0.08) "
                     f"[design-based]; {said}", "sensitivity": said, "e_value": 1.2564}
    assert short_effect(row) == ("-2 h resolution time ≈ -0.10 pp (95% CI -0.12 to -0.08) "
                                  "[design-based; E-value 1.26]")
    assert short_effect({"effect": "plain sentence"}) == "plain sentence"
