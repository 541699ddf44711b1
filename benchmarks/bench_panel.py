"""Benchmark: the monthly customer x period panel at scale.

Generates canonical tables (default 10 million tickets for 1 million customers
over 24 months; ``--small``: 100 thousand tickets for 10 thousand customers),
stores them as Parquet under ``benchmarks/_work/`` and times three contenders,
each in its own process so that its peak resident memory can be read:

* ``build_panel``: :func:`cxkit.panel.build_panel` (the whole panel: active
  customer-months, controls, exposure and outcomes);
* ``duckdb_query``: one hand-written DuckDB query computing only the exposure
  aggregates per customer-month from the tickets;
* ``pandas_groupby``: the same exposure aggregates with a plain pandas groupby.

Each contender first reads the same Parquet files into pandas (timed apart as
``load_s``); ``compute_s`` is the time from those frames to the result frame.
The table is printed and written into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
README = HERE / "README.md"
START = pd.Timestamp("2024-01-01")
MONTHS = 24
SIZES = {"full": (1_000_000, 10_000_000), "small": (10_000, 100_000)}
CONTENDERS = ("build_panel", "duckdb_query", "pandas_groupby")
THREADS = 2


# --- data ------------------------------------------------------------------------------------


def generate(n_customers: int, n_tickets: int, folder: Path, seed: int = 1) -> None:
    """Write customers, tickets, revenue and surveys Parquet files (vectorised numpy)."""
    rng = np.random.default_rng(seed)
    day = np.timedelta64(86_400, "s")
    start = np.datetime64(START.to_datetime64(), "s")
    end = start + np.timedelta64(730, "D")
    ids = np.char.add("C", np.char.zfill(np.arange(n_customers).astype(str), 7)).astype(object)
    signup = start + (rng.uniform(-1100, 700, n_customers) * day).astype("timedelta64[s]")
    life = rng.exponential(36 * 30.4375, n_customers) * day
    churn = signup + life.astype("timedelta64[s]")
    churn = np.where(churn < end, churn, np.datetime64("NaT"))
    alive = churn.astype("datetime64[s]")
    lo = np.maximum(signup, start)
    hi = np.where(np.isnat(alive), end, alive)
    active = np.flatnonzero(hi > lo)
    customers = pd.DataFrame({
        "customer_id": ids, "signup_at": signup.astype("datetime64[ns]"),
        "churned_at": churn.astype("datetime64[ns]"),
        "plan": pd.Categorical.from_codes(rng.choice(3, n_customers, p=[.55, .33, .12]),
                                          ["basic", "pro", "enterprise"]),
        "segment": pd.Categorical.from_codes(rng.choice(3, n_customers), ["SMB", "Mid", "Ent"])})
    who = active[rng.integers(0, len(active), n_tickets)]
    span = (hi[who] - lo[who]).astype(np.int64)
    created = lo[who] + (rng.random(n_tickets) * span).astype("timedelta64[s]")
    order = np.argsort(created, kind="stable")
    who, created = who[order], created[order]
    res_h = rng.lognormal(2.5, 1.2, n_tickets)
    resolved = created + (res_h * 3600).astype("timedelta64[s]")
    resolved = np.where(rng.random(n_tickets) < 0.05, np.datetime64("NaT"), resolved)
    maybe = lambda p, values: np.where(rng.random(n_tickets) < p, np.nan, values)  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": np.arange(n_tickets), "customer_id": ids[who],
        "created_at": created.astype("datetime64[ns]"),
        "first_response_minutes": rng.exponential(120, n_tickets),
        "resolved_at": resolved.astype("datetime64[ns]"),
        "contacts": pd.array(rng.geometric(0.6, n_tickets), dtype="Int64"),
        "reopened": rng.random(n_tickets) < 0.1, "escalated": rng.random(n_tickets) < 0.15,
        "csat": maybe(0.6, rng.integers(1, 6, n_tickets).astype(float)),
        "ces": maybe(0.7, rng.integers(1, 8, n_tickets).astype(float))})
    n_pay = n_tickets // 2
    payer = active[rng.integers(0, len(active), n_pay)]
    paid = lo[payer] + (rng.random(n_pay) * (hi[payer] - lo[payer]).astype(np.int64)
                        ).astype("timedelta64[s]")
    revenue = pd.DataFrame({"customer_id": ids[payer], "paid_at": paid.astype("datetime64[ns]"),
                            "amount": np.round(rng.lognormal(4, 1, n_pay), 2)})
    n_srv = n_tickets // 10
    resp = active[rng.integers(0, len(active), n_srv)]
    answered = lo[resp] + (rng.random(n_srv) * (hi[resp] - lo[resp]).astype(np.int64)
                           ).astype("timedelta64[s]")
    surveys = pd.DataFrame({"customer_id": ids[resp],
                            "answered_at": answered.astype("datetime64[ns]"),
                            "nps": rng.integers(0, 11, n_srv).astype(float)})
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in (("customers", customers), ("tickets", tickets), ("revenue", revenue),
                        ("surveys", surveys)):
        frame.to_parquet(folder / f"{name}.parquet", index=False)


def load(folder: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(folder / f"{name}.parquet")
            for name in ("customers", "tickets", "revenue", "surveys")}


# --- contenders ------------------------------------------------------------------------------

HAND_SQL = """
SELECT customer_id, date_trunc('month', created_at) AS period,
       count(*) AS ticket_count,
       median(first_response_minutes) FILTER (WHERE created_at
           + to_microseconds(CAST(first_response_minutes * 60e6 AS BIGINT)) < pend)
           AS first_response_minutes_median,
       count(*) FILTER (WHERE riw) AS resolved_count,
       avg(res_h) FILTER (WHERE riw) AS resolution_hours_mean,
       median(res_h) FILTER (WHERE riw) AS resolution_hours_median,
       avg(CAST(contacts = 1 AS DOUBLE)) FILTER (WHERE riw) AS fcr_rate,
       avg(CAST(reopened AS DOUBLE)) FILTER (WHERE riw) AS reopen_rate,
       avg(CAST(escalated AS DOUBLE)) FILTER (WHERE riw) AS escalation_rate,
       avg(csat) FILTER (WHERE riw) AS csat_mean, count(csat) FILTER (WHERE riw) AS csat_count,
       avg(ces) FILTER (WHERE riw) AS ces_mean, count(ces) FILTER (WHERE riw) AS ces_count
