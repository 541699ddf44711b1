"""Property-based tests (hypothesis) of the KPIs and the panel on generated small data sets.

Whatever the tickets, ratings and answers: rates stay within [0, 1], NPS within
[-100, 100], counts add up across breakdowns and periods, and a panel row's
exposure and controls do not move when events after its period are added or
changed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxkit.data import SupportData
from cxkit.metrics import compute_kpis, nps
from cxkit.panel import build_panel

START = pd.Timestamp("2024-01-01")
END = pd.Timestamp("2024-10-01")  # after every generated event: the window does not grow
CHANNELS = ["email", "chat", "phone", "self_service"]
FAST = settings(max_examples=25, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
MINUTE = pd.Timedelta(minutes=1)


@st.composite
def support_data(draw, *, max_tickets: int = 30) -> SupportData:
    """2-6 customers, up to ``max_tickets`` tickets and some survey answers in 2024 H1."""
    n_customers = draw(st.integers(2, 6))
    ids = [f"c{i}" for i in range(n_customers)]
    signup = [START - pd.Timedelta(days=draw(st.integers(0, 400))) for _ in ids]
    churned = [draw(st.one_of(st.none(), st.integers(10, 200))) for _ in ids]
    churned = [pd.NaT if c is None else START + pd.Timedelta(days=c) for c in churned]
    customers = pd.DataFrame({"customer_id": ids, "signup_at": signup,
                              "churned_at": pd.to_datetime(churned),
                              "plan": [draw(st.sampled_from(["basic", "pro"])) for _ in ids],
                              "segment": [draw(st.sampled_from(["SMB", "Ent"])) for _ in ids]})
    ticket = st.fixed_dictionaries({
        "customer": st.integers(0, n_customers - 1),
        "created_min": st.integers(0, 180 * 1440),
        "first_response_minutes": st.one_of(st.none(), st.floats(0, 5000)),
        "resolution_min": st.one_of(st.none(), st.integers(1, 40 * 1440)),
        "contacts": st.integers(1, 4), "reopened": st.booleans(), "escalated": st.booleans(),
        "csat": st.one_of(st.none(), st.integers(1, 5)),
        "ces": st.one_of(st.none(), st.integers(1, 7)),
        "channel": st.sampled_from(CHANNELS)})
    rows = draw(st.lists(ticket, min_size=1, max_size=max_tickets))
    created = [START + r["created_min"] * MINUTE for r in rows]
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(len(rows))],
        "customer_id": [ids[r["customer"]] for r in rows],
        "created_at": pd.to_datetime(created),
        "first_response_minutes": [np.nan if r["first_response_minutes"] is None
                                   else r["first_response_minutes"] for r in rows],
        "resolved_at": pd.to_datetime([pd.NaT if r["resolution_min"] is None
                                       else c + r["resolution_min"] * MINUTE
                                       for r, c in zip(rows, created, strict=True)]),
        "contacts": pd.array([r["contacts"] for r in rows], dtype="Int64"),
        "reopened": [r["reopened"] for r in rows], "escalated": [r["escalated"] for r in rows],
        "csat": [np.nan if r["csat"] is None else float(r["csat"]) for r in rows],
        "ces": [np.nan if r["ces"] is None else float(r["ces"]) for r in rows],
        "channel": [r["channel"] for r in rows]})
    answers = draw(st.lists(st.tuples(st.integers(0, n_customers - 1), st.integers(0, 180),
                                      st.integers(0, 10)), min_size=1, max_size=20))
    surveys = pd.DataFrame({"customer_id": [ids[a] for a, _, _ in answers],
                            "answered_at": [START + pd.Timedelta(days=d) for _, d, _ in answers],
                            "nps": [float(n) for _, _, n in answers]})
    revenue = pd.DataFrame({"customer_id": ids, "paid_at": [START] * n_customers,
                            "amount": [10.0] * n_customers})
    return SupportData(customers=customers, tickets=tickets, revenue=revenue, surveys=surveys)


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in frame.columns if c.endswith("_rate")]]


@FAST
@given(support_data())
def test_kpi_rates_scores_and_counts(data):
    overall = compute_kpis(data)
    for by in ("channel", "segment"):
        split = compute_kpis(data, by=by)
        rates = _rates(split).to_numpy(dtype=float)
        assert np.all(np.isnan(rates) | ((rates >= 0) & (rates <= 1)))
        for count in ("n_tickets", "resolved_count", "open_count", "csat_count", "ces_count"):
            assert split[count].sum() == overall[count].sum(), (by, count)
    assert overall["n_tickets"].sum() == len(data.tickets)
    assert (overall["resolved_count"] + overall["open_count"] == overall["n_tickets"]).all()
    monthly = compute_kpis(data, period="M")
    assert monthly["n_tickets"].sum() == len(data.tickets)
    assert monthly["csat_count"].sum() == data.tickets["csat"].notna().sum()
    pct = monthly["csat_satisfied_pct"].dropna()
    assert pct.between(0, 100).all()
    assert monthly["csat_mean"].dropna().between(1, 5).all()
    assert monthly["ces_mean"].dropna().between(1, 7).all()


@FAST
@given(support_data())
def test_nps_stays_within_its_scale_and_counts_add_up(data):
    overall = nps(data)
    monthly = nps(data, period="M")
    for frame in (overall, monthly):
        for col in ("nps", "nps_conf_low", "nps_conf_high"):
            assert frame[col].dropna().between(-100, 100).all(), col
        answered = frame[frame["n_responses"] > 0]
        assert (answered["nps_conf_low"] <= answered["nps"] + 1e-9).all()
        assert (answered["nps"] <= answered["nps_conf_high"] + 1e-9).all()
        assert (answered[["promoters_pct", "detractors_pct"]].sum(axis=1) <= 100 + 1e-9).all()
    assert monthly["n_responses"].sum() == overall["n_responses"].sum() == len(data.surveys)


def _later_events(draw, data: SupportData, cutoff: pd.Timestamp) -> SupportData:
    """The same data with every event at or after ``cutoff`` added to or changed."""
    after = lambda: cutoff + draw(st.integers(0, 60 * 1440)) * MINUTE  # noqa: E731
    t = data.tickets.copy()
    late = (t["resolved_at"].isna() | (t["resolved_at"] >= cutoff)) & (t["created_at"] < cutoff)
    for i in np.flatnonzero(late.to_numpy()):  # open at the cutoff: resolve later, re-rate
        t.loc[t.index[i], "resolved_at"] = draw(st.sampled_from([pd.NaT, after()]))
        t.loc[t.index[i], "csat"] = float(draw(st.integers(1, 5)))
        t.loc[t.index[i], "contacts"] = draw(st.integers(1, 4))
    new = t.sample(n=min(len(t), draw(st.integers(1, 5))), replace=False,
                   random_state=draw(st.integers(0, 99))).copy()
    new["ticket_id"] = [f"late{i}" for i in range(len(new))]
    new["created_at"] = [after() for _ in range(len(new))]
    new["resolved_at"] = new["created_at"] + pd.Timedelta(hours=2)
    s = pd.concat([data.surveys, pd.DataFrame({"customer_id": data.customers["customer_id"],
                                               "answered_at": after(), "nps": 0.0})])
    r = pd.concat([data.revenue, pd.DataFrame({"customer_id": data.customers["customer_id"],
                                               "paid_at": after(), "amount": 999.0})])
    return SupportData(customers=data.customers, tickets=pd.concat([t, new], ignore_index=True),
                       revenue=r.reset_index(drop=True), surveys=s.reset_index(drop=True))


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(support_data(max_tickets=20), st.integers(1, 5), st.data())
def test_panel_rows_ignore_events_after_their_window(data, month, draw):
    cutoff = START + pd.DateOffset(months=month)
    changed = _later_events(draw.draw, data, cutoff)
    before = build_panel(data, start=START, end=END, threads=1)
    after = build_panel(changed, start=START, end=END, threads=1)
    known = [c for c in before.columns if not any(w in c for w in ("next", "change", "outcome"))]
    old = before.loc[before["period_end"] <= cutoff, known].reset_index(drop=True)
    new = after.loc[after["period_end"] <= cutoff, known].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, new)
    assert (before["ticket_count"].sum() <= len(data.tickets))
