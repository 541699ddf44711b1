"""Validation: row rules that set bad rows aside instead of dropping them.

Per-table rules run as one lazy pandera ``DataFrameSchema`` per table (every
failure case is collected); cross-table rules (unknown customers) run in plain
pandas against the customers that passed. A row failing a rule is removed from
its table and kept in the quarantine with the ``rule`` and its ``source_row``
(1-based row of the export, header excluded); a row failing several rules is
counted once, under the first rule in this order:

``superseded`` (an older version of a row from overlapping exports, when the
config's ``dedupe`` says which version to keep), ``unparseable_value`` (a value
present but unreadable), ``missing_required``, ``duplicate_row`` (identical to
an earlier row in every column; first kept), ``duplicate_id`` (first kept),
range rules (``negative_amount``, ``csat_out_of_range``, ``ces_out_of_range``,
``nps_out_of_range``, ``contacts_below_one``, ``first_response_before_created``,
``negative_tenure``), ``resolved_before_created``, ``churned_before_signup``,
``future_date``, ``implausible_date`` (before ``earliest`` or, for event
dates, far below the bulk of the column: a year typo), ``resolution_too_long``,
``first_response_too_long``, ``other_currency``, ``unknown_customer``,
``outside_customer_span`` (a ticket created before its customer's signup or
after the churn). The limits come from the config's ``plausibility`` block
(:class:`cxkit.config.Plausibility`).

Each rule is a boolean condition over the table (true = the row passes), so
it can be compiled to an engine expression later; the date window is a
condition against two quartiles of the column.

The quality table has one row per (table, rule) checked, quarantining or not,
plus one informational ``missing_value`` row per optional column with empty
values (kept as missing, never quarantined).

A row quarantined as ``unparseable_value`` keeps, besides its values (the
unreadable ones as missing), ``unparsed_columns`` (the canonical names, comma
separated) and ``unparsed_values``: the export's original text of each
unreadable value, e.g. ``created_at (Opened)='31/02/2024'; csat='five'`` (see
:func:`cxkit.io.read_table`). Both are empty for rows set aside by other rules.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pandera.pandas as pa

from cxkit._grid import positions
from cxkit.config import Dedupe, Plausibility
from cxkit.exceptions import QuarantineWarning
from cxkit.schema import TABLES

__all__ = ["validate_tables", "describe_quality", "UNPARSED", "UNPARSED_VALUES",
           "QUALITY_COLUMNS"]

UNPARSED = "_unparsed_columns"  # set by cxkit.io: columns whose value could not be parsed
UNPARSED_VALUES = "_unparsed_values"  # set by cxkit.io: their original text, "" on other rows
TRACKING = ("source_row", "source_file", UNPARSED, UNPARSED_VALUES)
SHOWN_AS = {UNPARSED: "unparsed_columns", UNPARSED_VALUES: "unparsed_values"}  # in the quarantine
QUALITY_COLUMNS = ["table", "rule", "column", "rows_in", "rows_flagged", "rows_quarantined",
                   "description"]
ID_COLUMNS = {"customers": "customer_id", "tickets": "ticket_id", "customer_level": "customer_id"}
RANGE_RULES = {"amount": "negative_amount", "csat": "csat_out_of_range",
               "ces": "ces_out_of_range", "nps": "nps_out_of_range",
               "contacts": "contacts_below_one",
               "first_response_minutes": "first_response_before_created",
               "tenure_months": "negative_tenure"}
EVENT_TABLES = ("tickets", "revenue", "surveys")  # dates checked against the plausible window
MIN_SPREAD = pd.Timedelta(days=365)  # the window's unit is at least a year
ORDER_RULES = {  # rule: (table, earlier column, later column)
    "resolved_before_created": ("tickets", "created_at", "resolved_at"),
    "churned_before_signup": ("customers", "signup_at", "churned_at"),
}


def _rules(table: str, frame: pd.DataFrame, as_of: pd.Timestamp, limits: Plausibility,
           currency: str | None) -> list[dict]:
    """The per-table rules that apply to ``frame``, in rule order."""
    cols = {c.name: c for c in TABLES[table]}
    present = [c for c in frame.columns if c in cols]
    rules = []
    rules.append(dict(rule="unparseable_value", columns=[UNPARSED],
                      description="value that could not be read as its column's type",
                      test=lambda d: d[UNPARSED].fillna("") == ""))
    required = [c for c in present if cols[c].required]
    if required:
        rules.append(dict(rule="missing_required", columns=required,
                          description="empty value in a required column",
                          test=lambda d, cs=required: d[cs].notna().all(axis=1)))
    if limits.duplicate_rows:
        identity = [ID_COLUMNS[table]] if table in ID_COLUMNS else required  # copies share it
        rules.append(dict(rule="duplicate_row", columns=["(all)"],
                          description="row identical to an earlier one in every column "
                                      "(first occurrence kept)",
                          test=lambda d, key=identity: ~_repeated_rows(d, key)))
    key = ID_COLUMNS.get(table)
    if key in frame.columns:
        rules.append(dict(rule="duplicate_id", columns=[key],
                          description=f"{key} seen before in the table (first occurrence kept)",
                          test=lambda d, k=key: ~(d[k].duplicated(keep="first") & d[k].notna())))
    for col in present:
        c = cols[col]
        if c.low is None and c.high is None:
            continue
        low, high = c.low, c.high
        if high is None:
            words = f"{col} below {low:g}"
        else:
            words = f"{col} outside {low:g}-{high:g}"
        if col == "first_response_minutes":
            words += " (first response before created_at)"

        def within(d, col=col, low=low, high=high):
            v = pd.to_numeric(d[col], errors="coerce")
            ok = v.isna() | (v >= (low if low is not None else -np.inf))
            return ok & (v.isna() | (v <= (high if high is not None else np.inf)))
        rules.append(dict(rule=RANGE_RULES.get(col, f"{col}_out_of_range"), columns=[col],
                          description=words, test=within))
    for rule, (tab, early, late) in ORDER_RULES.items():
        if tab == table and early in frame.columns and late in frame.columns:
            rules.append(dict(rule=rule, columns=[early, late],
                              description=f"{late} earlier than {early}",
                              test=lambda d, e=early, la=late: ~(d[la] < d[e]).fillna(False)))
    dates = [c for c in present if cols[c].kind == "datetime"]
    if dates:
        rules.append(dict(rule="future_date", columns=dates,
                          description="date later than as_of",
                          test=lambda d, cs=dates: ~(d[cs] > as_of).any(axis=1)))
        rules += _window_rule(table, frame, dates, limits)
    rules += _duration_rules(table, frame, limits)
    if currency and table == "revenue" and "currency" in frame.columns:
        rules.append(dict(rule="other_currency", columns=["currency"],
                          description=f"currency other than the config's {currency}",
                          test=lambda d: d["currency"].isna()
                          | (d["currency"].astype(str).str.strip().str.upper() == currency)))
    return rules


def _repeated_rows(d: pd.DataFrame, key: list[str]) -> pd.Series:
    """True where a row equals an earlier one in every column but the tracking ones.

    Only rows sharing their ``key`` values with another row can repeat one, so
    the full comparison runs on those alone (same answer, far fewer columns
    hashed over the whole table).
    """
    columns = [c for c in d.columns if c not in TRACKING]
    narrow = [c for c in key if c in columns] or columns
    maybe = d.duplicated(subset=narrow, keep=False).to_numpy()
    out = np.zeros(len(d), dtype=bool)
    if maybe.any():
        out[maybe] = d.loc[maybe, columns].duplicated(keep="first").to_numpy()
    return pd.Series(out, index=d.index)


def _superseded(table: str, dedupe: Dedupe) -> dict:
    """Older versions of a row from overlapping exports (``dedupe`` in the config)."""
    key = list(dedupe.key) or [ID_COLUMNS[table]]
    order = "file and row order" if dedupe.by == "file_order" else dedupe.by

    def newest(d, key=key, by=dedupe.by, keep=dedupe.keep):
        ranked = d if by == "file_order" else d.sort_values(by, kind="stable", na_position="first")
        older = ranked.duplicated(subset=key, keep=keep) & ranked[key].notna().all(axis=1)
        return ~older.reindex(d.index)
    return dict(rule="superseded", columns=key,
                description=f"older version of a row with the same {', '.join(key)} "
                            f"(the {dedupe.keep} by {order} is kept)", test=newest)


def _duration_rules(table: str, frame: pd.DataFrame, limits: Plausibility) -> list[dict]:
    """Resolution and first response longer than the config's maxima."""
    rules = []
    days = limits.max_resolution_days
    if table == "tickets" and days and {"created_at", "resolved_at"} <= set(frame.columns):
        rules.append(dict(rule="resolution_too_long", columns=["created_at", "resolved_at"],
                          description=f"resolved more than {days:g} days after created_at "
                                      "(plausibility.max_resolution_days)",
                          test=lambda d, days=days: ~((d["resolved_at"] - d["created_at"])
                                                      > pd.Timedelta(days=days)).fillna(False)))
    days = limits.max_first_response_days
    if table == "tickets" and days and "first_response_minutes" in frame.columns:
        rules.append(dict(rule="first_response_too_long", columns=["first_response_minutes"],
                          description=f"first response more than {days:g} days after "
                                      "created_at (plausibility.max_first_response_days)",
                          test=lambda d, m=days * 1440.0: ~(pd.to_numeric(
                              d["first_response_minutes"], errors="coerce") > m).fillna(False)))
    return rules


