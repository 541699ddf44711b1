"""Tests of cxkit.models: equal to direct statsmodels calls, errors, dropped rows."""

import json

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from cxkit.exceptions import ModelError, ParameterError, SmallSampleWarning
from cxkit.models import auc_score, fit_retention

DRIVERS = ["resolution_hours_mean", "fcr_rate"]
CONTROLS = ("C(plan)", "C(segment)", "np.log1p(tenure_months)")


@pytest.fixture(scope="module")
def retention(panel):
    return fit_retention(panel, drivers=DRIVERS, placebo=False)


def _contacted(panel):
    return panel.loc[panel["outcome_observed"] & panel["contacted"]].reset_index(drop=True)


def test_retention_equals_direct_statsmodels_logit(panel, retention):
    df = _contacted(panel)
    direct = smf.logit("churned_next ~ resolution_hours_mean + fcr_rate + C(plan) + C(segment)"
                       " + np.log1p(tenure_months)", df).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(df["customer_id"])[0]}, disp=0)
    tidy = retention.tidy().set_index("term")
    assert set(tidy.index) == set(direct.params.index)
    np.testing.assert_allclose(tidy.loc[direct.params.index, "estimate"], direct.params,
                               rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(tidy.loc[direct.params.index, "std_error"], direct.bse,
                               rtol=1e-6, atol=1e-9)
    # marginal effects: statsmodels differentiates numerically, cxkit analytically
    me = direct.get_margeff(at="overall").summary_frame()
    effects = retention.effects().set_index("term")
    np.testing.assert_allclose(effects.loc[DRIVERS, "estimate"], 100 * me.loc[DRIVERS, "dy/dx"],
                               rtol=1e-6)
    np.testing.assert_allclose(effects.loc[DRIVERS, "std_error"],
                               100 * me.loc[DRIVERS, "Std. Err."], rtol=1e-4)
    assert (effects["quantity"] == "ame_pp").all() and (effects["unit"] == "pp").all()
    odds = retention.tidy("odds_ratio").set_index("term")
    np.testing.assert_allclose(odds.loc["fcr_rate", "estimate"],
                               np.exp(direct.params["fcr_rate"]), rtol=1e-7)
    np.testing.assert_allclose(odds.loc["fcr_rate", ["conf_low", "conf_high"]].astype(float),
                               np.exp(direct.conf_int().loc["fcr_rate"]), rtol=1e-6)
    assert np.isnan(odds.loc["fcr_rate", "std_error"])  # the SE belongs to the log-odds row
    # McFadden R2 from the closed-form null log-likelihood equals statsmodels' refitted one
    assert retention.diagnostics["pseudo_r2"] == pytest.approx(direct.prsquared, rel=1e-6)


def test_nonrobust_one_row_per_customer_equals_default_logit(panel):
    """cov_type="nonrobust" reproduces statsmodels' default (model-based) Logit errors."""
    df = _contacted(panel).groupby("customer_id", as_index=False).first()
    direct = smf.logit("churned_next ~ resolution_hours_mean + fcr_rate + C(plan)", df).fit(
        disp=0)
    res = fit_retention(df, drivers=DRIVERS, controls=["C(plan)"], cov_type="nonrobust",
                        design="all", placebo=False)
    tidy = res.tidy().set_index("term").loc[direct.params.index]
    np.testing.assert_allclose(tidy["estimate"], direct.params, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(tidy["std_error"], direct.bse, rtol=1e-8, atol=1e-10)
    assert res.spec.cov_type == "nonrobust"
    assert "model-based (nonrobust) standard errors" in res.caveat
    assert res.guardrails.set_index("check").loc["clustered_errors", "status"] == "passes"
    hc1 = fit_retention(df, drivers=DRIVERS, controls=["C(plan)"], cov_type="HC1",
                        design="all", placebo=False)
    direct_hc1 = smf.logit("churned_next ~ resolution_hours_mean + fcr_rate + C(plan)",
                           df).fit(disp=0, cov_type="HC1")
    np.testing.assert_allclose(hc1.tidy().set_index("term").loc[direct.params.index,
                                                                 "std_error"],
                               direct_hc1.bse, rtol=1e-8)
    assert "robust (HC1) standard errors" in hc1.caveat


def test_cov_type_is_checked(panel):
    with pytest.raises(ParameterError, match="cov_type='sandwich' is unknown"):
        fit_retention(panel, drivers=DRIVERS, cov_type="sandwich")
    with pytest.raises(ParameterError, match="needs cluster="):
        fit_retention(panel, drivers=DRIVERS, cluster=None, cov_type="cluster")


def test_retention_recovers_simulated_coefficients(retention):
    tidy = retention.tidy().set_index("term")
    for term, truth in {"resolution_hours_mean": 0.04, "fcr_rate": -1.0}.items():
        assert tidy.loc[term, "conf_low"] < truth < tidy.loc[term, "conf_high"]


def test_dropped_rows_are_counted(panel):
    p = panel.copy()
    p.attrs = dict(panel.attrs)
    target = p.index[p["contacted"] & p["outcome_observed"]][:7]
    p.loc[target, "fcr_rate"] = np.nan
    res = fit_retention(p, drivers=DRIVERS, placebo=False)
    dropped = res.dropped.set_index("step")["rows_dropped"]
    assert dropped["missing_fcr_rate"] == 7
    assert dropped["outcome_not_observed"] == int((~p["outcome_observed"]).sum())
    assert res.n_obs == len(_contacted(panel)) - 7
    assert res.dropped["rows_remaining"].iloc[-1] == res.n_obs


def test_design_all_uses_uncontacted_rows(panel):
    res = fit_retention(panel, drivers=["ticket_count"], design="all", placebo=False)
    assert res.n_obs == int(panel["outcome_observed"].sum())
    assert res.guardrails.set_index("check").loc["quality_given_contact", "status"] == "warning"


def test_auc_and_calibration(retention):
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    pairs = [(a, b) for a in p[y == 1] for b in p[y == 0]]
    assert auc_score(y, p) == pytest.approx(np.mean([a > b for a, b in pairs]))
    cal = retention.calibration
    assert len(cal) == 10 and cal["n"].sum() == retention.n_obs
    assert cal["predicted_rate"].is_monotonic_increasing
    assert 0.55 < retention.diagnostics["auc"] < 0.8


def test_unknown_driver_lists_close_matches(panel):
    with pytest.raises(ModelError, match=r"'resolution_hour_mean'.*did you mean.*"
                                         r"'resolution_hours_mean'"):
        fit_retention(panel, drivers=["resolution_hour_mean"])


def test_constant_driver_is_named(panel):
    p = panel.assign(const_rate=0.5)
    with pytest.raises(ModelError, match="Driver 'const_rate' is constant"):
        fit_retention(p, drivers=["fcr_rate", "const_rate"])


def test_collinear_drivers_are_named(panel):
    p = panel.assign(resolution_minutes_mean=panel["resolution_hours_mean"] * 60)
    with pytest.raises(ModelError, match="perfectly collinear: resolution_hours_mean, "
                                         "resolution_minutes_mean"):
        fit_retention(p, drivers=["resolution_hours_mean", "resolution_minutes_mean"])


def test_too_few_events(panel):
    p = panel.copy()
    churners = p.index[(p["churned_next"] == 1) & p["contacted"]]
    p.loc[churners[15:], "churned_next"] = 0.0
    with pytest.raises(ModelError, match="Too few events for 'churned_next': 15 rows"):
        fit_retention(p, drivers=DRIVERS)


def test_few_events_per_parameter_warns(panel):
    p = panel.copy()
    churners = p.index[(p["churned_next"] == 1) & p["contacted"]]
    p.loc[churners[40:], "churned_next"] = 0.0
    with pytest.warns(SmallSampleWarning, match="40 events for 7 parameters"):
        fit_retention(p, drivers=DRIVERS, placebo=False)


def test_perfect_separation_is_named(panel):
    p = panel.assign(leak_rate=panel["churned_next"] + np.linspace(0, 0.5, len(panel)))
    with pytest.raises(ModelError, match="Driver 'leak_rate' perfectly separates"):
        fit_retention(p, drivers=["fcr_rate", "leak_rate"])


def test_non_binary_outcome_rejected(panel):
    with pytest.raises(ModelError, match="must be 0/1"):
        fit_retention(panel, drivers=DRIVERS, outcome="revenue_next_amount")


def test_results_carry_guardrails_and_json(panel):
    res = fit_retention(panel, drivers=DRIVERS)
    checks = res.guardrails.set_index("check")["status"]
    assert checks["exposure_before_outcome"] == "passes"
    # the toy's drivers are drawn independently of earlier revenue: the placebo must pass
    assert checks["placebo_prior_revenue_change"] == "passes"
    assert res.caveat.startswith("Design: 2,")
    assert "standard errors clustered by customer" in res.caveat
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["spec"]["drivers"] == DRIVERS and d["spec"]["cov_type"] == "cluster"


# -- real data: IBM Telco churn, against independently computed reference figures ---------

def test_telco_logit_matches_the_reference_odds_ratios(tmp_path):
    """Reference: data/telco/README.md (pandas + statsmodels, n = 5,517)."""
    import shutil
    import warnings

    from test_io import _telco_csv

    from cxkit.io import read_support_data

    shutil.copy(_telco_csv(), tmp_path / "telco.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = read_support_data({"base_dir": str(tmp_path), "tables": {"customer_level": {
            "path": "telco.csv",
            "columns": {"customer_id": "customerID", "churned": "Churn",
                        "tenure_months": "tenure"},
            "values": {"churned": {"Yes": True, "No": False}}}}})
    cl = data.customer_level
    rates = cl.groupby("tech_support")["churned"].mean().mul(100)
    for group, rate in {"No": 41.64, "Yes": 15.17, "No internet service": 7.405}.items():
        assert rates[group] == pytest.approx(rate, abs=0.005), group
    df = cl[cl["tech_support"] != "No internet service"].assign(
        tech_support_yes=lambda d: (d["tech_support"] == "Yes").astype(float),
        churned=lambda d: d["churned"].astype(float))
    res = fit_retention(df, drivers=["tech_support_yes"], outcome="churned", design="all",
                        controls=["tenure_months", "monthly_charges", "C(contract)",
                                  "C(internet_service)"], cluster=None, placebo=False)
    assert res.n_obs == 5517
    odds = res.tidy("odds_ratio").set_index("term")["estimate"]
    reference = {"tech_support_yes": 0.6201, "tenure_months": 0.9684,
                 "monthly_charges": 1.008, "C(contract)[T.One year]": 0.4862,
                 "C(contract)[T.Two year]": 0.2323, "C(internet_service)[T.Fiber optic]": 2.346}
    for term, ratio in reference.items():
        assert odds[term] == pytest.approx(ratio, abs=6e-4), term
    low, high = res.tidy("odds_ratio").set_index("term").loc[
        "tech_support_yes", ["conf_low", "conf_high"]].astype(float)
    # reference CI 0.5236-0.7344 is model-based; cxkit's HC1 (robust) interval is close to it
    assert low == pytest.approx(0.5236, abs=0.005) and high == pytest.approx(0.7344, abs=0.005)
    checks = res.guardrails.set_index("check")["status"]
    assert checks["clustered_errors"] == "passes"  # one row per customer
    assert checks["exposure_before_outcome"] == "warning"  # cross-sectional: cannot confirm
