"""The notebooks on exports shaped unlike the bundled sample (generated variants).

A minimal export (no segment, surveys, CES or first response) and a bare one
(tickets with creation and resolution times only) run through all six
notebooks with their defaults, and each section without its data says why; a
shop without churned_at (churn by inactivity) runs the retention, timing and
summary notebooks, with repeat purchase as the outcome of the retention one.
"""

import json
from pathlib import Path

import pytest

from cxkit.batch import run_batch
from cxkit.synth import write_sample

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _notes(run_dir: Path, notebook: str) -> list[str]:
    """The "Not shown" sentences an executed notebook displays."""
    nb = json.loads(next((run_dir / notebook).rglob(f"{notebook}.ipynb")).read_text())
    out = []
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            text = "".join(output.get("data", {}).get("text/markdown", ""))
            if text.startswith("*Not shown:*"):
                out.append(text)
    return out


@pytest.fixture(scope="module")
def minimal_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("minimal")
    source = write_sample(root / "export", n_customers=600, months=12, seed=3, variant="minimal")
    config = {"source": str(source / "cxkit.yaml"), "notebooks": NOTEBOOKS,
              "output_root": str(root / "reports"), "jobs": 2, "timeout_seconds": 600}
    return run_batch(config, jobs=2, progress="off")


def test_minimal_export_runs_all_six_notebooks_with_defaults(minimal_batch):
    assert len(NOTEBOOKS) == 6
    assert not minimal_batch.failed, minimal_batch.summary()
    assert {r.notebook for r in minimal_batch.runs} == set(NOTEBOOKS)


def test_sections_without_their_data_say_what_is_missing(minimal_batch):
    notes = _notes(minimal_batch.run_dir, "02_support_kpis")
    assert any("'segment'" in n for n in notes)           # KPIs by segment
    assert any("no surveys table" in n for n in notes)    # NPS
    assert len(notes) == 2                                # everything else is shown


def test_default_terms_are_those_the_export_has(minimal_batch):
    results = json.loads(next((minimal_batch.run_dir / "03_retention_drivers")
                              .rglob("results.json")).read_text())
    terms = {row["term"] for row in results["results"]}
    assert terms == {"resolution_hours_mean", "fcr_rate"}  # no first response in this export


def test_bare_export_runs_and_each_skipped_section_says_why(tmp_path):
    # tickets with created_at and resolved_at only; customers with signup and churn dates
    source = write_sample(tmp_path / "bare", n_customers=600, months=12, seed=3, variant="bare")
    config = {"source": str(source / "cxkit.yaml"), "notebooks": NOTEBOOKS,
              "output_root": str(tmp_path / "reports"), "jobs": 2, "timeout_seconds": 600}
    batch = run_batch(config, jobs=2, progress="off")
    assert not batch.failed, batch.summary()
    assert any("only resolution_hours_mean" in n for n in _notes(batch.run_dir,
                                                                 "03_retention_drivers"))
    assert _notes(batch.run_dir, "04_revenue_impact")  # no CSAT: the revenue sections say so
    assert all("`csat_mean` has no values" in n for n in _notes(batch.run_dir,
                                                                "04_revenue_impact"))
    summary = json.loads(next((batch.run_dir / "06_executive_summary").rglob(
        "06_executive_summary.ipynb")).read_text())
    shown = json.dumps(summary)
    assert "not estimated" in shown and "csat_mean" in shown  # the findings table says why


def test_shop_without_churn_dates_runs_with_inactivity_churn_and_repeat_purchase(tmp_path):
    source = write_sample(tmp_path / "shop", n_customers=1500, months=18, seed=4,
                          variant="ecommerce")
    config = {"source": str(source / "cxkit.yaml"),
              "notebooks": ["03_retention_drivers", "05_churn_timing", "06_executive_summary"],
              "parameters": {"03_retention_drivers": {"outcome": "repeat_purchase_next"}},
              "output_root": str(tmp_path / "reports"), "jobs": 2, "timeout_seconds": 600}
    batch = run_batch(config, jobs=2, progress="off")
    assert not batch.failed, batch.summary()
    results = json.loads(next((batch.run_dir / "03_retention_drivers")
                              .rglob("results.json")).read_text())
    assert {row["outcome"] for row in results["results"]} == {"repeat_purchase_next"}
