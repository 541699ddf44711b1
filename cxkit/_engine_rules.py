"""Validation rules as engine expressions: every rule of :mod:`cxkit.validate` over Ibis tables.

:func:`check_tables` takes canonical engine tables (typed Ibis tables with the
tracking columns ``source_row``, ``source_file``, ``_unparsed_columns`` and
``_unparsed_values``; timestamps are naive UTC instants) and returns a
:class:`Checked`: per table, the same table plus one boolean column per rule
(``_fails_<rule>``: the row fails that rule) and ``rule``, the first failing
rule in :mod:`cxkit.validate`'s order (null: the row passes). Nothing is
fetched but two quartiles per event date column (the plausible window) and,
from :meth:`Checked.quality`, one row of counts per table.

Semantics follow :func:`cxkit.validate.validate_tables` rule by rule:

- ``superseded`` (a ``dedupe`` rule) is decided first over the whole table;
  the other per-table rules see only the remaining rows (their windows are
  partitioned by it), as the pandas path validates only the latest versions.
- "first kept" rules (``superseded`` by file order, ``duplicate_row``,
  ``duplicate_id``) rank rows by ``row_number()`` ordered by ``source_file``
  then ``source_row`` (a glob's files are read in sorted order). On an engine
  whose string order follows a collation (Postgres), files named alike up to
  case or accents may order differently from Python's.
- the plausible window's quartiles are exact over the whole column
  (superseded rows included, as in pandas), computed on epoch seconds in
  bounded memory (:func:`exact_quantiles`: counts per day, then the values
  of the days holding the quartiles' ranks); ``plausibility.earliest`` is a wall time
  in ``timezone`` and the window's dates are shown there.
- cross-table rules (``unknown_customer``, ``outside_customer_span``) look at
  every row (superseded ones included, as in pandas; such rows still count
  under ``superseded``) and use the clean customers (or the clean
  customer-level table), which are checked first.
- durations are taken between UTC instants, so they are exact across
  daylight-saving changes (the pandas path subtracts wall times).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import ibis
import pandas as pd

from cxkit._ticket_quantities import float_literal
from cxkit.config import Dedupe, Plausibility
from cxkit.exceptions import QuarantineWarning
from cxkit.schema import columns_of
from cxkit.validate import (
    EVENT_TABLES,
    ID_COLUMNS,
    MIN_SPREAD,
    ORDER_RULES,
    QUALITY_COLUMNS,
    RANGE_RULES,
    SHOWN_AS,
    TRACKING,
    UNPARSED,
    UNPARSED_VALUES,
)

__all__ = ["check_tables", "Checked", "RuleCheck", "RULE", "FAILS", "exact_quantiles"]

RULE = "rule"  # first failing rule of a row; null where the row passes
FAILS = "_fails_"  # prefix of the per-rule boolean columns of a flagged table
CROSS_TABLES = ("tickets", "revenue", "surveys")  # checked against the valid customers
_KNOWN = "_cx_known"  # columns of the customers joined for the cross-table rules
_SIGNUP, _CHURNED, _KNOWN_ID = "_cx_signup_at", "_cx_churned_at", "_cx_customer_id"


@dataclass(frozen=True)
class RuleCheck:
    """One rule checked on one table: its name, the columns it reads, its description."""

    rule: str
    columns: tuple[str, ...]
    description: str

    @property
    def flag(self) -> str:
        """Name of the boolean column that holds this rule's failures."""
        return FAILS + self.rule


@dataclass(frozen=True)
class TablePlan:
    """What was checked on one table: its columns (tracking included) and rules in order."""

    name: str
    columns: tuple[str, ...]
    rules: tuple[RuleCheck, ...]
    order: tuple[str, ...]  # the row key that orders rows (first kept = lowest)


