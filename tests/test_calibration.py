"""Fast check of the calibration benchmark (benchmarks/bench_calibration.py) on one sample.

The full run (20 generated samples, minutes) is ``python -m benchmarks --only calibration``;
its figures are in benchmarks/README.md. Here one small generated sample goes through the
same function, so the benchmark's machinery and the default models' basic calibration are
checked on every test run.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks.bench_calibration import check_sample  # noqa: E402


@pytest.fixture(scope="module")
def run():
    with pytest.warns(Warning):  # small sample: few events per parameter
        return check_sample(2, n_customers=1000, months=10)


def test_planted_effects_inside_their_intervals(run):
    assert run["covered"] == {"resolution_hours_mean": True, "fcr_rate": True,
                              "first_response_minutes_median": True,
                              "csat_mean (currency per point)": True}
    assert run["estimates"]["resolution_hours_mean"] > 0 > run["estimates"]["fcr_rate"]
    assert not run["null_significant"]


def test_ticket_volume_is_labelled_and_never_a_finding(run):
    assert run["ticket_evidence"] == "confounded by construction"
    assert run["ticket_as_finding"] == []
