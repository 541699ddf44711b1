"""Reading exports: mapping, parsing, file kinds and structural errors."""

import shutil
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cxkit.config import load_config
from cxkit.exceptions import ConfigError, QuarantineWarning, SchemaError, SourceError
from cxkit.io import read_support_data, read_table, sample_config_path
from cxkit.validate import TRACKING, UNPARSED_VALUES

FIXTURE = Path(__file__).parent / "fixtures" / "helpdesk"
CUSTOMERS = "customer_id,signup_at\nc1,2024-01-01\nc2,2024-01-02\nc3,2024-01-03\n"


def _telco_csv():
    """The IBM Telco churn file shipped in data/telco/ (Apache-2.0; see its README)."""
    return Path(__file__).resolve().parents[1] / "data" / "telco" / "Telco-Customer-Churn.csv"


def config(tmp_path, **tables):
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    return {"base_dir": str(tmp_path), "as_of": "2025-01-01",
            "tables": {"customers": {"path": "customers.csv"}, **tables}}


# --- a Zendesk-like export loads with no code change -------------------------------------

@pytest.fixture(scope="module")
def zendesk():
    return read_support_data(FIXTURE / "cxkit.yaml")


def test_zendesk_columns_and_dtypes(zendesk):
    t = zendesk.tickets
    assert t["ticket_id"].tolist() == ["101", "102", "103", "104"]
    assert t["customer_id"].tolist() == ["00017", "00018", "00019", "00017"]  # leading zeros kept
    assert t["created_at"].dtype == "datetime64[ns]" and t["contacts"].dtype == "Int64"
    assert zendesk.currency == "EUR" and zendesk.timezone == "Europe/Berlin"
    assert zendesk.customers["seats"].tolist() == [12.0, 3.0, 40.0]  # unmapped, snake_cased


def test_zendesk_timestamps_move_from_new_york_to_berlin(zendesk):
    t = zendesk.tickets.set_index("ticket_id")
    # 09:30 EST = 14:30 UTC = 15:30 CET; 03/11 01:30 is after the US switch to EDT (UTC-4)
    assert t.loc["101", "created_at"] == pd.Timestamp("2024-01-15 15:30")
    assert t.loc["102", "resolved_at"] == pd.Timestamp("2024-03-11 06:30")
    assert zendesk.customers["signup_at"].iloc[1] == pd.Timestamp("2023-02-11 05:30")


def test_zendesk_labels_and_derived_columns(zendesk):
    t = zendesk.tickets.set_index("ticket_id")
    assert t["csat"].tolist()[:2] == [5.0, 1.0] and t["csat"].iloc[2:].isna().all()
    assert t["contacts"].tolist() == [1, 3, 2, 1]
    # 102: 01:30 EST -> 03:30 EDT on the night clocks sprang forward is 60 real minutes
    assert t["first_response_minutes"].tolist() == [15.0, 60.0, 10.0, 30.0]
    assert t["escalated"].tolist() == [False, True, False, False]
    assert zendesk.revenue["amount"].sum() == pytest.approx(517.5)


def test_zendesk_has_nothing_quarantined(zendesk):
    assert zendesk.quality["rows_quarantined"].sum() == 0
    assert set(zendesk.quality["table"]) == {"customers", "tickets", "revenue"}


# --- file kinds --------------------------------------------------------------------------

def test_parquet(tmp_path):
    pd.DataFrame({"customer_id": ["c1", "c2"], "paid_at": pd.to_datetime(["2024-02-01", "2024-03-01"]),
                  "amount": [10, 20.5]}).to_parquet(tmp_path / "rev.parquet")
    data = read_support_data(config(tmp_path, revenue={"path": "rev.parquet"}))
    assert data.revenue["amount"].tolist() == [10.0, 20.5]
    assert data.revenue["paid_at"].dtype == "datetime64[ns]"


def test_glob_of_csv_files_in_sorted_order(tmp_path):
    (tmp_path / "pay-2.csv").write_text("customer_id,paid_at,amount\nc2,2024-02-01,2\n")
    (tmp_path / "pay-1.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,1\nc3,2024-01-05,3\n")
    data = read_support_data(config(tmp_path, revenue={"path": "pay-*.csv"}))
    assert data.revenue["amount"].tolist() == [1.0, 3.0, 2.0]


def test_table_inside_a_duckdb_file(tmp_path):
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as con:
        con.execute("CREATE TABLE nps_answers (cust VARCHAR, ts TIMESTAMP, score INTEGER)")
        con.execute("INSERT INTO nps_answers VALUES ('c1', '2024-04-01 10:00', 9), ('c3', '2024-04-02', 3)")
    data = read_support_data(config(tmp_path, surveys={
        "path": "crm.duckdb", "table": "nps_answers",
        "columns": {"customer_id": "cust", "answered_at": "ts", "nps": "score"}}))
    assert data.surveys["nps"].tolist() == [9.0, 3.0]
    assert data.surveys["answered_at"].iloc[0] == pd.Timestamp("2024-04-01 10:00")


