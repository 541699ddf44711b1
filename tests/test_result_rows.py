"""Tests of cxkit.result_rows: rows for results.json."""

import warnings

import pytest

import cxkit as cx
from cxkit.result_rows import headline_rows, kpi_rows, quality_rows


def test_headline_rows_are_the_model_estimates(sample):
    _, panel = sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = cx.fit_retention(panel, drivers=["resolution_hours_mean", "fcr_rate"], placebo=False)
    rows = headline_rows(res).set_index("term")
    tidy = res.tidy().set_index("term")
    for term in ("resolution_hours_mean", "fcr_rate"):
        assert rows.loc[term, "estimate"] == pytest.approx(tidy.loc[term, "estimate"], abs=1e-12)
        assert rows.loc[term, "conf_low"] == pytest.approx(tidy.loc[term, "conf_low"], abs=1e-12)
        assert "CI" in rows.loc[term, "effect"]
    assert rows.loc["fcr_rate", "effect"].startswith("+10 pp first-contact resolution")


def test_rows_name_no_notebook(sample, tmp_path):
    data, _ = sample
    for rows in (kpi_rows(data), quality_rows(data)):
        assert "notebook" not in rows.columns
    path = cx.write_results(kpi_rows(data), output_dir=tmp_path, data=data, parameters={},
                            notebook="02_support_kpis")
    import json
    assert {r["notebook"] for r in json.loads(path.read_text())["results"]} == {"02_support_kpis"}
