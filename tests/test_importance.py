"""Tests of cxkit.importance: relative weights and dominance analysis."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from cxkit.exceptions import ParameterError
from cxkit.importance import driver_importance, importance_performance, relative_weights
from cxkit.plots import quadrant_plot


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(3)
    n = 1500
    cid = np.repeat(np.arange(300), 5)
    a, b, c = rng.normal(size=(3, n))
    return pd.DataFrame({"customer_id": cid, "a": a, "b": b, "c": c,
                         "y": 2.0 * a + 1.0 * b + rng.normal(size=n)})


def test_uncorrelated_drivers_weights_are_squared_correlations(frame):
    # With (nearly) uncorrelated drivers each relative weight ~ r(x, y)^2, summing to R2.
    x = frame[["a", "b", "c"]].to_numpy()
    w = relative_weights(x, frame["y"].to_numpy())
    r2 = sm.OLS(frame["y"], sm.add_constant(x)).fit().rsquared
    assert w.sum() == pytest.approx(r2, rel=1e-9)
    r = np.array([np.corrcoef(frame[k], frame["y"])[0, 1] ** 2 for k in "abc"])
    np.testing.assert_allclose(w, r, atol=0.01)


def test_dominance_sums_to_r2_and_matches_two_driver_formula(frame):
    res = driver_importance(frame, drivers=["a", "b"], outcome="y", method="dominance",
                            n_boot=0, design="all")
    full = sm.OLS(frame["y"], sm.add_constant(frame[["a", "b"]])).fit().rsquared
    ra = sm.OLS(frame["y"], sm.add_constant(frame[["a"]])).fit().rsquared
    rb = sm.OLS(frame["y"], sm.add_constant(frame[["b"]])).fit().rsquared
    table = res.table().set_index("term")
    assert table.loc["a", "weight"] == pytest.approx((ra + (full - rb)) / 2, rel=1e-9)
    assert res.r2 == pytest.approx(full, rel=1e-9)


def test_bootstrap_intervals_and_ranks(frame):
    res = driver_importance(frame, drivers=["a", "b", "c"], outcome="y", n_boot=30, seed=1,
                            design="all")
    t = res.table().set_index("term")
    assert list(t.sort_values("rank").index) == ["a", "b", "c"]
    assert (t["conf_low"] <= t["weight"]).all() and (t["weight"] <= t["conf_high"]).all()
    assert t["share_pct"].sum() == pytest.approx(100)
    again = driver_importance(frame, drivers=["a", "b", "c"], outcome="y", n_boot=30, seed=1,
                              design="all")
    pd.testing.assert_frame_equal(res.table(), again.table())


def test_binary_outcome_latent_scale(frame):
    p = frame.assign(churn=(frame["y"] > 1.5).astype(float))
    res = driver_importance(p, drivers=["a", "b", "c"], outcome="churn", n_boot=0, design="all")
    t = res.table().set_index("term")
    assert t.loc["a", "weight"] > t.loc["b", "weight"] > t.loc["c", "weight"]
    assert 0 < res.r2 < 1 and "McKelvey-Zavoina" in res.note


def test_quadrants_and_plot(frame):
    res = driver_importance(frame, drivers=["a", "b", "c"], outcome="y", n_boot=0, design="all")
    q = importance_performance(res, {"a": 0.2, "b": 0.9, "c": 0.9}).set_index("term")
    assert q.loc["a", "quadrant"] == "concentrate here"
    assert q.loc["c", "quadrant"] == "possible overkill"
    ax = quadrant_plot(q.reset_index())
    assert ax.get_ylabel() == "importance (% of explained variation)"
    assert {t.get_text() for t in ax.texts} == {"a", "b", "c"}
    with pytest.raises(ParameterError, match="No performance value for c"):
        importance_performance(res, {"a": 1, "b": 2})


def test_errors(frame):
    with pytest.raises(ParameterError, match="method='shapley' is unknown"):
        driver_importance(frame, drivers=["a", "b"], outcome="y", method="shapley")
    with pytest.raises(ParameterError, match="needs 2 to"):
        driver_importance(frame, drivers=[], outcome="y", design="all")
    note = driver_importance(frame, drivers=["a"], outcome="y", design="all")
    assert "2 or more drivers; only a is given" in note.sentence  # a note, shown in notebooks
