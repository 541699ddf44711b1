"""How the KPI tables of :mod:`cxkit.metrics` group rows: keys, levels, one dense table.

A KPI table has one row per *group*, a combination of key values: the ``by``
columns (any of :data:`BY_CHOICES`, in the order given), then ``period``.

- **Keys.** :func:`grouping` builds a key frame aligned on the rows of one
  table (tickets or surveys). A ``by`` column comes from that table or, for the
  customer columns :data:`CUSTOMER_KEYS`, from ``customers`` joined on
  ``customer_id``. A missing value becomes :data:`MISSING_LABEL`, so every row
  belongs to a group. ``period`` is the start of the calendar period (``W``:
  weeks Monday..Sunday, ``M``, ``Q``) of the row's event timestamp.
- **Levels.** Each key's levels are its observed labels, sorted; for
  ``period``, every period from the first event to the last, so quiet periods
  show up as rows instead of gaps.
- **Aggregate.** :func:`aggregate_groups` reduces the value columns by key and
  reindexes on the product of all levels: every combination appears once,
  counts of an empty group are 0 and its other statistics NaN. Keys come back
  as columns, never as a MultiIndex.
- **Spans.** Customers are not events but spans from ``signup_at`` to
  ``churned_at``: :func:`active_counts` counts the customers overlapping each
  window, by customer key.

The checks of the data, ``period`` and ``by`` live here too, so every KPI
raises the same :class:`~cxkit.exceptions.ParameterError` for a bad argument
and the same :class:`~cxkit.exceptions.SchemaError`, naming the table, the
column, the KPI and what to do, for a missing column.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from cxkit._engine_cells import group_figures, period_index_expr
from cxkit.data import SupportData, is_engine_data
from cxkit.exceptions import MissingDataError, ParameterError
from cxkit.periods import check_period, pandas_freq, period_number, period_table, utc_to_local

MISSING_LABEL = "(missing)"  # group label for rows with no value in a ``by`` column
BY_CHOICES = ("segment", "channel", "reason", "team", "agent", "plan")
CUSTOMER_KEYS = ("segment", "plan")  # ``by`` columns taken from ``customers``


def frames(data, table: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The ``table`` frame and the customers frame (None for a bare table)."""
    if isinstance(data, SupportData):
        df, customers = getattr(data, table), data.customers
    elif isinstance(data, pd.DataFrame):
        df, customers = data, None
    else:
        raise ParameterError(
            f"expected a SupportData or the {table} DataFrame, got {type(data).__name__}.")
    if df is None:
        raise MissingDataError(
            f"this SupportData has no {table} table; add a `{table}` source to the "
            f"source config to compute this KPI.")
    # positions, not labels: a concatenated export may repeat index labels
    customers = None if customers is None else customers.reset_index(drop=True)
    return df.reset_index(drop=True), customers


