"""Churn by inactivity (cxkit._churn) and the `churn:` block of a source config."""

import pandas as pd
import pytest

from cxkit._churn import check_churn_config, churn_by_inactivity
from cxkit.exceptions import ConfigError

T = pd.Timestamp


@pytest.fixture
def shop():
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"],
                              "signup_at": [T("2024-01-01")] * 4 + [T("2024-05-15")]})
    revenue = pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
                            "paid_at": [T("2024-01-05"), T("2024-02-01"), T("2024-05-01"),
                                        T("2024-01-10"), T("2024-05-20")],
                            "amount": [10.0] * 5})
    tickets = pd.DataFrame({"customer_id": ["a"], "ticket_id": ["t1"],
                            "created_at": [T("2024-02-20")]})
    return customers, {"revenue": revenue, "tickets": tickets}


def test_churned_at_is_the_last_activity_once_the_inactive_days_have_passed(shop):
    customers, events = shop
    out = churn_by_inactivity(customers, events, inactive_days=90, as_of=T("2024-06-01"))
    got = out.set_index("customer_id")["churned_at"]
    assert got["a"] == T("2024-02-20")  # the ticket after the last payment is activity
    assert pd.isna(got["b"])            # 31 days since the last payment: still active
    assert pd.isna(got["c"])            # lapsed 131 days, then bought again: active
    assert got["d"] == T("2024-01-01")  # never active: churned at signup
    assert pd.isna(got["e"])            # signed up 17 days before as_of: censored
    assert "churned_at" not in customers.columns  # the input is not modified


def test_activity_can_be_payments_only(shop):
    customers, events = shop
    out = churn_by_inactivity(customers, events, inactive_days=90, as_of=T("2024-06-01"),
                              activity=("revenue",))
    assert out.set_index("customer_id").loc["a", "churned_at"] == T("2024-02-01")
    # boundary: 2024-02-01 + 121 days is as_of itself (churned); one day more is censored
    out = churn_by_inactivity(customers, events, inactive_days=121, as_of=T("2024-06-01"),
                              activity=("revenue",))
    assert out.set_index("customer_id").loc["a", "churned_at"] == T("2024-02-01")
    out = churn_by_inactivity(customers, events, inactive_days=122, as_of=T("2024-06-01"),
                              activity=("revenue",))
    assert pd.isna(out.set_index("customer_id").loc["a", "churned_at"])


def test_existing_churn_dates_and_missing_activity_are_refused(shop):
    customers, events = shop
    with pytest.raises(ConfigError, match="already has churned_at values"):
        churn_by_inactivity(customers.assign(churned_at=T("2024-03-01")), events,
                            inactive_days=90, as_of=T("2024-06-01"))
    with pytest.raises(ConfigError, match="add a revenue or tickets table"):
        churn_by_inactivity(customers, {"revenue": None}, inactive_days=90, as_of=T("2024-06-01"))


@pytest.mark.parametrize("raw, message", [
    ("90", "must be a mapping"),
    ({"inactive_days": 0}, "whole number of days >= 1"),
    ({"inactive_days": 90.5}, "whole number of days >= 1"),
    ({"inactive_days": 90, "window": 3}, "unknown key 'window'"),
    ({"inactive_days": 90, "activity": ["surveys"]}, "activity must list tables"),
])
def test_churn_block_is_checked(raw, message):
    with pytest.raises(ConfigError, match=message):
        check_churn_config(raw, "cxkit.yaml")


def test_ecommerce_export_reads_with_inactivity_churn_and_builds_a_panel(tmp_path):
    from cxkit.io import read_support_data
    from cxkit.panel import build_panel
    from cxkit.synth import write_sample

    out = write_sample(tmp_path / "shop", n_customers=300, months=8, seed=5, variant="ecommerce")
    assert "churned_at" not in pd.read_csv(out / "customers.csv").columns
    data = read_support_data(out / "cxkit.yaml")
    churned = data.customers["churned_at"].notna()
    assert 0.02 < churned.mean() < 0.5
    panel = build_panel(data)
    observed = panel[panel["outcome_observed"]]
    assert observed["churned_next"].sum() > 0 and observed["repeat_purchase_next"].mean() > 0.5