@dataclass(frozen=True)
class Checked:
    """Checked canonical tables: flagged rows, clean rows, quarantine and quality counts.

    ``flagged[name]`` is the canonical table plus one ``_fails_<rule>`` boolean
    column per rule and ``rule`` (first failing rule, null where the row
    passes); ``plans[name]`` lists the rules in order.
    """

    flagged: dict[str, ibis.Table]
    plans: dict[str, TablePlan]
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    def with_flagged(self, tables: dict[str, ibis.Table]) -> Checked:
        """The same checks over substituted flagged tables (e.g. materialised ones).

        Parameters
        ----------
        tables : dict of str to ibis.Table
            Replacement flagged tables by name, with the columns of
            ``flagged[name]``; tables not given are kept.
        """
        unknown = set(tables) - set(self.flagged)
        if unknown:
            raise KeyError(f"no checked table named {sorted(unknown)[0]!r}")
        return Checked({**self.flagged, **tables}, self.plans)

    def clean(self, name: str) -> ibis.Table:
        """Rows of ``name`` that pass every rule, without tracking columns."""
        t = self.flagged[name]
        keep = [c for c in self.plans[name].columns if c not in TRACKING]
        return t.filter(t[RULE].isnull()).select(keep)

    def quarantine(self, name: str) -> ibis.Table:
        """Rows of ``name`` set aside: ``rule``, ``source_row``, ``source_file``, the
        values, ``unparsed_columns`` and ``unparsed_values``, in file and row order."""
        t = self.flagged[name]
        plan = self.plans[name]
        out = t.filter(t[RULE].notnull()).order_by(list(plan.order)).select([RULE, *plan.columns])
        return out.rename({new: old for old, new in SHOWN_AS.items()})

    def quality(self) -> pd.DataFrame:
        """The data-quality table (``validate.QUALITY_COLUMNS``): one aggregate query per table.

        Warns
        -----
        QuarantineWarning
            One summary when any row was quarantined (first call only).
        """
        if "quality" not in self._cache:
            rows = []
            for name, plan in self.plans.items():
                rows += _quality_rows(self.flagged[name], plan)
            quality = pd.DataFrame(rows, columns=QUALITY_COLUMNS)
            self._cache["quality"] = quality
            _warn_quarantined(quality, stacklevel=3)
        return self._cache["quality"].copy()


def check_tables(tables: dict[str, ibis.Table], *, as_of, plausibility: Plausibility | None = None,
                 currency: str | None = None, dedupe: dict[str, Dedupe] | None = None,
                 timezone: str | None = None,
                 materialise: Callable[[str, ibis.Table], ibis.Table] | None = None,
                 row_id: str | None = None) -> Checked:
    """Every validation rule as Ibis expressions over canonical engine tables.

    Parameters
    ----------
    tables : dict of str to ibis.Table
        Canonical engine tables by name, all on one backend, with the tracking
        columns (``source_row`` defaults to a row number, the unparsed columns
        to ``''``).
    as_of : str or Timestamp
        Naive UTC instant (an aware one is converted); later dates are
        ``future_date``.
    plausibility : Plausibility, optional
        Limits of the plausibility rules; the documented defaults when omitted.
    currency : str, optional
        The config's currency (``other_currency``).
    dedupe : dict of str to Dedupe, optional
        Per table, which version of a row overlapping exports keep.
    timezone : str, optional
        Reporting zone: ``plausibility.earliest`` is a wall time there and
        dates in descriptions are shown there (default UTC).
    materialise : callable, optional
        ``materialise(name, table)`` -> table, applied to each flagged table as
        soon as it is built (customers first), so later tables' cross-table
        rules read the materialised customers; also to the small tables of
        keys that repeat (``<table>_repeats_<n>``), so the duplicate rules
        count the keys once.
    row_id : str, optional
        A column numbering each table's rows uniquely, in their order: it
        orders the "first kept" rules and is left out of the rules and of
        the clean and quarantined rows (default: rows are ordered and joined
        by ``source_file`` and ``source_row``, which must identify a row).

    Returns
    -------
    Checked
    """
    limits = plausibility if plausibility is not None else Plausibility()
    currency = currency.upper() if currency else None
    zone = timezone or "UTC"
    as_of = _utc(pd.Timestamp(as_of), "UTC")
    order = sorted(tables, key=lambda t: (t not in ("customers", "customer_level"), t))
    flagged, plans = {}, {}
    for name in order:
        known = next((n for n in ("customers", "customer_level") if n in flagged), None)
        known_table = None
        if known is not None:
            kt = flagged[known]
            known_table = kt.filter(kt[RULE].isnull())
        t, plan = _check_table(name, tables[name], as_of=as_of, limits=limits,
                               currency=currency, dedupe=(dedupe or {}).get(name), zone=zone,
                               known=known_table, customers="customers" in flagged,
                               row_id=row_id, materialise=materialise)
        flagged[name] = materialise(name, t) if materialise is not None else t
        plans[name] = plan
    return Checked(flagged, plans)


def _utc(when: pd.Timestamp, zone: str) -> pd.Timestamp:
    """A timestamp as a naive UTC instant (naive ones are wall times in ``zone``)."""
    if when.tzinfo is None:
        if zone == "UTC":
            return when
        when = when.tz_localize(zone, ambiguous=False, nonexistent="shift_forward")
    return when.tz_convert("UTC").tz_localize(None)


