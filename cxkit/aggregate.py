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

__all__ = ["connect", "run_query", "period_number_sql", "panel_sql", "PANEL_TICKET_INPUTS"]

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


def panel_sql(*, period: str, base: int, n_periods: int, horizon: int, lookback: int,
              ticket_columns: frozenset = frozenset(), has_tickets: bool = True,
              has_revenue: bool = True, has_surveys: bool = True) -> str:
    """The customer x period panel query (see :func:`cxkit.panel.build_panel`).

    Reads ``cx_customers(cust, customer_id, signup_at, churned_at)``,
    ``cx_periods(p, period_start, period_end)``, ``cx_tickets(customer_id,
    created_at, <ticket_columns>)``, ``cx_revenue(customer_id, paid_at,
    amount)`` and ``cx_surveys(customer_id, answered_at, nps)``. Absent tables
    and columns are replaced by empty or NULL stand-ins.

    Parameters
    ----------
    period : {"W", "M", "Q"}
    base : int
        Period number of the window's first period.
    n_periods : int
        Number of periods in the window.
    horizon, lookback : int
        Outcome periods after t; periods before t counted in ``ticket_count_prior``.
    ticket_columns : frozenset of str
        Which of :data:`PANEL_TICKET_INPUTS` ``cx_tickets`` has.
    has_tickets, has_revenue, has_surveys : bool
        Whether the event tables exist.

    Returns
    -------
    str
        One query; one row per active (cust, p), ordered by cust then p.
    """
    last = n_periods - 1
    h, lb = int(horizon), int(lookback)
    pnum = lambda col: f"({period_number_sql(period, col)} - {base})"  # noqa: E731

    def tcol(name: str) -> str:
        return f"t.{name}" if name in ticket_columns else f"CAST(NULL AS {PANEL_TICKET_INPUTS[name]})"

    if has_tickets:
        tickets = f"""
    tk AS (
        SELECT c.cust, pr.p, epoch_us(pr.period_end) AS pe_us, epoch_us(t.created_at) AS cr_us,
               {tcol('first_response_minutes')} AS frm,
               {tcol('resolved_at')} IS NOT NULL AND {tcol('resolved_at')} < pr.period_end AS riw,
               (epoch_us({tcol('resolved_at')}) - epoch_us(t.created_at)) / 3600e6 AS res_h,
               CAST({tcol('contacts')} = 1 AS DOUBLE) AS fcr,
               CAST({tcol('reopened')} AS DOUBLE) AS reo,
               CAST({tcol('escalated')} AS DOUBLE) AS esc,
               CAST({tcol('csat')} AS DOUBLE) AS csat, CAST({tcol('ces')} AS DOUBLE) AS ces
        FROM cx_tickets t
        JOIN cx_customers c ON c.customer_id = t.customer_id
        JOIN cx_periods pr ON pr.p = {pnum('t.created_at')}
    ),
    ta AS (
        SELECT cust, p, count(*) AS ticket_count,
               median(frm) FILTER (WHERE cr_us + frm * 60e6 < pe_us) AS fr_med,
               {"count(*) FILTER (WHERE riw)" if "resolved_at" in ticket_columns
                else "CAST(NULL AS BIGINT)"} AS resolved_count,
               avg(res_h) FILTER (WHERE riw) AS res_mean,
               median(res_h) FILTER (WHERE riw) AS res_med,
               avg(fcr) FILTER (WHERE riw) AS fcr_rate,
               avg(reo) FILTER (WHERE riw) AS reopen_rate,
               avg(esc) FILTER (WHERE riw) AS escalation_rate,
               avg(csat) FILTER (WHERE riw) AS csat_mean,
               {"count(csat) FILTER (WHERE riw)" if {"csat", "resolved_at"} <= ticket_columns
                else "CAST(NULL AS BIGINT)"} AS csat_count,
               avg(ces) FILTER (WHERE riw) AS ces_mean,
               {"count(ces) FILTER (WHERE riw)" if {"ces", "resolved_at"} <= ticket_columns
                else "CAST(NULL AS BIGINT)"} AS ces_count
        FROM tk GROUP BY cust, p
    ),"""
    else:
        tickets = """
    ta AS (
        SELECT * FROM (VALUES (CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), CAST(NULL AS BIGINT),
            CAST(NULL AS DOUBLE), CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE),
            CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE), CAST(NULL AS DOUBLE),
            CAST(NULL AS BIGINT), CAST(NULL AS DOUBLE), CAST(NULL AS BIGINT)))
            v(cust, p, ticket_count, fr_med, resolved_count, res_mean, res_med, fcr_rate,
              reopen_rate, escalation_rate, csat_mean, csat_count, ces_mean, ces_count)
        WHERE false
    ),"""
    revenue = (f"""
    ra AS (
        SELECT c.cust, {pnum('r.paid_at')} AS p, sum(r.amount) AS amt
        FROM cx_revenue r JOIN cx_customers c ON c.customer_id = r.customer_id
        WHERE {pnum('r.paid_at')} BETWEEN 0 AND {last}
        GROUP BY ALL
    ),""" if has_revenue else """
    ra AS (SELECT CAST(NULL AS BIGINT) AS cust, CAST(NULL AS BIGINT) AS p,
                  CAST(NULL AS DOUBLE) AS amt WHERE false),""")
    surveys = (f"""
    sa AS (
        SELECT c.cust, {pnum('s.answered_at')} AS p, sum(s.nps) AS nps_sum, count(s.nps) AS nps_n
        FROM cx_surveys s JOIN cx_customers c ON c.customer_id = s.customer_id
        WHERE {pnum('s.answered_at')} BETWEEN 0 AND {last}
        GROUP BY ALL
    ),""" if has_surveys else """
    sa AS (SELECT CAST(NULL AS BIGINT) AS cust, CAST(NULL AS BIGINT) AS p,
                  CAST(NULL AS DOUBLE) AS nps_sum, CAST(NULL AS BIGINT) AS nps_n WHERE false),""")
    back = max(lb, 1)
    return f"""
WITH
    cu AS (
        SELECT cust, signup_at, {pnum('signup_at')} AS sp, {pnum('churned_at')} AS cp
        FROM cx_customers
    ),
    act AS (
        SELECT cust, signup_at, cp, greatest(sp, 0) AS first_p,
               least(coalesce(cp, {last}), {last}) AS last_p
        FROM cu
        WHERE greatest(sp, 0) <= least(coalesce(cp, {last}), {last})
    ),
    ext AS (
        SELECT cust, signup_at, cp, first_p, last_p,
               unnest(range(greatest(first_p - {back}, 0), least(last_p + {h}, {last}) + 1)) AS p
        FROM act
    ),{tickets}{revenue}{surveys}
    j AS (
        SELECT e.*, coalesce(ta.ticket_count, 0) AS ticket_count, ta.fr_med, ta.resolved_count,
               ta.res_mean, ta.res_med, ta.fcr_rate, ta.reopen_rate, ta.escalation_rate,
               ta.csat_mean, ta.csat_count, ta.ces_mean, ta.ces_count,
               coalesce(ra.amt, 0) AS amt, sa.nps_sum, coalesce(sa.nps_n, 0) AS nps_n
        FROM ext e
        LEFT JOIN ta ON ta.cust = e.cust AND ta.p = e.p
        LEFT JOIN ra ON ra.cust = e.cust AND ra.p = e.p
        LEFT JOIN sa ON sa.cust = e.cust AND sa.p = e.p
    ),
    w AS (
        SELECT j.*,
               sum(ticket_count) OVER prior AS tc_prior,
               sum(amt) OVER prev AS amt_prev,
               sum(amt) OVER nxt AS amt_next,
               sum(nps_sum) OVER nxt AS nps_sum_next,
               sum(nps_n) OVER nxt AS nps_n_next
        FROM j
        WINDOW prior AS (PARTITION BY cust ORDER BY p ROWS BETWEEN {lb} PRECEDING AND 1 PRECEDING),
               prev AS (PARTITION BY cust ORDER BY p ROWS BETWEEN 1 PRECEDING AND 1 PRECEDING),
               nxt AS (PARTITION BY cust ORDER BY p ROWS BETWEEN 1 FOLLOWING AND {h} FOLLOWING)
    )
SELECT
    w.cust, CAST(w.p AS INTEGER) AS period_index,
    greatest(0.0, (epoch_us(pr.period_start) - epoch_us(w.signup_at)) / 86400e6 / 30.4375)
        AS tenure_months,
    CASE WHEN w.p >= 1 THEN w.amt_prev END AS revenue_prev_amount,
    CASE WHEN w.p >= {lb} THEN CAST(w.tc_prior AS DOUBLE) END AS ticket_count_prior,
    w.ticket_count, w.ticket_count > 0 AS contacted,
    w.fr_med AS first_response_minutes_median,
    CAST(w.resolved_count AS DOUBLE) AS resolved_count,
    CAST(w.ticket_count - w.resolved_count AS DOUBLE) AS open_count,
    w.res_mean AS resolution_hours_mean, w.res_med AS resolution_hours_median,
    w.fcr_rate, w.reopen_rate, w.escalation_rate,
    w.csat_mean, CAST(w.csat_count AS DOUBLE) AS csat_count,
    w.ces_mean, CAST(w.ces_count AS DOUBLE) AS ces_count,
    w.amt AS revenue_amount,
    coalesce(w.cp = w.p, false) AS churned_in_period,
    CASE WHEN w.p + {h} <= {last} AND NOT coalesce(w.cp = w.p, false)
         THEN CAST(coalesce(w.cp <= w.p + {h}, false) AS DOUBLE) END AS churned_next,
    CASE WHEN w.p + {h} <= {last} THEN w.amt_next END AS revenue_next_amount,
    CASE WHEN w.p + {h} <= {last} THEN CAST(w.amt_next > 0 AS DOUBLE) END AS repeat_purchase_next,
    CASE WHEN w.p + {h} <= {last} THEN w.amt_next - {h} * w.amt END AS revenue_change_amount,
    CASE WHEN w.p + {h} <= {last} AND w.nps_n_next > 0
         THEN w.nps_sum_next / w.nps_n_next END AS nps_next,
    w.p + {h} <= {last} AS outcome_observed
FROM w JOIN cx_periods pr ON pr.p = w.p
WHERE w.p BETWEEN w.first_p AND w.last_p
ORDER BY w.cust, w.p
"""
