"""The engine forms of the panel: per-ticket quantities, period tables, cells, panels.

Engine tables here are DuckDB tables made from the pandas path's frames (the
sample is in UTC, so its naive times are UTC instants); other backends are
checked by compiling the expressions to their SQL.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pytest

import cxkit
import cxkit.panel as panel_module
from cxkit import _ticket_quantities as tq
from cxkit import metrics, periods
from cxkit.availability import Missing
from cxkit.exceptions import ParameterError
from cxkit.panel import build_panel, iter_panel, write_panel
from cxkit.synth import make_sample


def _tickets() -> pd.DataFrame:
    """Tickets with every quantity's source columns, missing values and a DST change."""
    t = pd.DataFrame({
        "ticket_id": ["a", "b", "c", "d", "e"],
        "customer_id": ["c1", "c1", "c2", "c2", "c3"],
        "created_at": pd.to_datetime(["2024-01-01 00:00", "2024-03-30 22:00", "2024-01-02 00:00",
                                      "2024-10-26 23:59:30.25", "2024-02-01"], format="ISO8601"),
        "first_response_at": pd.to_datetime(["2024-01-01 00:30", None, "2024-01-02 01:00",
                                             "2024-10-27 04:00", None]),
        "resolved_at": pd.to_datetime(["2024-01-01 06:00", "2024-03-31 05:00", None,
                                       "2024-10-28 00:00:00.5", "2024-02-03"], format="ISO8601"),
        "contacts": pd.array([1, 2, 1, None, 1], dtype="Int64"),
        "reopened": pd.array([True, False, None, False, True], dtype="boolean"),
        "escalated": pd.array([False, None, False, True, False], dtype="boolean"),
        "channel": ["email", "self_service", None, "chat", "self_service"],
        "csat": [5.0, 3.0, np.nan, 4.0, 1.0],
        "ces": [7.0, np.nan, 2.0, 6.0, 1.0],
    })
    return t


def _engine(frame: pd.DataFrame):
    con = ibis.duckdb.connect()
    return con.create_table("tickets", frame)


def _fetch(expr) -> np.ndarray:
    return expr.to_pandas().astype("float64").to_numpy()


@pytest.mark.parametrize("name", list(tq.QUANTITIES))
def test_each_ibis_quantity_equals_the_pandas_one(name):
    frame = _tickets()
    table = _engine(frame)
    ordered = table.order_by("ticket_id")
    expected = tq.ticket_quantity(frame, name).to_numpy()
    got = _fetch(ordered.select(x=tq.ticket_quantity_expr(ordered, name)).x)
    np.testing.assert_array_equal(got, expected)


def test_a_quantity_without_its_columns_is_none():
    table = _engine(_tickets().drop(columns=["csat", "resolved_at"]))
    assert tq.ticket_quantity_expr(table, "csat") is None
    assert tq.ticket_quantity_expr(table, "resolution_hours") is None
    assert tq.missing_column(table, "resolution_hours") == "resolved_at"


@pytest.mark.parametrize("drop", [[], ["first_response_at"], ["contacts"], ["resolved_at"]])
def test_read_time_quantities_match_the_pandas_path(drop):
    frame = _tickets().drop(columns=drop)
    expected = tq.add_ticket_quantities(frame.copy())
    table = tq.add_ticket_quantity_exprs(_engine(frame)).order_by("ticket_id")
    got = table.to_pandas()
    assert list(got.columns) == list(expected.columns)
    for name in tq.READ_TIME:
        if name in expected:
            np.testing.assert_array_equal(got[name].astype("float64"), expected[name], name)


def test_given_first_response_minutes_are_kept():
    frame = _tickets().drop(columns=["first_response_at"]).assign(
        first_response_minutes=[1.0, np.nan, 3.0, 4.0, 5.0])
    table = tq.add_ticket_quantity_exprs(_engine(frame)).order_by("ticket_id")
    np.testing.assert_array_equal(_fetch(table.first_response_minutes),
                                  [1.0, np.nan, 3.0, 4.0, 5.0])


