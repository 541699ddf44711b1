"""Tests of cxkit.survival against the Rossi recidivism data (Fox 2002) and PHReg."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.duration.hazard_regression import PHReg
from toy_data import load_rossi

from cxkit.exceptions import ModelError
from cxkit.outcomes import build_survival
from cxkit.survival import concordance, fit_churn_timing, kaplan_meier, logrank_test, ph_test
from cxkit.synth import make_sample

FIXTURES = Path(__file__).parent / "fixtures"

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


# R 4.x, survival package, Efron ties (R's default):
#
#   > library(survival); library(carData)
#   > mod.allison <- coxph(Surv(week, arrest) ~ fin + age + race + wexp + mar + paro + prio,
#   +                      data = Rossi)
#   > summary(mod.allison)
#   n= 432, number of events= 114
#            coef exp(coef) se(coef)      z Pr(>|z|)
#   fin  -0.37942   0.68426  0.19138 -1.983  0.04742 *
#   age  -0.05744   0.94418  0.02200 -2.611  0.00903 **
#   race  0.31390   1.36875  0.30799  1.019  0.30812
#   wexp -0.14980   0.86088  0.21222 -0.706  0.48029
#   mar  -0.43370   0.64810  0.38187 -1.136  0.25606
#   paro -0.08487   0.91863  0.19576 -0.434  0.66461
#   prio  0.09150   1.09581  0.02865  3.194  0.00140 **
#   Concordance= 0.64  (se = 0.027 )
#   Likelihood ratio test= 33.27  on 7 df,   p=2e-05
#   Wald test            = 32.11  on 7 df,   p=4e-05
#   Score (logrank) test = 33.53  on 7 df,   p=2e-05
#
# More digits, from the same fit:
#   > cat(round(mod.allison$coefficients, 8), sep = ", ")     # as pasted in lifelines'
#   -0.3794222, -0.0574377, 0.3138998, -0.1497957, -0.4337039, -0.0848711, 0.0914971
#   (test_coef_output_against_R_super_accurate)
#   > coef(summary(mod.allison))[, "se(coef)"]                # as pasted in Survival.jl's
#   0.191379 0.0219995 0.307993 0.212224 0.381868 0.195757 0.0286485    # Cox test table
R_COEF = [-0.3794222, -0.0574377, 0.3138998, -0.1497957, -0.4337039, -0.0848711, 0.0914971]
R_SE = [0.191379, 0.0219995, 0.307993, 0.212224, 0.381868, 0.195757, 0.0286485]
R_SE_PRINTED = [0.19138, 0.02200, 0.30799, 0.21222, 0.38187, 0.19576, 0.02865]


def test_rossi_matches_r_coxph(cox):
    tidy = cox.tidy().set_index("term").loc[COVS]
    np.testing.assert_allclose(tidy["estimate"], R_COEF, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], R_SE, rtol=0, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], R_SE_PRINTED, rtol=0, atol=5e-6)
    d = cox.diagnostics
    assert round(d["lr_statistic"], 2) == 33.27 and d["lr_df"] == 7
    assert d["lr_statistic"] == pytest.approx(2 * (d["partial_loglik"] - d["null_partial_loglik"]))
    assert f"{d['lr_p_value']:.0e}" == "2e-05"
    assert round(d["concordance"], 2) == 0.64
    assert "Likelihood-ratio test 33.27 on 7 df" in cox.caveat
    assert "concordance: " in repr(cox.summary()) and "lr_statistic: " in repr(cox.summary())


def test_concordance_equals_lifelines(rossi, cox):
    # lifelines 0.30: CoxPHFitter().fit(rossi, "week", "arrest").concordance_index_
    # == 0.6403292... (pasted: lifelines caps pandas below 3, so it is not a test dependency)
    assert cox.diagnostics["concordance"] == pytest.approx(0.6403292, abs=1e-6)


def test_concordance_by_hand():
    # churn at 1 (risk 3), 2 (risk 1), 3 (risk 2), censored at 3 (risk 2):
    # comparable pairs (1 vs 2, 3, 3c), (2 vs 3, 3c), (3 vs 3c)
    # concordant: 1>2, 1>3, 1>3c; discordant: 2<3, 2<3c; tied: 3=3c -> (3 + 0.5) / 6
    c = concordance([1, 2, 3, 3], [1, 1, 1, 0], [3, 1, 2, 2])
    assert c == pytest.approx(3.5 / 6)
    # entering after the first churn removes every pair with it: 2 discordant, 1 tied
    c = concordance([1, 2, 3, 3], [1, 1, 1, 0], [3, 1, 2, 2], entry=[0, 1.5, 1.5, 1.5])
    assert c == pytest.approx(0.5 / 3)


def test_matches_direct_phreg(rossi, cox):
    direct = PHReg.from_formula("week ~ " + " + ".join(COVS), rossi, status=rossi["arrest"],
                                ties="efron").fit()
    tidy = cox.tidy()
    np.testing.assert_allclose(tidy["estimate"], direct.params, atol=1e-6)
    np.testing.assert_allclose(tidy["std_error"], direct.bse, atol=1e-6)
    hr = cox.tidy("hazard_ratio")
    np.testing.assert_allclose(hr["estimate"], np.exp(direct.params), rtol=1e-6)
    np.testing.assert_allclose(hr["conf_high"], np.exp(direct.conf_int()[:, 1]), rtol=1e-6)
    assert hr["std_error"].isna().all()  # no log-scale SE beside a hazard ratio


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
    edges = pd.qcut(rossi["age"], 3).cat.categories  # (17.9, 20], (20, 24], (24, 44]
    assert list(banded["group"].cat.categories) == [  # named by their bounds, in age order
        f"≤ {edges[0].right:g}", f"{edges[1].left:g}–{edges[1].right:g}", f"> {edges[2].left:g}"]
    assert banded["group"].cat.ordered and banded.attrs["group_title"] == "Age"
    youngest = banded[banded["group"] == banded["group"].cat.categories[0]]
    part = rossi[rossi["age"] <= edges[0].right]
    assert youngest["survival"].iloc[-1] == pytest.approx(1 - part["arrest"].mean(), abs=1e-12)


@pytest.fixture(scope="module")
def sample_survival():
    return build_survival(make_sample()[0])


def test_kaplan_meier_equals_lifelines_late_entry(sample_survival):
    s = sample_survival
    assert (s["entry_months"] > 0).sum() == 1627  # signed up before the window opens
    km = kaplan_meier(s, entry="entry_months")
    # lifelines 0.30.3, pasted (tests/fixtures/km_late_entry/README.md):
    #   KaplanMeierFitter().fit(s["duration_months"], s["event"], entry=s["entry_months"])
    #   .survival_function_at_times(churn times)
    ref = pd.read_csv(FIXTURES / "km_late_entry" / "sample_lifelines.csv")
    np.testing.assert_allclose(km["time"], ref["time"], rtol=1e-10)
    np.testing.assert_allclose(km["survival"], ref["survival"], rtol=0, atol=1e-6)
    # the product-limit estimate by hand: prod over churn times of (1 - d / at risk), where a
    # customer is at risk at t when entry < t <= duration
    t, e, a = (s[c].to_numpy(float) for c in ("duration_months", "event", "entry_months"))
    times = np.sort(t[e == 1])
    at_risk = np.array([((a < u) & (t >= u)).sum() for u in times])
    np.testing.assert_allclose(km["survival"], np.cumprod(1 - 1 / at_risk), rtol=0, atol=1e-12)
    assert len(km) == s["event"].sum()  # one row per churn time (continuous times)
    # ignoring the delayed entry overstates survival by counting left-truncated customers
    # as at risk since signup
    naive = kaplan_meier(s, entry=None)
    at24 = km.loc[km["time"] <= 24, "survival"].iloc[-1]
    naive24 = naive.loc[naive["time"] <= 24, "survival"].iloc[-1]
    assert naive24 - at24 > 0.05
    # the default reads entry_months from a survival table
    np.testing.assert_array_equal(kaplan_meier(s)["survival"], km["survival"])


def test_kaplan_meier_rejects_entry_after_exit(rossi):
    d = rossi.assign(start=rossi["week"] + 1)
    with pytest.raises(ModelError, match="start >= week"):
        kaplan_meier(d, duration="week", event="arrest", entry="start")


def test_logrank_equals_lifelines_without_entry(rossi):
    # lifelines 0.30.3 (pasted; not a test dependency):
    #   a, b = rossi[rossi.fin == 0], rossi[rossi.fin == 1]
    #   logrank_test(a.week, b.week, a.arrest, b.arrest)
    #   -> test_statistic 3.8375695765490505, p_value 0.050116117409005755
    got = logrank_test(rossi, by="fin", duration="week", event="arrest", entry=None)
    assert got.loc[0, "statistic"] == pytest.approx(3.8375695765490505, abs=1e-8)
    assert got.loc[0, "p_value"] == pytest.approx(0.050116117409005755, abs=1e-8)
    assert got.loc[0, "df"] == 1


def test_logrank_with_entry_equals_cox_score_test(sample_survival):
    # With delayed entry, the log-rank statistic is the score test of a Cox model with the
    # group indicator (no tied churn times here, so the tie method does not matter):
    # U(0)^2 / I(0) from PHReg(duration, group, status, entry=entry).
    s = sample_survival
    g = (s["plan"] == "basic").astype(float).to_numpy()[:, None]
    model = PHReg(s["duration_months"].to_numpy(), g, status=s["event"].to_numpy(float),
                  entry=s["entry_months"].to_numpy())
    score = model.score(np.zeros(1))[0]
    expected = score ** 2 / -model.hessian(np.zeros(1))[0, 0]
    got = logrank_test(s.assign(basic=g[:, 0]), by="basic")
    assert got.loc[0, "statistic"] == pytest.approx(expected, rel=1e-10)
    ignoring_entry = logrank_test(s.assign(basic=g[:, 0]), by="basic", entry=None)
    assert ignoring_entry.loc[0, "statistic"] != pytest.approx(expected, rel=1e-3)


def test_counting_process_cox_on_the_panel():
    from cxkit.evidence import CONFOUNDED, DESIGN_BASED, evidence_labels
    from cxkit.outcomes import build_churn_intervals
    from cxkit.panel import build_panel

    iv = build_churn_intervals(build_panel(make_sample(n_customers=1500, months=12)[0]))
    # hours up to hundreds make statsmodels' undamped Newton overshoot; the fit must still land
    res = fit_churn_timing(iv, covariates=["resolution_hours_mean", "fcr_rate",
                                           "ticket_count_prior", "C(plan)"],
                           duration="stop_months", entry="start_months", event="churned_next",
                           cluster="customer_id")
    direct = PHReg.from_formula("stop_months ~ resolution_hours_mean + fcr_rate + "
                                "ticket_count_prior + C(plan)", res_rows := iv.dropna(
                                    subset=["resolution_hours_mean", "fcr_rate",
                                            "ticket_count_prior"]),
                                status=res_rows["churned_next"], entry=res_rows["start_months"],
                                ties="efron")
    score = direct.score(np.asarray(res.model_result.params))
    assert np.abs(score).max() < 1e-4  # a maximum of the partial likelihood
    status = res.guardrails.set_index("check")["status"]
    assert status["exposure_before_outcome"] == "passes"
    assert "clustered by customer_id" in res.caveat
    labels = evidence_labels(res)
    assert labels["fcr_rate"] == DESIGN_BASED and labels["ticket_count_prior"] == CONFOUNDED


def test_lifetime_summary_cox_is_flagged_as_description(sample_survival):
    res = fit_churn_timing(sample_survival, covariates=["tickets_per_month"],
                           entry="entry_months")
    status = res.guardrails.set_index("check")["status"]
    assert status["exposure_before_outcome"] == "warning"
    assert "description, not effects" in res.caveat
