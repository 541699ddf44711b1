"""Validation rules in the engine: the same quality table, quarantine and clean rows as pandas.

Each check runs :func:`cxkit.validate.validate_tables` and
:func:`cxkit._engine_rules.check_tables` on the same typed tables (the
engine's copies made with ``create_table`` on an in-memory DuckDB) and
compares the quality table exactly, the quarantine row by row in file order
and the clean tables row by row.
"""

from __future__ import annotations

import math
import warnings

import ibis
import numpy as np
import pandas as pd
import pytest
from test_catalogue import ROW_CASES, Case, write_export

from cxkit._engine_rules import FAILS, RULE, check_tables, exact_quantiles
from cxkit.config import Dedupe, Plausibility, load_config
from cxkit.exceptions import QuarantineWarning
from cxkit.io import read_table, sample_config_path
from cxkit.validate import QUALITY_COLUMNS, validate_tables


def _value(v):
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, pd.Timestamp | np.datetime64):
        return pd.Timestamp(v).isoformat()
    return v


def _rows(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(_value(v) for v in row) for row in frame.astype(object).itertuples(index=False)]


def on_duckdb(raw: dict) -> dict:
    con = ibis.duckdb.connect()
    return {name: con.create_table(name, frame) for name, frame in raw.items()}


def _both(raw: dict, *, as_of, load=on_duckdb, materialise=None, **options):
    """(pandas result, engine result, pandas warnings, engine warnings) on the same tables."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clean, quality, quarantine = validate_tables(raw, as_of=as_of, **options)
    tables = load(raw)
    checked = check_tables(tables, as_of=as_of, materialise=materialise, **options)
    with warnings.catch_warnings(record=True) as caught_engine:
        warnings.simplefilter("always")
        engine_quality = checked.quality()
    said = [str(w.message) for w in caught if issubclass(w.category, QuarantineWarning)]
    said_engine = [str(w.message) for w in caught_engine
                   if issubclass(w.category, QuarantineWarning)]
    return (clean, quality, quarantine), (checked, engine_quality), said, said_engine


def assert_same(raw: dict, *, as_of, load=on_duckdb, materialise=None, **options
                ) -> pd.DataFrame:
    """Quality, quarantine, clean tables and the warning agree; the quality table is returned."""
    (clean, quality, quarantine), (checked, engine_quality), said, said_engine = _both(
        raw, as_of=as_of, load=load, materialise=materialise, **options)
    assert list(engine_quality.columns) == QUALITY_COLUMNS
    pd.testing.assert_frame_equal(engine_quality, quality)
    assert said_engine == said
    for name in raw:
        engine_bad = checked.quarantine(name).to_pandas()
        assert list(engine_bad.columns) == list(quarantine[name].columns), name
        assert _rows(engine_bad) == _rows(quarantine[name]), name
        engine_clean = checked.clean(name).to_pandas()
        assert list(engine_clean.columns) == list(clean[name].columns), name
        assert sorted(_rows(engine_clean), key=repr) == sorted(_rows(clean[name]), key=repr), name
    return quality


def _read(config) -> tuple[dict, object]:
    cfg = load_config(config)
    return {name: read_table(t, config=cfg) for name, t in cfg.tables.items()}, cfg


def _options(cfg) -> dict:
    return dict(plausibility=cfg.plausibility, currency=cfg.currency,
                dedupe={n: t.dedupe for n, t in cfg.tables.items() if t.dedupe is not None})


def test_sample_gives_the_same_quality_table_and_clean_tables():
    raw, cfg = _read(sample_config_path())
    quality = assert_same(raw, as_of=cfg.as_of, **_options(cfg))
    assert len(quality) > 30 and (quality["rule"] == "missing_value").any()


PLAIN = [c for c in ROW_CASES if not c.config and not c.split]  # rows added, default config
OWN = [c for c in ROW_CASES if c.config or c.split]


def test_all_plain_bad_inputs_of_the_catalogue_at_once_give_the_same_result(tmp_path):
    """The catalogue's cases without their own config, their bad rows in one export."""
    together = Case("together")
    for case in PLAIN:
        for table, rows in case.add.items():
            together.add.setdefault(table, []).extend(rows)
    raw, cfg = _read(write_export(tmp_path, together))
    quality = assert_same(raw, as_of=cfg.as_of, **_options(cfg))
    hit = set(quality.loc[quality["rows_flagged"] > 0, "rule"])  # copies share ids: flagged
    assert {rule for c in PLAIN for (_, rule) in c.counts} <= hit


