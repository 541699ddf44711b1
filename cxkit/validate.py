"""Validation: row rules that set bad rows aside instead of dropping them.

Per-table rules run as one lazy pandera ``DataFrameSchema`` per table (every
failure case is collected); cross-table rules (unknown customers) run in plain
pandas against the customers that passed. A row failing a rule is removed from
its table and kept in the quarantine with the ``rule`` and its ``source_row``
(1-based row of the export, header excluded); a row failing several rules is
counted once, under the first rule in this order:

``unparseable_value`` (a value present but unreadable), ``missing_required``,
``duplicate_id`` (first kept),
range rules (``negative_amount``, ``csat_out_of_range``, ``ces_out_of_range``,
``nps_out_of_range``, ``contacts_below_one``, ``first_response_before_created``,
``negative_tenure``), ``resolved_before_created``, ``churned_before_signup``,
``future_date``, ``unknown_customer``.

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
ORDER_RULES = {  # rule: (table, earlier column, later column)
    "resolved_before_created": ("tickets", "created_at", "resolved_at"),
    "churned_before_signup": ("customers", "signup_at", "churned_at"),
}


def _rules(table: str, frame: pd.DataFrame, as_of: pd.Timestamp) -> list[dict]:
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
                              test=lambda d, e=early, l=late: ~(d[l] < d[e]).fillna(False)))
    dates = [c for c in present if cols[c].kind == "datetime"]
    if dates:
        rules.append(dict(rule="future_date", columns=dates,
                          description="date later than as_of",
                          test=lambda d, cs=dates: ~(d[cs] > as_of).any(axis=1)))
    return rules


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


def validate_tables(raw_tables: dict, *, as_of) -> tuple[dict, pd.DataFrame, dict]:
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
    order = sorted(raw_tables, key=lambda t: (t not in ("customers", "customer_level"), t))
    clean, quarantine, quality = {}, {}, []
    for table in order:
        frame = raw_tables[table].reset_index(drop=True)
        if "source_row" not in frame.columns:
            frame.insert(0, "source_row", np.arange(1, len(frame) + 1))
        for col in (UNPARSED, UNPARSED_VALUES):
            if col not in frame.columns:
                frame[col] = ""
        rules = _rules(table, frame, as_of)
        flagged = _failures(frame, rules)
        known = clean.get("customers", clean.get("customer_level"))
        if table in ("tickets", "revenue", "surveys") and known is not None \
                and "customer_id" in frame.columns:
            rules.append(dict(rule="unknown_customer", columns=["customer_id"],
                              description="customer_id not among the valid customers"))
            unknown = frame["customer_id"].notna() & ~frame["customer_id"].isin(known["customer_id"])
            flagged["unknown_customer"] = frame.index[unknown.to_numpy()]
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
