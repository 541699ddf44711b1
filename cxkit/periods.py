"""Reporting periods: the one home of ``W``, ``M`` and ``Q``.

Every cxkit function that takes a ``period`` (KPI tables, the panel, the
survival window, display tables, the batch) reads it here:

- **Vocabulary.** :data:`PERIODS` names the periods: ``W`` ISO weeks starting
  Monday, ``M`` calendar months, ``Q`` calendar quarters. A period that is not
  one of them raises :class:`~cxkit.exceptions.ParameterError` (and nothing
  else) from :func:`check_period`.
- **Boundaries.** Timestamps are naive, in the reporting time zone of the
  source config (:attr:`cxkit.data.SupportData.timezone`), so a period starts
  at local midnight of its first day and ends (exclusive) at the next
  period's start, in that zone. The arithmetic below never converts zones.
- **Numbers.** Periods are numbered by integers (months since year 0,
  quarters since year 0, weeks since Monday 1900-01-01), so a window of
  periods is a range of integers; :func:`period_numbers` is the vectorised
  form the panel grid uses, :func:`period_starts` the one the KPI tables use.
- **Period tables for engines.** An engine holds UTC instants, so cxkit never
  lets it truncate dates (``date_trunc`` under a UTC session puts the tickets
  of a local evening in the wrong month): :func:`period_table` gives each
  period's local boundaries *and* the UTC instants they stand for, and the
  engine joins events to it by ``start_utc <= t < end_utc``.
  :func:`local_to_utc` / :func:`utc_to_local` are the one conversion between
  the two.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxkit.exceptions import ParameterError

__all__ = ["PERIODS", "PERIOD_WORDS", "check_period", "pandas_freq", "period_number",
           "period_numbers", "period_start", "period_starts", "period_range", "period_word",
           "period_table", "local_to_utc", "utc_to_local"]

#: The period vocabulary: code -> what one period is.
PERIODS = {"W": "ISO weeks starting Monday", "M": "calendar months", "Q": "calendar quarters"}
#: Adjective of each period, as in "monthly churn".
PERIOD_WORDS = {"W": "weekly", "M": "monthly", "Q": "quarterly"}
_FREQ = {"W": "W-SUN", "M": "M", "Q": "Q-DEC"}  # pandas frequency; weeks Monday..Sunday
WEEK_ZERO = pd.Timestamp("1900-01-01")  # a Monday: week number 0
_WEEK_ZERO_DAYS = (WEEK_ZERO - pd.Timestamp("1970-01-01")).days


def check_period(period, *, optional: bool = False, name: str = "period") -> str | None:
    """``period`` if it is ``"W"``, ``"M"`` or ``"Q"`` (or None when ``optional``).

    Raises
    ------
    ParameterError
        Any other value, naming the allowed ones.

    Examples
    --------
    >>> check_period("M")
    'M'
    """
    if period is None and optional:
        return None
    if not isinstance(period, str) or period not in PERIODS:
        allowed = ", ".join(f"'{k}' ({v})" for k, v in PERIODS.items())
        none = " or None for no period" if optional else ""
        raise ParameterError(f"{name}={period!r} is not a period; use {allowed}{none}.")
    return period


def pandas_freq(period: str) -> str:
    """The pandas period frequency of ``period`` (weeks run Monday..Sunday)."""
    return _FREQ[check_period(period)]


def period_word(period) -> str:
    """``"monthly"``, ``"weekly"``, ``"quarterly"``; ``"next-period"`` for anything else."""
    return PERIOD_WORDS.get(str(period or "").upper()[:1], "next-period")


def period_number(ts: pd.Timestamp, period: str) -> int:
    """Integer number of the period containing ``ts`` (see the module docstring)."""
    if period == "W":
        return (ts.normalize() - WEEK_ZERO).days // 7
    months = ts.year * 12 + ts.month - 1
    return months // 3 if period == "Q" else months


def period_numbers(values, period: str) -> np.ndarray:
    """Vectorised :func:`period_number` of timestamps; a missing timestamp gives -1."""
    stamps = np.asarray(values, dtype="datetime64[ns]")
    if period == "W":
        days = stamps.astype("datetime64[D]").astype(np.int64)
        number = (days - _WEEK_ZERO_DAYS) // 7
    else:
        number = stamps.astype("datetime64[M]").astype(np.int64) + 1970 * 12
        if period == "Q":
            number //= 3
    number[np.isnat(stamps)] = -1
    return number


def period_start(number: int, period: str) -> pd.Timestamp:
    """Start (local midnight) of period ``number``."""
    if period == "W":
        return WEEK_ZERO + pd.Timedelta(days=7 * int(number))
    months = int(number) * 3 if period == "Q" else int(number)
    return pd.Timestamp(year=months // 12, month=months % 12 + 1, day=1)


def period_range(first: int, last: int, period: str) -> pd.DatetimeIndex:
    """Starts of periods ``first``..``last`` (inclusive), nanosecond unit."""
    return pd.DatetimeIndex([period_start(n, period) for n in range(first, last + 1)]).as_unit("ns")


def period_starts(values: pd.Series, period: str) -> pd.Series:
    """Start of the period containing each timestamp (NaT stays NaT)."""
    return values.dt.to_period(pandas_freq(period)).dt.start_time


def local_to_utc(values, timezone: str) -> pd.Series:
    """Naive reporting-zone times -> naive UTC instants (``datetime64[ns]``).

    A time the clocks skip (spring forward) moves forward to the first valid
    one; a time they repeat (fall back) is taken as the later, standard-time
    instant, as :func:`cxkit.registry.add_ticket_quantities` does.
    """
    s = pd.Series(values).astype("datetime64[ns]")
    if timezone == "UTC":
        return s
    aware = s.dt.tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
    return aware.dt.tz_convert("UTC").dt.tz_localize(None)


def utc_to_local(values, timezone: str) -> pd.Series:
    """Naive UTC instants -> naive reporting-zone times (``datetime64[ns]``)."""
    s = pd.Series(values).astype("datetime64[ns]")
    if timezone == "UTC":
        return s
    return s.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None)


def period_table(first: int, last: int, period: str, *, timezone: str = "UTC") -> pd.DataFrame:
    """The periods numbered ``first``..``last`` (inclusive), one row each.

    Parameters
    ----------
    first, last : int
        Period numbers (:func:`period_number`).
    period : {"W", "M", "Q"}
    timezone : str, default "UTC"
        The reporting time zone.

    Returns
    -------
    pandas.DataFrame
        ``period_index`` (0-based), ``period`` and ``period_end`` (local
        midnight of the period's first day and of the next period's, naive
        reporting-zone times) and ``start_utc``, ``end_utc`` (the same
        boundaries as naive UTC instants): an event at UTC instant ``t``
        belongs to the period with ``start_utc <= t < end_utc``.

    Examples
    --------
    >>> period_table(24291, 24292, "M", timezone="Europe/Berlin")[["period", "start_utc"]]
          period           start_utc
    0 2024-04-01 2024-03-31 22:00:00
    1 2024-05-01 2024-04-30 22:00:00
    """
    period = check_period(period)
    starts = period_range(first, last + 1, period)
    utc = local_to_utc(starts, timezone).to_numpy()
    return pd.DataFrame({"period_index": np.arange(last - first + 1, dtype=np.int64),
                         "period": starts[:-1], "period_end": starts[1:],
                         "start_utc": utc[:-1], "end_utc": utc[1:]})
