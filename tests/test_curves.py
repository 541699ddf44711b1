"""Tests of cxkit.curves: cohort retention and adjusted (standardised) survival."""

import numpy as np
import pytest
from toy_data import load_rossi

from cxkit.curves import adjusted_survival, cohort_retention
from cxkit.exceptions import ModelError
from cxkit.outcomes import build_survival
from cxkit.survival import fit_churn_timing
from cxkit.synth import make_sample


@pytest.fixture(scope="module")
def survival():
    return build_survival(make_sample(n_customers=1500, months=18)[0])


def test_cohort_retention_is_kaplan_meier_within_cohorts_inside_the_window(survival):
    curves = cohort_retention(survival, period="Q")
    inside = survival.loc[survival["entry_months"] <= 0]
    cohorts = inside["signup_at"].dt.to_period("Q").astype(str)
    assert set(curves["group"]) <= set(cohorts)  # no cohort that signed up before the window
    name = curves["group"].iloc[0]
    part = inside.loc[cohorts == name]
    # the product-limit estimate of that cohort by hand (nobody enters late inside the window)
    t, e = part["duration_months"].to_numpy(), part["event"].to_numpy()
    times = np.sort(t[e == 1])
    by_hand = np.cumprod([1 - 1 / (t >= u).sum() for u in times])
    got = curves.loc[curves["group"] == name, "survival"].to_numpy()
    np.testing.assert_allclose(got, by_hand, rtol=0, atol=1e-12)


def test_cohort_retention_refuses_when_no_cohort_is_big_enough(survival):
    with pytest.raises(ModelError, match="no signup cohort"):
        cohort_retention(survival, period="M", min_customers=10_000)


def test_adjusted_survival_by_hand_on_rossi():
    rossi = load_rossi()
    res = fit_churn_timing(rossi, covariates=["fin", "age", "prio"], duration="week",
                           event="arrest")
    curves = adjusted_survival(res, term="fin", levels=[0, 1])
    # statsmodels' Breslow baseline is left-continuous (cumhaz[i] excludes the jump at
    # time i); shifted by one it is the right-continuous H0 the standardisation uses
    times, h_left, _ = res.model_result.model.baseline_cumulative_hazard(
        res.model_result.params)[0]
    x = res.model_result.model.exog.copy()
    b = np.asarray(res.model_result.params)
    for level, name in ((0, "fin = 0"), (1, "fin = 1")):
        x[:, 0] = level
        h0 = np.r_[h_left[1:], np.nan][:-1]  # H0 at every churn time but the last
        expected = np.exp(-np.outer(h0, np.exp(x @ b))).mean(axis=1)
        got = curves.loc[curves["group"] == name, "survival"].to_numpy()[:-1]
        np.testing.assert_allclose(got, expected, rtol=1e-10)
        assert (curves.loc[curves["group"] == name, "time"].to_numpy() == times).all()
    at_end = curves.groupby("group")["survival"].last()
    assert at_end["fin = 1"] > at_end["fin = 0"]  # financial aid: fewer arrests (HR 0.69)


def test_adjusted_survival_unknown_term():
    rossi = load_rossi()
    res = fit_churn_timing(rossi, covariates=["fin", "age"], duration="week", event="arrest")
    with pytest.raises(ModelError, match="not a covariate"):
        adjusted_survival(res, term="prio", levels=[1])