def _wall(when: pd.Timestamp, zone: str) -> pd.Timestamp:
    """A naive UTC instant as a naive wall time in ``zone``."""
    return when if zone == "UTC" else when.tz_localize("UTC").tz_convert(zone).tz_localize(None)


def _missing(col: ibis.Value) -> ibis.Value:
    """Null, or NaN for floating columns (pandas counts both as missing)."""
    if col.type().is_floating():
        return col.isnull() | col.isnan().fill_null(False)
    return col.isnull()


def _any(conds: list) -> ibis.Value:
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


def _with_tracking(t: ibis.Table, row_id: str | None) -> tuple[ibis.Table, tuple[str, ...]]:
    """The table with every tracking column, and its column order as the quarantine shows it."""
    cols = [c for c in t.columns if c != row_id]
    add = {}
    if "source_row" not in cols:
        add["source_row"] = (ibis.row_number() + 1).cast("int64")
        cols.insert(0, "source_row")
    for col in (UNPARSED, UNPARSED_VALUES):
        if col not in cols:
            add[col] = ibis.literal("", type="string")
            cols.append(col)
    if add:
        t = t.mutate(**add).select(cols + ([row_id] if row_id else []))
    return t, tuple(cols)


def _window_starts(name: str, t: ibis.Table, dates: list[str], limits: Plausibility,
                   zone: str) -> dict[str, pd.Timestamp]:
    """First plausible date (UTC) per date column, as ``validate.date_window_start``."""
    event = name in EVENT_TABLES
    earliest = _utc(pd.Timestamp(limits.earliest), zone) if limits.earliest is not None else None
    fence = event and bool(limits.date_fence)
    if earliest is None and not fence:
        return {}
    quartiles = {}
    if fence:
        for c in dates:
            q = exact_quantiles(t[c].epoch_seconds(), (0.25, 0.75))
            if q is not None:
                quartiles[c] = tuple(pd.Timestamp(round(v * 1e9)) for v in q)
    starts = {}
    for c in dates:
        bounds = [earliest] if earliest is not None else []
        if c in quartiles:
            q1, q3 = quartiles[c]
            bounds.append(q1 - limits.date_fence * max(q3 - q1, MIN_SPREAD))
        if bounds:
            starts[c] = max(bounds)
    return starts


_BIN = 86_400  # the first pass counts values per day-wide bin


