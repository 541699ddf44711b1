"""Plots of model results: forest plot, Kaplan-Meier curves, importance quadrant.

Every function takes the data first, ``ax=None`` (a new figure when None)
and returns the matplotlib ``Axes``; axes are labelled with units.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxkit.availability import adapts
from cxkit.labels import driver_label

__all__ = ["set_theme", "forest_plot", "km_plot", "quadrant_plot", "what_if_plot",
           "kpi_interval_plot", "effect_plot", "scenario_plot", "importance_plot"]


def set_theme() -> None:
    """The one display theme of cxkit notebooks.

    Seaborn's white grid with a colour-blind palette for every figure, and
    pandas tables that show sentences whole and numbers to 4 significant digits;
    in a notebook, tables are shown formatted by unit (:func:`cxkit.display.format_table`).
    """
    from cxkit.display import register_display

    register_display()
    pd.set_option("display.max_colwidth", None)
    pd.set_option("display.precision", 4)
    sns.set_theme(style="whitegrid", context="notebook", palette="colorblind",
                  rc={"figure.figsize": (7.5, 3.8), "axes.titleweight": "bold"})


def _axes(ax):
    if ax is None:
        _, ax = plt.subplots(figsize=(6.4, 3.6))
    return ax


def forest_plot(result, *, ax=None):
    """Driver effects with their intervals, one row per driver.

    Parameters
    ----------
    result : ModelResult
        Any fitted result; the rows of its ``effects()`` (a view of its
        estimates table) are drawn: pp, currency or hazard ratio per unit of
        the driver's column.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    eff = result.effects().iloc[::-1]
    columns = {t.text: t for t in result.spec.drivers}
    y = np.arange(len(eff))
    est = eff["estimate"].to_numpy(float)
    err = np.vstack([est - eff["conf_low"].to_numpy(float),
                     eff["conf_high"].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color="C0", capsize=3)
    ref = 1.0 if result.effect_unit == "hazard ratio" else 0.0
    ax.axvline(ref, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels([_per_unit(columns[t]) for t in eff["term"]])
    level = round(100 * (1 - result.alpha))
    ax.set_xlabel(f"Effect on {result.outcome_label} ({result.effect_unit}), {level}% CI")
    ax.set_ylabel("driver")
    return ax


def _per_unit(term) -> str:
    label, unit, scale = driver_label(term.column)
    if term.kind == "threshold":
        return f"{label} {term.function} {term.value * scale:g}{unit} (vs below)"
    per = " (per 1.0)" if unit == " pp" else f" (per 1{unit or ' unit'})"
    return label + per + (f", model {term.text}" if term.kind == "transform" else "")


def scenario_plot(table: pd.DataFrame, *, alpha: float = 0.05, ax=None):
    """Churn rate before and under a what-if scenario (pp), the change's interval drawn.

    Parameters
    ----------
    table : DataFrame
        :meth:`cxkit.results.WhatIfResult.table` (its ``churn_rate`` row is drawn).

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    row = table.set_index("quantity").loc["churn_rate"]
    base, scen = float(row["baseline"]), float(row["scenario"])
    lo, hi = base + float(row["conf_low"]), base + float(row["conf_high"])
    ax.bar([0, 1], [base, scen], color=["C7", "C0"], width=0.6)
    ax.errorbar([1], [scen], yerr=[[scen - lo], [hi - scen]], fmt="none", color="black",
                capsize=4)
    ax.set_xticks([0, 1])
    ax.set_xticklabels(["observed", "scenario"])
    level = round(100 * (1 - alpha))
    ax.set_ylabel(f"churn rate (%), {level}% CI of the change")
    return ax


def importance_plot(table: pd.DataFrame, *, alpha: float = 0.05, ax=None):
    """Each driver's share of the explained variation (%), largest first.

    Parameters
    ----------
    table : DataFrame
        :meth:`cxkit.results.ImportanceResult.table`.

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    t = table.sort_values("share_pct", ascending=True, kind="stable")
    ax.barh([driver_label(x)[0] for x in t["term"]], t["share_pct"], color="C0")
    ax.set_xlabel("share of explained variation (%)")
    ax.set_ylabel("driver")
    return ax


@adapts
def km_plot(km: pd.DataFrame, *, ax=None, time_unit: str = "months"):
    """Kaplan-Meier curves from :func:`cxkit.survival.kaplan_meier`, one per group.

    Returns
    -------
    matplotlib.axes.Axes
        Step curves (share not churned, 0-1) with shaded pointwise intervals.
    """
    ax = _axes(ax)
    for i, (name, part) in enumerate(km.groupby("group", sort=True, observed=True)):
        t = np.r_[0, part["time"].to_numpy(float)]
        s = np.r_[1, part["survival"].to_numpy(float)]
        ax.step(t, s, where="post", color=f"C{i}", label=str(name))
        ax.fill_between(t, np.r_[1, part["conf_low"]], np.r_[1, part["conf_high"]], step="post",
                        color=f"C{i}", alpha=0.2)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("share not churned (0-1)")
    ax.set_ylim(0, 1.02)
    if km["group"].nunique() > 1:
        ax.legend(title=km.attrs.get("group_title", "group"))
    return ax


@adapts
def quadrant_plot(table: pd.DataFrame, *, ax=None):
    """Importance-performance quadrant from :func:`cxkit.importance.importance_performance`.

    Returns
    -------
    matplotlib.axes.Axes
        Drivers placed by performance (x) and importance share (y, % of
        explained variation), split at the means.
    """
    ax = _axes(ax)
    sns.scatterplot(data=table, x="performance", y="share_pct", hue="quadrant", ax=ax, s=60)
    for r in table.itertuples(index=False):
        ax.annotate(driver_label(r.term)[0], (r.performance, r.share_pct),
                    textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.axvline(table["performance"].mean(), color="grey", linestyle="--", linewidth=1)
    ax.axhline(table["share_pct"].mean(), color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("performance (higher = better)")
    ax.set_ylabel("importance (% of explained variation)")
    return ax


@adapts
def what_if_plot(result, *, ax=None):
    """A what-if scenario in money: value of the customers kept per period, with interval.

    Parameters
    ----------
    result : WhatIfResult
        From :func:`cxkit.what_if` with a value per retained customer; its
        money rows (unit = a currency code) are drawn as bars with their
        interval, and the change in churn is stated in the title.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    from cxkit.display import format_value

    table = result.table()
    money = table[table["unit"].astype(str).str.fullmatch(r"[A-Z]{3}")]
    if ax is None:  # one slim bar per money row
        _, ax = plt.subplots(figsize=(6.4, 1.5 + 0.45 * max(len(money), 1)))
    if money.empty:
        from cxkit.exceptions import MissingDataError

        raise MissingDataError("the what-if has no money figure: it needs revenue per customer "
                               "(value_per_retained_customer_amount= of what_if, from the "
                               "revenue table).")
    currency = str(money["unit"].iloc[0])
    y = np.arange(len(money))
    est = money["change"].to_numpy(float)
    err = np.vstack([est - money["conf_low"].to_numpy(float),
                     money["conf_high"].to_numpy(float) - est])
    ax.barh(y, est, color="C2", alpha=0.75, height=0.5)
    ax.errorbar(est, y, xerr=err, fmt="none", ecolor="black", capsize=5)
    for yi, e, hi in zip(y, est, money["conf_high"].to_numpy(float), strict=True):
        ax.annotate(format_value(e, "money", currency=currency), (hi, yi),
                    textcoords="offset points", xytext=(6, -3), fontsize=9)
    ax.set_yticks(y)
    ax.set_yticklabels([str(q).replace("_", " ") for q in money["quantity"]])
    ax.axvline(0, color="grey", linewidth=1)
    ax.set_ylim(-0.8, len(money) - 0.2)
    ax.set_xlim(min(0, float(money["conf_low"].min())) * 1.1,
                max(0, float(money["conf_high"].max())) * 1.35)
    level = round(100 * (1 - result.alpha))
    ax.set_xlabel(f"change per period ({currency}), {level}% CI")
    ax.set_ylabel("")
    churn = table[table["unit"] == "pp"]
    if len(churn):
        r = churn.iloc[0]
        low, high = format_value(r["conf_low"], "pp"), format_value(r["conf_high"], "pp")
        ax.set_title(f"Scenario: churn {format_value(r['change'], 'pp')} ({low} to {high})",
                     fontsize=10)
    return ax


@adapts
def kpi_interval_plot(kpis: pd.DataFrame, *, kpi: str, n: str | None = None,
                      alpha: float = 0.05, ax=None):
    """One KPI per period with its confidence band.

    Parameters
    ----------
    kpis : DataFrame
        A per-period table (``period`` column), e.g. ``compute_kpis(data,
        period="M")`` or ``nps(data, period="M")``.
    kpi : str
        Column to draw. Its interval comes from ``{kpi}_conf_low`` and
        ``{kpi}_conf_high`` when the table has them; otherwise, for a share
        (``_rate``), from the Wilson interval on ``n`` observations.
    n : str, optional
        Column with the number of observations behind each share (e.g.
        ``"resolved_count"`` for ``fcr_rate``).
    alpha : float
        1 - confidence level of the Wilson band.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Period start on x; the KPI on y in its unit (shares in %).
    """
    from cxkit.display import column_unit
    from cxkit.exceptions import MissingDataError
    from cxkit.registry import lookup

    if "period" not in kpis.columns:
        raise ValueError(f"kpi_interval_plot needs a per-period table (column 'period'); the "
                         f"table has {list(kpis.columns)}: compute it with period=...")
    if kpi not in kpis.columns or kpis[kpi].isna().all():
        raise MissingDataError(f"{lookup(kpi).label} is not measured in this export ({kpi} has "
                               "no values), so its trend is not shown.")
    ax = _axes(ax)
    unit = column_unit(kpi, kpis[kpi])
    scale = 100.0 if unit == "share" else 1.0
    x = pd.to_datetime(kpis["period"])
    y = kpis[kpi].to_numpy(float)
    if f"{kpi}_conf_low" in kpis.columns:
        low = kpis[f"{kpi}_conf_low"].to_numpy(float)
        high = kpis[f"{kpi}_conf_high"].to_numpy(float)
    elif unit == "share" and n is not None:
        from statsmodels.stats.proportion import proportion_confint

        nobs = kpis[n].to_numpy(float)
        low, high = proportion_confint(np.round(y * nobs), np.maximum(nobs, 1), alpha=alpha,
                                       method="wilson")
    else:
        raise ValueError(f"no interval for {kpi!r}: the table has no {kpi}_conf_low/_conf_high "
                         "columns; for a share pass n= (the column of observations).")
    ax.plot(x, y * scale, marker="o", color="C0")
    ax.fill_between(x, low * scale, high * scale, color="C0", alpha=0.2,
                    label=f"{round(100 * (1 - alpha))}% CI")
    metric = lookup(kpi)
    units = {"share": "%", "pct": "%"}.get(unit) or metric.unit_words
    ax.set_ylabel(f"{metric.label[:1].upper() + metric.label[1:]} ({units})")
    ax.set_xlabel("period start")
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.legend(loc="best")
    return ax


@adapts
def effect_plot(result, *, deltas=None, ax=None):
    """Each driver's effect for the change its sentence states, with its interval.

    Unlike :func:`forest_plot` (effects per one unit of each driver, on very
    different scales), every row is the change a reader would act on — e.g.
    2 hours faster resolution, 10 points more first-contact resolution — so
    the bars compare.

    Parameters
    ----------
    result : ModelResult
        A fitted churn or revenue model.
    deltas : mapping, optional
        Driver -> change in driver units; default: each driver's effect step
        in the metric registry (``registry.lookup(term).step``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One row per driver: the effect in the model's unit (pp of churn,
        currency, hazard ratio) with its interval; y labels state the change.
    """
    from cxkit.registry import lookup

    ax = _axes(ax)
    steps = dict(deltas or {})
    rows = [result.effect(term, steps.get(term, lookup(result.spec.driver(term).column).step))
            for term in result.effects()["term"]][::-1]
    y = np.arange(len(rows))
    est = np.array([r["estimate"] for r in rows], float)
    err = np.vstack([est - np.array([r["conf_low"] for r in rows], float),
                     np.array([r["conf_high"] for r in rows], float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color="C0", capsize=4)
    ref = 1.0 if result.effect_unit == "hazard ratio" else 0.0
    ax.axvline(ref, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels([r["sentence"].split(" ≈ ")[0] for r in rows])
    level = round(100 * (1 - result.alpha))
    ax.set_xlabel(f"Effect on {result.outcome_label} ({result.effect_unit}), {level}% CI")
    ax.set_ylabel("change in support")
    return ax
