"""Benchmark: the monthly customer x period panel at scale.

Generates canonical tables (default 10 million tickets for 1 million customers
over 24 months; ``--small``: 100 thousand tickets for 10 thousand customers),
stores them as Parquet under ``benchmarks/_work/`` and times three contenders,
each in its own process so that its peak resident memory can be read:

* ``build_panel``: :func:`cxkit.panel.build_panel` (monthly, horizon 1, lookback 3);
* ``duckdb_query``: one hand-written DuckDB query over the same four tables,
  keyed by the text customer ids (grid of customer-months via ``range``,
  grouped aggregates, LEFT JOINs, window frames for the lags and leads);
* ``pandas_groupby``: the same panel with plain pandas (groupby aggregates,
  merges onto the customer-month grid, grouped shifts).

All three compute the same table: every active customer-month with its keys,
customer columns, controls, exposure metrics and outcomes (31 columns), sorted
by customer and month. The runner checks that the row counts match and that
the outputs agree (all rows with ``--small``; every 997th customer's rows at
full size) and fails otherwise.

Each contender first reads the same Parquet files into pandas (timed apart as
``load_s``); ``compute_s`` is the time from those frames to the result frame.
The table is printed and written into ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks import machine, write_readme_block

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
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

H, LB = 1, 3  # build_panel's defaults: horizon 1, lookback 3
COLUMNS = ["customer_id", "period", "period_end", "period_index", "plan", "segment",
           "tenure_months", "revenue_prev_amount", "ticket_count_prior", "ticket_count",
           "contacted", "first_response_minutes_median", "resolved_count", "open_count",
           "resolution_hours_mean", "resolution_hours_median", "fcr_rate", "reopen_rate",
           "escalation_rate", "csat_mean", "csat_count", "ces_mean", "ces_count",
           "revenue_amount", "churned_in_period", "churned_next", "revenue_next_amount",
           "repeat_purchase_next", "revenue_change_amount", "nps_next", "outcome_observed"]


def window(tables) -> tuple[int, int]:
    """Month number (year * 12 + month - 1) of the first and last month of the data window."""
    t, r, s, c = (tables[k] for k in ("tickets", "revenue", "surveys", "customers"))
    first = min(t["created_at"].min(), r["paid_at"].min())
    last = max(t["created_at"].max(), r["paid_at"].max(), s["answered_at"].max(),
               c["churned_at"].max())
    return first.year * 12 + first.month - 1, last.year * 12 + last.month - 1


HAND_SQL = """
WITH
    cu AS (
        SELECT customer_id, plan, segment, signup_at,
               year(signup_at) * 12 + month(signup_at) - 1 - {lo} AS sp,
               year(churned_at) * 12 + month(churned_at) - 1 - {lo} AS cp
        FROM customers
    ),
    act AS (
        SELECT *, greatest(sp, 0) AS first_p, least(coalesce(cp, {last}), {last}) AS last_p
        FROM cu WHERE greatest(sp, 0) <= least(coalesce(cp, {last}), {last})
    ),
    ext AS (
        SELECT customer_id, plan, segment, signup_at, cp, first_p, last_p,
               unnest(range(greatest(first_p - {lb}, 0), least(last_p + {h}, {last}) + 1)) AS p
        FROM act
    ),
    tk AS (
        SELECT customer_id, p, first_response_minutes AS frm,
               epoch_us(created_at) + first_response_minutes * 60e6 < epoch_us(pend) AS answered,
               resolved_at IS NOT NULL AND resolved_at < pend AS riw,
               (epoch_us(resolved_at) - epoch_us(created_at)) / 3600e6 AS res_h,
               CAST(contacts = 1 AS DOUBLE) AS fcr, CAST(reopened AS DOUBLE) AS reo,
               CAST(escalated AS DOUBLE) AS esc, csat, ces
        FROM (SELECT *, year(created_at) * 12 + month(created_at) - 1 - {lo} AS p,
                     date_trunc('month', created_at) + INTERVAL 1 MONTH AS pend
              FROM tickets)
        WHERE p BETWEEN 0 AND {last}
    ),
    ta AS (
        SELECT customer_id, p, count(*) AS ticket_count,
               median(frm) FILTER (WHERE answered) AS fr_med,
               count(*) FILTER (WHERE riw) AS resolved_count,
               avg(res_h) FILTER (WHERE riw) AS res_mean,
               median(res_h) FILTER (WHERE riw) AS res_med,
               avg(fcr) FILTER (WHERE riw) AS fcr_rate, avg(reo) FILTER (WHERE riw) AS reo_rate,
               avg(esc) FILTER (WHERE riw) AS esc_rate,
               avg(csat) FILTER (WHERE riw) AS csat_mean,
               count(csat) FILTER (WHERE riw) AS csat_count,
               avg(ces) FILTER (WHERE riw) AS ces_mean, count(ces) FILTER (WHERE riw) AS ces_count
        FROM tk GROUP BY customer_id, p
    ),
    ra AS (
        SELECT customer_id, year(paid_at) * 12 + month(paid_at) - 1 - {lo} AS p,
               sum(amount) AS amt
        FROM revenue GROUP BY ALL
    ),
    sa AS (
        SELECT customer_id, year(answered_at) * 12 + month(answered_at) - 1 - {lo} AS p,
               sum(nps) AS nps_sum, count(nps) AS nps_n
        FROM surveys GROUP BY ALL
    ),
    j AS (
        SELECT e.*, coalesce(ta.ticket_count, 0) AS tc, ta.* EXCLUDE (customer_id, p, ticket_count),
               coalesce(ra.amt, 0) AS amt, sa.nps_sum, coalesce(sa.nps_n, 0) AS nps_n,
               sum(coalesce(ta.ticket_count, 0)) OVER (PARTITION BY e.customer_id ORDER BY e.p
                   ROWS BETWEEN {lb} PRECEDING AND 1 PRECEDING) AS tc_prior,
               lag(coalesce(ra.amt, 0)) OVER (PARTITION BY e.customer_id ORDER BY e.p) AS amt_prev,
               sum(coalesce(ra.amt, 0)) OVER nxt AS amt_next,
               sum(sa.nps_sum) OVER nxt AS nps_sum_next,
               sum(coalesce(sa.nps_n, 0)) OVER nxt AS nps_n_next
        FROM ext e
        LEFT JOIN ta ON ta.customer_id = e.customer_id AND ta.p = e.p
        LEFT JOIN ra ON ra.customer_id = e.customer_id AND ra.p = e.p
        LEFT JOIN sa ON sa.customer_id = e.customer_id AND sa.p = e.p
        WINDOW nxt AS (PARTITION BY e.customer_id ORDER BY e.p
                       ROWS BETWEEN 1 FOLLOWING AND {h} FOLLOWING)
    )
