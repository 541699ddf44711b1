"""The aggregation engine: every SQL string cxkit runs, and the DuckDB connection.

This is the only module that talks to DuckDB. Pandas frames are registered
(scanned in place, not copied), the SQL runs under an explicit
``memory_limit`` and ``threads`` with a temporary spill directory, and the
answer comes back as numpy columns. A warehouse backend can be added here later
without touching the modules that define the models.

The panel hands the engine integer keys (one per panel row, see
:mod:`cxkit._grid`), so the SQL groups on integers, never on text ids.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator

import duckdb
import numpy as np
import pandas as pd

from cxkit.exceptions import ConfigError

__all__ = ["check_settings", "connect", "run_query_slices", "panel_ticket_sql"]

_MEMORY = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)


def check_settings(*, memory_limit: str, threads: int | None) -> int:
    """Check the engine settings before any work starts; return the thread count.

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
    return threads


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
    threads = check_settings(memory_limit=memory_limit, threads=threads)
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


def run_query_slices(sql: str, name: str, slices: Iterable[pd.DataFrame], *,
                     memory_limit: str = "4GB",
                     threads: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """Run ``sql`` once per frame of ``slices``, each registered as ``name``.

    For aggregations too large to hold at once: the caller cuts its table so
    that no group spans two slices, and each answer is small. All slices run
    on one connection.

    Parameters
    ----------
    sql : str
        One SQL query reading the table ``name``.
    name : str
        Table name under which each slice is registered.
    slices : iterable of DataFrame
        Scanned in place, one at a time.
    memory_limit, threads
        See :func:`connect`.

    Yields
    ------
    dict of str to numpy.ndarray
        Each slice's answer by column; a column with NULLs is a masked array.

    Raises
    ------
    ConfigError
        The engine ran out of memory (raise ``memory_limit``) or rejected a setting.
    """
    with connect(memory_limit=memory_limit, threads=threads) as con:
        for frame in slices:
            con.register(name, frame)
            try:
                answer = con.sql(sql).fetchnumpy()
            except duckdb.OutOfMemoryException as exc:
                raise ConfigError(
                    f"The aggregation ran out of memory under memory_limit={memory_limit!r}: "
                    f"raise memory_limit. Engine message: {exc}") from None
            con.unregister(name)
            yield answer


def panel_ticket_sql(*, columns: frozenset = frozenset()) -> str:
    """Per-row ticket aggregates of the panel (see :func:`cxkit.panel.build_panel`).

    Reads ``cx_tickets(row_id, <columns>)``, one row per ticket, prepared by the
    panel module: ``row_id`` is the panel row (customer and period) the ticket
    counts in, and every other column is already restricted to what counts in
    that row (NULL otherwise): ``frm`` minutes to a first response given before period end,
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
        One query; one row per panel row with at least one ticket, in no order.
    """
    def agg(fn: str, col: str, cast: str = "DOUBLE") -> str:
        return f"CAST({fn}({col}) AS {cast})" if col in columns else f"CAST(NULL AS {cast})"

    resolved = ("CAST(count(*) FILTER (WHERE riw) AS DOUBLE)" if "riw" in columns
                else "CAST(NULL AS DOUBLE)")
    return f"""
SELECT row_id,
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
GROUP BY row_id
"""
