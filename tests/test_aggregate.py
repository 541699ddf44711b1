"""Tests of cxkit.aggregate: the engine connection, sliced queries and the panel's ticket SQL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxkit import aggregate
from cxkit.exceptions import ParameterError, ResourceError


def test_each_slice_gets_its_own_answer_on_one_connection():
    slices = [pd.DataFrame({"k": [1, 1, 2], "v": [1.0, 2.0, np.nan]}),
              pd.DataFrame({"k": [3], "v": [5.0]})]
    answers = list(aggregate.run_query_slices(
        "SELECT k, sum(v) AS total, count(v) AS n FROM t GROUP BY k ORDER BY k", "t", slices,
        memory_limit="256MB", threads=1))
    assert [a["k"].tolist() for a in answers] == [[1, 2], [3]]
    first = answers[0]
    assert first["n"].tolist() == [2, 0]
    assert np.ma.filled(first["total"].astype(float), np.nan)[0] == 3.0
    assert np.isnan(np.ma.filled(first["total"].astype(float), np.nan)[1])  # NULL sum stays missing


def test_no_slices_run_no_query():
    assert list(aggregate.run_query_slices("SELECT 1", "t", [])) == []


@pytest.mark.parametrize("kwargs, words", [
    ({"memory_limit": "lots", "threads": 1}, "memory_limit='lots'"),
    ({"memory_limit": 4, "threads": 1}, "memory_limit=4"),
    ({"memory_limit": "4GB", "threads": 0}, "threads=0"),
    ({"memory_limit": "4GB", "threads": True}, "threads=True"),
])
def test_bad_settings_name_the_setting(kwargs, words):
    with pytest.raises(ParameterError, match=words):
        aggregate.check_settings(**kwargs)


def test_running_out_of_memory_says_which_setting_to_raise():
    n = 2_000_000
    frame = pd.DataFrame({"k": np.arange(n) % 500_000, "v": np.random.default_rng(1).random(n)})
    with pytest.raises(ResourceError, match="raise memory_limit"):
        list(aggregate.run_query_slices("SELECT k, median(v) AS m FROM t GROUP BY k", "t", [frame],
                                        memory_limit="8MB", threads=1))


def test_panel_ticket_sql_compiles_each_statistic():
    frame = pd.DataFrame({"row_id": [0, 0, 0, 1, 1],
                          "x": [2.0, np.nan, 4.0, np.nan, np.nan],
                          "code": [0.0, 1.0, 1.0, np.nan, 2.0]})
    plan = [("m_mean", "x", "mean", None), ("m_median", "x", "median", None),
            ("m_sum", "x", "sum", None), ("m_count", "x", "count", None),
            ("m_p90", "x", 0.9, None), ("share_1", "code", "share", 1)]
    (answer,) = aggregate.run_query_slices(aggregate.panel_ticket_sql(plan) + " ORDER BY row_id",
                                           "cx_tickets", [frame], threads=1)
    got = {k: np.ma.filled(v.astype(float), np.nan).tolist() for k, v in answer.items()}
    assert got["m_mean"][0] == 3.0 and np.isnan(got["m_mean"][1])
    assert got["m_median"][0] == 3.0 and got["m_p90"][0] == pytest.approx(3.8)
    assert got["m_sum"] == [6.0, 0.0]  # a total over no values is 0, not missing
    assert got["m_count"] == [2.0, 0.0]
    assert got["share_1"] == [pytest.approx(2 / 3), 0.0]  # among tickets with a code
