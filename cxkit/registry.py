"""The metric registry: the one home of every fact about a metric.

One :class:`Metric` entry per KPI and panel column holds its plain-words
label, unit, direction, valid bounds, the step effect sentences use, a default
target, the ticket columns it needs, and how tickets aggregate into it (an
:class:`Aggregation`: which per-ticket quantity, which statistic, which
tickets count). The KPI tables (:mod:`cxkit.metrics`), the panel
(:mod:`cxkit.panel`, SQL written by :mod:`cxkit.aggregate` from these
entries), effect sentences, what-if bounds, display tables and outcome
definitions read it; no other module defines these facts.

Three kinds of entries:

- **built in** (:data:`METRICS`): support KPIs, panel exposures, controls and
  outcomes;
- **share families** (``reason_share_<value>``, ``channel_share_<value>``): one
  share per contact reason and channel, made from the values of the data by
  :func:`share_family`; the shares of one family sum to one, so they enter a
  model against a *reference* category, the most common value (ties: the
  first in alphabetical order), named in every entry of the family;
- **declared** in the ``metrics:`` block of a source config
  (:func:`parse_metrics`): the share of tickets matching a condition (the
  whitelisted ``derive`` language, never evaluated as code), or the mean,
  median, sum or count of any mapped ticket column.

:func:`lookup` finds the entry of any column name; a name that is none of the
above gets an entry guessed from its unit suffix (``_hours``, ``_rate``...).

Each aggregation is declarative — a per-ticket quantity, a statistic
(``mean``, ``median``, ``sum``, ``count``, a quantile) and a window — so it
compiles to engine expressions: :mod:`cxkit.aggregate` writes them as DuckDB
SQL for frames, :mod:`cxkit._engine_cells` as Ibis expressions for engines.

The per-ticket quantities (:data:`QUANTITIES`, formulas in
:mod:`cxkit._ticket_quantities`) are derived once, when tickets are read
(:func:`add_ticket_quantities`, called by :mod:`cxkit.io`); code that gets a
hand-built ticket table derives a missing one with :func:`ticket_quantity`,
from the same formula.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cxkit._derive import compile_expression, evaluate_expression, parse_expression
from cxkit._ticket_quantities import (
    QUANTITIES,
    SELF_SERVICE_CHANNEL,
    add_ticket_quantities,
    missing_column,
    ticket_quantity,
    ticket_quantity_expr,
)
from cxkit.exceptions import ConfigError

__all__ = ["Metric", "Aggregation", "METRICS", "UNITS", "WINDOWS", "STATISTICS", "QUANTITIES",
           "SELF_SERVICE_CHANNEL", "lookup", "entries", "help_needed_metrics", "value_bounds",
           "share_family", "share_family_counts", "share_families", "family_codes",
           "parse_metrics", "declare", "declared_quantity", "declared_quantity_expr",
           "check_declared", "add_ticket_quantities", "ticket_quantity", "ticket_quantity_expr",
           "missing_column",
           "slug"]


#: Units: code -> (suffix of a change in sentences, scale of a change, words for axis labels).
#: A change ``d`` of a metric is written ``f"{d * scale:+g}{suffix}"``; ``rate`` metrics are
#: stored 0-1 and their changes written in percentage points.
UNITS = {
    "hours": (" h", 1.0, "hours"),
    "minutes": (" min", 1.0, "minutes"),
    "months": (" months", 1.0, "months"),
    "rate": (" pp", 100.0, "share 0-1"),
    "pct": (" pp", 1.0, "%"),
    "pp": (" pp", 1.0, "percentage points"),
    "score": ("", 1.0, "score"),
    "points": ("", 1.0, "points"),
    "count": ("", 1.0, "count"),
    "ratio": ("", 1.0, "per active customer"),
    "amount": ("", 1.0, "currency"),
    "flag": ("", 1.0, "0/1"),
    "value": ("", 1.0, "value"),
}

#: Which tickets of a period count in a panel aggregate: ``created`` all tickets created
#: in t; ``answered`` those answered before t ends; ``resolved`` those resolved before t
#: ends (attributes without their own timestamp are known at resolution).
WINDOWS = ("created", "answered", "resolved")
STATISTICS = ("mean", "median", "sum", "count", "share")


@dataclass(frozen=True)
class Aggregation:
    """How tickets reduce to one metric value per group (KPI group or customer x period).

    ``quantity`` names a per-ticket value (a key of :data:`QUANTITIES`, a
    declared metric's own quantity, or ``"<family>=<value>"`` for a share of
    a family); ``statistic`` is ``mean``, ``median``, ``sum``, ``count``
    (tickets with a value), ``share`` (mean of a 0/1 value) or a quantile
    (a float); ``window`` says which tickets of a period count in the panel
    (see :data:`WINDOWS`). KPI tables use every ticket of the group.
    """

    quantity: str
    statistic: str | float
    window: str = "resolved"


@dataclass(frozen=True)
class Metric:
    """Everything cxkit knows about one metric column.

    Attributes
    ----------
    name : str
        Column name, snake_case with its unit (``resolution_hours_mean``).
    label : str
        Plain words used in sentences (``"resolution time"``).
    unit : str
        A key of :data:`UNITS`.
    direction : int
        +1 higher is better for customers, -1 higher is worse, 0 neither.
    low, high : float
        Valid range (inclusive); what-if scenarios clip to it.
    step : float
        The change effect sentences state (in the metric's own unit).
    target : tuple or None
        ``("<=" or ">=", threshold)`` a customer-period must meet to count as good service.
    needs : tuple of str
        Ticket columns it needs (any one of a ``"a|b"`` alternative).
    aggregation : Aggregation or None
        How tickets aggregate into it; None for columns not made from tickets.
    role : str
        ``exposure``, ``control``, ``outcome`` or ``kpi`` (KPI tables only).
    kpi, panel : bool
        Whether KPI tables / the panel carry it.
    confounded_by_construction : bool
        It measures how much help a customer needed (ticket volume, contact
        rate...): customers with more problems contact support more and churn
        more, so its estimated effect is confounded by construction and is
        never a finding.
    family, reference : str or None
        For shares that sum to one: the family (``reason``, ``channel``) and the
        column name of the family's reference category.
    description : str
        Definition in one sentence.
    """

    name: str
    label: str
    unit: str
    direction: int = 0
    low: float = 0.0
    high: float = math.inf
    step: float = 1.0
    target: tuple[str, float] | None = None
    needs: tuple[str, ...] = ()
    aggregation: Aggregation | None = None
    role: str = "exposure"
    kpi: bool = False
    panel: bool = False
    confounded_by_construction: bool = False
    family: str | None = None
    reference: str | None = None
    description: str = ""
    condition: str | None = None  # declared share or count: its derive-language condition

    @property
    def higher_is_better(self) -> bool | None:
        """True / False by :attr:`direction`; None when neither."""
        return None if self.direction == 0 else self.direction > 0

    @property
    def sentence_unit(self) -> tuple[str, float]:
        """``(suffix, scale)`` of a change in sentences, e.g. ``(" pp", 100.0)`` for a rate."""
        suffix, scale, _ = UNITS[self.unit]
        return suffix, scale

    @property
    def unit_words(self) -> str:
        """The unit in words, e.g. ``"hours"``, ``"share 0-1"``, ``"score 1-5"``."""
        if self.unit == "score" and math.isfinite(self.high):
            return f"score {self.low:g}-{self.high:g}"
        return UNITS[self.unit][2]

    @property
    def axis_label(self) -> str:
        """Label with its unit for axes and tables, e.g. ``"Resolution time, mean (hours)"``."""
        words = self.unit_words
        stat = self.aggregation.statistic if self.aggregation else None
        extra = {"mean": ", mean", "median": ", median"}.get(stat, "")
        if isinstance(stat, float):
            extra = f", p{stat * 100:g}"
        text = self.label + ("" if self.label.endswith(extra.removeprefix(", ")) else extra)
        return f"{text[:1].upper()}{text[1:]} ({words})"


def _m(name, label, unit, **kw) -> Metric:
    agg = kw.pop("agg", None)
    if agg is not None:
        kw["aggregation"] = Aggregation(*agg)
    return Metric(name, label, unit, **kw)


_TICKET = {"kpi": True, "panel": True}
_KPI = {"kpi": True, "role": "kpi"}
_VOLUME = {"confounded_by_construction": True}

#: The built-in metrics, by column name.
METRICS: dict[str, Metric] = {m.name: m for m in (
    # -- support KPIs and panel exposures made from tickets
    _m("n_tickets", "tickets", "count", agg=("ticket", "count", "created"), **_KPI, **_VOLUME,
       description="Tickets created in the group."),
    _m("ticket_count", "tickets", "count", agg=("ticket", "count", "created"), panel=True,
       **_VOLUME, description="Tickets the customer created in period t."),
    _m("contacted", "contacted support", "flag", high=1.0, panel=True, **_VOLUME,
       description="The customer created at least one ticket in t; every support metric "
                   "is missing when not."),
    _m("first_response_count", "tickets answered", "count", needs=("first_response_minutes",),
       agg=("first_response_minutes", "count", "answered"), **_KPI, **_VOLUME),
    _m("first_response_minutes_median", "first response time", "minutes", direction=-1,
       step=-30.0, target=("<=", 60.0), needs=("first_response_minutes",),
       agg=("first_response_minutes", "median", "answered"), **_TICKET,
       description="Median minutes from creation to the first agent reply, over tickets "
                   "answered (in the panel: answered before the period ends)."),
    _m("first_response_minutes_p90", "first response time", "minutes", direction=-1,
       step=-30.0, needs=("first_response_minutes",),
       agg=("first_response_minutes", 0.9, "answered"), **_KPI),
    _m("resolved_count", "resolved tickets", "count", needs=("resolved_at",),
       agg=("resolved", "sum", "resolved"), **_TICKET, **_VOLUME,
       description="Tickets resolved (in the panel: created in t and resolved before t ends)."),
    _m("open_count", "open tickets", "count", direction=-1, needs=("resolved_at",),
       agg=("open", "sum", "created"), **_TICKET, **_VOLUME,
       description="Tickets not resolved (in the panel: still open when t ends)."),
    _m("resolution_hours_median", "resolution time", "hours", direction=-1, step=-2.0,
       target=("<=", 24.0), needs=("resolved_at",),
       agg=("resolution_hours", "median", "resolved"), **_TICKET),
    _m("resolution_hours_mean", "resolution time", "hours", direction=-1, step=-2.0,
       target=("<=", 24.0), needs=("resolved_at",),
       agg=("resolution_hours", "mean", "resolved"), **_TICKET,
       description="Mean hours from creation to resolution of resolved tickets."),
    _m("resolution_hours_p90", "resolution time", "hours", direction=-1, step=-2.0,
       needs=("resolved_at",), agg=("resolution_hours", 0.9, "resolved"), **_KPI),
    _m("fcr_rate", "first-contact resolution", "rate", direction=1, high=1.0, step=0.10,
       target=(">=", 1.0), needs=("resolved_at", "contacts"),
       agg=("first_contact_resolved", "mean", "resolved"), **_TICKET,
       description="Share of resolved tickets resolved with one contact."),
    _m("reopen_rate", "reopen rate", "rate", direction=-1, high=1.0, step=-0.05,
       target=("<=", 0.0), needs=("reopened",), agg=("reopened", "mean", "resolved"), **_TICKET),
    _m("escalation_rate", "escalation rate", "rate", direction=-1, high=1.0, step=-0.05,
       target=("<=", 0.0), needs=("escalated",), agg=("escalated", "mean", "resolved"),
       **_TICKET),
    _m("self_service_rate", "self-service share", "rate", high=1.0, step=0.10,
       needs=("channel",), agg=("self_service", "mean", "resolved"), **_TICKET,
       description=f"Share of tickets whose channel is {SELF_SERVICE_CHANNEL!r} (tickets "
                   "without a channel count as not)."),
    _m("csat_count", "CSAT ratings", "count", needs=("csat",), agg=("csat", "count", "resolved"),
       **_TICKET, **_VOLUME),
    _m("csat_mean", "CSAT", "score", direction=1, low=1.0, high=5.0, step=1.0,
       target=(">=", 4.0), needs=("csat",), agg=("csat", "mean", "resolved"), **_TICKET,
       description="Mean ticket satisfaction, 1-5."),
    _m("csat_satisfied_pct", "CSAT satisfied, 4-5", "pct", direction=1, high=100.0, step=10.0,
       needs=("csat",), agg=("csat_satisfied", "mean", "resolved"), **_KPI),
    _m("ces_count", "CES ratings", "count", needs=("ces",), agg=("ces", "count", "resolved"),
       **_TICKET, **_VOLUME),
    _m("ces_mean", "effort score (CES)", "score", direction=1, low=1.0, high=7.0, step=1.0,
       target=(">=", 5.0), needs=("ces",), agg=("ces", "mean", "resolved"), **_TICKET,
       description="Mean customer effort score, 1-7 (7 = very easy)."),
    _m("nps", "NPS", "points", direction=1, low=-100.0, high=100.0, step=10.0, **_KPI,
       description="% promoters (9-10) - % detractors (0-6) of survey answers."),
    _m("contact_rate", "contact rate", "ratio", direction=-1, **_KPI, **_VOLUME,
       description="Tickets per active customer."),
    _m("share_rate", "share of tickets", "rate", high=1.0, **_KPI),
    # -- panel controls
    _m("ticket_count_prior", "prior tickets", "count", role="control", panel=True, **_VOLUME,
       description="Tickets created in the lookback periods before t."),
    _m("tenure_months", "tenure", "months", role="control", panel=True,
       description="Days since signup at period start / 30.4375."),
    _m("revenue_amount", "revenue", "amount", role="control", panel=True,
       description="Revenue paid in t."),
    _m("revenue_prev_amount", "previous revenue", "amount", role="control", panel=True,
       description="Revenue paid in t-1."),
    # -- outcomes (measured strictly after t)
    _m("churned_in_period", "churn in the period", "flag", high=1.0, role="outcome", panel=True,
       description="churned_at falls inside period t; such rows are not at risk for "
                   "churned_next."),
    _m("churned_next", "churn", "flag", direction=-1, high=1.0, role="outcome", panel=True,
       description="1 when churned_at < period_end of t+horizon (churn in t+1..t+horizon), "
                   "else 0; NaN when the customer churned in t or the outcome window is not "
                   "fully observed."),
    _m("revenue_next_amount", "revenue", "amount", direction=1, role="outcome", panel=True,
       description="Sum of revenue paid in periods t+1..t+horizon."),
    _m("repeat_purchase_next", "repeat purchase", "flag", direction=1, high=1.0,
       role="outcome", panel=True, description="1 when revenue_next_amount > 0, else 0."),
    _m("revenue_change_amount", "revenue change", "amount", direction=1, low=-math.inf,
       role="outcome", panel=True,
       description="revenue_next_amount - horizon * revenue_amount (revenue paid in t)."),
    _m("nps_next", "NPS", "score", direction=1, high=10.0, role="outcome", panel=True,
       description="Mean NPS of surveys answered in t+1..t+horizon; NaN when none."),
    _m("outcome_observed", "outcome observed", "flag", high=1.0, role="outcome", panel=True,
       description="Period t+horizon lies inside the data window; every outcome is NaN when "
                   "False."),
    _m("tickets_per_month", "tickets per month", "count", **_VOLUME,
       description="Survival table: tickets per month observed in the window."),
    _m("event", "churn", "flag", high=1.0, role="outcome",
       description="Survival table: 1 when the customer churned inside the window, 0 when "
                   "still active at the window end (right-censored)."),
    _m("duration_months", "time to churn", "months", role="outcome",
       description="Survival table: time from signup to churn, or to the window end when "
                   "censored (days / 30.4375)."),
    _m("entry_months", "time at entry", "months", role="outcome",
       description="Survival table: time from signup to the window start (delayed entry, "
                   "left truncation); 0 for customers who signed up inside the window."),
)}


# ----------------------------------------------------------------- lookup

_DECLARED: dict[str, Metric] = {}  # metrics of the source configs read in this process
_FAMILIES = {"reason": "contact reason", "channel": "channel"}
_FAMILY_RE = re.compile(r"^(reason|channel)_share_([a-z0-9_]+)$")


def lookup(name: str) -> Metric:
    """The registry entry of column ``name``.

    Built-in metrics first, then metrics declared in a source config read in
    this process, then share-family columns (``reason_share_billing``); any
    other name gets an entry guessed from its unit suffix (``_hours``,
    ``_minutes``, ``_rate`` 0-1, ``_pct`` 0-100, ``_count``, ``_amount``),
    bounded at 0 below.

    Examples
    --------
    >>> lookup("fcr_rate").label, lookup("fcr_rate").unit
    ('first-contact resolution', 'rate')
    >>> lookup("handle_minutes_mean").unit
    'minutes'
    """
    if name in METRICS:
        return METRICS[name]
    if name in _DECLARED:
        return _DECLARED[name]
    family = _FAMILY_RE.match(name)
    if family:
        kind, value = family.groups()
        return _share_metric(kind, value, reference=None)
    return _guess(name)


def _guess(name: str) -> Metric:
    label = name
    for suffix in ("_mean", "_median"):
        label = label.removesuffix(suffix)
    for suffix in ("_hours", "_minutes", "_rate", "_pct", "_count", "_amount"):
        label = label.removesuffix(suffix)
    label = label.replace("_", " ")
    unit, high = "value", math.inf
    if "_hours" in name:
        unit = "hours"
    elif "_minutes" in name:
        unit = "minutes"
    elif name.endswith("_rate"):
        unit, high = "rate", 1.0
    elif "_pct" in name:
        unit, high = "pct", 100.0
    elif name.endswith("_count"):
        unit = "count"
    elif name.endswith("_amount"):
        unit = "amount"
    return Metric(name, label, unit, high=high)


def help_needed_metrics() -> list[str]:
    """Names of the metrics flagged ``confounded_by_construction`` (built in and declared)."""
    return [m.name for m in [*METRICS.values(), *_DECLARED.values()]
            if m.confounded_by_construction]


def entries(*, kpi: bool | None = None, panel: bool | None = None,
            role: str | None = None) -> list[Metric]:
    """Built-in entries, filtered by ``kpi``, ``panel`` and ``role`` when given."""
    return [m for m in METRICS.values()
            if (kpi is None or m.kpi == kpi) and (panel is None or m.panel == panel)
            and (role is None or m.role == role)]


# ------------------------------------------------------------ share families

_MAX_LEVELS = 12  # more values than this: the rarest are pooled as "other"


def slug(value) -> str:
    """A value as a safe snake_case name part: ``"Self service!"`` -> ``"self_service"``."""
    text = re.sub(r"[^0-9a-z]+", "_", str(value).strip().lower()).strip("_")
    return text or "blank"


def _share_metric(kind: str, value_slug: str, *, reference: str | None) -> Metric:
    name = f"{kind}_share_{value_slug}"
    return Metric(name, f"{_FAMILIES[kind]} {value_slug.replace('_', ' ')} (share)", "rate",
                  high=1.0, step=0.10, needs=(kind,),
                  aggregation=Aggregation(f"{kind}={value_slug}", "share", "resolved"),
                  panel=True, family=kind, reference=reference,
                  description=f"Share of the period's resolved tickets whose {kind} is "
                              f"{value_slug!r}.")


def share_family(values: pd.Series, kind: str) -> tuple[dict, list[Metric]]:
    """The share columns of one family (``reason`` or ``channel``) for these ticket values.

    Returns ``(codes, metrics)``: ``codes`` maps each column's slug to the
    value slugs pooled under it (missing values pool as ``missing``, values
    beyond the :data:`_MAX_LEVELS` most common as ``other``), and one
    :class:`Metric` per slug, most common first (ties: alphabetical); every
    entry names the most common slug's column as ``reference``.
    """
    return share_family_counts(values.value_counts(dropna=False), kind)


def share_family_counts(counts: pd.Series, kind: str) -> tuple[dict, list[Metric]]:
    """:func:`share_family` from the number of tickets per value (index: the values, a
    missing one as NaN or None), e.g. as counted by an engine."""
    labels = ["missing" if pd.isna(v) else slug(v) for v in counts.index]
    counts = pd.Series(counts.to_numpy(), index=labels).groupby(level=0, sort=True).sum()
    counts = counts.sort_values(ascending=False, kind="stable")
    if not len(counts):
        return {}, []
    fits = len(counts) <= _MAX_LEVELS
    pooled = {s: [s] for s in counts.index[:_MAX_LEVELS if fits else _MAX_LEVELS - 1]}
    if not fits:
        rest = [s for s in counts.index if s not in pooled]
        pooled["other"] = pooled.pop("other", []) + rest
    reference = f"{kind}_share_{next(iter(pooled))}"
    return pooled, [_share_metric(kind, s, reference=reference) for s in pooled]


def family_codes(values: pd.Series, codes: dict) -> np.ndarray:
    """Position in ``codes`` (see :func:`share_family`) of each value, as float64.

    A value whose slug is in no column (not seen when ``codes`` was made)
    gives NaN; a missing value gets the code of ``missing``.
    """
    position = {v: i for i, pooled in enumerate(codes.values()) for v in pooled}
    ids, uniques = pd.factorize(values, use_na_sentinel=True)
    per_unique = [position.get(slug(u), np.nan) for u in uniques]
    per_unique.append(position.get("missing", np.nan))  # id -1: missing value
    return np.asarray(per_unique, dtype=np.float64)[ids]


def share_families(tickets: pd.DataFrame | None) -> dict[str, tuple[dict, list[Metric]]]:
    """:func:`share_family` of each family column the tickets have (``reason``, ``channel``)."""
    if tickets is None:
        return {}
    return {kind: share_family(tickets[kind], kind) for kind in _FAMILIES if kind in tickets}


# ----------------------------------------------------- metrics from a config

_DECLARE_KEYS = ("share", "mean", "median", "sum", "count", "label", "unit", "direction",
                 "bounds", "step", "target", "confounded_by_construction")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def parse_metrics(spec, *, where: str = "metrics") -> tuple[Metric, ...]:
    """Metric entries declared in a source config's ``metrics:`` block.

    Each key is a new snake_case column name; its value holds exactly one
    aggregation and optional facts::

        metrics:
          high_priority_rate: {share: "priority == 'high'", label: high-priority tickets}
          handle_minutes_mean: {mean: handle_minutes}
          qa_score_median: {median: qa_score, unit: score, bounds: [0, 100],
                            direction: higher_is_better}
          refund_tag_count: {count: "tags == 'refund'"}

    ``share`` and ``count`` take a condition in the ``derive`` language (the
    share of tickets, or the number of tickets, for which it is true; missing
    counts as false); ``mean``, ``median`` and ``sum`` take a ticket column.
    Optional: ``label``, ``unit`` (a key of :data:`UNITS`; default ``rate`` for
    shares, ``count`` for counts, else from the name's suffix), ``direction``
    (``higher_is_better`` / ``higher_is_worse``), ``bounds`` ``[low, high]``,
    ``step`` (change used in effect sentences), ``target`` (``[">=", 4]``) and
    ``confounded_by_construction`` (default true for ``count`` and ``sum``,
    which measure how much help a customer needed). In the panel, like every
    ticket attribute without its own timestamp, they use tickets created in
    the period and resolved before it ends.

    Raises
    ------
    ConfigError
        Unknown keys, a bad name, more or less than one aggregation, a
        condition outside the ``derive`` language, or a name of a built-in metric.
    """
    if spec is None:
        return ()
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where} must map new column names to their aggregation, e.g. "
                          "high_priority_rate: {share: \"priority == 'high'\"}.")
    out = []
    for name, body in spec.items():
        at = f"{where}.{name}"
        name = str(name)
        if not _NAME.match(name):
            raise ConfigError(f"{at}: {name!r} is not a snake_case column name (lower-case "
                              "letters, digits, underscores).")
        if name in METRICS or _FAMILY_RE.match(name):
            raise ConfigError(f"{at}: {name!r} is a built-in metric; choose another name.")
        if not isinstance(body, Mapping):
            raise ConfigError(f"{at} must be a mapping such as {{mean: handle_minutes}}.")
        unknown = [k for k in body if k not in _DECLARE_KEYS]
        if unknown:
            raise ConfigError(f"{at}: unknown key {unknown[0]!r}; valid keys are "
                              f"{', '.join(_DECLARE_KEYS)}.")
        how = [k for k in STATISTICS if k in body]
        if len(how) != 1:
            raise ConfigError(f"{at}: give exactly one of share, mean, median, sum, count "
                              f"(got {how or 'none'}).")
        stat, source = how[0], str(body[how[0]])
        try:
            parse_expression(source)
        except ConfigError as exc:
            raise ConfigError(f"{at}.{stat}: {exc}") from None
        condition = stat in ("share", "count")
        guessed = _guess(name)
        unit = str(body.get("unit") or ("rate" if stat == "share" else "count" if stat == "count"
                                        else guessed.unit))
        if unit not in UNITS:
            raise ConfigError(f"{at}.unit: {unit!r} is not a unit; use one of {', '.join(UNITS)}.")
        low, high = _bounds(body.get("bounds"), unit, at)
        direction = {"higher_is_better": 1, "higher_is_worse": -1, None: 0}.get(
            body.get("direction"), None)
        if direction is None:
            raise ConfigError(f"{at}.direction: {body['direction']!r}; use higher_is_better "
                              "or higher_is_worse.")
        target = body.get("target")
        if target is not None:
            if (not isinstance(target, (list, tuple)) or len(target) != 2
                    or target[0] not in ("<=", ">=") or not _is_number(target[1])):
                raise ConfigError(f"{at}.target: {target!r}; write it as ['>=', 4] or ['<=', 24].")
            target = (str(target[0]), float(target[1]))
        step = body.get("step", 0.10 if unit == "rate" else 1.0)
        if not _is_number(step):
            raise ConfigError(f"{at}.step: {step!r} is not a number.")
        confounded = body.get("confounded_by_construction", stat in ("count", "sum"))
        if not isinstance(confounded, bool):
            raise ConfigError(f"{at}.confounded_by_construction must be true or false.")
        what = f"tickets where {source}" if condition else f"ticket column {source!r}"
        out.append(Metric(
            name, str(body.get("label") or guessed.label), unit, direction=direction, low=low,
            high=high, step=float(step), target=target,
            aggregation=Aggregation(f"declared:{name}", "sum" if stat == "count" else stat,
                                    "resolved"),  # a count of matches sums 0/1 values
            kpi=True, panel=True, confounded_by_construction=confounded,
            condition=source if condition else None, needs=() if condition else (source,),
            description=f"{stat} of {what} (in the panel: tickets created in the period and "
                        "resolved before it ends)."))
    return tuple(out)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _bounds(given, unit: str, at: str) -> tuple[float, float]:
    if given is None:
        return (0.0, 1.0) if unit == "rate" else (0.0, 100.0) if unit == "pct" else (0.0, math.inf)
    if (not isinstance(given, (list, tuple)) or len(given) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in given)
            or given[0] > given[1]):
        raise ConfigError(f"{at}.bounds: {given!r}; write it as [low, high] with low <= high.")
    return float(given[0]), float(given[1])


def declare(metrics) -> None:
    """Make declared metrics known to :func:`lookup` (labels, units, bounds of their columns)."""
    for m in metrics:
        _DECLARED[m.name] = m


def check_declared(metrics, tickets: pd.DataFrame | None) -> None:
    """Check, when the data are read, that each declared metric can be computed on
    ``tickets``, and make it known to :func:`lookup`.

    Raises
    ------
    ConfigError
        Metrics are declared but there is no tickets table, or a condition or
        column names a column the tickets lack, naming ``metrics.<name>``.
    """
    if metrics and tickets is None:
        raise ConfigError(f"metrics.{metrics[0].name}: declared metrics aggregate tickets, but "
                          "the source config has no tickets table; add one or remove the block.")
    for m in metrics:
        declared_quantity(tickets, m)
    declare(metrics)


def declared_quantity(tickets: pd.DataFrame, metric: Metric) -> pd.Series:
    """Per-ticket value of a declared metric: 0/1 for a condition, else the column as float.

    Raises
    ------
    ConfigError
        The condition or column names a column the tickets do not have.
    """
    if metric.condition is not None:
        try:
            value = evaluate_expression(metric.condition, tickets)
        except ConfigError as exc:
            raise ConfigError(f"metrics.{metric.name}: {exc}") from None
        return value.astype("boolean").fillna(False).astype("float64")
    (column,) = metric.needs
    if column not in tickets.columns:
        raise ConfigError(f"metrics.{metric.name}: tickets have no column {column!r}; map one "
                          f"in tables.tickets.columns or choose a column of "
                          f"{sorted(map(str, tickets.columns))[:12]}.")
    values = pd.to_numeric(tickets[column], errors="coerce")
    return values.astype("float64")


def declared_quantity_expr(tickets, metric: Metric, *, timezone: str = "UTC"):
    """The Ibis form of :func:`declared_quantity` over an engine's ticket table.

    The condition is compiled by the same whitelisted parser
    (:func:`cxkit._derive.compile_expression`), never evaluated as code; its
    timestamp literals are reporting-zone (``timezone``) times, the table's
    timestamps UTC instants.

    Raises
    ------
    ConfigError
        The condition or column names a column the tickets do not have.
    """
    if metric.condition is not None:
        try:
            value = compile_expression(metric.condition, tickets, reporting_zone=timezone)
        except ConfigError as exc:
            raise ConfigError(f"metrics.{metric.name}: {exc}") from None
        return value.cast("boolean").fill_null(False).ifelse(1, 0).cast("float64")
    (column,) = metric.needs
    if column not in tickets.columns:
        raise ConfigError(f"metrics.{metric.name}: tickets have no column {column!r}; map one "
                          f"in tables.tickets.columns or choose a column of "
                          f"{sorted(map(str, tickets.columns))[:12]}.")
    value = tickets[column]
    if value.type().is_numeric() or value.type().is_boolean():
        return value.cast("float64")
    return value.try_cast("float64")


def value_bounds(name: str) -> tuple[float, float]:
    """Valid range of column ``name`` (what-if scenarios clip to it)."""
    m = lookup(name)
    return m.low, m.high


