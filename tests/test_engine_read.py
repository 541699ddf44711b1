"""The engine reader gives the pandas reader's table: files read by DuckDB, parsed in the engine."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest
from test_formats import EUROPEAN_CONFIG, write_european_export

from cxkit._engine_read import read_engine_table
from cxkit._engine_time import local_time, to_utc
from cxkit.config import SourceConfig, TableConfig, load_config, sample_config_path
from cxkit.exceptions import ConfigError, SchemaError, SourceError
from cxkit.io import read_table
from cxkit.validate import UNPARSED, UNPARSED_VALUES

CUSTOMERS = "customer_id,signup_at\nc1,2024-01-01\nc2,2024-01-02\nc3,2024-01-03\n"


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    """One comparable form: timestamps ns, numbers and flags float, text object/None."""
    out = {}
    for c in frame.columns:
        s = frame[c].reset_index(drop=True)
        if pd.api.types.is_datetime64_any_dtype(s):
            out[c] = s.astype("datetime64[ns]")
        elif pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out[c] = s.astype("Float64").astype("float64")
        elif s.notna().any() and s.dropna().map(lambda v: isinstance(v, bool)).all():  # flags
            out[c] = s.astype("boolean").astype("Float64").astype("float64")
        else:
            s = s.astype(object)
            out[c] = s.where(s.notna(), None)
    return pd.DataFrame(out)


def engine_frame(con, cfg, name: str) -> pd.DataFrame:
    """The engine's table fetched, timestamps moved from UTC to the reporting zone."""
    got = read_engine_table(con, cfg.tables[name], config=cfg).to_pandas()
    for c in got.columns:
        if pd.api.types.is_datetime64_any_dtype(got[c]):
            got[c] = got[c].dt.tz_localize("UTC").dt.tz_convert(cfg.timezone).dt.tz_localize(None)
    return got


def assert_same(con, cfg, name: str) -> pd.DataFrame:
    """Engine table == io.read_table's frame, column for column; returns the engine's."""
    got = engine_frame(con, cfg, name)
    want = read_table(cfg.tables[name], config=cfg)
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(_normal(got), _normal(want), check_dtype=False)
    return got


def config(tmp_path, timezone="UTC", **tables):
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    return load_config({"base_dir": str(tmp_path), "as_of": "2025-01-01", "timezone": timezone,
                        "tables": {"customers": {"path": "customers.csv"}, **tables}})


# --- parity with the pandas reader -------------------------------------------------------

@pytest.mark.parametrize("name", ["customers", "tickets", "revenue", "surveys"])
def test_sample_tables_equal_the_pandas_reader(con, name):
    cfg = load_config(sample_config_path())
    got = assert_same(con, cfg, name)
    assert (got[UNPARSED] == "").all() and got["source_row"].iloc[0] == 1
    made = read_engine_table(con, cfg.tables[name], config=cfg, materialise=_materialise(con))
    assert made.count().execute() == len(got) and "m_" in made.get_name()


def test_table_sources_keep_warehouse_types_and_number_rows_in_column_order(con, tmp_path):
    with duckdb.connect(str(tmp_path / "crm.duckdb")) as db:
        db.execute("CREATE TABLE nps_answers (cust VARCHAR, ts TIMESTAMP, score INTEGER, "
                   "label VARCHAR)")
        db.execute("INSERT INTO nps_answers VALUES ('c3', '2024-04-02', 3, ' x '), "
                   "('c1', '2024-04-01 10:00', 9, NULL), ('c1', '2024-07-01 10:00', 11, 'y')")
    tables = {"surveys": {"path": "crm.duckdb", "table": "nps_answers", "values": {
        "score": {"11": 10}}, "columns": {"customer_id": "cust", "answered_at": "ts"},
        "derive": {"nps": "score"}}}
    cfg = config(tmp_path, "America/New_York", **tables)
    got = engine_frame(con, cfg, "surveys").sort_values("source_row")
    assert got["customer_id"].tolist() == ["c1", "c1", "c3"]  # rows ordered by all columns
    assert got["answered_at"].tolist() == [pd.Timestamp("2024-04-01 10:00"),
                                           pd.Timestamp("2024-07-01 10:00"),
                                           pd.Timestamp("2024-04-02")]
    assert got["nps"].tolist() == [9.0, 10.0, 3.0] and got["label"].tolist()[2] == "x"
    assert set(got["source_file"]) == {"crm.duckdb"}  # as the pandas reader names it
    in_memory = con.create_table("tickets_raw", pd.DataFrame({
        "ticket_id": ["t1"], "customer_id": ["c1"],
        "created_at": pd.to_datetime(["2024-03-31 01:30"]).tz_localize("UTC")}))
    tcfg = TableConfig(name="tickets", path=None, table=in_memory.get_name())
    t = read_engine_table(con, tcfg, config=cfg).to_pandas()
    assert t["created_at"].tolist() == [pd.Timestamp("2024-03-31 01:30")]  # zoned: UTC kept


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name", ["customers", "tickets", "revenue"])
def test_zendesk_export_new_york_times_value_maps_derive_and_semicolons(con, name):
    cfg = load_config(FIXTURES / "helpdesk" / "cxkit.yaml")
    assert_same(con, cfg, name)


