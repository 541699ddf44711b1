"""Support KPIs: response and resolution times, FCR, reopen and escalation rates,
CSAT, CES, NPS, contact rate and the channel and contact-reason mix.

Every function takes the data first (a :class:`~cxkit.data.SupportData`, or the
one table it needs) and returns a tidy table: one row per group, the group keys
as columns (the ``by`` columns, then ``period``, the period start timestamp),
never a MultiIndex. Each figure comes with the count of tickets or responses
behind it. Periods are calendar periods of the event timestamp (weeks start on
Monday) and every period between the first and the last event is present:
a group or period without tickets has NaN metrics and zero counts. How rows
become groups (keys, levels, the dense table) is described in :mod:`cxkit._kpi_groups`;
this module defines the KPIs: formulas, units and edge cases.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from cxkit import registry
from cxkit._kpi_groups import (
    BY_CHOICES,
    CUSTOMER_KEYS,
    MISSING_LABEL,
    active_counts,
    aggregate_groups,
    as_by,
    count_groups,
    engine_figures,
    event_span,
    event_table,
    fill_groups,
    group_labels,
    grouping,
    require,
)
from cxkit.availability import adapts
from cxkit.data import SupportData, is_engine_data
from cxkit.exceptions import ParameterError, SchemaError
from cxkit.periods import pandas_freq

__all__ = [
    "SELF_SERVICE_CHANNEL", "MISSING_LABEL", "BY_CHOICES", "compute_kpis",
    "first_response_minutes", "resolution_hours", "fcr_rate", "reopen_rate",
    "escalation_rate", "self_service_rate", "csat", "ces", "nps", "contact_rate", "channel_mix",
    "reason_mix", "kpi_trend_plot",
]

SELF_SERVICE_CHANNEL = registry.SELF_SERVICE_CHANNEL  # channel label counted as self-service


def _q_label(q: float) -> str:
    if not isinstance(q, float) or not 0 < q < 1:
        raise ParameterError(f"q={q!r} must be a quantile strictly between 0 and 1, e.g. 0.9.")
    return "p" + f"{q * 100:g}".replace(".", "_")


def _ticket_specs(q: float, declared=()) -> dict:
    """KPI column -> (per-ticket quantity, statistic), from the registry's KPI entries.

    The registry's 0.9 quantile entries are renamed and recomputed for ``q``.
    """
    p = _q_label(q)
    specs = {}
    for m in [*registry.entries(kpi=True), *declared]:
        agg = m.aggregation
        if agg is None or agg.quantity == "ticket":
            continue
        how = agg.statistic
        name = m.name
        if isinstance(how, float):
            name, how = name.replace("_p90", f"_{p}"), q
        specs[name] = (agg.quantity, "mean" if how == "share" else how)
    return specs


def _ticket_values(t: pd.DataFrame, specs: dict, declared=()) -> tuple[dict, dict]:
    """Per-ticket quantities the specs need, and for each one that cannot be made, the
    missing column."""
    values, missing = {}, {}
    by_quantity = {m.aggregation.quantity: m for m in declared}
    for src in dict.fromkeys(src for src, _ in specs.values()):
        if src in by_quantity:
            values[src] = registry.declared_quantity(t, by_quantity[src])
            continue
        lack = registry.missing_column(t, src)
        if lack is None:
            values[src] = registry.ticket_quantity(t, src)
        else:
            missing[src] = lack
    return values, missing


def _engine_ticket_values(t, specs: dict, declared=(), *, timezone: str) -> tuple[dict, dict]:
    """:func:`_ticket_values` for an engine's ticket table: functions of the table giving
    each quantity's Ibis expression."""
    values, missing = {}, {}
    by_quantity = {m.aggregation.quantity: m for m in declared}
    for src in dict.fromkeys(src for src, _ in specs.values()):
        if src in by_quantity:
            registry.declared_quantity_expr(t, by_quantity[src], timezone=timezone)  # checks
            values[src] = (lambda m: lambda table: registry.declared_quantity_expr(
                table, m, timezone=timezone))(by_quantity[src])
            continue
        lack = registry.missing_column(t, src)
        if lack is None:
            values[src] = (lambda name: lambda table: registry.ticket_quantity_expr(
                table, name))(src)
        else:
            missing[src] = lack
    return values, missing