def require(df: pd.DataFrame, columns, table: str, kpi: str) -> None:
    """Raise :class:`SchemaError` naming the first of ``columns`` absent from ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise MissingDataError(
            f"{kpi} needs column {missing[0]!r} in the {table} table, which has only "
            f"{sorted(map(str, df.columns))[:8]}. Map a source column to {missing[0]!r} "
            f"in the source config, or leave this KPI out.")


def as_by(by) -> list[str]:
    """``by`` as a list of distinct :data:`BY_CHOICES` (None gives [])."""
    by = [by] if isinstance(by, str) else list(by or [])
    bad = [b for b in by if b not in BY_CHOICES]
    if bad:
        raise ParameterError(f"by={bad[0]!r} is not supported; use any of {list(BY_CHOICES)} "
                             f"(for periods use period='W', 'M' or 'Q').")
    if len(set(by)) != len(by):
        raise ParameterError(f"by={by} repeats a column; list each column once.")
    return by


def as_freq(period) -> str | None:
    """The pandas frequency of ``period`` (``W``, ``M``, ``Q``), None for no period."""
    period = check_period(period, optional=True)
    return None if period is None else pandas_freq(period)


def group_labels(values: pd.Series) -> pd.Series:
    """``values`` as text group labels, a missing value as :data:`MISSING_LABEL`."""
    out = values.astype(object).where(values.notna(), MISSING_LABEL)
    return out.astype(str)


def _from_customers(col: str, df, customers, *, table: str, kpi: str) -> bool:
    """Whether ``by`` column ``col`` comes from the customers (joined on ``customer_id``)
    rather than from ``df`` itself (a frame or an Ibis table); raises when neither has it."""
    if col in df.columns:
        return False
    if col in CUSTOMER_KEYS and customers is not None and col in customers.columns:
        require(df, ["customer_id"], table, kpi)
        return True
    if col in CUSTOMER_KEYS:
        raise MissingDataError(
            f"{kpi} by {col!r} needs the {col!r} column of the customers table; pass the "
            f"whole data (not one table) and map a customers column to {col!r}.")
    require(df, [col], table, kpi)
    return False


def grouping(df, customers, *, time_col, period, by, table, kpi):
    """Key columns of ``df`` and the full set of levels of each key.

    Returns ``(keys_frame, keys, levels)``; ``levels[k]`` lists every value of
    key ``k`` the output must show (all periods between first and last event).
    """
    by, freq = as_by(by), as_freq(period)
    frame = pd.DataFrame(index=df.index)
    for col in by:
        if _from_customers(col, df, customers, table=table, kpi=kpi):
            lookup = customers.drop_duplicates("customer_id").set_index("customer_id")[col]
            frame[col] = group_labels(df["customer_id"].map(lookup))
        else:
            frame[col] = group_labels(df[col])
    levels = {col: sorted(frame[col].unique()) for col in by}
    keys = list(by)
    if freq is not None:
        require(df, [time_col], table, kpi)
        periods = df[time_col].dt.to_period(freq)
        frame["period"] = periods.dt.start_time
        if periods.notna().any():
            levels["period"] = pd.period_range(periods.min(), periods.max(), freq=freq).start_time
        else:
            levels["period"] = pd.DatetimeIndex([])
        keys.append("period")
    return frame, keys, levels


def aggregate_groups(frame: pd.DataFrame, keys, levels, specs: dict) -> pd.DataFrame:
    """Group ``frame`` by ``keys`` and apply ``specs`` (out -> (column, how)).

    ``how`` is a pandas reduction name or a float quantile. Every combination
    of levels appears; ``n_rows`` counts the rows of each group. Counts
    ("count", "sum") of an empty group are 0, other statistics NaN.
    """
    if not keys:
        frame, keys, levels = frame.assign(_all=0), ["_all"], {"_all": [0]}
    cols = {}
    if len(frame):
        g = frame.groupby(keys, sort=False, observed=True)
        cols["n_rows"] = g.size()
        for out, (src, how) in specs.items():
            cols[out] = g[src].quantile(how) if isinstance(how, float) else g[src].agg(how)
    return fill_groups(pd.DataFrame(cols, columns=["n_rows", *specs]), keys, levels, specs)


def fill_groups(table: pd.DataFrame, keys, levels, specs: dict) -> pd.DataFrame:
    """Grouped figures (indexed by ``keys``; no keys: one row) on every combination of
    ``levels``: counts (``n_rows``, "count", "sum") of an empty group 0, other figures NaN."""
    if not keys or keys == ["_all"]:
        keys, levels = ["_all"], {"_all": [0]}
        table = table.set_axis(pd.Index([0] * len(table), name="_all"))
    if len(keys) == 1:
        index = pd.Index(levels[keys[0]], name=keys[0])
    else:
        index = pd.MultiIndex.from_product([levels[k] for k in keys], names=keys)
    table = table.astype("float64").reindex(index)
    for out in ["n_rows", *[o for o, (_, how) in specs.items() if how in ("count", "sum")]]:
        table[out] = table[out].fillna(0).round().astype("int64")
    table = table.reset_index()
    return table.drop(columns="_all") if "_all" in table.columns else table


def active_counts(customers, *, cust_keys, starts, ends, inclusive_end):
    """Customers active in each window: signed up before the end, not churned before the start.

    Windows run from ``starts`` to ``ends`` (a signup at the end counts only with
    ``inclusive_end``); a churn recorded before signup is taken as at signup.
    Returns one row per ``cust_keys`` combination and window: the keys,
    ``period`` (the window start) and ``n_active_customers``.
    """
    cust = pd.DataFrame({k: group_labels(customers[k]) for k in cust_keys},
                        index=customers.index)
    signup = customers["signup_at"].astype("datetime64[ns]")
    churn = (customers["churned_at"].astype("datetime64[ns]") if "churned_at" in customers.columns
             else pd.Series(pd.NaT, index=customers.index, dtype="datetime64[ns]"))
    churn = churn.where(churn.isna() | (churn >= signup), signup)  # churn never before signup
    starts = np.asarray(starts, dtype="datetime64[ns]")
    ends = np.asarray(ends, dtype="datetime64[ns]")
    by = cust_keys[0] if len(cust_keys) == 1 else cust_keys  # a one-item list warns on pandas 3
    groups = cust.groupby(by, sort=False).groups if cust_keys else {(): cust.index}
    rows = []
    for label, idx in groups.items():
        s = np.sort(signup.loc[idx].dropna().to_numpy())
        c = np.sort(churn.loc[idx].dropna().to_numpy())
        n = (np.searchsorted(s, ends, side="right" if inclusive_end else "left")
             - np.searchsorted(c, starts, side="left"))
        label = label if isinstance(label, tuple) else (label,)
        rows += [(*label, start, count) for start, count in zip(starts, n, strict=True)]
    return pd.DataFrame(rows, columns=[*cust_keys, "period", "n_active_customers"])


def engine_grouping(data, *, time_col, period, by, table, kpi):
    """:func:`grouping` for an engine's data (``EngineData``): the ``table`` as an Ibis table
    (joined to the customers for their ``by`` columns), its key expressions, the levels and
    the period table (None without a period).

    Labels are the same as the frames': text, a missing value :data:`MISSING_LABEL`;
    periods come from cxkit's period table of UTC instants, never the engine's dates.
    """
    by, period = as_by(by), check_period(period, optional=True)
    t = data.table(table)
    if t is None:
        raise MissingDataError(
            f"this data has no {table} table; add a `{table}` source to the source config "
            "to compute this KPI.")
    customers = data.table("customers")
    for col in by:
        if _from_customers(col, t, customers, table=table, kpi=kpi):
            joined = t.left_join(customers.select("customer_id", _by=customers[col]),
                                 "customer_id")
            t = joined.select(*t.columns, **{col: joined._by})
    keys = {col: t[col].cast("string").fill_null(MISSING_LABEL) for col in by}
    periods = None
    if period is not None:
        require(t, [time_col], table, kpi)
        found = t.aggregate(lo=t[time_col].min(), hi=t[time_col].max()).to_pandas()
        lo, hi = utc_to_local(found.iloc[0].to_numpy(), data.timezone).tolist()
        if pd.isna(lo):
            periods = period_table(1, 0, period, timezone=data.timezone)
        else:
            periods = period_table(period_number(pd.Timestamp(lo), period),
                                   period_number(pd.Timestamp(hi), period), period,
                                   timezone=data.timezone)
        t = t.filter(t[time_col].notnull())
        keys["period"] = (period_index_expr(t[time_col], periods) if len(periods)
                          else ibis.literal(0, type="int64"))  # no row to number
    return t, keys, periods


def engine_figures(data, *, values: dict, specs: dict, time_col, period, by, table,
                   kpi) -> tuple[pd.DataFrame, list]:
    """:func:`aggregate_groups` reduced by the engine: ``values`` maps quantity names to
    functions of the engine table; returns the filled table and its key columns."""
    t, keys, periods = engine_grouping(data, time_col=time_col, period=period, by=by,
                                       table=table, kpi=kpi)
    grouped = group_figures(t, keys, {k: f(t) for k, f in values.items()}, specs)
    names = list(keys)
    levels = {k: sorted(grouped.index.get_level_values(k).unique()) for k in names
              if k != "period"}
    if periods is not None:  # the frames' period starts (same unit), numbered as the table
        freq = as_freq(period)
        levels["period"] = (pd.period_range(periods["period"].iloc[0], periods["period"].iloc[-1],
                                            freq=freq).start_time if len(periods)
                            else pd.period_range("2000-01-01", periods=0, freq=freq).start_time)
        index = grouped.index.to_frame(index=False)
        index["period"] = levels["period"][index["period"].astype(np.int64)]
        grouped.index = pd.MultiIndex.from_frame(index) if len(names) > 1 else pd.Index(
            index["period"], name="period")
    return fill_groups(grouped, names, levels, specs), names


def event_table(data, table: str, columns, kpi: str, *, customers: bool = False):
    """The ``table`` of frames or of an engine (an Ibis table), its customers (a frame, or
    None for a bare table) and the check that it has ``columns``; the frames' errors.

    An engine's customers are fetched only when asked for (``customers=True``):
    the engine joins them itself for ``by`` columns.
    """
    if is_engine_data(data):
        df = data.table(table)
        if df is None:
            frames(SupportData(customers=data.customers), table)  # the same error
        customers = data.customers if customers else None
    else:
        df, customers = frames(data, table)
    require(df, columns, table, kpi)
    return df, customers


def count_groups(data, df, customers, *, time_col, period, by, table,
                 kpi) -> tuple[pd.DataFrame, list]:
    """Rows of ``table`` per group (``n_rows``) on every combination of levels, counted by
    pandas (``df`` and ``customers`` from :func:`event_table`) or by the engine; returns
    the table and its key columns."""
    if is_engine_data(data):
        return engine_figures(data, values={}, specs={}, time_col=time_col, period=period,
                              by=by, table=table, kpi=kpi)
    frame, keys, levels = grouping(df, customers, time_col=time_col, period=period, by=by,
                                   table=table, kpi=kpi)
    return aggregate_groups(frame, keys, levels, {}), keys


def event_span(data, df, time_col: str) -> tuple:
    """First and last ``time_col`` of ``df`` (a frame, or an engine's table of UTC instants
    shown in the reporting zone); NaT without values."""
    if not is_engine_data(data):
        return df[time_col].min(), df[time_col].max()
    found = df.aggregate(lo=df[time_col].min(), hi=df[time_col].max()).to_pandas()
    lo, hi = utc_to_local(found.iloc[0].to_numpy(), data.timezone).tolist()
    return pd.Timestamp(lo), pd.Timestamp(hi)