def test_european_export_decimal_commas_thousands_latin1_day_first(con, tmp_path):
    (tmp_path / "cxkit.yaml").write_text(EUROPEAN_CONFIG, encoding="utf-8")
    write_european_export(tmp_path)
    cfg = load_config(tmp_path / "cxkit.yaml")
    for name in ("customers", "revenue", "tickets"):
        got = assert_same(con, cfg, name)
    assert got["first_response_minutes"].tolist() == [12.5, 1440.0]


@pytest.mark.parametrize("fmt, scale", [("epoch_s", 1), ("epoch_ms", 1000)])
def test_unix_times(con, tmp_path, fmt, scale):
    (tmp_path / "t.csv").write_text(
        "id,account,opened,closed\n"
        f"1,c1,{1709280000 * scale},{1709290800 * scale}\n2,c2,{1709380000 * scale},\n"
        "3,c3,soon,\n" + "".join(f"{i},c1,{1709280000 * scale},\n" for i in range(4, 14)))
    cfg = config(tmp_path, "Europe/Berlin", tickets={
        "path": "t.csv", "datetime_format": fmt,
        "columns": {"ticket_id": "id", "customer_id": "account", "created_at": "opened",
                    "resolved_at": "closed"}})
    got = assert_same(con, cfg, "tickets")
    assert got["created_at"].iloc[0] == pd.Timestamp("2024-03-01 09:00")  # Berlin wall time
    assert got[UNPARSED_VALUES].iloc[2] == "created_at (opened)='soon'"


def test_source_zone_across_both_dst_changes(con, tmp_path):
    # Berlin: 2024-03-31 02:30 does not exist (moves to 03:00 CEST = 01:00 UTC);
    # 2024-10-27 02:30 exists twice (read as standard time: 01:30 UTC)
    times = ["2024-03-31 01:59", "2024-03-31 02:30", "2024-03-31 03:00", "2024-10-27 01:30",
             "2024-10-27 02:30", "2024-10-27 03:30", "2024-07-01 12:00", "2024-01-15 12:00"]
    rows = [f"c1,{t},{10 + i}" for i, t in enumerate(times)]
    (tmp_path / "pay.csv").write_text("customer_id,paid_at,amount\n" + "\n".join(rows) + "\n")
    cfg = config(tmp_path, "UTC", revenue={"path": "pay.csv", "timezone": "Europe/Berlin"})
    got = assert_same(con, cfg, "revenue")
    assert got["paid_at"].dt.strftime("%m-%d %H:%M").tolist() == [
        "03-31 00:59", "03-31 01:00", "03-31 01:00", "10-26 23:30", "10-27 01:30",
        "10-27 02:30", "07-01 10:00", "01-15 11:00"]
    ny = config(tmp_path, "America/New_York", revenue={"path": "pay.csv"})
    assert_same(con, ny, "revenue")


