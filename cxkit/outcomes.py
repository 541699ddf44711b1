"""Outcome definitions and the customer-level survival table.

:data:`OUTCOMES` documents every outcome column of the panel built by
:func:`cxkit.panel.build_panel` (definition and unit); :func:`build_survival`
gives one row per customer for churn-timing models (Kaplan-Meier, Cox) with
delayed entry and right censoring; :func:`build_churn_intervals` turns the
panel into counting-process intervals (one per customer and period, exposure
in period t, churn in t+1) for a Cox model with time-varying support metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit import registry
from cxkit._grid import positions
from cxkit.data import SupportData
from cxkit.exceptions import SchemaError
from cxkit.panel import period_grid

__all__ = ["OUTCOMES", "build_survival", "build_churn_intervals", "DAYS_PER_MONTH"]

DAYS_PER_MONTH = 30.4375  # average Gregorian month, used for every *_months column

#: Every outcome column (panel and survival table): unit and definition, read from
#: the metric registry (:mod:`cxkit.registry`, entries with ``role="outcome"``).
OUTCOMES: dict[str, dict[str, str]] = {
    m.name: {"unit": m.unit_words, "definition": m.description}
    for m in registry.entries(role="outcome")}


def _months(delta: pd.Series) -> pd.Series:
    return delta.dt.total_seconds() / (86400.0 * DAYS_PER_MONTH)


def build_survival(data: SupportData, *, start=None, end=None) -> pd.DataFrame:
    """One row per customer at risk in the window: time to churn and support summaries.

    The window is the one :func:`cxkit.panel.build_panel` uses with monthly
    periods (first month with a ticket or payment to the last month with any
    event, or ``start``/``end``). Customers who churned before it or signed up
    after it are left out. Times are in months of 30.4375 days counted from
    signup, so ``entry_months`` and ``duration_months`` plug into
    ``lifelines.CoxPHFitter(...).fit(df, "duration_months", "event",
    entry_col="entry_months")``.

    The support summaries cover the customer's tickets created from the window
    start until churn or censoring. They include tickets raised close to churn
    (when a customer may already be leaving), so use them descriptively; the
    panel of :func:`cxkit.panel.build_panel` is the design for effects.

    Parameters
    ----------
    data : SupportData
    start, end : date-like, optional
        First and last month of the window.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id``, ``plan`` and ``segment`` (when present),
        ``signup_at``, ``entry_months``, ``duration_months``, ``event`` (int 0/1),
        ``ticket_count``, ``tickets_per_month`` (tickets per month observed in
        the window), ``resolution_hours_mean`` (resolved tickets),
        ``fcr_rate`` (0-1, share of resolved tickets with one contact) and
        ``csat_mean`` (1-5); the last three are NaN without tickets. Sorted by
        ``customer_id``. Customers who churned the moment they were first
        observed (no time at risk) are left out and counted in
        ``.attrs["left_out"]`` (``step, reason, rows_dropped, rows_remaining``).

    Raises
    ------
    ConfigError
        Unparsable or inverted ``start``/``end``, or no event to define the window.
    SchemaError
        ``customers`` lacks ``customer_id`` or ``signup_at``.

    Examples
    --------
    >>> from cxkit.synth import make_sample
    >>> data, truth = make_sample(n_customers=200, months=6)
    >>> surv = build_survival(data)
    >>> sorted(surv["event"].unique().tolist())
    [0, 1]
    """
    grid = period_grid(data, period="M", start=start, end=end)
    window_start, window_end = grid["period"].iloc[0], grid["period_end"].iloc[-1]
    cust = data.customers
    for col in ("customer_id", "signup_at"):
        if col not in cust.columns:
            raise SchemaError(f"customers.{col} is missing: survival times need customer_id "
                              "and signup_at for every customer.")
    churned = cust["churned_at"] if "churned_at" in cust else pd.Series(pd.NaT, index=cust.index)
    keep = (cust["signup_at"] < window_end) & (churned.isna() | (churned >= window_start))
    cust, churned = cust[keep], churned[keep]
    event = churned.notna() & (churned < window_end)
    stop = churned.where(event, window_end)
    out = pd.DataFrame({"customer_id": cust["customer_id"]})
    for col in ("plan", "segment"):
        if col in cust:
            out[col] = cust[col]
    out["signup_at"] = cust["signup_at"]
    out["entry_months"] = _months(window_start - cust["signup_at"]).clip(lower=0.0)
    out["duration_months"] = _months(stop - cust["signup_at"])
    out["event"] = event.astype(np.int64)
    observed = out["duration_months"] - out["entry_months"]
    summary = _ticket_summary(data.tickets, cust["customer_id"], stop, window_start)
    out = out.join(summary.set_index(out.index))
    out.insert(out.columns.get_loc("ticket_count") + 1, "tickets_per_month",
               (out["ticket_count"] / observed).where(observed > 0))
    # a customer who churned the moment they were first seen (e.g. at signup, as churn by
    # inactivity dates a customer who never bought) has no time at risk: left out, counted
    zero = observed <= 0
    out = out.loc[~zero].sort_values("customer_id", kind="stable").reset_index(drop=True)
    out.attrs["left_out"] = pd.DataFrame([{
        "step": "no_time_at_risk", "reason": "churned when first observed (duration equals "
        "entry), so never at risk", "rows_dropped": int(zero.sum()),
        "rows_remaining": len(out)}])
    return out


def build_churn_intervals(panel: pd.DataFrame, *,
                          design: str = "quality_given_contact") -> pd.DataFrame:
    """Counting-process churn intervals from the panel: exposure in t, churn in t+1.

    One row per panel row whose next-period outcome is observed: the
    customer is at risk from ``start_months`` (tenure when period t ends) to
    ``stop_months`` (``horizon`` periods later), ``churned_next`` says whether they
    churned in that interval, and the row's support metrics are those of
    period t, measured strictly before the interval. Fit with
    ``fit_churn_timing(intervals, duration="stop_months", entry="start_months",
    event="churned_next", cluster="customer_id", covariates=...)``: a Cox
    model on the tenure time scale with time-varying support metrics
    (Andersen-Gill); tenure is the time axis, so it is not a covariate.

    Parameters
    ----------
    panel : DataFrame
        From :func:`cxkit.build_panel` (needs ``customer_id``, ``period``,
        ``period_end``, ``tenure_months``, ``churned_next``).
    design : {"quality_given_contact", "all"}
        Keep only intervals after a period with a ticket (quality metrics
        exist only then), or every interval.

    Returns
    -------
    DataFrame
        The panel's columns plus ``start_months`` and ``stop_months``, less
        ``tenure_months`` (tenure is the time axis); the ``horizon`` and
        ``design`` the intervals rest on are in ``.attrs``.
    """
    from cxkit.fitting import check_columns

    check_columns(panel, ["customer_id", "period", "period_end", "tenure_months",
                          "churned_next"], role="Churn intervals")
    rows = panel.loc[panel["churned_next"].notna()]
    if design == "quality_given_contact":
        check_columns(panel, ["contacted"], role="Design")
        rows = rows.loc[rows["contacted"].fillna(False).astype(bool)]
    elif design != "all":
        raise SchemaError(f"design={design!r} is unknown; use 'quality_given_contact' or 'all'.")
    horizon = int(panel.attrs.get("horizon", 1) or 1)
    length = _months(rows["period_end"] - rows["period"])
    out = rows.copy()
    out["start_months"] = rows["tenure_months"] + length
    out["stop_months"] = out["start_months"] + horizon * length
    # tenure is the time axis of the intervals: as a covariate it would duplicate the
    # baseline hazard (and "auto" controls leave out what a table does not have)
    out = out.drop(columns="tenure_months")
    out.attrs = {**panel.attrs, "design": design}
    return out.reset_index(drop=True)


def _ticket_summary(tickets: pd.DataFrame | None, customer_id: pd.Series, stop: pd.Series,
                    window_start: pd.Timestamp) -> pd.DataFrame:
    """Per-customer ticket summaries over [window_start, stop), aligned with ``customer_id``."""
    cols = ["ticket_count", "resolution_hours_mean", "fcr_rate", "csat_mean"]
    result = pd.DataFrame(np.nan, index=range(len(customer_id)), columns=cols)
    result["ticket_count"] = 0
    if tickets is None or len(tickets) == 0:
        return result
    pos = positions(customer_id, tickets["customer_id"])
    stop_at = stop.to_numpy()[np.clip(pos, 0, None)]
    inside = (pos >= 0) & (tickets["created_at"].to_numpy() >= window_start) & (
        tickets["created_at"].to_numpy() < stop_at)
    t = tickets[inside]
    who = pos[inside]
    frame = pd.DataFrame({"who": who}, index=t.index)
    for src, quantity in (("res_h", "resolution_hours"), ("fcr", "first_contact_resolved"),
                          ("csat", "csat")):
        value = registry.ticket_quantity(t, quantity)
        if value is not None:
            frame[src] = value.to_numpy()
    grouped = frame.groupby("who")
    result.loc[grouped.size().index, "ticket_count"] = grouped.size().to_numpy()
    for src, dst in (("res_h", "resolution_hours_mean"), ("fcr", "fcr_rate"),
                     ("csat", "csat_mean")):
        if src in frame:
            means = grouped[src].mean()
            result.loc[means.index, dst] = means.to_numpy()
    result["ticket_count"] = result["ticket_count"].astype(np.int64)
    return result
