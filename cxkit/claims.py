"""Your figures beside the industry claims most often quoted about support and CX.

:func:`describe_claims` computes, from the company's own data, the figure
each claim is about, with an interval from its own small inference (Wilson
intervals for shares, a bootstrap for a ratio of means); the claims
themselves are cross-company and correlational.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from cxkit.availability import adapts
from cxkit.data import SupportData

__all__ = ["describe_claims"]


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


@adapts(combine=True)
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
                     "conf_low": 100 * lo, "conf_high": 100 * hi,
                     "unit": "% more next-period spend",
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
        out = out.rename(columns={"conf_low": f"conf_low_{level}",
                                  "conf_high": f"conf_high_{level}"})
    return out
