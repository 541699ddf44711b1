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
_WEEK_ZERO_DAYS = (_WEEK_ZERO - pd.Timestamp("1970-01-01")).days
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
    tables = {"tickets": ("created_at", "resolved_at", "first_response_at"),
              "revenue": ("paid_at",), "surveys": ("answered_at",)}
    for name, cols in tables.items():
        frame = getattr(data, name)
        if frame is not None:
            _check_timestamps(frame, name, cols)
    if not customers["customer_id"].is_monotonic_increasing:
        customers = customers.sort_values("customer_id", kind="stable")
    customers = customers.reset_index(drop=True)
    ids = pd.Index(customers["customer_id"])
    if not ids.is_unique:
        dupes = ids[ids.duplicated()].unique()[:3].tolist()
        raise SchemaError(f"customers.customer_id repeats values (e.g. {dupes}): the panel needs "
                          "one row per customer; drop or merge the duplicates.")
    cells = _Cells(ids, grid, period)
    ticket_count = ticket_stats = None
    if data.tickets is not None:
        cell, prepared = _ticket_columns(_ticket_frame(data.tickets), cells)
        ticket_count = np.bincount(cell, minlength=cells.size)
        sql = aggregate.panel_ticket_sql(columns=frozenset(prepared))
        prepared["cell"] = cell
        del cell
        ticket_stats = aggregate.run_query(sql, {"cx_tickets": pd.DataFrame(prepared, copy=False)},
                                           memory_limit=memory_limit, threads=threads)
        del prepared
    panel = _assemble(customers, grid, cells, ticket_count, ticket_stats,
                      _sums(data.revenue, "paid_at", "amount", cells),
                      _sums(data.surveys, "answered_at", "nps", cells),
                      horizon=horizon, lookback=lookback)
    panel.attrs.update({"period": period, "horizon": horizon, "lookback": lookback,
                        "currency": data.currency})
    return panel


class _Cells:
    """Integer keys of the dense customer x period grid: ``cell = cust * n_periods + p``.

    ``cust`` is the position of the customer in the sorted customer table and
    ``p`` the 0-based period index, so sorting by cell sorts by
    (customer_id, period).
    """

    def __init__(self, ids: pd.Index, grid: pd.DataFrame, period: str):
        self.ids, self.period = ids, period
        self.n_periods = len(grid)
        self.size = len(ids) * self.n_periods
        self.base = _period_number(grid["period"].iloc[0], period)
        self.period_end_ns = grid["period_end"].to_numpy("datetime64[ns]").view(np.int64)

    def periods(self, values) -> np.ndarray:
        """Period index of each timestamp (int64; NaT gives -1)."""
        stamps = np.asarray(values, dtype="datetime64[ns]")
        if self.period == "W":
            days = stamps.astype("datetime64[D]").astype(np.int64)
            number = (days - _WEEK_ZERO_DAYS) // 7
        else:
            number = stamps.astype("datetime64[M]").astype(np.int64) + 1970 * 12
            if self.period == "Q":
                number //= 3
        number -= self.base
        number[np.isnat(stamps)] = -1
        return number

    def locate(self, frame: pd.DataFrame, time_column: str):
        """Cell of each row and the mask of rows inside the grid (known customer, in window)."""
        cust = self.ids.get_indexer(frame["customer_id"])
        p = self.periods(frame[time_column])
        keep = (cust >= 0) & (p >= 0) & (p < self.n_periods)
        return cust.astype(np.int64) * self.n_periods + p, p, keep


def _floats(series: pd.Series) -> np.ndarray:
    """A numeric or boolean column as float64 with NaN for missing values."""
    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "biuf":
        return series.to_numpy(dtype=np.float64)
    if series.dtype == object:
        series = series.astype("boolean") if series.map(type).eq(bool).any() else series
    return series.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