def test_sample_quantities_match():
    data = cxkit.read_support_data("sample")
    frame = data.tickets.drop(columns=["resolution_hours", "first_contact_resolved"])
    table = tq.add_ticket_quantity_exprs(_engine(frame)).order_by("ticket_id").to_pandas()
    expected = data.tickets.sort_values("ticket_id", ignore_index=True)
    for name in tq.READ_TIME:
        np.testing.assert_array_equal(table[name].astype("float64"), expected[name], name)


def test_durations_are_instants_across_a_clock_change():
    """Local Berlin times: 2024-03-30 22:00 -> 03-31 05:00 is 6 h (clocks went forward)."""
    frame = _tickets()
    local = tq.add_ticket_quantities(frame.copy(), timezone="Europe/Berlin")
    assert local["resolution_hours"].tolist()[1] == 6.0
    # 2024-10-26 23:59:30.25 -> 10-28 00:00:00.5 local: one hour more than the clocks show
    assert local["resolution_hours"].tolist()[3] == pytest.approx(25 + 30.25 / 3600)
    utc = frame.copy()
    for col in ("created_at", "first_response_at", "resolved_at"):
        utc[col] = (frame[col].dt.tz_localize("Europe/Berlin", ambiguous=False)
                    .dt.tz_convert("UTC").dt.tz_localize(None))
    engine = tq.add_ticket_quantity_exprs(_engine(utc)).order_by("ticket_id").to_pandas()
    for name in ("first_response_minutes", "resolution_hours"):
        np.testing.assert_array_equal(engine[name].astype("float64"), local[name], name)


@pytest.mark.parametrize("dialect", ["postgres", "pyspark"])
def test_quantities_compile_without_decimal_literals_or_boolean_casts(dialect):
    getattr(ibis, dialect)  # registers the backend's compile options
    table = ibis.table({c: t for c, t in {
        "created_at": "timestamp", "first_response_at": "timestamp", "resolved_at": "timestamp",
        "contacts": "int64", "reopened": "boolean", "escalated": "boolean", "channel": "string",
        "csat": "float64", "ces": "float64"}.items()}, name="tickets")
    exprs = {n: tq.ticket_quantity_expr(table, n) for n in tq.QUANTITIES}
    sql = ibis.to_sql(table.select(**exprs), dialect=dialect)
    assert re.search(r"\d\.\d", sql) is None, sql  # no bare decimal literal anywhere
    for flag in ("reopened", "escalated"):  # flags become numbers through conditionals
        assert not re.search(rf"CAST\([^()]*{flag}[^()]*\) AS DOUBLE", sql), sql
    assert "CAST(3600000000 AS DOUBLE" in sql and "CAST(60000000 AS DOUBLE" in sql


def test_float_literals_are_exact_doubles():
    con = ibis.duckdb.connect()
    for value in (0.9, 3600.0, -2.5, 1e-7, 2.0**60):
        assert con.execute(tq.float_literal(value)) == value


# ------------------------------------------------------------------ panels from an engine

_TIMES = {"tickets": ("created_at", "resolved_at", "first_response_at"),
          "revenue": ("paid_at",), "surveys": ("answered_at",)}


class _EngineStandIn:
    """The parts of an engine's data the panel reads, over DuckDB tables made from frames.

    ``utc`` holds the event tables with UTC instants (default: the frames'
    naive times, which are UTC for the sample).
    """

    def __init__(self, data, *, utc: dict | None = None):
        self.con = ibis.duckdb.connect()
        self.customers, self.metrics = data.customers, data.metrics
        self.currency, self.timezone = data.currency, data.timezone
        self.tables = {}
        for name in ("customers", *_TIMES):
            frame = (utc or {}).get(name, getattr(data, name))
            if frame is not None:
                table = self.con.create_table(name, frame)
                if name == "tickets":  # as the engine reader leaves them
                    table = tq.add_ticket_quantity_exprs(table)
                self.tables[name] = table

    def table(self, name):
        return self.tables.get(name)


