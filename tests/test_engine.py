"""The engine boundary: the same quality table and panel from every engine.

The reference is the default DuckDB path over the sample's CSV files; the
sample loaded into PostgreSQL (``table:`` sources) and into Spark (local mode)
must give the identical quality table and panel (medians exact), and the
DuckDB path must equal the pandas path (:func:`cxkit.read_support_data`) on
the sample, on an export shaped unlike it and on a messy export with
quarantined rows. PostgreSQL and Spark come from ``.ci/services`` (see
conftest.py: skipped without them, failed under ``CXKIT_REQUIRE_ENGINES=1``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pandas as pd
import pytest
from toy_data import sample_frames

import cxkit as cx
from cxkit.config import load_config, sample_config_path
from cxkit.engine import EngineData, open_source
from cxkit.exceptions import ConfigError

TABLES = ("customers", "tickets", "revenue", "surveys")


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _panel(data) -> pd.DataFrame:
    return _quiet(cx.build_panel, data, period="M")


@pytest.fixture(scope="module")
def duckdb_sample():
    """Quality table and monthly panel of the default engine path over the sample's CSVs."""
    with _quiet(open_source, "sample") as data:
        assert isinstance(data, EngineData) and data.backend == "duckdb"
        return data.quality, _panel(data)


def _warehouse_config(backend: str, names: dict, **engine) -> dict:
    sample = load_config(sample_config_path())
    return {"currency": sample.currency, "timezone": sample.timezone,
            "as_of": str(sample.as_of.date()),
            "engine": {"backend": backend, **engine},
            "tables": {name: {"table": table} for name, table in names.items()}}


def _check_same(quality, panel, reference):
    ref_quality, ref_panel = reference
    pd.testing.assert_frame_equal(quality, ref_quality)
    pd.testing.assert_frame_equal(panel, ref_panel)  # exact: medians included
    assert len(panel) > 10_000 and panel["first_response_minutes_median"].notna().sum() > 1000


def test_duckdb_engine_path_equals_the_pandas_path_on_the_sample(duckdb_sample):
    reference = _quiet(cx.read_support_data, "sample")
    quality, panel = duckdb_sample
    pd.testing.assert_frame_equal(quality, reference.quality)
    pd.testing.assert_frame_equal(panel, _panel(reference))
    with _quiet(open_source, "sample") as data:
        fetched = data.to_support_data()
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(fetched, name), getattr(reference, name))


def test_sample_in_postgres_gives_the_same_quality_and_panel(sample_in_postgres, duckdb_sample):
    config = _warehouse_config(
        "postgres", {n: f"{sample_in_postgres}.{n}" for n in TABLES},
        connection="${CXKIT_TEST_POSTGRES_URL}", quarantine=f"{sample_in_postgres}.quarantine_")
    with _quiet(open_source, config) as data:
        assert data.backend == "postgres"
        _check_same(data.quality, _panel(data), duckdb_sample)
        written = data.write_quarantine()
        assert written == {n: f"{sample_in_postgres}.quarantine_{n}" for n in data.names}
        assert data.con.table("quarantine_tickets", database=sample_in_postgres) \
            .count().to_pyarrow().as_py() == 0  # the sample is clean


def test_sample_in_spark_gives_the_same_quality_and_panel(sample_in_spark, duckdb_sample):
    config = _warehouse_config("pyspark", {n: f"{sample_in_spark}{n}" for n in TABLES})
    with _quiet(open_source, config) as data:
        assert data.backend == "pyspark"
        _check_same(data.quality, _panel(data), duckdb_sample)


def _messy_frames() -> dict:
    """The sample's tables with rows planted to fail a rule: 3 tickets with csat 9, 2 resolved
    before they were created, a payment of an unknown customer."""
    frames = sample_frames()
    tickets, revenue = frames["tickets"], frames["revenue"]
    tickets.loc[tickets.index[[5, 50, 500]], "csat"] = 9.0
    late = tickets.index[[7, 70]]
    tickets.loc[late, "resolved_at"] = tickets.loc[late, "created_at"] - pd.Timedelta("1h")
    revenue.loc[revenue.index[3], "customer_id"] = "nobody"
    return frames


