"""Display tables and figures the analysis notebooks show, one call per cell.

Each function takes validated data, a panel or fitted results and returns
one table (``describe_*``) or draws one figure (``*_plot``, returns the
Axes). Tables carry no timestamps of the run, paths or memory addresses, so
executed notebooks are stable. Cutting data to a segment and periods is
:mod:`cxkit.selection`; rows for ``results.json`` are :mod:`cxkit.result_rows`;
the industry-claims comparison is :mod:`cxkit.claims`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit import registry
from cxkit.availability import Missing, adapts, term_columns
from cxkit.data import SupportData
from cxkit.exceptions import ParameterError
from cxkit.periods import check_period, period_starts
from cxkit.result_rows import headline_rows
from cxkit.schema import EVENT_TIME

__all__ = ["describe_sources", "describe_panel", "coverage_plot", "describe_associations",
           "describe_findings", "describe_performance", "value_per_retained_customer"]


def describe_sources(data: SupportData) -> pd.DataFrame:
    """What was loaded: one row per table with rows, customers, time span, rows set aside."""
    quarantined = {}
    if len(data.quality):
        quarantined = data.quality.groupby("table")["rows_quarantined"].sum().to_dict()
    rows = []
    for name, df in data.tables().items():
        ts = df[EVENT_TIME[name]]
        rows.append({"table": name, "rows": len(df),
                     "customers": df["customer_id"].nunique(),
                     "first": ts.min().date() if len(df) else None,
                     "last": ts.max().date() if len(df) else None,
                     "rows_quarantined": int(quarantined.get(name, 0))})
    return pd.DataFrame(rows)


def coverage_plot(data: SupportData, *, period: str = "M", ax=None):
    """Rows per period of each event table (tickets, revenue, surveys, signups).

    A gap or a cliff shows a broken export before it breaks an analysis.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    check_period(period)
    parts = []
    for name, df in data.tables().items():
        ts = df[EVENT_TIME[name]].dropna()
        counts = period_starts(ts, period).value_counts().sort_index()
        parts.append(pd.DataFrame({"period": counts.index, "rows": counts.to_numpy(),
                                   "table": name}))
    long = pd.concat(parts, ignore_index=True)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.5))
    sns.lineplot(data=long, x="period", y="rows", hue="table", marker="o", ax=ax)
    ax.set_xlabel("Period start")
    ax.set_ylabel("Rows per period (count)")
    ax.set_title("Coverage over time by table")
    return ax


def describe_panel(panel: pd.DataFrame) -> pd.DataFrame:
    """The customer x period table at a glance: size, contact share, outcome rates."""
    observed = panel[panel["outcome_observed"]]
    facts = {
        "period": panel.attrs.get("period"),
        "horizon (periods)": panel.attrs.get("horizon"),
        "rows (customer-periods)": len(panel),
        "customers": panel["customer_id"].nunique(),
        "periods": panel["period"].nunique(),
        "rows with a ticket (%)": round(100 * panel["contacted"].mean(), 1),
        "rows with the outcome observed": len(observed),
        "churn in next horizon (%)": round(100 * observed["churned_next"].mean(), 2),
        "revenue in next horizon, mean": round(observed["revenue_next_amount"].mean(), 2),
    }
    return pd.DataFrame({"fact": list(facts), "value": [str(v) for v in facts.values()]})


