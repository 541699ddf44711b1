"""The customer x period panel: support experience in period t, outcomes after t.

:func:`build_panel` turns the event tables of a :class:`~cxkit.data.SupportData`
(pandas frames) or of an engine's data (``EngineData``: Ibis tables in DuckDB,
a warehouse or Spark; see :mod:`cxkit._engine_cells`) into one row per
customer and calendar period in which the customer was active. Every exposure
column uses only what was known by the end of its period (no look-ahead);
every outcome column is measured strictly after it. Frames' ticket metrics are
grouped by SQL in :mod:`cxkit.aggregate`; an engine reduces its tables to
customer x period cells itself, fetched one part of the customers at a time.
The grid of customers and periods, lags and leads are numpy arrays in
:mod:`cxkit._grid` either way. This module checks arguments, prepares the
inputs and assembles the result; :func:`iter_panel` and :func:`write_panel`
build panels larger than memory in parts of customers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from cxkit import _engine_cells as engine_cells
from cxkit import aggregate, registry
from cxkit._grid import Cells, Layout, dense_sums, floats, shifted_sum
from cxkit.data import SupportData, is_engine_data
from cxkit.exceptions import ParameterError, ResourceError, SchemaError
from cxkit.periods import check_period, local_to_utc, period_number, period_table, utc_to_local

__all__ = ["build_panel", "iter_panel", "write_panel", "period_grid"]
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


def _is_frames(data) -> bool:
    """True for frames (SupportData), False for an engine's data; anything else is refused."""
    if isinstance(data, SupportData):
        return True
    if is_engine_data(data):
        return False
    raise ParameterError(
        f"expected a SupportData (cxkit.read_support_data) or an engine's data "
        f"(cxkit.open_source), got {type(data).__name__}.")


def _extremes(data, name: str, column: str) -> tuple:
    """(first, last) ``column`` of table ``name`` in the reporting zone; None where absent."""
    if name == "customers" or _is_frames(data):
        frame = data.customers if name == "customers" else getattr(data, name)
        if frame is None or column not in frame.columns or len(frame) == 0:
            return None, None
        values = (frame[column].min(), frame[column].max())
    else:  # one aggregate query; the engine holds UTC instants
        table = data.table(name)
        if table is None or column not in table.columns:
            return None, None
        found = table.aggregate(lo=table[column].min(), hi=table[column].max()).to_pandas()
        values = utc_to_local(found.iloc[0].to_numpy(), data.timezone).tolist()
    return tuple(None if pd.isna(v) else pd.Timestamp(v) for v in values)


def _window(data, *, period: str, start, end) -> pd.DataFrame:
    """:func:`period_grid` with each boundary also as a UTC instant (``start_utc``,
    ``end_utc``): the periods events are joined to."""
    period = check_period(period)
    ends = {} if start is not None and end is not None else {
        key: _extremes(data, *key) for key in (
            ("tickets", "created_at"), ("revenue", "paid_at"), ("surveys", "answered_at"),
            ("customers", "churned_at"))}
    if start is not None:
        first = _timestamp(start, "start")
    else:
        found = [ends[k][0] for k in (("tickets", "created_at"), ("revenue", "paid_at"))
                 if ends[k][0] is not None]
        if not found:
            raise ParameterError("The data have no tickets or payments to start the window from: "
                                 "pass start='YYYY-MM-DD'.")
        first = min(found)
    if end is not None:
        last = _timestamp(end, "end")
    else:
        found = [hi for key, (_, hi) in ends.items() if hi is not None]
        last = max(found) if found else first
    lo, hi = period_number(first, period), period_number(last, period)
    if hi < lo:
        raise ParameterError(f"The window ends ({last:%Y-%m-%d}) before it starts "
                             f"({first:%Y-%m-%d}): check start= and end=.")
    return period_table(lo, hi, period, timezone=getattr(data, "timezone", "UTC") or "UTC")


