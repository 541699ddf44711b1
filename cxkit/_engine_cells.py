"""The engine's reductions for the panel: customer x period cells, one Ibis expression each.

The panel (:func:`cxkit.panel.build_panel`) keeps its grid, lags, leads and
outcomes in numpy; what it needs from the event tables are per-cell figures,
and those are reduced where the data are (DuckDB over files, a warehouse,
Spark), so only cells come back:

- **Cells.** An event belongs to the customer it names and to the period
  whose UTC instants hold its timestamp (``start_utc <= t < end_utc``, a join
  with the client-built period table of :func:`cxkit.periods.period_table`,
  whose boundaries are compiled into a balanced tree of comparisons; never the
  engine's ``date_trunc``). Customers come in as a small table of
  ``customer_id`` and the customer's position in the sorted customer table
  (one part of the customers at a time), so each cell comes back keyed by an
  integer ``cell = position * n_periods + period_index``, never by text.
- **Ticket cells** (:func:`ticket_cells`): ``ticket_count`` and one column per
  panel exposure, from the registry's declarative aggregations (per-ticket
  quantity, statistic, window) with the panel's no-look-ahead windows: window
  ``answered`` keeps first responses given before the period ends,
  ``resolved`` keeps tickets resolved before it ends.
- **Share families** (:func:`family_counts`, :func:`family_values`): counted
  in the engine; the registry turns the counts into columns and the reference
  (the most common value).
- **Sums** (:func:`sum_cells`): revenue paid and NPS answers per cell.
- **KPI groups** (:func:`group_figures`): the KPI tables' figures by their
  keys (``by`` columns, period), the same registry statistics.

Medians and quantiles are exact on every backend Ibis compiles them for here
(DuckDB ``quantile_cont``, Postgres ``percentile_cont``, Spark ``percentile``).
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from cxkit import registry
from cxkit._engine_time import pick
from cxkit._ticket_quantities import float_literal, ticket_quantity_expr

__all__ = ["customer_memtable", "period_index_expr", "period_end_expr", "ticket_plan",
           "ticket_cells", "sum_cells", "family_counts", "family_values", "reduce", "group_figures"]


def customer_memtable(ids: pd.Series, positions) -> ibis.Table:
    """The customers of one part: ``customer_id`` (text) and ``_cx_cust`` (position, int64;
    a name no export column takes)."""
    return ibis.memtable(pd.DataFrame({"customer_id": np.asarray(ids, dtype=object).astype(str),
                                       "_cx_cust": np.asarray(positions, dtype=np.int64)}))


def _lookup(ts, periods: pd.DataFrame, leaves: list):
    """``leaves[i]`` for the period ``i`` holding UTC instant ``ts`` (NULL outside the window):
    the period table's boundaries as a tree of comparisons (:func:`cxkit._engine_time.pick`),
    so a lookup takes ``log2(periods)`` steps, with no sort and no range join (the engine
    streams)."""
    def instant(v):
        return ibis.literal(pd.Timestamp(v).to_pydatetime(), type="timestamp")
    starts = list(periods["start_utc"])
    inside = (ts >= instant(starts[0])) & (ts < instant(periods["end_utc"].iloc[-1]))
    return inside.ifelse(pick(ts, starts, leaves), ibis.null(leaves[0].type()))


def period_index_expr(ts, periods: pd.DataFrame):
    """The ``period_index`` of the period holding UTC instant ``ts`` (NULL outside the
    window): ``start_utc <= ts < end_utc`` of the period table, in ``log2(periods)``
    comparisons."""
    return _lookup(ts, periods, [ibis.literal(int(i), type="int64")
                                 for i in periods["period_index"]])


def period_end_expr(ts, periods: pd.DataFrame):
    """The ``end_utc`` of the period holding UTC instant ``ts`` (NULL outside the window)."""
    return _lookup(ts, periods, [ibis.literal(pd.Timestamp(v).to_pydatetime(), type="timestamp")
                                 for v in periods["end_utc"]])


def _bucket(table: ibis.Table, time_column: str, periods: pd.DataFrame, customers: ibis.Table,
            n_periods: int, *, with_end: bool = False) -> ibis.Table:
    """``table``'s rows of ``customers``, numbered by the period of ``time_column``, with
    ``cell`` (and the period's ``end_utc``)."""
    if not table.customer_id.type().is_string():
        table = table.cast({"customer_id": "string"})
    keyed = table.join(customers, "customer_id")  # first: the lookups see only these rows
    ts = keyed[time_column]
    keyed = keyed.mutate(period_index=period_index_expr(ts, periods),
                         **({"end_utc": period_end_expr(ts, periods)} if with_end else {}))
    keyed = keyed.filter(keyed.period_index.notnull())
    return keyed.mutate(cell=keyed._cx_cust * n_periods + keyed.period_index)


def reduce(x, statistic):
    """One registry statistic of ``x`` as an Ibis reduction (float64).

    ``mean`` and ``share`` average, ``median`` and a float quantile are exact
    (interpolated), ``count`` counts non-missing values and ``sum`` is 0
    without values.
    """
    if isinstance(statistic, float):
        return x.quantile(statistic).cast("float64")
    if statistic in ("mean", "share"):
        return x.mean().cast("float64")
    if statistic == "median":
        return x.median().cast("float64")
    if statistic == "count":
        return x.count().cast("float64")
    if statistic == "sum":
        return x.sum().cast("float64").coalesce(float_literal(0))
    raise ValueError(f"unknown statistic {statistic!r}")


def family_counts(tickets: ibis.Table, kind: str) -> pd.Series:
    """Tickets per value of family column ``kind`` (``reason``, ``channel``), counted by the
    engine; a missing value is counted under a missing index entry."""
    counts = tickets.group_by(kind).agg(n=tickets.count()).to_pandas()
    return pd.Series(counts["n"].to_numpy(), index=counts[kind].to_numpy(dtype=object))


def family_values(counts: pd.Series, codes: dict) -> dict:
    """The raw values pooled under each column of a family: ``{slug: (values, missing)}``.

    ``counts`` is :func:`family_counts`; ``codes`` the code book of
    :func:`cxkit.registry.share_family` (value slugs per column).
    """
    column_of = {v: col for col, pooled in codes.items() for v in pooled}
    out = {col: ([], False) for col in codes}
    for value in counts.index:
        col = column_of.get("missing" if pd.isna(value) else registry.slug(value))
        if col is None:
            continue
        values, missing = out[col]
        out[col] = (values, True) if pd.isna(value) else ([*values, value], missing)
    return out


def _family_member(column, values: list, missing: bool):
    inside = column.isin(values).fill_null(False) if values else ibis.literal(False)
    return inside | column.isnull() if missing else inside


def ticket_plan(tickets: ibis.Table, exposures, families: dict, *,
                timezone: str = "UTC") -> list:
    """What the ticket cells compute: one ``(output, quantity, statistic, window)`` per
    exposure that can be made from these tickets.

    Each entry is ``(output, key, quantity, statistic, window)``: ``key`` names
    the per-ticket value (entries with the same key and window share one
    input), ``quantity`` maps a ticket table to the per-ticket value (float64, NULL
    where unknown). ``families`` maps each family kind to
    :func:`family_values`; ``timezone`` is the reporting zone (of the dates a
    declared metric's condition names). Exposures whose columns the tickets lack are left
    out (their panel columns stay NaN), as is ``open_count`` (ticket count minus
    resolved count).
    """
    plan = []
    has_resolved = "resolved_at" in tickets.columns
    for metric in exposures:
        agg = metric.aggregation
        if metric.name == "open_count" or (agg.window == "resolved" and not has_resolved):
            continue
        if metric.family:
            kind, _, value = agg.quantity.partition("=")
            values, missing = families[kind][value]

            def quantity(t, kind=kind, values=values, missing=missing):
                return _family_member(t[kind], values, missing).ifelse(1, 0).cast("float64")
        elif agg.quantity.startswith("declared:"):
            def quantity(t, metric=metric):
                return registry.declared_quantity_expr(t, metric, timezone=timezone)
        else:
            if ticket_quantity_expr(tickets, agg.quantity) is None:
                continue

            def quantity(t, name=agg.quantity):
                return ticket_quantity_expr(t, name)
        plan.append((metric.name, agg.quantity, quantity, agg.statistic, agg.window))
    return plan


def ticket_cells(tickets: ibis.Table, plan: list, *, periods: pd.DataFrame,
                 customers: ibis.Table, n_periods: int) -> ibis.Table:
    """Per-cell ticket figures of the panel: one Ibis expression.

    Parameters
    ----------
    tickets : ibis.Table
        Canonical tickets (UTC instants), with the read-time quantities.
    plan : list
        :func:`ticket_plan`.
    periods : pandas.DataFrame
        The period table (:func:`cxkit.periods.period_table`).
    customers : ibis.Table
        :func:`customer_memtable` of the customers whose cells to compute.
    n_periods : int

    Returns
    -------
    ibis.Table
        ``cell`` (int64), ``ticket_count`` (tickets created in the cell) and
        one float64 column per plan entry; one row per cell with tickets.
    """
    t = _bucket(tickets, "created_at", periods, customers, n_periods, with_end=True)
    if "resolved_at" in tickets.columns:  # resolved before the period ends
        t = t.mutate(_riw=(t.resolved_at < t.end_utc).fill_null(False))
    inputs, outputs, made = {}, {}, {}
    for name, key, quantity, statistic, window in plan:
        key = (key, window)
        if key not in made:
            x = quantity(t)
            if window == "answered":  # minutes after creation, known once given
                elapsed = t.end_utc.delta(t.created_at, unit="microsecond").cast("float64")
                x = (x * float_literal(60e6) < elapsed).ifelse(x, ibis.null("float64"))
            elif window == "resolved":
                x = t._riw.ifelse(x, ibis.null("float64"))
            made[key] = f"x{len(inputs)}"
            inputs[made[key]] = x
        outputs[name] = (made[key], statistic)
    t = t.select("cell", **inputs)
    return t.group_by("cell").agg(ticket_count=t.count(),
                                  **{n: reduce(t[col], stat) for n, (col, stat) in outputs.items()})


def sum_cells(table: ibis.Table, time_column: str, value: str, *, periods: pd.DataFrame,
              customers: ibis.Table, n_periods: int) -> ibis.Table:
    """Per-cell sum and count of the non-missing ``value`` (revenue paid, NPS answers).

    Returns ``cell``, ``total`` (float64, 0 when every value is missing) and
    ``n`` (values present); one row per cell with rows.
    """
    t = _bucket(table, time_column, periods, customers, n_periods)
    x = t[value].cast("float64")
    return t.group_by("cell").agg(total=x.sum().coalesce(float_literal(0)), n=x.count())


def group_figures(table: ibis.Table, keys: dict, values: dict, specs: dict) -> pd.DataFrame:
    """Figures of ``table`` by ``keys``, reduced by the engine and fetched (the KPI tables).

    Parameters
    ----------
    table : ibis.Table
    keys : dict of str to ibis.Value
        Group key columns (none: one group).
    values : dict of str to ibis.Value
        Per-row quantities by name.
    specs : dict
        Output -> ``(quantity name, statistic)``: a registry statistic or a float quantile.

    Returns
    -------
    pandas.DataFrame
        Indexed by the keys (a MultiIndex for several), ``n_rows`` and one
        float64 column per spec; one row per group with rows.
    """
    selected = {**keys, **{f"v{i}": v for i, v in enumerate(values.values())}}
    t = table.select(**selected) if selected else table  # only counted: no column needed
    column = {name: f"v{i}" for i, name in enumerate(values)}
    figures = {"n_rows": t.count().cast("float64"),
               **{out: reduce(t[column[src]], how) for out, (src, how) in specs.items()}}
    grouped = t.group_by(list(keys)).agg(**figures) if keys else t.aggregate(**figures)
    out = grouped.to_pandas()
    return out.set_index(list(keys)) if keys else out
