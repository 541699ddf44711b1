"""Tests of cxkit.results: immutability, tidy columns, JSON, sentences, displays, plots."""

import dataclasses
import json
import pickle
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
from toy_data import toy_panel

from cxkit.evidence import evidence_label
from cxkit.exceptions import ParameterError
from cxkit.models import fit_retention
from cxkit.plots import forest_plot, km_plot
from cxkit.results import ESTIMATE_COLUMNS, to_json_safe
from cxkit.revenue import fit_revenue

matplotlib.use("Agg")
DRIVERS = ["resolution_hours_mean", "fcr_rate"]


@pytest.fixture(scope="module")
def result():
    return fit_retention(toy_panel(), drivers=DRIVERS, placebo=False)


def test_one_estimates_table_and_its_views(result):
    table = result.estimates()
    assert list(table.columns) == ESTIMATE_COLUMNS
    assert set(table["quantity"]) == {"coefficient", "odds_ratio", "ame_pp"}
    assert not table.duplicated(["term", "quantity"]).any()
    # every row carries the label of cxkit.evidence, the one place that decides it
    assert list(table["evidence"]) == [evidence_label(result, t) for t in table["term"]]
    assert set(table.loc[table["term"].isin(DRIVERS), "evidence"]) == {"design-based"}
    tidy = result.tidy()
    assert list(tidy.columns) == ESTIMATE_COLUMNS and (tidy["quantity"] == "coefficient").all()
    effects = result.effects()
    pd.testing.assert_frame_equal(
        effects, table[table["quantity"] == "ame_pp"].reset_index(drop=True))
    assert list(effects["term"]) == DRIVERS
    sentence = result.effect("fcr_rate", 1.0)
    row = effects.set_index("term").loc["fcr_rate"]
    assert (sentence["estimate"], sentence["conf_low"], sentence["conf_high"]) == (
        row["estimate"], row["conf_low"], row["conf_high"])


def test_changing_an_estimate_makes_results_unequal(result):
    same = dataclasses.replace(result)
    assert same == result and hash(same) == hash(result)
    table = result.estimates()
    table.loc[table.index[-1], "estimate"] += 1e-9
    changed = dataclasses.replace(result, estimates_table=table)
    assert changed != result
    with pytest.raises(TypeError):
        result.diagnostics["auc"] = 1.0  # read-only
    assert pickle.loads(pickle.dumps(result)) == result


def test_result_is_frozen_and_holds_copies(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.n_obs = 1
    before = result.tidy()["estimate"].copy()
    tidy, effects, checks = result.tidy(), result.effects(), result.guardrails
    tidy.loc[:, "estimate"] = 0.0
    effects.loc[:, "estimate"] = 0.0
    checks.loc[:, "status"] = "x"
    assert (result.tidy()["estimate"] == before).all()
    assert (result.effects()["estimate"] != 0).all()
    assert (result.guardrails["status"] != "x").all()


def test_to_dict_is_json_safe(result):
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert d["n_obs"] == result.n_obs and d["effect_unit"] == "pp"
    odds = next(r for r in d["estimates"] if r["quantity"] == "odds_ratio")
    assert odds["std_error"] is None  # NaN -> None
    assert to_json_safe({"a": np.float64("nan"), "b": np.int64(3)}) == {"a": None, "b": 3}


def test_effect_sentence(result):
    eff = result.effect("resolution_hours_mean", -2)
    ame = result.effects().set_index("term").loc["resolution_hours_mean", "estimate"]
    assert eff["estimate"] == pytest.approx(-2 * ame)
    assert eff["conf_low"] < eff["estimate"] < eff["conf_high"]
    assert re.fullmatch(r"-2 h resolution time ≈ -\d+\.\d\d pp monthly churn "
                        r"\(95% CI -\d+\.\d\d to -\d+\.\d\d\) \[design-based\]", eff["sentence"]), \
        eff["sentence"]
    rate = result.effect("fcr_rate", 0.1)["sentence"]
    assert rate.startswith("+10 pp first-contact resolution ≈ -")
    with pytest.raises(ParameterError, match="No effect for term 'csat_mean'"):
        result.effect("csat_mean", 1)


def test_revenue_sentence_in_currency():
    res = fit_revenue(toy_panel(), drivers=["csat_mean"], method="tweedie", placebo=False)
    assert re.fullmatch(r"\+1 CSAT ≈ \+\d+\.\d\d EUR monthly revenue \(95% CI \d+\.\d\d to "
                        r"\d+\.\d\d\) \[design-based\]", res.effect("csat_mean", 1)["sentence"])


def test_summary_display_is_stable(result):
    text = repr(result.summary())
    html = result.summary()._repr_html_()
    for out in (text, html):
        assert not re.search(r"0x[0-9a-f]{6,}|/tmp|/home|\d{4}-\d{2}-\d{2}", out)
    assert "Guardrails" in text and "resolution_hours_mean" in html
    assert repr(result.summary()) == text


def test_forest_plot_draws_each_driver(result):
    ax = result.plot()
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["first-contact resolution (per 1.0)", "resolution time (per 1 h)"]
    assert ax.get_xlabel() == "Effect on monthly churn (pp), 95% CI"
    assert forest_plot(result, ax=ax) is ax


def test_km_plot_one_curve_per_group():
    from toy_data import load_rossi

    from cxkit.survival import kaplan_meier

    km = kaplan_meier(load_rossi(), duration="week", event="arrest", by="fin")
    ax = km_plot(km, time_unit="weeks")
    assert len(ax.get_lines()) == 2 and ax.get_xlabel() == "time (weeks)"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["0", "1"]
    banded = kaplan_meier(load_rossi(), duration="week", event="arrest", by="prio", bins=[0, 1, 3, 20])
    legend = km_plot(banded).get_legend()
    assert legend.get_title().get_text() == "Prio"
    assert [t.get_text() for t in legend.get_texts()] == ["≤ 1", "1–3", "> 3"]  # in band order


def test_every_result_type_has_the_same_accessors(result):
    """ModelResult (logit, revenue, Cox), WhatIfResult and ImportanceResult alike."""
    import matplotlib.pyplot as plt
    from test_survival import COVS
    from toy_data import load_rossi

    from cxkit.importance import driver_importance
    from cxkit.survival import fit_churn_timing
    from cxkit.whatif import what_if

    panel = toy_panel()
    rossi = load_rossi()
    results = [
        result,
        fit_revenue(panel, drivers=["csat_mean"], method="tweedie", placebo=False),
        fit_churn_timing(rossi, covariates=COVS, duration="week", event="arrest"),
        what_if(result, panel, changes={"fcr_rate": {"add": 0.1}}, n_sim=20),
        driver_importance(panel, drivers=DRIVERS, outcome="churned_next", n_boot=0),
    ]
    for res in results:
        tidy = res.tidy()
        assert list(tidy.columns) == ESTIMATE_COLUMNS, type(res).__name__
        assert len(tidy) and tidy["evidence"].notna().all()
        assert "<" in res.summary()._repr_html_() and repr(res.summary())
        json.loads(json.dumps(res.to_dict(), allow_nan=False))
        ax = res.plot()
        assert ax.figure is not None and res.plot(ax=ax) is ax
        plt.close("all")
        assert res == res and res != results[0] or res is results[0]
