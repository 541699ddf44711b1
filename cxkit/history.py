"""The history page: headline KPIs and effects of every complete batch, over time.

:func:`write_history` reads the batch folders under an output root (each
``<run id>/`` with a ``manifest.json``; ``.tmp-*`` folders of unfinished
batches are left out) and writes ``<output_root>/history.html``: one row per
batch with its status and link, the headline KPIs of the KPI report and the
headline effects of the executive summary (or the retention report) for all
customers, and small charts of each over time. Every batch's ``index.html``
links to it.
"""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import pandas as pd

from cxkit.render import PAGE_CSS, short_effect

__all__ = ["list_batches", "history_table", "write_history"]

_KPI_NOTEBOOK = "02_support_kpis"
_EFFECT_NOTEBOOKS = ("06_executive_summary", "03_retention_drivers")


def list_batches(output_root) -> list[dict]:
    """Every complete batch under ``output_root``, oldest first.

    Returns
    -------
    list of dict
        ``run_id``, ``started_at``, ``status``, ``n_runs``, ``n_failed`` and
        ``path`` (the batch folder) per batch whose ``manifest.json`` exists.
    """
    out = []
    root = Path(output_root)
    if not root.is_dir():
        return out
    for folder in root.iterdir():
        if folder.name.startswith(".") or folder.is_symlink() or not folder.is_dir():
            continue
        manifest_path = folder / "manifest.json"
        if not manifest_path.exists():
            continue
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        runs = manifest.get("runs") or []
        out.append({"run_id": manifest.get("run_id", folder.name),
                    "started_at": str(manifest.get("started_at") or ""),
                    "status": manifest.get("status"), "n_runs": len(runs),
                    "n_failed": sum(r.get("status") != "ok" for r in runs), "path": folder})
    return sorted(out, key=lambda b: (b["started_at"], b["run_id"]))


def _rows(folder: Path) -> pd.DataFrame:
    """The batch's estimates for all customers, read from its runs' ``results.json``."""
    from cxkit.report import collect_results

    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        table = collect_results(manifest.get("runs") or [], root=folder)
    except (OSError, ValueError, KeyError):
        return pd.DataFrame()
    if "segment" in table.columns:
        table = table[table["segment"].isna() | (table["segment"].astype(str) == "all")]
    return table