def date_window_start(values: pd.Series, limits: Plausibility, *, event: bool = True):
    """First plausible date of a column: the later of ``earliest`` and the fence.

    The fence is ``Q1 - date_fence x max(IQR, 365 days)`` of the column's dates
    (event tables only): far below the bulk of the data, where a year typed
    as 2015 instead of 2025 lands. ``None`` when neither limit applies.
    """
    bounds = [limits.earliest] if limits.earliest is not None else []
    present = values.dropna()
    if event and limits.date_fence and len(present):
        q1, q3 = present.quantile([0.25, 0.75])
        bounds.append(q1 - limits.date_fence * max(q3 - q1, MIN_SPREAD))
    return max(bounds) if bounds else None


def _window_rule(table: str, frame: pd.DataFrame, dates: list[str],
                 limits: Plausibility) -> list[dict]:
    event = table in EVENT_TABLES
    if limits.earliest is None and not (event and limits.date_fence):
        return []
    starts = {c: date_window_start(frame[c], limits, event=event) for c in dates}
    starts = {c: v for c, v in starts.items() if v is not None}
    if not starts:
        return []
    shown = ", ".join(f"{c} before {v:%Y-%m-%d}" for c, v in starts.items())
    how = "plausibility.earliest" if not event else \
        "plausibility.earliest, or Q1 - date_fence x max(IQR, 1 year) of the column"
    return [dict(rule="implausible_date", columns=list(starts),
                 description=f"date before the plausible window ({shown}; {how})",
                 test=lambda d, st=starts: ~pd.concat(
                     [d[c] < v for c, v in st.items()], axis=1).any(axis=1))]