@pytest.mark.parametrize("backend", ["postgres", "pyspark"])
def test_a_warehouse_quarantine_is_written_as_tables_like_the_files_one(backend, request,
                                                                        tmp_path):
    frames = _messy_frames()
    for name, frame in frames.items():  # the same rows as CSV files, read by DuckDB
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    files = {**_warehouse_config("duckdb", {}), "base_dir": str(tmp_path),
             "tables": {n: {"path": f"{n}.csv"} for n in TABLES}}
    files.pop("engine")
    with _quiet(open_source, files) as data:
        want_quality = data.quality
        want = {n: data._fetch_quarantine(n)[["source_row", "rule"]] for n in data.names}
    if backend == "postgres":
        con, engine = request.getfixturevalue("postgres_con"), {
            "connection": "${CXKIT_TEST_POSTGRES_URL}", "quarantine": "cxkit_messy.q_"}
        con.create_database("cxkit_messy", force=True)
        for name, frame in frames.items():
            con.create_table(name, frame, database="cxkit_messy", overwrite=True)
        names, prefix = {n: f"cxkit_messy.{n}" for n in TABLES}, "cxkit_messy.q_"
    else:
        from pyspark.sql import SparkSession

        request.getfixturevalue("spark_con")
        for name, frame in frames.items():
            SparkSession.builder.getOrCreate().createDataFrame(frame).createOrReplaceTempView(f"cxkit_messy_{name}")
        engine, names, prefix = {}, {n: f"cxkit_messy_{n}" for n in TABLES}, "cxkit_quarantine_"
    with _quiet(open_source, _warehouse_config(backend, names, **engine)) as data:
        pd.testing.assert_frame_equal(data.quality, want_quality)
        for _ in range(2):  # a second run replaces the tables
            written = data.write_quarantine()
        assert written == {n: prefix + n for n in data.names}
        for name in data.names:
            schema, _, table = written[name].rpartition(".")
            got = data.con.table(table, database=schema or None).to_pandas()
            # a warehouse numbers rows in the order of their columns: compare the rules
            assert sorted(got["rule"]) == sorted(want[name]["rule"]), name
    counts = {n: len(w) for n, w in want.items()}
    assert counts == {"customers": 0, "revenue": 1, "surveys": 0, "tickets": 5}


def test_read_support_data_of_a_warehouse_config_fetches_the_engine_tables(sample_in_postgres):
    config = _warehouse_config("postgres", {n: f"{sample_in_postgres}.{n}" for n in TABLES},
                               connection="${CXKIT_TEST_POSTGRES_URL}")
    data = _quiet(cx.read_support_data, config)
    reference = _quiet(cx.read_support_data, "sample")
    assert isinstance(data, cx.SupportData)
    for name in TABLES:  # a warehouse table has no row order: compare sorted
        key = ["customer_id"] + [c for c in getattr(reference, name).columns if c.endswith("_at")]
        got, want = (getattr(d, name).sort_values(key, kind="stable").reset_index(drop=True)
                     for d in (data, reference))
        pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("variant", ["minimal", "ecommerce"])
def test_duckdb_engine_path_equals_the_pandas_path_on_other_exports(tmp_path, variant):
    folder = cx.synth.write_sample(tmp_path, n_customers=400, months=12, seed=5, variant=variant)
    reference = _quiet(cx.read_support_data, folder / "cxkit.yaml")
    with _quiet(open_source, folder / "cxkit.yaml") as data:
        pd.testing.assert_frame_equal(data.quality, reference.quality)
        pd.testing.assert_frame_equal(data.customers, reference.customers)  # churn: inactivity
        pd.testing.assert_frame_equal(_panel(data), _panel(reference))


def _messy_export(tmp_path):
    """A small sample with rows every rule family sets aside."""
    folder = cx.synth.write_sample(tmp_path, n_customers=300, months=12, seed=3)
    tickets = pd.read_csv(folder / "tickets.csv", dtype=str, keep_default_na=False)
    tickets.loc[3, "created_at"] = "31/02/2024 10:00"  # unparseable
    tickets.loc[5, "csat"] = "9"  # out of range
    tickets.loc[7, "customer_id"] = "C999999"  # unknown customer
    tickets.loc[9, "resolved_at"] = "2031-01-01 00:00:00"  # future
    tickets.loc[11, "ticket_id"] = tickets.loc[12, "ticket_id"]  # duplicate id
    tickets = pd.concat([tickets, tickets.iloc[[20]]], ignore_index=True)  # duplicate row
    tickets.to_csv(folder / "tickets.csv", index=False)
    revenue = pd.read_csv(folder / "revenue.csv", dtype=str, keep_default_na=False)
    revenue.loc[2, "amount"] = "-5.00"
    revenue.to_csv(folder / "revenue.csv", index=False)
    return folder / "cxkit.yaml"


def test_duckdb_engine_path_equals_the_pandas_path_on_a_messy_export(tmp_path):
    config = _messy_export(tmp_path)
    reference = _quiet(cx.read_support_data, config)
    assert reference.quality["rows_quarantined"].sum() == 7
    with pytest.warns(cx.QuarantineWarning, match="7 rows quarantined"):
        data = open_source(config)
    with data:
        pd.testing.assert_frame_equal(data.quality, reference.quality)
        for name in TABLES:
            got = data.quarantine(name).to_pandas()
            want = reference.quarantine[name]
            assert sorted(zip(got["rule"], got["source_row"], strict=True)) == \
                sorted(zip(want["rule"], want["source_row"], strict=True))
        written = data.write_quarantine(tmp_path / "q")
        assert sorted(written) == ["revenue", "tickets"]
        rows = pd.read_csv(written["tickets"])
        assert "31/02/2024" in " ".join(rows["unparsed_values"].fillna(""))
        pd.testing.assert_frame_equal(_panel(data), _panel(reference))


