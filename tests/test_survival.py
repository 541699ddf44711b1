"""Tests of cxkit.survival against the Rossi recidivism data (Fox 2002) and PHReg."""

import numpy as np
import pytest
from lifelines.datasets import load_rossi
from statsmodels.duration.hazard_regression import PHReg

from cxkit.exceptions import ModelError
from cxkit.survival import fit_churn_timing, kaplan_meier, ph_test

COVS = ["fin", "age", "race", "wexp", "mar", "paro", "prio"]
# Fox (2002), "Cox proportional-hazards regression for survival data", Efron ties.
PUBLISHED = {"fin": -0.3794, "age": -0.0574, "race": 0.3139, "wexp": -0.1498,
             "mar": -0.4337, "paro": -0.0849, "prio": 0.0915}


@pytest.fixture(scope="module")
def rossi():
    return load_rossi()


@pytest.fixture(scope="module")
def cox(rossi):
    return fit_churn_timing(rossi, covariates=COVS, duration="week", event="arrest")


def test_matches_published_coefficients(cox):
    est = cox.tidy().set_index("term")["estimate"]
    for term, value in PUBLISHED.items():
        assert est[term] == pytest.approx(value, abs=1e-3)


def test_matches_direct_phreg(rossi, cox):
    direct = PHReg.from_formula("week ~ " + " + ".join(COVS), rossi, status=rossi["arrest"],
                                ties="efron").fit()
    tidy = cox.tidy()
    np.testing.assert_allclose(tidy["estimate"], direct.params, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], direct.bse, atol=1e-6)
    np.testing.assert_allclose(tidy["hazard_ratio"], np.exp(direct.params), atol=1e-6)


def test_delayed_entry_and_strata_equal_direct_call(rossi):
    d = rossi.assign(start=np.where(np.arange(len(rossi)) % 3 == 0, 2.0, 0.0))
    res = fit_churn_timing(d, covariates=["fin", "age", "prio"], duration="week",
                           event="arrest", entry="start", strata="wexp")
    direct = PHReg.from_formula("week ~ fin + age + prio", d, status=d["arrest"],
                                entry=d["start"], strata=d["wexp"], ties="efron").fit()
    np.testing.assert_allclose(res.tidy()["estimate"], direct.params, atol=1e-6)
    assert res.diagnostics["delayed_entry"] is True


def test_ph_check_flags_age_and_wexp_like_lifelines(cox):
    # lifelines proportional_hazard_test(time_transform="rank"): age p=0.0007, wexp p=0.0068,
    # every other covariate p > 0.2
    ph = ph_test(cox).set_index("term")
    assert ph.loc["age", "p_value"] == pytest.approx(0.0007, abs=0.001)
    assert ph.loc["wexp", "p_value"] == pytest.approx(0.0068, abs=0.002)
    assert set(ph.index[ph["verdict"] == "violated"]) == {"age", "wexp"}
    status = cox.guardrails.set_index("check")["status"]
    assert status["proportional_hazards:age"] == "warning"
    assert status["proportional_hazards:fin"] == "passes"
    assert "age, wexp" in cox.caveat


def test_effect_sentence_uses_hazard_ratio(cox):
    eff = cox.effect("prio", 2)
    assert eff["estimate"] == pytest.approx(np.exp(2 * PUBLISHED["prio"]), rel=1e-3)
    assert eff["sentence"].startswith("+2 prio ≈ hazard ratio 1.20 for churn (95% CI ")


def test_invalid_rows_are_counted(rossi):
    d = rossi.copy()
    d.loc[:4, "week"] = 0
    d.loc[5:7, "age"] = np.nan
    res = fit_churn_timing(d, covariates=["fin", "age"], duration="week", event="arrest")
    dropped = res.dropped.set_index("step")["rows_dropped"]
    assert dropped["missing_value"] == 3 and dropped["invalid_duration"] == 5
    assert res.n_obs == len(rossi) - 8


def test_too_few_events(rossi):
    d = rossi.copy()
    d["arrest"] = 0
    d.loc[:9, "arrest"] = 1
    with pytest.raises(ModelError, match="Too few events for 'arrest': 10 churns"):
        fit_churn_timing(d, covariates=["fin"], duration="week", event="arrest")


def test_bad_event_values(rossi):
    with pytest.raises(ModelError, match="must be 1 \\(churned\\) / 0"):
        fit_churn_timing(rossi, covariates=["fin"], duration="week", event="prio")


def test_kaplan_meier_by_band(rossi):
    km = kaplan_meier(rossi, duration="week", event="arrest", by="fin")
    assert set(km["group"]) == {"0", "1"}
    last = km.groupby("group")["survival"].last()
    # share never arrested by week 52, computed by hand (no censoring before 52)
    for g in (0, 1):
        part = rossi[rossi["fin"] == g]
        assert last[str(g)] == pytest.approx(1 - part["arrest"].mean(), abs=1e-12)
    assert (km["conf_low"] <= km["survival"]).all() and (km["survival"] <= km["conf_high"]).all()
    assert km.groupby("group")["survival"].apply(lambda s: s.is_monotonic_decreasing).all()
    banded = kaplan_meier(rossi, duration="week", event="arrest", by="age", bins=3)
    assert banded["group"].nunique() == 3
