"""Source config loading and the derive expression language."""

import pandas as pd
import pytest

from cxkit.config import evaluate_expression, load_config, parse_expression
from cxkit.exceptions import ConfigError

BASE = {"tables": {"customers": {"path": "customers.csv"}}}


def with_table(**spec):
    return {"tables": {"customers": {"path": "customers.csv"}, "tickets": {"path": "t.csv", **spec}}}


def test_defaults_and_dict_base_dir(tmp_path):
    cfg = load_config({**BASE, "base_dir": str(tmp_path)})
    assert (cfg.currency, cfg.timezone, cfg.as_of) == ("USD", "UTC", None)
    assert cfg.base_dir == tmp_path
    assert cfg.tables["customers"].path == "customers.csv"


def test_yaml_file_resolves_against_its_folder_and_keeps_yes_no_text(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "currency: EUR\ntimezone: Europe/Berlin\nas_of: 2025-01-01\n"
        "tables:\n  customer_level:\n    path: x.csv\n"
        "    values: {churned: {Yes: true, No: false, on: 1}}\n")
    cfg = load_config(tmp_path / "c.yaml")
    assert cfg.base_dir == tmp_path.resolve()
    assert cfg.as_of == pd.Timestamp("2025-01-01")
    assert dict(cfg.tables["customer_level"].values["churned"]) == {"Yes": True, "No": False, "on": 1}


@pytest.mark.parametrize("raw, words", [
    ({**BASE, "currancy": "EUR"}, ["'currancy'", "currency, timezone"]),
    ({"tables": {"customers": {"path": "c.csv"}, "calls": {"path": "x"}}}, ["'calls'", "tickets"]),
    (with_table(colums={}), ["tables.tickets", "'colums'", "columns"]),
    (with_table(columns={"ticket": "Id"}), ["tables.tickets.columns", "'ticket'", "ticket_id"]),
    ({**BASE, "timezone": "Mars/Olympus"}, ["Mars/Olympus", "IANA"]),
    ({**BASE, "currency": "euro"}, ["euro", "3-letter"]),
    ({"tables": {"tickets": {"path": "t.csv"}}}, ["customers"]),
    (with_table(path="t.duckdb"), ["DuckDB", "table:"]),
    (with_table(derive={"contacts": "replies +"}), ["tables.tickets.derive.contacts", "cannot parse"]),
])
def test_config_errors_name_the_key_and_the_valid_ones(raw, words):
    with pytest.raises(ConfigError) as err:
        load_config(raw)
    for word in words:
        assert word in str(err.value)


def test_missing_yaml_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_config_is_immutable():
    cfg = load_config(BASE)
    with pytest.raises(AttributeError):  # dataclasses.FrozenInstanceError
        cfg.currency = "EUR"
    with pytest.raises(TypeError):
        cfg.tables["tickets"] = None


@pytest.mark.parametrize("expr, problem", [
    ("__import__('os').system('true')", "unknown function"),
    ("replies.real", "Attribute"),
    ("open('x')", "unknown function 'open'"),
    ("replies[0]", "Subscript"),
    ("lambda: 1", "Lambda"),
    ("status == null", "is_null"),
    ("if_else(a, b)", "takes 3"),
    ("1 < a < 3", "chained"),
    ("`Solved at", "not closed"),
])
def test_expressions_outside_the_whitelist_are_refused(expr, problem):
    with pytest.raises(ConfigError, match=problem.replace("(", r"\(")):
        parse_expression(expr)


@pytest.fixture
def frame():
    return pd.DataFrame({
        "replies": [0.0, 2.0, None],
        "status": ["cancelled", "active", None],
        "Solved at": pd.to_datetime(["2024-01-01 01:00", "2024-02-01 00:00", None]),
        "created_at": pd.to_datetime(["2024-01-01 00:00", "2024-01-31 00:00", "2024-01-01 00:00"]),
    })


def test_arithmetic_and_division_by_zero(frame):
    assert evaluate_expression("replies + 1", frame).tolist()[:2] == [1.0, 3.0]
    assert evaluate_expression("replies * 2 - 1", frame).tolist()[:2] == [-1.0, 3.0]
    assert evaluate_expression("replies / 0", frame).isna().all()


