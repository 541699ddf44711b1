"""Tests of cxkit.whatif: scenario predictions equal hand-made predictions."""

import json

import numpy as np  # noqa: F401  (the direct formula below calls np.log1p)
import pytest
import statsmodels.formula.api as smf

from cxkit.exceptions import ParameterError
from cxkit.models import fit_retention
from cxkit.revenue import fit_revenue
from cxkit.whatif import apply_changes, what_if

DRIVERS = ["resolution_hours_mean", "fcr_rate", "csat_mean"]


@pytest.fixture(scope="module")
def retention(panel):
    return fit_retention(panel, drivers=DRIVERS, placebo=False)


def test_churn_change_equals_direct_prediction(panel, retention):
    changes = {"resolution_hours_mean": {"multiply": 0.8}, "fcr_rate": {"add": 0.10}}
    res = what_if(retention, panel, changes=changes, n_sim=50)
    df = panel.loc[panel["outcome_observed"] & panel["contacted"]]
    up = df.assign(resolution_hours_mean=df["resolution_hours_mean"] * 0.8,
                   fcr_rate=(df["fcr_rate"] + 0.10).clip(0, 1))
    direct = smf.logit("churned_next ~ resolution_hours_mean + fcr_rate + csat_mean + C(plan)"
                       " + C(segment) + np.log1p(tenure_months)", df).fit(disp=0)
    expected = 100 * (direct.predict(up).mean() - direct.predict(df).mean())
    row = res.table().set_index("quantity").loc["churn_rate"]
    assert row["change"] == pytest.approx(expected, abs=1e-6)
    assert row["baseline"] == pytest.approx(100 * direct.predict(df).mean(), abs=1e-6)
    assert row["conf_low"] < row["change"] < row["conf_high"] < 0
    assert res.sentence.startswith("Scenario (resolution time x0.8, first-contact resolution "
                                   "+10 pp): -")


def test_no_change_gives_zero(panel, retention):
    res = what_if(retention, panel, changes={"fcr_rate": {"add": 0.0}}, n_sim=20)
    row = res.table().iloc[0]
    assert row["change"] == 0 and row["conf_low"] == 0 and row["conf_high"] == 0


def test_money_rows(panel, retention):
    rev = fit_revenue(panel, drivers=DRIVERS, placebo=False)
    res = what_if(retention, panel, changes={"csat_mean": {"add": 0.5}}, revenue_result=rev,
                  value_per_retained_customer_amount=100.0, customers_per_period=1000, n_sim=50)
    t = res.table().set_index("quantity")
    churn_change = t.loc["churn_rate", "change"] / 100
    assert t.loc["retention_value_per_period", "change"] == pytest.approx(
        -churn_change * 1000 * 100.0)
    assert t.loc["revenue_per_period", "change"] == pytest.approx(
        t.loc["revenue_per_customer_period", "change"] * 1000)
    assert t.loc["revenue_per_customer_period", "change"] > 0  # CSAT raises revenue in the toy
    assert t.loc["revenue_per_period", "unit"] == "EUR"
    json.dumps(res.to_dict())


def test_apply_changes_clips_bounded_columns(panel):
    out = apply_changes(panel, {"fcr_rate": {"add": 0.5}, "csat_mean": {"set": 9},
                                "resolution_hours_mean": {"add": -1000}})
    assert out["fcr_rate"].max() == 1.0 and out["csat_mean"].max() == 5.0
    assert out["resolution_hours_mean"].min() == 0.0
    assert panel["fcr_rate"].max() < 1.0  # input untouched


def test_bad_scenarios(panel, retention):
    with pytest.raises(ParameterError, match="not drivers of the model"):
        what_if(retention, panel, changes={"ticket_count": {"add": 1}})
    with pytest.raises(ParameterError, match="must be one of"):
        what_if(retention, panel, changes={"fcr_rate": {"plus": 1}})
    rev = fit_revenue(panel, drivers=["csat_mean"], method="tweedie", placebo=False)
    with pytest.raises(ParameterError, match="needs a retention logit"):
        what_if(rev, panel, changes={"csat_mean": {"add": 1}})


def test_scenario_driver_outside_the_revenue_model(panel, retention):
    rev = fit_revenue(panel, drivers=["csat_mean"], placebo=False)
    # no scenario driver in the revenue model: its revenue change would be 0 (0 to 0)
    with pytest.raises(ParameterError, match="No scenario driver .* is a driver of the revenue "
                                         "model .* exactly 0"):
        what_if(retention, panel, changes={"fcr_rate": {"add": 0.1}}, revenue_result=rev)
    with pytest.warns(UserWarning, match="fcr_rate not in the revenue model"):
        res = what_if(retention, panel, changes={"fcr_rate": {"add": 0.1},
                                                 "csat_mean": {"add": 0.5}},
                      revenue_result=rev, n_sim=20)
    assert "not fcr_rate" in res.sentence