def period_grid(data, *, period: str = "M", start=None, end=None) -> pd.DataFrame:
    """The periods of the data window: one row per period.

    The window runs from the period containing the first ticket or payment
    (or ``start``) to the period containing the last ticket, payment, survey
    answer or churn (or ``end``).

    Parameters
    ----------
    data : SupportData or EngineData
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
    return _window(data, period=period, start=start, end=end)[["period_index", "period",
                                                                "period_end"]]


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
    setup = _Setup(data, period=period, horizon=horizon, lookback=lookback, start=start,
                   end=end, memory_limit=memory_limit, threads=threads)
    return _panel(setup, setup.customers)


def iter_panel(data, *, parts: int, period: str = "M", horizon: int = 1, lookback: int = 3,
               start=None, end=None, memory_limit: str = "4GB",
               threads: int | None = None) -> Iterator[pd.DataFrame]:
    """The panel of :func:`build_panel` in ``parts`` pieces of customers, one at a time.

    Customers are split, in ``customer_id`` order, into ``parts`` runs of
    about equal size; each piece holds every row of its customers, so the
    pieces in order, concatenated, are the panel :func:`build_panel` returns
    (same rows, columns and ``attrs``). Only one piece is in memory at a time.

    Parameters
    ----------
    data : SupportData or EngineData
    parts : int
        Number of pieces (>= 1).
    period, horizon, lookback, start, end, memory_limit, threads
        As for :func:`build_panel`.

    Yields
    ------
    pandas.DataFrame
        One piece per part, in customer order (a part without customers is skipped).
    """
    parts = _check_int(parts, "parts", 1)
    setup = _Setup(data, period=period, horizon=horizon, lookback=lookback, start=start,
                   end=end, memory_limit=memory_limit, threads=threads)
    bounds = np.linspace(0, len(setup.customers), parts + 1).round().astype(np.int64)
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        if b > a:
            yield _panel(setup, setup.customers.iloc[a:b].reset_index(drop=True))


def write_panel(data, folder, *, parts: int, period: str = "M", horizon: int = 1,
                lookback: int = 3, start=None, end=None, memory_limit: str = "4GB",
                threads: int | None = None) -> list[Path]:
    """Build the panel in ``parts`` pieces of customers and write each as a Parquet file.

    For panels larger than memory: pieces come from :func:`iter_panel` and
    are written as ``folder/part-00000.parquet``, ... (read them back in
    order, e.g. with ``pandas.read_parquet(folder)``, for the whole panel
    sorted by customer and period). A piece is written while the next one is
    built, so two pieces are in memory at a time: choose ``parts`` for that.
    The panel's ``attrs`` are stored in each file's metadata (pandas keeps
    them).

    Parameters
    ----------
    data : SupportData or EngineData
    folder : str or path-like
        Created if needed; must not already hold ``part-*.parquet`` files.
    parts : int
    period, horizon, lookback, start, end, memory_limit, threads
        As for :func:`build_panel`.

    Returns
    -------
    list of pathlib.Path
        The files written, in order.

    Raises
    ------
    ParameterError
        ``folder`` already holds panel parts.
    """
    folder = Path(folder)
    if folder.is_dir() and any(folder.glob("part-*.parquet")):
        raise ParameterError(f"{folder} already holds panel parts (part-*.parquet): pass an "
                             "empty or new folder.")
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    pending = None  # the previous piece's write, running while this piece is built
    with ThreadPoolExecutor(max_workers=1) as writer:
        for k, piece in enumerate(iter_panel(
                data, parts=parts, period=period, horizon=horizon, lookback=lookback,
                start=start, end=end, memory_limit=memory_limit, threads=threads)):
            if pending is not None:
                pending.result()  # raises the write's error; frees the previous piece
            path = folder / f"part-{k:05d}.parquet"
            pending = writer.submit(piece.to_parquet, path, index=False)
            written.append(path)
            del piece
        if pending is not None:
            pending.result()
    return written


class _Setup:
    """What every part of one panel shares: checked arguments, customers, periods and the
    ticket aggregates to compute (registry entries, share families)."""

    def __init__(self, data, *, period, horizon, lookback, start, end, memory_limit,
                 threads) -> None:
        self.data, self.period = data, period
        self.horizon = _check_int(horizon, "horizon", 1)
        self.lookback = _check_int(lookback, "lookback", 1)
        self.memory_limit, self.threads = memory_limit, threads
        aggregate.check_settings(memory_limit=memory_limit, threads=threads)
        self.frames = _is_frames(data)
        self.timezone = getattr(data, "timezone", None) or "UTC"
        self.grid = _window(data, period=period, start=start, end=end)
        self.customers = _customers(data, check_tables=self.frames)
        if self.frames:
            self.exposures, self.families = _exposures(data)
        else:
            self.exposures, self.families = _engine_exposures(data)
            tickets = data.table("tickets")
            self.plan = (None if tickets is None else
                         engine_cells.ticket_plan(tickets, self.exposures, self.families,
                                                  timezone=self.timezone))
            self.n_tickets = (0 if tickets is None else  # sizes the fetches of every part
                              int(tickets.count().to_pyarrow().as_py()))

    @property
    def references(self) -> dict:
        return {m.family: m.reference for m in self.exposures if m.family}


def _customers(data, *, check_tables: bool) -> pd.DataFrame:
    """The customers sorted by ``customer_id`` (checked: columns, types, unique ids)."""
    customers = data.customers
    for col in ("customer_id", "signup_at"):
        if col not in customers.columns:
            raise SchemaError(f"customers.{col} is missing: the panel needs customer_id and "
                              "signup_at for every customer.")
    _check_timestamps(customers, "customers", ("signup_at", "churned_at"))
    if check_tables:
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
    return customers


def _panel(setup: _Setup, customers: pd.DataFrame) -> pd.DataFrame:
    """The panel rows of ``customers`` (sorted, 0-based index)."""
    grid, data = setup.grid, setup.data
    cells = Cells(pd.Index(customers["customer_id"]), grid, setup.period)
    layout = Layout(customers, cells)
    names = [m.name for m in setup.exposures]
    if setup.frames:
        tickets = _ticket_rows(data.tickets, cells, layout, setup.exposures, setup.families,
                               lookback=setup.lookback, end_utc=_end_ns(grid, "end_utc"),
                               timezone=setup.timezone, memory_limit=setup.memory_limit,
                               threads=setup.threads)
        amount = lambda: dense_sums(data.revenue, "paid_at", "amount", cells)  # noqa: E731
        answers = lambda: dense_sums(data.surveys, "answered_at", "nps", cells,  # noqa: E731
                                     counts=True)
    else:
        fetch = _EngineFetch(setup, customers, cells)
        tickets = fetch.ticket_rows(layout, names)
        amount = lambda: fetch.sums("revenue", "paid_at", "amount")  # noqa: E731
        answers = lambda: fetch.sums("surveys", "answered_at", "nps", counts=True)  # noqa: E731
    panel = _assemble(customers, grid, cells, layout, tickets, amount, answers,
                      horizon=setup.horizon, exposures=names)
    panel.attrs.update({"period": setup.period, "horizon": setup.horizon,
                        "lookback": setup.lookback, "currency": data.currency,
                        "references": setup.references})
    return panel


def _end_ns(grid: pd.DataFrame, column: str) -> np.ndarray:
    return grid[column].to_numpy("datetime64[ns]").view(np.int64)


def _engine_exposures(data) -> tuple[list, dict]:
    """:func:`_exposures` for an engine: share families counted by the engine; for each
    family, the raw values of each of its columns (:func:`cxkit._engine_cells.family_values`)."""
    built_in = [m for m in registry.entries(panel=True)
                if m.aggregation is not None and m.aggregation.quantity != "ticket"]
    tickets = data.table("tickets")
    shares, values = [], {}
    for kind in ("reason", "channel"):
        if tickets is not None and kind in tickets.columns:
            counts = engine_cells.family_counts(tickets, kind)
            codes, metrics = registry.share_family_counts(counts, kind)
            shares += metrics
            values[kind] = engine_cells.family_values(counts, codes)
    return [*built_in, *shares, *data.metrics], values


# Tickets per engine fetch: the customers of a panel (or of one of its parts) are
# fetched in runs holding about this many tickets, so only one run's cells are in
# memory besides the panel.
_TICKETS_PER_FETCH = 1_500_000


class _EngineFetch:
    """Per-cell figures of an engine's tables for the customers of one panel (part),
    fetched in runs of customers (see :data:`_TICKETS_PER_FETCH`)."""

    def __init__(self, setup: _Setup, customers: pd.DataFrame, cells: Cells) -> None:
        self.setup, self.cells = setup, cells
        self.ids = customers["customer_id"]
        n = setup.n_tickets * len(customers) / max(len(setup.customers), 1)
        runs = max(1, math.ceil(n / _TICKETS_PER_FETCH))
        self.bounds = np.linspace(0, len(customers), runs + 1).round().astype(np.int64)
        self.parts = None

    def _runs(self):
        """The runs' customer tables, made once and shared by the tickets, revenue and
        survey queries (a warehouse uploads each once)."""
        if self.parts is None:
            self.parts = [engine_cells.customer_memtable(self.ids.iloc[a:b],
                                                         np.arange(a, b, dtype=np.int64))
                          for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)
                          if b > a]
        return self.parts

    def _fetch(self, expr) -> dict:
        try:
            table = expr.to_pyarrow()
        except duckdb.OutOfMemoryException as exc:
            raise ResourceError(
                "The engine ran out of memory computing the panel's cells: raise the engine's "
                "memory_limit (engine: block of the source config), or build the panel in more "
                f"parts (cxkit.write_panel(..., parts=)). Engine message: {exc}") from None
        return {name: table[name].to_numpy() for name in table.column_names}

    def ticket_rows(self, layout: Layout, names: list) -> dict:
        """:func:`_ticket_rows` from the engine's ticket cells."""
        setup, cells = self.setup, self.cells
        out = {name: np.full(layout.n_rows, np.nan) for name in names}
        count = np.zeros(cells.size, dtype=np.int64)
        tickets = setup.data.table("tickets")
        if tickets is not None:
            for part in self._runs():
                answer = self._fetch(engine_cells.ticket_cells(
                    tickets, setup.plan, periods=setup.grid, customers=part,
                    n_periods=cells.n_periods))
                cell = answer.pop("cell").astype(np.int64)
                count[cell] = answer.pop("ticket_count")
                row = layout.rows(cell // cells.n_periods, cell % cells.n_periods,
                                  np.ones(len(cell), bool))
                inside = row >= 0
                for name, values in answer.items():
                    out[name][row[inside]] = values.astype(np.float64)[inside]
                del answer, cell, row, inside
        prior = shifted_sum(count, layout.cell, range(-setup.lookback, 0))
        out["ticket_count_prior"] = np.where(layout.p >= setup.lookback, prior, np.nan)
        out["ticket_count"] = count[layout.cell]
        return out

    def sums(self, name: str, time_column: str, value: str, *, counts: bool = False):
        """:func:`cxkit._grid.dense_sums` from the engine's cells; None without the table."""
        table = self.setup.data.table(name)
        if table is None:
            return None
        total = np.zeros(self.cells.size)
        n = np.zeros(self.cells.size, dtype=np.int64)
        for part in self._runs():
            answer = self._fetch(engine_cells.sum_cells(
                table, time_column, value, periods=self.setup.grid, customers=part,
                n_periods=self.cells.n_periods))
            total[answer["cell"]] = answer["total"]
            n[answer["cell"]] = answer["n"]
        return (total, n) if counts else total


