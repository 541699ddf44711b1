"""Restrict data or a panel to one customer segment and a range of periods.

:func:`select` is what a notebook's ``segment``, ``start`` and ``end``
parameters do: the same call cuts validated data (customers of the segment,
their events inside the periods) and a customer x period panel (its rows),
so both describe the same customers and periods.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from cxkit.data import SupportData
from cxkit.exceptions import ParameterError
from cxkit.periods import check_period, period_number, period_start
from cxkit.schema import EVENT_TIME

__all__ = ["select"]


def _period_of(value, name: str, period: str) -> pd.Timestamp:
    """Start of the period containing ``value`` (``start``), or of the next one (``end``)."""
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ParameterError(
            f"{name}={value!r} is not a date: pass e.g. {name}='2024-01-01'.") from None
    number = period_number(ts, period)
    return period_start(number + 1 if name == "end" else number, period)


def select(obj, *, segment: str = "all", start=None, end=None, period: str | None = None):
    """Restrict data or a panel to one segment and a range of periods.

    Parameters
    ----------
    obj : SupportData or DataFrame
        Validated data (customers filtered by ``segment``; their events kept,
        events outside the periods ``start``..``end`` dropped) or a panel (rows
        filtered by ``segment`` and ``period``).
    segment : str
        A value of the ``segment`` column, or ``"all"``.
    start, end : str or Timestamp, optional
        First and last period, each given by any date inside it
        (``YYYY-MM-DD``); both periods are included whole. ``None`` or ``""``
        = unbounded.
    period : {"W", "M", "Q"}, optional
        Period of ``start`` and ``end``: the panel's own period for a panel,
        ``"M"`` for data unless given.

    Returns
    -------
    Same type as ``obj``.

    Raises
    ------
    ParameterError
        ``segment`` is not a segment of the data.
    """
    if period is None:
        period = obj.attrs.get("period", "M") if isinstance(obj, pd.DataFrame) else "M"
    period = check_period(period)
    start = None if start in (None, "") else _period_of(start, "start", period)
    end = None if end in (None, "") else _period_of(end, "end", period)
    frame = obj.customers if isinstance(obj, SupportData) else obj
    if segment != "all":
        if "segment" not in frame.columns:
            raise ParameterError(f"segment={segment!r} asked for, but the data has no "
                                 "'segment' column; use segment='all'.")
        known = sorted(frame["segment"].dropna().unique())
        if segment not in known:
            raise ParameterError(f"segment={segment!r} is not in the data; segments are "
                                 f"{known} (or 'all').")
    if not isinstance(obj, SupportData):
        keep = pd.Series(True, index=obj.index)
        if segment != "all":
            keep &= obj["segment"] == segment
        if start is not None:
            keep &= obj["period"] >= start
        if end is not None:
            keep &= obj["period"] < end
        out = obj.loc[keep].reset_index(drop=True)
        out.attrs = dict(obj.attrs)
        return out
    if segment == "all" and start is None and end is None:
        return obj  # nothing to restrict; frozen, and it keeps its computed fingerprint
    customers = obj.customers
    if segment != "all":
        customers = customers[customers["segment"] == segment]
    ids = set(customers["customer_id"])
    tables = {}
    for name in ("tickets", "revenue", "surveys"):
        df = getattr(obj, name)
        if df is None:
            continue
        keep = df["customer_id"].isin(ids)
        ts = df[EVENT_TIME[name]]
        if start is not None:
            keep &= ts >= start
        if end is not None:
            keep &= ts < end
        tables[name] = df.loc[keep].reset_index(drop=True)
    return dataclasses.replace(obj, customers=customers.reset_index(drop=True), **tables)