FROM (SELECT *, date_trunc('month', created_at) + INTERVAL 1 MONTH AS pend,
             resolved_at < date_trunc('month', created_at) + INTERVAL 1 MONTH AS riw,
             epoch(resolved_at - created_at) / 3600 AS res_h
      FROM tickets)
GROUP BY ALL
"""


def run_build_panel(tables):
    from cxkit.data import SupportData
    from cxkit.panel import build_panel
    data = SupportData(**tables)
    return build_panel(data, period="M", memory_limit="4GB", threads=THREADS)


def run_duckdb_query(tables):
    import duckdb
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {THREADS}; SET memory_limit = '4GB'; "
                "SET enable_progress_bar = false")
    con.register("tickets", tables["tickets"])
    out = con.sql(HAND_SQL).df()
    con.close()
    return out


def run_pandas_groupby(tables):
    t = tables["tickets"]
    period = t["created_at"].dt.to_period("M")
    period_end = (period + 1).dt.to_timestamp()
    answered = t["created_at"] + pd.to_timedelta(t["first_response_minutes"], unit="m")
    riw = t["resolved_at"].notna() & (t["resolved_at"] < period_end)
    res_h = (t["resolved_at"] - t["created_at"]).dt.total_seconds() / 3600
    frame = pd.DataFrame({
        "customer_id": t["customer_id"], "period": period.dt.to_timestamp(),
        "frm": t["first_response_minutes"].where(answered < period_end),
        "riw": riw, "res_h": res_h.where(riw),
        "fcr": (t["contacts"] == 1).astype("Float64").astype(float).where(riw),
        "reopen": t["reopened"].astype(float).where(riw),
        "escalation": t["escalated"].astype(float).where(riw),
        "csat": t["csat"].where(riw), "ces": t["ces"].where(riw)})
    return frame.groupby(["customer_id", "period"], sort=False).agg(
        ticket_count=("riw", "size"), first_response_minutes_median=("frm", "median"),
        resolved_count=("riw", "sum"), resolution_hours_mean=("res_h", "mean"),
        resolution_hours_median=("res_h", "median"), fcr_rate=("fcr", "mean"),
        reopen_rate=("reopen", "mean"), escalation_rate=("escalation", "mean"),
        csat_mean=("csat", "mean"), csat_count=("csat", "count"),
        ces_mean=("ces", "mean"), ces_count=("ces", "count")).reset_index()


def child(name: str, folder: Path) -> None:
    """Run one contender in this process and print its figures as JSON."""
    import duckdb  # noqa: F401  (imports are not part of the timing)

    import cxkit.panel  # noqa: F401
    t0 = time.perf_counter()
    tables = load(folder)
    t1 = time.perf_counter()
    loaded_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = globals()[f"run_{name}"](tables)
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"contender": name, "load_s": t1 - t0, "compute_s": t2 - t1,
                      "rows_out": len(result), "rss_after_load_mb": loaded_mb,
                      "peak_rss_mb": peak_mb}))


# --- report ----------------------------------------------------------------------------------


def machine() -> str:
    import duckdb
    import pyarrow
    mem_kb = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return (f"{os.cpu_count()} cores, {mem_kb / 1024**2:.1f} GB memory, Python "
            f"{platform.python_version()}, pandas {pd.__version__}, numpy {np.__version__}, "
            f"duckdb {duckdb.__version__}, pyarrow {pyarrow.__version__}; "
            f"DuckDB threads={THREADS}")


def table(rows: list[dict]) -> str:
    lines = ["| contender | compute (s) | load (s) | rows out | peak RSS (MB) |",
             "|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['contender']} | {r['compute_s']:.1f} | {r['load_s']:.1f} | "
                     f"{r['rows_out']:,} | {r['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    by = {r["contender"]: r for r in rows}
    bp, dq, pg = by["build_panel"], by["duckdb_query"], by["pandas_groupby"]
    ratio_q = bp["compute_s"] / dq["compute_s"]
    ratio_p = pg["compute_s"] / bp["compute_s"]
    peak_gb = bp["peak_rss_mb"] / 1024
    ok = lambda cond: "met" if cond else "NOT met"  # noqa: E731
    return (f"- build_panel / hand-written query: {ratio_q:.2f}x (target <= 1.5x: {ok(ratio_q <= 1.5)})\n"
            f"- pandas groupby / build_panel: {ratio_p:.2f}x (target >= 2x: {ok(ratio_p >= 2)})\n"
            f"- build_panel peak memory: {peak_gb:.2f} GB (target < 6 GB: {ok(peak_gb < 6)})")


def write_readme(section: str) -> None:
    begin, end = "<!-- bench_panel:begin -->", "<!-- bench_panel:end -->"
    text = README.read_text() if README.exists() else "# Benchmarks\n"
    block = f"{begin}\n{section}\n{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    README.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_panel")
    parser.add_argument("--small", action="store_true", help="100k tickets, 10k customers")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(argv)
    if args.child:
        child(args.child, Path(args.folder))
        return 0
    size = "small" if args.small else "full"
    n_customers, n_tickets = SIZES[size]
    folder = WORK / f"panel_{size}"
    if not (folder / "surveys.parquet").exists():
        t0 = time.perf_counter()
        generate(n_customers, n_tickets, folder)
        print(f"generated {n_tickets:,} tickets for {n_customers:,} customers "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for name in CONTENDERS:
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.bench_panel", "--child", name,
             "--folder", str(folder)],
            cwd=HERE.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(f"  {name}: {rows[-1]['compute_s']:.1f} s, peak {rows[-1]['peak_rss_mb']:,.0f} MB",
              flush=True)
    report = table(rows)
    print(report)
    print(verdict(rows))
    if size == "full":
        section = (f"## Panel (`bench_panel.py`)\n\nMonthly panel from {n_tickets:,} tickets, "
                   f"{n_customers:,} customers, {MONTHS} months (generated, Parquet). Machine: "
                   f"{machine()}.\n\n`compute` = pandas frames in, result frame out; `load` = "
                   "reading the Parquet files; peak RSS = the contender's whole process "
                   "(data included). build_panel builds the whole panel (active "
                   "customer-months, controls, exposure, outcomes); the other two compute "
                   f"only the ticket exposure aggregates per customer-month.\n\n{report}\n\n"
                   f"{verdict(rows)}\n")
        write_readme(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