def _same_panel(data, engine, **kwargs) -> pd.DataFrame:
    expected = build_panel(data, **kwargs)
    got = build_panel(engine, **kwargs)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs
    return got


def _in_zone(data, zone: str):
    """``data`` (naive UTC times) as an export in reporting zone ``zone``, and its UTC tables.

    Tickets with a time in the hour the clocks repeat (fall back) are left out: naive local
    times cannot tell its two instants apart, so the frames' durations may be an hour off
    there, while the engine's, from UTC instants, are exact.
    """
    t = data.tickets
    repeated = np.zeros(len(t), bool)
    for col in _TIMES["tickets"]:
        if col in t:
            back = periods.local_to_utc(periods.utc_to_local(t[col], zone), zone)
            repeated |= (back != t[col]).to_numpy() & t[col].notna().to_numpy()
    data = dataclasses.replace(data, tickets=t[~repeated].reset_index(drop=True))

    def local(frame, cols):
        frame = frame.copy()
        for col in cols:
            if col in frame:
                frame[col] = periods.utc_to_local(frame[col], zone)
        return frame
    tables = {n: local(getattr(data, n), c) for n, c in _TIMES.items()
              if getattr(data, n) is not None}
    tables["tickets"] = tq.add_ticket_quantities(tables["tickets"], timezone=zone)
    customers = local(data.customers, ("signup_at", "churned_at"))
    utc = {n: getattr(data, n) for n in ("customers", *_TIMES)}
    return dataclasses.replace(data, customers=customers, timezone=zone, **tables), utc


@pytest.fixture(scope="module")
def sample_data():
    return cxkit.read_support_data("sample")


def test_sample_panel_from_the_engine_is_the_frames_panel(sample_data):
    panel = _same_panel(sample_data, _EngineStandIn(sample_data))
    assert panel["reason_share_billing"].notna().sum() > 1000  # the families came through
    assert panel["resolution_hours_median"].notna().sum() > 1000


@pytest.mark.parametrize("period", ["W", "Q"])
def test_weekly_and_quarterly_panels_agree(sample_data, period):
    _same_panel(sample_data, _EngineStandIn(sample_data), period=period, horizon=2, lookback=2)


def test_start_and_end_agree(sample_data):
    _same_panel(sample_data, _EngineStandIn(sample_data), start="2024-03-15", end="2024-09-01")


@pytest.mark.parametrize("variant", ["minimal", "bare", "reason_effect", "ecommerce",
                                     "log_resolution"])
def test_variant_panels_agree(variant):
    data, _ = make_sample(n_customers=300, months=8, seed=3, variant=variant)
    _same_panel(data, _EngineStandIn(data))


@pytest.mark.parametrize("period", ["W", "M"])
def test_a_reporting_zone_with_clock_changes_agrees(period):
    """Berlin: months start at 22:00 or 23:00 UTC; the clocks change in March and October."""
    data, _ = make_sample(n_customers=400, months=14, seed=5, start="2024-01-01")
    local, utc = _in_zone(data, "Europe/Berlin")
    panel = _same_panel(local, _EngineStandIn(local, utc=utc), period=period)
    # the zone moved tickets between periods: the panel is not the UTC one
    assert not panel["ticket_count"].equals(build_panel(data, period=period)["ticket_count"])


