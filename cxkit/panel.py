"""The customer x period panel: support experience in period t, outcomes after t.

:func:`build_panel` turns the event tables of a :class:`~cxkit.data.SupportData`
into one row per customer and calendar period in which the customer was
active. Every exposure column uses only what was known by the end of its
period (no look-ahead); every outcome column is measured strictly after it.
The aggregation itself runs as SQL in :mod:`cxkit.aggregate`; this module
checks arguments, prepares the inputs and tidies the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit import aggregate
from cxkit.data import SupportData
from cxkit.exceptions import ConfigError, SchemaError

__all__ = ["build_panel", "period_grid", "PERIODS"]

PERIODS = {"W": "ISO weeks starting Monday", "M": "calendar months", "Q": "calendar quarters"}
_WEEK_ZERO = pd.Timestamp("1900-01-01")  # a Monday
_CUSTOMER_KEYS = ("customer_id", "signup_at", "churned_at")


def _period_number(ts: pd.Timestamp, period: str) -> int:
    """Integer period number of ``ts``, as :func:`aggregate.period_number_sql` computes it."""
    if period == "W":
        return (ts.normalize() - _WEEK_ZERO).days // 7
    months = ts.year * 12 + ts.month - 1
    return months // 3 if period == "Q" else months


def _period_start(number: int, period: str) -> pd.Timestamp:
    if period == "W":
        return _WEEK_ZERO + pd.Timedelta(days=7 * number)
    months = number * 3 if period == "Q" else number
    return pd.Timestamp(year=months // 12, month=months % 12 + 1, day=1)


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"{name}={value!r} is not a date: pass e.g. {name}='2024-01-01'.") from None
    if ts is pd.NaT or ts.tzinfo is not None:
        raise ConfigError(f"{name}={value!r} must be a naive date in the reporting time zone, "
                          f"e.g. {name}='2024-01-01'.")
    return ts


def _column_extreme(frame: pd.DataFrame | None, column: str, how: str):
    if frame is None or column not in frame.columns or len(frame) == 0:
        return None
    value = getattr(frame[column], how)()
    return None if pd.isna(value) else pd.Timestamp(value)


def period_grid(data: SupportData, *, period: str = "M", start=None, end=None) -> pd.DataFrame:
    """The periods of the data window: one row per period.

    The window runs from the period containing the first ticket or payment
    (or ``start``) to the period containing the last ticket, payment, survey
    answer or churn (or ``end``).

    Parameters
    ----------
    data : SupportData
    period : {"W", "M", "Q"}, default "M"
    start, end : date-like, optional
        Override the first and last period (any timestamp inside them).

    Returns
    -------
    pandas.DataFrame
        Columns ``period_index`` (0-based), ``period`` (start timestamp) and
        ``period_end`` (next period's start, exclusive).

    Raises
    ------
    ConfigError
        Unknown ``period``, unparsable dates, ``start`` after ``end``, or no
        event from which to take the window.
    """
    if period not in PERIODS:
        raise ConfigError(f"period={period!r} is not one of 'W' (ISO weeks), 'M' (months), "
                          "'Q' (quarters).")
    if start is not None:
        first = _timestamp(start, "start")
    else:
        found = [t for t in (_column_extreme(data.tickets, "created_at", "min"),
                             _column_extreme(data.revenue, "paid_at", "min")) if t is not None]
        if not found:
            raise ConfigError("The data have no tickets or payments to start the window from: "
                              "pass start='YYYY-MM-DD'.")
        first = min(found)
    if end is not None:
        last = _timestamp(end, "end")
    else:
        found = [t for t in (_column_extreme(data.tickets, "created_at", "max"),
                             _column_extreme(data.revenue, "paid_at", "max"),
                             _column_extreme(data.surveys, "answered_at", "max"),
                             _column_extreme(data.customers, "churned_at", "max")) if t is not None]
        last = max(found) if found else first
    lo, hi = _period_number(first, period), _period_number(last, period)
    if hi < lo:
        raise ConfigError(f"The window ends ({last:%Y-%m-%d}) before it starts ({first:%Y-%m-%d}): "
                          "check start= and end=.")
    starts = [_period_start(n, period) for n in range(lo, hi + 2)]
    return pd.DataFrame({"period_index": np.arange(hi - lo + 1),
                         "period": pd.DatetimeIndex(starts[:-1]).as_unit("ns"),
                         "period_end": pd.DatetimeIndex(starts[1:]).as_unit("ns")})


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigError(f"{name}={value!r} must be an integer >= {low}.")
    return int(value)


def _check_timestamps(frame: pd.DataFrame, table: str, columns) -> None:
    for col in columns:
        if col not in frame.columns:
            continue
        dtype = frame[col].dtype
        if not pd.api.types.is_datetime64_dtype(dtype):
            raise SchemaError(
                f"{table}.{col} has dtype {dtype}, not a naive timestamp (e.g. "
                f"{frame[col].head(3).tolist()}): read the data with cxkit.io.read_support_data "
                "or convert with pandas.to_datetime and drop the time zone (tz_localize(None)).")


def _ticket_frame(tickets: pd.DataFrame) -> pd.DataFrame:
    """Tickets as the SQL reads them: minutes to first response derived if needed."""
    if "first_response_minutes" not in tickets.columns and "first_response_at" in tickets.columns:
        gap = tickets["first_response_at"] - tickets["created_at"]
        return tickets.assign(first_response_minutes=gap.dt.total_seconds() / 60.0)
    return tickets


def build_panel(data: SupportData, *, period: str = "M", horizon: int = 1, lookback: int = 3,
                start=None, end=None, memory_limit: str = "4GB",
                threads: int | None = None) -> pd.DataFrame:
    """One row per customer and period in which the customer was active.

    Periods are calendar periods of the naive, reporting-time-zone timestamps
    (``W`` ISO weeks starting Monday, ``M`` months, ``Q`` quarters). A
    customer is active in period t when ``signup_at < period_end`` and
    ``churned_at`` is empty or ``>= period``. Exposure columns describe
    support in period t using only what was known by ``period_end`` (no
    look-ahead); outcome columns are measured in periods t+1..t+horizon.

    Ticket attributes ``contacts``, ``reopened``, ``escalated``, ``csat`` and
    ``ces`` are taken as known when the ticket is resolved, so they count
    only for tickets created in t and resolved before ``period_end``
    ("resolved in window"); a ticket resolved later counts in
    ``ticket_count`` and ``open_count`` but not in the resolution metrics.

    Parameters
    ----------
    data : SupportData
        Validated tables; ``tickets``, ``revenue`` and ``surveys`` may be absent.
    period : {"W", "M", "Q"}, default "M"
    horizon : int, default 1
        Number of periods after t over which outcomes are measured.
    lookback : int, default 3
        Number of periods before t counted in ``ticket_count_prior``.
    start, end : date-like, optional
        First and last period of the window (default: from the data).
    memory_limit : str, default "4GB"
        Memory the aggregation engine may use before spilling to disk.
    threads : int, optional
        Engine threads; all cores by default.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``, ``period``; ``attrs`` holds ``currency``, ``period``,
        ``horizon`` and ``lookback``. Columns (see :data:`cxkit.outcomes.OUTCOMES`
        for the outcomes):

        * keys: ``customer_id``, ``period`` (start timestamp), ``period_end``,
          ``period_index`` (0-based within the window);
        * controls: ``plan``, ``segment`` and other customer columns as given;
          ``tenure_months`` (days since signup at period start / 30.4375, >= 0);
          ``revenue_prev_amount`` (paid in t-1; NaN at the first period);
          ``ticket_count_prior`` (tickets created in t-lookback..t-1; NaN where
          that reaches before the window);
        * exposure: ``ticket_count``, ``contacted`` (ticket_count > 0; every
          metric below is NaN when False, never imputed),
          ``first_response_minutes_median`` (tickets answered before period
          end), ``resolved_count``, ``open_count``, ``resolution_hours_mean``,
          ``resolution_hours_median``, ``fcr_rate``, ``reopen_rate``,
          ``escalation_rate`` (0-1 shares of resolved-in-window tickets with the
          attribute recorded), ``csat_mean`` (1-5), ``csat_count``, ``ces_mean``
          (1-7), ``ces_count``; ``revenue_amount`` (paid in t, currency of the data);
        * outcomes: ``churned_in_period``, ``churned_next``,
          ``revenue_next_amount``, ``repeat_purchase_next``,
          ``revenue_change_amount``, ``nps_next``, ``outcome_observed``.

        Revenue columns are NaN when the data have no revenue table,
        ``nps_next`` when they have no surveys, and a ticket metric when its
        source column is missing.

    Raises
    ------
    ConfigError
        Invalid ``period``, ``horizon``, ``lookback``, dates or engine settings.
    SchemaError
        A timestamp column is not a naive datetime.

    Examples
    --------
    >>> from cxkit.synth import make_sample
    >>> data, truth = make_sample(n_customers=200, months=6)
    >>> panel = build_panel(data, period="M", horizon=1)
    >>> panel.attrs["period"], panel["period_index"].min()
    ('M', 0)
    """
    horizon = _check_int(horizon, "horizon", 1)
    lookback = _check_int(lookback, "lookback", 1)
    grid = period_grid(data, period=period, start=start, end=end)
    customers = data.customers
    for col in ("customer_id", "signup_at"):
        if col not in customers.columns:
            raise SchemaError(f"customers.{col} is missing: the panel needs customer_id and "
                              "signup_at for every customer.")
    _check_timestamps(customers, "customers", ("signup_at", "churned_at"))
    if not customers["customer_id"].is_monotonic_increasing:
        customers = customers.sort_values("customer_id", kind="stable")
    customers = customers.reset_index(drop=True)
    keys = pd.DataFrame({"cust": np.arange(len(customers), dtype=np.int64),
                         "customer_id": customers["customer_id"],
                         "signup_at": customers["signup_at"],
                         "churned_at": (customers["churned_at"] if "churned_at" in customers
                                        else pd.Series(pd.NaT, index=customers.index,
                                                       dtype="datetime64[ns]"))})
    tables = {"tickets": ("created_at", "resolved_at", "first_response_at"),
              "revenue": ("paid_at",), "surveys": ("answered_at",)}
    for name, cols in tables.items():
        frame = getattr(data, name)
        if frame is not None:
            _check_timestamps(frame, name, cols)
    tickets = _ticket_frame(data.tickets) if data.tickets is not None else None
    ticket_columns = frozenset(c for c in aggregate.PANEL_TICKET_INPUTS
                               if tickets is not None and c in tickets.columns)
    base = _period_number(grid["period"].iloc[0], period)
    sql = aggregate.panel_sql(period=period, base=base, n_periods=len(grid), horizon=horizon,
                              lookback=lookback, ticket_columns=ticket_columns,
                              has_tickets=tickets is not None,
                              has_revenue=data.revenue is not None,
                              has_surveys=data.surveys is not None)
    frames = {"cx_customers": keys,
              "cx_periods": grid.rename(columns={"period_index": "p", "period": "period_start"})}
    for name, frame in (("cx_tickets", tickets), ("cx_revenue", data.revenue),
                        ("cx_surveys", data.surveys)):
        if frame is not None:
            frames[name] = frame
    result = aggregate.run_query(sql, frames, memory_limit=memory_limit, threads=threads)
    return _tidy(result, customers, grid, data, period=period, horizon=horizon, lookback=lookback)


def _tidy(result: pd.DataFrame, customers: pd.DataFrame, grid: pd.DataFrame, data: SupportData,
          *, period: str, horizon: int, lookback: int) -> pd.DataFrame:
    """Attach keys and customer columns, blank unavailable outcomes, order columns."""
    rows = result["cust"].to_numpy()
    pidx = result["period_index"].to_numpy()
    out = {"customer_id": customers["customer_id"].take(rows).reset_index(drop=True),
           "period": pd.Series(grid["period"].to_numpy()[pidx]),
           "period_end": pd.Series(grid["period_end"].to_numpy()[pidx]),
           "period_index": pd.Series(pidx.astype(np.int64))}
    for col in customers.columns:
        if col not in _CUSTOMER_KEYS:
            out[col] = customers[col].take(rows).reset_index(drop=True)
    for col in result.columns:
        if col not in ("cust", "period_index"):
            out[col] = result[col]
    panel = pd.DataFrame(out, copy=False)
    if data.revenue is None:
        for col in ("revenue_prev_amount", "revenue_amount", "revenue_next_amount",
                    "repeat_purchase_next", "revenue_change_amount"):
            panel[col] = np.nan
    panel["ticket_count"] = panel["ticket_count"].astype(np.int64)
    panel.attrs.update({"period": period, "horizon": horizon, "lookback": lookback,
                        "currency": data.currency})
    return panel
