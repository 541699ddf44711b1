"""Tables formatted by unit (cxkit.display)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
import pytest

from cxkit.display import MISSING, column_unit, format_table, format_value


@pytest.mark.parametrize("value, unit, expected", [
    (0.5862, "share", "58.6%"),
    (63.79, "pct", "63.8%"),
    (-0.4129, "pp", "−0.41 pp"),
    (0.04, "pp", "+0.04 pp"),
    (-0.00031, "pp", "−0.00031 pp"),
    (1234.5, "money", "1,234"),
    (61.8, "minutes", "1 h 02 min"),
    (42.4, "minutes", "42 min"),
    (5.9653, "hours", "5 h 58 min"),
    (120.0, "hours", "120 h"),
    (17295, "count", "17,295"),
    (0.9011, "count", "0.9"),
    (2.29e-39, "p_value", "<0.001"),
    (0.0421, "p_value", "0.042"),
    (0.657, "p_value", "0.66"),
    (1.8712, "ratio", "1.87"),
    (np.nan, "share", MISSING),
    (pd.NA, "count", MISSING),
    (None, "text", MISSING),
    (pd.Timestamp("2024-03-01"), "date", "Mar 2024"),
])
def test_format_value_by_unit(value, unit, expected):
    assert format_value(value, unit) == expected


def test_money_has_its_currency_and_separators():
    assert format_value(1234.5, "money", currency="USD") == "$1,234"
    assert format_value(38.468, "money", currency="USD") == "$38.47"
    assert format_value(-1500.0, "money", currency="CHF") == "−1,500 CHF"


@pytest.mark.parametrize("name, unit", [
    ("fcr_rate", "share"), ("csat_satisfied_pct", "pct"), ("revenue_next_amount", "money"),
    ("resolution_hours_median", "hours"), ("first_response_minutes_p90", "minutes"),
    ("csat_count", "count"), ("n_obs", "count"), ("p_value_bh", "p_value"),
    ("naive_p_value", "p_value"), ("odds_ratio", "ratio"), ("ame_conf_low", "pp"),
    ("estimate", "number"),
])
def test_unit_from_the_column_name(name, unit):
    assert column_unit(name, pd.Series([1.5])) == unit


def _cells(table) -> list[list[str]]:
    """Every block's visible cells (header row first) as text."""
    out = []
    for block in table.blocks:
        html = block.to_html()
        for row in re.findall(r"<tr>(.*?)</tr>", html, flags=re.S):
            out.append([re.sub(r"<.*?>", "", c).strip()
                        for c in re.findall(r"<t[hd][^>]*>.*?</t[hd]>", row, flags=re.S)])
    return out


def test_no_index_missing_as_dash_with_footnote():
    df = pd.DataFrame({"reason": ["billing", "login"], "fcr_rate": [0.5, np.nan],
                       "n_tickets": [1200, 0]})
    table = format_table(df)
    cells = _cells(table)
    assert cells[0] == ["reason", "fcr rate", "n tickets"]  # no index column
    assert cells[1] == ["billing", "50.0%", "1,200"]
    assert cells[2] == ["login", MISSING, "0"]
    assert any(note.startswith(MISSING) for note in table.footnotes)
    html = table.to_html()
    assert "NaN" not in html and "&lt;NA&gt;" not in html and "<NA>" not in html
    assert MISSING not in "".join(format_table(df.dropna()).footnotes)  # footnote only if needed


def test_long_table_shows_latest_rows_and_links_the_full_csv():
    df = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=24, freq="MS"),
                       "n_tickets": range(24)})
    table = format_table(df, top=10)
    cells = _cells(table)
    assert len(cells) == 11 and cells[1][0] == "Mar 2025" and cells[-1][0] == "Dec 2025"
    link = re.search(r"href='data:text/csv;base64,([^']+)'", table.footnotes[0])
    full = pd.read_csv(io.StringIO(base64.b64decode(link.group(1)).decode()))
    assert len(full) == 24 and full["n_tickets"].tolist() == list(range(24))


def test_wide_table_is_folded_and_one_row_becomes_a_list():
    wide = pd.DataFrame({"period": pd.date_range("2024-01-01", periods=3, freq="MS"),
                         **{f"kpi{i}_rate": [0.1, 0.2, 0.3] for i in range(20)}})
    table = format_table(wide, max_columns=8)
    assert len(table.blocks) == 3
    for block in table.blocks:  # each block repeats the label column
        assert _cells(format_table(wide))[0][0] == "period"
        assert len(block.data.columns) <= 9
    one = format_table(wide.head(1), max_columns=8)
    cells = _cells(one)
    assert cells[0] == ["measure", "value"] and len(cells) == 22
    assert ["kpi0 rate", "10.0%"] in cells


def test_row_units_from_a_unit_column():
    df = pd.DataFrame({"quantity": ["churn_rate", "retention_value_per_period"],
                       "baseline": [3.02, np.nan], "change": [-0.41, 38.47],
                       "unit": ["pp", "USD"]})
    cells = _cells(format_table(df))
    assert cells[0] == ["quantity", "baseline", "change"]  # the unit is in the values now
    assert cells[1] == ["churn rate", "3.0%", "−0.41 pp"]
    assert cells[2] == ["retention value per period", MISSING, "$38.47"]


def test_units_argument_and_attrs_override_the_name():
    df = pd.DataFrame({"value": [0.25]})
    assert _cells(format_table(df, units={"value": "share"}))[1] == ["25.0%"]
    df.attrs["units"] = {"value": "pp"}
    assert _cells(format_table(df))[1] == ["+0.25 pp"]


def test_register_display_formats_dataframes_in_ipython():
    from IPython.core.interactiveshell import InteractiveShell

    from cxkit.display import register_display

    shell = InteractiveShell.instance()
    try:
        register_display()
        data, _ = shell.display_formatter.format(pd.DataFrame({"fcr_rate": [0.5]}))
        assert "50.0%" in data["text/html"] and "cx-table" in data["text/html"]
    finally:
        shell.display_formatter.formatters["text/html"].pop(pd.DataFrame, None)
        InteractiveShell.clear_instance()
