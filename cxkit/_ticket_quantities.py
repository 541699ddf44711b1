"""Per-ticket quantities the metrics aggregate: one formula each, derived once.

Each quantity of :data:`QUANTITIES` is a float per ticket (NaN where unknown)
with the ticket columns it needs, written twice side by side: a pandas formula
(over a ticket frame) and an Ibis formula (over a ticket table in an engine,
missing values as NULL). ``first_response_minutes``, ``resolution_hours`` and
``first_contact_resolved`` are added to the tickets when they are read
(:func:`add_ticket_quantities`, called by :mod:`cxkit.io`;
:func:`add_ticket_quantity_exprs` for engine tables); a hand-built ticket table
gets a missing one from the same formula through :func:`ticket_quantity`
(:func:`ticket_quantity_expr`). The metric registry (:mod:`cxkit.registry`)
says which quantity each metric aggregates, and how.

Durations are differences of instants: the engine's timestamps hold UTC
instants, so they are exact across daylight-saving changes; pandas frames hold
naive reporting-zone times, so :func:`add_ticket_quantities` takes the
reporting ``timezone`` and subtracts the instants those times stand for.
The Ibis forms avoid what some engines get wrong: float literals are typed
``float64`` and durations computed from integer microseconds (Spark reads
``3600.0`` as a decimal), and flags become numbers through conditionals,
never ``CAST(boolean AS double)`` (Postgres refuses it).
"""

from __future__ import annotations

import ibis
import pandas as pd

__all__ = ["QUANTITIES", "SELF_SERVICE_CHANNEL", "READ_TIME", "add_ticket_quantities",
           "add_ticket_quantity_exprs", "ticket_quantity", "ticket_quantity_expr",
           "missing_column", "float_literal"]

SELF_SERVICE_CHANNEL = "self_service"  # channel label counted as self-service


def float_literal(value: float):
    """``value`` as an Ibis float64 constant that every engine reads as a double.

    Written as a cast of an integer (or, for a fraction, of its exact text):
    Spark reads a bare ``3600.0`` as a decimal and rounds what it touches.
    """
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return ibis.literal(int(value), type="int64").cast("float64")
    return ibis.literal(repr(value)).cast("float64")


def _null():
    return ibis.null("float64")


def _micros(t, start: str, end: str):
    """Microseconds from ``start`` to ``end`` (float64; NULL when either is missing)."""
    return t[end].delta(t[start], unit="microsecond").cast("float64")


def _indicator(condition, *, known=None):
    """1.0 where ``condition`` holds, 0.0 where not, NULL where ``known`` is false."""
    value = condition.ifelse(1, 0).cast("float64")
    return value if known is None else known.ifelse(value, _null())


# ---------------------------------------------------------------- pandas formulas

def _duration_seconds(t: pd.DataFrame, start: str, end: str, timezone) -> pd.Series:
    a, b = t[start], t[end]
    if timezone not in (None, "UTC"):  # naive local times: subtract the instants they stand for
        a, b = (s.dt.tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
                for s in (a, b))
    return (b - a).dt.total_seconds()


def _first_response(t: pd.DataFrame, timezone=None) -> pd.Series:
    if "first_response_minutes" in t.columns:
        return t["first_response_minutes"].astype("float64")
    return _duration_seconds(t, "created_at", "first_response_at", timezone) / 60.0


def _resolution_hours(t: pd.DataFrame, timezone=None) -> pd.Series:
    return _duration_seconds(t, "created_at", "resolved_at", timezone) / 3600.0


def _first_contact(t: pd.DataFrame) -> pd.Series:
    contacts = pd.to_numeric(t["contacts"], errors="coerce").astype("float64")
    done = t["resolved_at"].notna() & contacts.notna()
    return (contacts == 1).astype("float64").where(done)


def _flag(col):
    return lambda t: t[col].astype("boolean").astype("Float64").astype("float64")


# ------------------------------------------------------------------ Ibis formulas

def _first_response_expr(t):
    if "first_response_minutes" in t.columns:
        return t["first_response_minutes"].cast("float64")
    return _micros(t, "created_at", "first_response_at") / float_literal(60e6)


def _first_contact_expr(t):
    contacts = t["contacts"].cast("float64")
    return _indicator(contacts == float_literal(1.0),
                      known=t["resolved_at"].notnull() & contacts.notnull())


def _flag_expr(col):
    return lambda t: _indicator(t[col].cast("boolean"), known=t[col].notnull())


