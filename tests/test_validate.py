"""Row rules: each one quarantines its bad row, counts it and keeps its source row."""

import warnings

import pandas as pd
import pytest

from cxkit.exceptions import QuarantineWarning
from cxkit.io import read_support_data
from cxkit.validate import (
    QUALITY_COLUMNS,
    TRACKING,
    UNPARSED,
    UNPARSED_VALUES,
    describe_quality,
    validate_tables,
)

GOOD = {
    "customers": [{"customer_id": f"c{i}", "signup_at": "2024-01-01", "churned_at": ""}
                  for i in range(1, 13)],
    "tickets": [{"ticket_id": f"t{i}", "customer_id": f"c{i}", "created_at": "2024-03-01 10:00",
                 "resolved_at": "2024-03-01 12:00", "first_response_minutes": "5", "contacts": "1",
                 "csat": "4", "ces": "6"} for i in range(1, 13)],
    "revenue": [{"customer_id": f"c{i}", "paid_at": "2024-02-01", "amount": "10"} for i in range(1, 13)],
    "surveys": [{"customer_id": f"c{i}", "answered_at": "2024-02-01", "nps": "9"} for i in range(1, 13)],
}

# (table, bad row changes, rule, words of the description)
CASES = [
    ("customers", {"customer_id": ""}, "missing_required", "empty value in a required column"),
    ("customers", {"signup_at": "soon"}, "unparseable_value", "could not be read"),
    ("customers", {"customer_id": "c3", "signup_at": "2024-01-02"}, "duplicate_id",
     "customer_id seen before"),
    ("customers", {"signup_at": "2024-05-01", "churned_at": "2024-04-01"}, "churned_before_signup",
     "churned_at earlier than signup_at"),
    ("customers", {"signup_at": "2031-01-01"}, "future_date", "later than as_of"),
    ("tickets", {"created_at": ""}, "missing_required", "empty value in a required column"),
    ("tickets", {"csat": "great"}, "unparseable_value", "could not be read"),
    ("tickets", {"ticket_id": "t1", "csat": "3"}, "duplicate_id", "ticket_id seen before"),
    ("tickets", {"resolved_at": "2024-03-01 09:00"}, "resolved_before_created",
     "resolved_at earlier than created_at"),
    ("tickets", {"first_response_minutes": "-5"}, "first_response_before_created",
     "first response before created_at"),
    ("tickets", {"contacts": "0"}, "contacts_below_one", "contacts below 1"),
    ("tickets", {"csat": "6"}, "csat_out_of_range", "csat outside 1-5"),
    ("tickets", {"ces": "0"}, "ces_out_of_range", "ces outside 1-7"),
    ("tickets", {"resolved_at": "2030-01-01"}, "future_date", "later than as_of"),
    ("tickets", {"customer_id": "ghost"}, "unknown_customer", "customer_id not among the valid customers"),
    ("revenue", {"amount": "-10"}, "negative_amount", "amount below 0"),
    ("revenue", {"customer_id": "ghost"}, "unknown_customer", "not among the valid customers"),
    ("surveys", {"nps": "11"}, "nps_out_of_range", "nps outside 0-10"),
    ("surveys", {"customer_id": "ghost"}, "unknown_customer", "not among the valid customers"),
]


def write_and_read(tmp_path, bad_table=None, bad_rows=(), good=GOOD):
    tables = {}
    for name, rows in good.items():
        frame = pd.DataFrame(rows + (list(bad_rows) if name == bad_table else []))
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        tables[name] = {"path": f"{name}.csv"}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = read_support_data({"base_dir": str(tmp_path), "as_of": "2025-01-01", "tables": tables})
    return data, [w for w in caught if issubclass(w.category, QuarantineWarning)]


def bad(table, changes):
    """A copy of the first good row under a fresh id, with ``changes``."""
    fresh = {"customers": {"customer_id": "c99"}, "tickets": {"ticket_id": "t99"}}.get(table, {})
    return {**GOOD[table][0], **fresh, **changes}