def _failures(frame: pd.DataFrame, rules: list[dict]) -> dict[str, pd.Index]:
    """Run the rules as one lazy pandera schema; failing row labels per rule."""
    checks = [pa.Check(r["test"], name=r["rule"], ignore_na=False) for r in rules]
    schema = pa.DataFrameSchema(checks=checks, strict=False, coerce=False)
    out = {r["rule"]: pd.Index([]) for r in rules}
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases.dropna(subset=["index"])
        for rule, group in cases.groupby("check"):
            out[str(rule)] = pd.Index(group["index"].astype("int64").unique())
    return out


def validate_tables(raw_tables: dict, *, as_of, plausibility: Plausibility | None = None,
                    currency: str | None = None, dedupe: dict | None = None
                    ) -> tuple[dict, pd.DataFrame, dict]:
    """Apply every validation rule; set failing rows aside.

    Parameters
    ----------
    raw_tables : dict of str to DataFrame
        Typed canonical tables by name (as made by :func:`cxkit.io.read_table`);
        optional ``source_row`` / ``source_file`` / ``UNPARSED`` /
        ``UNPARSED_VALUES`` columns track where each row came from and which
        values could not be read (``source_row`` defaults to position + 1).
        Their text is kept only in the quarantine.
    as_of : str or Timestamp
        Timestamps after it are quarantined as ``future_date``.
    plausibility : Plausibility, optional
        Limits of the plausibility rules; the documented defaults when omitted.
    currency : str, optional
        The config's currency: revenue rows whose ``currency`` column names
        another are quarantined as ``other_currency``.
    dedupe : dict of str to Dedupe, optional
        Per table, which version of a row overlapping exports keep; the
        others are quarantined as ``superseded``.

    Returns
    -------
    clean : dict of DataFrame
        Tables without the quarantined rows and tracking columns.
    quality : DataFrame
        ``table, rule, column, rows_in, rows_flagged, rows_quarantined,
        description``: one row per (table, rule) checked.
    quarantine : dict of DataFrame
        Per table: ``rule``, ``source_row``, ``source_file``, the row's values,
        ``unparsed_columns`` (canonical names of the unreadable values) and
        ``unparsed_values`` (their original text, e.g. ``csat='five'``; empty
        for rows set aside by other rules); empty when nothing was set aside.

    Warns
    -----
    QuarantineWarning
        One summary when any row was quarantined.
    """
    as_of = pd.Timestamp(as_of)
    limits = plausibility if plausibility is not None else Plausibility()
    currency = currency.upper() if currency else None
    order = sorted(raw_tables, key=lambda t: (t not in ("customers", "customer_level"), t))
    clean, quarantine, quality = {}, {}, []
    for table in order:
        frame = raw_tables[table].reset_index(drop=True)
        if "source_row" not in frame.columns:
            frame.insert(0, "source_row", np.arange(1, len(frame) + 1))
        for col in (UNPARSED, UNPARSED_VALUES):
            if col not in frame.columns:
                frame[col] = ""
        rules = _rules(table, frame, as_of, limits, currency)
        rule = (dedupe or {}).get(table)
        if rule is not None:  # older versions are set aside first, unseen by the other rules
            first = _superseded(table, rule)
            latest = first["test"](frame).to_numpy()
            flagged = _failures(frame.loc[latest], rules)
            flagged["superseded"] = frame.index[~latest]
            rules.insert(0, first)
        else:
            flagged = _failures(frame, rules)
        known = clean.get("customers", clean.get("customer_level"))
        if table in ("tickets", "revenue", "surveys") and known is not None \
                and "customer_id" in frame.columns:
            rules.append(dict(rule="unknown_customer", columns=["customer_id"],
                              description="customer_id not among the valid customers"))
            known = known.drop_duplicates("customer_id")
            at = positions(known["customer_id"], frame["customer_id"])  # -1: unknown
            unknown = frame["customer_id"].notna().to_numpy() & (at < 0)
            flagged["unknown_customer"] = frame.index[unknown]
            if table == "tickets" and limits.customer_span and "created_at" in frame.columns \
                    and "customers" in clean:
                rules.append(dict(rule="outside_customer_span", columns=["created_at"],
                                  description="ticket created before its customer's signup_at "
                                              "or after churned_at"))
                outside = _outside_span(frame["created_at"], known, at)
                flagged["outside_customer_span"] = frame.index[outside]
        assigned = pd.Series(None, index=frame.index, dtype=object)
        for r in rules:
            hit = flagged[r["rule"]]
            newly = assigned.loc[hit].isna()
            assigned.loc[newly.index[newly.to_numpy()]] = r["rule"]
            quality.append(dict(table=table, rule=r["rule"], column=", ".join(
                "(all)" if c == UNPARSED else c for c in r["columns"]), rows_in=len(frame),
                rows_flagged=len(hit), rows_quarantined=int(newly.sum()),
                description=r["description"]))
        kept = assigned.isna()
        for col in frame.columns:
            spec = {c.name: c for c in TABLES[table]}.get(col)
            if col in TRACKING or (spec is not None and spec.required):
                continue
            empty = int(frame.loc[kept, col].isna().sum())
            if empty:
                quality.append(dict(table=table, rule="missing_value", column=col,
                                    rows_in=len(frame), rows_flagged=empty, rows_quarantined=0,
                                    description="empty value kept as missing"))
        bad = frame.loc[~kept].copy()
        bad.insert(0, "rule", assigned[~kept])
        quarantine[table] = bad.rename(columns=SHOWN_AS).reset_index(drop=True)
        clean[table] = frame.loc[kept].drop(columns=[c for c in TRACKING if c in frame.columns]) \
            .reset_index(drop=True)
    quality = pd.DataFrame(quality, columns=QUALITY_COLUMNS)
    counts = {t: len(q) for t, q in quarantine.items() if len(q)}
    if counts:
        by_rule = quality[quality["rows_quarantined"] > 0]
        detail = "; ".join(f"{row.table}.{row.rule}: {row.rows_quarantined}"
                           for row in by_rule.itertuples())
        warnings.warn(f"{sum(counts.values())} rows quarantined ({detail}). See "
                      "SupportData.quality and SupportData.quarantine.", QuarantineWarning,
                      stacklevel=3)
    return clean, quality, quarantine