def test_iso_offsets_convert_to_the_reporting_zone(tmp_path):
    (tmp_path / "rev.csv").write_text("customer_id,paid_at,amount\nc1,2024-07-01T22:30:00Z,1\n"
                                      "c2,2024-07-01T10:00:00-04:00,2\n")
    cfg = config(tmp_path, revenue={"path": "rev.csv"})
    cfg["timezone"] = "Europe/Berlin"
    paid = read_support_data(cfg).revenue["paid_at"].tolist()
    assert paid == [pd.Timestamp("2024-07-02 00:30"), pd.Timestamp("2024-07-01 16:00")]


def test_value_maps_accept_export_names_and_refuse_unknown_columns(tmp_path):
    (tmp_path / "s.csv").write_text("customer_id,answered_at,Score\nc1,2024-01-01,ten\nc2,2024-01-01,7\n")
    surveys = {"path": "s.csv", "columns": {"nps": "Score"}, "values": {"Score": {"ten": 10}}}
    assert read_support_data(config(tmp_path, surveys=surveys)).surveys["nps"].tolist() == [10.0, 7.0]
    surveys["values"] = {"score_label": {"ten": 10}}
    text = _message(ConfigError, tmp_path, surveys=surveys)
    assert "tables.surveys.values" in text and "'score_label'" in text and "Score" in text


def test_mixed_offsets_and_day_first_format(tmp_path):
    (tmp_path / "rev.csv").write_text("customer_id,paid_at,amount\nc1,2024-07-01 10:00,1\n"
                                      "c2,2024-07-01T10:00:00+00:00,2\n")
    (tmp_path / "s.csv").write_text("customer_id,answered_at,nps\nc1,15-01-2024,9\n")
    cfg = config(tmp_path, revenue={"path": "rev.csv"},
                 surveys={"path": "s.csv", "datetime_format": "%d-%m-%Y"})
    cfg["timezone"] = "America/New_York"
    data = read_support_data(cfg)
    # the naive value is New York time already; the UTC one moves back 4 hours
    assert data.revenue["paid_at"].tolist() == [pd.Timestamp("2024-07-01 10:00"),
                                                pd.Timestamp("2024-07-01 06:00")]
    assert data.surveys["answered_at"].tolist() == [pd.Timestamp("2024-01-15")]  # "-2024" is no offset


def test_flags_and_first_response_timestamp(tmp_path):
    (tmp_path / "t.csv").write_text(
        "ticket_id,customer_id,created_at,first_response_at,reopened\n"
        "1,c1,2024-01-04 10:00,2024-01-04 10:45,YES\n2,c2,2024-01-04 10:00,,no\n"
        "3,c3,2024-01-04 10:00,2024-01-04 12:00,True\n")
    t = read_support_data(config(tmp_path, tickets={"path": "t.csv"})).tickets
    assert t["reopened"].tolist() == [True, False, True] and t["reopened"].dtype == bool
    assert t["first_response_minutes"].tolist()[::2] == [45.0, 120.0]
    assert pd.isna(t["first_response_minutes"].iloc[1])


def test_unparseable_values_keep_their_export_text(tmp_path):
    good = [f"{i},c1,2024-01-{i:02d} 10:00,Good,{i % 3}" for i in range(1, 20)]
    bad = ["20,c2,31/02/2024,Great,0.5", "21,c3,2024-01-20 10:00,five,1"]  # under 10% each
    (tmp_path / "t.csv").write_text("Id,Cust,Opened,Satisfaction,Replies\n"
                                    + "\n".join(good + bad) + "\n")
    tickets = {"path": "t.csv", "columns": {"ticket_id": "Id", "customer_id": "Cust",
                                            "created_at": "Opened", "csat": "Satisfaction"},
               "values": {"Satisfaction": {"Good": 5, "Great": "grand"}},
               "derive": {"contacts": "Replies + 1"}}
    cfg = config(tmp_path, tickets=tickets)
    with pytest.warns(QuarantineWarning, match="tickets.unparseable_value: 2"):
        data = read_support_data(cfg)
    q = data.quarantine["tickets"]
    assert q["source_row"].tolist() == [20, 21]
    assert q["unparsed_columns"].tolist() == ["created_at,csat,contacts", "csat"]
    assert q["unparsed_values"].tolist() == [
        "created_at (Opened)='31/02/2024'; csat (Satisfaction)='Great' (mapped to 'grand'); "
        "contacts (derived)='1.5'",
        "csat (Satisfaction)='five'"]
    assert list(data.tickets.columns) == ["ticket_id", "customer_id", "created_at", "csat",
                                          "replies", "contacts"]
    assert not set(data.quality["column"]) & set(TRACKING)
    # only failing rows carry text
    raw = read_table(load_config(cfg).tables["tickets"], config=load_config(cfg))
    assert (raw[UNPARSED_VALUES] != "").tolist() == [False] * 19 + [True, True]