def test_if_else_with_null_keeps_timestamps(frame):
    out = evaluate_expression("if_else(status == 'cancelled', `Solved at`, null)", frame)
    assert out.dtype.kind == "M"  # datetime64 (ns on pandas 2, us on pandas 3)
    assert out.iloc[0] == pd.Timestamp("2024-01-01 01:00") and out.iloc[1:].isna().all()


def test_time_between_and_logic(frame):
    assert evaluate_expression("minutes_between(created_at, `Solved at`)", frame).tolist()[:2] == [60.0, 1440.0]
    assert evaluate_expression("hours_between(created_at, `Solved at`)", frame).iloc[1] == 24.0
    assert evaluate_expression("not is_null(status) and replies > 1", frame).tolist() == [False, True, False]
    assert evaluate_expression("status == 'x' or replies >= 0", frame).tolist() == [True, True, False]


def test_coalesce_and_to_datetime(frame):
    assert evaluate_expression("coalesce(replies, 7)", frame).tolist() == [0.0, 2.0, 7.0]
    text = pd.DataFrame({"d": ["2024-05-01", None]})
    assert evaluate_expression("to_datetime(d)", text).iloc[0] == pd.Timestamp("2024-05-01")


def test_unknown_column_lists_the_columns(frame):
    with pytest.raises(ConfigError, match="unknown column 'repliez'.*replies"):
        evaluate_expression("repliez + 1", frame)


def test_unreadable_inputs_are_reported_per_column_for_the_rows_used():
    text = pd.DataFrame({"n": ["3", "many", " ", None, "x"], "kind": ["a", "a", "a", "a", "b"],
                         "d": ["2024-05-01", "soon", "2024-05-01", None, "2024-05-01"]})
    found = {}
    out = evaluate_expression("if_else(kind == 'a', n + 1, 0)", text, unreadable=found)
    assert out.iloc[0] == 4.0 and out.iloc[4] == 0 and out.iloc[1:4].isna().all()
    assert list(found) == ["n"] and found["n"].kind == "number"
    assert found["n"].failed.tolist() == [False, True, False, False, False]  # "x" is not used
    assert found["n"].tried.tolist() == [True, True, False, False, False]  # blank and null: empty
    found = {}
    evaluate_expression("n > 2 or hours_between(d, d) > 0", text, unreadable=found)
    assert found["n"].failed.tolist() == [False, True, False, False, True]
    assert found["d"].kind == "datetime"
    assert found["d"].failed.tolist() == [False, True, False, False, False]
    assert found["d"].tried.tolist() == [False, True, True, False, True]  # row 0 decided by n
    plain = evaluate_expression("n + 1", text)  # without the mapping: same values, nothing else
    assert plain.iloc[0] == 4.0 and plain.iloc[1:].isna().all()


@pytest.mark.parametrize("expr, words", [
    ("replies + 'x'", "the literal 'x' is used as a number"),
    ("minutes_between(created_at, 'someday')", "the literal 'someday' is used as a timestamp"),
])
def test_literal_that_cannot_be_read_is_a_config_error(frame, expr, words):
    with pytest.raises(ConfigError, match=words):
        evaluate_expression(expr, frame)
    # readable literals still work, and text compared with text is left alone
    assert evaluate_expression("replies + '1'", frame).tolist()[:2] == [1.0, 3.0]
    assert evaluate_expression("hours_between('2024-01-01', `Solved at`)", frame).iloc[0] == 1.0
    assert evaluate_expression("status == 'x'", frame).tolist() == [False, False, False]


WAREHOUSE = {"engine": {"backend": "postgres", "connection": "${CXKIT_WAREHOUSE_URL}"},
             "tables": {"customers": {"table": "analytics.customers"},
                        "tickets": {"table": "zendesk__ticket_metrics"}}}


def test_engine_block_and_table_sources():
    cfg = load_config(WAREHOUSE)
    assert cfg.engine.backend == "postgres"
    assert cfg.engine.connection == "${CXKIT_WAREHOUSE_URL}"  # expanded only when connecting
    assert cfg.tables["customers"].path is None
    assert cfg.tables["customers"].table == "analytics.customers"
    assert load_config(BASE).engine is None
    local = load_config({**BASE, "engine": {"memory_limit": "2GB", "threads": 1,
                                            "temp_directory": "spill"}})
    assert (local.engine.backend, local.engine.memory_limit, local.engine.threads) == \
        ("duckdb", "2GB", 1)


