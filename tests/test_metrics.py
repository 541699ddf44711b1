"""Tests of cxkit.metrics on fixtures small enough to check by eye.

The fixture (see ``tickets``): four tickets, January 2, January 5, January 15
and March 4 2024, none in February.

  ticket  customer  frt_min  resolved after  channel       contacts  reopened  escalated  csat  ces
  t1      c1        10       2 h             email         1         no        no         5     6
  t2      c1        30       24 h            chat          2         yes       no         3     4
  t3      c2        -        (open)          self_service  -         no        yes        -     -
  t4      c1        50       4 h             email         1         no        no         4     7

Customers: c1 smb (signed up 2023-12-01), c2 enterprise (signed up
2024-01-10, churned 2024-01-20), c3 smb (signed up 2024-02-15).
"""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

from cxkit import metrics
from cxkit.availability import Missing
from cxkit.data import SupportData
from cxkit.exceptions import ParameterError, SchemaError

matplotlib.use("Agg")

T = pd.Timestamp


@pytest.fixture
def customers():
    return pd.DataFrame({
        "customer_id": ["c1", "c2", "c3"],
        "signup_at": pd.to_datetime(["2023-12-01", "2024-01-10", "2024-02-15"]),
        "churned_at": pd.to_datetime([None, "2024-01-20", None]),
        "segment": ["smb", "enterprise", "smb"],
        "plan": ["basic", "pro", "basic"],
    })


@pytest.fixture
def tickets():
    return pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4"],
        "customer_id": ["c1", "c1", "c2", "c1"],
        "created_at": pd.to_datetime(["2024-01-02 09:00", "2024-01-05 09:00",
                                      "2024-01-15 12:00", "2024-03-04 08:00"]),
        "first_response_minutes": [10.0, 30.0, np.nan, 50.0],
        "resolved_at": pd.to_datetime(["2024-01-02 11:00", "2024-01-06 09:00", None,
                                       "2024-03-04 12:00"]),
        "channel": ["email", "chat", "self_service", "email"],
        "reason": ["billing", "bug", "billing", "how_to"],
        "contacts": pd.array([1, 2, None, 1], dtype="Int64"),
        "reopened": [False, True, False, False],
        "escalated": [False, False, True, False],
        "csat": [5.0, 3.0, np.nan, 4.0],
        "ces": [6.0, 4.0, np.nan, 7.0],
        "team": ["a", "a", "b", "b"],
        "agent": ["ann", "bob", "cy", "cy"],
    })


@pytest.fixture
def data(customers, tickets):
    return SupportData(customers=customers, tickets=tickets)


def row(table, **keys):
    """The single row of ``table`` matching ``keys``."""
    mask = np.ones(len(table), dtype=bool)
    for k, v in keys.items():
        mask &= (table[k] == v).to_numpy()
    assert mask.sum() == 1, f"expected one row for {keys}, found {mask.sum()}"
    return table[mask].iloc[0]


# ------------------------------------------------------------- ticket KPIs


def test_overall_kpis_match_hand_computation(data):
    k = metrics.compute_kpis(data)
    assert len(k) == 1 and "period" not in k.columns
    r = k.iloc[0]
    assert r["n_tickets"] == 4
    assert r["first_response_count"] == 3
    assert r["first_response_minutes_median"] == 30  # of 10, 30, 50
    assert r["first_response_minutes_p90"] == pytest.approx(46)  # 30 + 0.8 * 20
    assert (r["resolved_count"], r["open_count"]) == (3, 1)
    assert r["resolution_hours_median"] == 4  # of 2, 24, 4 hours
    assert r["resolution_hours_mean"] == pytest.approx(10)
    assert r["resolution_hours_p90"] == pytest.approx(20)  # 4 + 0.8 * 20
    assert r["fcr_rate"] == pytest.approx(2 / 3)  # t1, t4 of resolved t1, t2, t4
    assert r["reopen_rate"] == 0.25 and r["escalation_rate"] == 0.25
    assert r["self_service_rate"] == 0.25
    assert r["csat_count"] == 3 and r["csat_mean"] == pytest.approx(4)
    assert r["csat_satisfied_pct"] == pytest.approx(200 / 3)
    assert r["ces_count"] == 3 and r["ces_mean"] == pytest.approx(17 / 3)
    assert k.attrs["unavailable"] == {}


