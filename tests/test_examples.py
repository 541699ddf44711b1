"""The configs under examples/: each loads, and the IBM Telco example reproduces the data
set's reference figures through its config alone (data/telco/README.md)."""

import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from cxkit.config import load_config
from cxkit.io import read_support_data
from cxkit.models import fit_retention
from cxkit.presets import available_presets

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("config", sorted(EXAMPLES.glob("*/*.yaml")),
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_example_config_loads(config):
    cfg = load_config(config)
    assert cfg.tables and all(t.path for t in cfg.tables.values())


def test_every_preset_has_an_example():
    used = set()
    for config in EXAMPLES.glob("*/*.yaml"):
        preset = yaml.safe_load(config.read_text()).get("preset") or []
        used |= {preset} if isinstance(preset, str) else set(preset)
    assert used == set(available_presets())


@pytest.fixture(scope="module")
def telco():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be quarantined
        return read_support_data(EXAMPLES / "telco" / "cxkit.yaml").customer_level


def test_telco_churn_rates_by_tech_support(telco):
    assert len(telco) == 7043
    assert round(100 * telco["churned"].mean(), 2) == 26.54
    rates = telco.groupby("tech_support")["churned"].mean().mul(100)
    assert rates["No"] == pytest.approx(41.64, abs=0.005)
    assert rates["Yes"] == pytest.approx(15.17, abs=0.005)
    assert rates["No internet service"] == pytest.approx(7.405, abs=0.0005)


def test_telco_tech_support_odds_ratio(telco):
    # the reference interval is model-based (statsmodels' default), hence cov_type="nonrobust"
    res = fit_retention(telco, drivers=["tech_support_yes"], outcome="churned", design="all",
                        controls=["tenure_months", "monthly_charges", "C(contract)",
                                  "C(internet_service)"], cluster=None, placebo=False,
                        cov_type="nonrobust")
    assert res.n_obs == 5517  # customers without internet service have no tech_support_yes
    row = res.tidy().set_index("term").loc["tech_support_yes"]
    assert np.exp(row["estimate"]) == pytest.approx(0.6201, abs=5e-5)
    assert np.exp(row["conf_low"]) == pytest.approx(0.5236, abs=5e-5)
    assert np.exp(row["conf_high"]) == pytest.approx(0.7344, abs=5e-5)
