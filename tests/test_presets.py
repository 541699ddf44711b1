"""Export presets: each read through its preset from a fixture shaped like the tool's export.

Fixtures: ``tests/fixtures/presets/`` (one file per export, plus canonical customers).
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cxkit.exceptions import ConfigError, QuarantineWarning, SchemaError
from cxkit.io import read_support_data
from cxkit.presets import apply_presets, available_presets, describe_presets, load_preset

FIX = Path(__file__).parent / "fixtures" / "presets"
CUSTOMERS = {"path": "customers.csv"}


def _read(preset, currency="USD", **tables):
    config = {"preset": preset, "base_dir": str(FIX), "as_of": "2025-01-01",
              "currency": currency, "tables": {"customers": CUSTOMERS, **tables}}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a fixture row set aside would be a preset bug
        data = read_support_data(config)
    assert data.quality["rows_quarantined"].sum() == 0
    return data


def _by(frame, key):
    return frame.set_index(key)


def test_every_preset_has_a_test_here():
    tested = {"zendesk", "zendesk_dbt_ticket_metrics", "zendesk_dbt_ticket_enriched",
              "freshdesk", "intercom", "stripe_invoices", "stripe_subscriptions",
              "chargebee_invoices", "chargebee_subscriptions", "delighted", "qualtrics",
              "typeform"}
    assert set(available_presets()) == tested
    table = describe_presets()
    assert set(table["preset"]) == tested and (table["export"] != "").all()


def test_zendesk_ticket_export():
    t = _by(_read("zendesk", tickets={"path": "zendesk_tickets.csv"}).tickets, "ticket_id")
    assert t.loc["101", "customer_id"] == "c1"
    # satisfaction labels: Good -> 5, Bad -> 1, offered / unoffered -> missing
    assert t.loc["101", "csat"] == 5 and t.loc["102", "csat"] == 1
    assert t.loc[["103", "104"], "csat"].isna().all()
    # one agent reply = first-contact resolution; none counts as one contact
    assert t["contacts"].tolist() == [1, 3, 1, 1]
    assert t["reopened"].tolist() == [False, True, False, False]
    assert t.loc["101", "first_response_minutes"] == 30
    assert t.loc["101", "resolved_at"] == pd.Timestamp("2024-03-01 11:00")
    assert pd.isna(t.loc["104", "resolved_at"])
    assert t["channel"].tolist() == ["email", "web", "chat", "phone"]
    assert t.loc["101", "team"] == "Tier 1" and t.loc["103", "agent"] == "Al"


def test_zendesk_dbt_ticket_metrics():
    t = _by(_read("zendesk_dbt_ticket_metrics",
                  tickets={"path": "zendesk__ticket_metrics.csv"}).tickets, "ticket_id")
    assert t["csat"].tolist()[:2] == [5, 1] and np.isnan(t.loc["203", "csat"])
    assert t["contacts"].tolist() == [1, 3, 2]
    # is_one_touch_resolution agrees with contacts == 1 on solved tickets
    assert t.loc["201", "is_one_touch_resolution"] and t.loc["201", "contacts"] == 1
    assert t["reopened"].tolist() == [False, True, False]
    assert t.loc["202", "resolved_at"] == pd.Timestamp("2024-03-03 10:00")  # last solve
    assert t.loc["202", "first_response_minutes"] == 240
    assert t.loc["201", "channel"] == "email" and t.loc["203", "team"] == "Billing"


def test_zendesk_dbt_ticket_enriched():
    t = _by(_read("zendesk_dbt_ticket_enriched",
                  tickets={"path": "zendesk__ticket_enriched.csv"}).tickets, "ticket_id")
    assert t.loc["301", "csat"] == 5 and t.loc["302", "csat"] == 1
    assert np.isnan(t.loc["303", "csat"])
    assert "resolved_at" not in t.columns and "contacts" not in t.columns
    assert t.loc["302", "agent"] == "Bo"


def test_freshdesk_ticket_export():
    t = _by(_read("freshdesk", tickets={"path": "freshdesk_tickets.csv"}).tickets, "ticket_id")
    assert t["csat"].tolist() == [5, 1, 3]
    assert t["first_response_minutes"].tolist() == [45, 240, 10]
    assert t["contacts"].tolist() == [1, 4, 1]
    assert t["channel"].tolist() == ["email", "web", "phone"]
    assert t.loc["402", "reason"] == "Refund" and t.loc["401", "customer_id"] == "c1"


def test_intercom_conversation_metrics():
    t = _by(_read("intercom", tickets={"path": "intercom__conversation_metrics.csv"}).tickets,
            "ticket_id")
    assert t.loc["501", "csat"] == 5 and t.loc["502", "csat"] == 2
    assert np.isnan(t.loc["503", "csat"])
    assert t["reopened"].tolist() == [False, True, False]
    assert t.loc["501", "first_response_minutes"] == 12.5
    assert t.loc["502", "resolved_at"] == pd.Timestamp("2024-03-03 09:00")
    assert t["channel"].tolist() == ["chat", "email", "push"]


def test_stripe_invoices_minor_units_and_refunds():
    r = _read("stripe_invoices", revenue={"path": "stripe_invoices.csv"}).revenue
    r = r.sort_values("paid_at").reset_index(drop=True)
    # cents -> dollars; the 10.00 credit note after payment is taken off; open invoice pays 0
    assert r["amount"].tolist() == [49.0, 1299.0, 39.0, 0.0]
    assert r["customer_id"].tolist() == ["cus_A1", "cus_B2", "cus_A1", "cus_B2"]
    assert (r["currency"] == "usd").all()  # the export's currency column is kept


def test_stripe_invoices_in_another_currency_are_set_aside(tmp_path):
    text = (FIX / "stripe_invoices.csv").read_text().replace("in_3,cus_B2,sub_2,paid,usd",
                                                              "in_3,cus_B2,sub_2,paid,eur")
    (tmp_path / "inv.csv").write_text(text)
    (tmp_path / "customers.csv").write_text((FIX / "customers.csv").read_text())
    config = {"preset": "stripe_invoices", "base_dir": str(tmp_path), "as_of": "2025-01-01",
              "currency": "USD",
              "tables": {"customers": CUSTOMERS, "revenue": {"path": "inv.csv"}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = read_support_data(config)
    assert sorted(data.revenue["amount"]) == [0.0, 39.0, 49.0]  # the EUR invoice is not summed
    assert data.quarantine["revenue"]["rule"].tolist() == ["other_currency"]


def test_stripe_subscriptions_as_customers():
    c = _by(_read("stripe_subscriptions",
                  customers={"path": "stripe_subscriptions.csv"}).customers, "customer_id")
    assert c.loc["cus_A1", "signup_at"] == pd.Timestamp("2023-01-10 08:00")
    assert pd.isna(c.loc["cus_A1", "churned_at"])
    assert c.loc["cus_B2", "churned_at"] == pd.Timestamp("2024-05-11 09:30")  # ended, not canceled
    assert c.loc["cus_B2", "plan"] == "price_pro"


def test_chargebee_invoices_and_subscriptions():
    data = _read(["chargebee_subscriptions", "chargebee_invoices"], currency="EUR",
                 customers={"path": "chargebee_subscriptions.csv"},
                 revenue={"path": "chargebee_invoices.csv"})
    r = data.revenue.sort_values("paid_at")
    assert r["amount"].tolist() == [49.0, 1299.0, 39.5]  # major units, refund taken off
    c = _by(data.customers, "customer_id")
    assert c.loc["c2", "churned_at"] == pd.Timestamp("2024-05-11 09:30")
    assert c.loc["c1", "plan"] == "basic-monthly"


def test_delighted_nps_export():
    s = _read("delighted", surveys={"path": "delighted_responses.csv"}).surveys
    assert s["nps"].tolist() == [10, 3, 8]
    assert s["customer_id"].tolist() == ["a@example.com", "b@example.com", "a@example.com"]
    assert s["answered_at"].iloc[1] == pd.Timestamp("2024-03-06 11:00")


def test_qualtrics_export_skips_its_two_extra_header_rows():
    s = _read("qualtrics", surveys={"path": "qualtrics_responses.csv"}).surveys
    assert s["nps"].tolist() == [9, 6] and s["customer_id"].tolist() == ["c1", "c2"]
    assert s["answered_at"].iloc[0] == pd.Timestamp("2024-03-05 10:00:01")


def test_typeform_export_with_the_question_as_column():
    s = _read("typeform", surveys={"path": "typeform_responses.csv"}).surveys
    assert s["nps"].tolist() == [10, 0, 7] and s["customer_id"].tolist() == ["c1", "c2", "c3"]
    assert s["answered_at"].iloc[2] == pd.Timestamp("2024-03-07 11:00")


# --- through the engine --------------------------------------------------------------------

ENGINE_CASES = {  # preset: (its tables' fixtures, currency); customers.csv unless replaced
    "zendesk": ({"tickets": "zendesk_tickets.csv"}, "USD"),
    "zendesk_dbt_ticket_metrics": ({"tickets": "zendesk__ticket_metrics.csv"}, "USD"),
    "zendesk_dbt_ticket_enriched": ({"tickets": "zendesk__ticket_enriched.csv"}, "USD"),
    "freshdesk": ({"tickets": "freshdesk_tickets.csv"}, "USD"),
    "intercom": ({"tickets": "intercom__conversation_metrics.csv"}, "USD"),
    "stripe_invoices": ({"revenue": "stripe_invoices.csv"}, "USD"),
    "stripe_subscriptions": ({"customers": "stripe_subscriptions.csv"}, "USD"),
    "chargebee_subscriptions": ({"customers": "chargebee_subscriptions.csv"}, "EUR"),
    "chargebee_invoices": ({"revenue": "chargebee_invoices.csv"}, "EUR"),
    "delighted": ({"surveys": "delighted_responses.csv"}, "USD"),
    "qualtrics": ({"surveys": "qualtrics_responses.csv"}, "USD"),
    "typeform": ({"surveys": "typeform_responses.csv"}, "USD"),
}


def test_every_preset_has_an_engine_case():
    assert set(ENGINE_CASES) == set(available_presets())


@pytest.mark.parametrize("preset", sorted(ENGINE_CASES))
def test_each_preset_reads_the_same_through_the_engine(preset):
    from cxkit.engine import open_source

    fixtures, currency = ENGINE_CASES[preset]
    tables = {"customers": CUSTOMERS, **{name: {"path": f} for name, f in fixtures.items()}}
    config = {"preset": preset, "base_dir": str(FIX), "as_of": "2025-01-01",
              "currency": currency, "tables": tables}
    want = _read(preset, currency, **tables)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarantineWarning)  # nothing set aside here either
        with open_source(config) as data:
            got = data.to_support_data()
    pd.testing.assert_frame_equal(got.quality, want.quality)
    for name in tables:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name))


# --- merging -------------------------------------------------------------------------------

def test_config_overrides_the_preset_key_by_key():
    cfg = apply_presets({"preset": "zendesk", "tables": {"tickets": {
        "path": "t.csv", "columns": {"customer_id": "Requester id", "agent": None},
        "values": {"csat": {"Offered": 3}}}}})
    t = cfg["tables"]["tickets"]
    assert t["columns"]["customer_id"] == "Requester id"  # replaced
    assert "agent" not in t["columns"]  # null removes the preset's mapping
    assert t["columns"]["ticket_id"] == "Id"  # kept
    assert t["values"]["csat"]["Offered"] == 3 and t["values"]["csat"]["Good"] == 5
    assert "preset" not in cfg and set(cfg["tables"]) == {"tickets"}


def test_null_inside_values_stays_a_value():
    cfg = apply_presets({"preset": "zendesk", "tables": {"tickets": {
        "path": "t.csv", "values": {"csat": {"Good": None}}}}})
    assert cfg["tables"]["tickets"]["values"]["csat"]["Good"] is None


def test_override_reads_a_different_customer_column():
    config = {"preset": "zendesk", "base_dir": str(FIX), "as_of": "2025-01-01",
              "tables": {"customers": CUSTOMERS, "tickets": {
                  "path": "zendesk_tickets.csv", "columns": {"customer_id": "Requester"}}}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = read_support_data(config)
    # requester names are not customer ids: every ticket is set aside as an unknown customer
    quarantined = data.quarantine["tickets"]
    assert len(quarantined) == 4 and set(quarantined["rule"]) == {"unknown_customer"}


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ConfigError, match="preset 'zendsk' is unknown.*zendesk"):
        apply_presets({"preset": "zendsk", "tables": {}})
    with pytest.raises(ConfigError, match="'preset' is a preset name or a list"):
        apply_presets({"preset": {"a": 1}, "tables": {}})


def test_a_preset_column_missing_from_the_export_is_named(tmp_path):
    (tmp_path / "customers.csv").write_text((FIX / "customers.csv").read_text())
    (tmp_path / "t.csv").write_text("Id,Requester external id,Created at\n1,c1,2024-01-01\n")
    with pytest.raises(SchemaError, match="Solved at"):
        read_support_data({"preset": "zendesk", "base_dir": str(tmp_path),
                           "tables": {"customers": CUSTOMERS, "tickets": {"path": "t.csv"}}})


def test_presets_hold_no_paths():
    for name in available_presets():
        for spec in load_preset(name)["tables"].values():
            assert "path" not in spec