def _ticket_kpis(data, *, outputs, period, by, q=0.9, strict=True, kpi="support KPIs"):
    engine = is_engine_data(data)  # an engine's data: the engine groups, only figures come back
    tickets, customers = event_table(data, "tickets", ["created_at"], kpi)
    declared = data.metrics if not isinstance(data, pd.DataFrame) and outputs is None else ()
    specs = _ticket_specs(q, declared)
    specs = {o: s for o, s in specs.items() if outputs is None or o in outputs}
    if engine:
        values, missing = _engine_ticket_values(tickets, specs, declared,
                                                timezone=data.timezone)
    else:
        values, missing = _ticket_values(tickets, specs, declared)
    unavailable = {o: missing[src] for o, (src, _) in specs.items() if src in missing}
    if strict and unavailable:
        require(tickets, [next(iter(unavailable.values()))], "tickets", kpi)
    ok = {o: s for o, s in specs.items() if o not in unavailable}
    if engine:
        table, keys = engine_figures(data, values=values, specs=ok, time_col="created_at",
                                     period=period, by=by, table="tickets", kpi=kpi)
    else:
        frame, keys, levels = grouping(tickets, customers, time_col="created_at",
                                        period=period, by=by, table="tickets", kpi=kpi)
        table = aggregate_groups(frame.assign(**values), keys, levels, ok)
    table = table.rename(columns={"n_rows": "n_tickets"})
    for col in ok:  # pct metrics are means of 0/1 values, shown in percent
        if registry.lookup(col).unit == "pct":
            table[col] = table[col] * 100
    table = table[[*keys, "n_tickets", *ok]]
    table.attrs["unavailable"] = {o: f"tickets has no {c!r} column" for o, c in unavailable.items()}
    return table


@adapts
def compute_kpis(data, *, period=None, by=None, q: float = 0.9) -> pd.DataFrame:
    """All ticket KPIs in one table: one row per group (overall, period, ``by``).

    Figures and units, per group of tickets (period = ticket ``created_at``):

    - ``n_tickets``: tickets in the group.
    - ``first_response_minutes_median`` / ``_p90``: median and 90th percentile
      (linear interpolation) of ``first_response_minutes`` over the
      ``first_response_count`` tickets that got a response, in minutes.
    - ``resolution_hours_median`` / ``_mean`` / ``_p90``: hours from
      ``created_at`` to ``resolved_at`` over the ``resolved_count`` resolved
      tickets; open tickets (no ``resolved_at``) are counted in ``open_count``
      and never enter resolution times.
    - ``fcr_rate``: share (0-1) of resolved tickets with ``contacts == 1``.
    - ``reopen_rate``, ``escalation_rate``: share (0-1) of tickets flagged
      (tickets with an unknown flag are left out).
    - ``self_service_rate``: share (0-1) of tickets whose ``channel`` is
      :data:`SELF_SERVICE_CHANNEL` (tickets with no channel count as not).
    - ``csat_mean`` (score 1-5), ``csat_satisfied_pct`` (% of ratings that
      are 4 or 5) over ``csat_count`` ratings; ``ces_mean`` (score 1-7, 7 =
      very easy) over ``ces_count`` ratings.

    Each figure is a registry entry (:func:`cxkit.registry.lookup`: label, unit,
    aggregation); metrics declared in the source config's ``metrics:`` block
    (``data.metrics``) follow as extra columns.

    Figures are as of the data extract: a ticket created in a period and
    resolved after it still counts in that period's resolution time (the
    panel, :func:`cxkit.build_panel`, instead uses only what was known at
    period end). A group without tickets (or without ratings) has NaN figures
    and zero counts. When an optional column is absent, the figures that need it (and
    their counts) are left out of the table and ``kpis.attrs["unavailable"]``
    maps each left-out column to the reason, e.g. ``{"csat_mean": "tickets has
    no 'csat' column"}``.

    Parameters
    ----------
    data : SupportData or DataFrame
        Validated data, or its tickets table alone (then ``by`` cannot use the
        customer columns ``segment`` and ``plan``).
    period : {"W", "M", "Q"}, optional
        Calendar period of ``created_at`` (weeks start Monday). Every period
        between the first and last ticket appears, in a ``period`` column
        holding the period start.
    by : str or list of str, optional
        Any of :data:`BY_CHOICES`. ``segment`` and ``plan`` come from
        ``customers`` joined on ``customer_id``. A missing label is shown as
        :data:`MISSING_LABEL`. Every combination of observed labels appears.
    q : float, default 0.9
        Upper quantile reported besides the median (column suffix ``_p90``).

    Returns
    -------
    pandas.DataFrame
        Group key columns (``by`` then ``period``), ``n_tickets``, then the
        figures above (those available). Counts are ``int64``.

    Raises
    ------
    SchemaError
        The data has no tickets table, or a ``by`` column is absent.
    ParameterError
        ``period``, ``by`` or ``q`` is not one of the allowed values.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "customer_id": ["c1", "c1"],
    ...                   "created_at": pd.to_datetime(["2024-01-02", "2024-03-05"]),
    ...                   "contacts": [1, 2],
    ...                   "resolved_at": pd.to_datetime(["2024-01-02 06:00", None])})
    >>> k = compute_kpis(t, period="M")
    >>> k[["period", "n_tickets", "open_count", "resolution_hours_median"]]
          period  n_tickets  open_count  resolution_hours_median
    0 2024-01-01          1           0                      6.0
    1 2024-02-01          0           0                      NaN
    2 2024-03-01          1           1                      NaN
    """
    return _ticket_kpis(data, outputs=None, period=period, by=by, q=q, strict=False)


