"""Tests of cxkit.panel.build_panel on a fixture small enough to check by eye.

Fixture (monthly window Jan-Apr 2024, period_index 0-3):

* A: signed up 2023-06-15, never churns; tickets T1-T5, T9; pays 100 on the
  first of Jan, Feb, Mar, then 50 + 10 in April; NPS 9 and 7 in Feb, 10 in Apr.
* B: signed up 2024-02-10, churns 2024-03-20 (mid-period); tickets T6, T7, T10;
  pays 40 in Feb and Mar; NPS 2 in March.
* C: signed up 2023-12-01, never churns, never contacts support; pays 20 in Feb.
* D: signed up 2023-03-01, churns 2024-01-10 (first period); ticket T8.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxkit.data import SupportData
from cxkit.exceptions import ParameterError, SchemaError
from cxkit.panel import build_panel

TS = pd.Timestamp
NAT = pd.NaT

EXPOSURE = ["ticket_count", "contacted", "first_response_minutes_median", "resolved_count",
            "open_count", "resolution_hours_mean", "resolution_hours_median", "fcr_rate",
            "reopen_rate", "escalation_rate", "csat_mean", "csat_count", "ces_mean", "ces_count",
            "revenue_amount"]
CONTROLS = ["plan", "segment", "tenure_months", "revenue_prev_amount", "ticket_count_prior"]
OUTCOMES = ["churned_in_period", "churned_next", "revenue_next_amount", "repeat_purchase_next",
            "revenue_change_amount", "nps_next", "outcome_observed"]


def _tickets() -> pd.DataFrame:
    rows = [
        # id, customer, created, first response minutes, resolved, contacts, reopened,
        # escalated, csat, ces
        ("T1", "A", "2024-01-05 10:00", 30.0, "2024-01-05 14:00", 1, False, False, 5.0, 6.0),
        ("T2", "A", "2024-01-20 08:00", 120.0, "2024-01-22 08:00", 2, True, False, 3.0, np.nan),
        # created on Jan 31, answered and resolved in February: not resolved in window
        ("T3", "A", "2024-01-31 22:00", 180.0, "2024-02-02 22:00", 1, False, True, 1.0, 2.0),
        ("T4", "A", "2024-02-10 09:00", 60.0, None, None, None, None, np.nan, np.nan),  # open
        ("T5", "A", "2024-04-03 12:00", 10.0, "2024-04-03 13:30", 1, False, False, 4.0, 7.0),
        ("T6", "B", "2024-02-28 23:00", 15.0, "2024-03-01 01:00", 1, False, False, 2.0, np.nan),
        ("T7", "B", "2024-03-05 00:00", 5.0, "2024-03-05 06:00", 3, False, True, 2.0, 3.0),
        ("T8", "D", "2024-01-02 09:00", 0.0, "2024-01-02 10:00", 1, False, False, 5.0, 7.0),
        ("T9", "A", "2024-03-15 12:00", np.nan, "2024-03-15 18:00", 2, None, False, np.nan, 5.0),
        ("T10", "B", "2024-03-19 10:00", 20.0, "2024-03-19 12:00", 1, False, False, 1.0, 1.0),
    ]
    df = pd.DataFrame(rows, columns=["ticket_id", "customer_id", "created_at",
                                     "first_response_minutes", "resolved_at", "contacts",
                                     "reopened", "escalated", "csat", "ces"])
    df["created_at"] = pd.to_datetime(df["created_at"])
    df["resolved_at"] = pd.to_datetime(df["resolved_at"])
    df["contacts"] = df["contacts"].astype("Int64")
    df["reopened"] = df["reopened"].astype("boolean")
    df["escalated"] = df["escalated"].astype("boolean")
    return df


def fixture_data(**replace) -> SupportData:
    customers = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D"],
        "signup_at": pd.to_datetime(["2023-06-15", "2024-02-10", "2023-12-01", "2023-03-01"]),
        "churned_at": pd.to_datetime([None, "2024-03-20 12:00", None, "2024-01-10 00:00"]),
        "plan": ["basic", "pro", "basic", "pro"],
        "segment": ["SMB", "SMB", "Enterprise", "SMB"],
    })
    revenue = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "A", "B", "B", "C"],
        "paid_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01",
                                   "2024-04-15", "2024-02-10", "2024-03-10", "2024-02-15"]),
        "amount": [100.0, 100.0, 100.0, 50.0, 10.0, 40.0, 40.0, 20.0],
    })
    surveys = pd.DataFrame({
        "customer_id": ["A", "A", "A", "B"],
        "answered_at": pd.to_datetime(["2024-02-20", "2024-02-25", "2024-04-10", "2024-03-15"]),
        "nps": [9.0, 7.0, 10.0, 2.0],
    })
    tables = {"customers": customers, "tickets": _tickets(), "revenue": revenue,
              "surveys": surveys}
    tables.update(replace)
    return SupportData(**tables)


def row(panel: pd.DataFrame, customer: str, period: str) -> pd.Series:
    hit = panel[(panel.customer_id == customer) & (panel.period == TS(period))]
    assert len(hit) == 1, f"expected one row for {customer} {period}, got {len(hit)}"
    return hit.iloc[0]


def check(r: pd.Series, **expected) -> None:
    for col, want in expected.items():
        got = r[col]
        if want is None or (isinstance(want, float) and np.isnan(want)):
            assert pd.isna(got), f"{col}: expected NaN, got {got!r}"
        else:
            assert got == pytest.approx(want), f"{col}: expected {want!r}, got {got!r}"


@pytest.fixture(scope="module")
def monthly() -> pd.DataFrame:
    return build_panel(fixture_data(), period="M", horizon=1, lookback=3)


def test_rows_are_active_customer_months_sorted(monthly):
    keys = list(zip(monthly.customer_id, monthly.period.dt.strftime("%Y-%m"), strict=True))
    assert keys == [("A", "2024-01"), ("A", "2024-02"), ("A", "2024-03"), ("A", "2024-04"),
                    ("B", "2024-02"), ("B", "2024-03"),
                    ("C", "2024-01"), ("C", "2024-02"), ("C", "2024-03"), ("C", "2024-04"),
                    ("D", "2024-01")]
    assert monthly.period_index.tolist() == [0, 1, 2, 3, 1, 2, 0, 1, 2, 3, 0]
    assert (monthly.period_end == monthly.period + pd.offsets.MonthBegin(1)).all()
    assert monthly.attrs == {"period": "M", "horizon": 1, "lookback": 3, "currency": "USD",
                             "references": {}}


def test_month_with_ticket_resolved_after_period_end(monthly):
    # T1 (4 h, fcr), T2 (48 h, reopened); T3 answered and resolved in February
    check(row(monthly, "A", "2024-01"), ticket_count=3, contacted=True,
          first_response_minutes_median=75.0, resolved_count=2, open_count=1,
          resolution_hours_mean=26.0, resolution_hours_median=26.0, fcr_rate=0.5,
          reopen_rate=0.5, escalation_rate=0.0, csat_mean=4.0, csat_count=2, ces_mean=6.0,
          ces_count=1, revenue_amount=100.0)


def test_month_with_open_ticket_only(monthly):
    check(row(monthly, "A", "2024-02"), ticket_count=1, contacted=True,
          first_response_minutes_median=60.0, resolved_count=0, open_count=1,
          resolution_hours_mean=None, resolution_hours_median=None, fcr_rate=None,
          reopen_rate=None, escalation_rate=None, csat_mean=None, csat_count=0, ces_mean=None,
          ces_count=0)


def test_missing_attribute_values_leave_the_share_of_recorded(monthly):
    # T9: no first response recorded, reopened unknown, no csat
    check(row(monthly, "A", "2024-03"), ticket_count=1, first_response_minutes_median=None,
          resolved_count=1, resolution_hours_mean=6.0, fcr_rate=0.0, reopen_rate=None,
          escalation_rate=0.0, csat_mean=None, csat_count=0, ces_mean=5.0, ces_count=1)


def test_customer_churning_mid_period(monthly):
    feb = row(monthly, "B", "2024-02")
    check(feb, tenure_months=0.0, revenue_prev_amount=0.0, ticket_count=1,
          first_response_minutes_median=15.0, resolved_count=0, open_count=1,
          churned_in_period=False, churned_next=1.0, revenue_next_amount=40.0,
          repeat_purchase_next=1.0, revenue_change_amount=0.0, nps_next=2.0)
    mar = row(monthly, "B", "2024-03")
    check(mar, ticket_count=2, first_response_minutes_median=12.5, resolved_count=2,
          open_count=0, resolution_hours_mean=4.0, resolution_hours_median=4.0, fcr_rate=0.5,
          reopen_rate=0.0, escalation_rate=0.5, csat_mean=1.5, csat_count=2, ces_mean=2.0,
          ces_count=2, churned_in_period=True, churned_next=None, revenue_next_amount=0.0,
          repeat_purchase_next=0.0, revenue_change_amount=-40.0, nps_next=None,
          outcome_observed=True)
    check(row(monthly, "D", "2024-01"), ticket_count=1, resolution_hours_mean=1.0,
          fcr_rate=1.0, csat_mean=5.0, churned_in_period=True, churned_next=None,
          revenue_next_amount=0.0)


def test_not_contacted_rows_have_nan_metrics_not_zeros(monthly):
    c = monthly[monthly.customer_id == "C"]
    assert (c.ticket_count == 0).all() and not c.contacted.any()
    for col in EXPOSURE[2:-1]:
        assert c[col].isna().all(), col


def test_controls_and_outcomes(monthly):
    tenure = (TS("2024-01-01") - TS("2023-06-15")).days / 30.4375
    check(row(monthly, "A", "2024-01"), tenure_months=tenure, revenue_prev_amount=None,
          ticket_count_prior=None, churned_next=0.0, revenue_next_amount=100.0,
          repeat_purchase_next=1.0, revenue_change_amount=0.0, nps_next=8.0,
          outcome_observed=True)
    check(row(monthly, "A", "2024-03"), revenue_prev_amount=100.0, ticket_count_prior=None,
          revenue_next_amount=60.0, revenue_change_amount=-40.0, nps_next=10.0)
    # last period: lookback window Jan-Mar fully observed, outcome not observed
    check(row(monthly, "A", "2024-04"), revenue_prev_amount=100.0, ticket_count_prior=5.0,
          revenue_amount=60.0, churned_next=None, revenue_next_amount=None,
          repeat_purchase_next=None, nps_next=None, outcome_observed=False)
    check(row(monthly, "C", "2024-02"), revenue_prev_amount=0.0, revenue_amount=20.0,
          revenue_next_amount=0.0, repeat_purchase_next=0.0, revenue_change_amount=-20.0)
    check(row(monthly, "C", "2024-04"), ticket_count_prior=0.0)
    assert row(monthly, "A", "2024-01")["plan"] == "basic"
    assert row(monthly, "C", "2024-01")["segment"] == "Enterprise"


def test_lookback_one_counts_the_previous_period():
    panel = build_panel(fixture_data(), lookback=1)
    check(row(panel, "A", "2024-02"), ticket_count_prior=3.0)
    check(row(panel, "A", "2024-04"), ticket_count_prior=1.0)
    check(row(panel, "A", "2024-01"), ticket_count_prior=None)


def test_horizon_two():
    panel = build_panel(fixture_data(), horizon=2)
    check(row(panel, "A", "2024-01"), revenue_next_amount=200.0, revenue_change_amount=0.0,
          nps_next=8.0, churned_next=0.0, outcome_observed=True)
    check(row(panel, "A", "2024-02"), revenue_next_amount=160.0, nps_next=10.0,
          revenue_change_amount=-40.0)
    check(row(panel, "B", "2024-02"), churned_next=1.0, revenue_next_amount=40.0)
    check(row(panel, "C", "2024-01"), revenue_next_amount=20.0, churned_next=0.0)
    check(row(panel, "A", "2024-03"), outcome_observed=False, revenue_next_amount=None,
          churned_next=None)
    assert panel.attrs["horizon"] == 2


def test_quarterly_periods_resolve_more_tickets_in_window():
    panel = build_panel(fixture_data(), period="Q")
    assert sorted(panel.period.unique()) == [TS("2024-01-01"), TS("2024-04-01")]
    # Q1 for A: T1, T2, T3 (now answered and resolved in window), T4 open, T9
    check(row(panel, "A", "2024-01-01"), ticket_count=5, resolved_count=4, open_count=1,
          first_response_minutes_median=90.0, resolution_hours_mean=26.5,
          resolution_hours_median=27.0, revenue_amount=300.0, revenue_next_amount=60.0,
          churned_next=0.0)
    check(row(panel, "B", "2024-01-01"), churned_in_period=True, churned_next=None)
    assert (panel.period_end == panel.period + pd.offsets.QuarterBegin(1, startingMonth=1)).all()


def test_weekly_periods_are_iso_weeks():
    panel = build_panel(fixture_data(), period="W")
    assert (panel.period.dt.day_of_week == 0).all()
    assert ((panel.period_end - panel.period) == pd.Timedelta(days=7)).all()
    # T3 (Wed 31 Jan 22:00) is answered and resolved inside the week starting Mon 29 Jan
    check(row(panel, "A", "2024-01-29"), ticket_count=1, first_response_minutes_median=180.0,
          resolved_count=1, resolution_hours_mean=48.0)
    # D churns Wed 10 Jan: active in the weeks of 1 and 8 January
    d = panel[panel.customer_id == "D"]
    assert d.period.tolist() == [TS("2024-01-01"), TS("2024-01-08")]
    assert d.churned_next.iloc[0] == 1.0 and d.churned_in_period.tolist() == [False, True]


def test_absent_tables_and_columns_give_nan_not_errors():
    data = fixture_data(revenue=None, surveys=None,
                        tickets=_tickets().drop(columns=["csat", "reopened"]))
    panel = build_panel(data)
    for col in ("revenue_amount", "revenue_prev_amount", "revenue_next_amount",
                "repeat_purchase_next", "revenue_change_amount", "nps_next", "csat_mean",
                "csat_count", "reopen_rate"):
        assert panel[col].isna().all(), col
    check(row(panel, "A", "2024-01"), ticket_count=3, resolved_count=2, fcr_rate=0.5,
          ces_mean=6.0, churned_next=0.0)



def test_first_response_timestamps_give_the_same_minutes():
    tickets = _tickets()
    at = tickets["created_at"] + pd.to_timedelta(tickets["first_response_minutes"], unit="m")
    stamped = tickets.drop(columns="first_response_minutes").assign(first_response_at=at)
    pd.testing.assert_frame_equal(build_panel(fixture_data(tickets=stamped)),
                                  build_panel(fixture_data()))

def test_start_and_end_override_the_window():
    panel = build_panel(fixture_data(), start="2024-02-15", end="2024-03-31")
    assert panel.period.min() == TS("2024-02-01") and panel.period.max() == TS("2024-03-01")
    check(row(panel, "A", "2024-02"), period_index=0, revenue_prev_amount=None,
          revenue_next_amount=100.0)
    check(row(panel, "A", "2024-03"), outcome_observed=False)


def test_bad_period_raises_parameter_error():
    with pytest.raises(ParameterError, match="period='D'"):
        build_panel(fixture_data(), period="D")


@pytest.mark.parametrize("kwargs, words", [
    ({"horizon": 0}, "horizon=0"),
    ({"lookback": 0}, "lookback=0"),
    ({"horizon": 1.5}, "horizon=1.5"),
    ({"start": "not a date"}, "start="),
    ({"start": "2024-04-01", "end": "2024-01-01"}, "before it starts"),
    ({"memory_limit": "lots"}, "memory_limit"),
    ({"threads": 0}, "threads=0"),
])
def test_bad_arguments_raise_parameter_error(kwargs, words):
    with pytest.raises(ParameterError, match=words.replace("(", r"\(")):
        build_panel(fixture_data(), **kwargs)


def test_text_timestamps_raise_schema_error():
    tickets = _tickets().assign(created_at=lambda d: d.created_at.astype(str))
    with pytest.raises(SchemaError, match="tickets.created_at"):
        build_panel(fixture_data(tickets=tickets), start="2024-01-01", end="2024-04-30")


# --- no look-ahead -------------------------------------------------------------------------


def _perturb_after(data: SupportData, cutoff: pd.Timestamp,
                   rng: np.random.Generator) -> SupportData:
    """Change every fact that becomes known at or after ``cutoff``; leave the rest alone."""
    later = lambda n: (cutoff + pd.to_timedelta(rng.uniform(0, 60 * 24 * 3600, n),  # noqa: E731
                                                unit="s")).floor("us")  # fits pandas 3's us columns
    t = data.tickets.copy()
    after = (t.created_at >= cutoff).to_numpy()
    t.loc[after, "created_at"] = later(after.sum()).to_numpy()
    t.loc[after, "first_response_minutes"] = rng.uniform(0, 500, after.sum())
    # tickets created earlier but answered, or resolved, at or after the cutoff
    answered = t.created_at + pd.to_timedelta(t.first_response_minutes, unit="m")
    late_answer = (~after & (answered >= cutoff)).to_numpy()
    t.loc[late_answer, "first_response_minutes"] = (
        (cutoff - t.created_at[late_answer]).dt.total_seconds() / 60
        + rng.uniform(0, 500, late_answer.sum()))
    unresolved = (after | t.resolved_at.isna() | (t.resolved_at >= cutoff)).to_numpy()
    new_resolved = later(unresolved.sum()).to_series().reset_index(drop=True)
    new_resolved[rng.random(unresolved.sum()) < 0.3] = NAT
    t.loc[unresolved, "resolved_at"] = new_resolved.to_numpy()
    t["resolved_at"] = t["resolved_at"].where(t.resolved_at.isna() | (t.resolved_at > t.created_at),
                                              t.created_at + pd.Timedelta(hours=1))
    t.loc[unresolved, "csat"] = rng.integers(1, 6, unresolved.sum()).astype(float)
    t.loc[unresolved, "contacts"] = rng.integers(1, 4, unresolved.sum())
    t.loc[unresolved, "reopened"] = rng.random(unresolved.sum()) < 0.5
    t.loc[unresolved, "escalated"] = rng.random(unresolved.sum()) < 0.5
    if "ces" in t:
        t.loc[unresolved, "ces"] = rng.integers(1, 8, unresolved.sum()).astype(float)
    r = data.revenue.copy()
    late = (r.paid_at >= cutoff).to_numpy()
    r.loc[late, "paid_at"] = later(late.sum()).to_numpy()
    r.loc[late, "amount"] = rng.uniform(0, 500, late.sum())
    s = data.surveys.copy()
    late = (s.answered_at >= cutoff).to_numpy()
    s.loc[late, "answered_at"] = later(late.sum()).to_numpy()
    s.loc[late, "nps"] = rng.integers(0, 11, late.sum()).astype(float)
    c = data.customers.copy()
    late = (c.churned_at.isna() | (c.churned_at >= cutoff)).to_numpy()
    new_churn = later(late.sum()).to_series().reset_index(drop=True)
    new_churn[rng.random(late.sum()) < 0.5] = NAT
    c.loc[late, "churned_at"] = new_churn.to_numpy()
    return SupportData(customers=c, tickets=t, revenue=r, surveys=s)


def _known_by(panel: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    rows = panel[panel.period_end <= cutoff]
    return rows[["customer_id", "period"] + CONTROLS + EXPOSURE].reset_index(drop=True)


def test_no_look_ahead_for_one_row():
    data = fixture_data()
    before = build_panel(data, start="2024-01-01")
    cutoff = TS("2024-03-01")  # end of A's February
    # A churns in March after all, T4 is resolved in March, later events change
    t = data.tickets.copy()
    t.loc[t.ticket_id == "T4", "resolved_at"] = TS("2024-03-02")
    t.loc[t.ticket_id == "T4", "csat"] = 1.0
    t.loc[t.ticket_id == "T9", "created_at"] = TS("2024-03-01 00:00")
    c = data.customers.copy()
    c.loc[c.customer_id == "A", "churned_at"] = TS("2024-03-10")
    r = data.revenue.assign(amount=np.where(data.revenue.paid_at >= cutoff, 999.0,
                                            data.revenue.amount))
    s = data.surveys.assign(nps=np.where(data.surveys.answered_at >= cutoff, 0.0,
                                         data.surveys.nps))
    after = build_panel(SupportData(customers=c, tickets=t, revenue=r, surveys=s),
                        start="2024-01-01")
    a_before, a_after = row(before, "A", "2024-02"), row(after, "A", "2024-02")
    pd.testing.assert_series_equal(a_before[CONTROLS + EXPOSURE], a_after[CONTROLS + EXPOSURE])
    assert a_before["churned_next"] == 0.0 and a_after["churned_next"] == 1.0
    assert a_after["revenue_next_amount"] == 999.0


def test_no_look_ahead_random_perturbations():
    rng = np.random.default_rng(20240601)
    data = fixture_data()
    for _ in range(12):
        cutoff = TS("2024-01-01") + pd.offsets.MonthBegin(int(rng.integers(1, 4)))
        before = build_panel(data, start="2024-01-01")
        after = build_panel(_perturb_after(data, cutoff, rng), start="2024-01-01")
        pd.testing.assert_frame_equal(_known_by(before, cutoff), _known_by(after, cutoff))


def test_no_look_ahead_on_generated_sample():
    synth = pytest.importorskip("cxkit.synth")
    data, _ = synth.make_sample(n_customers=150, months=6, seed=3)
    rng = np.random.default_rng(11)
    before = build_panel(data, start="2024-01-01")
    changed = 0
    for month in (2, 4):
        cutoff = TS("2024-01-01") + pd.offsets.MonthBegin(month)
        after = build_panel(_perturb_after(data, cutoff, rng), start="2024-01-01")
        pd.testing.assert_frame_equal(_known_by(before, cutoff), _known_by(after, cutoff))
        changed += int((before.revenue_next_amount.fillna(-1).to_numpy()[:10] !=
                        after.revenue_next_amount.fillna(-1).to_numpy()[:10]).any())
    assert changed > 0, "perturbations should reach the outcomes"


def test_slicing_the_engine_query_leaves_the_panel_unchanged(monkeypatch):
    """The engine aggregates tickets in slices cut between panel rows; their size must not
    matter."""
    synth = pytest.importorskip("cxkit.synth")
    import cxkit.panel as panel_module
    data, _ = synth.make_sample(n_customers=300, months=6, seed=5)
    whole = build_panel(data, period="W")
    calls = []
    original = panel_module.aggregate.run_query_slices

    def counting(sql, name, slices, **kwargs):
        for answer in original(sql, name, slices, **kwargs):
            calls.append(len(answer["row_id"]))
            yield answer

    monkeypatch.setattr(panel_module, "_TICKETS_PER_QUERY", 7)
    monkeypatch.setattr(panel_module.aggregate, "run_query_slices", counting)
    sliced = build_panel(data, period="W")
    assert len(calls) > 50, calls
    pd.testing.assert_frame_equal(whole, sliced, check_exact=False, rtol=1e-12)


# --- agreement with the generator -----------------------------------------------------------


def test_generated_sample_effects_are_recovered():
    synth = pytest.importorskip("cxkit.synth")
    smf = pytest.importorskip("statsmodels.formula.api")
    data, truth = synth.make_sample(n_customers=3000, seed=7)
    panel = build_panel(data)
    fit = smf.logit(
        "churned_next ~ resolution_hours_mean + fcr_rate + first_response_minutes_median"
        " + C(plan) + C(segment) + np.log1p(tenure_months)",
        data=panel[panel.contacted & panel.outcome_observed]).fit(disp=0)
    ci = fit.conf_int(alpha=0.05)
    for term in ("resolution_hours_mean", "fcr_rate"):
        true = truth["churn"]["log_odds"][term]
        assert ci.loc[term, 0] <= true <= ci.loc[term, 1], (term, true, ci.loc[term].tolist())
    frm = ci.loc["first_response_minutes_median"]
    assert frm[0] <= 0 <= frm[1]


@pytest.mark.parametrize("values", [
    pd.Series(["c3", "zz", None, "c1", "c3"]),  # pandas' text dtype, unknown and missing ids
    pd.Series(["c3", "zz", None, "c1"], dtype=object),
    np.array(["c2", "c9"], dtype=object),
    pd.Series(["c2", "c1"], dtype="category"),
    pd.Series([1, 2]),  # numbers never match text ids
    pd.Series([], dtype="str"),
], ids=["str", "object", "numpy", "category", "numbers", "empty"])
def test_customer_positions_are_get_indexer_s(values):
    from cxkit._grid import positions

    ids = pd.Index(["c1", "c2", "c3", "2"])
    got = positions(ids, values)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, ids.get_indexer(values))
