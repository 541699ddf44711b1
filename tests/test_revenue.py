"""Tests of cxkit.revenue: equal to direct statsmodels fits, currency effects, intervals."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from test_models import CONTROLS, _contacted

from cxkit.exceptions import ModelError, ParameterError
from cxkit.revenue import fit_revenue


def test_log_ols_equals_direct_ols(panel):
    res = fit_revenue(panel, drivers=["csat_mean"], method="log_ols", placebo=False)
    df = _contacted(panel)
    direct = smf.ols("np.log1p(revenue_next_amount) ~ csat_mean + " + " + ".join(CONTROLS),
                     df).fit(cov_type="cluster", cov_kwds={"groups": pd.factorize(
                         df["customer_id"])[0]})
    tidy = res.tidy().set_index("term")
    np.testing.assert_allclose(tidy.loc[direct.params.index, "estimate"], direct.params, atol=1e-6)
    np.testing.assert_allclose(tidy.loc[direct.params.index, "std_error"], direct.bse, atol=1e-6)
    # the effect by counterfactual prediction: E[revenue] = exp(prediction) * smearing - 1
    smear = np.mean(np.exp(direct.resid))
    up = df.assign(csat_mean=df["csat_mean"] + 1)
    expected = np.mean(np.exp(direct.predict(up)) * smear - 1) - np.mean(
        np.exp(direct.predict(df)) * smear - 1)
    assert res.effects()["estimate"].iloc[0] == pytest.approx(expected, rel=1e-9)


def test_tweedie_equals_direct_glm(panel):
    res = fit_revenue(panel, drivers=["csat_mean"], method="tweedie", placebo=False)
    df = _contacted(panel)
    family = sm.families.Tweedie(var_power=1.5, link=sm.families.links.Log())
    direct = smf.glm("revenue_next_amount ~ csat_mean + " + " + ".join(CONTROLS), df,
                     family=family).fit(cov_type="cluster", cov_kwds={
                         "groups": pd.factorize(df["customer_id"])[0]})
    tidy = res.tidy().set_index("term")
    np.testing.assert_allclose(tidy.loc[direct.params.index, "estimate"], direct.params, atol=1e-6)
    np.testing.assert_allclose(tidy.loc[direct.params.index, "std_error"], direct.bse, atol=1e-6)
    up = df.assign(csat_mean=df["csat_mean"] + 1)
    assert res.effects()["estimate"].iloc[0] == pytest.approx(
        direct.predict(up).mean() - direct.predict(df).mean(), rel=1e-6)


def test_two_part_effect_equals_manual_retransformation(panel):
    res = fit_revenue(panel, drivers=["csat_mean"], method="two_part", placebo=False)
    df = _contacted(panel)
    rhs = "csat_mean + " + " + ".join(CONTROLS)
    df["buy"] = (df["revenue_next_amount"] > 0).astype(float)
    groups = pd.factorize(df["customer_id"])[0]
    part1 = smf.logit("buy ~ " + rhs, df).fit(cov_type="cluster", cov_kwds={"groups": groups},
                                              disp=0)
    pos = df.loc[df["buy"] == 1].assign(log_y=lambda d: np.log(d["revenue_next_amount"]))
    part2 = smf.ols("log_y ~ " + rhs, pos).fit()
    smear = np.mean(np.exp(part2.resid))
    up = df.assign(csat_mean=df["csat_mean"] + 1)
    manual = np.mean(part1.predict(up) * np.exp(part2.predict(up)) * smear
                     - part1.predict(df) * np.exp(part2.predict(df)) * smear)
    eff = res.effects().iloc[0]
    assert eff["estimate"] == pytest.approx(manual, rel=1e-6)
    assert eff["conf_low"] < eff["estimate"] < eff["conf_high"]
    assert res.effect_unit == "EUR"
    terms = res.tidy()["term"]
    assert "any_purchase:csat_mean" in set(terms) and "log_amount:csat_mean" in set(terms)



@pytest.mark.parametrize("method", ["two_part", "tweedie"])
def test_bootstrap_interval_resamples_customers(panel, method):
    delta = fit_revenue(panel, drivers=["csat_mean"], method=method, placebo=False)
    boot = fit_revenue(panel, drivers=["csat_mean"], method=method, placebo=False,
                       interval="bootstrap", n_boot=60, seed=3)
    d, b = delta.effects().iloc[0], boot.effects().iloc[0]
    assert b["estimate"] == pytest.approx(d["estimate"])  # same point estimate, another interval
    assert b["conf_low"] < b["estimate"] < b["conf_high"]
    assert (b["conf_low"], b["conf_high"]) != (d["conf_low"], d["conf_high"])
    ratio = (b["conf_high"] - b["conf_low"]) / (d["conf_high"] - d["conf_low"])
    assert 0.5 < ratio < 2.0, ratio  # the two agree on the scale of the uncertainty
    assert boot.diagnostics["interval"].startswith("cluster bootstrap by customer_id, 60 refits")
    again = fit_revenue(panel, drivers=["csat_mean"], method=method, placebo=False,
                        interval="bootstrap", n_boot=60, seed=3)
    pd.testing.assert_frame_equal(boot.effects(), again.effects())  # seeded


@pytest.mark.parametrize("kwargs, words", [
    ({"interval": "jackknife"}, "interval='jackknife' is unknown"),
    ({"interval": "bootstrap", "n_boot": 10}, "n_boot >= 50"),
    ({"interval": "bootstrap", "cluster": None}, "needs cluster="),
])
def test_bad_interval_arguments(panel, kwargs, words):
    with pytest.raises(ParameterError, match=words):
        fit_revenue(panel, drivers=["csat_mean"], placebo=False, **kwargs)


def test_negative_revenue_rejected(panel):
    p = panel.copy()
    p.loc[p.index[p["contacted"]][:2], "revenue_next_amount"] = -5.0
    with pytest.raises(ModelError, match="negative values"):
        fit_revenue(p, drivers=["csat_mean"])


def test_unknown_method_rejected(panel):
    with pytest.raises(ParameterError, match="method='gamma' is unknown"):
        fit_revenue(panel, drivers=["csat_mean"], method="gamma")
