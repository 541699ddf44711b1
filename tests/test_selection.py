"""Tests of cxkit.selection.select on the conftest's generated sample."""

import pandas as pd
import pytest

import cxkit as cx
from cxkit.selection import select


def test_select_filters_customers_events_and_panel(sample):
    data, panel = sample
    smb = select(data, segment="SMB")
    assert set(smb.customers["segment"]) == {"SMB"}
    assert set(smb.tickets["customer_id"]) <= set(smb.customers["customer_id"])
    assert len(smb.tickets) == data.tickets["customer_id"].isin(smb.customers["customer_id"]).sum()
    p = select(panel, segment="SMB", start="2024-03-01", end="2024-05-01")
    assert set(p["segment"]) == {"SMB"}
    assert p["period"].min() == pd.Timestamp("2024-03-01")
    assert p["period"].max() == pd.Timestamp("2024-05-01")
    assert p.attrs["period"] == "M"
    assert len(select(panel)) == len(panel)


def test_select_unknown_segment_names_the_known_ones(sample):
    data, _ = sample
    known = r"segment='Nope' is not in the data; segments are \['Enterprise'"
    with pytest.raises(cx.ParameterError, match=known):
        select(data, segment="Nope")


def test_data_and_panel_cut_to_the_same_whole_periods(sample):
    data, panel = sample
    for period, start, end in [("M", "2024-03-15", "2024-05-02"),
                               ("Q", "2024-02-10", "2024-05-20")]:
        cut = select(data, start=start, end=end, period=period)
        first = pd.Timestamp(start).to_period(period).start_time
        stop = (pd.Timestamp(end).to_period(period) + 1).start_time
        created = cut.tickets["created_at"]
        assert created.min() >= first and created.max() < stop
        inside = data.tickets["created_at"].between(first, stop, inclusive="left")
        assert len(cut.tickets) == inside.sum()
    p = select(panel, start="2024-03-15", end="2024-05-02")  # the panel's own months
    assert (p["period"].min(), p["period"].max()) == (pd.Timestamp("2024-03-01"),
                                                      pd.Timestamp("2024-05-01"))
    with pytest.raises(cx.ParameterError, match="period="):
        select(data, start="2024-01-01", period="D")