def test_open_tickets_never_enter_resolution_time(data, tickets):
    # t3 is open: if it were treated as resolved (e.g. at 0 h) the mean would change
    r = metrics.resolution_hours(data).iloc[0]
    assert r["resolved_count"] + r["open_count"] == r["n_tickets"]
    assert r["resolution_hours_mean"] == pytest.approx((2 + 24 + 4) / 3)
    everything_open = tickets.assign(resolved_at=pd.NaT)
    r = metrics.resolution_hours(everything_open).iloc[0]
    assert r["open_count"] == 4 and r["resolved_count"] == 0
    assert math.isnan(r["resolution_hours_median"])


def test_monthly_kpis_include_the_empty_month(data):
    k = metrics.compute_kpis(data, period="M")
    assert k["period"].tolist() == [T("2024-01-01"), T("2024-02-01"), T("2024-03-01")]
    jan, feb, mar = (k.iloc[i] for i in range(3))
    assert (jan["n_tickets"], feb["n_tickets"], mar["n_tickets"]) == (3, 0, 1)
    assert jan["first_response_minutes_median"] == 20  # of 10, 30
    assert jan["resolution_hours_median"] == 13  # of 2, 24
    assert jan["open_count"] == 1 and jan["fcr_rate"] == 0.5
    assert feb["csat_count"] == 0 and feb["open_count"] == 0
    assert feb[["first_response_minutes_median", "csat_mean", "fcr_rate"]].isna().all()
    assert mar["csat_mean"] == 4 and mar["fcr_rate"] == 1


def test_weeks_start_on_monday_and_quarters_are_calendar(data):
    weeks = metrics.compute_kpis(data, period="W")
    assert weeks["period"].iloc[0] == T("2024-01-01")  # Tue 2 Jan -> Mon 1 Jan
    assert (weeks["period"].dt.day_of_week == 0).all()
    assert len(weeks) == 10 and weeks["n_tickets"].sum() == 4  # 1 Jan .. 4 Mar
    assert row(weeks, period=T("2024-01-15"))["n_tickets"] == 1
    quarters = metrics.compute_kpis(data, period="Q")
    assert quarters["period"].tolist() == [T("2024-01-01")]
    assert quarters["n_tickets"].tolist() == [4]


def test_by_customer_segment_and_ticket_channel(data):
    seg = metrics.compute_kpis(data, by="segment")
    assert seg["segment"].tolist() == ["enterprise", "smb"]
    assert row(seg, segment="smb")["n_tickets"] == 3
    assert row(seg, segment="enterprise")["escalation_rate"] == 1
    both = metrics.fcr_rate(data, by=["channel"], period="M")
    assert list(both.columns[:2]) == ["channel", "period"]
    assert len(both) == 3 * 3  # every channel x every month
    assert row(both, channel="email", period=T("2024-03-01"))["fcr_rate"] == 1
    assert row(both, channel="chat", period=T("2024-01-01"))["fcr_rate"] == 0
    assert row(both, channel="chat", period=T("2024-03-01"))["resolved_count"] == 0


def test_by_plan_team_and_agent(data):
    plan = metrics.csat(data, by="plan")
    assert row(plan, plan="basic")["csat_mean"] == 4 and row(plan, plan="pro")["csat_count"] == 0
    team = metrics.first_response_minutes(data, by=["team", "agent"], q=0.5)
    assert "first_response_minutes_p50" in team.columns
    assert row(team, team="b", agent="cy")["first_response_count"] == 1


def test_tickets_of_unknown_customer_get_the_missing_label(data, customers, tickets):
    extra = pd.concat([tickets, tickets.iloc[[0]].assign(ticket_id="t5", customer_id="zz")])
    k = metrics.compute_kpis(SupportData(customers=customers, tickets=extra), by="segment")
    assert row(k, segment=metrics.MISSING_LABEL)["n_tickets"] == 1
    assert k["n_tickets"].sum() == 5