def _replies_export(tmp_path, replies, replied=None):
    """Tickets 1..n of customer c1 opened at 10:00 on day i, with Replies and Replied columns."""
    replied = replied or ["10:30"] * len(replies)
    rows = [f"{i},c1,2024-01-{i:02d} 10:00,{r},{f'2024-01-{i:02d} {t}' if ':' in t else t}"
            for i, (r, t) in enumerate(zip(replies, replied, strict=True), start=1)]
    (tmp_path / "t.csv").write_text("Id,Cust,Opened,Replies,Replied\n" + "\n".join(rows) + "\n")
    return {"path": "t.csv", "columns": {"ticket_id": "Id", "customer_id": "Cust",
                                         "created_at": "Opened"}}


def test_unreadable_input_of_a_derived_number_is_quarantined(tmp_path):
    tickets = _replies_export(tmp_path, ["3", "4", "many"] + ["2"] * 7)  # 1 of 10: not structural
    tickets["derive"] = {"contacts": "Replies + 1"}
    with pytest.warns(QuarantineWarning, match="tickets.unparseable_value: 1"):
        data = read_support_data(config(tmp_path, tickets=tickets))
    q = data.quarantine["tickets"]
    assert q["source_row"].tolist() == [3]
    assert q["unparsed_columns"].tolist() == ["contacts"]
    assert q["unparsed_values"].tolist() == ["contacts (derived from Replies)='many'"]
    assert data.tickets["contacts"].tolist() == [4, 5] + [3] * 7
    row = data.quality.query("table == 'tickets' and rule == 'unparseable_value'")
    assert row[["rows_flagged", "rows_quarantined"]].values.tolist() == [[1, 1]]
    assert data.quality["rows_quarantined"].sum() == 1  # counted once


def test_unreadable_timestamp_of_a_time_difference_is_quarantined(tmp_path):
    tickets = _replies_export(tmp_path, ["1"] * 10, ["10:30", "soon"] + ["11:00"] * 8)
    tickets["derive"] = {"first_response_minutes": "minutes_between(created_at, Replied)"}
    with pytest.warns(QuarantineWarning, match="tickets.unparseable_value: 1"):
        data = read_support_data(config(tmp_path, tickets=tickets))
    q = data.quarantine["tickets"]
    assert q["source_row"].tolist() == [2]
    assert q["unparsed_columns"].tolist() == ["first_response_minutes"]
    assert q["unparsed_values"].tolist() == [
        "first_response_minutes (derived from Replied)='soon'"]
    assert data.tickets["first_response_minutes"].tolist() == [30.0] + [60.0] * 8