SELECT customer_id, CAST(make_date(({lo} + p) // 12, ({lo} + p) % 12 + 1, 1) AS TIMESTAMP) AS period,
       CAST(make_date(({lo} + p) // 12, ({lo} + p) % 12 + 1, 1) AS TIMESTAMP) + INTERVAL 1 MONTH
           AS period_end,
       CAST(p AS BIGINT) AS period_index, plan, segment,
       greatest(0.0, (epoch_us(CAST(make_date(({lo} + p) // 12, ({lo} + p) % 12 + 1, 1)
                                    AS TIMESTAMP)) - epoch_us(signup_at)) / 86400e6 / 30.4375)
           AS tenure_months,
       CASE WHEN p >= 1 THEN amt_prev END AS revenue_prev_amount,
       CASE WHEN p >= {lb} THEN CAST(tc_prior AS DOUBLE) END AS ticket_count_prior,
       tc AS ticket_count, tc > 0 AS contacted, fr_med AS first_response_minutes_median,
       CAST(resolved_count AS DOUBLE) AS resolved_count,
       CAST(tc - resolved_count AS DOUBLE) AS open_count,
       res_mean AS resolution_hours_mean, res_med AS resolution_hours_median, fcr_rate,
       reo_rate AS reopen_rate, esc_rate AS escalation_rate, csat_mean,
       CAST(csat_count AS DOUBLE) AS csat_count, ces_mean, CAST(ces_count AS DOUBLE) AS ces_count,
       amt AS revenue_amount, coalesce(cp = p, false) AS churned_in_period,
       CASE WHEN p + {h} <= {last} AND NOT coalesce(cp = p, false)
            THEN CAST(coalesce(cp <= p + {h}, false) AS DOUBLE) END AS churned_next,
       CASE WHEN p + {h} <= {last} THEN amt_next END AS revenue_next_amount,
       CASE WHEN p + {h} <= {last} THEN CAST(amt_next > 0 AS DOUBLE) END AS repeat_purchase_next,
       CASE WHEN p + {h} <= {last} THEN amt_next - {h} * amt END AS revenue_change_amount,
       CASE WHEN p + {h} <= {last} AND nps_n_next > 0 THEN nps_sum_next / nps_n_next END
           AS nps_next,
       p + {h} <= {last} AS outcome_observed
FROM j WHERE p BETWEEN first_p AND last_p
ORDER BY customer_id, p
"""


def run_build_panel(tables):
    from cxkit.data import SupportData
    from cxkit.panel import build_panel
    data = SupportData(**tables)
    return build_panel(data, period="M", horizon=H, lookback=LB, memory_limit="4GB",
                       threads=THREADS)


def run_duckdb_query(tables):
    import duckdb
    lo, hi = window(tables)
    spill = WORK / "duckdb_spill"  # may spill; its 12 GB limit lets the query finish
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {THREADS}; SET memory_limit = '12GB'; "
                f"SET temp_directory = '{spill}'; "
                "SET enable_progress_bar = false; SET preserve_insertion_order = false")
    for name, frame in tables.items():
        con.register(name, frame)
    out = con.sql(HAND_SQL.format(lo=lo, last=hi - lo, h=H, lb=LB)).df()
    con.close()
    return out


def run_pandas_groupby(tables):
    c = tables["customers"].sort_values("customer_id", ignore_index=True)
    t, r, s = tables["tickets"], tables["revenue"], tables["surveys"]
    lo, hi = window(tables)
    last = hi - lo
    month = lambda ts: ts.dt.year * 12 + ts.dt.month - 1 - lo  # noqa: E731
    starts = pd.date_range(pd.Timestamp(year=lo // 12, month=lo % 12 + 1, day=1),
                           periods=last + 2, freq="MS")
    # exposure aggregates per customer-month, from tickets created in the month
    p = month(t["created_at"])
    period_end = pd.Series(starts[(p.clip(0, last) + 1).to_numpy()], index=t.index)
    answered = t["created_at"] + pd.to_timedelta(t["first_response_minutes"], unit="m")
    riw = t["resolved_at"].notna() & (t["resolved_at"] < period_end)
    res_h = (t["resolved_at"] - t["created_at"]).dt.total_seconds() / 3600
    frame = pd.DataFrame({
        "customer_id": t["customer_id"], "p": p,
        "frm": t["first_response_minutes"].where(answered < period_end),
        "riw": riw, "res_h": res_h.where(riw),
        "fcr": (t["contacts"] == 1).astype("Float64").astype(float).where(riw),
        "reopen": t["reopened"].astype(float).where(riw),
        "escalation": t["escalated"].astype(float).where(riw),
        "csat": t["csat"].where(riw), "ces": t["ces"].where(riw)})[(p >= 0) & (p <= last)]
    ta = frame.groupby(["customer_id", "p"], sort=False).agg(
        ticket_count=("riw", "size"), first_response_minutes_median=("frm", "median"),
        resolved_count=("riw", "sum"), resolution_hours_mean=("res_h", "mean"),
        resolution_hours_median=("res_h", "median"), fcr_rate=("fcr", "mean"),
        reopen_rate=("reopen", "mean"), escalation_rate=("escalation", "mean"),
        csat_mean=("csat", "mean"), csat_count=("csat", "count"),
        ces_mean=("ces", "mean"), ces_count=("ces", "count")).reset_index()
    del frame
    ra = r.assign(p=month(r["paid_at"])).groupby(["customer_id", "p"], sort=False).agg(
        amt=("amount", "sum")).reset_index()
    sa = s.assign(p=month(s["answered_at"])).groupby(["customer_id", "p"], sort=False).agg(
        nps_sum=("nps", "sum"), nps_n=("nps", "count")).reset_index()
    # customer-months: active months plus the lookback before and the horizon after
    sp, cp = month(c["signup_at"]), month(c["churned_at"])
    first_p, last_p = sp.clip(lower=0), cp.fillna(last).clip(upper=last)
    ok = (first_p <= last_p).to_numpy()
    ext_lo = (first_p - LB).clip(lower=0)[ok].to_numpy()
    ext_hi = (last_p + H).clip(upper=last)[ok].to_numpy().astype(np.int64)
    size = ext_hi - ext_lo + 1
    at = np.repeat(np.flatnonzero(ok), size)
    grid = c.iloc[at].reset_index(drop=True).assign(
        p=np.arange(len(at)) - np.repeat(np.cumsum(size) - size - ext_lo, size),
        first_p=first_p.to_numpy()[at], last_p=last_p.to_numpy()[at], cp=cp.to_numpy()[at])
    g = (grid.merge(ta, on=["customer_id", "p"], how="left")
         .merge(ra, on=["customer_id", "p"], how="left")
         .merge(sa, on=["customer_id", "p"], how="left"))
    del grid, ta, ra, sa
    g["ticket_count"] = g["ticket_count"].fillna(0).astype(np.int64)
    g["amt"] = g["amt"].fillna(0.0)
    g["nps_n"] = g["nps_n"].fillna(0)
    by = g.groupby("customer_id", sort=False)
    prior = sum(by["ticket_count"].shift(k) for k in range(1, LB + 1))
    amt_prev = by["amt"].shift(1)
    amt_next = sum(by["amt"].shift(-k) for k in range(1, H + 1))
    nps_sum_next = sum(by["nps_sum"].shift(-k).fillna(0) for k in range(1, H + 1))
    nps_n_next = sum(by["nps_n"].shift(-k) for k in range(1, H + 1))
    p = g["p"]
    observed = p + H <= last
    in_period = g["cp"] == p
    out = pd.DataFrame({
        "customer_id": g["customer_id"], "period": starts[p.to_numpy()],
        "period_end": starts[p.to_numpy() + 1], "period_index": p.astype(np.int64),
        "plan": g["plan"], "segment": g["segment"]})
    out["tenure_months"] = ((out["period"] - g["signup_at"]).dt.total_seconds() / 86400
                            / 30.4375).clip(lower=0)
    out["revenue_prev_amount"] = amt_prev.where(p >= 1)
    out["ticket_count_prior"] = prior.where(p >= LB).astype(float)
    out["ticket_count"] = g["ticket_count"]
    out["contacted"] = g["ticket_count"] > 0
    for col in ("first_response_minutes_median", "resolved_count"):
        out[col] = g[col].astype(float)
    out["open_count"] = g["ticket_count"] - g["resolved_count"]
    for col in ("resolution_hours_mean", "resolution_hours_median", "fcr_rate", "reopen_rate",
                "escalation_rate", "csat_mean", "csat_count", "ces_mean", "ces_count"):
        out[col] = g[col].astype(float)
    out["revenue_amount"] = g["amt"]
    out["churned_in_period"] = in_period
    out["churned_next"] = (g["cp"] <= p + H).astype(float).where(observed & ~in_period)
    out["revenue_next_amount"] = amt_next.where(observed)
    out["repeat_purchase_next"] = (amt_next > 0).astype(float).where(observed)
    out["revenue_change_amount"] = (amt_next - H * g["amt"]).where(observed)
    out["nps_next"] = (nps_sum_next / nps_n_next).where(observed & (nps_n_next > 0))
    out["outcome_observed"] = observed
    keep = ((p >= g["first_p"]) & (p <= g["last_p"])).to_numpy()
    return out[keep].reset_index(drop=True)


def sample(result: pd.DataFrame, every: int) -> pd.DataFrame:
    """Rows of every ``every``-th customer (all rows when ``every`` is 1), for the cross-check."""
    codes = pd.to_numeric(result["customer_id"].str[1:])
    return result[(codes % every == 0).to_numpy()].reset_index(drop=True)


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
    sample(result, 1 if "small" in folder.name else 997).to_parquet(folder / f"out_{name}.parquet")
    print(json.dumps({"contender": name, "load_s": t1 - t0, "compute_s": t2 - t1,
                      "rows_out": len(result), "rss_after_load_mb": loaded_mb,
                      "peak_rss_mb": peak_mb}))


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for col in frame.columns:
        values = frame[col]
        if isinstance(values.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(values):
            values = values.astype(str)
        elif pd.api.types.is_datetime64_dtype(values.dtype):
            values = values.astype("datetime64[ns]")
        elif pd.api.types.is_bool_dtype(values.dtype):
            values = values.astype(bool)
        else:
            values = values.astype(np.float64)
        out[col] = values
    return pd.DataFrame(out)


def agreement(folder: Path, rows: list[dict]) -> str:
    """Differences between the contenders' outputs (row counts and sampled rows), or ''."""
    counts = {r["contender"]: r["rows_out"] for r in rows}
    if len(set(counts.values())) != 1:
        return f"row counts differ: {counts}"
    reference = _normal(pd.read_parquet(folder / "out_build_panel.parquet"))
    missing = [c for c in COLUMNS if c not in reference.columns]
    if missing:
        return f"build_panel lacks the columns {missing}"
    reference = reference[COLUMNS]  # build_panel's further columns have no hand-written twin
    problems = []
    for name in CONTENDERS[1:]:
        other = pd.read_parquet(folder / f"out_{name}.parquet")
        if list(other.columns) != COLUMNS:
            problems.append(f"{name} columns {list(other.columns)} are not {COLUMNS}")
            continue
        try:
            pd.testing.assert_frame_equal(reference, _normal(other), check_exact=False,
                                          rtol=1e-9, atol=1e-9)
        except AssertionError as exc:
            problems.append(f"{name}: {exc}")
    return "\n".join(problems)


# --- report ----------------------------------------------------------------------------------


def machine_line() -> str:
    return f"{machine('pandas', 'numpy', 'duckdb', 'pyarrow')}; DuckDB threads={THREADS}"


def table(rows: list[dict]) -> str:
    lines = ["| contender | compute (s) | load (s) | rows out | RSS after load (MiB) "
             "| peak RSS (MiB) |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['contender']} | {r['compute_s']:.1f} | {r['load_s']:.1f} | "
                     f"{r['rows_out']:,} | {r['rss_after_load_mb']:,.0f} | "
                     f"{r['peak_rss_mb']:,.0f} |")
    return "\n".join(lines)


def verdict(rows: list[dict]) -> str:
    by = {r["contender"]: r for r in rows}
    bp, dq, pg = by["build_panel"], by["duckdb_query"], by["pandas_groupby"]
    ratio_q = bp["compute_s"] / dq["compute_s"]
    ratio_p = pg["compute_s"] / bp["compute_s"]
    peak_gb = bp["peak_rss_mb"] * 2**20 / 1e9  # MiB -> GB
    ok = lambda cond: "met" if cond else "NOT met"  # noqa: E731
    return (f"- build_panel / hand-written query: {ratio_q:.2f}x (target <= 1.5x: {ok(ratio_q <= 1.5)})\n"
            f"- pandas groupby / build_panel: {ratio_p:.2f}x (target >= 2x: {ok(ratio_p >= 2)})\n"
            f"- build_panel peak memory: {peak_gb:.2f} GB (target < 6 GB: {ok(peak_gb < 6)})")


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
        print(f"  {name}: {rows[-1]['compute_s']:.1f} s, peak {rows[-1]['peak_rss_mb']:,.0f} MiB",
              flush=True)
    problems = agreement(folder, rows)
    if problems:
        print("contenders disagree:\n" + problems, file=sys.stderr)
        return 1
    report = table(rows)
    print(report)
    print(verdict(rows))
    if size == "full":
        section = (f"## Panel (`bench_panel.py`)\n\nMonthly panel from {n_tickets:,} tickets, "
                   f"{n_customers:,} customers, {MONTHS} months (generated, Parquet). Machine: "
                   f"{machine_line()}.\n\n`compute` = pandas frames in, result frame out; `load` = "
                   "reading the Parquet files; RSS after load = the process's peak while "
                   "reading them (what the tables cost before any work); peak RSS = the "
                   "contender's whole process (data included). All three contenders compute the same table, the whole "
                   "monthly panel (horizon 1, lookback 3): every active customer-month with its "
                   "keys, customer columns, controls, exposure metrics and outcomes (31 "
                   "columns), sorted by customer and month. `duckdb_query` is one hand-written "
                   "query keyed by the text customer ids (customer-month grid via `range`, "
                   "grouped aggregates, LEFT JOINs, window frames for lags and leads); "
                   "`pandas_groupby` is groupby aggregates, merges onto the grid and grouped "
                   "shifts. The run checks equal row counts and equal values (every 997th "
                   "customer's rows; `--small` compares all rows) before reporting. "
                   f"\n\n{report}\n\n"
                   f"{verdict(rows)}\n")
        write_readme_block("bench_panel", section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
