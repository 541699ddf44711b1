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

Variants (``variant=``, combinable; see :data:`VARIANTS`) give exports unlike
the default sample, each with its own truth: fewer columns and tables
(``minimal``, ``bare``), a concave effect of resolution time
(``log_resolution``), a contact reason that raises churn (``reason_effect``)
and a shop without subscriptions, whose customers carry no ``churned_at``
(``ecommerce``). Where a variant's truth is not a plain log-odds, it also
holds the true average marginal effect in the panel column's own units
(``truth["churn"]["ame_pp"]``: percentage points of churn per hour, per unit
of a share...), averaged over the customer-months a quality-given-contact
model uses.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from cxkit.data import SupportData

__all__ = ["make_sample", "write_sample", "TRUTH", "VARIANTS"]

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


#: Sample variants: name -> what changes (the truth of each is written beside its data).
VARIANTS = {
    "minimal": "no segment or region, no surveys table, no CES and no first-response times",
    "bare": "tickets with ticket_id, customer_id, created_at and resolved_at only; customers "
            "with customer_id, signup_at and churned_at; revenue",
    "log_resolution": "churn rises with log(resolution_hours_mean) (concave in hours)",
    "reason_effect": "churn rises with the share of a period's resolved tickets about billing "
                     "(panel column reason_share_billing)",
    "ecommerce": "no churned_at (customers stop buying and contacting); frequent purchases; "
                 "the source config defines churn by 90 days of inactivity",
}
#: Log-odds of the variants' planted churn effects.
_LOG_RESOLUTION = 0.35  # per log-hour of mean resolution time (log(12 h) is the centre)
_REASON = ("billing", 0.8)  # reason, log-odds per unit of its share of the period's tickets
_ECOMMERCE_PURCHASE = {"basic": 0.8, "pro": 1.3, "enterprise": 1.8}  # monthly purchase intercepts
_INACTIVE_DAYS = 90  # churn definition written into the ecommerce variant's source config