def exact_quantiles(values: ibis.Value, probs) -> tuple[float, ...] | None:
    """Exact quantiles of an integer column (linear interpolation, as pandas) in bounded memory.

    An engine's exact quantile aggregate holds every value of its group at
    once (DuckDB cannot spill it: 1e8 timestamps ran out of memory). Here a
    first query counts the values per bin of :data:`_BIN` units, the counts
    locate the bins holding the ranks ``floor((n-1)p)`` and the next one, and a
    second query fetches only those bins' values. ``None`` when the column
    has no values.
    """
    table = values.as_table()
    col = table.columns[0]
    present = table.filter(table[col].notnull())
    present = present.select(v=present[col], bin=present[col] // _BIN)
    counts = present.group_by("bin").aggregate(n=present.count()).to_pandas()
    if counts.empty:
        return None
    counts = counts.sort_values("bin", ignore_index=True)
    ends = counts["n"].cumsum().to_numpy()  # rank after the last value of each bin
    total = int(ends[-1])
    ranks = {}
    for p in probs:
        pos = (total - 1) * p
        low = int(pos // 1)
        ranks[p] = (low, min(low + 1, total - 1), pos - low)
    needed = sorted({r for low, high, _ in ranks.values() for r in (low, high)})
    at = {r: int((ends > r).argmax()) for r in needed}  # bin position of each rank
    bins = sorted({int(counts["bin"].iat[i]) for i in at.values()})
    chosen = present.filter(present.bin.isin(bins)).select("bin", "v").to_pandas()
    by_bin = {b: g["v"].sort_values().to_numpy() for b, g in chosen.groupby("bin")}

    def value(rank: int) -> float:
        i = at[rank]
        before = int(ends[i - 1]) if i else 0
        return float(by_bin[int(counts["bin"].iat[i])][rank - before])

    out = []
    for p in probs:
        low, high, frac = ranks[p]
        a, b = value(low), value(high)
        out.append(a + (b - a) * frac)
    return tuple(out)


def _check_table(name: str, raw: ibis.Table, *, as_of: pd.Timestamp, limits: Plausibility,
                 currency: str | None, dedupe: Dedupe | None, zone: str,
                 known: ibis.Table | None, customers: bool, row_id: str | None,
                 materialise=None) -> tuple[ibis.Table, TablePlan]:
    """One table's flagged expression and its plan (rules in validate.py's order)."""
    t, columns = _with_tracking(raw, row_id)
    spec = columns_of(name)
    present = [c for c in columns if c in spec]
    rowkey = [row_id] if row_id else [c for c in ("source_file", "source_row") if c in columns]
    rules: list[RuleCheck] = []

    # the rules that keep the first of equal rows: windows over the rows whose key repeats
    first = _FirstKept(rowkey, name=name, materialise=materialise)
    flags = {}
    if dedupe is not None:  # superseded: decided over the whole table, before every other rule
        key = list(dedupe.key) or [ID_COLUMNS[name]]
        by = [] if dedupe.by == "file_order" else [dedupe.by]
        last = dedupe.keep == "last"

        def ranking(c, by=by, last=last):
            if last:
                return [c[b].desc(nulls_first=False) for b in by] + [c[k].desc() for k in rowkey]
            return [c[b].asc(nulls_first=True) for b in by] + [c[k].asc() for k in rowkey]
        shown = "file and row order" if dedupe.by == "file_order" else dedupe.by
        superseded = RuleCheck("superseded", tuple(key),
                               f"older version of a row with the same {', '.join(key)} "
                               f"(the {dedupe.keep} by {shown} is kept)")
        rules.append(superseded)
        t = first.join(t, first.later(t, key=key, partition=key, ranking=ranking),
                       superseded.flag)
        latest_rows = t.filter(~t[superseded.flag])
    else:
        latest_rows = t
    required = [c for c in present if spec[c].required]
    if limits.duplicate_rows:
        values = [c for c in columns if c not in TRACKING]
        identity = [ID_COLUMNS[name]] if name in ID_COLUMNS else required  # copies share it
        identity = [c for c in identity if c in values] or values
        flags["duplicate_row"] = FAILS + "duplicate_row"
        t = first.join(t, first.later(latest_rows, key=identity, partition=values, nulls=True),
                       flags["duplicate_row"])
    id_column = ID_COLUMNS.get(name)
    if id_column in columns:
        flags["duplicate_id"] = FAILS + "duplicate_id"
        t = first.join(t, first.later(latest_rows, key=[id_column], partition=[id_column]),
                       flags["duplicate_id"])
    latest = ~t[rules[0].flag] if rules else ibis.literal(True)

    fails = {}  # per-table rules over the latest versions: flag column -> expression

    def add(rule: str, cols, description: str, expr) -> None:
        check = RuleCheck(rule, tuple(cols), description)
        rules.append(check)
        fails[check.flag] = (expr.fill_null(False) & latest)

    add("unparseable_value", [UNPARSED], "value that could not be read as its column's type",
        t[UNPARSED].fill_null("") != "")
    if required:
        add("missing_required", required, "empty value in a required column",
            _any([_missing(t[c]) for c in required]))
    if "duplicate_row" in flags:
        add("duplicate_row", ["(all)"],
            "row identical to an earlier one in every column (first occurrence kept)",
            t[flags["duplicate_row"]])
    if "duplicate_id" in flags:
        add("duplicate_id", [id_column],
            f"{id_column} seen before in the table (first occurrence kept)",
            t[flags["duplicate_id"]])
    for col in present:
        low, high = spec[col].low, spec[col].high
        if low is None and high is None:
            continue
        words = f"{col} below {low:g}" if high is None else f"{col} outside {low:g}-{high:g}"
        if col == "first_response_minutes":
            words += " (first response before created_at)"
        v = t[col]
        out = []
        if low is not None:
            out.append(v < float_literal(low))
        if high is not None:
            out.append(v > float_literal(high))
        add(RANGE_RULES.get(col, f"{col}_out_of_range"), [col], words,
            ~_missing(v) & _any(out))
    for rule, (tab, early, late) in ORDER_RULES.items():
        if tab == name and early in columns and late in columns:
            add(rule, [early, late], f"{late} earlier than {early}", t[late] < t[early])
    dates = [c for c in present if spec[c].kind == "datetime"]
    if dates:
        when = ibis.literal(as_of, type="timestamp")
        add("future_date", dates, "date later than as_of", _any([t[c] > when for c in dates]))
        # over the table as read: the same values, without the duplicate rules' joins
        starts = _window_starts(name, raw, dates, limits, zone)
        if starts:
            shown = ", ".join(f"{c} before {_wall(v, zone):%Y-%m-%d}" for c, v in starts.items())
            how = "plausibility.earliest" if name not in EVENT_TABLES else \
                "plausibility.earliest, or Q1 - date_fence x max(IQR, 1 year) of the column"
            add("implausible_date", list(starts),
                f"date before the plausible window ({shown}; {how})",
                _any([t[c] < _timestamp(v) for c, v in starts.items()]))
    days = limits.max_resolution_days
    if name == "tickets" and days and {"created_at", "resolved_at"} <= set(columns):
        add("resolution_too_long", ["created_at", "resolved_at"],
            f"resolved more than {days:g} days after created_at "
            "(plausibility.max_resolution_days)",
            t["resolved_at"] > t["created_at"] + _interval_days(days))
    days = limits.max_first_response_days
    if name == "tickets" and days and "first_response_minutes" in columns:
        v = t["first_response_minutes"]
        add("first_response_too_long", ["first_response_minutes"],
            f"first response more than {days:g} days after created_at "
            "(plausibility.max_first_response_days)",
            ~_missing(v) & (v > float_literal(days * 1440.0)))
    if currency and name == "revenue" and "currency" in columns:
        add("other_currency", ["currency"], f"currency other than the config's {currency}",
            t["currency"].notnull() & (t["currency"].strip().upper() != currency))
    t = t.mutate(**fails)

    # cross-table rules, over every row, against the clean customers
    cross = {}
    if name in CROSS_TABLES and known is not None and "customer_id" in columns:
        span = (name == "tickets" and limits.customer_span and "created_at" in columns
                and customers)
        right = {_KNOWN_ID: known["customer_id"], _KNOWN: ibis.literal(True)}
        if span:
            right[_SIGNUP] = known["signup_at"]
            if "churned_at" in known.columns:
                right[_CHURNED] = known["churned_at"]
        r = known.select(**right)
        t = t.left_join(r, t["customer_id"] == r[_KNOWN_ID])
        check = RuleCheck("unknown_customer", ("customer_id",),
                          "customer_id not among the valid customers")
        rules.append(check)
        cross[check.flag] = (t["customer_id"].notnull() & t[_KNOWN].isnull()).fill_null(False)
        if span:
            check = RuleCheck("outside_customer_span", ("created_at",),
                              "ticket created before its customer's signup_at or after "
                              "churned_at")
            rules.append(check)
            outside = [t["created_at"] < t[_SIGNUP]]
            if _CHURNED in right:
                outside.append(t["created_at"] > t[_CHURNED])
            cross[check.flag] = (t[_KNOWN].notnull() & _any(outside)).fill_null(False)
        t = t.mutate(**cross).drop(*right)
    first = ibis.cases(*[(t[r.flag], r.rule) for r in rules], else_=ibis.null("string"))
    kept = list(columns) + ([row_id] if row_id else [])
    t = t.select(*kept, *[r.flag for r in rules], **{RULE: first})
    return t, TablePlan(name, columns, tuple(rules), tuple(rowkey))


def _timestamp(when: pd.Timestamp) -> ibis.Value:
    """A timestamp literal; ``x < when`` is unchanged for microsecond data (ceil to 1 us)."""
    return ibis.literal(when.ceil("us"), type="timestamp")


class _FirstKept:
    """Rows after the first of their partition, ranked only where their key repeats.

    ``row_number()`` over the whole table sorts every row; only rows sharing
    their key with another can be later copies, so the window runs on those
    (found by a grouped count) and the answer is joined back on the row key.
    The keys that repeat are a small table, counted once per table and key
    (stored by ``materialise`` when given, so each count reads the table once).
    """

    def __init__(self, rowkey: list[str], *, name: str = "table", materialise=None) -> None:
        self.rowkey = rowkey
        self.names = [f"_cx_row_{i}" for i in range(len(rowkey))]
        self.name, self.materialise = name, materialise
        self._repeats: dict[tuple, tuple[ibis.Table, ibis.Table]] = {}

    def repeats(self, t: ibis.Table, key: list[str]) -> ibis.Table:
        """The values of ``key`` held by more than one row of ``t`` (nulls grouped)."""
        found = self._repeats.get((id(t), tuple(key)))
        if found is not None and found[0] is t:
            return found[1]
        counts = t.group_by(key).aggregate(_cx_n=t.count())
        keys = counts.filter(counts["_cx_n"] > 1).select(key)
        if self.materialise is not None:
            keys = self.materialise(f"{self.name}_repeats_{len(self._repeats)}", keys)
        self._repeats[(id(t), tuple(key))] = (t, keys)
        return keys

    def later(self, t: ibis.Table, *, key: list[str], partition: list[str], ranking=None,
              nulls: bool = False) -> ibis.Table:
        """Row keys of the later rows of each partition (lowest row key first, or ``ranking``).

        Rows with a missing key value count as repeating when ``nulls`` (pandas
        compares missing values as equal), else never.
        """
        candidates = t.semi_join(self.repeats(t, key), key)
        if nulls:
            candidates = candidates.union(t.filter(_any([t[k].isnull() for k in key])))
        c = candidates
        order = ranking(c) if ranking is not None else [c[k].asc() for k in self.rowkey]
        rank = ibis.row_number().over(group_by=[c[p] for p in partition], order_by=order)
        ranked = c.mutate(_cx_rank=rank)
        ranked = ranked.filter(ranked["_cx_rank"] > 0)
        return ranked.select(**{n: ranked[k] for n, k in zip(self.names, self.rowkey, strict=True)})

    def join(self, t: ibis.Table, later: ibis.Table, flag: str) -> ibis.Table:
        """``t`` with the boolean column ``flag``: the row is among ``later``."""
        later = later.mutate(**{flag: ibis.literal(True)})
        joined = t.left_join(later, [t[k] == later[n] for k, n in zip(self.rowkey, self.names,
                                                                        strict=True)])
        return joined.select(*t.columns, **{flag: joined[flag].fill_null(False)})


def _interval_days(days: float) -> ibis.Value:
    seconds = float(days) * 86400.0
    if seconds == int(seconds):
        return ibis.interval(seconds=int(seconds))
    return ibis.interval(milliseconds=round(seconds * 1000.0))


def _count(cond: ibis.Value) -> ibis.Value:
    """Rows where ``cond`` holds (a conditional, not CAST(boolean), which Postgres refuses)."""
    one, zero = ibis.literal(1, type="int64"), ibis.literal(0, type="int64")
    return cond.fill_null(False).ifelse(one, zero).sum()


def _quality_rows(t: ibis.Table, plan: TablePlan) -> list[dict]:
    """One table's quality rows from one aggregate query over its flagged table."""
    spec = columns_of(plan.name)
    optional = [c for c in plan.columns
                if c not in TRACKING and not (c in spec and spec[c].required)]
    kept = t[RULE].isnull()
    aggs = {"rows_in": t.count()}
    for i, r in enumerate(plan.rules):
        aggs[f"flagged_{i}"] = _count(t[r.flag])
        aggs[f"quarantined_{i}"] = _count(t[RULE] == r.rule)
    for j, c in enumerate(optional):
        aggs[f"missing_{j}"] = _count(kept & _missing(t[c]))
    row = t.aggregate(**aggs).to_pandas().iloc[0]

    def n(key: str) -> int:
        return int(row[key]) if pd.notna(row[key]) else 0
    rows_in = n("rows_in")
    out = [dict(table=plan.name, rule=r.rule,
                column=", ".join("(all)" if c == UNPARSED else c for c in r.columns),
                rows_in=rows_in, rows_flagged=n(f"flagged_{i}"),
                rows_quarantined=n(f"quarantined_{i}"), description=r.description)
           for i, r in enumerate(plan.rules)]
    for j, c in enumerate(optional):
        if n(f"missing_{j}"):
            out.append(dict(table=plan.name, rule="missing_value", column=c, rows_in=rows_in,
                            rows_flagged=n(f"missing_{j}"), rows_quarantined=0,
                            description="empty value kept as missing"))
    return out


def _warn_quarantined(quality: pd.DataFrame, *, stacklevel: int) -> None:
    """The one summary warning of :func:`cxkit.validate.validate_tables`."""
    by_rule = quality[quality["rows_quarantined"] > 0]
    if by_rule.empty:
        return
    detail = "; ".join(f"{row.table}.{row.rule}: {row.rows_quarantined}"
                       for row in by_rule.itertuples())
    warnings.warn(f"{int(by_rule['rows_quarantined'].sum())} rows quarantined ({detail}). See "
                  "SupportData.quality and SupportData.quarantine.", QuarantineWarning,
                  stacklevel=stacklevel + 1)