def history_table(output_root) -> pd.DataFrame:
    """One row per (batch, headline figure): KPIs and effects for all customers.

    Returns
    -------
    DataFrame
        Columns ``run_id, started_at, status, kind`` ("kpi" or "effect"),
        ``name`` (KPI or ``outcome ~ term``), ``model``, ``estimate``,
        ``conf_low``, ``conf_high`` (in the model's units) and ``effect``
        (the plain-words sentence, for effects).
    """
    records = []
    for batch in list_batches(output_root):
        rows = _rows(batch["path"])
        base = {k: batch[k] for k in ("run_id", "started_at", "status")}
        if rows.empty:
            records.append({**base, "kind": None})
            continue
        kpis = rows[rows["notebook"] == _KPI_NOTEBOOK]
        for r in kpis.itertuples(index=False):
            records.append({**base, "kind": "kpi", "name": r.outcome, "model": None,
                            "estimate": r.estimate, "conf_low": r.conf_low,
                            "conf_high": r.conf_high, "effect": None})
        for notebook in _EFFECT_NOTEBOOKS:
            effects = rows[rows["notebook"] == notebook]
            if len(effects):
                for r in effects.itertuples(index=False):
                    if getattr(r, "evidence", None) == "confounded by construction":
                        continue  # never a headline (see cxkit.evidence)
                    records.append({**base, "kind": "effect", "name": f"{r.outcome} ~ {r.term}",
                                    "model": r.model, "estimate": r.estimate,
                                    "conf_low": r.conf_low, "conf_high": r.conf_high,
                                    "effect": short_effect(r._asdict())
                                    if isinstance(r.effect, str) else None})
                break
        if not len(kpis) and not any((rows["notebook"] == n).any() for n in _EFFECT_NOTEBOOKS):
            records.append({**base, "kind": None})
    columns = ["run_id", "started_at", "status", "kind", "name", "model", "estimate",
               "conf_low", "conf_high", "effect"]
    return pd.DataFrame.from_records(records, columns=columns)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _charts(table: pd.DataFrame, kind: str) -> str:
    """Small multiples of one kind of figure over batch start times, as an <img>."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    import numpy as np

    from cxkit.display import column_unit

    part = table[table["kind"] == kind].dropna(subset=["estimate"])
    names = list(dict.fromkeys(part["name"]))
    if not names:
        return ""
    cols = min(4, len(names))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.3 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    batches = list(dict.fromkeys(part["run_id"]))  # oldest first, one x position each
    ticks = {b: pd.Timestamp(str(part.loc[part["run_id"] == b, "started_at"].iloc[0])[:16])
             .strftime("%d %b %H:%M") for b in batches}
    for ax, name in zip(axes.flat, names, strict=False):  # the grid may have spare cells
        one = part[part["name"] == name]
        x = np.array([batches.index(b) for b in one["run_id"]], float)
        est = one["estimate"].to_numpy(float)
        low = one["conf_low"].to_numpy(float)
        high = one["conf_high"].to_numpy(float)
        if np.isfinite(low).any():
            err = np.vstack([np.nan_to_num(est - low), np.nan_to_num(high - est)])
            ax.errorbar(x, est, yerr=err, fmt="o-", capsize=3)
        else:
            ax.plot(x, est, "o-")
        if kind == "kpi":
            unit = column_unit(name)
            ax.set_ylabel({"share": "share (0-1)", "minutes": "minutes", "hours": "hours",
                           "pct": "%", "score": "score"}.get(unit, "value"))
            ax.set_title(name.replace("_", " "), fontsize=9)
        else:
            model = one["model"].iloc[0]
            ax.set_ylabel("log-odds per unit" if model == "logit" else
                          "currency per unit" if "revenue" in name else "model units")
            ax.set_title(name.split(" ~ ")[1].replace("_", " ") + f" → {name.split(' ~ ')[0]}",
                         fontsize=9)
        ax.set_xlabel("batch start (UTC)")
        shown = np.unique(np.linspace(0, len(batches) - 1, min(len(batches), 4)).round())
        ax.set_xticks(shown)
        ax.set_xticklabels([ticks[batches[int(i)]] for i in shown], fontsize=7)
        ax.set_xlim(-0.5, len(batches) - 0.5)
    fig.tight_layout()
    data = _png(fig)
    plt.close(fig)
    label = "headline KPIs" if kind == "kpi" else "headline effects (95% intervals)"
    return f"<img alt='{label} per batch' src='data:image/png;base64,{data}'>"


def write_history(output_root) -> Path:
    """Write ``<output_root>/history.html`` from every complete batch folder.

    Parameters
    ----------
    output_root : str or Path
        The folder holding the batch folders (``reports``).

    Returns
    -------
    Path
        The written page (written atomically).
    """
    from cxkit.display import column_unit, format_value

    root = Path(output_root)
    batches = list_batches(root)
    table = history_table(root)
    kpi_names = list(dict.fromkeys(table.loc[table["kind"] == "kpi", "name"]))
    rows = []
    for batch in reversed(batches):
        mine = table[table["run_id"] == batch["run_id"]]
        kpis = {r.name: format_value(r.estimate, column_unit(r.name))
                for r in mine[mine["kind"] == "kpi"].itertuples(index=False)}
        effects = [str(r.effect) if isinstance(r.effect, str) else
                   f"{r.name}: {format_value(r.estimate)}"
                   for r in mine[mine["kind"] == "effect"].itertuples(index=False)]
        when = batch["started_at"][:16].replace("T", " ") or batch["run_id"]
        status = html.escape(str(batch["status"]))
        if batch["n_failed"]:
            status += f" ({batch['n_failed']} of {batch['n_runs']} failed)"
        cells = "".join(f"<td class='num'>{html.escape(kpis.get(k, '–'))}</td>"
                        for k in kpi_names)
        items = "".join(f"<li>{html.escape(e)}</li>" for e in effects) or "–"
        rows.append(f"<tr><td class='when'><a href='{html.escape(batch['run_id'])}/index.html'>"
                    f"{html.escape(when)}</a></td><td class='status'>{status}</td>{cells}"
                    f"<td><ul>{items}</ul></td></tr>")
    heads = "".join(f"<th>{html.escape(k.replace('_', ' '))}</th>" for k in kpi_names)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>CX report history — {len(batches)} batches</title>
<style>{PAGE_CSS}
body {{ margin: 2em; max-width: 75em; }}
table {{ border-collapse: collapse; width: 100%; font-size: .85em; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .3em .5em; text-align: left;
  vertical-align: top; overflow-wrap: anywhere; }}
td.num, td.when, td.status {{ text-align: right; white-space: nowrap; overflow-wrap: normal; }}
td.when, td.status {{ text-align: left; }} ul {{ margin: 0; padding-left: 1.1em; }}
img {{ max-width: 100%; height: auto; }}
</style></head><body>
<header class="cx-header"><h1>CX report history</h1>
<p class="cx-scope">{len(batches)} complete batches, newest first · all customers</p>
<p class="cx-meta">KPIs from the support KPI report, effects from the executive summary
(or the retention report); each batch links to its reports.</p></header>
<h2>Headline KPIs over time</h2>
{_charts(table, "kpi")}
<h2>Headline effects over time</h2>
{_charts(table, "effect")}
<h2>Every batch</h2>
<table><tr><th>batch (UTC)</th><th>status</th>{heads}<th>headline effects</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    path = root / "history.html"
    tmp = root / ".history.html.tmp"
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