def test_parts_concatenate_to_the_panel(sample_data, tmp_path, monkeypatch):
    engine = _EngineStandIn(sample_data)
    whole = build_panel(engine, period="M")
    monkeypatch.setattr(panel_module, "_TICKETS_PER_FETCH", 5_000)  # several fetches per part
    pieces = list(iter_panel(engine, parts=3, period="M"))
    assert len(pieces) == 3 and len({p["customer_id"].iloc[0] for p in pieces}) == 3
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole)
    assert all(p.attrs == whole.attrs for p in pieces)
    one = list(iter_panel(engine, parts=1, period="M"))
    pd.testing.assert_frame_equal(one[0], whole)
    files = write_panel(engine, tmp_path / "panel", parts=3, period="M")
    assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet",
                                       "part-00002.parquet"]
    back = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    pd.testing.assert_frame_equal(back, whole, check_dtype=False)
    with pytest.raises(ParameterError, match="already holds"):
        write_panel(engine, tmp_path / "panel", parts=2)


def test_a_failed_part_write_stops_write_panel(sample_data, tmp_path, monkeypatch):
    """Parts are written in a thread while the next is built; a failed write is raised,
    not lost, and no later part is started after it."""
    written = []

    def to_parquet(frame, path, **kwargs):
        written.append(Path(path).name)
        if len(written) == 2:
            raise OSError(28, "No space left on device")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    with pytest.raises(OSError, match="No space left"):
        write_panel(sample_data, tmp_path / "panel", parts=4, period="Q")
    assert written == ["part-00000.parquet", "part-00001.parquet"]


def test_frames_parts_concatenate_to_the_panel(sample_data):
    whole = build_panel(sample_data, period="Q")
    pieces = list(iter_panel(sample_data, parts=4, period="Q"))
    pd.testing.assert_frame_equal(pd.concat(pieces, ignore_index=True), whole)


def test_declared_metrics_and_families_of_a_vendor_export_agree(tmp_path):
    from test_declared_metrics import CONFIG, TICKETS
    (tmp_path / "tickets.csv").write_text(TICKETS)
    (tmp_path / "accounts.csv").write_text("Account,Created\nA,2023-12-01\nB,2024-01-15\n")
    (tmp_path / "invoices.csv").write_text("account,date,total\nA,2024-01-05,10\n"
                                           "B,2024-02-02,20\n")
    (tmp_path / "cxkit.yaml").write_text(CONFIG)
    data = cxkit.read_support_data(tmp_path / "cxkit.yaml")
    engine = _EngineStandIn(data)
    panel = _same_panel(data, engine, period="M", end="2024-03-31")
    kpis = cxkit.compute_kpis(engine, period="M", by="reason")
    pd.testing.assert_frame_equal(kpis, cxkit.compute_kpis(data, period="M", by="reason"))
    assert kpis["high_priority_rate"].notna().sum() >= 4  # the declared metrics came through
    np.testing.assert_array_equal(panel["high_priority_rate"][:3], [0.5, np.nan, 1.0])  # A
    assert panel["refund_count"].sum() == 2.0 and panel.attrs["references"] == {
        "reason": "reason_share_billing", "channel": "channel_share_email"}


def test_an_engine_out_of_memory_is_one_resource_error(sample_data, monkeypatch):
    import duckdb

    from cxkit.exceptions import ResourceError

    def short_of_memory(self, *args, **kwargs):
        raise duckdb.OutOfMemoryException("could not allocate block")

    monkeypatch.setattr(ibis.expr.types.Table, "to_pyarrow", short_of_memory)
    with pytest.raises(ResourceError, match="memory_limit.*parts="):
        build_panel(_EngineStandIn(sample_data))


# ------------------------------------------------------------- other engines: same cells

def _clean_files(data, folder):
    """The clean sample tables as Parquet files (a missing value is a null there)."""
    paths = {}
    for name in _TIMES:
        path = folder / f"{name}.parquet"
        getattr(data, name).to_parquet(path, index=False, coerce_timestamps="us")
        paths[name] = path
    return paths