def first_response_minutes(data, *, q: float = 0.9, period=None, by=None) -> pd.DataFrame:
    """Median and ``q`` quantile of first response time, in minutes.

    Computed over tickets with a response (``first_response_minutes`` not
    missing, or derived from ``first_response_at``); their number is
    ``first_response_count``. The quantile uses linear interpolation.
    Parameters ``period`` and ``by`` are as in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``n_tickets``, ``first_response_count``,
        ``first_response_minutes_median``, ``first_response_minutes_p90``
        (suffix follows ``q``: ``q=0.95`` gives ``_p95``).

    Raises
    ------
    SchemaError
        Tickets have neither ``first_response_minutes`` nor ``first_response_at``.
    """
    p = _q_label(q)
    outputs = ["first_response_count", "first_response_minutes_median",
               f"first_response_minutes_{p}"]
    return _ticket_kpis(data, outputs=outputs, period=period, by=by, q=q,
                        kpi="first response time")


def resolution_hours(data, *, q: float = 0.9, period=None, by=None) -> pd.DataFrame:
    """Resolution time in hours (median, mean, ``q`` quantile) and open tickets.

    Resolution time = ``resolved_at - created_at`` in hours, over the
    ``resolved_count`` resolved tickets of the group. Tickets still open (no
    ``resolved_at``) are counted in ``open_count`` and never treated as resolved,
    so ``resolved_count + open_count == n_tickets``. Parameters as in
    :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``n_tickets``, ``resolved_count``, ``open_count``,
        ``resolution_hours_median``, ``resolution_hours_mean``,
        ``resolution_hours_p90``.

    Raises
    ------
    SchemaError
        Tickets have no ``resolved_at`` column.
    """
    outputs = ["resolved_count", "open_count", "resolution_hours_median",
               "resolution_hours_mean", f"resolution_hours_{_q_label(q)}"]
    return _ticket_kpis(data, outputs=outputs, period=period, by=by, q=q, kpi="resolution time")


def fcr_rate(data, *, period=None, by=None) -> pd.DataFrame:
    """First-contact resolution rate: share (0-1) of resolved tickets with ``contacts == 1``.

    The denominator is the resolved tickets (``resolved_count``) with a known
    ``contacts``; open tickets are left out, since they may need more contacts.
    Parameters as in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``n_tickets``, ``resolved_count``, ``fcr_rate``.

    Raises
    ------
    SchemaError
        Tickets lack ``resolved_at`` or ``contacts``.
    """
    return _ticket_kpis(data, outputs=["resolved_count", "fcr_rate"], period=period, by=by,
                        kpi="first-contact resolution rate")


