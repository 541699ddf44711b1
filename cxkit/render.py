"""HTML for readers: executed notebooks without code, and a batch's index page.

:func:`render_html` turns one executed notebook into a standalone HTML page
that shows markdown, tables, plots and errors but no code cells and no
``In [n]`` prompts. :func:`write_index` writes a batch's ``index.html``: one
line per run with its status, its parameters, links, and its headline numbers
(the first rows of its ``results.json``) or its error.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path

__all__ = ["render_html", "write_index"]

_HEADLINE_ROWS = 3


def render_html(notebook_path, *, output_path=None) -> Path:
    """Render an executed notebook as HTML without code cells or prompts.

    Parameters
    ----------
    notebook_path : str or Path
        The executed ``.ipynb``.
    output_path : str or Path, optional
        Where to write; defaults to the notebook's path with ``.html``.

    Returns
    -------
    Path
        The written HTML file.
    """
    import nbformat
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    out = Path(output_path) if output_path else notebook_path.with_suffix(".html")
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True)
    nb = nbformat.read(notebook_path, as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": notebook_path.stem}})
    out.write_text(body, encoding="utf-8")
    return out


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _headline(run: Mapping, root: Path) -> str:
    """A few result rows (or the error) of one run, as HTML."""
    if run.get("status") != "ok":
        err = run.get("error") or {}
        where = f"cell {err['cell_index']}: " if err.get("cell_index") is not None else ""
        return (f"<span class='err'>{html.escape(where)}"
                f"{html.escape(str(err.get('ename', '')))}: "
                f"{html.escape(str(err.get('evalue', ''))[:300])}</span>")
    if not run.get("results") or not (root / run["results"]).exists():
        return "<span class='muted'>no results.json</span>"
    rows = json.loads((root / run["results"]).read_text(encoding="utf-8"))["results"]
    items = []
    for row in rows[:_HEADLINE_ROWS]:
        if row.get("effect"):
            text = str(row["effect"])
        else:
            ci = f" (CI {_fmt(row.get('conf_low'))} to {_fmt(row.get('conf_high'))})"
            text = (f"{row.get('outcome')} ~ {row.get('term')}: {_fmt(row.get('estimate'))}"
                    f"{ci}, p = {_fmt(row.get('p_value'))}")
        items.append(f"<li>{html.escape(text)}</li>")
    more = f"<li class='muted'>… {len(rows) - _HEADLINE_ROWS} more in results.csv</li>" \
        if len(rows) > _HEADLINE_ROWS else ""
    return f"<ul>{''.join(items)}{more}</ul>" if items else "<span class='muted'>no rows</span>"


def write_index(run_dir, *, manifest: Mapping) -> Path:
    """Write ``index.html`` linking every run of a batch.

    Parameters
    ----------
    run_dir : str or Path
        The batch's run folder (links are relative to it).
    manifest : mapping
        The batch manifest (``run_id``, ``status``, ``runs``...).

    Returns
    -------
    Path
        The written ``index.html``.
    """
    root = Path(run_dir)
    lines = []
    for run in manifest["runs"]:
        params = ", ".join(f"{k}={v}" for k, v in run["label_parameters"].items()) or "defaults"
        links = [f"<a href='{html.escape(run['notebook_path'])}'>ipynb</a>"]
        if run.get("html"):
            links.insert(0, f"<a href='{html.escape(run['html'])}'>report</a>")
        lines.append(
            f"<tr class='{html.escape(run['status'])}'><td>{html.escape(run['notebook'])}</td>"
            f"<td>{html.escape(params)}</td><td>{html.escape(run['status'])}</td>"
            f"<td>{run['duration_seconds']:.1f} s</td><td>{' '.join(links)}</td>"
            f"<td>{_headline(run, root)}</td></tr>")
    n_failed = sum(r["status"] != "ok" for r in manifest["runs"])
    title = f"cxkit reports {manifest['run_id']}"
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ddd;
padding: .4em .8em; text-align: left; vertical-align: top; }}
tr.failed td {{ background: #fdecea; }} .err {{ color: #a40000; }} .muted {{ color: #777; }}
ul {{ margin: 0; padding-left: 1.2em; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Status: <b>{html.escape(manifest['status'])}</b> — {len(manifest['runs'])} runs,
{n_failed} failed. Data fingerprint: <code>{html.escape(str(manifest.get('data_fingerprint')))}</code>.
All estimates: <a href="results.csv">results.csv</a> (with Benjamini-Hochberg adjusted p-values);
provenance: <a href="manifest.json">manifest.json</a>.</p>
<table><tr><th>notebook</th><th>parameters</th><th>status</th><th>time</th><th>files</th>
<th>headline</th></tr>
{chr(10).join(lines)}
</table></body></html>
"""
    path = root / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
