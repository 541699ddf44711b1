"""Tests of cxkit.mediation.fit_mediation."""

import pytest
import statsmodels.formula.api as smf

from cxkit.mediation import MEDIATION_ASSUMPTION, fit_mediation


def test_split_equals_g_computation_by_hand(panel):
    table = fit_mediation(panel, driver="resolution_hours_mean", controls=["C(plan)"],
                          delta=5.0, n_boot=20).set_index("effect")
    rows = panel.loc[panel["contacted"] & panel["outcome_observed"]].dropna(
        subset=["resolution_hours_mean", "csat_mean", "churned_next"])
    med = smf.ols("csat_mean ~ resolution_hours_mean + C(plan)", rows).fit()
    out = smf.logit("churned_next ~ resolution_hours_mean + csat_mean + C(plan)", rows).fit(
        disp=0)
    moved = rows.assign(resolution_hours_mean=rows["resolution_hours_mean"] + 5)
    both = moved.assign(csat_mean=rows["csat_mean"] + 5 * med.params["resolution_hours_mean"])
    base, direct, total = (out.predict(d).mean() for d in (rows, moved, both))
    assert table.loc["total", "estimate_pp"] == pytest.approx(100 * (total - base), rel=1e-6)
    assert table.loc["direct", "estimate_pp"] == pytest.approx(100 * (direct - base), rel=1e-6)
    assert table.loc["indirect (via csat_mean)", "estimate_pp"] == pytest.approx(
        100 * (total - direct), rel=1e-6)
    assert table.attrs["assumption"] == MEDIATION_ASSUMPTION
    assert table.attrs["n_obs"] == len(rows)
    assert (table["conf_low"] <= table["estimate_pp"]).all()
    assert (table["estimate_pp"] <= table["conf_high"]).all()


def test_default_controls_are_the_retention_models(panel):
    table = fit_mediation(panel, driver="resolution_hours_mean", n_boot=5)
    assert table.attrs["controls"][:4] == ["C(plan)", "C(segment)", "np.log1p(tenure_months)",
                                           "ticket_count_prior"]
    assert "fcr_rate" in table.attrs["controls"]  # moves both CSAT and churn


@pytest.fixture(scope="module")
def sample_panel():
    from cxkit.panel import build_panel
    from cxkit.synth import make_sample

    return build_panel(make_sample()[0])


def test_sample_indirect_effect_is_null_with_the_default_controls(sample_panel):
    # planted: CSAT has no effect on churn (truth.json churn log_odds csat_mean = 0), and
    # first-contact resolution moves both CSAT and churn
    default = fit_mediation(sample_panel, driver="resolution_hours_mean", n_boot=40)
    row = default.set_index("effect").loc["indirect (via csat_mean)"]
    assert row["conf_low"] < 0 < row["conf_high"]
    # without controls the confounding by first-contact resolution shows up as mediation
    naive = fit_mediation(sample_panel, driver="resolution_hours_mean", controls=[], n_boot=40)
    assert naive.set_index("effect").loc["indirect (via csat_mean)", "conf_low"] > 0