def reopen_rate(data, *, period=None, by=None) -> pd.DataFrame:
    """Share (0-1) of tickets reopened after being solved, over ``n_tickets``.

    Tickets whose ``reopened`` flag is missing are left out of the share.
    Raises :class:`SchemaError` when the ``reopened`` column is absent.
    """
    return _ticket_kpis(data, outputs=["reopen_rate"], period=period, by=by, kpi="reopen rate")


def escalation_rate(data, *, period=None, by=None) -> pd.DataFrame:
    """Share (0-1) of tickets escalated to a higher tier, over ``n_tickets``.

    Tickets whose ``escalated`` flag is missing are left out of the share.
    Raises :class:`SchemaError` when the ``escalated`` column is absent.
    """
    return _ticket_kpis(data, outputs=["escalation_rate"], period=period, by=by,
                        kpi="escalation rate")


def self_service_rate(data, *, period=None, by=None) -> pd.DataFrame:
    """Share (0-1) of tickets whose channel is :data:`SELF_SERVICE_CHANNEL`.

    The denominator is all tickets (``n_tickets``), so the share equals the
    self-service row of :func:`channel_mix`. Raises :class:`SchemaError`
    when the ``channel`` column is absent.
    """
    return _ticket_kpis(data, outputs=["self_service_rate"], period=period, by=by,
                        kpi="self-service share")


def csat(data, *, period=None, by=None) -> pd.DataFrame:
    """Ticket CSAT: mean score (1-5) and % satisfied (ratings of 4 or 5).

    Both are over the ``csat_count`` tickets with a rating; a group with no
    rating has NaN figures and ``csat_count`` 0. Parameters as in
    :func:`compute_kpis`; raises :class:`SchemaError` when ``csat`` is absent.

    Returns
    -------
    pandas.DataFrame
        Keys, ``n_tickets``, ``csat_count``, ``csat_mean``, ``csat_satisfied_pct``.
    """
    return _ticket_kpis(data, outputs=["csat_count", "csat_mean", "csat_satisfied_pct"],
                        period=period, by=by, kpi="CSAT")


def ces(data, *, period=None, by=None) -> pd.DataFrame:
    """Customer effort score: mean (1-7, 7 = very easy) over ``ces_count`` ratings.

    Raises :class:`SchemaError` when the ``ces`` column is absent.
    """
    return _ticket_kpis(data, outputs=["ces_count", "ces_mean"], period=period, by=by,
                        kpi="customer effort score")


# ------------------------------------------------------- survey, customer, mix