@pytest.mark.parametrize("case", OWN, ids=[c.id for c in OWN])
def test_each_bad_input_with_its_own_config_gives_the_same_result(tmp_path, case):
    raw, cfg = _read(write_export(tmp_path, case))
    quality = assert_same(raw, as_of=cfg.as_of, **_options(cfg))
    counts = quality.set_index(["table", "rule"])["rows_quarantined"]
    assert {k: int(v) for k, v in counts[counts > 0].items()} == case.counts


def messy_tables() -> dict[str, pd.DataFrame]:
    """Typed tables that fail every rule at least once, some rows several rules."""
    def ts(values):
        return pd.to_datetime(values, format="ISO8601")
    customers = pd.DataFrame({
        "source_row": range(1, 9), "source_file": "customers.csv",
        "customer_id": ["c1", "c2", "c3", "c3", None, "c5", "c6", "c7"],
        "signup_at": ts(["2023-01-01", "2023-02-01", "2023-03-01", "2023-03-02", "2023-01-01",
                         "2031-01-01", "2023-05-01", "2023-06-01"]),
        "churned_at": ts([None, "2024-06-01", None, None, None, None, "2023-04-01", None]),
        "plan": ["pro", None, "basic", "basic", "pro", "pro", "pro", "pro"],
        "_unparsed_columns": ["", "", "", "", "", "", "", "signup_at"],
        "_unparsed_values": ["", "", "", "", "", "", "", "signup_at='soon'"]})
    ok = dict(customer_id="c1", created_at="2024-01-05 10:00", first_response_minutes=5.0,
              resolved_at="2024-01-06 10:00", contacts=1, csat=3.0, unparsed="", text="")
    rows = [  # (file, ticket_id, changes): the first file's t1 and t2 are superseded
        (1, "t1", {}), (1, "t2", dict(customer_id="c2", csat=6.0)),
        (1, "t3", dict(customer_id="c3", resolved_at="2024-01-04")),
        (1, "t4", dict(customer_id="ghost", first_response_minutes=50000.0)),
        (1, "t5", dict(resolved_at="2030-01-01")),
        (1, "t6", dict(customer_id="c2", created_at="2014-01-05 10:00")),
        (1, "t7", dict(customer_id="c6")),
        (2, "t1", {}), (2, "t2", dict(customer_id="c2", resolved_at=None)),
        (2, "t8", dict(contacts=2)), (2, "t8", dict(contacts=2)),
        (2, "t9", dict(customer_id=None)),
        (2, "t10", dict(customer_id="c3", csat=np.nan, unparsed="csat", text="csat='five'")),
        (2, "t11", dict(customer_id="c7")), (2, "t12", dict(csat=6.0)),
        (2, "t13", dict(contacts=0)), (2, "t14", dict(first_response_minutes=-1.0)),
        (2, "t15", dict(customer_id="c2", created_at="2024-07-01", resolved_at="2024-07-02")),
        (2, "t16", dict(resolved_at="2025-03-01")),
        (2, "t17", dict(first_response_minutes=np.nan, contacts=None, csat=np.nan)),
    ]
    tickets = pd.DataFrame([{"file": f, "ticket_id": tid, **ok, **changes}
                            for f, tid, changes in rows])
    tickets.insert(0, "source_row", tickets.groupby("file").cumcount() + 1)
    tickets.insert(1, "source_file", "tickets-" + tickets.pop("file").astype(str) + ".csv")
    for col in ("created_at", "resolved_at"):
        tickets[col] = ts(tickets[col])
    tickets["contacts"] = tickets["contacts"].astype("Int64")
    tickets["channel"] = "email"
    tickets["_unparsed_columns"] = tickets.pop("unparsed")
    tickets["_unparsed_values"] = tickets.pop("text")
    revenue = pd.DataFrame({
        "source_row": range(1, 8), "source_file": "revenue.csv",
        "customer_id": ["c1", "c1", "c2", "ghost", "c3", "c1", "c1"],
        "paid_at": ts(["2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01", "2024-02-01",
                       "2024-03-01", "2024-03-01"]),
        "amount": [10.0, 10.0, -5.0, 7.0, 7.0, 8.0, np.nan],
        "currency": ["usd", "usd", "USD", "USD", "EUR ", None, "USD"]})
    surveys = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c1"],
        "answered_at": ts(["2024-01-01", "2024-01-02", "2005-01-01", "2024-01-03"]),
        "nps": [9.0, 11.0, 5.0, np.nan]})
    return {"customers": customers, "tickets": tickets, "revenue": revenue, "surveys": surveys}


