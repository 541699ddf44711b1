"""The customer x period panel: support experience in period t, outcomes after t.

:func:`build_panel` turns the event tables of a :class:`~cxkit.data.SupportData`
into one row per customer and calendar period in which the customer was
active. Every exposure column uses only what was known by the end of its
period (no look-ahead); every outcome column is measured strictly after it.
The ticket metrics are grouped by SQL in :mod:`cxkit.aggregate`; the grid of
customers and periods, lags and leads are numpy arrays in :mod:`cxkit._grid`.
This module checks arguments, prepares the inputs and assembles the result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit import aggregate, registry
from cxkit._grid import Cells, Layout, dense_sums, floats, shifted_sum
from cxkit.data import SupportData
from cxkit.exceptions import ParameterError, SchemaError
from cxkit.periods import check_period, period_number, period_range

__all__ = ["build_panel", "period_grid"]
_CUSTOMER_KEYS = ("customer_id", "signup_at", "churned_at")


def _timestamp(value, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ParameterError(
            f"{name}={value!r} is not a date: pass e.g. {name}='2024-01-01'.") from None
    if ts is pd.NaT or ts.tzinfo is not None:
        raise ParameterError(f"{name}={value!r} must be a naive date in the reporting time zone, "
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
    ParameterError
        Unknown ``period`` (see :mod:`cxkit.periods`).
    ParameterError
        Unparsable dates, ``start`` after ``end``, or no event from which to
        take the window.
    """
    period = check_period(period)
    if start is not None:
        first = _timestamp(start, "start")
    else:
        found = [t for t in (_column_extreme(data.tickets, "created_at", "min"),
                             _column_extreme(data.revenue, "paid_at", "min")) if t is not None]
        if not found:
            raise ParameterError("The data have no tickets or payments to start the window from: "
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
    lo, hi = period_number(first, period), period_number(last, period)
    if hi < lo:
        raise ParameterError(f"The window ends ({last:%Y-%m-%d}) before it starts "
                             f"({first:%Y-%m-%d}): check start= and end=.")
    starts = period_range(lo, hi + 1, period)
    return pd.DataFrame({"period_index": np.arange(hi - lo + 1),
                         "period": starts[:-1], "period_end": starts[1:]})


def _check_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ParameterError(f"{name}={value!r} must be an integer >= {low}.")
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
        ``horizon``, ``lookback`` and ``references``. Columns (see :data:`cxkit.outcomes.OUTCOMES`
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
          (1-7), ``ces_count``, ``self_service_rate``; one share per contact
          reason and per channel (``reason_share_<value>``, ``channel_share_<value>``,
          see :func:`cxkit.registry.share_family`; ``attrs["references"]`` names
          each family's reference column, its most common value); one column per
          metric declared in the source config (``data.metrics``); every one of
          these aggregates resolved-in-window tickets as its registry entry says
          (:func:`cxkit.registry.lookup`); ``revenue_amount`` (paid in t, currency
          of the data);
        * outcomes: ``churned_in_period``, ``churned_next``,
          ``revenue_next_amount``, ``repeat_purchase_next``,
          ``revenue_change_amount``, ``nps_next``, ``outcome_observed``.

        Revenue columns are NaN when the data have no revenue table,
        ``nps_next`` when they have no surveys, and a ticket metric when its
        source column is missing.

    Raises
    ------
    ParameterError
        Unknown ``period`` (see :mod:`cxkit.periods`).
    ParameterError
        Invalid ``horizon``, ``lookback``, dates or engine settings.
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
    aggregate.check_settings(memory_limit=memory_limit, threads=threads)
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
    cells = Cells(ids, grid, period)
    layout = Layout(customers, cells)
    exposures, families = _exposures(data)
    tickets = _ticket_rows(data.tickets, cells, layout, exposures, families, lookback=lookback,
                           memory_limit=memory_limit, threads=threads)
    panel = _assemble(customers, grid, cells, layout, tickets, data.revenue, data.surveys,
                      horizon=horizon, exposures=[m.name for m in exposures])
    panel.attrs.update({"period": period, "horizon": horizon, "lookback": lookback,
                        "currency": data.currency,
                        "references": {m.family: m.reference for m in exposures if m.family}})
    return panel


# Tickets per engine query. Slices are cut between panel rows, so every row's
# tickets meet in one query, and the engine's memory stays bounded.
_TICKETS_PER_QUERY = 1_000_000


def _ticket_rows(tickets: pd.DataFrame | None, cells: Cells, layout: Layout, exposures,
                 families: dict, *, lookback: int, memory_limit: str,
                 threads: int | None) -> dict:
    """Each panel row's ticket columns: counts, prior volume and the resolution metrics.

    Tickets count in the cell of their creation period. Those in a panel row
    are sorted by row and aggregated by the engine in slices of about
    :data:`_TICKETS_PER_QUERY` tickets, cut between rows; each slice's answer
    is written straight into the row arrays.
    """
    out = {m.name: np.full(layout.n_rows, np.nan) for m in exposures}
    if tickets is None:
        count = np.zeros(cells.size, dtype=np.int64)
    else:
        cust, p, keep = cells.locate(tickets, "created_at")
        count = np.bincount((cust * cells.n_periods + p)[keep], minlength=cells.size)
        row = layout.rows(cust, p, keep)
        del cust, keep
        take = np.flatnonzero(row >= 0)
        take = take[np.argsort(row[take], kind="stable")]
        columns, plan = _ticket_columns(tickets, take, cells.period_end_ns[p[take]],
                                        exposures, families)
        columns["row_id"] = row[take]
        del row, p, take
        _aggregate_tickets(columns, plan, out, memory_limit=memory_limit, threads=threads)
    prior = shifted_sum(count, layout.cell, range(-lookback, 0))
    out["ticket_count_prior"] = np.where(layout.p >= lookback, prior, np.nan)
    out["ticket_count"] = count[layout.cell]
    return out


def _exposures(data: SupportData) -> tuple[list, dict]:
    """The ticket-made panel exposures (registry entries, in column order) and the code
    book of each share family (``{"reason": {slug: [value slugs]}}``)."""
    built_in = [m for m in registry.entries(panel=True)
                if m.aggregation is not None and m.aggregation.quantity != "ticket"]
    families = registry.share_families(data.tickets)
    shares = [m for _, metrics in families.values() for m in metrics]
    return [*built_in, *shares, *data.metrics], {k: codes for k, (codes, _) in families.items()}


def _ticket_columns(tickets: pd.DataFrame, take: np.ndarray, end_ns: np.ndarray,
                    exposures, families: dict) -> tuple[dict, list]:
    """The engine's inputs for tickets ``take`` (positions) and the aggregates to compute.

    Each input holds one per-ticket quantity of the registry, restricted to
    what is known at the end of the ticket's creation period (``end_ns``), NaN
    otherwise: window ``answered`` keeps first responses given before period
    end, ``resolved`` keeps tickets resolved before period end (attributes
    without their own timestamp are known at resolution). A share family's
    input is the code of the ticket's value. Returns the inputs by SQL column
    name and one ``(output, input, statistic, family code or None)`` per
    exposure that can be made; the rest stay NaN.
    """
    created_us = tickets["created_at"].to_numpy("datetime64[ns]").view(np.int64)[take] // 1000
    end_us = end_ns // 1000
    riw = None
    if "resolved_at" in tickets.columns:
        resolved_ns = tickets["resolved_at"].to_numpy("datetime64[ns]")[take]
        riw = ~np.isnat(resolved_ns) & (resolved_ns.view(np.int64) < end_ns)
        del resolved_ns
    inputs, plan, made = {}, [], {}
    for metric in exposures:
        if metric.name == "open_count":  # open at period end: tickets - resolved_count
            continue
        agg = metric.aggregation
        family, _, value = agg.quantity.partition("=") if metric.family else (None, "", None)
        key = (family or agg.quantity, agg.window)
        if key not in made:
            made[key] = None
            if agg.window == "resolved" and riw is None:
                continue
            if family:
                x = registry.family_codes(tickets[family], families[family])[take]
            elif metric.aggregation.quantity.startswith("declared:"):
                x = floats(registry.declared_quantity(tickets, metric))[take]
            else:
                q = registry.ticket_quantity(tickets, agg.quantity)
                if q is None:
                    continue
                x = floats(q)[take]
            if agg.window == "answered":  # minutes after creation, known once given
                x = np.where(created_us + x * 60e6 < end_us, x, np.nan)
            elif agg.window == "resolved":
                x = np.where(riw, x, np.nan)
            made[key] = f"x{len(inputs)}"
            inputs[made[key]] = x
        if made[key] is not None:
            code = list(families[family]).index(value) if family else None
            plan.append((metric.name, made[key], agg.statistic, code))
    return inputs, plan


def _aggregate_tickets(columns: dict, plan: list, out: dict, *, memory_limit: str,
                       threads: int | None) -> None:
    """Run the ticket query over ``columns`` (sorted by ``row_id``) slice by slice into ``out``."""
    row_id = columns["row_id"]
    cuts = np.searchsorted(row_id, row_id[_TICKETS_PER_QUERY::_TICKETS_PER_QUERY])
    bounds = np.unique(np.concatenate([[0], cuts, [len(row_id)]]))
    slices = (pd.DataFrame({k: v[a:b] for k, v in columns.items()}, copy=False)
              for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    sql = aggregate.panel_ticket_sql(plan)
    for answer in aggregate.run_query_slices(sql, "cx_tickets", slices,
                                             memory_limit=memory_limit, threads=threads):
        at = answer["row_id"]
        for name, *_ in plan:
            out[name][at] = np.ma.filled(answer[name].astype(np.float64), np.nan)


def _assemble(customers: pd.DataFrame, grid: pd.DataFrame, cells: Cells, layout: Layout,
              tickets: dict, revenue: pd.DataFrame | None, surveys: pd.DataFrame | None, *,
              horizon: int, exposures) -> pd.DataFrame:
    """The panel rows (active customer-periods, in cell order) and all their columns.

    Dense per-cell arrays (revenue, survey answers) are built one at a time and
    freed once their columns are taken, so at most one is alive at a time.
    """
    n_rows, cust, p, cell = layout.n_rows, layout.cust, layout.p, layout.cell
    observed = p + horizon <= cells.n_periods - 1
    nan = lambda: np.full(n_rows, np.nan)  # noqa: E731

    out = {"customer_id": customers["customer_id"].take(cust).reset_index(drop=True),
           "period": pd.Series(grid["period"].to_numpy()[p]),
           "period_end": pd.Series(grid["period_end"].to_numpy()[p]),
           "period_index": pd.Series(p)}
    for col in customers.columns:
        if col not in _CUSTOMER_KEYS:
            out[col] = customers[col].take(cust).reset_index(drop=True)
    signup_ns = customers["signup_at"].to_numpy("datetime64[ns]").view(np.int64)[cust]
    start_ns = grid["period"].to_numpy("datetime64[ns]").view(np.int64)[p]
    tenure = (start_ns // 1000 - signup_ns // 1000) / 86400e6 / 30.4375
    del signup_ns, start_ns
    out["tenure_months"] = np.nan_to_num(np.maximum(tenure, 0.0), nan=0.0)
    del tenure

    amount = dense_sums(revenue, "paid_at", "amount", cells)
    if amount is not None:
        out["revenue_prev_amount"] = np.where(p >= 1, shifted_sum(amount, cell, [-1]), np.nan)
        revenue_amount = amount[cell]
        amount_next = shifted_sum(amount, cell, range(1, horizon + 1))
        del amount
    else:
        out["revenue_prev_amount"], revenue_amount, amount_next = nan(), nan(), nan()
    out["ticket_count_prior"] = tickets.pop("ticket_count_prior")
    count = tickets.pop("ticket_count")
    out["ticket_count"] = count
    out["contacted"] = count > 0
    open_count = count - tickets["resolved_count"]  # still open when the period ends
    for col in exposures:
        out[col] = open_count if col == "open_count" else tickets.pop(col)
    out["revenue_amount"] = revenue_amount

    churn_row = layout.churn_p[cust]
    churned = layout.churned[cust]
    in_period = churned & (churn_row == p)
    out["churned_in_period"] = in_period
    out["churned_next"] = np.where(observed & ~in_period,
                                   (churned & (churn_row <= p + horizon)).astype(float), np.nan)
    del churn_row, churned
    out["revenue_next_amount"] = np.where(observed, amount_next, np.nan)
    out["repeat_purchase_next"] = np.where(observed & ~np.isnan(amount_next),
                                           (amount_next > 0).astype(float), np.nan)
    out["revenue_change_amount"] = np.where(observed, amount_next - horizon * revenue_amount,
                                            np.nan)
    del amount_next
    answers = dense_sums(surveys, "answered_at", "nps", cells, counts=True)
    if answers is not None:
        nps_sum = shifted_sum(answers[0], cell, range(1, horizon + 1))
        nps_n = shifted_sum(answers[1], cell, range(1, horizon + 1))
        del answers
        with np.errstate(invalid="ignore", divide="ignore"):
            out["nps_next"] = np.where(observed & (nps_n > 0), nps_sum / nps_n, np.nan)
    else:
        out["nps_next"] = nan()
    out["outcome_observed"] = observed
    return pd.DataFrame(out, copy=False)