def test_no_tickets_gives_nan_and_zero_counts(customers, tickets):
    empty = SupportData(customers=customers, tickets=tickets.iloc[:0])
    k = metrics.compute_kpis(empty)
    assert len(k) == 1 and k["n_tickets"].iloc[0] == 0 and k["csat_count"].iloc[0] == 0
    assert k[["resolution_hours_median", "fcr_rate", "csat_mean"]].isna().all(axis=None)
    by_month = metrics.compute_kpis(empty, period="M", by="channel")
    assert by_month.empty and "csat_mean" in by_month.columns


def test_all_csat_missing(tickets):
    r = metrics.csat(tickets.assign(csat=np.nan)).iloc[0]
    assert r["csat_count"] == 0 and math.isnan(r["csat_mean"])
    assert math.isnan(r["csat_satisfied_pct"]) and r["n_tickets"] == 4


def test_missing_optional_column_raises_or_is_marked_unavailable(tickets):
    no_csat = tickets.drop(columns=["csat", "contacts"])
    with pytest.raises(SchemaError, match="'csat'"):
        metrics.csat(no_csat)
    with pytest.raises(SchemaError, match="first-contact resolution.*'contacts'"):
        metrics.fcr_rate(no_csat)
    k = metrics.compute_kpis(no_csat)
    assert set(k.attrs["unavailable"]) == {"csat_count", "csat_mean", "csat_satisfied_pct",
                                           "fcr_rate"}
    assert not {"csat_count", "csat_mean", "fcr_rate"} & set(k.columns)
    assert "no 'contacts' column" in k.attrs["unavailable"]["fcr_rate"]
    assert k["ces_mean"].iloc[0] == pytest.approx(17 / 3)  # the rest is still computed


def test_first_response_from_timestamp_when_minutes_absent(tickets):
    t = tickets.drop(columns="first_response_minutes").assign(
        first_response_at=tickets["created_at"] + pd.to_timedelta([10, 30, None, 50], unit="min"))
    assert metrics.first_response_minutes(t).iloc[0]["first_response_minutes_median"] == 30


def test_bad_arguments_raise_actionable_errors(data, tickets):
    with pytest.raises(ParameterError, match="period='D'"):
        metrics.compute_kpis(data, period="D")
    with pytest.raises(ParameterError, match="by='country'"):
        metrics.compute_kpis(data, by="country")
    with pytest.raises(ParameterError, match="q="):
        metrics.first_response_minutes(data, q=90.0)
    # absent data: a note saying what is missing (shown in a notebook), which raises when used
    for note, words in ((metrics.compute_kpis(tickets, by="segment"), "customers table"),
                        (metrics.compute_kpis(tickets.drop(columns="team"), by="team"), "'team'"),
                        (metrics.compute_kpis(SupportData(customers=data.customers)),
                         "no tickets table")):
        assert isinstance(note, Missing) and words in note.sentence
        with pytest.raises(SchemaError, match=words):
            note["n_tickets"]


# -------------------------------------------------------------------- NPS


@pytest.fixture
def surveys():
    return pd.DataFrame({
        "customer_id": ["c1"] * 5 + ["c2"] * 5,
        "answered_at": pd.to_datetime(["2024-01-10"] * 8 + ["2024-03-10"] * 2),
        "nps": [10.0, 10, 9, 9, 9, 8, 7, 6, 3, 0],
    })


def test_nps_value_se_and_interval(surveys):
    r = metrics.nps(surveys).iloc[0]
    # 5 promoters, 2 passives, 3 detractors of 10 answers
    assert r["n_responses"] == 10
    assert (r["promoters_pct"], r["detractors_pct"]) == pytest.approx((50, 30))
    assert r["nps"] == pytest.approx(20)
    # independent check: NPS is 100 x the mean of +1/0/-1 scores; se from their spread
    x = np.array([1, 1, 1, 1, 1, 0, 0, -1, -1, -1])
    assert r["nps_se"] == pytest.approx(100 * x.std(ddof=0) / np.sqrt(10))
    assert r["nps_se"] == pytest.approx(27.5681, abs=1e-4)  # 100 * sqrt(0.76 / 10)
    assert r["nps_conf_low"] == pytest.approx(20 - 1.959964 * 27.5681, abs=1e-3)
    assert r["nps_conf_high"] == pytest.approx(20 + 1.959964 * 27.5681, abs=1e-3)
    narrow = metrics.nps(surveys, alpha=0.32).iloc[0]  # z(0.84) ~= 0.994
    assert narrow["nps_conf_high"] - narrow["nps"] == pytest.approx(0.994458 * 27.5681, abs=1e-3)