def _cells(engine, tables: dict, data) -> pd.DataFrame:
    """Every ticket, revenue and survey cell of the sample's monthly panel, one frame."""
    from cxkit import _engine_cells as cells_module

    grid = panel_module._window(data, period="M", start=None, end=None)
    ids = data.customers["customer_id"].sort_values(ignore_index=True)
    customers = cells_module.customer_memtable(ids, np.arange(len(ids)))
    tickets = tq.add_ticket_quantity_exprs(
        tables["tickets"].drop("resolution_hours", "first_contact_resolved"))
    exposures, families = panel_module._engine_exposures(engine)
    plan = cells_module.ticket_plan(tickets, exposures, families)
    kw = {"periods": grid, "customers": customers, "n_periods": len(grid)}
    out = cells_module.ticket_cells(tickets, plan, **kw).to_pandas()
    for name, time_column, value in (("revenue", "paid_at", "amount"),
                                     ("surveys", "answered_at", "nps")):
        sums = cells_module.sum_cells(tables[name], time_column, value, **kw).to_pandas()
        out = out.merge(sums.add_prefix(f"{name}_").rename(columns={f"{name}_cell": "cell"}),
                        on="cell", how="outer")
    return out.sort_values("cell", ignore_index=True).astype("float64")


def _same_cells(con, sample_data, tmp_path):
    """The engine's cells equal DuckDB's: medians too, up to the last bits of the interpolation
    (Postgres' percentile_cont rounds a + (b - a) / 2 differently in about 1% of cells;
    an approximate median would be off by minutes or hours)."""
    files = _clean_files(sample_data, tmp_path)
    duck = ibis.duckdb.connect()
    expected = _cells(_EngineStandIn(sample_data), {n: duck.read_parquet(p)
                                                    for n, p in files.items()}, sample_data)
    tables = {n: con.read_parquet(p) if con.name == "pyspark" else
              con.create_table(f"cxkit_cells_{n}", pd.read_parquet(p), temp=True)
              for n, p in files.items()}
    engine = _EngineStandIn(sample_data)
    engine.tables = tables
    got = _cells(engine, tables, sample_data)
    medians = [c for c in got.columns if "median" in c]
    assert medians and got[medians].notna().sum().min() > 1000
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12)


def test_postgres_gives_the_same_cells_and_panel(postgres_con, sample_data, tmp_path):
    _same_cells(postgres_con, sample_data, tmp_path)
    engine = _EngineStandIn(sample_data)
    engine.tables.update({n: postgres_con.table(f"cxkit_cells_{n}") for n in _TIMES})
    engine.tables["tickets"] = tq.add_ticket_quantity_exprs(engine.tables["tickets"])
    _same_panel(sample_data, engine)


def test_spark_gives_the_same_cells(spark_con, sample_data, tmp_path):
    _same_cells(spark_con, sample_data, tmp_path)


# ------------------------------------------------------------------ KPI tables from an engine

@pytest.mark.parametrize("kwargs", [{}, {"period": "M"}, {"by": "channel"},
                                    {"by": ["segment", "reason"], "period": "Q"},
                                    {"by": "plan", "period": "W", "q": 0.75}])
def test_sample_kpis_from_the_engine_are_the_frames_kpis(sample_data, kwargs):
    expected = cxkit.compute_kpis(sample_data, **kwargs)
    got = cxkit.compute_kpis(_EngineStandIn(sample_data), **kwargs)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs


@pytest.mark.parametrize("kwargs", [{}, {"period": None}, {"period": "Q", "by": "segment"},
                                    {"period": None, "by": ["plan", "channel"]},
                                    {"period": "W", "by": "reason"}])
def test_contact_rate_from_the_engine_is_the_frames_contact_rate(sample_data, kwargs):
    got = metrics.contact_rate(_EngineStandIn(sample_data), **kwargs)
    pd.testing.assert_frame_equal(got, metrics.contact_rate(sample_data, **kwargs))
    assert got["n_tickets"].sum() == len(sample_data.tickets)
    assert got["n_active_customers"].gt(0).all()


