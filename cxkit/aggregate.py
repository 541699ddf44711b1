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
import tempfile
from collections.abc import Iterable, Iterator

import duckdb
import numpy as np
import pandas as pd

from cxkit.config import is_size
from cxkit.exceptions import ParameterError, ResourceError

__all__ = ["check_settings", "connect", "run_query_slices", "panel_ticket_sql"]



def check_settings(*, memory_limit: str, threads: int | None) -> int:
    """Check the engine settings before any work starts; return the thread count.

    Raises
    ------
    ParameterError
        ``memory_limit`` is not a size or ``threads`` is not a positive integer.
    """
    if not is_size(memory_limit):
        raise ParameterError(
            f"memory_limit={memory_limit!r} is not a size: pass a number with a unit, "
            "e.g. memory_limit='4GB' or '512MB'.")
    if threads is None:
        threads = os.cpu_count() or 1
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ParameterError(
            f"threads={threads!r} must be a positive integer (or None for all cores).")
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
    ParameterError
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
    ResourceError
        The engine ran out of memory (raise ``memory_limit``).
    """
    with connect(memory_limit=memory_limit, threads=threads) as con:
        for frame in slices:
            con.register(name, frame)
            try:
                answer = con.sql(sql).fetchnumpy()
            except duckdb.OutOfMemoryException as exc:
                raise ResourceError(
                    f"The aggregation ran out of memory under memory_limit={memory_limit!r}: "
                    f"raise memory_limit. Engine message: {exc}") from None
            con.unregister(name)
            yield answer


def _reduction(statistic, col: str, code: int | None) -> str:
    """One registry aggregation (:class:`cxkit.registry.Aggregation`) as a SQL expression."""
    if code is not None:  # share of a family value among tickets with a code
        return f"count(*) FILTER (WHERE {col} = {int(code)}) / nullif(count({col}), 0)"
    if isinstance(statistic, float):
        return f"quantile_cont({col}, {float(statistic)!r})"
    return {"mean": f"avg({col})", "share": f"avg({col})", "median": f"median({col})",
            "count": f"count({col})", "sum": f"coalesce(sum({col}), 0.0)"}[statistic]


def panel_ticket_sql(plan) -> str:
    """Per-row ticket aggregates of the panel (see :func:`cxkit.panel.build_panel`).

    Reads ``cx_tickets(row_id, <inputs>)``, one row per ticket, prepared by the
    panel module: ``row_id`` is the panel row (customer and period) the ticket
    counts in, and every input is already restricted to what counts in that
    row (NULL otherwise).

    Parameters
    ----------
    plan : list of (output, input, statistic, code)
        One aggregate per output column, from the metric registry: ``input``
        names a column of ``cx_tickets``, ``statistic`` is ``mean``, ``share``,
        ``median`` (exact), ``sum`` (0 without values), ``count`` (non-missing
        values) or a float quantile; ``code`` (or None) makes it the share of
        tickets whose input equals that code among those with one.

    Returns
    -------
    str
        One query; one row per panel row with at least one ticket, in no order.
    """
    select = "".join(f",\n       CAST({_reduction(stat, col, code)} AS DOUBLE) AS \"{name}\""
                     for name, col, stat, code in plan)
    return f"SELECT row_id{select}\nFROM cx_tickets\nGROUP BY row_id\n"
