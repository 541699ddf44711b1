import warnings

import numpy as np
import pandas as pd
import pytest

import cxkit as cx
from cxkit.describe import describe_claims, describe_performance, headline_rows, select


@pytest.fixture(scope="module")
def sample():
    data, truth = cx.make_sample(n_customers=1500, months=12, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = cx.build_panel(data)
    return data, panel


def test_select_filters_customers_events_and_panel(sample):
    data, panel = sample
    smb = select(data, segment="SMB")
    assert set(smb.customers["segment"]) == {"SMB"}
    assert set(smb.tickets["customer_id"]) <= set(smb.customers["customer_id"])
    assert len(smb.tickets) == data.tickets["customer_id"].isin(smb.customers["customer_id"]).sum()
    p = select(panel, segment="SMB", start="2024-03-01", end="2024-05-01")
    assert set(p["segment"]) == {"SMB"}
    assert p["period"].min() == pd.Timestamp("2024-03-01")
    assert p["period"].max() == pd.Timestamp("2024-05-01")
    assert p.attrs["period"] == "M"
    assert len(select(panel)) == len(panel)


def test_select_unknown_segment_names_the_known_ones(sample):
    data, _ = sample
    with pytest.raises(cx.ParameterError, match=r"segment='Nope' is not in the data; segments are \['Enterprise'"):
        select(data, segment="Nope")


def test_associations_count_every_row_once(sample):
    _, panel = sample
    t = cx.describe_associations(panel, drivers=["resolution_hours_mean"])
    used = panel[panel["outcome_observed"] & panel["churned_next"].notna()]
    assert t["n_obs"].sum() == len(used)
    none = t[t["band"] == "no ticket"].iloc[0]
    expected = 100 * used.loc[used["resolution_hours_mean"].isna(), "churned_next"].mean()
    assert none["churned_next_pct"] == pytest.approx(round(expected, 2))


def test_headline_rows_are_the_model_estimates(sample):
    _, panel = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cx.fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"], placebo=False)
    rows = headline_rows(res, notebook="x").set_index("term")
    tidy = res.tidy().set_index("term")
    for term in ("resolution_hours_mean", "fcr_rate"):
        assert rows.loc[term, "estimate"] == pytest.approx(tidy.loc[term, "estimate"], abs=1e-12)
        assert rows.loc[term, "conf_low"] == pytest.approx(tidy.loc[term, "conf_low"], abs=1e-12)
        assert "CI" in rows.loc[term, "effect"]
    assert rows.loc["fcr_rate", "effect"].startswith("+10 pp first-contact resolution")


def test_performance_is_share_on_target(sample):
    _, panel = sample
    t = describe_performance(panel, drivers=["resolution_hours_mean", "csat_mean"]).set_index("term")
    x = panel["resolution_hours_mean"].dropna()
    assert t.loc["resolution_hours_mean", "performance"] == round(100 * (x <= 24).mean(), 1)
    assert t.loc["csat_mean", "n_obs"] == panel["csat_mean"].notna().sum()
    with pytest.raises(cx.ParameterError, match="No target for driver 'ticket_count'"):
        describe_performance(panel, drivers=["ticket_count"])


def test_claims_repeat_rate_matches_hand_count(sample):
    data, panel = sample
    t = describe_claims(data, panel).set_index("claim")
    months = data.revenue.assign(m=data.revenue["paid_at"].dt.to_period("M")).groupby(
        "customer_id")["m"].nunique()
    row = t.loc["Repeat-customer rate (retailer famous for support)"]
    assert row["your_estimate"] == round(100 * (months >= 2).mean(), 1)
    assert row["conf_low_95"] < row["your_estimate"] < row["conf_high_95"]
    assert row["industry_figure"] == "75%"
    assert {"+17%", "89% strong vs 33% weak"} <= set(t["industry_figure"])
    assert np.isfinite(t["your_estimate"]).all()
