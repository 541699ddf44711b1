"""The six analysis notebooks, run as a batch with their defaults and a second
parameter set, and their results.json values checked against the sample's truth.

(`make test` also executes every notebook with its defaults through nbval.)
"""

import json
from pathlib import Path

import pandas as pd
import pytest

from cxkit._package_data import notebook_paths, sample_dir
from cxkit.batch import run_batch

NOTEBOOKS = [p.stem for p in notebook_paths()]  # the packaged notebooks (package data)
TRUTH = json.loads((sample_dir() / "truth.json").read_text())


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    out = tmp_path_factory.mktemp("reports")
    config = {"source": "sample", "notebooks": NOTEBOOKS,
              "grid": [{}, {"segment": "SMB", "period": "Q"}],
              "output_root": str(out), "timeout_seconds": 600}
    result = run_batch(config, jobs=2, progress="off")
    assert not result.failed, result.summary()
    return result


@pytest.fixture(scope="module")
def results(batch):
    return pd.read_csv(batch.run_dir / "results.csv")


def test_six_notebooks_with_two_parameter_sets(batch):
    assert len(NOTEBOOKS) == 6
    ran = {(r.notebook, r.parameters.get("segment", "all")) for r in batch.runs}
    for nb in NOTEBOOKS:
        assert (nb, "all") in ran
        if nb != "01_data_quality":  # validation covers the whole export, not a segment
            assert (nb, "SMB") in ran
    for r in batch.runs:
        html = batch.run_dir / Path(r.notebook_path).with_suffix(".html")
        assert html.exists()


def _rows(results, notebook, segment="all", **where):
    df = results[results["notebook"] == notebook]
    seg = df["segment"].fillna("all") if "segment" in df.columns else pd.Series("all", df.index)
    df = df[seg == segment]
    for k, v in where.items():
        df = df[df[k] == v]
    return df.set_index("term")


def test_retention_notebook_recovers_planted_churn_effects(results):
    rows = _rows(results, "03_retention_drivers", model="logit")
    truth = TRUTH["churn"]["log_odds"]
    for term in ("resolution_hours_mean", "fcr_rate", "first_response_minutes_median"):
        r = rows.loc[term]
        assert r["conf_low"] <= truth[term] <= r["conf_high"], (term, r.to_dict())
    assert rows.loc["resolution_hours_mean", "conf_low"] > 0      # a real effect ...
    assert rows.loc["fcr_rate", "conf_high"] < 0
    assert rows.loc["first_response_minutes_median", "p_value"] > 0.05  # ... and the null one


def test_revenue_notebook_recovers_csat_money_effect(results):
    r = _rows(results, "04_revenue_impact", model="two_part").loc["csat_mean"]
    assert r["conf_low"] <= TRUTH["revenue"]["amount_per_csat_point"] <= r["conf_high"]
    assert "per" in r["effect"] or "≈" in r["effect"]


def test_sample_data_has_nothing_quarantined(results):
    rows = _rows(results, "01_data_quality")
    assert len(rows) > 0 and rows["estimate"].sum() == 0


def test_kpi_and_second_parameter_set_results(results):
    nps = _rows(results, "02_support_kpis", outcome="nps").iloc[0]
    assert nps["conf_low"] < nps["estimate"] < nps["conf_high"]
    smb = _rows(results, "03_retention_drivers", segment="SMB", model="logit")
    full = _rows(results, "03_retention_drivers", model="logit")
    assert (smb["n_obs"] < full["n_obs"]).all()
    assert smb.loc["resolution_hours_mean", "estimate"] > 0
    assert smb.loc["fcr_rate", "estimate"] < 0
    cox = _rows(results, "05_churn_timing", model="cox")
    assert {"resolution_hours_mean", "fcr_rate"} <= set(cox.index)
    summary = _rows(results, "06_executive_summary")
    assert summary["effect"].str.contains("CI").all()


def test_each_run_writes_results_json_with_provenance(batch):
    required = {"notebook", "model", "outcome", "term", "estimate", "conf_low", "conf_high",
                "p_value", "n_obs", "effect"}
    for r in batch.runs:
        payload = json.loads((batch.run_dir / Path(r.notebook_path).parent
                              / "results.json").read_text())
        assert payload["cxkit_version"] and len(payload["data_fingerprint"]) == 16
        assert payload["notebook"] == r.notebook
        # stamped by the batch: every value passed, and the declared defaults
        passed = {k: v for k, v in r.parameters.items() if k != "output_dir"}
        assert passed.items() <= payload["parameters"].items()
        assert "alpha" in payload["parameters"] or r.notebook == "01_data_quality"
        assert payload["results"] and required <= set(payload["results"][0])
    # the truth check above reads results.csv, which gathers these files: same numbers
    run = next(r for r in batch.runs if r.notebook == "03_retention_drivers"
               and r.parameters.get("segment", "all") == "all")
    rj = json.loads((batch.run_dir / Path(run.notebook_path).parent
                     / "results.json").read_text())
    est = {row["term"]: row["estimate"] for row in rj["results"]}
    truth = TRUTH["churn"]["log_odds"]["resolution_hours_mean"]
    assert abs(est["resolution_hours_mean"] - truth) < 0.005


def test_ticket_volume_is_never_presented_as_a_finding(batch, results):
    from cxkit.evidence import CONFOUNDED, is_help_needed

    volume = results[results["term"].map(is_help_needed)]
    assert len(volume) > 0  # notebook 05's model adjusts for prior ticket volume
    assert (volume["evidence"] == CONFOUNDED).all()
    assert volume["effect"].str.contains("not a finding").all()
    models = results[results["model"].isin(["logit", "cox", "two_part"])]
    assert models["evidence"].notna().all() and models["e_value"].notna().all()
    index = (batch.run_dir / "index.html").read_text(encoding="utf-8").lower()
    assert "tickets ≈" not in index  # e.g. "+1 prior tickets ≈ hazard ratio ..."
    for run in batch.runs:
        if run.notebook == "06_executive_summary":
            page = (batch.run_dir / Path(run.notebook_path).with_suffix(".html")).read_text(
                encoding="utf-8").lower()
            findings = page.split("not a finding:")[0]
            assert "tickets ≈" not in findings and "ticket_count" not in findings