#: Per-ticket quantities: name -> (ticket columns needed, alternatives "a|b"; pandas
#: formula; Ibis formula). ``first_response_minutes``, ``resolution_hours`` and
#: ``first_contact_resolved`` are derived once, at read time (:func:`add_ticket_quantities`,
#: :func:`add_ticket_quantity_exprs`).
QUANTITIES = {
    "first_response_minutes": (("created_at", "first_response_minutes|first_response_at"),
                               _first_response, _first_response_expr),
    "resolution_hours": (("created_at", "resolved_at"), _resolution_hours,
                         lambda t: _micros(t, "created_at", "resolved_at")
                         / float_literal(3600e6)),
    "first_contact_resolved": (("resolved_at", "contacts"), _first_contact, _first_contact_expr),
    "resolved": (("resolved_at",), lambda t: t["resolved_at"].notna().astype("float64"),
                 lambda t: _indicator(t["resolved_at"].notnull())),
    "open": (("resolved_at",), lambda t: t["resolved_at"].isna().astype("float64"),
             lambda t: _indicator(t["resolved_at"].isnull())),
    "reopened": (("reopened",), _flag("reopened"), _flag_expr("reopened")),
    "escalated": (("escalated",), _flag("escalated"), _flag_expr("escalated")),
    "self_service": (("channel",), lambda t: (t["channel"] == SELF_SERVICE_CHANNEL)
                     .fillna(False).astype("float64"),
                     lambda t: _indicator((t["channel"] == SELF_SERVICE_CHANNEL)
                                          .fill_null(False))),
    "csat": (("csat",), lambda t: t["csat"].astype("float64"),
             lambda t: t["csat"].cast("float64")),
    "csat_satisfied": (("csat",), lambda t: (t["csat"].astype("float64") >= 4)
                       .astype("float64").where(t["csat"].notna()),
                       lambda t: _indicator(t["csat"].cast("float64") >= float_literal(4.0),
                                            known=t["csat"].notnull())),
    "ces": (("ces",), lambda t: t["ces"].astype("float64"), lambda t: t["ces"].cast("float64")),
}
#: The quantities derived once, when tickets are read.
READ_TIME = ("first_response_minutes", "resolution_hours", "first_contact_resolved")
_ZONED = ("first_response_minutes", "resolution_hours")  # durations: take the reporting zone


def _has(columns, needs) -> str | None:
    """The first needed column (or alternative) ``columns`` lacks, None when all are there."""
    for need in needs:
        if not any(alt in columns for alt in need.split("|")):
            return need.split("|")[0]
    return None


def ticket_quantity(tickets: pd.DataFrame, name: str) -> pd.Series | None:
    """Per-ticket quantity ``name`` (float64, NaN where unknown); None when it cannot be made.

    A quantity already derived at read time is taken as is.
    """
    if name in READ_TIME and name in tickets.columns:
        return tickets[name].astype("float64")
    needs, formula, _ = QUANTITIES[name]
    return None if _has(tickets.columns, needs) else formula(tickets)


def ticket_quantity_expr(table, name: str):
    """Per-ticket quantity ``name`` of an Ibis ticket table (float64, NULL where unknown).

    The Ibis form of :func:`ticket_quantity`: None when it cannot be made; a
    quantity already derived at read time is taken as is.
    """
    if name in READ_TIME and name in table.columns:
        return table[name].cast("float64")
    needs, _, formula = QUANTITIES[name]
    return None if _has(table.columns, needs) else formula(table)


def missing_column(tickets, name: str) -> str | None:
    """The ticket column quantity ``name`` lacks (None when it can be made).

    ``tickets`` is a pandas frame or an Ibis table.
    """
    if name in READ_TIME and name in tickets.columns:
        return None
    return _has(tickets.columns, QUANTITIES[name][0])


def add_ticket_quantities(tickets: pd.DataFrame, *, timezone: str | None = None) -> pd.DataFrame:
    """Tickets with the derived quantities added, computed once when tickets are read.

    Adds ``first_response_minutes`` (from ``first_response_at`` when not
    given), ``resolution_hours`` (``resolved_at - created_at``, NaN while open)
    and ``first_contact_resolved`` (1.0 when a resolved ticket took one
    contact, 0.0 when more, NaN while open or unknown), each when its source
    columns are present. The frame is changed in place and returned.

    Parameters
    ----------
    tickets : DataFrame
        Timestamps naive, in the reporting time zone.
    timezone : str, optional
        The reporting time zone: durations are then differences of the
        instants (exact across daylight-saving changes; a time in the hour a
        clock change repeats is taken as the later, standard-time one). None or
        ``"UTC"`` subtracts the naive times.
    """
    for name in READ_TIME:
        if name in tickets.columns and name == "first_response_minutes":
            continue
        rest = tickets.drop(columns=[name], errors="ignore")
        needs, formula, _ = QUANTITIES[name]
        if _has(rest.columns, needs) is None:
            tickets[name] = formula(rest, timezone) if name in _ZONED else formula(rest)
    return tickets


def add_ticket_quantity_exprs(table):
    """An Ibis ticket table with the derived quantities added (or replaced).

    The engine form of :func:`add_ticket_quantities`, for tickets whose
    timestamps are UTC instants: adds ``first_response_minutes`` (from
    ``first_response_at`` when not given), ``resolution_hours`` and
    ``first_contact_resolved`` as float64 columns (NULL where unknown), each
    when its source columns are present.

    Parameters
    ----------
    table : ibis.Table
        Canonical tickets (timestamps naive UTC instants).

    Returns
    -------
    ibis.Table
    """
    made = {}
    for name in READ_TIME:
        if name == "first_response_minutes" and name in table.columns:
            made[name] = table[name].cast("float64")
            continue
        needs, _, formula = QUANTITIES[name]
        if _has([c for c in table.columns if c != name], needs) is None:
            made[name] = formula(table)
    return table.mutate(**made) if made else table
