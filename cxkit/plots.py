"""Plots of model results: forest plot, Kaplan-Meier curves, importance quadrant.

Every function takes the data first, ``ax=None`` (a new figure when None)
and returns the matplotlib ``Axes``; axes are labelled with units.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from cxkit.results import driver_label
from cxkit.availability import adapts

__all__ = ["set_theme", "forest_plot", "km_plot", "quadrant_plot"]


def set_theme() -> None:
    """The one display theme of cxkit notebooks.

    Seaborn's white grid with a colour-blind palette for every figure, and
    pandas tables that show sentences whole and numbers to 4 significant digits.
    """
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
        Any fitted result; its ``effects()`` table is drawn (pp, currency or
        hazard ratio per unit of the driver).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
    """
    ax = _axes(ax)
    eff = result.effects().iloc[::-1]
    y = np.arange(len(eff))
    est = eff["ame"].to_numpy(float)
    err = np.vstack([est - eff["ame_conf_low"].to_numpy(float),
                     eff["ame_conf_high"].to_numpy(float) - est])
    ax.errorbar(est, y, xerr=err, fmt="o", color="C0", capsize=3)
    ref = 1.0 if result.effect_unit == "hazard ratio" else 0.0
    ax.axvline(ref, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y)
    ax.set_yticklabels([driver_label(t)[0] + f" (per 1{driver_label(t)[1] or ' unit'})"
                        if driver_label(t)[1] != " pp" else driver_label(t)[0] + " (per 1.0)"
                        for t in eff["term"]])
    level = round(100 * (1 - result.alpha))
    ax.set_xlabel(f"Effect on {result.outcome_label} ({result.effect_unit}), {level}% CI")
    ax.set_ylabel("driver")
    return ax


def km_plot(km: pd.DataFrame, *, ax=None, time_unit: str = "months"):
    """Kaplan-Meier curves from :func:`cxkit.survival.kaplan_meier`, one per group.

    Returns
    -------
    matplotlib.axes.Axes
        Step curves (share not churned, 0-1) with shaded pointwise intervals.
    """
    ax = _axes(ax)
    for i, (name, part) in enumerate(km.groupby("group", sort=True)):
        t = np.r_[0, part["time"].to_numpy(float)]
        s = np.r_[1, part["survival"].to_numpy(float)]
        ax.step(t, s, where="post", color=f"C{i}", label=str(name))
        ax.fill_between(t, np.r_[1, part["conf_low"]], np.r_[1, part["conf_high"]], step="post",
                        color=f"C{i}", alpha=0.2)
    ax.set_xlabel(f"time ({time_unit})")
    ax.set_ylabel("share not churned (0-1)")
    ax.set_ylim(0, 1.02)
    if km["group"].nunique() > 1:
        ax.legend(title="group")
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