def _outside_span(created: pd.Series, customers: pd.DataFrame, at: np.ndarray) -> np.ndarray:
    """True where ``created`` is before its customer's ``signup_at`` or after ``churned_at``.

    ``at`` is each row's position in ``customers`` (-1 for an unknown customer,
    never outside); a missing date compares as not outside.
    """
    known = at >= 0
    when = created.to_numpy("datetime64[ns]")[known]
    outside = np.zeros(len(created), dtype=bool)
    outside[known] = when < customers["signup_at"].to_numpy("datetime64[ns]")[at[known]]
    if "churned_at" in customers.columns:
        outside[known] |= when > customers["churned_at"].to_numpy("datetime64[ns]")[at[known]]
    return outside


def describe_quality(data) -> pd.DataFrame:
    """The data-quality table for display, sorted by table and rule.

    Parameters
    ----------
    data : SupportData or DataFrame
        Read data (its ``quality``) or a quality table.

    Returns
    -------
    DataFrame
        ``table, rule, column, rows_in, rows_flagged, rows_quarantined,
        quarantined_pct, description``; ``quarantined_pct`` is 0-100.
    """
    quality = data if isinstance(data, pd.DataFrame) else data.quality
    out = quality.sort_values(["table", "rule", "column"], kind="stable").reset_index(drop=True)
    pct = 100.0 * out["rows_quarantined"] / out["rows_in"].where(out["rows_in"] > 0)
    out.insert(6, "quarantined_pct", pct.round(2).fillna(0.0))
    return out