@pytest.mark.parametrize("mix", [metrics.channel_mix, metrics.reason_mix])
@pytest.mark.parametrize("kwargs", [{}, {"period": "M"}, {"period": "Q", "by": "segment"}])
def test_channel_and_reason_mix_from_the_engine_are_the_frames_mix(sample_data, mix, kwargs):
    got = mix(_EngineStandIn(sample_data), **kwargs)
    pd.testing.assert_frame_equal(got, mix(sample_data, **kwargs))
    assert got["n_tickets"].sum() == len(sample_data.tickets)


def test_contact_rate_and_mix_of_an_engine_in_a_zone_and_without_segment_agree():
    """A minimal export (no segment) without a reason column, read in New York: the period
    bounds are the reporting zone's, a column the data lack is the frames' error."""
    data, _ = make_sample(n_customers=300, months=14, seed=5, variant="minimal")
    local, utc = _in_zone(data, "America/New_York")
    local = dataclasses.replace(local, tickets=local.tickets.drop(columns="reason"))
    utc = {**utc, "tickets": utc["tickets"].drop(columns="reason")}
    engine = _EngineStandIn(local, utc=utc)
    for kwargs in ({"period": "M", "by": "plan"}, {"period": None}, {"period": "W"}):
        pd.testing.assert_frame_equal(metrics.contact_rate(engine, **kwargs),
                                      metrics.contact_rate(local, **kwargs))
    pd.testing.assert_frame_equal(metrics.channel_mix(engine, period="M"),
                                  metrics.channel_mix(local, period="M"))
    for absent in (lambda d: metrics.contact_rate(d, by="segment"), metrics.reason_mix):
        note = absent(engine)  # a note on what is missing (cxkit.availability), as the frames'
        assert isinstance(note, Missing) and note == absent(local)
        assert "'segment'" in note.sentence or "'reason'" in note.sentence
    with pytest.raises(ParameterError, match="whole data"):
        metrics.contact_rate(local.tickets)


def test_kpis_in_a_zone_with_clock_changes_and_of_a_variant_agree():
    data, _ = make_sample(n_customers=300, months=14, seed=5, variant="minimal")
    local, utc = _in_zone(data, "America/New_York")
    engine = _EngineStandIn(local, utc=utc)
    for kwargs in ({"period": "M", "by": "plan"}, {"period": "W"}):
        pd.testing.assert_frame_equal(cxkit.compute_kpis(engine, **kwargs),
                                      cxkit.compute_kpis(local, **kwargs))
    got = metrics.resolution_hours(engine, period="Q", by="channel")
    pd.testing.assert_frame_equal(got, metrics.resolution_hours(local, period="Q", by="channel"))
    with pytest.raises(cxkit.MissingDataError, match="first_response"):
        metrics.first_response_minutes(engine)  # the minimal variant has no response times


@pytest.mark.parametrize("kwargs", [{}, {"period": "M", "by": "segment"}, {"period": "Q"}])
def test_nps_from_the_engine_is_the_frames_nps(sample_data, kwargs):
    got = metrics.nps(_EngineStandIn(sample_data), **kwargs)
    pd.testing.assert_frame_equal(got, metrics.nps(sample_data, **kwargs))
    assert got["n_responses"].sum() > 100


def test_a_frame_instead_of_the_data_is_one_parameter_error(sample_data):
    with pytest.raises(ParameterError, match="SupportData .* or an engine's data"):
        build_panel(sample_data.tickets)


def test_export_columns_named_like_the_engine_s_own_change_nothing(sample_data):
    """Unmapped export columns may take any name: cust, cell, period_index, end_utc."""
    odd = {"cust": "x", "cell": 7, "period_index": -1, "end_utc": pd.Timestamp("1999-01-01")}
    tickets = sample_data.tickets.assign(**odd)
    engine = _EngineStandIn(dataclasses.replace(sample_data, tickets=tickets))
    pd.testing.assert_frame_equal(build_panel(engine), build_panel(sample_data))