@adapts
def nps(data, *, period=None, by=None, alpha: float = 0.05) -> pd.DataFrame:
    """Net Promoter Score in points (-100..100), with standard error and interval.

    NPS = ``promoters_pct - detractors_pct``, where promoters answered 9-10 and
    detractors 0-6 on the 0-10 scale, over the ``n_responses`` survey answers
    of the group (period = ``answered_at``). The standard error follows from
    the trinomial variance of the answer being promoter (+1), passive (0) or
    detractor (-1)::

        se = 100 * sqrt((p_pro + p_det - (p_pro - p_det) ** 2) / n)

    and the interval is the normal approximation ``nps +/- z(1 - alpha/2) * se``
    clipped to [-100, 100]. With few answers, or all answers in one class
    (se = 0), the interval is too narrow: read it with ``n_responses``.

    Parameters
    ----------
    data : SupportData or DataFrame
        Validated data, or its surveys table alone.
    period, by
        As in :func:`compute_kpis`; ``by`` may only use the customer columns
        ``segment`` and ``plan`` (surveys carry no ticket attributes).
    alpha : float, default 0.05
        1 - confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        Keys, ``nps``, ``nps_se``, ``nps_conf_low``, ``nps_conf_high``,
        ``promoters_pct``, ``detractors_pct``, ``n_responses``.

    Raises
    ------
    SchemaError
        No surveys table, or it lacks ``nps`` / ``answered_at``.
    ParameterError
        ``alpha`` is not in (0, 1), or another argument is not allowed.
    """
    engine = is_engine_data(data)
    surveys, customers = event_table(data, "surveys", ["nps"], "NPS")
    if not 0 < alpha < 1:
        raise ParameterError(f"alpha={alpha!r} must be between 0 and 1, e.g. 0.05.")
    specs = {"n_responses": ("score", "count"), "p_pro": ("pro", "mean"),
             "p_det": ("det", "mean")}
    if engine:  # the same figures, grouped by the engine
        def share(t, test):
            return t.nps.notnull().ifelse(test(t.nps).ifelse(1, 0).cast("float64"),
                                          ibis.null("float64"))
        values = {"score": lambda t: t.nps.cast("float64"),
                  "pro": lambda t: share(t, lambda x: x >= 9),
                  "det": lambda t: share(t, lambda x: x <= 6)}
        t, keys = engine_figures(data, values=values, specs=specs, time_col="answered_at",
                                 period=period, by=by, table="surveys", kpi="NPS")
    else:
        score = surveys["nps"].astype("float64")
        frame, keys, levels = grouping(surveys, customers, time_col="answered_at",
                                        period=period, by=by, table="surveys", kpi="NPS")
        frame = frame.assign(score=score,
                             pro=(score >= 9).astype("float64").where(score.notna()),
                             det=(score <= 6).astype("float64").where(score.notna()))
        t = aggregate_groups(frame, keys, levels, specs)
    p_pro, p_det, n = t["p_pro"], t["p_det"], t["n_responses"].astype("float64")
    t["nps"] = 100 * (p_pro - p_det)
    t["nps_se"] = 100 * np.sqrt((p_pro + p_det - (p_pro - p_det) ** 2) / n.where(n > 0))
    z = stats.norm.ppf(1 - alpha / 2)
    t["nps_conf_low"] = (t["nps"] - z * t["nps_se"]).clip(-100, 100)
    t["nps_conf_high"] = (t["nps"] + z * t["nps_se"]).clip(-100, 100)
    t["promoters_pct"], t["detractors_pct"] = 100 * p_pro, 100 * p_det
    return t[[*keys, "nps", "nps_se", "nps_conf_low", "nps_conf_high", "promoters_pct",
              "detractors_pct", "n_responses"]]


@adapts
def contact_rate(data, *, period="M", by=None) -> pd.DataFrame:
    """Contact rate: tickets per active customer per period.

    ``contact_rate = n_tickets / n_active_customers``. A customer is active in
    a period when ``signup_at`` is before the period end and ``churned_at`` is
    empty or not before the period start, so a customer who churns mid-period
    still counts in that period. With ``period=None`` the one window runs from
    the first to the last ticket. ``by`` on a customer column (``segment``,
    ``plan``) splits both tickets and active customers; on a ticket column
    (``channel``, ``reason``...) it splits the tickets only (e.g. email tickets
    per active customer). No active customer gives NaN.

    Parameters
    ----------
    data : SupportData or EngineData
        Needs ``customers`` (``signup_at``, optional ``churned_at``) and
        ``tickets``; an engine's data (:func:`cxkit.open_source`) has its
        tickets counted by the engine.
    period : {"W", "M", "Q"} or None, default "M"
    by : str or list of str, optional
        As in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``contact_rate``, ``n_tickets``, ``n_active_customers``.

    Raises
    ------
    SchemaError
        No tickets table, or customers lack ``signup_at``.
    ParameterError
        ``data`` is a bare table, or another argument is not allowed.
    """
    if not (isinstance(data, SupportData) or is_engine_data(data)):
        raise ParameterError("contact_rate needs the whole data (tickets and customers: a "
                             "SupportData or cxkit.open_source's data), got "
                             f"{type(data).__name__}.")
    tickets, customers = event_table(data, "tickets", ["created_at"], "contact rate",
                                     customers=True)
    require(customers, ["customer_id", "signup_at"], "customers", "contact rate")
    t, keys = count_groups(data, tickets, customers, time_col="created_at", period=period,
                           by=by, table="tickets", kpi="contact rate")
    cust_keys = [k for k in keys if k in CUSTOMER_KEYS]
    if cust_keys:  # a segment without tickets still has a contact rate of 0
        levels = {k: sorted(t[k].unique()) for k in keys}
        for k in cust_keys:
            levels[k] = sorted(set(levels[k]) | set(group_labels(customers[k])))
        t = fill_groups(t.set_index(keys), keys, levels, {})
    t = t.rename(columns={"n_rows": "n_tickets"})
    if period is None:
        first, last = event_span(data, tickets, "created_at")
        starts, ends = [first], [last]
        t, keys = t.assign(period=0), [*keys, "period"]
    else:
        periods = pd.DatetimeIndex(sorted(t["period"].unique())).to_period(pandas_freq(period))
        starts, ends = periods.start_time, (periods + 1).start_time
    if period is None and not t["n_tickets"].sum():
        t = t.assign(n_active_customers=0)
    else:
        active = active_counts(customers, cust_keys=cust_keys, starts=starts, ends=ends,
                               inclusive_end=period is None)
        if period is None:
            active["period"] = 0
        t = t.merge(active, on=[*cust_keys, "period"], how="left")
    t["n_active_customers"] = t["n_active_customers"].fillna(0).astype("int64")
    t["contact_rate"] = t["n_tickets"] / t["n_active_customers"].where(t["n_active_customers"] > 0)
    keys = [k for k in keys if not (period is None and k == "period")]
    return t[[*keys, "contact_rate", "n_tickets", "n_active_customers"]]