@adapts
def describe_associations(panel: pd.DataFrame, *, drivers, outcome: str = "churned_next",
                          bands: int = 4) -> pd.DataFrame:
    """Raw (unadjusted) outcome rate by band of each driver, with counts.

    Rows with the driver missing (no ticket in the period) form their own
    band ``"no ticket"``, so the trap is visible: those customers differ. A
    transformed driver (``log(resolution_hours_mean)``, ``x >= 4``) is banded
    by its column, in the column's units.
    """
    rows = []
    df = panel[panel["outcome_observed"] & panel[outcome].notna()]
    for drv in drivers:
        x = df[_column(drv, df)]  # a transform's bands are those of its column
        label = pd.Series("no ticket", index=df.index, dtype=object)
        has = x.notna()
        if has.sum() >= bands:
            cut = pd.qcut(x[has], bands, duplicates="drop")
            if cut.cat.categories.size < bands:  # few distinct values: equal-width bands
                cut = pd.cut(x[has], bands, include_lowest=True)
            low = x[has].min()
            label[has] = cut.map(lambda iv, low=low: f"{max(iv.left, low):.3g}–{iv.right:.3g}")
        for band, g in df.groupby(label, sort=False):
            rows.append({"driver": drv, "band": band, "n_obs": len(g),
                         f"{outcome}_pct": round(100 * g[outcome].mean(), 2)})
    out = pd.DataFrame(rows)
    order = out["band"].map(_band_order)
    return (out.assign(_o=order).sort_values(["driver", "_o"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def _column(term: str, frame: pd.DataFrame) -> str:
    """The panel column a driver term reads (the term itself when it is a column)."""
    if term in frame.columns:
        return term
    names = term_columns(term)
    return names[0] if names else term


def _band_order(v):
    if isinstance(v, str) and v != "no ticket":
        return float(v.split("–")[0])
    return -np.inf if v == "no ticket" else v


def describe_findings(*results, what_if=None) -> pd.DataFrame:
    """Headline findings as plain sentences, strongest evidence first.

    Columns ``finding, evidence, significance, model``: ``evidence`` is the
    estimate's evidence label (:mod:`cxkit.evidence`), ``significance`` says
    whether its interval excludes zero. Estimates confounded by construction
    (ticket volume, contact) are never findings: they are left out, and one
    last row says which were left out and where they are compared.
    A result that could not be estimated on this export (a
    :class:`~cxkit.availability.Missing` note) gets a row saying why, with
    evidence ``"not estimated"``.
    """
    from cxkit.evidence import CONFOUNDED, DESIGN_BASED

    notes = [{"finding": r.sentence, "evidence": "not estimated", "significance": "not estimated",
              "model": ""} for r in (*results, what_if) if isinstance(r, Missing)]
    what_if = None if isinstance(what_if, Missing) else what_if
    rows = headline_rows(*results)
    if not len(rows):
        return pd.DataFrame(notes, columns=["finding", "evidence", "significance", "model"])
    left_out = rows.loc[rows["evidence"] == CONFOUNDED, "term"].tolist()
    rows = rows.loc[rows["evidence"] != CONFOUNDED]
    rows = rows.assign(rank_=(rows["evidence"] != DESIGN_BASED).astype(int)).sort_values(
        ["rank_", "p_value"], kind="stable")
    significance = np.where(rows["p_value"] < 0.05, "clear", "not distinguishable from zero")
    out = pd.DataFrame({"finding": rows["effect"].to_numpy(),
                        "evidence": rows["evidence"].to_numpy(), "significance": significance,
                        "model": rows["model"].to_numpy()})
    if what_if is not None:
        extra = pd.DataFrame([{"finding": what_if.sentence,
                               "evidence": getattr(what_if, "evidence", None) or "scenario",
                               "significance": "scenario", "model": "what_if"}])
        out = pd.concat([out, extra], ignore_index=True)
    if left_out:
        note = (f"Not a finding: {', '.join(dict.fromkeys(left_out))} measure how much help "
                f"customers needed and are confounded by construction (problem-prone customers "
                f"contact support more and churn more); the naive-versus-adjusted comparison "
                f"shows them.")
        out = pd.concat([out, pd.DataFrame([{"finding": note, "evidence": CONFOUNDED,
                                             "significance": "not applicable",
                                             "model": "note"}])], ignore_index=True)
    if notes:
        out = pd.concat([out, pd.DataFrame(notes)], ignore_index=True)
    return out.reset_index(drop=True)


@adapts
def describe_performance(panel: pd.DataFrame, *, drivers, targets=None) -> pd.DataFrame:
    """How well the company does on each driver: % of contacted periods on target.

    Parameters
    ----------
    targets : dict, optional
        ``{driver: ("<=" or ">=", threshold)}``; defaults are the registry's
        targets (:func:`cxkit.registry.lookup`: resolution within 24 h, first
        response within 60 min, all tickets solved at first contact, CSAT 4+, CES 5+).

    Returns
    -------
    DataFrame
        ``term, target, performance`` (% of customer-periods with the driver
        measured that meet the target, 0-100), ``n_obs``.
    """
    targets = dict(targets or {})
    rows = []
    for drv in drivers:
        col = _column(drv, panel)  # a transform is on target when its column is
        if drv not in targets and registry.lookup(col).target is not None:
            targets[drv] = registry.lookup(col).target
        if drv not in targets:
            raise ParameterError(f"No target for driver {drv!r}; pass targets={{{drv!r}: "
                                 "('<=' or '>=', threshold)}.")
        op, thr = targets[drv]
        x = panel[col].dropna()
        met = (x <= thr) if op == "<=" else (x >= thr)
        rows.append({"term": drv, "target": f"{op} {thr:g}",
                     "performance": round(100 * met.mean(), 1) if len(x) else np.nan,
                     "n_obs": int(len(x))})
    return pd.DataFrame(rows)


@adapts
def value_per_retained_customer(panel: pd.DataFrame) -> float:
    """Mean revenue a customer still active brings in over the outcome horizon (currency)."""
    obs = panel[panel["outcome_observed"] & (panel["churned_next"] == 0)]
    return float(obs["revenue_next_amount"].mean())
