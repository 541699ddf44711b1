"""Instants, wall times and periods inside the engine, without its time-zone functions.

Two lookups place a timestamp among sorted change points:

- a zone's UTC offset, from the zone's changes of offset (:func:`zone_changes`,
  from the IANA rules pandas applies): :func:`to_utc` and :func:`local_time`;
- the period of the panel or of a KPI table, from the UTC boundaries of
  cxkit's period table (:func:`cxkit.periods.period_table`):
  :func:`cxkit._engine_cells.period_index_expr`.

Both are :func:`pick`: a balanced tree of comparisons, ``log2(points)`` per
value, so the engine streams (no sort, no range join) and every backend gives
the same answer (no ``date_trunc``, ``AT TIME ZONE`` or session zone). Sessions
run in UTC; timestamps in the engine are naive UTC instants.
"""

from __future__ import annotations

import functools

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

__all__ = ["pick", "zone_changes", "to_utc", "local_time", "ZONE_YEARS"]

ZONE_YEARS = (1970, 2100)  # changes of offset within these years are followed


def pick(value: ir.Value, starts: list, leaves: list) -> ir.Value:
    """``leaves[i]`` for the last ``starts[i] <= value`` (``leaves[0]`` before ``starts[1]``;
    ``starts[0]`` is not read) and NULL where ``value`` is NULL.

    Parameters
    ----------
    value : ibis timestamp expression
    starts : list of pandas.Timestamp
        Sorted naive instants; ``starts[0]`` may be None.
    leaves : list of ibis expressions
        One per start, all of one type.
    """
    def tree(lo: int, hi: int):
        if lo == hi:
            return leaves[lo]
        mid = (lo + hi + 1) // 2
        at = ibis.literal(pd.Timestamp(starts[mid]).to_pydatetime(), type="timestamp")
        return ibis.ifelse(value >= at, tree(mid, hi), tree(lo, mid - 1))
    return ibis.ifelse(value.isnull(), ibis.null(leaves[0].type()), tree(0, len(leaves) - 1))


@functools.lru_cache(maxsize=64)
def zone_changes(zone: str) -> tuple[tuple[pd.Timestamp, int, int], ...]:
    """The offset changes of ``zone``: (UTC instant, seconds before, seconds after).

    Found from the IANA rules pandas applies (daily offsets, then the minute of
    each change), for the years of :data:`ZONE_YEARS`; earlier and later
    values keep the first and last offsets.
    """
    first, last = ZONE_YEARS
    days = pd.date_range(f"{first}-01-01", f"{last}-12-31", freq="D", tz="UTC")
    naive = days.tz_localize(None)
    offsets = ((days.tz_convert(zone).tz_localize(None) - naive).total_seconds()).astype(int)
    changes = []
    for k in np.nonzero(offsets[1:] != offsets[:-1])[0]:
        minutes = pd.date_range(days[k], days[k + 1], freq="min")
        off = ((minutes.tz_convert(zone).tz_localize(None) - minutes.tz_localize(None))
               .total_seconds()).astype(int)
        j = int(np.argmax(off != off[0]))
        changes.append((minutes[j].tz_localize(None), int(off[0]), int(off[j])))
    if not changes:
        changes.append((naive[0], int(offsets[0]), int(offsets[0])))
    return tuple(changes)


def local_time(instant: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """Naive UTC instants -> naive wall times in ``zone`` (comparisons, any engine)."""
    if zone == "UTC":
        return instant
    changes = zone_changes(zone)
    starts = [None] + [t for t, _b, _a in changes]
    leaves = [instant + ibis.interval(seconds=changes[0][1])] + \
        [instant + ibis.interval(seconds=a) for _t, _b, a in changes]
    return pick(instant, starts, leaves)


def to_utc(wall: ir.TimestampValue, zone: str) -> ir.TimestampValue:
    """Naive wall times in ``zone`` -> naive UTC instants (comparisons, any engine).

    A wall time that exists twice (clocks set back) is read as standard time
    (the offset after the change); one that does not exist (clocks set
    forward) becomes the instant of the change, as pandas'
    ``ambiguous=False, nonexistent="shift_forward"`` does. (Where a change
    does not start on a whole hour, as on Lord Howe and the Chatham Islands,
    pandas moves such a time to the next whole wall hour instead; here it is
    the change.) The zone's changes (:func:`zone_changes`) become a tree of
    comparisons (:func:`pick`), so every backend gives the same instants.
    """
    if zone == "UTC":
        return wall
    changes = zone_changes(zone)
    starts, leaves = [None], [wall - ibis.interval(seconds=changes[0][1])]
    for t, before, after in changes:
        if after > before:  # the wall times [t + before, t + after) do not exist
            starts.append(t + pd.Timedelta(seconds=before))
            leaves.append(ibis.literal(t.to_pydatetime(), type="timestamp"))
        starts.append(t + pd.Timedelta(seconds=after))
        leaves.append(wall - ibis.interval(seconds=after))
    return pick(wall, starts, leaves)
