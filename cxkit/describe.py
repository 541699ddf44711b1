"""Display tables and figures the analysis notebooks show, one call per cell.

Each function takes validated data, a panel or fitted results and returns
one table (``describe_*``) or draws one figure (``*_plot``, returns the
Axes). Tables carry no timestamps of the run, paths or memory addresses, so
executed notebooks are stable.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from scipy import stats

from cxkit import registry
from cxkit.data import SupportData
from cxkit.exceptions import ParameterError
from cxkit.periods import check_period, period_starts

__all__ = [
    "select", "describe_sources", "describe_panel", "coverage_plot", "describe_associations",
    "headline_rows", "describe_findings", "describe_claims", "describe_performance",
    "value_per_retained_customer", "quality_rows", "kpi_rows",
]

_TIME_COLUMNS = {"customers": "signup_at", "tickets": "created_at", "revenue": "paid_at",
                 "surveys": "answered_at"}


def select(obj, *, segment: str = "all", start=None, end=None):
    """Restrict data or a panel to one segment and a time range.

    Parameters
    ----------
    obj : SupportData or DataFrame
        Validated data (customers filtered by ``segment``; their events kept,
        events outside ``start``..``end`` dropped) or a panel (rows filtered
        by ``segment`` and ``period``).
    segment : str
        A value of the ``segment`` column, or ``"all"``.
    start, end : str or Timestamp, optional
        Inclusive period range (``YYYY-MM-DD``); ``None`` = unbounded.

    Returns
    -------
    Same type as ``obj``.

    Raises
    ------
    ParameterError
        ``segment`` is not a segment of the data.
    """
    start = None if start in (None, "") else pd.Timestamp(start)
    end = None if end in (None, "") else pd.Timestamp(end)
    frame = obj.customers if isinstance(obj, SupportData) else obj
    if segment != "all":
        if "segment" not in frame.columns:
            raise ParameterError(f"segment={segment!r} asked for, but the data has no "
                                 "'segment' column; use segment='all'.")
        known = sorted(frame["segment"].dropna().unique())
        if segment not in known:
            raise ParameterError(f"segment={segment!r} is not in the data; segments are "
                                 f"{known} (or 'all').")
    if not isinstance(obj, SupportData):
        keep = pd.Series(True, index=obj.index)
        if segment != "all":
            keep &= obj["segment"] == segment
        if start is not None:
            keep &= obj["period"] >= start
        if end is not None:
            keep &= obj["period"] <= end
        out = obj.loc[keep].reset_index(drop=True)
        out.attrs = dict(obj.attrs)
        return out
    customers = obj.customers
    if segment != "all":
        customers = customers[customers["segment"] == segment]
    ids = set(customers["customer_id"])
    tables = {}
    for name in ("tickets", "revenue", "surveys"):
        df = getattr(obj, name)
        if df is None:
            continue
        keep = df["customer_id"].isin(ids)
        ts = df[_TIME_COLUMNS[name]]
        if start is not None:
            keep &= ts >= start
        if end is not None:
            keep &= ts < end + pd.offsets.MonthBegin(1) if end.day == 1 else ts <= end
        tables[name] = df.loc[keep].reset_index(drop=True)
    return dataclasses.replace(obj, customers=customers.reset_index(drop=True), **tables)


def describe_sources(data: SupportData) -> pd.DataFrame:
    """What was loaded: one row per table with rows, customers, time span, rows set aside."""
    quarantined = {}
    if len(data.quality):
        quarantined = data.quality.groupby("table")["rows_quarantined"].sum().to_dict()
    rows = []
    for name, df in data.tables().items():
        ts = df[_TIME_COLUMNS[name]]
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
        ts = df[_TIME_COLUMNS[name]].dropna()
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


def describe_associations(panel: pd.DataFrame, *, drivers, outcome: str = "churned_next",
                          bands: int = 4) -> pd.DataFrame:
    """Raw (unadjusted) outcome rate by band of each driver, with counts.

    Rows with the driver missing (no ticket in the period) form their own
    band ``"no ticket"``, so the trap is visible: those customers differ.
    """
    rows = []
    df = panel[panel["outcome_observed"] & panel[outcome].notna()]
    for drv in drivers:
        x = df[drv]
        label = pd.Series("no ticket", index=df.index, dtype=object)
        has = x.notna()
        if has.sum() >= bands:
            cut = pd.qcut(x[has], bands, duplicates="drop")
            if cut.cat.categories.size < bands:  # few distinct values: equal-width bands
                cut = pd.cut(x[has], bands, include_lowest=True)
            label[has] = cut.map(lambda iv: f"{max(iv.left, x[has].min()):.3g}–{iv.right:.3g}")
        for band, g in df.groupby(label, sort=False):
            rows.append({"driver": drv, "band": band, "n_obs": len(g),
                         f"{outcome}_pct": round(100 * g[outcome].mean(), 2)})
    out = pd.DataFrame(rows)
    order = out["band"].map(_band_order)
    return (out.assign(_o=order).sort_values(["driver", "_o"], kind="stable")
            .drop(columns="_o").reset_index(drop=True))


def _band_order(v):
    if isinstance(v, str) and v != "no ticket":
        return float(v.split("–")[0])
    return -np.inf if v == "no ticket" else v


def headline_rows(*results, notebook: str | None = None) -> pd.DataFrame:
    """Result rows for ``results.json``: one per driver of each fitted model.

    ``estimate`` and its interval are on the model's own scale (log-odds for
    a logit, log hazard for Cox, currency per driver unit for revenue models),
    so they can be compared with a generator's truth; ``effect`` is the plain
    sentence for the change in the driver's registry entry (``step``, see
    :func:`cxkit.registry.lookup`).
    """
    rows = []
    for res in results:
        tidy = res.tidy().set_index("term")
        effects = res.effects().set_index("term")
        for term in res.drivers:
            if term not in effects.index:
                continue
            money = res.effect_unit not in ("pp", "hazard ratio")
            src = effects.loc[term] if money else tidy.loc[term]
            est, lo, hi = ((src["ame"], src["ame_conf_low"], src["ame_conf_high"]) if money
                           else (src["estimate"], src["conf_low"], src["conf_high"]))
            rows.append({"notebook": notebook, "model": res.kind, "outcome": res.outcome,
                         "term": term, "estimate": float(est), "conf_low": float(lo),
                         "conf_high": float(hi), "p_value": float(src["p_value"]),
                         "n_obs": int(res.n_obs),
                         "effect": res.effect(term, registry.lookup(term).step)["sentence"]})
    return pd.DataFrame(rows)


def describe_findings(*results, what_if=None) -> pd.DataFrame:
    """Headline findings as plain sentences, strongest evidence first."""
    rows = headline_rows(*results)
    rows = rows.sort_values("p_value", kind="stable")
    verdict = np.where(rows["p_value"] < 0.05, "clear", "not distinguishable from zero")
    out = pd.DataFrame({"finding": rows["effect"].to_numpy(), "evidence": verdict,
                        "model": rows["model"].to_numpy()})
    if what_if is not None:
        extra = pd.DataFrame([{"finding": what_if.sentence, "evidence": "scenario",
                               "model": "what_if"}])
        out = pd.concat([out, extra], ignore_index=True)
    return out.reset_index(drop=True)


def _wilson(k: float, n: float, alpha: float) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    z = stats.norm.ppf(1 - alpha / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _bootstrap_ratio(a: np.ndarray, b: np.ndarray, *, alpha: float, seed: int = 0,
                     n_boot: int = 400) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    est = a.mean() / b.mean() - 1
    boots = [rng.choice(a, a.size).mean() / rng.choice(b, b.size).mean() - 1
             for _ in range(n_boot)]
    lo, hi = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return est, lo, hi


def describe_claims(data: SupportData, panel: pd.DataFrame, *, what_if=None,
                    alpha: float = 0.05) -> pd.DataFrame:
    """Your figures beside the industry claims most often quoted about support and CX.

    Each claim is cross-company and correlational; each of your figures is
    computed from your own data with its interval, and is itself descriptive
    unless a row says it comes from the guarded model.

    Returns
    -------
    DataFrame
        ``claim, industry_figure, your_estimate, conf_low, conf_high, unit,
        n_obs, caveat``.
    """
    level = round(100 * (1 - alpha))
    rows = []
    # 1. positive service experience -> spend 17% more
    obs = panel[panel["outcome_observed"] & panel["csat_mean"].notna()]
    pos = obs.loc[obs["csat_mean"] >= 4, "revenue_next_amount"].to_numpy(float)
    neg = obs.loc[obs["csat_mean"] < 4, "revenue_next_amount"].to_numpy(float)
    if pos.size and neg.size:
        est, lo, hi = _bootstrap_ratio(pos, neg, alpha=alpha)
        rows.append({"claim": "Customers with a positive service experience spend more",
                     "industry_figure": "+17%", "your_estimate": 100 * est,
                     "conf_low": 100 * lo, "conf_high": 100 * hi, "unit": "% more next-period spend",
                     "n_obs": int(pos.size + neg.size),
                     "caveat": "CSAT 4-5 vs 1-3 after a rated ticket; raw comparison, "
                               "bootstrap interval (rows resampled)."})
    # 2. omnichannel engagement -> 89% vs 33% retention
    tk, cust = data.tickets, data.customers
    if tk is not None and "channel" in tk.columns and len(tk):
        t0 = tk["created_at"].min().normalize().replace(day=1)
        t_mid = t0 + pd.DateOffset(months=6)
        t_end = t_mid + pd.DateOffset(months=12)
        alive = cust[(cust["signup_at"] < t0)
                     & (cust["churned_at"].isna() | (cust["churned_at"] >= t_mid))]
        early = tk[(tk["created_at"] < t_mid) & tk["customer_id"].isin(alive["customer_id"])]
        n_channels = early.groupby("customer_id")["channel"].nunique()
        retained = alive.set_index("customer_id")["churned_at"].pipe(
            lambda s: s.isna() | (s >= t_end))
        for label, mask in (("3+ channels", n_channels >= 3), ("1 channel", n_channels == 1)):
            ids = n_channels.index[mask]
            k, n = retained.reindex(ids).sum(), len(ids)
            lo, hi = _wilson(k, n, alpha)
            rows.append({"claim": f"Omnichannel engagement and retention ({label})",
                         "industry_figure": "89% strong vs 33% weak",
                         "your_estimate": 100 * k / n if n else np.nan,
                         "conf_low": 100 * lo, "conf_high": 100 * hi,
                         "unit": "% retained 12 months later", "n_obs": int(n),
                         "caveat": "channels used in the first 6 months, retention over the "
                                   "next 12; Wilson interval; heavy users differ in many ways."})
    # 3. 75% repeat-customer rate
    rv = data.revenue
    if rv is not None and len(rv):
        months = rv.assign(m=rv["paid_at"].dt.to_period("M")).groupby("customer_id")["m"].nunique()
        k, n = int((months >= 2).sum()), len(months)
        lo, hi = _wilson(k, n, alpha)
        rows.append({"claim": "Repeat-customer rate (retailer famous for support)",
                     "industry_figure": "75%", "your_estimate": 100 * k / n,
                     "conf_low": 100 * lo, "conf_high": 100 * hi,
                     "unit": "% of buyers buying in 2+ months", "n_obs": n,
                     "caveat": "share of paying customers; Wilson interval."})
    # 4. aligning support with CX lifts satisfaction and retention 15-20%
    if what_if is not None:
        t = what_if.table().set_index("quantity")
        if "churn_rate" in t.index:
            r = t.loc["churn_rate"]
            retained_pct = 100.0 - r["baseline"]  # churn_rate is in percent
            rel = lambda v: -100 * v / retained_pct  # noqa: E731
            rows.append({"claim": "Aligning support with CX lifts retention",
                         "industry_figure": "+15-20%", "your_estimate": rel(r["change"]),
                         "conf_low": min(rel(r["conf_low"]), rel(r["conf_high"])),
                         "conf_high": max(rel(r["conf_low"]), rel(r["conf_high"])),
                         "unit": "% relative change in next-period retention",
                         "n_obs": None,
                         "caveat": "from the guarded retention model under the what-if "
                                   "scenario; your own causal-design estimate."})
    out = pd.DataFrame(rows)
    if len(out):
        out["n_obs"] = out["n_obs"].astype("Int64")
        for col in ("your_estimate", "conf_low", "conf_high"):
            out[col] = out[col].astype(float).round(1)
        out = out.rename(columns={"conf_low": f"conf_low_{level}", "conf_high": f"conf_high_{level}"})
    return out


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
        if drv not in targets and registry.lookup(drv).target is not None:
            targets[drv] = registry.lookup(drv).target
        if drv not in targets:
            raise ParameterError(f"No target for driver {drv!r}; pass targets={{{drv!r}: "
                                 "('<=' or '>=', threshold)}.")
        op, thr = targets[drv]
        x = panel[drv].dropna()
        met = (x <= thr) if op == "<=" else (x >= thr)
        rows.append({"term": drv, "target": f"{op} {thr:g}",
                     "performance": round(100 * met.mean(), 1) if len(x) else np.nan,
                     "n_obs": int(len(x))})
    return pd.DataFrame(rows)


def value_per_retained_customer(panel: pd.DataFrame) -> float:
    """Mean revenue a customer still active brings in over the outcome horizon (currency)."""
    obs = panel[panel["outcome_observed"] & (panel["churned_next"] == 0)]
    return float(obs["revenue_next_amount"].mean())


def quality_rows(data: SupportData, *, notebook: str = "01_data_quality") -> pd.DataFrame:
    """Result rows for ``results.json``: rows set aside per table and rule."""
    q = data.quality
    if not len(q):
        return pd.DataFrame(columns=["notebook", "model", "outcome", "term", "estimate", "n_obs"])
    return pd.DataFrame({"notebook": notebook, "model": "data_quality",
                         "outcome": "rows_quarantined",
                         "term": q["table"].astype(str) + ": " + q["rule"].astype(str),
                         "estimate": q["rows_quarantined"].astype(float),
                         "n_obs": q["rows_in"].astype(int),
                         "effect": q["rows_quarantined"].astype(int).astype(str)
                         + " of " + q["rows_in"].astype(int).astype(str) + " rows set aside: "
                         + q["description"].astype(str)})


def kpi_rows(data: SupportData, *, alpha: float = 0.05,
             notebook: str = "02_support_kpis") -> pd.DataFrame:
    """Result rows for ``results.json``: overall KPIs, and NPS with its interval."""
    from cxkit import metrics

    k = metrics.compute_kpis(data).iloc[0]
    rows = []
    for col in ("first_response_minutes_median", "resolution_hours_median", "fcr_rate",
                "reopen_rate", "csat_mean", "ces_mean"):
        unit = registry.lookup(col).unit_words
        if col in k.index and pd.notna(k[col]):
            rows.append({"notebook": notebook, "model": "kpi", "outcome": col, "term": "overall",
                         "estimate": float(k[col]), "n_obs": int(k["n_tickets"]),
                         "effect": f"{col.replace('_', ' ')}: {k[col]:.3g} {unit}"})
    if data.surveys is not None and len(data.surveys):
        n = metrics.nps(data, alpha=alpha).iloc[0]
        rows.append({"notebook": notebook, "model": "kpi", "outcome": "nps", "term": "overall",
                     "estimate": float(n["nps"]), "conf_low": float(n["nps_conf_low"]),
                     "conf_high": float(n["nps_conf_high"]), "n_obs": int(n["n_responses"]),
                     "effect": f"NPS {n['nps']:+.1f} ({round(100 * (1 - alpha))}% CI "
                               f"{n['nps_conf_low']:+.1f} to {n['nps_conf_high']:+.1f})"})
    return pd.DataFrame(rows)
