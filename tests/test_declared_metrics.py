"""Metrics declared in a source config (``metrics:``) and the built-in share families,
on a vendor-shaped export unlike the bundled sample, checked by hand.

Export (monthly window Jan-Mar 2024): customers A (signup 2023-12-01) and B (2024-01-15);
tickets with a custom ``Priority`` (Low/High, one missing), ``Handle minutes`` and one
``Tag``; contact reason in ``Topic`` and channel in ``Via``:

====  ========  ================  ================  ========  ======  ======  =======  =====
id    customer  opened            closed            priority  handle  tag     topic    via
====  ========  ================  ================  ========  ======  ======  =======  =====
T1    A         2024-01-03 09:00  2024-01-03 12:00  High      10      refund  Billing  email
T2    A         2024-01-10 09:00  2024-01-11 09:00  Low       20              Billing  chat
T3    A         2024-01-30 09:00  2024-02-02 09:00  High      50      refund  Login    email
T4    A         2024-02-05 09:00  (open)            High      30              Login    email
T5    B         2024-02-01 10:00  2024-02-01 11:00  Low       5       refund  Login    chat
T6    B         2024-02-20 10:00  2024-02-21 10:00  (none)    15              Billing  chat
T7    A         2024-03-02 09:00  2024-03-02 10:00  High      40              Billing  email
====  ========  ================  ================  ========  ======  ======  =======  =====

In the panel only tickets created in the month and resolved before it ends count (T3 is
resolved in February, T4 never): A-Jan = {T1, T2}, A-Feb = {}, B-Feb = {T5, T6},
A-Mar = {T7}. Billing (4 tickets) and email (4) are the most common values, so they are
the reference categories.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxkit
from cxkit import registry
from cxkit.data import SupportData
from cxkit.exceptions import ConfigError

TICKETS = """\
Id,Requester,Opened,Closed,Priority,Handle minutes,Tag,Topic,Via
T1,A,2024-01-03 09:00,2024-01-03 12:00,High,10,refund,Billing,email
T2,A,2024-01-10 09:00,2024-01-11 09:00,Low,20,,Billing,chat
T3,A,2024-01-30 09:00,2024-02-02 09:00,High,50,refund,Login,email
T4,A,2024-02-05 09:00,,High,30,,Login,email
T5,B,2024-02-01 10:00,2024-02-01 11:00,Low,5,refund,Login,chat
T6,B,2024-02-20 10:00,2024-02-21 10:00,,15,,Billing,chat
T7,A,2024-03-02 09:00,2024-03-02 10:00,High,40,,Billing,email
"""

CONFIG = """\
timezone: UTC
as_of: "2024-06-01"
tables:
  customers: {path: accounts.csv, columns: {customer_id: Account, signup_at: Created}}
  tickets:
    path: tickets.csv
    columns: {ticket_id: Id, customer_id: Requester, created_at: Opened, resolved_at: Closed,
              reason: Topic, channel: Via}
  revenue: {path: invoices.csv, columns: {customer_id: account, paid_at: date, amount: total}}
metrics:
  high_priority_rate: {share: "priority == 'High'", label: high-priority tickets}
  handle_minutes_mean: {mean: handle_minutes, direction: higher_is_worse}
  handle_minutes_sum: {sum: handle_minutes}
  refund_count: {count: "tag == 'refund'"}
