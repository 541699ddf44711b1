"""Tests of cxkit.outcomes: the survival table and the outcome definitions.

Fixture window: tickets and payments from 2024-01-01 to 2024-06-30, so the
monthly window is [2024-01-01, 2024-07-01) (182 days = 5.980 months).

* A: signed up 2023-01-01 (before the window), never churns: delayed entry, censored.
* B: signed up 2024-02-01 (inside), churns 2024-05-01: event.
* C: signed up 2022-06-01, churns 2024-03-01: event, entered late.
* D: churned 2023-06-01, before the window: not at risk, left out.
* E: signed up 2024-09-01, after the window: left out.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxkit.data import SupportData
from cxkit.exceptions import ParameterError
from cxkit.outcomes import DAYS_PER_MONTH, OUTCOMES, build_survival

TS = pd.Timestamp


def months(a: str, b: str) -> float:
    return (TS(b) - TS(a)).days / DAYS_PER_MONTH


def fixture_data(tickets: bool = True) -> SupportData:
    customers = pd.DataFrame({
        "customer_id": ["B", "A", "C", "D", "E"],
        "signup_at": pd.to_datetime(["2024-02-01", "2023-01-01", "2022-06-01", "2022-01-01",
                                     "2024-09-01"]),
        "churned_at": pd.to_datetime([TS("2024-05-01"), None, TS("2024-03-01"),
                                      TS("2023-06-01"), None]),
        "plan": ["pro", "basic", "basic", "pro", "pro"],
        "segment": ["SMB", "SMB", "Enterprise", "SMB", "SMB"],
    })
    t = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4", "T5", "T6"],
        "customer_id": ["A", "A", "B", "B", "B", "C"],
        "created_at": pd.to_datetime(["2024-01-01 09:00", "2024-06-30 10:00",
                                      "2024-02-10 08:00", "2024-04-30 20:00",
                                      "2024-05-02 08:00",  # after B churned: not counted
                                      "2024-02-01 12:00"]),
        "resolved_at": pd.to_datetime([TS("2024-01-01 19:00"), TS("2024-07-02 10:00"),
                                       TS("2024-02-10 12:00"), None, TS("2024-05-02 09:00"),
                                       TS("2024-02-01 13:00")]),
        "contacts": pd.array([1, 3, 2, pd.NA, 1, 1], dtype="Int64"),
        "csat": [5.0, np.nan, 2.0, np.nan, 1.0, 4.0],
    })
    revenue = pd.DataFrame({"customer_id": ["A"], "paid_at": [TS("2024-03-15")],
                            "amount": [10.0]})
    return SupportData(customers=customers, tickets=t if tickets else None, revenue=revenue)


@pytest.fixture(scope="module")
def surv() -> pd.DataFrame:
    return build_survival(fixture_data())


def test_one_row_per_customer_at_risk_sorted(surv):
    assert surv.customer_id.tolist() == ["A", "B", "C"]
    assert list(surv.columns) == ["customer_id", "plan", "segment", "signup_at", "entry_months",
                                  "duration_months", "event", "ticket_count",
                                  "tickets_per_month", "resolution_hours_mean", "fcr_rate",
                                  "csat_mean"]


def test_entry_duration_event_and_censoring(surv):
    a, b, c = (surv.set_index("customer_id").loc[k] for k in "ABC")
    # A: delayed entry, still active -> censored at the window end
    assert a.entry_months == pytest.approx(months("2023-01-01", "2024-01-01"))
    assert a.duration_months == pytest.approx(months("2023-01-01", "2024-07-01"))
    assert a.event == 0
    # B: signed up inside the window, churned inside it
    assert b.entry_months == 0.0
    assert b.duration_months == pytest.approx(months("2024-02-01", "2024-05-01"))
    assert b.event == 1
    # C: entered late, churned
    assert c.entry_months == pytest.approx(months("2022-06-01", "2024-01-01"))
    assert c.duration_months == pytest.approx(months("2022-06-01", "2024-03-01"))
    assert c.event == 1
    assert (surv.duration_months > surv.entry_months).all()


def test_support_summaries_stop_at_churn(surv):
    s = surv.set_index("customer_id")
    # A: T1 (10 h, fcr, csat 5), T2 (48 h, 3 contacts)
    assert s.loc["A", "ticket_count"] == 2
    assert s.loc["A", "tickets_per_month"] == pytest.approx(2 / months("2024-01-01", "2024-07-01"))
    assert s.loc["A", "resolution_hours_mean"] == pytest.approx(29.0)
    assert s.loc["A", "fcr_rate"] == pytest.approx(0.5)
    assert s.loc["A", "csat_mean"] == pytest.approx(5.0)
    # B: T3 (4 h, 2 contacts, csat 2) and open T4; T5 after churn is not counted
    assert s.loc["B", "ticket_count"] == 2
    assert s.loc["B", "resolution_hours_mean"] == pytest.approx(4.0)
    assert s.loc["B", "fcr_rate"] == pytest.approx(0.0)
    assert s.loc["B", "csat_mean"] == pytest.approx(2.0)
    assert s.loc["C", "ticket_count"] == 1 and s.loc["C", "fcr_rate"] == 1.0


def test_no_tickets_gives_zero_count_and_nan_summaries():
    surv = build_survival(fixture_data(tickets=False))
    assert (surv.ticket_count == 0).all()
    assert surv[["resolution_hours_mean", "fcr_rate", "csat_mean"]].isna().all().all()


def test_end_override_censors_later_churn():
    surv = build_survival(fixture_data(), end="2024-03-31").set_index("customer_id")
    # B churns 2024-05-01, after the window ending 2024-04-01: censored there
    assert surv.loc["B", "event"] == 0
    assert surv.loc["B", "duration_months"] == pytest.approx(months("2024-02-01", "2024-04-01"))
    assert surv.loc["C", "event"] == 1


def test_bad_window_raises_parameter_error():
    with pytest.raises(ParameterError, match="before it starts"):
        build_survival(fixture_data(), start="2024-05-01", end="2024-02-01")


def test_outcome_definitions_document_every_panel_outcome():
    for col in ("churned_in_period", "churned_next", "revenue_next_amount",
                "repeat_purchase_next", "revenue_change_amount", "nps_next", "outcome_observed"):
        assert OUTCOMES[col]["definition"] and OUTCOMES[col]["unit"], col


def test_churn_intervals_follow_the_exposure_period():
    from cxkit.outcomes import build_churn_intervals
    from cxkit.panel import build_panel
    from cxkit.synth import make_sample

    panel = build_panel(make_sample(n_customers=300, months=8)[0])
    iv = build_churn_intervals(panel)
    assert iv["contacted"].all() and iv["churned_next"].notna().all()
    period_months = (iv["period_end"] - iv["period"]).dt.days / DAYS_PER_MONTH
    # the interval starts when period t ends and lasts one period: exposure strictly before
    tenure = panel.loc[panel["contacted"] & panel["churned_next"].notna(), "tenure_months"]
    np.testing.assert_allclose(iv["start_months"], tenure.to_numpy() + period_months)
    assert "tenure_months" not in iv.columns  # the time axis, not a covariate
    np.testing.assert_allclose(iv["stop_months"] - iv["start_months"], period_months)
    assert iv.attrs["horizon"] == 1 and iv.attrs["design"] == "quality_given_contact"
    everyone = build_churn_intervals(panel, design="all")
    assert len(everyone) == int(panel["churned_next"].notna().sum()) > len(iv)


def test_customer_churned_at_signup_is_left_out_and_counted():
    data = fixture_data()
    customers = data.customers.copy()
    extra = {"customer_id": "F", "signup_at": TS("2024-03-01"), "churned_at": TS("2024-03-01"),
             "plan": "pro", "segment": "SMB"}
    customers.loc[len(customers)] = extra
    surv = build_survival(SupportData(customers=customers, tickets=data.tickets,
                                      revenue=data.revenue))
    assert "F" not in set(surv["customer_id"])
    left = surv.attrs["left_out"].iloc[0]
    assert left["step"] == "no_time_at_risk" and left["rows_dropped"] == 1
    assert (surv["duration_months"] > surv["entry_months"]).all()