def test_messy_tables_fail_every_rule_the_same_way():
    quality = assert_same(messy_tables(), as_of=pd.Timestamp("2025-06-01"), currency="usd",
                          dedupe={"tickets": Dedupe(keep="last")})
    hit = set(quality.loc[quality["rows_quarantined"] > 0, "rule"])
    assert {"superseded", "unparseable_value", "missing_required", "duplicate_row",
            "duplicate_id", "negative_amount", "csat_out_of_range", "nps_out_of_range",
            "contacts_below_one", "first_response_before_created", "resolved_before_created",
            "churned_before_signup", "future_date", "implausible_date", "resolution_too_long",
            "first_response_too_long", "other_currency", "unknown_customer",
            "outside_customer_span"} <= hit
    got = quality[(quality["rows_flagged"] > 0) & (quality["rule"] != "missing_value")]
    got = {(r.table, r.rule): (r.rows_flagged, r.rows_quarantined) for r in got.itertuples()}
    assert {k: v for k, v in got.items() if v != (1, 1)} == {  # worked out by hand
        ("tickets", "superseded"): (3, 3),  # t1, t2 of the first file; the first t8 copy
        ("tickets", "resolution_too_long"): (3, 1),  # t5 (future), t6 (2014 typo), t16
        ("tickets", "unknown_customer"): (3, 2),  # ghost (too slow a reply), c6, c7
        ("tickets", "outside_customer_span"): (2, 1)}  # t6 before c2's signup, t15 after churn
    assert len(got) == 25


@pytest.mark.parametrize("dedupe", [Dedupe(keep="first"), Dedupe(keep="last", by="updated_at"),
                                    Dedupe(keep="first", by="updated_at"),
                                    Dedupe(keep="last", key=("customer_id", "channel"))],
                         ids=["first", "last-by-column", "first-by-column", "key"])
def test_superseded_versions_follow_the_dedupe_rule(dedupe):
    raw = messy_tables()
    updated = ["2024-02-01", "2024-03-01", None, None, None, None, None,  # first file
               None, "2024-04-01"]  # second file: t1 without a date (sorts first)
    raw["tickets"]["updated_at"] = pd.to_datetime(
        updated + [None] * (len(raw["tickets"]) - len(updated)), format="ISO8601")
    quality = assert_same(raw, as_of=pd.Timestamp("2025-06-01"), dedupe={"tickets": dedupe})
    assert quality.set_index(["table", "rule"]).loc[("tickets", "superseded"),
                                                    "rows_quarantined"] > 0


def test_limits_switched_off_and_earliest_in_the_reporting_zone():
    limits = Plausibility(max_resolution_days=0.5, max_first_response_days=None,
                          earliest=pd.Timestamp("2023-06-01"), date_fence=None,
                          duplicate_rows=False, customer_span=False)
    quality = assert_same(messy_tables(), as_of=pd.Timestamp("2025-06-01"), plausibility=limits)
    rules = set(quality["rule"])
    assert "first_response_too_long" not in rules and "duplicate_row" not in rules
    assert "outside_customer_span" not in rules and "implausible_date" in rules


def test_customer_level_mode():
    level = pd.DataFrame({"customer_id": ["a", "b", "b", None, "c"],
                          "churned": [True, False, False, True, False],
                          "tenure_months": [3.0, -1.0, 2.0, 4.0, 5.0],
                          "region": ["north", None, "south", "north", None]})
    tickets = messy_tables()["tickets"]
    tickets["customer_id"] = ["a", "b", "zz"] + ["c"] * (len(tickets) - 3)
    quality = assert_same({"customer_level": level, "tickets": tickets},
                          as_of=pd.Timestamp("2025-06-01"))
    assert "outside_customer_span" not in set(quality["rule"])  # needs customers' dates
    got = quality.set_index(["table", "rule"])
    assert got.loc[("customer_level", "negative_tenure"), "rows_quarantined"] == 1
    assert got.loc[("tickets", "unknown_customer"), "rows_flagged"] == 2  # "b" (set aside), "zz"