"""


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    folder = tmp_path_factory.mktemp("vendor")
    (folder / "tickets.csv").write_text(TICKETS)
    (folder / "accounts.csv").write_text("Account,Created\nA,2023-12-01\nB,2024-01-15\n")
    (folder / "invoices.csv").write_text("account,date,total\nA,2024-01-05,10\nA,2024-04-05,10\n"
                                         "B,2024-02-02,20\n")
    (folder / "cxkit.yaml").write_text(CONFIG)
    return folder / "cxkit.yaml"


@pytest.fixture(scope="module")
def data(export):
    return cxkit.read_support_data(export)


@pytest.fixture(scope="module")
def panel(data):
    return cxkit.build_panel(data, period="M", end="2024-03-31")


def _row(panel, customer, month):
    hit = panel[(panel.customer_id == customer) & (panel.period == pd.Timestamp(month))]
    assert len(hit) == 1
    return hit.iloc[0]


def _check(row, **expected):
    for col, want in expected.items():
        if want is None:
            assert pd.isna(row[col]), (col, row[col])
        else:
            assert row[col] == pytest.approx(want), (col, row[col], want)


def test_declared_metrics_in_the_panel_by_hand(panel):
    _check(_row(panel, "A", "2024-01-01"), ticket_count=3, high_priority_rate=0.5,
           handle_minutes_mean=15.0, handle_minutes_sum=30.0, refund_count=1.0)
    # A-Feb: one open ticket, nothing resolved in the month; totals are 0, means missing
    _check(_row(panel, "A", "2024-02-01"), ticket_count=1, high_priority_rate=None,
           handle_minutes_mean=None, handle_minutes_sum=0.0, refund_count=0.0)
    # B-Feb: a missing priority counts as not matching
    _check(_row(panel, "B", "2024-02-01"), ticket_count=2, high_priority_rate=0.0,
           handle_minutes_mean=10.0, handle_minutes_sum=20.0, refund_count=1.0)
    _check(_row(panel, "A", "2024-03-01"), high_priority_rate=1.0, handle_minutes_mean=40.0)
    # B-Jan: no ticket, so no metric (never imputed)
    _check(_row(panel, "B", "2024-01-01"), ticket_count=0, high_priority_rate=None,
           handle_minutes_sum=None, reason_share_billing=None)


def test_share_families_by_hand_with_their_reference(panel):
    _check(_row(panel, "A", "2024-01-01"), reason_share_billing=1.0, reason_share_login=0.0,
           channel_share_email=0.5, channel_share_chat=0.5)
    _check(_row(panel, "B", "2024-02-01"), reason_share_billing=0.5, reason_share_login=0.5,
           channel_share_email=0.0, channel_share_chat=1.0)
    _check(_row(panel, "A", "2024-02-01"), reason_share_login=None, channel_share_email=None)
    assert panel.attrs["references"] == {"reason": "reason_share_billing",
                                         "channel": "channel_share_email"}
    # the shares of a family sum to one wherever they are defined
    shares = panel[["reason_share_billing", "reason_share_login"]].dropna()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)


def test_declared_metrics_in_the_kpi_tables(data):
    k = cxkit.compute_kpis(data).iloc[0]
    assert k["high_priority_rate"] == pytest.approx(4 / 7)
    assert k["handle_minutes_mean"] == pytest.approx(170 / 7)
    assert k["handle_minutes_sum"] == pytest.approx(170.0)
    assert k["refund_count"] == 3
    by_month = cxkit.compute_kpis(data, period="M").set_index("period")
    assert by_month.loc["2024-02-01", "high_priority_rate"] == pytest.approx(1 / 3)


def test_declared_metrics_have_registry_entries(data):
    m = registry.lookup("handle_minutes_mean")
    assert (m.unit, m.direction, m.label) == ("minutes", -1, "handle")
    assert registry.lookup("high_priority_rate").label == "high-priority tickets"
    assert registry.lookup("refund_count").confounded_by_construction
    from cxkit.labels import driver_label
    assert driver_label("high_priority_rate") == ("high-priority tickets", " pp", 100.0)


def test_a_declared_metric_on_an_absent_column_is_refused_at_read_time(export, tmp_path):
    bad = CONFIG.replace("mean: handle_minutes,", "mean: handling_time,")
    (tmp_path / "cxkit.yaml").write_text(bad)
    for name in ("tickets.csv", "accounts.csv", "invoices.csv"):
        (tmp_path / name).write_text((export.parent / name).read_text())
    with pytest.raises(ConfigError, match="metrics.handle_minutes_mean.*handling_time"):
        cxkit.read_support_data(tmp_path / "cxkit.yaml")


def test_an_expression_is_never_executed(tmp_path):
    evil = CONFIG.replace("share: \"priority == 'High'\"", "share: \"__import__('os').getcwd()\"")
    (tmp_path / "cxkit.yaml").write_text(evil)
    with pytest.raises(ConfigError, match="high_priority_rate"):
        cxkit.config.load_config(tmp_path / "cxkit.yaml")


def test_no_look_ahead_for_declared_metrics_and_shares(data):
    """Change every attribute of tickets resolved on or after the cutoff (and their
    resolution time); rows of periods ending by then must not move."""
    rng = np.random.default_rng(5)
    cols = ["high_priority_rate", "handle_minutes_mean", "handle_minutes_sum", "refund_count",
            "reason_share_billing", "reason_share_login", "channel_share_email",
            "channel_share_chat", "ticket_count"]
    before = cxkit.build_panel(data, period="M", end="2024-03-31")
    for cutoff in (pd.Timestamp("2024-02-01"), pd.Timestamp("2024-03-01")):
        for _ in range(5):
            t = data.tickets.copy()
            late = (t.resolved_at.isna() | (t.resolved_at >= cutoff)).to_numpy()
            n = int(late.sum())
            t.loc[late, "priority"] = rng.choice(["High", "Low"], n)
            t.loc[late, "handle_minutes"] = rng.uniform(0, 100, n)
            t.loc[late, "tag"] = rng.choice(["refund", "other"], n)
            t.loc[late, "reason"] = rng.choice(["Billing", "Login"], n)
            t.loc[late, "channel"] = rng.choice(["email", "chat"], n)
            t.loc[late, "resolved_at"] = cutoff + pd.to_timedelta(rng.uniform(0, 40, n),
                                                                  unit="D")
            t = t.drop(columns=["resolution_hours", "first_contact_resolved"], errors="ignore")
            after = cxkit.build_panel(SupportData(customers=data.customers, tickets=t,
                                                  revenue=data.revenue, metrics=data.metrics),
                                      period="M", end="2024-03-31")
            pd.testing.assert_frame_equal(
                before.loc[before.period_end <= cutoff, cols].reset_index(drop=True),
                after.loc[after.period_end <= cutoff, cols].reset_index(drop=True))


def test_shares_on_the_sample_are_usable_drivers():
    """Every reason share but the reference enters a retention model."""
    sample, _ = cxkit.make_sample(n_customers=1500, months=12, seed=2)
    p = cxkit.build_panel(sample)
    ref = p.attrs["references"]["reason"]
    drivers = [c for c in p.columns if c.startswith("reason_share_") and c != ref]
    assert len(drivers) >= 3
    fit = cxkit.fit_retention(p, drivers=drivers, controls=["tenure_months"])
    assert set(drivers) <= set(fit.tidy()["term"])


def test_planted_contact_reason_effect_is_recovered_through_its_share():
    """The reason_effect sample raises churn with the month's share of billing tickets."""
    sample, truth = cxkit.make_sample(variant="reason_effect", seed=7)
    planted = {k.replace("reason_billing_share", "reason_share_billing"): v
               for k, v in truth["churn"]["log_odds"].items()}["reason_share_billing"]
    p = cxkit.build_panel(sample)
    assert p.attrs["references"]["reason"] != "reason_share_billing"
    fit = cxkit.fit_retention(p, drivers=["reason_share_billing", "resolution_hours_mean",
                                          "fcr_rate"])
    row = fit.tidy().set_index("term").loc["reason_share_billing"]
    assert row["conf_low"] <= planted <= row["conf_high"], (planted, row.to_dict())
    assert row["conf_low"] > 0