def test_unparseable_values_keep_their_export_text(con, tmp_path):
    good = [f"{i},c1,2024-01-{i:02d} 10:00,Good,{i % 3}" for i in range(1, 20)]
    bad = ["20,c2,31/02/2024,Great,0.5", "21,c3,2024-01-20 10:00,five,1"]
    (tmp_path / "t.csv").write_text("Id,Cust,Opened,Satisfaction,Replies\n"
                                    + "\n".join(good + bad) + "\n")
    cfg = config(tmp_path, tickets={
        "path": "t.csv", "columns": {"ticket_id": "Id", "customer_id": "Cust",
                                    "created_at": "Opened", "csat": "Satisfaction"},
        "values": {"Satisfaction": {"Good": 5, "Great": "grand"}},
        "derive": {"contacts": "Replies + 1"}})
    got = assert_same(con, cfg, "tickets")
    assert got[UNPARSED].tolist()[-2:] == ["created_at,csat,contacts", "csat"]
    assert got[UNPARSED_VALUES].tolist()[-2:] == [
        "created_at (Opened)='31/02/2024'; csat (Satisfaction)='Great' (mapped to 'grand'); "
        "contacts (derived)='1.5'",
        "csat (Satisfaction)='five'"]


def _replies_export(tmp_path, replies, replied):
    rows = [f"{i},c1,2024-01-{i:02d} 10:00,{r},{f'2024-01-{i:02d} {t}' if ':' in t else t}"
            for i, (r, t) in enumerate(zip(replies, replied, strict=True), start=1)]
    (tmp_path / "t.csv").write_text("Id,Cust,Opened,Replies,Replied\n" + "\n".join(rows) + "\n")
    return {"path": "t.csv", "columns": {"ticket_id": "Id", "customer_id": "Cust",
                                         "created_at": "Opened"}}


def test_derive_reports_unreadable_inputs_only_where_the_result_depends(con, tmp_path):
    tickets = _replies_export(tmp_path, ["3", "4", "many", ""] + ["2"] * 8,
                              ["10:30", "soon", "11:00", ""] + ["11:00"] * 8)
    tickets["derive"] = {
        "contacts": "Replies + 1",
        "first_response_minutes": "minutes_between(created_at, Replied)",
        "escalated": "if_else(Id > 10, Replies > 2, false) or is_null(Replied)",
        "reason": "coalesce(null, 'billing')"}
    cfg = config(tmp_path, "Europe/Berlin", tickets=tickets)
    got = assert_same(con, cfg, "tickets")
    assert got[UNPARSED_VALUES].tolist()[:4] == [
        "", "first_response_minutes (derived from Replied)='soon'",
        "contacts (derived from Replies)='many'", ""]


def test_glob_of_files_in_sorted_order_with_other_columns(con, tmp_path):
    (tmp_path / "pay-2.csv").write_text("customer_id,paid_at,amount,note\nc2,2024-02-01,2,x\n")
    (tmp_path / "pay-1.csv").write_text(
        "customer_id,paid_at,amount\nc1,2024-01-01,1\nc3,2024-01-05,3\n")
    cfg = config(tmp_path, revenue={"path": "pay-*.csv"})
    got = assert_same(con, cfg, "revenue")
    assert got["source_file"].tolist() == ["pay-1.csv", "pay-1.csv", "pay-2.csv"]
    assert got["source_row"].tolist() == [1, 2, 1]


def test_parquet_typed_columns_and_unmapped_ones(con, tmp_path):
    pd.DataFrame({"customer_id": [17.0, 18.0, 19.0],  # ids stored as floats
                  "paid_at": pd.to_datetime(["2024-02-01 10:00", "2024-10-27 03:30", None]),
                  "amount": [10, 20.5, float("nan")], "seats": ["1", "2", "x"],
                  "paid": ["yes", "no", None]}).to_parquet(tmp_path / "rev.parquet")
    cfg = config(tmp_path, "Europe/Berlin", revenue={"path": "rev.parquet"})
    got = assert_same(con, cfg, "revenue")
    assert got["amount"].isna().tolist() == [False, False, True]
    assert got["customer_id"].tolist() == ["17", "18", "19"]


def test_unmapped_columns_are_typed_as_the_pandas_reader_types_them(con, tmp_path):
    (tmp_path / "c.csv").write_text(
        "customer_id,signup_at,Seats,Active,Flag01,Label\n"
        "c1,2024-01-01, 12 ,Yes,1,a\nc2,2024-01-02,3,no,0,NULL\nc3,2024-01-03,,,1,b\n")
    cfg = load_config({"base_dir": str(tmp_path), "tables": {"customers": {"path": "c.csv"}}})
    got = assert_same(con, cfg, "customers")
    assert got["seats"].tolist()[:2] == [12.0, 3.0] and got["active"].tolist()[:2] == [True, False]


