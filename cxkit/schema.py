"""The canonical data model every cxkit analysis speaks.

Four event-level tables (``customers``, ``tickets``, ``revenue``, ``surveys``)
and one customer-level table (``customer_level``) for users whose export has
one row per customer with outcome and drivers already present. Each column has
a kind, a unit and a meaning; :func:`describe_schema` shows them as a table.

Timestamps are naive ``datetime64[ns]`` in the reporting time zone of the
source config (UTC unless set), so that a "month" is the business's month.
Money is in the config's ``currency``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from cxkit.registry import METRICS

__all__ = ["Column", "TABLES", "REQUIRED_TABLES", "EVENT_TIME", "describe_schema", "columns_of"]

# kinds: id (text key), datetime, float, int, bool, text (categorical label)


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, kind, unit, whether required, meaning."""

    name: str
    kind: str
    unit: str
    required: bool
    description: str
    low: float | None = None  # inclusive lower bound for numeric values
    high: float | None = None  # inclusive upper bound


def _rating(name: str, metric: str, description: str, *, required: bool = False) -> Column:
    """A rating column; its scale is the one of the registry entry ``metric`` it feeds."""
    m = METRICS[metric]
    return Column(name, "float", m.unit_words, required, description, low=m.low, high=m.high)


TABLES: dict[str, tuple[Column, ...]] = {
    "customers": (
        Column("customer_id", "id", "-", True, "Customer (account) key, unique."),
        Column("signup_at", "datetime", "timestamp", True, "Start of the customer relationship."),
        Column("churned_at", "datetime", "timestamp", False,
               "End of the relationship; empty while the customer is active."),
        Column("plan", "text", "label", False, "Plan or product tier."),
        Column("segment", "text", "label", False, "Customer segment (size, region...)."),
    ),
    "tickets": (
        Column("ticket_id", "id", "-", True, "Ticket key, unique."),
        Column("customer_id", "id", "-", True, "Customer who raised the ticket."),
        Column("created_at", "datetime", "timestamp", True, "When the ticket was opened."),
        Column("first_response_at", "datetime", "timestamp", False,
               "First agent reply; converted to first_response_minutes."),
        Column("first_response_minutes", "float", "minutes", False,
               "Minutes from creation to first agent reply.", low=0),
        Column("resolved_at", "datetime", "timestamp", False,
               "When the ticket was (last) solved; empty while open."),
        Column("channel", "text", "label", False, "email, chat, phone, web, self_service..."),
        Column("reason", "text", "label", False, "Contact reason."),
        Column("contacts", "int", "touches", False,
               "Customer touches until resolved; 1 = first-contact resolution.", low=1),
        Column("reopened", "bool", "flag", False, "Ticket was reopened after being solved."),
        Column("escalated", "bool", "flag", False, "Ticket was escalated to a higher tier."),
        _rating("csat", "csat_mean", "Satisfaction rating of this ticket."),
        _rating("ces", "ces_mean", "Customer effort score (7 = very easy)."),
        Column("team", "text", "label", False, "Support team that handled the ticket."),
        Column("agent", "text", "label", False, "Agent who handled the ticket."),
    ),
    "revenue": (
        Column("customer_id", "id", "-", True, "Customer who paid."),
        Column("paid_at", "datetime", "timestamp", True, "Payment or invoice date."),
        Column("amount", "float", "currency", True, "Amount paid, in the config's currency.",
               low=0),
        Column("currency", "text", "ISO code", False,
               "Currency of the amount; rows in another than the config's are set aside."),
    ),
    "surveys": (
        Column("customer_id", "id", "-", True, "Customer who answered."),
        Column("answered_at", "datetime", "timestamp", True, "When the survey was answered."),
        _rating("nps", "nps_next", "Likelihood to recommend, 0-10.", required=True),
    ),
    "customer_level": (
        Column("customer_id", "id", "-", True, "Customer key, unique."),
        Column("churned", "bool", "flag", True, "Outcome: the customer churned."),
        Column("tenure_months", "float", "months", False, "Months as a customer.", low=0),
    ),
}

REQUIRED_TABLES = ("customers",)

#: The timestamp that places each table's rows in time (periods, coverage, selection).
EVENT_TIME = {"customers": "signup_at", "tickets": "created_at", "revenue": "paid_at",
              "surveys": "answered_at"}


def columns_of(table: str) -> dict[str, Column]:
    """Canonical columns of ``table`` keyed by name."""
    return {c.name: c for c in TABLES[table]}


def describe_schema(table: str | None = None) -> pd.DataFrame:
    """The data model as a display table: one row per canonical column.

    Parameters
    ----------
    table : str, optional
        Restrict to one table; all tables by default.

    Returns
    -------
    pandas.DataFrame
        Columns ``table, column, kind, unit, required, description``.

    Examples
    --------
    >>> describe_schema("revenue")["column"].tolist()
    ['customer_id', 'paid_at', 'amount', 'currency']
    """
    names = [table] if table else list(TABLES)
    rows = [
        {"table": t, "column": c.name, "kind": c.kind, "unit": c.unit,
         "required": c.required, "description": c.description}
        for t in names for c in TABLES[t]
    ]
    return pd.DataFrame(rows)