def test_empty_input_of_a_derived_column_stays_missing(tmp_path):
    tickets = _replies_export(tmp_path, ["3", ""] + ["2"] * 8, ["10:30", ""] + ["10:45"] * 8)
    tickets["derive"] = {"contacts": "Replies + 1",
                         "first_response_minutes": "minutes_between(created_at, Replied)"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be quarantined
        data = read_support_data(config(tmp_path, tickets=tickets))
    t = data.tickets
    assert len(t) == 10 and data.quality["rows_quarantined"].sum() == 0
    assert pd.isna(t["contacts"].iloc[1]) and pd.isna(t["first_response_minutes"].iloc[1])
    assert t["contacts"].iloc[0] == 4 and t["first_response_minutes"].iloc[0] == 30.0


def test_sample_path_error_tells_how_to_make_it():
    try:
        path = sample_config_path()
    except SourceError as err:
        assert "cxkit sample --out data/sample" in str(err)
    else:
        assert path.name == "cxkit.yaml" and path.parent.name == "sample"


# --- structural errors -------------------------------------------------------------------

def _message(exc_type, tmp_path, **tables):
    with pytest.raises(exc_type) as err:
        read_support_data(config(tmp_path, **tables))
    text = str(err.value)
    assert str(tmp_path) not in text  # never an absolute machine path
    return text


def test_missing_file(tmp_path):
    text = _message(SourceError, tmp_path, tickets={"path": "exports/tickets.csv"})
    assert "exports/tickets.csv" in text and "not found" in text and "tables.tickets.path" in text


def test_empty_glob(tmp_path):
    text = _message(SourceError, tmp_path, revenue={"path": "pay-*.csv"})
    assert "pay-*.csv" in text and "no file matches" in text


def test_unreadable_file(tmp_path):
    (tmp_path / "rev.parquet").write_text("this is not parquet")
    text = _message(SourceError, tmp_path, revenue={"path": "rev.parquet"})
    assert "rev.parquet" in text and "cannot read" in text


def test_bad_read_option_is_a_config_error(tmp_path):
    (tmp_path / "rev.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,1\n")
    text = _message(ConfigError, tmp_path, revenue={"path": "rev.csv", "read_options": {"delimitr": ";"}})
    assert "read_options" in text and "delimitr" in text


def test_mapped_column_not_in_export(tmp_path):
    (tmp_path / "rev.csv").write_text("Account,Date,Total\nc1,2024-01-01,1\n")
    text = _message(SchemaError, tmp_path, revenue={
        "path": "rev.csv", "columns": {"customer_id": "Account", "paid_at": "Paid on", "amount": "Total"}})
    assert "rev.csv" in text and "'Paid on'" in text and "tables.revenue.columns.paid_at" in text
    assert "Account, Date, Total" in text


def test_required_column_missing(tmp_path):
    (tmp_path / "t.csv").write_text("ticket_id,customer_id,opened\n1,c1,2024-01-01\n")
    text = _message(SchemaError, tmp_path, tickets={"path": "t.csv"})
    assert "t.csv" in text and "'created_at'" in text
    assert "ticket_id, customer_id, opened" in text
    assert "tables.tickets.columns.created_at: <export column name>" in text


def test_mostly_unparseable_dates_stop_with_examples_and_fix(tmp_path):
    rows = ["1,c1,2024-01-01 10:00", "2,c1,31.01.2024", "3,c2,yesterday", "4,c3,2024-13-45",
            "5,c3,2024-02-01 09:00"]
    (tmp_path / "t.csv").write_text("Id,Cust,Opened\n" + "\n".join(rows) + "\n")
    text = _message(SchemaError, tmp_path, tickets={
        "path": "t.csv", "columns": {"ticket_id": "Id", "customer_id": "Cust", "created_at": "Opened"}})
    assert "t.csv" in text and "'Opened'" in text and "created_at" in text
    assert "'31.01.2024', 'yesterday', '2024-13-45'" in text and "3 of 5" in text
    assert "ISO 8601" in text and "tables.tickets.datetime_format" in text


def test_mostly_unparseable_numbers_suggest_a_value_map(tmp_path):
    (tmp_path / "rev.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,free\nc2,2024-01-01,10\n")
    text = _message(SchemaError, tmp_path, revenue={"path": "rev.csv"})
    assert "'amount'" in text and "'free'" in text and "tables.revenue.values.amount" in text


def test_mostly_unreadable_derive_input_names_the_derive_key(tmp_path):
    tickets = _replies_export(tmp_path, ["3", "many", "lots", "", "few", "2"])
    tickets["derive"] = {"contacts": "Replies + 1"}
    text = _message(SchemaError, tmp_path, tickets=tickets)
    assert "t.csv" in text and "tables.tickets.derive.contacts" in text and "'Replies'" in text
    assert "3 of 5" in text and "'many', 'lots', 'few'" in text
    assert "tables.tickets.values.replies" in text


def test_mostly_unreadable_derive_timestamps_suggest_the_format(tmp_path):
    tickets = _replies_export(tmp_path, ["1"] * 3, ["10:30", "01/02/2024", "later"])
    tickets["derive"] = {"first_response_minutes": "minutes_between(created_at, Replied)"}
    text = _message(SchemaError, tmp_path, tickets=tickets)
    assert "tables.tickets.derive.first_response_minutes" in text and "'Replied'" in text
    assert "a timestamp" in text and "'01/02/2024', 'later'" in text
    assert "tables.tickets.datetime_format" in text


# --- customer-level mode: IBM Telco churn ------------------------------------------------

def test_telco_customer_level(tmp_path):
    shutil.copy(_telco_csv(), tmp_path / "telco.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing may be quarantined
        data = read_support_data({"base_dir": str(tmp_path), "tables": {"customer_level": {
            "path": "telco.csv",
            "columns": {"customer_id": "customerID", "churned": "Churn", "tenure_months": "tenure"},
            "values": {"churned": {"Yes": True, "No": False}}}}})
    cl = data.customer_level
    assert len(cl) == 7043 and len(data.customers) == 7043
    assert round(100 * cl["churned"].mean(), 2) == 26.54
    assert cl["total_charges"].dtype == "float64" and cl["total_charges"].isna().sum() == 11
    blanks = data.quality.query("rule == 'missing_value' and column == 'total_charges'")
    assert blanks["rows_flagged"].tolist() == [11] and blanks["rows_quarantined"].tolist() == [0]
    assert set(cl["tech_support"]) == {"Yes", "No", "No internet service"}
