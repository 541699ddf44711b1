"""Tests of cxkit.claims.describe_claims on the conftest's generated sample."""

import numpy as np

from cxkit.claims import describe_claims


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