def test_nps_by_period_and_segment(customers, surveys):
    data = SupportData(customers=customers, surveys=surveys)
    by_month = metrics.nps(data, period="M")
    assert by_month["n_responses"].tolist() == [8, 0, 2]
    assert row(by_month, period=T("2024-03-01"))["nps"] == -100  # 3 and 0: both detractors
    assert row(by_month, period=T("2024-03-01"))["nps_conf_low"] >= -100  # clipped
    assert math.isnan(row(by_month, period=T("2024-02-01"))["nps_se"])
    seg = metrics.nps(data, by="segment")
    assert row(seg, segment="smb")["nps"] == 100  # c1: 10, 10, 9, 9, 9
    note = metrics.nps(data, by="channel")  # surveys carry no channel: a note, not a table
    assert isinstance(note, Missing) and "'channel'" in note.sentence
    with pytest.raises(ParameterError, match="alpha"):
        metrics.nps(data, alpha=5)


# ---------------------------------------------------------- contact rate


def test_contact_rate_counts_a_customer_who_churned_mid_period(data):
    c = metrics.contact_rate(data, period="M")
    # Jan: c1 and c2 (churned 20 Jan) active; Feb: c1 and c3; Mar: c1 and c3
    assert c["n_active_customers"].tolist() == [2, 2, 2]
    assert c["n_tickets"].tolist() == [3, 0, 1]
    assert c["contact_rate"].tolist() == pytest.approx([1.5, 0.0, 0.5])


def test_contact_rate_by_segment_splits_customers_by_channel_does_not(data):
    seg = metrics.contact_rate(data, period="M", by="segment")
    jan_smb = row(seg, segment="smb", period=T("2024-01-01"))
    assert (jan_smb["n_tickets"], jan_smb["n_active_customers"]) == (2, 1)  # c3 not yet
    feb_ent = row(seg, segment="enterprise", period=T("2024-02-01"))
    assert feb_ent["n_active_customers"] == 0 and math.isnan(feb_ent["contact_rate"])
    chan = metrics.contact_rate(data, period="M", by="channel")
    jan_email = row(chan, channel="email", period=T("2024-01-01"))
    assert (jan_email["n_tickets"], jan_email["n_active_customers"]) == (1, 2)


def test_contact_rate_over_the_whole_window(data):
    r = metrics.contact_rate(data, period=None)
    assert list(r.columns) == ["contact_rate", "n_tickets", "n_active_customers"]
    assert r.iloc[0]["n_active_customers"] == 3
    assert r.iloc[0]["contact_rate"] == pytest.approx(4 / 3)
    with pytest.raises(ParameterError, match="SupportData"):
        metrics.contact_rate(data.tickets)


def test_contact_rate_period_end_is_exclusive(customers, tickets):
    c4 = pd.DataFrame({"customer_id": ["c4"], "signup_at": [T("2024-03-01")],
                       "churned_at": [pd.NaT], "segment": ["smb"], "plan": ["pro"]})
    data = SupportData(customers=pd.concat([customers, c4]), tickets=tickets)
    c = metrics.contact_rate(data, period="M")
    assert c["n_active_customers"].tolist() == [2, 2, 3]  # c4 from March only


# -------------------------------------------------------------------- mix