# --- the pandas reader's one-line errors ------------------------------------------------

def _same_error(con, cfg, name, exc_type):
    """The pandas reader's error, word for word, whether or not the table is materialised."""
    with pytest.raises(exc_type) as want:
        read_table(cfg.tables[name], config=cfg)
    with pytest.raises(exc_type) as got:
        read_engine_table(con, cfg.tables[name], config=cfg)
    assert str(got.value) == str(want.value)
    with pytest.raises(exc_type) as again:
        read_engine_table(con, cfg.tables[name], config=cfg, materialise=_materialise(con))
    assert str(again.value) == str(want.value)
    return str(got.value)


def _materialise(con):
    return lambda t: con.create_table(f"m_{next(_NAMES)}", t, temp=True)


_NAMES = iter(range(10**6))


def test_missing_file_and_empty_glob(con, tmp_path):
    _same_error(con, config(tmp_path, tickets={"path": "exports/t.csv"}), "tickets", SourceError)
    _same_error(con, config(tmp_path, revenue={"path": "pay-*.csv"}), "revenue", SourceError)


def test_missing_columns_and_wrong_delimiter(con, tmp_path):
    (tmp_path / "t.csv").write_text("ticket_id,customer_id,opened\n1,c1,2024-01-01\n")
    _same_error(con, config(tmp_path, tickets={"path": "t.csv"}), "tickets", SchemaError)
    (tmp_path / "r.csv").write_text("Account,Date,Total\nc1,2024-01-01,1\n")
    cfg = config(tmp_path, revenue={"path": "r.csv", "columns": {
        "customer_id": "Account", "paid_at": "Paid on", "amount": "Total"}})
    _same_error(con, cfg, "revenue", SchemaError)
    (tmp_path / "s.csv").write_text("customer_id;paid_at;amount\nc1;2024-01-01;1\n")
    _same_error(con, config(tmp_path, revenue={"path": "s.csv"}), "revenue", SourceError)


def test_mostly_unparseable_columns_are_structural(con, tmp_path):
    rows = ["1,c1,2024-01-01 10:00", "2,c1,31.01.2024", "3,c2,yesterday", "4,c3,2024-13-45",
            "5,c3,2024-02-01 09:00"]
    (tmp_path / "t.csv").write_text("Id,Cust,Opened\n" + "\n".join(rows) + "\n")
    text = _same_error(con, config(tmp_path, tickets={"path": "t.csv", "columns": {
        "ticket_id": "Id", "customer_id": "Cust", "created_at": "Opened"}}), "tickets",
        SchemaError)
    assert "3 of 5" in text
    (tmp_path / "r.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,free\n"
                                    "c2,2024-01-01,10\n")
    _same_error(con, config(tmp_path, revenue={"path": "r.csv"}), "revenue", SchemaError)
    tickets = _replies_export(tmp_path, ["3", "many", "lots", "", "few", "2"], ["10:30"] * 6)
    tickets["derive"] = {"contacts": "Replies + 1"}
    _same_error(con, config(tmp_path, tickets=tickets), "tickets", SchemaError)


def test_swapped_day_and_month_and_wrong_epoch_unit(con, tmp_path):
    rows = [f"c{i},{d:02d}/03/2024" for i, d in enumerate(range(1, 29))]
    (tmp_path / "c.csv").write_text("customer_id,signup_at\n" + "\n".join(rows) + "\n")
    cfg = load_config({"base_dir": str(tmp_path), "tables": {"customers": {
        "path": "c.csv", "datetime_format": "%m/%d/%Y"}}})
    assert "day and month" in _same_error(con, cfg, "customers", SchemaError)
    (tmp_path / "e.csv").write_text("customer_id,signup_at\nc1,1709280000\nc2,1709280000\n")
    cfg = load_config({"base_dir": str(tmp_path), "tables": {"customers": {
        "path": "e.csv", "datetime_format": "epoch_ms"}}})
    _same_error(con, cfg, "customers", SchemaError)