def _ticket_columns(tickets: pd.DataFrame, cells: _Cells):
    """Each ticket's cell and its inputs to :func:`aggregate.panel_ticket_sql`.

    Only what is known at the end of the ticket's creation period counts: a
    first response before period end, resolution attributes of tickets
    resolved before period end.
    """
    cell, p, keep = cells.locate(tickets, "created_at")
    everything = bool(keep.all())
    pick = (lambda a: a) if everything else (lambda a: a[keep])  # noqa: E731
    cell, p = pick(cell), pick(p)
    created_us = pick(tickets["created_at"].to_numpy("datetime64[ns]").view(np.int64)) // 1000
    end_ns = cells.period_end_ns[p]
    del p
    out = {}
    if "first_response_minutes" in tickets.columns:
        frm = pick(_floats(tickets["first_response_minutes"]))
        answered = created_us + frm * 60e6 < end_ns // 1000
        out["frm"] = np.where(answered, frm, np.nan)
    if "resolved_at" not in tickets.columns:
        return cell, out
    resolved = pick(tickets["resolved_at"].to_numpy("datetime64[ns]"))
    riw = ~np.isnat(resolved)
    resolved_ns = resolved.view(np.int64)
    riw &= resolved_ns < end_ns
    out["riw"] = riw
    out["res_h"] = np.where(riw, (resolved_ns // 1000 - created_us) / 3600e6, np.nan)
    sources = {"fcr": "contacts", "reo": "reopened", "esc": "escalated", "csat": "csat",
               "ces": "ces"}
    for name, col in sources.items():
        if col in tickets.columns:
            values = pick(_floats(tickets[col]))
            if name == "fcr":
                values = np.where(np.isnan(values), np.nan, (values == 1).astype(np.float64))
            out[name] = np.where(riw, values, np.nan)
    return cell, out


def _sums(frame: pd.DataFrame | None, time_column: str, value: str, cells: _Cells):
    """Per-cell sum and count of the non-missing ``value`` (dense arrays), or None."""
    if frame is None:
        return None
    cell, _, keep = cells.locate(frame, time_column)
    values = _floats(frame[value])
    present = keep & ~np.isnan(values)
    total = np.bincount(cell[keep], weights=np.where(present, values, 0.0)[keep],
                        minlength=cells.size)
    count = np.bincount(cell[present], minlength=cells.size)
    return total, count


def _shifted_sum(dense: np.ndarray, rows: np.ndarray, offsets) -> np.ndarray:
    """Sum of ``dense[rows + k]`` over ``k`` in ``offsets``, indices clipped to the array."""
    top = len(dense) - 1
    total = np.zeros(len(rows), dtype=np.float64)
    for k in offsets:
        total += dense[np.clip(rows + k, 0, top)]
    return total


def _assemble(customers: pd.DataFrame, grid: pd.DataFrame, cells: _Cells, ticket_count,
              ticket_stats, revenue, surveys, *, horizon: int, lookback: int) -> pd.DataFrame:
    """The panel rows (active customer-periods, in cell order) and all their columns."""
    n, last = cells.n_periods, cells.n_periods - 1
    signup_p = cells.periods(customers["signup_at"])
    signup_p[np.isnat(customers["signup_at"].to_numpy("datetime64[ns]"))] = 0
    if "churned_at" in customers.columns:
        churn_p = cells.periods(customers["churned_at"])
        churned = ~np.isnat(customers["churned_at"].to_numpy("datetime64[ns]"))
    else:
        churn_p, churned = np.full(len(customers), -1, np.int64), np.zeros(len(customers), bool)
    first_p = np.maximum(signup_p, 0)
    last_p = np.where(churned, np.minimum(churn_p, last), last)
    length = np.maximum(last_p - first_p + 1, 0)
    rows = np.repeat(np.arange(len(customers), dtype=np.int64), length)
    starts = np.cumsum(length) - length
    p = np.arange(len(rows), dtype=np.int64) - np.repeat(starts - first_p, length)
    cell = rows * n + p
    observed = p + horizon <= last

    out = {"customer_id": customers["customer_id"].take(rows).reset_index(drop=True),
           "period": pd.Series(grid["period"].to_numpy()[p]),
           "period_end": pd.Series(grid["period_end"].to_numpy()[p]),
           "period_index": pd.Series(p)}
    for col in customers.columns:
        if col not in _CUSTOMER_KEYS:
            out[col] = customers[col].take(rows).reset_index(drop=True)
    signup_ns = customers["signup_at"].to_numpy("datetime64[ns]").view(np.int64)[rows]
    start_ns = grid["period"].to_numpy("datetime64[ns]").view(np.int64)[p]
    tenure = (start_ns // 1000 - signup_ns // 1000) / 86400e6 / 30.4375
    out["tenure_months"] = np.nan_to_num(np.maximum(tenure, 0.0), nan=0.0)

    amount = revenue[0] if revenue is not None else None
    out["revenue_prev_amount"] = (np.where(p >= 1, _shifted_sum(amount, cell, [-1]), np.nan)
                                  if amount is not None else np.full(len(rows), np.nan))
    if ticket_count is None:
        ticket_count = np.zeros(cells.size, dtype=np.int64)
    prior = _shifted_sum(ticket_count, cell, range(-lookback, 0))
    out["ticket_count_prior"] = np.where(p >= lookback, prior, np.nan)
    count = ticket_count[cell].astype(np.int64)
    out["ticket_count"] = count
    out["contacted"] = count > 0
    del ticket_count, prior
    row_of = np.full(cells.size, -1, dtype=np.int64 if len(rows) >= 2**31 else np.int32)
    row_of[cell] = np.arange(len(rows))
    stats = {}
    if ticket_stats is not None:
        at = row_of[ticket_stats["cell"].to_numpy()]
        inside = at >= 0
        at = at[inside]
    for col in _TICKET_METRICS:
        values = np.full(len(rows), np.nan)
        if ticket_stats is not None:
            values[at] = ticket_stats[col].to_numpy(dtype=np.float64, na_value=np.nan)[inside]
        stats[col] = values
    del row_of, ticket_stats
    stats["open_count"] = count - stats["resolved_count"]
    for col in _EXPOSURE_ORDER:
        out[col] = stats.pop(col)

    if amount is not None:
        out["revenue_amount"] = amount[cell]
        amount_next = _shifted_sum(amount, cell, range(1, horizon + 1))
    else:
        out["revenue_amount"] = np.full(len(rows), np.nan)
        amount_next = np.full(len(rows), np.nan)
    churn_row = churn_p[rows]
    in_period = churned[rows] & (churn_row == p)
    out["churned_in_period"] = in_period
    out["churned_next"] = np.where(observed & ~in_period,
                                   (churned[rows] & (churn_row <= p + horizon)).astype(float),
                                   np.nan)
    out["revenue_next_amount"] = np.where(observed, amount_next, np.nan)
    out["repeat_purchase_next"] = np.where(observed & ~np.isnan(amount_next),
                                           (amount_next > 0).astype(float), np.nan)
    out["revenue_change_amount"] = np.where(observed, amount_next - horizon * out["revenue_amount"],
                                            np.nan)
    if surveys is not None:
        nps_sum = _shifted_sum(surveys[0], cell, range(1, horizon + 1))
        nps_n = _shifted_sum(surveys[1], cell, range(1, horizon + 1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out["nps_next"] = np.where(observed & (nps_n > 0), nps_sum / nps_n, np.nan)
    else:
        out["nps_next"] = np.full(len(rows), np.nan)
    out["outcome_observed"] = observed
    return pd.DataFrame(out, copy=False)


_TICKET_METRICS = ("first_response_minutes_median", "resolved_count", "resolution_hours_mean",
                   "resolution_hours_median", "fcr_rate", "reopen_rate", "escalation_rate",
                   "csat_mean", "csat_count", "ces_mean", "ces_count")
_EXPOSURE_ORDER = ("first_response_minutes_median", "resolved_count", "open_count",
                   "resolution_hours_mean", "resolution_hours_median", "fcr_rate", "reopen_rate",
                   "escalation_rate", "csat_mean", "csat_count", "ces_mean", "ces_count")
