"""The guarded retention model recovers the planted truths of the sample variants.

Each variant writes its true log-odds and its true average marginal effect in
the panel column's units (``truth["churn"]["ame_pp"]``, pp of churn per unit,
the mean derivative of the generator's own model). The fit must cover both
with its 95% intervals and tell the effect from zero.
"""

import warnings

import pytest

from cxkit.models import fit_retention
from cxkit.panel import build_panel
from cxkit.synth import make_sample

CONTROLS = ["auto", "ticket_count_prior"]


def _fit(variant, drivers, *, seed):
    data, truth = make_sample(n_customers=2500, months=20, seed=seed, variant=variant)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_retention(build_panel(data), drivers=drivers, controls=CONTROLS)
    return result, truth["churn"]


def test_planted_contact_reason_effect_is_recovered_through_its_share():
    drivers = ["resolution_hours_mean", "fcr_rate", "reason_share_billing"]
    result, truth = _fit("reason_effect", drivers, seed=11)
    row = result.tidy().set_index("term").loc["reason_share_billing"]
    assert truth["log_odds"]["reason_share_billing"] == 0.8
    assert row["conf_low"] <= 0.8 <= row["conf_high"]
    assert row["conf_low"] > 0  # billing contacts raise churn, and the model says so
    ame = result.effects().set_index("term").loc["reason_share_billing"]
    assert ame["conf_low"] <= truth["ame_pp"]["reason_share_billing"] <= ame["conf_high"]