def _mix(data, column: str, *, period, by, kpi: str) -> pd.DataFrame:
    tickets, customers = event_table(data, "tickets", [column], kpi)
    by = as_by(by)
    if column in by:
        raise ParameterError(f"{kpi} is already split by {column!r}; drop it from `by`.")
    t, keys = count_groups(data, tickets, customers, time_col="created_at", period=period,
                           by=[*by, column], table="tickets", kpi=kpi)
    t = t.rename(columns={"n_rows": "n_tickets"})
    outer = [k for k in keys if k != column]
    total = t.groupby(outer, sort=False)["n_tickets"].transform("sum") if outer else \
        t["n_tickets"].sum()
    t["share_rate"] = t["n_tickets"] / (total.where(total > 0) if outer else (total or np.nan))
    return t[[*outer, column, "n_tickets", "share_rate"]]


@adapts
def channel_mix(data, *, period=None, by=None) -> pd.DataFrame:
    """Channel mix: share (0-1) of tickets by ``channel``, one row per channel and group.

    Shares add up to 1 within each group (tickets without a channel form the
    :data:`MISSING_LABEL` row). The self-service share is the row of
    :data:`SELF_SERVICE_CHANNEL`. A period without tickets has
    ``n_tickets`` 0 and NaN shares. Parameters as in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``channel``, ``n_tickets``, ``share_rate``.
    """
    return _mix(data, "channel", period=period, by=by, kpi="channel mix")


@adapts
def reason_mix(data, *, period=None, by=None) -> pd.DataFrame:
    """Contact-reason mix: share (0-1) of tickets by ``reason``, one row per reason and group.

    Reasons usually fall into four families worth tracking separately: a
    service problem (something broke), a roadblock (the customer cannot do
    something alone), missing or confusing information, and perceived
    complexity (the product is hard to use). Shares add up to 1 within each
    group. Parameters as in :func:`compute_kpis`.

    Returns
    -------
    pandas.DataFrame
        Keys, ``reason``, ``n_tickets``, ``share_rate``.
    """
    return _mix(data, "reason", period=period, by=by, kpi="contact-reason mix")


@adapts
def kpi_trend_plot(kpis: pd.DataFrame, *, kpi: str, by: str | None = None, ax=None):
    """Line plot of one KPI over periods, one line per ``by`` group.

    Parameters
    ----------
    kpis : DataFrame
        A table from this module computed with ``period=``.
    kpi : str
        Column to plot, e.g. ``"resolution_hours_median"``.
    by : str, optional
        Group column drawn as separate lines (e.g. ``"channel"``).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        Axes with the period start on x and the KPI, with its unit, on y.
    """
    import matplotlib.pyplot as plt
    import seaborn as sns

    for col in ("period", kpi, by):
        if col is not None and col not in kpis.columns:
            raise SchemaError(f"kpi_trend_plot needs column {col!r}, absent from the table "
                              f"(columns: {list(kpis.columns)}); compute it with period=... "
                              f"and by=... first.")
    if ax is None:
        _, ax = plt.subplots()
    sns.lineplot(data=kpis, x="period", y=kpi, hue=by, marker="o", ax=ax)
    ax.set_xlabel("Period start")
    ax.set_ylabel(registry.lookup(kpi).axis_label)
    return ax