def test_engine_refuses_what_it_cannot_do_with_a_one_line_error(con, tmp_path):
    (tmp_path / "r.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,1\n")
    with pytest.raises(ConfigError, match="'nrows' is not an option.*remove it"):
        read_engine_table(con, config(tmp_path, revenue={
            "path": "r.csv", "read_options": {"nrows": 1}}).tables["revenue"],
            config=config(tmp_path))


@pytest.mark.parametrize("skiprows, text", [
    (2, '"Exported by HelpTool,\nall times UTC"\nFilter: all\ncustomer_id,paid_at,amount\n'
        "c1,2024-01-01,1\nc2,2024-01-02,2\n"),  # a banner above the header, a row on two lines
    ([1, 2], 'customer_id,paid_at,amount\n"Customer","When, exactly","How much?\n(USD)"\n'
             '{"ImportId":"x"},{"ImportId":"y"},{"ImportId":"z"}\nc1,2024-01-01,1\n'
             "c2,2024-01-02,2\nc3,2024-01-03,3\n"),  # Qualtrics: two rows under the header
    ([0, 3, 5], "banner\ncustomer_id,paid_at,amount\nc1,2024-01-01,1\nc9,junk,x\n"
                "c2,2024-01-02,2\nc8,junk,y\nc3,2024-01-03,3\n"),  # banner and rows between
], ids=["banner", "qualtrics", "banner-and-rows"])
def test_skiprows_as_pandas_reads_it(con, tmp_path, skiprows, text):
    for name in ("pay-1.csv", "pay-2.csv"):  # each file of a glob skips the same lines
        (tmp_path / name).write_text(text)
    cfg = config(tmp_path, revenue={"path": "pay-*.csv", "read_options": {"skiprows": skiprows}})
    got = assert_same(con, cfg, "revenue")
    n = 2 if skiprows == 2 else 3
    assert got["customer_id"].tolist() == ["c1", "c2", "c3"][:n] * 2
    assert got["source_row"].tolist() == list(range(1, n + 1)) * 2
    assert (got["amount"] == got["source_row"]).all() and (got[UNPARSED] == "").all()


@pytest.mark.parametrize("bad", ["2", [1, -1], [True], {"a": 1}])
def test_skiprows_other_than_lines_is_refused_in_one_line(con, tmp_path, bad):
    (tmp_path / "r.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01,1\n")
    cfg = config(tmp_path, revenue={"path": "r.csv", "read_options": {"skiprows": bad}})
    with pytest.raises(ConfigError, match=r"revenue.read_options.skiprows: .* give e.g. 2"):
        read_engine_table(con, cfg.tables["revenue"], config=cfg)


def test_unreadable_and_empty_files(con, tmp_path):
    (tmp_path / "rev.parquet").write_text("this is not parquet")
    cfg = config(tmp_path, revenue={"path": "rev.parquet"})
    with pytest.raises(SourceError, match=r"^rev.parquet: cannot read table revenue") as err:
        read_engine_table(con, cfg.tables["revenue"], config=cfg)
    assert str(tmp_path) not in str(err.value)
    (tmp_path / "r.csv").write_text("customer_id,paid_at,amount\n")
    _same_error(con, config(tmp_path, revenue={"path": "r.csv"}), "revenue", SourceError)


def test_dedupe_by_a_text_column_reads_it_as_timestamps(con, tmp_path):
    (tmp_path / "t.csv").write_text(
        "ticket_id,customer_id,created_at,Updated\n1,c1,2024-01-01,2024-01-02 10:00\n"
        "1,c1,2024-01-01,2024-01-03 10:00\n2,c2,2024-01-05,later\n"
        + "".join(f"{i},c3,2024-01-05,2024-01-06\n" for i in range(3, 12)))
    cfg = config(tmp_path, "Europe/Berlin", tickets={"path": "t.csv",
                                                     "dedupe": {"by": "updated"}})
    got = assert_same(con, cfg, "tickets")
    assert got[UNPARSED_VALUES].iloc[2] == "updated='later'"
    with pytest.raises(ConfigError) as err:
        bad = config(tmp_path, tickets={"path": "t.csv", "dedupe": {"by": "Updated"}})
        read_engine_table(con, bad.tables["tickets"], config=bad)
    assert "write 'updated'" in str(err.value)