def test_flagged_tables_carry_the_rule_and_one_flag_per_rule():
    con = ibis.duckdb.connect()
    raw = messy_tables()
    tables = {name: con.create_table(name, frame) for name, frame in raw.items()}
    checked = check_tables(tables, as_of="2025-06-01")
    flagged = checked.flagged["revenue"]
    flags = [c for c in flagged.columns if c.startswith(FAILS)]
    assert flags == [r.flag for r in checked.plans["revenue"].rules]
    assert flagged.count().to_pandas() == len(raw["revenue"])
    kept = flagged.filter(flagged[RULE].isnull()).count().to_pandas()
    assert kept == checked.clean("revenue").count().to_pandas()


def test_materialised_tables_give_the_same_counts():
    con = ibis.duckdb.connect()
    raw = messy_tables()
    tables = {name: con.create_table(name, frame) for name, frame in raw.items()}
    made = []

    def materialise(name, table):
        made.append(name)
        return con.create_table(f"checked_{name}", table, temp=True)
    options = dict(as_of="2025-06-01", dedupe={"tickets": Dedupe()})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", QuarantineWarning)
        lazy = check_tables(tables, **options)
        direct = lazy.quality()
        stored = check_tables(tables, materialise=materialise, **options).quality()
        swapped = lazy.with_flagged({"tickets": con.create_table(
            "swapped", lazy.flagged["tickets"], temp=True)}).quality()
    flagged = [n for n in made if "_repeats_" not in n]  # the rest: keys that repeat
    assert flagged[:1] == ["customers"] and sorted(flagged) == sorted(raw)
    assert "tickets_repeats_0" in made and made.index("tickets_repeats_0") < made.index("tickets")
    pd.testing.assert_frame_equal(stored, direct)
    pd.testing.assert_frame_equal(swapped, direct)
    with pytest.raises(KeyError, match="no checked table"):
        lazy.with_flagged({"nope": tables["revenue"]})


def on_postgres(con):
    def load(raw):
        return {name: con.create_table(f"cx_rules_{name}", frame, temp=True, overwrite=True)
                for name, frame in raw.items()}
    return load


def on_spark(con):
    def load(raw):
        import pyarrow as pa
        from pyspark.sql import SparkSession

        session = SparkSession.builder.getOrCreate()  # the test run's one session
        out = {}
        for name, frame in raw.items():
            view = f"cx_rules_{name}"
            session.createDataFrame(pa.Table.from_pandas(frame, preserve_index=False)) \
                .createOrReplaceTempView(view)
            out[name] = con.table(view)
        return out
    return load


@pytest.mark.parametrize("backend", ["postgres", "spark"])
def test_messy_tables_on_postgres_and_spark(request, backend):
    con = request.getfixturevalue(f"{backend}_con")
    load = on_postgres(con) if backend == "postgres" else on_spark(con)

    def materialise(name, table):  # checked once, as the engine does; later queries read it
        if backend == "spark":
            return table.cache()
        return con.create_table(f"cx_rules_checked_{name}", table, temp=True, overwrite=True)
    raw = messy_tables()
    raw["surveys"].insert(0, "source_row", range(1, len(raw["surveys"]) + 1))  # as read gives
    if backend == "spark":  # each Spark query costs seconds: the tables with windows and joins
        raw = {name: raw[name] for name in ("customers", "tickets")}
    raw["tickets"]["updated_at"] = raw["tickets"]["created_at"].where(
        raw["tickets"]["source_file"] == "tickets-2.csv")
    quality = assert_same(raw, as_of=pd.Timestamp("2025-06-01"), load=load,
                          materialise=materialise, currency="usd",
                          dedupe={"tickets": Dedupe(keep="first", by="updated_at"),
                                  "revenue": Dedupe(key=("customer_id", "paid_at"))})
    assert quality["rows_quarantined"].sum() > 15


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_exact_quantiles_equal_pandas_in_bounded_passes(seed):
    """Day-binned exact quartiles equal pandas' linear quantile (ties, gaps, years before 1970)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 5000))
    seconds = np.concatenate([
        rng.integers(-40 * 365 * 86400, 60 * 365 * 86400, n),   # spread over a century
        np.repeat(rng.integers(0, 10**9, 3), rng.integers(1, 400, 3)),  # heavy ties
    ])
    frame = pd.DataFrame({"s": seconds})
    table = ibis.duckdb.connect().create_table("q", frame)
    probs = (0.0, 0.25, 0.5, 0.75, 1.0)
    got = exact_quantiles(table.s, probs)
    want = pd.Series(seconds, dtype="float64").quantile(list(probs)).to_numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    assert exact_quantiles(table.filter(table.s < -10**12).s, probs) is None