def test_channel_mix_shares_add_up_per_period(data):
    mix = metrics.channel_mix(data, period="M")
    assert list(mix.columns) == ["period", "channel", "n_tickets", "share_rate"]
    jan = mix[mix["period"] == T("2024-01-01")]
    assert jan["share_rate"].tolist() == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    feb = mix[mix["period"] == T("2024-02-01")]
    assert (feb["n_tickets"] == 0).all() and feb["share_rate"].isna().all()
    overall = metrics.channel_mix(data)
    ss = row(overall, channel=metrics.SELF_SERVICE_CHANNEL)["share_rate"]
    assert ss == metrics.self_service_rate(data).iloc[0]["self_service_rate"] == 0.25


def test_ticket_without_channel_is_not_self_service(customers, tickets):
    extra = pd.concat([tickets, tickets.iloc[[0]].assign(ticket_id="t5", channel=None)])
    extra["channel"] = extra["channel"].astype("string")  # nullable text: missing is <NA>
    data = SupportData(customers=customers, tickets=extra)
    assert metrics.self_service_rate(data).iloc[0]["self_service_rate"] == pytest.approx(1 / 5)
    mix = metrics.channel_mix(data)
    assert row(mix, channel=metrics.MISSING_LABEL)["share_rate"] == pytest.approx(1 / 5)
    assert mix["share_rate"].sum() == pytest.approx(1)


def test_reason_mix_by_segment(data):
    mix = metrics.reason_mix(data, by="segment")
    assert row(mix, segment="smb", reason="billing")["share_rate"] == pytest.approx(1 / 3)
    assert row(mix, segment="enterprise", reason="billing")["share_rate"] == 1
    assert mix.groupby("segment")["share_rate"].sum().tolist() == pytest.approx([1, 1])
    with pytest.raises(ParameterError, match="already split"):
        metrics.reason_mix(data, by="reason")


# ------------------------------------------------------------------- plot


def test_kpi_trend_plot_draws_one_line_per_group(data):
    import matplotlib.pyplot as plt

    k = metrics.compute_kpis(data, period="M", by="channel")
    ax = metrics.kpi_trend_plot(k, kpi="resolution_hours_median", by="channel")
    assert ax.get_ylabel() == "Resolution time, median (hours)"
    assert ax.get_xlabel() == "Period start"
    assert len(ax.get_legend().get_texts()) == 3
    plt.close(ax.figure)
    with pytest.raises(SchemaError, match="nps"):
        metrics.kpi_trend_plot(k, kpi="nps")


# ---------------------------------------- against a brute-force computation


@pytest.fixture(scope="module")
def sample():
    from cxkit.synth import make_sample

    return make_sample(n_customers=300, months=6, seed=3)[0]


def test_monthly_kpis_by_segment_equal_a_plain_loop(sample):
    k = metrics.compute_kpis(sample, period="M", by="segment")
    segment = sample.customers.set_index("customer_id")["segment"]
    t = sample.tickets.assign(segment=sample.tickets["customer_id"].map(segment),
                              month=sample.tickets["created_at"].dt.strftime("%Y-%m"))
    for (seg, month), g in t.groupby(["segment", "month"]):
        r = row(k, segment=seg, period=T(month + "-01"))
        done = g[g["resolved_at"].notna()]
        hours = [(b - a).total_seconds() / 3600 for a, b in zip(done["created_at"],
                                                                  done["resolved_at"],
                                                                  strict=True)]
        assert r["n_tickets"] == len(g) and r["open_count"] == len(g) - len(done)
        assert r["resolution_hours_median"] == pytest.approx(np.median(hours))
        assert r["fcr_rate"] == pytest.approx(np.mean([c == 1 for c in done["contacts"]]))
        assert r["csat_mean"] == pytest.approx(np.nanmean(g["csat"]), nan_ok=True)


def test_contact_rate_equals_a_plain_loop(sample):
    c = metrics.contact_rate(sample, period="M")
    for _, r in c.iterrows():
        start, end = r["period"], r["period"] + pd.offsets.MonthBegin(1)
        active = sum(s < end and (pd.isna(ch) or ch >= start) for s, ch in
                     zip(sample.customers["signup_at"], sample.customers["churned_at"],
                         strict=True))
        created = sample.tickets["created_at"]
        assert r["n_active_customers"] == active
        assert r["n_tickets"] == ((created >= start) & (created < end)).sum()
