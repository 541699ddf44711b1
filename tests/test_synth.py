import json

import numpy as np
import pandas as pd
import pytest

from cxkit.synth import TRUTH, make_sample, write_sample


@pytest.fixture(scope="module")
def small():
    return make_sample(n_customers=300, months=8, seed=3)


def test_same_seed_same_data(small):
    again, _ = make_sample(n_customers=300, months=8, seed=3)
    assert again.fingerprint == small[0].fingerprint
    other, _ = make_sample(n_customers=300, months=8, seed=4)
    assert other.fingerprint != small[0].fingerprint


def test_tables_are_linked_and_canonical(small):
    data, _ = small
    ids = set(data.customers["customer_id"])
    for name in ("tickets", "revenue", "surveys"):
        assert set(getattr(data, name)["customer_id"]) <= ids
    tk = data.tickets
    assert tk["ticket_id"].is_unique
    resolved = tk["resolved_at"].notna()
    assert (tk.loc[resolved, "resolved_at"] >= tk.loc[resolved, "created_at"]).all()
    assert tk["csat"].dropna().between(1, 5).all()
    assert tk["ces"].dropna().between(1, 7).all()
    assert data.surveys["nps"].between(0, 10).all()
    assert (data.revenue["amount"] > 0).all()
    churned = data.customers.dropna(subset=["churned_at"])
    assert (churned["churned_at"] > churned["signup_at"]).all()


def test_no_event_after_churn(small):
    data, _ = small
    churn = data.customers.set_index("customer_id")["churned_at"]
    tk = data.tickets.join(churn, on="customer_id")
    assert not (tk["created_at"] > tk["churned_at"]).any()
    rv = data.revenue.join(churn, on="customer_id")
    assert not (rv["paid_at"] > rv["churned_at"]).any()


def test_truth_holds_planted_effects(small):
    _, truth = small
    lo = truth["churn"]["log_odds"]
    assert lo["first_response_minutes_median"] == 0.0 and lo["ticket_count"] == 0.0
    assert lo["resolution_hours_mean"] > 0 and lo["fcr_rate"] < 0
    assert truth["revenue"]["amount_per_csat_point"] > 0
    assert truth["churn"] == json.loads(json.dumps(TRUTH["churn"]))


def test_problem_propensity_makes_ticket_volume_and_churn_move_together():
    # the trap is in the data: customers with more tickets churn more
    data, _ = make_sample(n_customers=2000, months=12, seed=5)
    c = data.customers.set_index("customer_id")
    end = pd.Timestamp("2025-01-01")
    start = c["signup_at"].clip(lower=pd.Timestamp("2024-01-01"))
    months = ((c["churned_at"].fillna(end) - start).dt.days / 30.4375).clip(lower=0.5)
    n = data.tickets.groupby("customer_id").size().reindex(c.index, fill_value=0)
    per_month = n / months
    churned = c["churned_at"].notna()
    assert per_month[churned].mean() > 1.3 * per_month[~churned].mean()


def test_bundled_sample_is_what_the_generator_writes(tmp_path):
    # data/sample must stay in sync with cxkit.synth: regenerate and compare
    from pathlib import Path
    bundled = Path(__file__).resolve().parents[1] / "data" / "sample"
    out = write_sample(tmp_path / "s", n_customers=3000, months=24, seed=7)
    for name in ("customers.csv", "tickets.csv", "revenue.csv", "surveys.csv", "truth.json",
                 "cxkit.yaml"):
        assert (out / name).read_bytes() == (bundled / name).read_bytes(), name
    assert sum(p.stat().st_size for p in bundled.iterdir()) < 5_000_000
    tk = pd.read_csv(bundled / "tickets.csv")
    assert np.isclose(tk["csat"].notna().mean(), 0.35 * tk["resolved_at"].notna().mean(), atol=0.05)


@pytest.mark.parametrize("variant", ["minimal", "bare", "log_resolution", "reason_effect",
                                     "ecommerce"])
def test_each_variant_writes_its_shape_and_truth(tmp_path, variant):
    from cxkit.io import read_support_data

    out = write_sample(tmp_path / variant, n_customers=150, months=6, seed=2, variant=variant)
    truth = json.loads((out / "truth.json").read_text())
    assert truth["sample"]["variants"] == [variant]
    assert set(truth["churn"]["ame_pp"]) >= {"resolution_hours_mean", "fcr_rate"}
    customers = pd.read_csv(out / "customers.csv")
    tickets = pd.read_csv(out / "tickets.csv")
    has_surveys = (out / "surveys.csv").exists()
    assert ("surveys" in (out / "cxkit.yaml").read_text()) == has_surveys
    if variant == "minimal":
        assert not {"segment", "region"} & set(customers.columns)
        assert not {"ces", "first_response_minutes"} & set(tickets.columns)
        assert "plan" in customers.columns
        assert {"channel", "reason", "contacts", "csat"} <= set(tickets.columns)
        assert not has_surveys
    elif variant == "bare":
        assert list(customers.columns) == ["customer_id", "signup_at", "churned_at"]
        assert list(tickets.columns) == ["ticket_id", "customer_id", "created_at", "resolved_at"]
        assert not has_surveys
    elif variant == "log_resolution":
        lo = truth["churn"]["log_odds"]
        assert lo["log(resolution_hours_mean)"] == 0.35 and "resolution_hours_mean" not in lo
    elif variant == "reason_effect":
        assert truth["churn"]["log_odds"]["reason_share_billing"] == 0.8
        assert truth["churn"]["ame_pp"]["reason_share_billing"] > 0
    else:
        assert "churned_at" not in customers.columns
        assert "inactive_days: 90" in (out / "cxkit.yaml").read_text()
    data = read_support_data(out / "cxkit.yaml")  # each variant's config reads as written
    assert len(data.customers) == len(customers)


def test_variants_combine_and_unknown_names_are_refused():
    data, truth = make_sample(n_customers=100, months=4, seed=1,
                              variant=["log_resolution", "minimal"])
    assert truth["sample"]["variants"] == ["minimal", "log_resolution"]
    assert data.surveys is None and "segment" not in data.customers.columns
    with pytest.raises(ValueError, match="unknown sample variant 'nope'"):
        make_sample(n_customers=100, months=4, variant="nope")


def test_truth_ames_are_mean_derivatives_of_the_generators_model():
    # linear terms: AME = b * mean(p (1 - p)) for every driver, so resolution's and fcr's
    # AMEs are in the ratio of their log-odds; the log term's AME is mean(p (1 - p) b / x)
    _, lin = make_sample(n_customers=400, months=8, seed=4, variant="minimal")
    _, log = make_sample(n_customers=400, months=8, seed=4, variant=["minimal", "log_resolution"])
    # fcr's AME is b_fcr * mean(p(1-p)) in both, so mean(p(1-p)) is known
    w_lin = lin["churn"]["ame_pp"]["fcr_rate"] / (100 * lin["churn"]["log_odds"]["fcr_rate"])
    assert lin["churn"]["ame_pp"]["resolution_hours_mean"] == pytest.approx(
        100 * 0.02 * w_lin, rel=1e-4)
    assert 0 < log["churn"]["ame_pp"]["resolution_hours_mean"] < 100 * 0.35 * 1.0
