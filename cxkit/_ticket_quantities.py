"""Per-ticket quantities the metrics aggregate: one formula each, derived once.

Each quantity of :data:`QUANTITIES` is a float per ticket (NaN where unknown)
with the ticket columns it needs. ``first_response_minutes``,
``resolution_hours`` and ``first_contact_resolved`` are added to the tickets
when they are read (:func:`add_ticket_quantities`, called by :mod:`cxkit.io`);
a hand-built ticket table gets a missing one from the same formula through
:func:`ticket_quantity`. The metric registry (:mod:`cxkit.registry`) says
which quantity each metric aggregates, and how.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["QUANTITIES", "SELF_SERVICE_CHANNEL", "add_ticket_quantities", "ticket_quantity",
           "missing_column"]

SELF_SERVICE_CHANNEL = "self_service"  # channel label counted as self-service


def _first_response(t: pd.DataFrame) -> pd.Series:
    if "first_response_minutes" in t.columns:
        return t["first_response_minutes"].astype("float64")
    return (t["first_response_at"] - t["created_at"]).dt.total_seconds() / 60.0


def _resolution_hours(t: pd.DataFrame) -> pd.Series:
    return (t["resolved_at"] - t["created_at"]).dt.total_seconds() / 3600.0


def _first_contact(t: pd.DataFrame) -> pd.Series:
    contacts = pd.to_numeric(t["contacts"], errors="coerce").astype("float64")
    done = t["resolved_at"].notna() & contacts.notna()
    return (contacts == 1).astype("float64").where(done)


def _flag(col):
    return lambda t: t[col].astype("boolean").astype("Float64").astype("float64")


#: Per-ticket quantities: name -> (ticket columns needed, alternatives "a|b"; formula).
#: ``first_response_minutes``, ``resolution_hours`` and ``first_contact_resolved`` are
#: derived once, at read time (:func:`add_ticket_quantities`).
QUANTITIES = {
    "first_response_minutes": (("created_at", "first_response_minutes|first_response_at"),
                               _first_response),
    "resolution_hours": (("created_at", "resolved_at"), _resolution_hours),
    "first_contact_resolved": (("resolved_at", "contacts"), _first_contact),
    "resolved": (("resolved_at",), lambda t: t["resolved_at"].notna().astype("float64")),
    "open": (("resolved_at",), lambda t: t["resolved_at"].isna().astype("float64")),
    "reopened": (("reopened",), _flag("reopened")),
    "escalated": (("escalated",), _flag("escalated")),
    "self_service": (("channel",), lambda t: (t["channel"] == SELF_SERVICE_CHANNEL)
                     .fillna(False).astype("float64")),
    "csat": (("csat",), lambda t: t["csat"].astype("float64")),
    "csat_satisfied": (("csat",), lambda t: (t["csat"].astype("float64") >= 4)
                       .astype("float64").where(t["csat"].notna())),
    "ces": (("ces",), lambda t: t["ces"].astype("float64")),
}
_READ_TIME = ("first_response_minutes", "resolution_hours", "first_contact_resolved")


def _has(t: pd.DataFrame, needs) -> str | None:
    """The first needed column (or alternative) ``t`` lacks, None when it has them all."""
    for need in needs:
        if not any(alt in t.columns for alt in need.split("|")):
            return need.split("|")[0]
    return None


def ticket_quantity(tickets: pd.DataFrame, name: str) -> pd.Series | None:
    """Per-ticket quantity ``name`` (float64, NaN where unknown); None when it cannot be made.

    A quantity already derived at read time is taken as is.
    """
    if name in _READ_TIME and name in tickets.columns:
        return tickets[name].astype("float64")
    needs, formula = QUANTITIES[name]
    return None if _has(tickets, needs) else formula(tickets)


def missing_column(tickets: pd.DataFrame, name: str) -> str | None:
    """The ticket column quantity ``name`` lacks (None when it can be made)."""
    if name in _READ_TIME and name in tickets.columns:
        return None
    return _has(tickets, QUANTITIES[name][0])


def add_ticket_quantities(tickets: pd.DataFrame) -> pd.DataFrame:
    """Tickets with the derived quantities added, computed once when tickets are read.

    Adds ``first_response_minutes`` (from ``first_response_at`` when not
    given), ``resolution_hours`` (``resolved_at - created_at``, NaN while open)
    and ``first_contact_resolved`` (1.0 when a resolved ticket took one
    contact, 0.0 when more, NaN while open or unknown), each when its source
    columns are present. The frame is changed in place and returned.
    """
    for name in _READ_TIME:
        if name in tickets.columns and name == "first_response_minutes":
            continue
        value = ticket_quantity(tickets.drop(columns=[name], errors="ignore"), name)
        if value is not None:
            tickets[name] = value
    return tickets
