"""Tests of cxkit.registry (the one home of metric facts) and cxkit.periods."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import cxkit
from cxkit import periods, registry
from cxkit.exceptions import ConfigError, ParameterError

PACKAGE = Path(cxkit.__file__).parent


_UNIT_WORDS = set(registry.UNITS) | {w for *_, w in registry.UNITS.values()} | {"share"}
# A dict keyed by metric names that holds no metric fact: the generator's planted effects.
_EXEMPT = {"synth.py": "planted effect sizes of the generator, written to truth.json"}


def _is_fact(value: ast.AST) -> bool:
    """A literal that states a label, a unit, a bound, a step or a target."""
    if isinstance(value, ast.Tuple):
        return all(isinstance(e, ast.Constant) for e in value.elts)
    if isinstance(value, ast.UnaryOp) and isinstance(value.operand, ast.Constant):
        value = value.operand
    if not isinstance(value, ast.Constant) or isinstance(value.value, bool):
        return False
    if isinstance(value.value, (int, float)):
        return True
    return isinstance(value.value, str) and (" " in value.value or value.value in _UNIT_WORDS)


def _second_definitions(tree: ast.AST) -> list[str]:
    """Dict literals mapping metric names to labels, units, bounds, steps or targets, and
    ``(metric name, label or unit)`` pairs."""
    names = set(registry.METRICS)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            hits = [k.value for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(k, ast.Constant) and k.value in names and _is_fact(v)]
            if hits:
                found.append(f"line {node.lineno}: dict of metric facts keyed by {hits[:3]}")
        if isinstance(node, ast.Tuple) and len(node.elts) == 2 and all(
                isinstance(e, ast.Constant) for e in node.elts):
            first, second = node.elts
            if first.value in names and _is_fact(second):
                found.append(f"line {node.lineno}: pair ({first.value!r}, {second.value!r})")
    return found


def test_the_grep_finds_a_planted_second_definition():
    planted = ('LABELS = {"fcr_rate": "first-contact resolution"}\n'
               'UNITS = (("csat_mean", "score 1-5"), ("reopen_rate", "share"))\n'
               'BOUNDS = {"csat_mean": (1.0, 5.0)}\nSTEPS = {"fcr_rate": 0.10, "ces_mean": -1}\n'
               'TARGETS = {"fcr_rate": (">=", 1.0)}\nLAZY = {"contact_rate": "metrics"}\n')
    assert len(_second_definitions(ast.parse(planted))) == 6


def test_every_entry_is_consistent():
    for name, m in registry.METRICS.items():
        assert m.name == name
        assert m.unit in registry.UNITS, name
        assert m.low <= m.high, name
        assert m.direction in (-1, 0, 1), name
        assert m.label, name
        if m.aggregation is not None:
            agg = m.aggregation
            assert agg.window in registry.WINDOWS, name
            assert isinstance(agg.statistic, float) or agg.statistic in registry.STATISTICS
            assert agg.quantity == "ticket" or agg.quantity in registry.QUANTITIES, name
        if m.target is not None:
            assert m.target[0] in ("<=", ">=") and m.low <= m.target[1] <= m.high, name
        if m.unit == "rate":
            assert (m.low, m.high) == (0.0, 1.0), name


def test_volume_metrics_are_flagged_confounded_by_construction():
    flagged = {n for n, m in registry.METRICS.items() if m.confounded_by_construction}
    assert {"ticket_count", "ticket_count_prior", "contact_rate", "n_tickets",
            "contacted"} <= flagged
    assert not registry.lookup("resolution_hours_mean").confounded_by_construction
    assert not registry.lookup("fcr_rate").confounded_by_construction
    assert flagged <= set(registry.help_needed_metrics())


def test_readers_take_their_facts_from_the_registry():
    from cxkit.labels import driver_label
    from cxkit.outcomes import OUTCOMES
    from cxkit.schema import columns_of
    from cxkit.whatif import apply_changes

    assert driver_label("fcr_rate") == ("first-contact resolution", " pp", 100.0)
    assert driver_label("resolution_hours_mean") == ("resolution time", " h", 1.0)
    assert driver_label("csat_mean") == ("CSAT", "", 1.0)
    df = pd.DataFrame({"csat_mean": [4.5], "fcr_rate": [0.95], "handle_minutes_mean": [3.0]})
    moved = apply_changes(df, {"csat_mean": {"add": 1}, "fcr_rate": {"add": 0.1},
                               "handle_minutes_mean": {"add": -5}})
    assert moved.iloc[0].tolist() == [5.0, 1.0, 0.0]
    csat = columns_of("tickets")["csat"]
    assert (csat.low, csat.high, csat.unit) == (1.0, 5.0, "score 1-5")
    assert OUTCOMES["nps_next"]["unit"] == "score 0-10"
    assert set(OUTCOMES) == {m.name for m in registry.entries(role="outcome")}


def test_unknown_names_are_guessed_from_their_suffix():
    m = registry.lookup("handle_minutes_mean")
    assert (m.label, m.unit, m.low, m.high) == ("handle", "minutes", 0.0, math.inf)
    assert registry.lookup("upsell_rate").high == 1.0
    assert registry.lookup("reason_share_billing").family == "reason"


def test_share_family_codes_reference_and_pooling():
    values = pd.Series(["Billing", "billing", "Login issue", None, "Login issue", "Login issue"])
    codes, metrics = registry.share_family(values, "reason")
    assert list(codes) == ["login_issue", "billing", "missing"]
    assert [m.name for m in metrics] == ["reason_share_login_issue", "reason_share_billing",
                                         "reason_share_missing"]
    assert {m.reference for m in metrics} == {"reason_share_login_issue"}
    many = pd.Series([f"r{i:02d}" for i in range(20) for _ in range(20 - i)])
    codes, metrics = registry.share_family(many, "reason")
    assert len(codes) == 12 and codes["other"] == [f"r{i:02d}" for i in range(11, 20)]


def test_ticket_quantities_are_derived_once_at_read_time():
    t = pd.DataFrame({
        "created_at": pd.to_datetime(["2024-01-01 00:00", "2024-01-01 00:00", "2024-01-02 00:00"]),
        "first_response_at": pd.to_datetime(["2024-01-01 00:30", None, "2024-01-02 01:00"]),
        "resolved_at": pd.to_datetime(["2024-01-01 06:00", None, "2024-01-03 00:00"]),
        "contacts": [1, 1, 3]})
    out = registry.add_ticket_quantities(t.copy())
    np.testing.assert_allclose(out["first_response_minutes"], [30.0, np.nan, 60.0])
    np.testing.assert_allclose(out["resolution_hours"], [6.0, np.nan, 24.0])
    np.testing.assert_allclose(out["first_contact_resolved"], [1.0, np.nan, 0.0])
    data = cxkit.read_support_data("sample")
    assert {"resolution_hours", "first_contact_resolved"} <= set(data.tickets.columns)


# --------------------------------------------------------------------- periods


@pytest.mark.parametrize("bad", ["D", "month", "", 3, None])
def test_a_bad_period_is_one_error_type_everywhere(bad):
    data = cxkit.make_sample(n_customers=30, months=3, seed=1)[0]
    calls = [lambda: periods.check_period(bad),
             lambda: cxkit.compute_kpis(data, period=bad or "X"),
             lambda: cxkit.build_panel(data, period=bad),
             lambda: cxkit.coverage_plot(data, period=bad)]
    for call in calls:
        with pytest.raises(ParameterError, match="period="):
            call()


def test_period_numbers_and_starts_agree():
    ts = pd.Series(pd.to_datetime(["2024-01-01 00:00", "2024-03-31 23:59", "2024-04-01 00:00", None,
                                   "2023-12-31 23:00"]))
    for p in periods.PERIODS:
        numbers = periods.period_numbers(ts, p)
        starts = periods.period_starts(ts, p)
        for n, s, t in zip(numbers, starts, ts, strict=True):
            if pd.isna(t):
                assert n == -1 and pd.isna(s)
            else:
                assert n == periods.period_number(t, p)
                assert periods.period_start(n, p) == s <= t
    assert periods.period_start(periods.period_number(pd.Timestamp("2024-01-03"), "W"),
                                "W") == pd.Timestamp("2024-01-01")  # a Monday


def test_config_metrics_are_parsed_or_refused():
    metrics = registry.parse_metrics({
        "high_priority_rate": {"share": "priority == 'high'", "label": "high-priority tickets"},
        "handle_minutes_mean": {"mean": "handle_minutes", "direction": "higher_is_worse"},
        "refund_tag_count": {"count": "tags == 'refund'"}})
    by = {m.name: m for m in metrics}
    assert by["high_priority_rate"].unit == "rate" and by["high_priority_rate"].high == 1.0
    assert by["handle_minutes_mean"].unit == "minutes"
    assert by["handle_minutes_mean"].direction == -1
    assert by["refund_tag_count"].confounded_by_construction
    for bad, words in [({"x_rate": {"share": "__import__('os')"}}, "x_rate"),
                       ({"x_rate": {"share": "a == 1", "mean": "b"}}, "exactly one"),
                       ({"fcr_rate": {"mean": "b"}}, "built-in"),
                       ({"Bad Name": {"mean": "b"}}, "snake_case"),
                       ({"x_mean": {"mean": "b", "unit": "parsecs"}}, "unit"),
                       ({"x_mean": {"mean": "b", "colour": 1}}, "unknown key")]:
        with pytest.raises(ConfigError, match=words):
            registry.parse_metrics(bad)
