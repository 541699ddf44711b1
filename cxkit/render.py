"""HTML for readers: executed notebooks without code, and a batch's index page.

:func:`render_html` turns one executed notebook into a standalone HTML page
that shows markdown, tables and plots but no code cells and no ``In [n]``
prompts. The page opens with a header saying what it covers — title in words,
segment, period, date range, data source and cxkit version — read from the
run's parameters and its ``results.json``, so notebooks need no extra cells.
Messages of the computation (warnings, errors, anything on stderr) are taken
out of the page into ``<name>.notes.txt`` beside it; the page ends with a
short "notes for the analyst" section pointing there. The page is
self-contained: no scripts, fonts or styles are loaded from elsewhere and
images are embedded, so it opens offline.

:func:`write_index` writes a batch's ``index.html``: the runs grouped by
notebook, each with its scope, status (flagged when it left notes), links and
headline numbers or its error.
"""

from __future__ import annotations

import ast
import html
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReportFacts", "report_facts", "render_html", "write_index", "PAGE_CSS",
           "short_effect"]

_HEADLINE_ROWS = 3
_PERIOD_WORDS = {"W": "weekly periods", "M": "monthly periods", "Q": "quarterly periods"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

#: The look shared by the reports, the index and the history page.
PAGE_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
.cx-header { border-bottom: 2px solid #2a6f97; margin: 0 0 1.2em; padding: 0 0 .6em; }
.cx-header h1 { font-size: 1.7em; margin: 0 0 .2em; }
.cx-header .cx-scope { font-size: 1.1em; margin: .1em 0; }
.cx-header .cx-meta { color: #555; font-size: .85em; margin: .2em 0 0; }
.cx-notes { border-top: 1px solid #bbb; margin-top: 2em; padding-top: .4em; color: #444;
  font-size: .9em; }
.jp-OutputArea-output { overflow-x: visible; }
.jp-RenderedImage img { max-width: 100%; height: auto; }
"""

# nbconvert's lab template without the scripts it loads from a CDN (require.js,
# MathJax, mermaid), with cxkit's header before the cells and the notes after.
_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{% block extra_css -%}
<style type="text/css">{{ resources.cxkit_css }}</style>
{%- endblock extra_css %}
{%- block body_header -%}
{{ super() }}
{{ resources.cxkit_header }}
{%- endblock body_header -%}
{% block body_footer %}
{{ resources.cxkit_footer }}
{{ super() }}
{% endblock body_footer %}
"""


@dataclass(frozen=True)
class ReportFacts:
    """What one report covers, for its header, its ``<title>`` and the index."""

    title: str
    notebook: str
    segment: str | None
    period: str | None
    start: str | None
    end: str | None
    source: str
    cxkit_version: str | None
    run_at: str | None = None

    @property
    def scope(self) -> str:
        """Segment, period and date range in words."""
        parts = []
        parts.append("all customers" if self.segment in (None, "all", "") else
                     f"segment {self.segment}")
        if self.period:
            parts.append(_PERIOD_WORDS.get(self.period, f"period {self.period}"))
        parts.append(self.date_range)
        return " · ".join(parts)

    @property
    def date_range(self) -> str:
        """The dates covered, e.g. ``1 Jan 2024 – 31 Dec 2025``."""
        import pandas as pd

        if not (self.start or self.end):
            return "whole data range"
        def day(value):
            return pd.Timestamp(value).strftime("%-d %b %Y") if value else "…"
        return f"{day(self.start)} – {day(self.end)}"

    @property
    def page_title(self) -> str:
        """The HTML ``<title>``: title, then the scope."""
        return f"{self.title} — {self.scope}"


def _source_name(config) -> str:
    """A data source named for people, never a machine path."""
    if config in (None, "", "sample"):
        return "bundled sample data"
    path = Path(str(config))
    return "/".join(path.parts[-2:]) if len(path.parts) > 1 else path.name


def _parameters(nb) -> dict:
    """The run's parameter values: the notebook's defaults, then papermill's injected ones."""
    values = {}
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type != "code" or not ({"parameters", "injected-parameters"} & set(tags)):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            target = node.target if isinstance(node, ast.AnnAssign) else (
                node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1
                else None)
            if isinstance(target, ast.Name) and node.value is not None:
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    pass
    values.update(nb.metadata.get("papermill", {}).get("parameters", {}) or {})
    return values


def _title(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.match(r"\s*#\s+(.+)", cell.source)
            if match:
                return match.group(1).strip()
            break
    return re.sub(r"^\d+_", "", stem).replace("_", " ").capitalize()


def report_facts(notebook_path) -> ReportFacts:
    """What an executed notebook's report covers.

    Read from the notebook (its first heading, its parameters cell and the
    values papermill injected) and from the ``results.json`` beside it
    (date range covered, cxkit version).

    Parameters
    ----------
    notebook_path : str or Path
        The executed ``.ipynb``.

    Returns
    -------
    ReportFacts
    """
    import nbformat

    path = Path(notebook_path)
    nb = nbformat.read(path, as_version=4)
    return _facts(nb, path)


def _facts(nb, path: Path) -> ReportFacts:
    params = _parameters(nb)
    results = {}
    if (path.parent / "results.json").exists():
        try:
            results = json.loads((path.parent / "results.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            results = {}
    params = {**params, **(results.get("parameters") or {})}
    coverage = results.get("coverage") or {}
    from cxkit import __version__

    run_at = nb.metadata.get("papermill", {}).get("end_time")
    return ReportFacts(
        title=_title(nb, path.stem), notebook=path.stem,
        segment=str(params["segment"]) if "segment" in params else None,
        period=str(params["period"]) if params.get("period") else None,
        start=coverage.get("start") or params.get("start") or None,
        end=coverage.get("end") or params.get("end") or None,
        source=_source_name(params.get("config")),
        cxkit_version=results.get("cxkit_version") or __version__,
        run_at=str(run_at)[:16].replace("T", " ") + " UTC" if run_at else None)


def _header_html(facts: ReportFacts) -> str:
    meta = [f"Data: {html.escape(facts.source)}",
            f"cxkit {html.escape(str(facts.cxkit_version or 'unknown version'))}"]
    if facts.run_at:
        meta.append(f"computed {html.escape(facts.run_at)}")
    return (f"<header class='cx-header'><h1>{html.escape(facts.title)}</h1>"
            f"<p class='cx-scope'>{html.escape(facts.scope[:1].upper() + facts.scope[1:])}</p>"
            f"<p class='cx-meta'>{' · '.join(meta)}</p></header>")


def _take_notes(nb) -> list[str]:
    """Remove warnings, errors and stderr from the cells; return them as text."""
    notes = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream" and out.get("name") == "stderr":
                notes.append(f"cell {index}: {_ANSI.sub('', out.get('text', '')).strip()}")
            elif out.get("output_type") == "error":
                trace = _ANSI.sub("", "\n".join(out.get("traceback", [])))
                notes.append(f"cell {index}: {out.get('ename')}: {out.get('evalue')}\n{trace}")
                kept.append({"output_type": "display_data", "metadata": {}, "data": {
                    "text/html": "<p class='cx-failed'><b>This part of the report could not be "
                                 "computed.</b> The analyst finds the reason in the notes at "
                                 "the end.</p>"}})
            else:
                kept.append(out)
        cell["outputs"] = kept
    return notes


def _drop_narration(nb) -> None:
    """Drop a one-paragraph markdown cell that only narrates a code cell showing nothing.

    Without the code, "The revenue model (two-part, money per CSAT point)."
    followed by nothing tells a reader nothing; headings and longer text stay.
    """
    keep = []
    for i, cell in enumerate(nb.cells):
        after = nb.cells[i + 1] if i + 1 < len(nb.cells) else None
        narration = (cell.cell_type == "markdown" and "\n\n" not in cell.source.strip()
                     and not cell.source.lstrip().startswith("#"))
        if narration and after is not None and after.cell_type == "code" \
                and not after.get("outputs"):
            continue
        if cell.cell_type == "code" and not cell.get("outputs"):
            continue  # nothing to show: no empty block in the page
        keep.append(cell)
    nb.cells = keep


def _drop_title(nb) -> None:
    """The header carries the title: remove the first markdown heading line."""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = re.sub(r"\A\s*#\s+.+\n?", "", cell.source, count=1)
            return


def notes_path(html_path) -> Path:
    """Where :func:`render_html` puts the notes of the report ``html_path``."""
    html_path = Path(html_path)
    return html_path.with_name(html_path.stem + ".notes.txt")


def render_html(notebook_path, *, output_path=None) -> Path:
    """Render an executed notebook as a self-contained HTML report without code.

    Parameters
    ----------
    notebook_path : str or Path
        The executed ``.ipynb``.
    output_path : str or Path, optional
        Where to write; defaults to the notebook's path with ``.html``.

    Returns
    -------
    Path
        The written HTML file. Messages of the computation go to
        :func:`notes_path` of it (written only when there are any).
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    notebook_path = Path(notebook_path)
    out = Path(output_path) if output_path else notebook_path.with_suffix(".html")
    nb = nbformat.read(notebook_path, as_version=4)
    facts = _facts(nb, notebook_path)
    notes = _take_notes(nb)
    _drop_narration(nb)
    _drop_title(nb)
    nb.metadata["title"] = facts.page_title
    note_file = notes_path(out)
    if notes:
        note_file.write_text(f"Notes for the analyst: {facts.page_title}\n\n"
                             + "\n\n".join(notes) + "\n", encoding="utf-8")
        footer = (f"<section class='cx-notes'><h2>Notes for the analyst</h2><p>The computation "
                  f"of this report left {len(notes)} message{'s' if len(notes) > 1 else ''} "
                  f"(for example on small samples or model fitting). They are kept in "
                  f"<a href='{html.escape(note_file.name)}'>{html.escape(note_file.name)}</a> "
                  f"for the analyst to read before the report is passed on.</p></section>")
    else:
        note_file.unlink(missing_ok=True)
        footer = ""
    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True,
                            exclude_output_prompt=True, embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"cxkit_report.html.j2": _TEMPLATE})],
                            template_file="cxkit_report.html.j2")
    resources = {"metadata": {"name": facts.page_title}, "cxkit_css": PAGE_CSS,
                 "cxkit_header": _header_html(facts), "cxkit_footer": footer}
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    out.write_text(body, encoding="utf-8")
    return out


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def _kpi_text(row: Mapping, *, currency=None) -> str:
    """A KPI in words and its unit: ``first-contact resolution: 58.6%``."""
    from cxkit.display import column_unit, format_value
    from cxkit.registry import lookup

    name = str(row.get("outcome"))
    text = (f"{lookup(name).label}: "
            f"{format_value(row['estimate'], column_unit(name), currency=currency)}")
    if row.get("conf_low") is not None and row.get("conf_high") is not None:
        low, high = (format_value(row[k], column_unit(name), currency=currency)
                     for k in ("conf_low", "conf_high"))
        text += f" ({low} to {high})"
    return text


def short_effect(row: Mapping) -> str:
    """The effect sentence for a list of headlines: the sensitivity sentence becomes its E-value."""
    text, said = str(row["effect"]), row.get("sensitivity")
    if said and text.endswith("; " + str(said)):
        text = text[: -len(str(said)) - 2]
        if row.get("e_value") is not None and text.endswith("]"):
            text = f"{text[:-1]}; E-value {float(row['e_value']):.2f}]"
    return text


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
    payload = json.loads((root / run["results"]).read_text(encoding="utf-8"))
    # an estimate confounded by construction (ticket volume, contact) is never a headline
    rows = [r for r in payload["results"] if r.get("evidence") != "confounded by construction"]
    items = []
    for row in rows[:_HEADLINE_ROWS]:
        if row.get("model") == "kpi" and row.get("estimate") is not None:
            text = _kpi_text(row, currency=payload.get("currency"))
        elif row.get("effect"):
            text = short_effect(row)
        else:
            ci = f" (CI {_fmt(row.get('conf_low'))} to {_fmt(row.get('conf_high'))})"
            text = (f"{row.get('outcome')} ~ {row.get('term')}: {_fmt(row.get('estimate'))}"
                    f"{ci}, p = {_fmt(row.get('p_value'))}")
        items.append(f"<li>{html.escape(text)}</li>")
    more = f"<li class='muted'>… {len(rows) - _HEADLINE_ROWS} more in results.csv</li>" \
        if len(rows) > _HEADLINE_ROWS else ""
    return f"<ul>{''.join(items)}{more}</ul>" if items else "<span class='muted'>no rows</span>"


def _note_count(run: Mapping, root: Path) -> int:
    if not run.get("html"):
        return 0
    path = notes_path(root / run["html"])
    if not path.exists():
        return 0
    return path.read_text(encoding="utf-8").count("\n\ncell ")


def _run_row(run: Mapping, root: Path) -> str:
    facts = None
    nb_path = root / run["notebook_path"]
    if nb_path.exists():
        try:
            facts = report_facts(nb_path)
        except (OSError, ValueError):
            facts = None
    scope = facts.scope if facts else (
        ", ".join(f"{k}={v}" for k, v in run["label_parameters"].items()) or "defaults")
    links = [f"<a href='{html.escape(run['notebook_path'])}'>notebook</a>"]
    if run.get("html"):
        links.insert(0, f"<a href='{html.escape(run['html'])}'>report</a>")
    n_notes = _note_count(run, root)
    status = html.escape(run["status"])
    if n_notes:
        note_href = html.escape(str(notes_path(run["html"])))
        status += (f"<br><a class='flag' href='{note_href}'>{n_notes} note"
                   f"{'s' if n_notes > 1 else ''} for the analyst</a>")
    return (f"<tr class='{html.escape(run['status'])}{' noted' if n_notes else ''}'>"
            f"<td>{html.escape(scope)}</td><td>{status}</td>"
            f"<td>{run['duration_seconds']:.0f} s</td><td>{' '.join(links)}</td>"
            f"<td>{_headline(run, root)}</td></tr>")


def write_index(run_dir, *, manifest: Mapping) -> Path:
    """Write ``index.html`` linking every run of a batch, grouped by notebook.

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
    groups: dict[str, list[str]] = {}
    titles: dict[str, str] = {}
    for run in manifest["runs"]:
        groups.setdefault(run["notebook"], []).append(_run_row(run, root))
        nb_path = root / run["notebook_path"]
        if run["notebook"] not in titles and nb_path.exists():
            try:
                titles[run["notebook"]] = report_facts(nb_path).title
            except (OSError, ValueError):
                pass
    sections = []
    for notebook, rows in groups.items():
        title = titles.get(notebook, notebook)
        sections.append(
            f"<h2>{html.escape(title)} <span class='muted'>({html.escape(notebook)})</span></h2>"
            "<table><tr><th>covers</th><th>status</th><th>time</th><th>files</th>"
            f"<th>headline</th></tr>{''.join(rows)}</table>")
    n_failed = sum(r["status"] != "ok" for r in manifest["runs"])
    n_noted = sum(_note_count(r, root) > 0 for r in manifest["runs"])
    versions = manifest.get("versions") or {}
    started = str(manifest.get("started_at", ""))[:16].replace("T", " ")
    source = _source_name(manifest.get("source"))
    title = f"CX reports of {started} UTC" if started else f"CX reports {manifest['run_id']}"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>{html.escape(title)} — {html.escape(source)}</title>
<style>{PAGE_CSS}
body {{ margin: 2em; max-width: 75em; }}
table {{ border-collapse: collapse; width: 100%; table-layout: fixed; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .4em .6em; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }}
th:nth-child(1) {{ width: 22%; }} th:nth-child(2) {{ width: 12%; }}
th:nth-child(3) {{ width: 6%; }} th:nth-child(4) {{ width: 10%; }}
tr.failed td {{ background: #fdecea; }} tr.noted td:nth-child(2) {{ background: #fff6dd; }}
.err {{ color: #a40000; }} .muted {{ color: #777; font-weight: normal; }}
.flag {{ color: #8a5a00; }} ul {{ margin: 0; padding-left: 1.2em; }}
h2 {{ margin-top: 1.6em; font-size: 1.25em; }}
</style></head><body>
<header class="cx-header"><h1>{html.escape(title)}</h1>
<p class="cx-scope">Data: {html.escape(source)} · cxkit {html.escape(str(versions.get('cxkit')))}
 · status <b>{html.escape(manifest['status'])}</b>: {len(manifest['runs'])} reports,
{n_failed} failed, {n_noted} with notes for the analyst.</p>
<p class="cx-meta">All estimates: <a href="results.csv">results.csv</a> (with
Benjamini-Hochberg adjusted p-values); provenance: <a href="manifest.json">manifest.json</a>
(data fingerprint <code>{html.escape(str(manifest.get('data_fingerprint')))}</code>);
every batch so far: <a href="../history.html">history</a>.</p></header>
{chr(10).join(sections)}
</body></html>
"""
    path = root / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
