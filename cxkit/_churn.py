"""Churn defined by inactivity, for businesses without subscriptions.

A shop's customers do not cancel: they stop buying. When a source config has
no ``churned_at`` for its customers, a ``churn`` block defines it::

    churn: {inactive_days: 90}                   # payments and tickets count as activity
    churn: {inactive_days: 120, activity: [revenue]}

Definition (applied by :func:`cxkit.io.read_support_data` after validation,
so quarantined rows never count): a customer's *last activity* is their
latest payment (``paid_at``) or ticket (``created_at``), or their signup when
they have none. The customer is churned at that last activity
(``churned_at`` = last activity) when no activity followed within
``inactive_days`` and those days have fully passed by ``as_of``
(last activity + ``inactive_days`` <= ``as_of``); otherwise the customer is
still active (right-censored, ``churned_at`` empty). A customer who lapsed
for longer than ``inactive_days`` and came back is not churned: only the end
of the last spell counts. ``as_of`` is the config's ``as_of`` (or the one
given to the reader); set it to the export date, since with "now" every
customer whose export ended long ago looks churned.
"""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from cxkit.exceptions import ConfigError

__all__ = ["check_churn_config", "churn_by_inactivity", "ACTIVITY"]

#: Tables whose events count as activity, and the timestamp that dates each event.
ACTIVITY = {"revenue": "paid_at", "tickets": "created_at"}
_KEYS = ("inactive_days", "activity")


def check_churn_config(raw: Any, where: str) -> Mapping[str, Any] | None:
    """The validated ``churn`` block of a source config (``None`` when absent).

    Raises
    ------
    ConfigError
        Not a mapping, an unknown key, ``inactive_days`` not a positive whole
        number, or an ``activity`` table other than revenue and tickets.
    """
    if raw is None:
        return None
    at = f"{where}: churn"
    if not isinstance(raw, dict):
        raise ConfigError(f"{at} must be a mapping such as {{inactive_days: 90}}, got "
                          f"{type(raw).__name__}.")
    for key in raw:
        if key not in _KEYS:
            raise ConfigError(f"{at}: unknown key {key!r}; valid keys are {', '.join(_KEYS)}.")
    days = raw.get("inactive_days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ConfigError(f"{at}.inactive_days must be a whole number of days >= 1 (e.g. 90), "
                          f"got {days!r}.")
    activity = raw.get("activity", list(ACTIVITY))
    if isinstance(activity, str):
        activity = [activity]
    if not isinstance(activity, list) or not activity or any(a not in ACTIVITY for a in activity):
        raise ConfigError(f"{at}.activity must list tables among {', '.join(ACTIVITY)}, got "
                          f"{activity!r}.")
    return {"inactive_days": days, "activity": tuple(activity)}


def churn_by_inactivity(customers: pd.DataFrame, events: Mapping[str, pd.DataFrame | None], *,
                        inactive_days: int, as_of: pd.Timestamp,
                        activity=tuple(ACTIVITY)) -> pd.DataFrame:
    """``customers`` with ``churned_at`` set by inactivity (see the module docstring).

    Parameters
    ----------
    customers : DataFrame
        Validated customers (``customer_id``, ``signup_at``); a ``churned_at``
        column with values is refused.
    events : dict of DataFrame
        Validated event tables by name (``revenue``, ``tickets``; absent = None).
    inactive_days : int
        Days without activity after which a customer counts as churned.
    as_of : Timestamp
        End of the observation (naive, reporting zone).
    activity : sequence of str
        Tables whose events count as activity.

    Returns
    -------
    DataFrame
        A copy of ``customers`` with ``churned_at`` (last activity, or NaT
        while active).

    Raises
    ------
    ConfigError
        The customers already carry ``churned_at`` values, or none of the
        activity tables is present.
    """
    if "churned_at" in customers.columns and customers["churned_at"].notna().any():
        raise ConfigError("The source config defines churn by inactivity (`churn:`), but the "
                          "customers table already has churned_at values: remove the `churn` "
                          "block, or stop mapping or deriving churned_at.")
    present = [name for name in activity if events.get(name) is not None]
    if not present:
        raise ConfigError(f"`churn: {{inactive_days: {inactive_days}}}` needs activity to "
                          f"measure: add a {' or '.join(activity)} table to the source config.")
    stamps = [events[name][["customer_id", ACTIVITY[name]]].set_axis(["customer_id", "at"], axis=1)
              for name in present]
    last = pd.concat(stamps, ignore_index=True).groupby("customer_id")["at"].max()
    out = customers.copy()
    signup = out["signup_at"].astype("datetime64[ns]")
    seen = out["customer_id"].map(last).astype("datetime64[ns]")
    last_active = seen.where(seen.notna() & (seen > signup), signup)
    lapsed = last_active + pd.Timedelta(days=inactive_days) <= pd.Timestamp(as_of)
    out["churned_at"] = last_active.where(lapsed, pd.NaT).astype("datetime64[ns]")
    return out