# Tickets per engine query. Slices are cut between panel rows, so every row's
# tickets meet in one query, and the engine's memory stays bounded.
_TICKETS_PER_QUERY = 1_000_000


def _ticket_rows(tickets: pd.DataFrame | None, cells: Cells, layout: Layout, exposures,
                 families: dict, *, lookback: int, end_utc: np.ndarray, timezone: str,
                 memory_limit: str, threads: int | None) -> dict:
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
        columns, plan = _ticket_columns(tickets, take, end_utc[p[take]], exposures, families,
                                        timezone=timezone)
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
                    exposures, families: dict, *, timezone: str) -> tuple[dict, list]:
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
    created = tickets["created_at"].take(take)  # as UTC instants: elapsed time across DST
    created_us = local_to_utc(created, timezone).to_numpy("datetime64[ns]").view(np.int64) // 1000
    del created
    end_us = end_ns // 1000
    riw = None
    if "resolved_at" in tickets.columns:
        resolved_ns = local_to_utc(tickets["resolved_at"].take(take), timezone).to_numpy(
            "datetime64[ns]")
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
              tickets: dict, amount, answers, *, horizon: int, exposures) -> pd.DataFrame:
    """The panel rows (active customer-periods, in cell order) and all their columns.

    Dense per-cell arrays (revenue, survey answers) are built one at a time, by
    the callables ``amount`` and ``answers`` (:func:`cxkit._grid.dense_sums`
    or its engine form; None without the table), and freed once their columns
    are taken, so at most one is alive at a time.
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

    amount = amount()
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
    answers = answers()
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
