"""The executive summary's figures: what is drawn, and axes labelled with units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import cxkit as cx  # noqa: E402
from cxkit.availability import Missing  # noqa: E402


@pytest.fixture(scope="module")
def fitted(sample):
    data, panel = sample
    retention = cx.fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"],
                                 controls=["C(plan)", "ticket_count_prior"])
    scenario = cx.what_if(retention, panel, changes={"fcr_rate": {"add": 0.10}},
                          value_per_retained_customer_amount=100.0)
    return data, retention, scenario


def test_effect_plot_draws_each_driver_for_its_registry_step(fitted):
    _, retention, _ = fitted
    ax = cx.effect_plot(retention)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["+10 pp first-contact resolution", "-2 h resolution time"]
    points = ax.lines[0].get_xdata()
    expected = [retention.effect("fcr_rate", 0.10)["estimate"],
                retention.effect("resolution_hours_mean", -2.0)["estimate"]]
    np.testing.assert_allclose(points, expected)
    assert "(pp), 95% CI" in ax.get_xlabel() and ax.get_ylabel()
    plt.close("all")


def test_what_if_plot_draws_the_money_with_its_interval(fitted):
    _, _, scenario = fitted
    table = scenario.table().set_index("unit")
    ax = cx.what_if_plot(scenario)
    bar = ax.patches[0]
    assert bar.get_width() == pytest.approx(table.loc["USD", "change"])
    assert ax.get_xlabel() == "change per period (USD), 95% CI"
    assert "churn" in ax.get_title() and " pp" in ax.get_title()
    plt.close("all")


def test_kpi_interval_plot_wilson_band_in_percent(fitted):
    data, _, _ = fitted
    kpis = cx.compute_kpis(data, period="M")
    ax = cx.kpi_interval_plot(kpis, kpi="fcr_rate", n="resolved_count")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), 100 * kpis["fcr_rate"].to_numpy())
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(np.round(kpis["fcr_rate"] * kpis["resolved_count"]),
                                   kpis["resolved_count"], alpha=0.05, method="wilson")
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert band.min() == pytest.approx(100 * low.min()) and band.max() == pytest.approx(
        100 * high.max())
    assert ax.get_ylabel() == "First-contact resolution (%)" and ax.get_xlabel()
    plt.close("all")


def test_kpi_interval_plot_uses_given_interval_columns(fitted):
    data, _, _ = fitted
    ax = cx.kpi_interval_plot(cx.nps(data, period="M"), kpi="nps")
    assert ax.get_ylabel().startswith("NPS (")
    plt.close("all")


def test_absent_data_gives_a_note_not_an_error(fitted):
    kpis = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=3, freq="MS"),
                         "fcr_rate": [np.nan] * 3, "resolved_count": [0, 0, 0]})
    assert cx.kpi_interval_plot(kpis, kpi="fcr_rate", n="resolved_count") is None
    assert cx.what_if_plot(Missing("no revenue table")) is None
    with pytest.raises(ValueError, match="per-period table"):
        cx.kpi_interval_plot(kpis.drop(columns="period"), kpi="fcr_rate")
