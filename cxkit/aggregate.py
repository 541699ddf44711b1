"""The aggregation engine: every SQL string cxkit runs, and the DuckDB connection.

This is the only module that talks to DuckDB. Pandas frames are registered
(scanned in place, not copied), the SQL runs under an explicit
``memory_limit`` and ``threads`` with a temporary spill directory, and the
answer comes back as pandas. A warehouse backend can be added here later
without touching the modules that define the models.

Period arithmetic: every timestamp is mapped to an integer *period number*
(months since year 0 for ``M``, quarters for ``Q``, weeks since Monday
1900-01-01 for ``W``); ``period_index`` is that number minus the number of
the window's first period, so all joins are on integers.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterator

import duckdb
import pandas as pd

from cxkit.exceptions import ConfigError

__all__ = ["connect", "run_query", "period_number_sql", "panel_ticket_sql",
           "PANEL_TICKET_INPUTS"]

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)

# Ticket inputs the panel query reads (beyond customer_id and created_at), with
# the SQL type of the NULL that stands in when the source lacks the column.
PANEL_TICKET_INPUTS = {
    "first_response_minutes": "DOUBLE",
    "resolved_at": "TIMESTAMP",
    "contacts": "DOUBLE",
    "reopened": "BOOLEAN",
    "escalated": "BOOLEAN",
    "csat": "DOUBLE",
    "ces": "DOUBLE",
}


@contextlib.contextmanager
def connect(*, memory_limit: str = "4GB", threads: int | None = None) -> Iterator:
    """An in-memory DuckDB connection with bounded memory and a spill folder.

    Parameters
    ----------
    memory_limit : str, default "4GB"
        DuckDB memory limit, a number with a unit (``"512MB"``, ``"4GB"``).
        Larger intermediate results spill to a temporary folder that is
        removed when the connection closes.
    threads : int, optional
        Worker threads; all cores by default.

    Yields
    ------
    duckdb.DuckDBPyConnection
        Closed when the ``with`` block ends.

    Raises
    ------
    ConfigError
        ``memory_limit`` is not a size or ``threads`` is not a positive integer.
    """
    if not isinstance(memory_limit, str) or not _MEMORY.match(memory_limit):
        raise ConfigError(
            f"memory_limit={memory_limit!r} is not a size: pass a number with a unit, "
            "e.g. memory_limit='4GB' or '512MB'.")
    if threads is None:
        threads = os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads={threads!r} must be a positive integer (or None for all cores).")
    with tempfile.TemporaryDirectory(prefix="cxkit-duckdb-") as spill:
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"SET memory_limit = '{memory_limit.strip()}'")
            con.execute(f"SET threads = {int(threads)}")
            con.execute(f"SET temp_directory = '{spill}'")
            try:  # off by default; inside Jupyter, DuckDB refuses the SET without ipywidgets
                con.execute("SET enable_progress_bar = false")
            except duckdb.Error:
                pass
            con.execute("SET preserve_insertion_order = false")
            yield con
        finally:
            con.close()


def run_query(sql: str, frames: dict[str, pd.DataFrame], *, memory_limit: str = "4GB",
              threads: int | None = None) -> pd.DataFrame:
    """Register ``frames`` under their names, run ``sql`` and return pandas.

    Parameters
    ----------
    sql : str
        One SQL query referring to the frames by name.
    frames : dict of str to DataFrame
        Tables the query reads; scanned in place by DuckDB.
    memory_limit, threads
        See :func:`connect`.

    Returns
    -------
    pandas.DataFrame
        The query result; integer columns with missing values come back as
        float64 with NaN.

    Raises
    ------
    ConfigError
        The engine ran out of memory (raise ``memory_limit``) or rejected a setting.
    """
    with connect(memory_limit=memory_limit, threads=threads) as con:
        for name, frame in frames.items():
            con.register(name, frame)
        try:
            table = con.sql(sql).to_arrow_table()
        except duckdb.OutOfMemoryException as exc:
            raise ConfigError(
                f"The aggregation ran out of memory under memory_limit={memory_limit!r}: "
                f"raise memory_limit or use a longer period. Engine message: {exc}") from None
    return table.to_pandas(split_blocks=True, self_destruct=True)


def period_number_sql(period: str, column: str) -> str:
    """SQL mapping timestamp ``column`` to its integer period number.

    ``M``: months since year 0; ``Q``: calendar quarters since year 0;
    ``W``: ISO weeks (Monday start) since Monday 1900-01-01. NULL stays NULL.
    """
    months = f"(year({column}) * 12 + month({column}) - 1)"
    if period == "M":
        return months
    if period == "Q":
        return f"({months} // 3)"
    if period == "W":
        return f"(datediff('day', DATE '1900-01-01', CAST({column} AS DATE)) // 7)"
    raise ConfigError(f"period={period!r} is not one of 'W', 'M', 'Q'.")


def panel_ticket_sql(*, columns: frozenset = frozenset()) -> str:
    """Per-cell ticket aggregates of the panel (see :func:`cxkit.panel.build_panel`).

    Reads ``cx_tickets(cell, <columns>)``, one row per ticket, prepared by the
    panel module: ``cell`` is the integer (customer, period) key and every
    other column is already restricted to what counts in that cell (NULL
    otherwise): ``frm`` minutes to a first response given before period end,
    ``riw`` resolved in window (bool), ``res_h`` hours to resolution, ``fcr``,
    ``reo``, ``esc`` 0/1 first-contact resolution, reopened and escalated,
    ``csat`` and ``ces`` scores (all of resolved-in-window tickets). Absent
    columns give NULL aggregates.

    Parameters
    ----------
    columns : frozenset of str
        Which of ``frm``, ``riw``, ``res_h``, ``fcr``, ``reo``, ``esc``,
        ``csat``, ``ces`` ``cx_tickets`` has.

    Returns
    -------
    str
        One query; one row per cell with at least one ticket, in no order.
    """
    def agg(fn: str, col: str, cast: str = "DOUBLE") -> str:
        return f"CAST({fn}({col}) AS {cast})" if col in columns else f"CAST(NULL AS {cast})"

    resolved = ("CAST(count(*) FILTER (WHERE riw) AS DOUBLE)" if "riw" in columns
                else "CAST(NULL AS DOUBLE)")
    return f"""
SELECT cell, count(*) AS ticket_count,
       {agg('median', 'frm')} AS first_response_minutes_median,
       {resolved} AS resolved_count,
       {agg('avg', 'res_h')} AS resolution_hours_mean,
       {agg('median', 'res_h')} AS resolution_hours_median,
       {agg('avg', 'fcr')} AS fcr_rate,
       {agg('avg', 'reo')} AS reopen_rate,
       {agg('avg', 'esc')} AS escalation_rate,
       {agg('avg', 'csat')} AS csat_mean,
       {agg('count', 'csat')} AS csat_count,
       {agg('avg', 'ces')} AS ces_mean,
       {agg('count', 'ces')} AS ces_count
FROM cx_tickets
GROUP BY cell
"""