@pytest.mark.parametrize("table, changes, rule, words", CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_each_rule_quarantines_its_row(tmp_path, table, changes, rule, words):
    data, warned = write_and_read(tmp_path, table, [bad(table, changes)])
    row = data.quality.set_index(["table", "rule"]).loc[(table, rule)]
    assert row["rows_quarantined"] == 1 and row["rows_in"] == 13
    assert words in row["description"]
    q = data.quarantine[table]
    assert q[["rule", "source_row"]].values.tolist() == [[rule, 13]]  # 12 good rows, then the bad one
    assert len(getattr(data, table)) == 12
    assert len(warned) == 1 and f"{table}.{rule}: 1" in str(warned[0].message)


def test_clean_data_quarantines_nothing_and_reports_every_rule(tmp_path):
    data, warned = write_and_read(tmp_path)
    assert warned == [] and data.quality["rows_quarantined"].sum() == 0
    assert list(data.quality.columns) == QUALITY_COLUMNS
    checked = set(zip(data.quality["table"], data.quality["rule"], strict=True))
    assert {(t, r) for t, _, r, _ in CASES} <= checked
    assert all(len(q) == 0 for q in data.quarantine.values())


def test_row_failing_several_rules_counts_once_under_the_first(tmp_path):
    row = bad("tickets", {"csat": "9", "resolved_at": "2024-03-01 09:00", "customer_id": "ghost"})
    data, _ = write_and_read(tmp_path, "tickets", [row])
    q = data.quality.set_index("rule").query("table == 'tickets'")
    assert q.loc["csat_out_of_range", "rows_quarantined"] == 1
    assert q.loc["resolved_before_created", ["rows_flagged", "rows_quarantined"]].tolist() == [1, 0]
    assert q.loc["unknown_customer", ["rows_flagged", "rows_quarantined"]].tolist() == [1, 0]
    assert data.quarantine["tickets"]["rule"].tolist() == ["csat_out_of_range"]


def test_quarantine_keeps_the_row_values_and_the_first_duplicate(tmp_path):
    data, _ = write_and_read(tmp_path, "customers", [bad("customers", {"customer_id": "c2",
                                                                        "signup_at": "2024-02-02"})])
    q = data.quarantine["customers"]
    assert q["customer_id"].tolist() == ["c2"] and q["signup_at"].iloc[0] == pd.Timestamp("2024-02-02")
    kept = data.customers.set_index("customer_id").loc["c2", "signup_at"]
    assert kept == pd.Timestamp("2024-01-01")
    assert "source_row" not in data.customers.columns


def test_isolated_unparseable_value_names_its_column(tmp_path):
    data, _ = write_and_read(tmp_path, "tickets", [bad("tickets", {"csat": "great"})])
    assert data.quarantine["tickets"]["unparsed_columns"].tolist() == ["csat"]


def test_quarantine_keeps_the_original_text_of_unparseable_values(tmp_path):
    flags = ["no"] * 10 + ["", ""]  # two good rows without a reopened flag
    good = {**GOOD, "tickets": [{**r, "reopened": f} for r, f in zip(GOOD["tickets"], flags, strict=True)]}
    row = {**good["tickets"][0], "ticket_id": "t99", "created_at": "31/02/2024", "csat": " five ",
           "reopened": "maybe"}
    data, warned = write_and_read(tmp_path, "tickets", [row], good=good)
    q = data.quarantine["tickets"]
    assert q[["rule", "source_row"]].values.tolist() == [["unparseable_value", 13]]
    assert q["unparsed_columns"].tolist() == ["created_at,csat,reopened"]
    assert q["unparsed_values"].tolist() == [
        "created_at='31/02/2024'; csat=' five '; reopened='maybe'"]
    assert q[["created_at", "csat", "reopened"]].isna().all(axis=None)  # still parsed as missing
    # one row, counted once; empty flags stay missing values, not unparseable ones
    quality = data.quality.query("table == 'tickets'").set_index("rule")
    assert quality.loc["unparseable_value", ["rows_flagged", "rows_quarantined"]].tolist() == [1, 1]
    assert quality["rows_quarantined"].sum() == 1
    assert quality.query("column == 'reopened'")["rows_flagged"].tolist() == [2]
    assert not set(quality["column"]) & {*TRACKING, UNPARSED_VALUES, "unparsed_values"}
    assert len(warned) == 1 and "tickets.unparseable_value: 1" in str(warned[0].message)
    for name, table in data.tables().items():
        assert not set(table.columns) & {*TRACKING, UNPARSED_VALUES, "unparsed_values"}, name
    assert len(data.tickets) == 12 and data.tickets["reopened"].isna().sum() == 2


def test_rows_quarantined_by_other_rules_have_no_unparsed_text(tmp_path):
    data, _ = write_and_read(tmp_path, "tickets", [bad("tickets", {"csat": "great"}),
                                                   bad("tickets", {"ticket_id": "t1", "csat": "3"})])
    q = data.quarantine["tickets"].set_index("rule")
    assert q.loc["unparseable_value", "unparsed_values"] == "csat='great'"
    assert q.loc["duplicate_id", ["unparsed_columns", "unparsed_values"]].tolist() == ["", ""]


def test_validate_tables_directly_without_tracking_columns():
    raw = {"customers": pd.DataFrame({"customer_id": ["a", "b"],
                                      "signup_at": pd.to_datetime(["2024-01-01", "2024-01-02"])}),
           "revenue": pd.DataFrame({"customer_id": ["a", "zz"], "paid_at": pd.to_datetime(["2024-02-01"] * 2),
                                    "amount": [5.0, 7.0]})}
    with pytest.warns(QuarantineWarning, match="revenue.unknown_customer: 1"):
        clean, quality, quarantine = validate_tables(raw, as_of="2025-01-01")
    assert clean["revenue"]["customer_id"].tolist() == ["a"]
    assert quarantine["revenue"]["source_row"].tolist() == [2]
    shown = quarantine["revenue"][["unparsed_columns", "unparsed_values"]]
    assert shown.values.tolist() == [["", ""]]
    assert "unparsed_values" in quarantine["customers"].columns
    assert not {"unparsed_values", *TRACKING} & set(clean["revenue"].columns)


def test_validate_tables_with_names_but_no_text_of_unparsed_values():
    raw = {"customers": pd.DataFrame({"customer_id": ["a", "b"], "signup_at": pd.to_datetime(
        ["2024-01-01", None]), UNPARSED: ["", "signup_at"]})}
    with pytest.warns(QuarantineWarning, match="customers.unparseable_value: 1"):
        clean, _, quarantine = validate_tables(raw, as_of="2025-01-01")
    assert quarantine["customers"][["unparsed_columns", "unparsed_values"]].values.tolist() == [
        ["signup_at", ""]]
    assert list(clean["customers"].columns) == ["customer_id", "signup_at"]


def test_describe_quality_sorts_and_adds_a_percentage(tmp_path):
    data, _ = write_and_read(tmp_path, "revenue", [bad("revenue", {"amount": "-1"})])
    table = describe_quality(data)
    assert table[["table", "rule"]].values.tolist() == sorted(table[["table", "rule"]].values.tolist())
    pct = table.set_index(["table", "rule"]).loc[("revenue", "negative_amount"), "quarantined_pct"]
    assert pct == pytest.approx(100 / 13, abs=0.01)