def test_duckdb_session_is_bounded_and_its_files_removed_on_close(tmp_path):
    raw = {"as_of": "2026-01-01", "base_dir": str(sample_config_path().parent),
           "engine": {"memory_limit": "512MB", "threads": 1, "temp_directory": str(tmp_path),
                      "max_temp_directory_size": "1GB"},
           "tables": {"customers": {"path": "customers.csv"}}}
    with _quiet(open_source, raw) as data:
        settings = data.con.raw_sql(
            "SELECT current_setting('memory_limit'), current_setting('threads'), "
            "current_setting('max_temp_directory_size')").fetchall()
        assert settings == [("488.2 MiB", 1, "953.6 MiB")]
        assert len(list(tmp_path.iterdir())) == 1  # the engine's temporary folder
    assert list(tmp_path.iterdir()) == []


def test_duckdb_session_is_in_utc_whatever_the_machine_zone():
    code = ("from cxkit.engine import connect; from cxkit.config import EngineConfig; "
            "con = connect(EngineConfig(backend='duckdb')); "
            "print(con.raw_sql(\"SELECT current_setting('TimeZone')\").fetchone()[0])")
    env = {**os.environ, "TZ": "Europe/Berlin"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.strip() == "UTC"


def test_connection_errors_are_one_line(monkeypatch):
    monkeypatch.delenv("CXKIT_NO_SUCH_URL", raising=False)
    config = {"engine": {"backend": "postgres", "connection": "${CXKIT_NO_SUCH_URL}"},
              "tables": {"customers": {"table": "customers"}}}
    with pytest.raises(ConfigError) as err:
        open_source(config)
    assert "CXKIT_NO_SUCH_URL is not set" in str(err.value) and "\n" not in str(err.value)
    monkeypatch.setenv("CXKIT_NO_SUCH_URL", "snowflake://cx@acct/db")
    config["engine"]["backend"] = "snowflake"
    with pytest.raises(ConfigError, match=r"pip install 'cxkit\[snowflake\]'"):
        open_source(config)


def test_pseudonymise_through_the_engine_says_what_to_do():
    raw = {"pseudonymise": True, "base_dir": str(sample_config_path().parent),
           "tables": {"customers": {"path": "customers.csv"}}}
    with pytest.raises(ConfigError, match="pseudonymise is not available through the engine"):
        open_source(raw)


def test_cli_validate_runs_an_engine_config_through_the_engine(tmp_path):
    config = _messy_export(tmp_path)
    text = config.read_text() + "engine: {backend: duckdb, memory_limit: 1GB}\n"
    config.write_text(text)
    out = subprocess.run([sys.executable, "-m", "cxkit.cli", "validate", str(config),
                          "--quarantine-dir", str(tmp_path / "q")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "csat_out_of_range" in out.stdout and "Rows quarantined: 7." in out.stdout
    assert sorted(p.name for p in (tmp_path / "q").iterdir()) == ["revenue.csv", "tickets.csv"]


def test_import_cxkit_does_not_load_ibis():
    code = "import sys, cxkit, cxkit.cli; print('ibis' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("config, tables", [
    ("tests/fixtures/helpdesk/cxkit.yaml", ("customers", "tickets", "revenue")),  # NY -> Berlin
    ("examples/telco/cxkit.yaml", ("customers", "customer_level")),  # one row per customer
])
def test_duckdb_engine_path_equals_the_pandas_path_on_exports_of_other_shapes(config, tables):
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / config
    reference = _quiet(cx.read_support_data, path)
    with _quiet(open_source, path) as data:
        fetched = data.to_support_data()
        if "tickets" in tables:
            pd.testing.assert_frame_equal(_panel(data), _panel(reference))
            for kpi, kwargs in ((cx.metrics.contact_rate, {"by": "plan"}),
                                (cx.metrics.channel_mix, {"period": "M"})):
                got = _quiet(kpi, data, **kwargs)
                pd.testing.assert_frame_equal(got, _quiet(kpi, reference, **kwargs))
                assert got["n_tickets"].sum() == len(reference.tickets)
    pd.testing.assert_frame_equal(fetched.quality, reference.quality)
    for name in tables:
        pd.testing.assert_frame_equal(getattr(fetched, name), getattr(reference, name))


def test_mixes_and_ticket_kpis_leave_the_customers_in_the_engine():
    """Only the contact rate needs the customers in memory; recognising an engine's data must
    not fetch them (``customers`` is a fetching property)."""
    with _quiet(open_source, "sample") as data:
        assert cx.data.is_engine_data(data) and data._customers is None
        for kpi in (cx.metrics.channel_mix, cx.metrics.reason_mix, cx.compute_kpis):
            _quiet(kpi, data, period="M", by="segment")
        assert data._customers is None
        _quiet(cx.metrics.contact_rate, data, period="M")
        assert data._customers is not None
