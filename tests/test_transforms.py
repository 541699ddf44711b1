"""Driver transforms: effects in the column's original units, by direct computation."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy.special import expit

from cxkit.models import fit_retention
from cxkit.revenue import fit_revenue
from cxkit.whatif import what_if

CONTROLS = ["C(plan)", "np.log1p(tenure_months)"]


def _used(panel):
    return panel.loc[panel["outcome_observed"] & panel["contacted"]].reset_index(drop=True)


def test_threshold_effect_is_the_zero_to_one_change_in_mean_churn(panel):
    res = fit_retention(panel, drivers=["resolution_hours_mean >= 24", "fcr_rate"],
                        controls=CONTROLS, placebo=False)
    # the direct computation: a 0/1 column, the same logit, everyone set to 0 then to 1
    df = _used(panel).assign(slow=lambda d: (d["resolution_hours_mean"] >= 24).astype(float))
    direct = smf.logit("churned_next ~ slow + fcr_rate + C(plan) + np.log1p(tenure_months)",
                       df).fit(disp=0, cov_type="cluster",
                               cov_kwds={"groups": pd.factorize(df["customer_id"])[0]})
    p1 = direct.predict(df.assign(slow=1.0)).mean()
    p0 = direct.predict(df.assign(slow=0.0)).mean()
    effect = res.effects().set_index("term").loc["resolution_hours_mean >= 24"]
    assert effect["estimate"] == pytest.approx(100 * (p1 - p0), rel=1e-6)
    # its standard error equals statsmodels' discrete-change margeff (numerical Jacobian)
    me = direct.get_margeff(at="overall", dummy=True).summary_frame()
    assert effect["std_error"] == pytest.approx(100 * me.loc["slow", "Std. Err."], rel=1e-4)
    coef = res.tidy().set_index("term").loc["resolution_hours_mean >= 24", "estimate"]
    assert coef == pytest.approx(direct.params["slow"], rel=1e-6)
    sentence = res.effect("resolution_hours_mean >= 24")["sentence"]
    assert sentence.startswith("resolution time >= 24 h (vs below) ≈ +"), sentence


def test_binary_column_effect_is_the_zero_to_one_change(panel):
    df = panel.assign(basic=(panel["plan"] == "basic").astype(float))
    res = fit_retention(df, drivers=["basic", "fcr_rate"], controls=["np.log1p(tenure_months)"],
                        placebo=False)
    used = _used(df)
    direct = smf.logit("churned_next ~ basic + fcr_rate + np.log1p(tenure_months)", used).fit(
        disp=0)
    change = direct.predict(used.assign(basic=1.0)).mean() - direct.predict(
        used.assign(basic=0.0)).mean()
    assert res.effects().set_index("term").loc["basic", "estimate"] == pytest.approx(
        100 * change, rel=1e-6)


def _log_panel(n_customers=3000, periods=5, seed=11, beta=0.8):
    """Churn log-odds -3.5 + beta * log(resolution hours) - 1.0 * fcr_rate (a concave effect)."""
    rng = np.random.default_rng(seed)
    n = n_customers * periods
    hours = rng.lognormal(mean=2.0, sigma=1.0, size=n)
    fcr = rng.beta(4, 2, n)
    eta = -3.5 + beta * np.log(hours) - 1.0 * fcr
    churn = (rng.uniform(size=n) < expit(eta)).astype(float)
    df = pd.DataFrame({"customer_id": np.repeat(np.arange(n_customers), periods),
                       "period_index": np.tile(np.arange(periods), n_customers),
                       "contacted": True, "outcome_observed": True,
                       "resolution_hours_mean": hours, "fcr_rate": fcr, "churned_next": churn,
                       "true_p": expit(eta)})
    df.attrs.update({"period": "M", "horizon": 1})
    return df


def test_log_driver_recovers_the_planted_coefficient_and_ame_per_hour():
    beta = 0.8
    panel = _log_panel(beta=beta)
    res = fit_retention(panel, drivers=["log(resolution_hours_mean)", "fcr_rate"], controls=[],
                        placebo=False)
    coef = res.tidy().set_index("term").loc["log(resolution_hours_mean)"]
    assert coef["conf_low"] < beta < coef["conf_high"]
    # the true AME per hour: average derivative of the true churn probability
    true_ame = 100 * np.mean(panel["true_p"] * (1 - panel["true_p"]) * beta
                             / panel["resolution_hours_mean"])
    ame = res.effects().set_index("term").loc["log(resolution_hours_mean)"]
    assert ame["unit"] == "pp" and ame["conf_low"] < true_ame < ame["conf_high"]
    # chain rule by hand on the fitted model
    b = res.model_result.params
    p = res.model_result.predict()
    by_hand = 100 * np.mean(p * (1 - p) * b["log(resolution_hours_mean)"]
                            / panel["resolution_hours_mean"])
    assert ame["estimate"] == pytest.approx(by_hand, rel=1e-9)
    # a linear driver misses the concave shape: its AME interval excludes the truth
    linear = fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"], controls=[],
                           placebo=False).effects().set_index("term").loc[
        "resolution_hours_mean"]
    assert not linear["conf_low"] < true_ame < linear["conf_high"]


def test_rows_outside_a_transform_are_dropped_and_counted(panel):
    p = panel.copy()
    p.attrs = dict(panel.attrs)
    target = p.index[p["contacted"] & p["outcome_observed"]][:5]
    p.loc[target, "resolution_hours_mean"] = 0.0
    res = fit_retention(p, drivers=["log(resolution_hours_mean)", "fcr_rate"], placebo=False)
    dropped = res.dropped.set_index("step")
    assert dropped.loc["outside_log(resolution_hours_mean)", "rows_dropped"] == 5
    assert "needs resolution_hours_mean > 0" in dropped.loc[
        "outside_log(resolution_hours_mean)", "reason"]


def test_what_if_predicts_through_the_transform(panel):
    res = fit_retention(panel, drivers=["log(resolution_hours_mean)", "fcr_rate"],
                        controls=CONTROLS, placebo=False)
    out = what_if(res, panel, changes={"resolution_hours_mean": {"multiply": 0.5}}, n_sim=50)
    df = _used(panel)
    direct = smf.logit("churned_next ~ np.log(resolution_hours_mean) + fcr_rate + C(plan)"
                       " + np.log1p(tenure_months)", df).fit(disp=0)
    half = df.assign(resolution_hours_mean=df["resolution_hours_mean"] * 0.5)
    expected = 100 * (direct.predict(half).mean() - direct.predict(df).mean())
    row = out.table().set_index("quantity").loc["churn_rate"]
    assert row["change"] == pytest.approx(expected, rel=1e-6)
    assert row["conf_low"] < row["change"] < row["conf_high"] < 0


def test_one_revenue_prediction_for_fit_revenue_and_what_if(panel):
    """+1 hour of resolution time: the revenue model's effect equals the what-if money row."""
    drivers = ["resolution_hours_mean", "csat_mean"]
    retention = fit_retention(panel, drivers=drivers, placebo=False)
    for method in ("two_part", "log_ols", "tweedie"):
        rev = fit_revenue(panel, drivers=drivers, method=method, placebo=False)
        out = what_if(retention, panel, changes={"resolution_hours_mean": {"add": 1.0}},
                      revenue_result=rev, n_sim=20)
        change = out.table().set_index("quantity").loc["revenue_per_customer_period", "change"]
        effect = rev.effects().set_index("term").loc["resolution_hours_mean", "estimate"]
        assert change == pytest.approx(effect, rel=1e-9), method


def test_revenue_threshold_effect_is_the_zero_to_one_change(panel):
    res = fit_revenue(panel, drivers=["csat_mean >= 4"], method="tweedie", placebo=False)
    df = _used(panel).assign(happy=lambda d: (d["csat_mean"] >= 4).astype(float))
    import statsmodels.api as sm

    family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
    direct = smf.glm("revenue_next_amount ~ happy + C(plan) + C(segment) + "
                     "np.log1p(tenure_months)", df, family=family).fit()
    expected = direct.predict(df.assign(happy=1.0)).mean() - direct.predict(
        df.assign(happy=0.0)).mean()
    assert res.effects()["estimate"].iloc[0] == pytest.approx(expected, rel=1e-6)