# --- table: sources in a warehouse and on Spark ------------------------------------------

def _warehouse_config(zone: str, prefix: str, **extra) -> SourceConfig:
    """The sample read from a backend's tables (``prefix`` + name), in reporting zone ``zone``."""
    cfg = load_config(sample_config_path())
    tables = {name: TableConfig(name=name, path=None, table=f"{prefix}{name}",
                                **extra.get(name, {})) for name in cfg.tables}
    return replace(cfg, timezone=zone, tables=tables)


def _same_rows(got: pd.DataFrame, want: pd.DataFrame) -> None:
    cols = [c for c in want.columns if c not in ("source_row", "source_file")]
    key = [c for c in ("ticket_id", "customer_id", "paid_at", "answered_at", "amount", "nps")
           if c in cols]
    got, want = (_normal(f[cols].sort_values(key)) for f in (got, want))
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


WAREHOUSE_EXTRA = {"tickets": {"values": {"channel": {"email": "mail"}},
                               "derive": {"escalated": "escalated or csat < 2"}}}


def _check_backend(con, prefix, names):
    duck = ibis.duckdb.connect()
    sample = load_config(sample_config_path())
    for zone in ("Europe/Berlin",):  # UTC: tests/test_engine.py's parity test
        cfg = _warehouse_config(zone, prefix, **WAREHOUSE_EXTRA)
        files = replace(sample, timezone=zone, tables={
            n: replace(t, **WAREHOUSE_EXTRA.get(n, {})) for n, t in sample.tables.items()})
        for name in names:
            got = read_engine_table(con, cfg.tables[name], config=cfg).to_pandas()
            want = read_engine_table(duck, files.tables[name], config=files).to_pandas()
            _same_rows(got, want)
            assert sorted(got["source_row"]) == list(range(1, len(got) + 1))


def test_postgres_tables_give_the_files_table(postgres_con, sample_in_postgres):
    _check_backend(postgres_con, f"{sample_in_postgres}.", ["customers", "tickets", "revenue",
                                                            "surveys"])


def test_spark_views_give_the_files_table(spark_con, sample_in_spark):
    _check_backend(spark_con, sample_in_spark, ["tickets"])


def test_csv_shapes_excel_and_helpdesk_tools_write(con, tmp_path):
    (tmp_path / "r.csv").write_text(
        '\ufeffcustomer_id,paid_at,amount,Note,Note\r\n#c1, 2024-01-01 10:00 ,1.5,"a, b","x"\r\n'
        '\r\nc2,2024-01-02,NULL,"line\nbreak","say ""hi"""\r\nc3,2024-01-03,N/A,,\r\n',
        encoding="utf-8")
    got = assert_same(con, config(tmp_path, revenue={"path": "r.csv"}), "revenue")
    assert got["customer_id"].tolist() == ["#c1", "c2", "c3"]  # '#' is no comment
    assert got["note"].tolist()[:2] == ["a, b", "line\nbreak"]
    assert got["note_1"].tolist()[1] == 'say "hi"'
    (tmp_path / "short.csv").write_text("customer_id,paid_at,amount\nc1,2024-01-01\n")
    cfg = config(tmp_path, revenue={"path": "short.csv"})
    with pytest.raises(SourceError, match="another number of fields than the header"):
        read_engine_table(con, cfg.tables["revenue"], config=cfg).execute()


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Sydney",
                                  "America/Santiago", "Asia/Kolkata"])
def test_zone_rules_as_comparisons_match_pandas_every_quarter_hour(con, zone):
    walls = pd.Series(pd.date_range("2023-12-30", "2025-01-02", freq="15min"))
    t = ibis.memtable({"wall": walls})
    t = t.mutate(utc=to_utc(t.wall, zone))
    got = con.execute(t.mutate(back=local_time(t.utc, zone)))
    want = walls.dt.tz_localize(zone, ambiguous=False, nonexistent="shift_forward")
    want_utc = want.dt.tz_convert("UTC").dt.tz_localize(None)
    assert got["utc"].astype("datetime64[ns]").tolist() == want_utc.tolist()
    assert got["back"].astype("datetime64[ns]").tolist() == \
        want.dt.tz_localize(None).astype("datetime64[ns]").tolist()
