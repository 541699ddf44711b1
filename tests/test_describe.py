"""Tests of cxkit.describe (display tables); the generated sample is the conftest's."""

import pytest

import cxkit as cx
from cxkit.describe import describe_performance


def test_associations_count_every_row_once(sample):
    _, panel = sample
    t = cx.describe_associations(panel, drivers=["resolution_hours_mean"])
    used = panel[panel["outcome_observed"] & panel["churned_next"].notna()]
    assert t["n_obs"].sum() == len(used)
    none = t[t["band"] == "no ticket"].iloc[0]
    expected = 100 * used.loc[used["resolution_hours_mean"].isna(), "churned_next"].mean()
    assert none["churned_next_pct"] == pytest.approx(round(expected, 2))


def test_performance_is_share_on_target(sample):
    _, panel = sample
    t = describe_performance(panel, drivers=["resolution_hours_mean", "csat_mean"])
    t = t.set_index("term")
    x = panel["resolution_hours_mean"].dropna()
    assert t.loc["resolution_hours_mean", "performance"] == round(100 * (x <= 24).mean(), 1)
    assert t.loc["csat_mean", "n_obs"] == panel["csat_mean"].notna().sum()
    with pytest.raises(cx.ParameterError, match="No target for driver 'ticket_count'"):
        describe_performance(panel, drivers=["ticket_count"])


def test_findings_say_which_models_could_not_be_estimated():
    from cxkit.availability import Missing
    from cxkit.describe import describe_findings

    out = describe_findings(Missing("`csat_mean` has no values in this export."),
                            what_if=Missing("no scenario"))
    assert out["evidence"].tolist() == ["not estimated", "not estimated"]
    assert out["finding"].iloc[0].startswith("`csat_mean` has no values")


def test_a_transformed_driver_is_banded_and_judged_by_its_column():
    import numpy as np
    import pandas as pd

    from cxkit.describe import describe_associations, describe_performance

    panel = pd.DataFrame({"outcome_observed": True, "churned_next": [0, 1, 0, 0, 1, 0, 0, 1.0],
                          "resolution_hours_mean": [1, 2, 3, 4, 5, 6, 30, np.nan]})
    bands = describe_associations(panel, drivers=["log(resolution_hours_mean)"], bands=2)
    assert set(bands["driver"]) == {"log(resolution_hours_mean)"}
    assert bands["band"].tolist() == ["no ticket", "1–4", "4–30"]  # hours, not log-hours
    perf = describe_performance(panel, drivers=["log(resolution_hours_mean)"])
    assert perf.iloc[0]["target"] == "<= 24" and perf.iloc[0]["performance"] == round(600 / 7, 1)