@pytest.mark.parametrize("engine, words", [
    ({"backend": "oracle"}, ["engine.backend", "'oracle'", "duckdb, postgres, pyspark"]),
    ({"backend": "postgres"}, ["engine.connection is missing", "${CXKIT_WAREHOUSE_URL}"]),
    ({"backend": "postgres", "connection": "postgresql://cx:s3cret@db.example.com/prod"},
     ["password or token", "${CXKIT_WAREHOUSE_URL}"]),
    ({"backend": "snowflake", "connection": "snowflake://cx@acct/db?password=hunter2"},
     ["password or token"]),
    ({"backend": "trino", "connection": "trino://cx@host/hive?access_token=abc"},
     ["password or token"]),
    ({"backend": "postgres", "connection": "${URL}", "memory_limit": "4GB"},
     ["engine.memory_limit", "duckdb backend only"]),
    ({"memory_limit": "lots"}, ["engine.memory_limit", "'lots'", "4GB"]),
    ({"max_temp_directory_size": "big"}, ["engine.max_temp_directory_size", "'big'"]),
    ({"threads": 0}, ["engine.threads", "positive"]),
    ({"backend": "duckdb", "connection": "${X}"}, ["engine.connection", "warehouse backends"]),
    ({"backnd": "postgres"}, ["'backnd'", "backend, connection"]),
])
def test_engine_block_errors_are_one_line(engine, words):
    with pytest.raises(ConfigError) as err:
        load_config({**BASE, "engine": engine})
    assert "\n" not in str(err.value)
    for w in words:
        assert w in str(err.value)


def test_a_password_from_the_environment_is_fine():
    cfg = load_config({**WAREHOUSE, "engine": {
        "backend": "postgres", "connection": "postgresql://cx:${PGPASSWORD}@db/prod"}})
    assert cfg.engine.connection.endswith("${PGPASSWORD}@db/prod")
    # a URL without a secret may be literal (the password from ~/.pgpass, say)
    assert load_config({**WAREHOUSE, "engine": {
        "backend": "postgres", "connection": "postgresql://cx@db/prod"}}).engine.connection


@pytest.mark.parametrize("tables, words", [
    ({"customers": {"table": "customers"}}, ["needs a database", "engine:"]),
    ({"customers": {"table": "x; drop table y"}}, ["not a table name"]),
])
def test_table_sources_need_an_engine_and_a_plain_name(tables, words):
    with pytest.raises(ConfigError) as err:
        load_config({"tables": tables})
    for w in words:
        assert w in str(err.value)


def test_a_warehouse_engine_refuses_file_paths():
    with pytest.raises(ConfigError, match="give `table:` instead of `path: c.csv`"):
        load_config({**WAREHOUSE, "tables": {"customers": {"path": "c.csv"}}})


def test_connection_variables_are_expanded_and_a_missing_one_is_named(monkeypatch):
    from cxkit.config import expand_env

    monkeypatch.setenv("CXKIT_T_HOST", "db.internal")
    monkeypatch.delenv("CXKIT_T_MISSING", raising=False)
    assert expand_env("postgresql://cx@${CXKIT_T_HOST}/prod") == "postgresql://cx@db.internal/prod"
    with pytest.raises(ConfigError) as err:
        expand_env("${CXKIT_T_MISSING}")
    assert "CXKIT_T_MISSING is not set" in str(err.value) and "\n" not in str(err.value)


def test_csv_read_options_on_a_parquet_export_are_refused_in_one_line():
    tables = {"customers": {"path": "c.parquet", "read_options": {"delimiter": ";", "decimal": ","}}}
    with pytest.raises(ConfigError, match=r"tables.customers.read_options: delimiter, decimal "
                                          r"read CSV text, and c.parquet is Parquet.*remove them"):
        load_config({"tables": tables})
    tables["customers"]["path"] = "c.csv"  # the same options on a CSV export are fine
    assert load_config({"tables": tables}).tables["customers"].read_options["delimiter"] == ";"
