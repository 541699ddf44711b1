"""Generated helpdesk data with planted, known effects.

:func:`make_sample` simulates a subscription business month by month:
customers with plans and segments, tickets with channels, reasons, teams,
response and resolution times, first-contact resolution, reopens,
escalations, CSAT and CES; purchases; NPS surveys; and churn. The true
effects are returned (and written as ``truth.json``) so every estimate cxkit
makes can be checked against them:

* churn in month t+1 rises with the mean resolution time of the tickets
  resolved in month t and falls with their first-contact resolution rate
  (log-odds per hour and per unit of rate);
* first response time has **no** effect on churn (a null driver);
* a higher CSAT in month t raises the chance of a purchase in month t+1 and
  its amount (a two-part effect, also given in currency per CSAT point);
* an unobserved *problem propensity* raises both ticket volume and churn, so a
  naive "more tickets, more churn" regression finds an effect whose causal
  value is zero.

The month-t support metrics that drive the outcomes are computed exactly as
:func:`cxkit.panel.build_panel` computes them (tickets created in month t and
resolved before its end), so a correctly specified model can recover them.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cxkit.data import SupportData

__all__ = ["make_sample", "write_sample", "TRUTH"]

PLANS = ("basic", "pro", "enterprise")
PLAN_SHARE = (0.55, 0.33, 0.12)
SEGMENTS = ("SMB", "Mid-Market", "Enterprise")
REGIONS = ("Americas", "EMEA", "APAC")
CHANNELS = ("email", "chat", "phone", "web", "self_service")
CHANNEL_SHARE = (0.38, 0.27, 0.15, 0.12, 0.08)
REASONS = ("service_problem", "roadblock", "missing_information", "complexity", "billing")
REASON_SHARE = (0.30, 0.22, 0.20, 0.13, 0.15)

# Planted effects (the generator's truth). Log-odds per unit of the panel column.
TRUTH = {
    "churn": {
        "model": "logit of churned_next (churn in month t+1) on month-t support metrics",
        "log_odds": {
            "resolution_hours_mean": 0.02,  # per hour
            "fcr_rate": -0.9,  # per unit of rate (0 -> 1)
            "first_response_minutes_median": 0.0,  # null driver
            "ticket_count": 0.0,  # causal effect; confounded by problem propensity
            "csat_mean": 0.0,
        },
        "intercept": -3.3,
        "plan": {"basic": 0.0, "pro": -0.3, "enterprise": -0.6},
        "segment": {"SMB": 0.0, "Mid-Market": -0.2, "Enterprise": -0.35},
        "log1p_tenure_months": -0.25,
        "problem_propensity": 0.4,  # per SD of the unobserved propensity
    },
    "tickets": {
        "rate_per_month": 0.35,
        "plan_multiplier": {"basic": 1.0, "pro": 1.2, "enterprise": 1.6},
        "problem_propensity_log_rate": 1.0,  # per SD: more problems, more tickets
        "seasonal_amplitude": 0.2,  # peak in January
    },
    "revenue": {
        "model": "two-part: any purchase in month t+1 (logit) x log amount given purchase",
        "any_purchase_log_odds_per_csat_point": 0.45,
        "amount_log_per_csat_point": 0.12,
        "amount_log_sd": 0.5,
        "purchase_intercept": {"basic": -0.4, "pro": 0.3, "enterprise": 0.9},
        "amount_median": {"basic": 40.0, "pro": 120.0, "enterprise": 450.0},
    },
}


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_sample(*, n_customers: int = 3000, months: int = 24, start: str = "2024-01-01",
                seed: int = 7) -> tuple[SupportData, dict]:
    """Simulate linked customers, tickets, revenue and surveys with known effects.

    Parameters
    ----------
    n_customers : int
        Customers in the book (about 55% already active at ``start``).
    months : int
        Length of the observation window in calendar months.
    start : str
        First day of the window (``YYYY-MM-DD``).
    seed : int
        Seed of the random generator; the same seed gives the same data.

    Returns
    -------
    (SupportData, dict)
        The canonical tables (timestamps naive, currency USD) and the truth:
        planted coefficients plus realised figures such as
        ``truth["revenue"]["amount_per_csat_point"]`` (currency per CSAT point).

    Examples
    --------
    >>> data, truth = make_sample(n_customers=200, months=6, seed=1)
    >>> truth["churn"]["log_odds"]["first_response_minutes_median"]
    0.0
    """
    if n_customers < 10 or months < 3:
        raise ValueError("make_sample needs n_customers >= 10 and months >= 3")
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    bounds = pd.date_range(t0, periods=months + 1, freq="MS")
    edges = bounds.values.astype("datetime64[s]").astype(np.int64)  # seconds
    tc, tt, tr = TRUTH["churn"], TRUTH["tickets"], TRUTH["revenue"]

    # --- customers ---------------------------------------------------------
    n = n_customers
    cid = np.array([f"C{i:06d}" for i in range(1, n + 1)])
    plan = rng.choice(len(PLANS), size=n, p=PLAN_SHARE)
    seg_p = np.array([[0.75, 0.2, 0.05], [0.35, 0.5, 0.15], [0.1, 0.35, 0.55]])
    segment = np.array([rng.choice(3, p=seg_p[p]) for p in plan])
    region = rng.choice(len(REGIONS), size=n, p=(0.5, 0.3, 0.2))
    before = rng.random(n) < 0.55
    day = 86400
    signup = np.where(
        before,
        edges[0] - rng.integers(1, 3 * 365, size=n) * day,
        edges[0] + (rng.random(n) * (edges[-1] - edges[0] - 30 * day)).astype(np.int64),
    ) + rng.integers(8 * 3600, 18 * 3600, size=n)
    u = rng.standard_normal(n)  # unobserved problem propensity
    churn_at = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    plan_lo = np.array([tc["plan"][p] for p in PLANS])[plan]
    seg_lo = np.array([tc["segment"][s] for s in SEGMENTS])[segment]
    rate = (tt["rate_per_month"] * np.array([tt["plan_multiplier"][p] for p in PLANS])[plan]
            * np.exp(tt["problem_propensity_log_rate"] * u
                     - tt["problem_propensity_log_rate"] ** 2 / 2))
    pur_a = np.array([tr["purchase_intercept"][p] for p in PLANS])[plan]
    amt_mu = np.log(np.array([tr["amount_median"][p] for p in PLANS])[plan])

    tickets, payments, surveys = [], [], []
    csat_dev_prev = np.zeros(n)  # month-t CSAT minus 4 where answered, else 0
    res_prev = np.full(n, np.nan)
    respondent_effects = []
    next_tid = 1
    for m in range(months):
        lo, hi = edges[m], edges[m + 1]
        span = hi - lo
        active = (signup < hi) & (churn_at >= lo)
        # purchases of month m depend on month m-1 CSAT, drawn before any churn
        idx = np.flatnonzero(active)
        a_start = np.maximum(signup[idx], lo)
        a_end = np.minimum(churn_at[idx], hi)
        p_buy = _logistic(pur_a[idx] + tr["any_purchase_log_odds_per_csat_point"] * csat_dev_prev[idx])
        buy = rng.random(idx.size) < p_buy
        amount = np.exp(amt_mu[idx] + tr["amount_log_per_csat_point"] * csat_dev_prev[idx]
                        + tr["amount_log_sd"] * rng.standard_normal(idx.size))
        paid = a_start + (rng.random(idx.size) * (a_end - a_start)).astype(np.int64)
        payments.append(pd.DataFrame({"customer_id": cid[idx[buy]], "paid_at": paid[buy],
                                      "amount": np.round(amount[buy], 2)}))
        # tickets of month m
        month_of_year = pd.Timestamp(lo, unit="s").month
        season = 1 + tt["seasonal_amplitude"] * np.cos(2 * np.pi * (month_of_year - 1) / 12)
        frac = (a_end - a_start) / span
        k = rng.poisson(rate[idx] * season * frac)
        owner = np.repeat(idx, k)
        nt = owner.size
        o_start = np.repeat(a_start, k)
        o_end = np.repeat(a_end, k)
        created = o_start + (rng.random(nt) * (o_end - o_start)).astype(np.int64)
        t = _ticket_attributes(rng, nt)
        resolved = created + np.round(t["resolution_hours"] * 3600).astype(np.int64)
        resolved = np.where(t["never_resolved"], np.iinfo(np.int64).max, resolved)
        tickets.append(pd.DataFrame({
            "ticket_id": [f"T{i:07d}" for i in range(next_tid, next_tid + nt)],
            "customer_id": cid[owner], "created_at": created,
            "first_response_minutes": t["first_response_minutes"], "resolved_at": resolved,
            "channel": np.array(CHANNELS)[t["channel"]], "reason": np.array(REASONS)[t["reason"]],
            "contacts": t["contacts"], "reopened": t["reopened"], "escalated": t["escalated"],
            "csat": t["csat"], "ces": t["ces"], "team": t["team"], "agent": t["agent"],
        }))
        next_tid += nt
        # month-m support metrics, as the panel computes them (resolved before month end)
        in_win = resolved < hi
        res_h = np.where(in_win, t["resolution_hours"], np.nan)
        agg = pd.DataFrame({"o": owner, "res": res_h,
                            "fcr": np.where(in_win, t["contacts"] == 1, np.nan),
                            "csat": np.where(in_win, t["csat"], np.nan)}).groupby("o")
        res_mean = np.full(n, np.nan)
        fcr_rate = np.full(n, np.nan)
        csat_mean = np.full(n, np.nan)
        if nt:
            g = agg.mean()
            res_mean[g.index] = g["res"].to_numpy()
            fcr_rate[g.index] = g["fcr"].to_numpy()
            csat_mean[g.index] = g["csat"].to_numpy()
        # surveys answered in month m (10% of active customers)
        ask = idx[rng.random(idx.size) < 0.10]
        if ask.size:
            s_start, s_end = np.maximum(signup[ask], lo), np.minimum(churn_at[ask], hi)
            ans = s_start + (rng.random(ask.size) * (s_end - s_start)).astype(np.int64)
            rp = np.where(np.isnan(res_prev[ask]), 0.0, res_prev[ask] - 12)
            score = np.clip(np.round(7.6 - 1.0 * u[ask] - 0.02 * rp
                                     + 1.6 * rng.standard_normal(ask.size)), 0, 10)
            surveys.append(pd.DataFrame({"customer_id": cid[ask], "answered_at": ans,
                                         "nps": score}))
        # churn in month m+1 from month-m experience (customers still active at month end)
        at_risk = idx[churn_at[idx] >= hi]
        if m + 1 < months and at_risk.size:
            tenure = np.maximum(0.0, (lo - signup[at_risk]) / day / 30.4375)
            has = ~np.isnan(res_mean[at_risk])
            eta = (tc["intercept"] + plan_lo[at_risk] + seg_lo[at_risk]
                   + tc["log1p_tenure_months"] * np.log1p(tenure)
                   + tc["problem_propensity"] * u[at_risk]
                   + np.where(has, tc["log_odds"]["resolution_hours_mean"] * (res_mean[at_risk] - 12)
                              + tc["log_odds"]["fcr_rate"] * (fcr_rate[at_risk] - 0.6), 0.0))
            churn = rng.random(at_risk.size) < _logistic(eta)
            nxt_lo, nxt_hi = edges[m + 1], edges[m + 2]
            churn_at[at_risk[churn]] = nxt_lo + (rng.random(churn.sum()) * (nxt_hi - nxt_lo)).astype(np.int64)
        # CSAT of month m drives purchases of month m+1
        answered = ~np.isnan(csat_mean)
        csat_dev_prev = np.where(answered, csat_mean - 4.0, 0.0)
        res_prev = res_mean
        if m + 1 < months:
            r = np.flatnonzero(answered & (churn_at >= hi) & (signup < hi))
            c = csat_dev_prev[r]
            ev = lambda d: _logistic(pur_a[r] + tr["any_purchase_log_odds_per_csat_point"] * d) * np.exp(
                amt_mu[r] + tr["amount_log_per_csat_point"] * d + tr["amount_log_sd"] ** 2 / 2)
            respondent_effects.append(ev(c + 1) - ev(c))
    data = _assemble(cid, signup, churn_at, plan, segment, region, tickets, payments, surveys,
                     window_end=pd.Timestamp(edges[-1], unit="s"))
    truth = json.loads(json.dumps(TRUTH))
    eff = np.concatenate(respondent_effects) if respondent_effects else np.array([np.nan])
    truth["revenue"]["amount_per_csat_point"] = round(float(np.mean(eff)), 4)
    truth["sample"] = {"n_customers": n_customers, "months": months, "start": start,
                       "seed": seed, "currency": "USD", "period": "M", "horizon": 1}
    return data, truth


def _ticket_attributes(rng, nt: int) -> dict:
    """Per-ticket attributes; independent of the problem propensity by design."""
    ch = rng.choice(len(CHANNELS), size=nt, p=CHANNEL_SHARE)
    rs = rng.choice(len(REASONS), size=nt, p=REASON_SHARE)
    frt_med = np.array([180.0, 3.0, 1.5, 240.0, np.nan])[ch]
    frt = np.round(frt_med * np.exp(0.8 * rng.standard_normal(nt)), 1)
    res_med = (np.array([14.0, 6.0, 3.0, 28.0, 5.0])[rs]
               * np.array([1.2, 0.6, 0.5, 1.3, 0.1])[ch])
    res_h = res_med * np.exp(0.9 * rng.standard_normal(nt))
    p_fcr = np.clip(np.array([0.5, 0.68, 0.72, 0.45, 0.9])[ch] - 0.15 * (rs == 3), 0, 1)
    fcr = rng.random(nt) < p_fcr
    contacts = np.where(fcr, 1, 2 + rng.poisson(0.8, nt))
    reopened = rng.random(nt) < np.where(fcr, 0.04, 0.15)
    escalated = rng.random(nt) < 0.06 + 0.2 * (rs == 3)
    latent = 4.6 - 0.025 * res_h - 0.9 * (~fcr) - 0.5 * reopened + 0.9 * rng.standard_normal(nt)
    csat = np.where(rng.random(nt) < 0.35, np.clip(np.round(latent), 1, 5), np.nan)
    ces_l = 6.0 - 0.6 * (contacts - 1) - 0.015 * res_h + rng.standard_normal(nt)
    ces = np.where(rng.random(nt) < 0.25, np.clip(np.round(ces_l), 1, 7), np.nan)
    team = np.where(rs == 4, "billing",
                    np.where(rng.random(nt) < np.where(rs == 3, 0.6, 0.15), "tier2", "tier1"))
    pool = {"tier1": (1, 12), "tier2": (13, 18), "billing": (19, 22)}
    agent = np.empty(nt, dtype=object)
    for name, (a, b) in pool.items():
        sel = team == name
        agent[sel] = [f"a{i:02d}" for i in rng.integers(a, b + 1, size=sel.sum())]
    return {"channel": ch, "reason": rs, "first_response_minutes": frt,
            "resolution_hours": res_h, "never_resolved": rng.random(nt) < 0.03,
            "contacts": contacts, "reopened": reopened, "escalated": escalated,
            "csat": csat, "ces": ces, "team": team, "agent": agent}


def _to_ts(seconds: np.ndarray) -> pd.Series:
    """Epoch seconds as naive ns timestamps; the int64 maximum (never) becomes NaT.

    Integer arithmetic throughout: pandas 2.x's float path (``to_datetime`` of
    floats with NaN) can raise a spurious overflow from uninitialised memory.
    """
    s = np.asarray(seconds, dtype=np.int64)
    s = np.where(s == np.iinfo(np.int64).max, np.iinfo(np.int64).min, s)  # int64 min is NaT
    return pd.Series(s.astype("datetime64[s]").astype("datetime64[ns]"))


def _assemble(cid, signup, churn_at, plan, segment, region, tickets, payments, surveys, *,
              window_end):
    customers = pd.DataFrame({
        "customer_id": cid, "signup_at": _to_ts(signup), "churned_at": _to_ts(churn_at),
        "plan": np.array(PLANS)[plan], "segment": np.array(SEGMENTS)[segment],
        "region": np.array(REGIONS)[region],
    })
    tk = pd.concat(tickets, ignore_index=True)
    tk["created_at"] = _to_ts(tk["created_at"].to_numpy())
    tk["resolved_at"] = _to_ts(tk["resolved_at"].to_numpy())
    tk["contacts"] = tk["contacts"].astype("Int64")
    tk = tk.sort_values(["created_at", "ticket_id"], ignore_index=True)
    rv = pd.concat(payments, ignore_index=True)
    rv["paid_at"] = _to_ts(rv["paid_at"].to_numpy())
    rv = rv.sort_values(["paid_at", "customer_id"], ignore_index=True)
    sv = pd.concat(surveys, ignore_index=True)
    sv["answered_at"] = _to_ts(sv["answered_at"].to_numpy())
    sv = sv.sort_values(["answered_at", "customer_id"], ignore_index=True)
    # a ticket opened in the window may resolve after it ends: the export cannot know that yet
    tk.loc[tk["resolved_at"] >= window_end, "resolved_at"] = pd.NaT
    return SupportData(customers=customers, tickets=tk, revenue=rv, surveys=sv, currency="USD")


_SOURCE_CONFIG = """\
# Source config of the bundled synthetic sample (made by `cxkit sample`).
# Columns already carry canonical names, so no mapping is needed.
currency: USD
timezone: UTC
as_of: "{as_of}"
tables:
  customers: {{path: customers.csv}}
  tickets: {{path: tickets.csv}}
  revenue: {{path: revenue.csv}}
  surveys: {{path: surveys.csv}}
"""


def write_sample(out_dir, *, n_customers: int = 3000, months: int = 24,
                 start: str = "2024-01-01", seed: int = 7) -> Path:
    """Generate a sample and write it as CSV files, ``cxkit.yaml`` and ``truth.json``.

    Returns the folder written. Timestamps are written to the second.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data, truth = make_sample(n_customers=n_customers, months=months, start=start, seed=seed)
    fmt = "%Y-%m-%d %H:%M:%S"
    for name, df in data.tables().items():
        df = df.copy()
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                df[col] = df[col].dt.strftime(fmt)
        df.to_csv(out / f"{name}.csv", index=False)
    as_of = (pd.Timestamp(start) + pd.DateOffset(months=months)).strftime("%Y-%m-%d")
    (out / "cxkit.yaml").write_text(_SOURCE_CONFIG.format(as_of=as_of))
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return out