def _variants(variant) -> tuple[str, ...]:
    names = (variant,) if isinstance(variant, str) else tuple(variant or ())
    names = tuple(n for n in names if n != "default")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown sample variant {unknown[0]!r}; use 'default' or one of "
                         f"{', '.join(VARIANTS)}")
    return tuple(n for n in VARIANTS if n in names)  # canonical order


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def make_sample(*, n_customers: int = 3000, months: int = 24, start: str = "2024-01-01",
                seed: int = 7, variant="default") -> tuple[SupportData, dict]:
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
    variant : str or sequence of str, default "default"
        ``"default"``, or one or more names of :data:`VARIANTS`.

    Returns
    -------
    (SupportData, dict)
        The canonical tables (timestamps naive, currency USD) and the truth:
        planted coefficients plus realised figures such as
        ``truth["revenue"]["amount_per_csat_point"]`` (currency per CSAT point)
        and, for variants, ``truth["churn"]["ame_pp"]`` (true average marginal
        effects in pp of churn per unit of each panel column).

    Raises
    ------
    ValueError
        Too few customers or months, or an unknown variant.

    Examples
    --------
    >>> data, truth = make_sample(n_customers=200, months=6, seed=1)
    >>> truth["churn"]["log_odds"]["first_response_minutes_median"]
    0.0
    """
    if n_customers < 10 or months < 3:
        raise ValueError("make_sample needs n_customers >= 10 and months >= 3")
    variants = _variants(variant)
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp(start)
    bounds = pd.date_range(t0, periods=months + 1, freq="MS")
    edges = bounds.values.astype("datetime64[s]").astype(np.int64)  # seconds
    truth = _variant_truth(variants)
    tc, tt, tr = truth["churn"], truth["tickets"], truth["revenue"]

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
    respondent_effects, slopes = [], {}
    next_tid = 1
    for m in range(months):
        lo, hi = edges[m], edges[m + 1]
        span = hi - lo
        active = (signup < hi) & (churn_at >= lo)
        # purchases of month m depend on month m-1 CSAT, drawn before any churn
        idx = np.flatnonzero(active)
        a_start = np.maximum(signup[idx], lo)
        a_end = np.minimum(churn_at[idx], hi)
        p_buy = _logistic(pur_a[idx]
                          + tr["any_purchase_log_odds_per_csat_point"] * csat_dev_prev[idx])
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
        if "reason_effect" in variants:  # share of the month's resolved tickets (as the panel)
            hit = np.where(resolved < hi, np.array(REASONS)[t["reason"]] == _REASON[0], np.nan)
            share = np.full(n, np.nan)
            if nt:
                s_g = pd.DataFrame({"o": owner, "hit": hit}).groupby("o")["hit"].mean()
                share[s_g.index] = s_g.to_numpy()
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
                   + tc["problem_propensity"] * u[at_risk])
            if variants:
                eta = eta + _variant_support(variants, tc, has, res_mean[at_risk],
                                             fcr_rate[at_risk], share[at_risk]
                                             if "reason_effect" in variants else None, slopes)
            else:
                eta = eta + np.where(
                    has, tc["log_odds"]["resolution_hours_mean"] * (res_mean[at_risk] - 12)
                    + tc["log_odds"]["fcr_rate"] * (fcr_rate[at_risk] - 0.6), 0.0)
            churn = rng.random(at_risk.size) < _logistic(eta)
            if variants:
                _collect_slopes(slopes, _logistic(eta))
            nxt_lo, nxt_hi = edges[m + 1], edges[m + 2]
            offset = rng.random(churn.sum()) * (nxt_hi - nxt_lo)
            churn_at[at_risk[churn]] = nxt_lo + offset.astype(np.int64)
        # CSAT of month m drives purchases of month m+1
        answered = ~np.isnan(csat_mean)
        csat_dev_prev = np.where(answered, csat_mean - 4.0, 0.0)
        res_prev = res_mean
        if m + 1 < months:
            r = np.flatnonzero(answered & (churn_at >= hi) & (signup < hi))
            c = csat_dev_prev[r]

            def ev(d, r=r):
                buy = _logistic(pur_a[r] + tr["any_purchase_log_odds_per_csat_point"] * d)
                return buy * np.exp(amt_mu[r] + tr["amount_log_per_csat_point"] * d
                                    + tr["amount_log_sd"] ** 2 / 2)

            respondent_effects.append(ev(c + 1) - ev(c))
    data = _assemble(cid, signup, churn_at, plan, segment, region, tickets, payments, surveys,
                     window_end=pd.Timestamp(edges[-1], unit="s"))
    eff = np.concatenate(respondent_effects) if respondent_effects else np.array([np.nan])
    truth["revenue"]["amount_per_csat_point"] = round(float(np.mean(eff)), 4)
    truth["sample"] = {"n_customers": n_customers, "months": months, "start": start,
                       "seed": seed, "currency": "USD", "period": "M", "horizon": 1}
    if variants:
        data = _variant_tables(data, variants)
        truth["sample"]["variants"] = list(variants)
        truth["churn"]["ame_pp"] = {k: round(100 * float(np.mean(np.concatenate(v))), 6)
                                    for k, v in slopes.items() if k != "_p"}
        truth["churn"]["ame_population"] = (
            "customer-months still active at month end with a ticket resolved in the month "
            "(the rows of a quality-given-contact model), outcome month inside the window")
    return data, truth


def _variant_truth(variants) -> dict:
    """The planted effects of a combination of variants (a fresh copy of :data:`TRUTH`)."""
    truth = json.loads(json.dumps(TRUTH))
    tc = truth["churn"]
    if "minimal" in variants or "bare" in variants:  # segment is not exported: no effect
        tc["segment"] = {s: 0.0 for s in SEGMENTS}
    if "log_resolution" in variants:
        del tc["log_odds"]["resolution_hours_mean"]
        tc["log_odds"]["log(resolution_hours_mean)"] = _LOG_RESOLUTION
    if "reason_effect" in variants:
        tc["reason_share"] = {_REASON[0]: _REASON[1]}
        tc["log_odds"][f"reason_share_{_REASON[0]}"] = _REASON[1]
    if "ecommerce" in variants:
        truth["revenue"]["purchase_intercept"] = dict(_ECOMMERCE_PURCHASE)
        truth["churn"]["definition"] = (
            f"customers stop buying and contacting at churn; the export has no churned_at and "
            f"the source config defines churn by {_INACTIVE_DAYS} days of inactivity")
    return truth


def _variant_support(variants, tc, has, res_mean, fcr_rate, share, slopes) -> np.ndarray:
    """Support part of a variant's churn log-odds; collects dp/dx for the true AMEs.

    ``slopes`` gathers, per panel column, p(1 - p) times d(log-odds)/d(column)
    over the at-risk customer-months with a resolved ticket, computed from the
    generator's own model after the rest of the log-odds is added by the caller.
    """
    lo = tc["log_odds"]
    res = np.where(has, res_mean, 12.0)
    if "log_resolution" in variants:
        res_term = lo["log(resolution_hours_mean)"] * (np.log(res) - np.log(12.0))
        d_res = lo["log(resolution_hours_mean)"] / res
    else:
        res_term = lo["resolution_hours_mean"] * (res - 12)
        d_res = np.full(res.size, lo["resolution_hours_mean"])
    support = res_term + lo["fcr_rate"] * (np.where(has, fcr_rate, 0.6) - 0.6)
    derivs = {"resolution_hours_mean": d_res, "fcr_rate": np.full(res.size, lo["fcr_rate"])}
    if share is not None:
        b = tc["reason_share"][_REASON[0]]
        support = support + b * np.where(has, share - REASON_SHARE[REASONS.index(_REASON[0])],
                                          0.0)
        derivs[f"reason_share_{_REASON[0]}"] = np.full(res.size, b)
    out = np.where(has, support, 0.0)
    slopes.setdefault("_p", []).append((has, derivs))
    return out


def _collect_slopes(slopes: dict, p: np.ndarray) -> None:
    """Turn the pending (mask, derivatives) of the last month into p(1-p) dη/dx rows."""
    has, derivs = slopes["_p"].pop()
    w = (p * (1 - p))[has]
    for name, d in derivs.items():
        slopes.setdefault(name, []).append(w * d[has])


def _variant_tables(data: SupportData, variants) -> SupportData:
    """Drop what a variant's export does not have."""
    import dataclasses

    customers, tickets, surveys = data.customers, data.tickets, data.surveys
    if "minimal" in variants:
        customers = customers.drop(columns=["segment", "region"])
        tickets = tickets.drop(columns=["ces", "first_response_minutes"])
        surveys = None
    if "bare" in variants:
        customers = customers[["customer_id", "signup_at", "churned_at"]]
        tickets = tickets[["ticket_id", "customer_id", "created_at", "resolved_at"]]
        surveys = None
    if "ecommerce" in variants:
        customers = customers.drop(columns=["churned_at"])
    return dataclasses.replace(data, customers=customers.reset_index(drop=True),
                               tickets=tickets.reset_index(drop=True), surveys=surveys)


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
{churn}tables:
{tables}"""


def write_sample(out_dir, *, n_customers: int = 3000, months: int = 24,
                 start: str = "2024-01-01", seed: int = 7, variant="default") -> Path:
    """Generate a sample and write it as CSV files, ``cxkit.yaml`` and ``truth.json``.

    ``variant`` is passed to :func:`make_sample`; the ``ecommerce`` variant's
    source config defines churn by inactivity (``churn: {inactive_days: 90}``).
    Returns the folder written. Timestamps are written to the second.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data, truth = make_sample(n_customers=n_customers, months=months, start=start, seed=seed,
                              variant=variant)
    fmt = "%Y-%m-%d %H:%M:%S"
    tables = data.tables()
    for name, df in tables.items():
        df = df.copy()
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                df[col] = df[col].dt.strftime(fmt)
        df.to_csv(out / f"{name}.csv", index=False)
    for name in ("surveys",):  # a table this variant lacks must not linger from an earlier run
        if name not in tables and (out / f"{name}.csv").exists():
            (out / f"{name}.csv").unlink()
    as_of = (pd.Timestamp(start) + pd.DateOffset(months=months)).strftime("%Y-%m-%d")
    churn = (f"churn: {{inactive_days: {_INACTIVE_DAYS}}}   # no churned_at: churn = "
             f"{_INACTIVE_DAYS} days without a payment or ticket\n"
             if "ecommerce" in _variants(variant) else "")
    listing = "".join(f"  {name}: {{path: {name}.csv}}\n" for name in tables)
    (out / "cxkit.yaml").write_text(_SOURCE_CONFIG.format(as_of=as_of, churn=churn,
                                                          tables=listing))
    (out / "truth.json").write_text(json.dumps(truth, indent=2, sort_keys=True) + "\n")
    return out
