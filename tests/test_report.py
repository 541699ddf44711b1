"""results.json and results.csv: parameters without retyping, stamping, CSV escaping."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from cxkit.report import stamp_results, write_results, write_results_csv

ROW = {"model": "logit", "outcome": "churned_next", "term": "csat_mean", "estimate": -0.4}


@pytest.fixture
def shell():
    """An IPython shell, as a notebook's kernel runs one."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    yield ip
    InteractiveShell.clear_instance()


def test_write_results_in_a_notebook_reads_the_parameters_cells(shell, tmp_path):
    cells = ['# Parameters\nsegment: str = "all"  # segment\nhorizon: int = 1\n'
             'output_dir: str = "."  # where results.json goes',
             '# Parameters\nsegment = "SMB"\n',  # what papermill injects
             'helper = 5\nsegment_note = "not a parameter"',
             f'from cxkit.report import write_results\n'
             f'write_results([{ROW!r}], output_dir={str(tmp_path)!r})']
    for cell in cells:
        assert shell.run_cell(cell, store_history=True).success
    payload = json.loads((tmp_path / "results.json").read_text())
    assert payload["parameters"] == {"segment": "SMB", "horizon": 1}


def test_parameters_cell_is_parsed_never_run(shell, tmp_path):
    marker = tmp_path / "ran"
    # the cell's text is only parsed: a call in it does not run again when parameters are read
    cell = f'# Parameters\nlabel = "x"\nopen({str(marker)!r}, "a").write("1")'
    assert shell.run_cell(cell, store_history=True).success
    assert marker.read_text() == "1"
    assert shell.run_cell(f'from cxkit.report import write_results\n'
                          f'write_results([{ROW!r}], output_dir={str(tmp_path)!r})',
                          store_history=True).success
    assert marker.read_text() == "1"
    assert json.loads((tmp_path / "results.json").read_text())["parameters"] == {"label": "x"}


def test_outside_a_notebook_parameters_default_to_none_given(tmp_path):
    path = write_results([ROW], output_dir=tmp_path)
    assert json.loads(path.read_text())["parameters"] == {}
    path = write_results([ROW], output_dir=tmp_path, parameters={"a": 1, "output_dir": "x"})
    assert json.loads(path.read_text())["parameters"] == {"a": 1}


def test_stamp_results_replaces_what_the_notebook_wrote(tmp_path):
    path = write_results([ROW], output_dir=tmp_path, parameters={"segment": "typo"})
    stamp_results(path, notebook="03_retention_drivers",
                  parameters={"segment": "SMB", "alpha": 0.1, "output_dir": "."})
    payload = json.loads(path.read_text())
    assert payload["notebook"] == "03_retention_drivers"
    assert payload["parameters"] == {"segment": "SMB", "alpha": 0.1}
    assert payload["results"][0]["notebook"] == "03_retention_drivers"
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.parametrize("text", ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "=cmd|' /C calc'!A0"])
def test_results_csv_escapes_formula_cells(tmp_path, text):
    table = pd.DataFrame({"segment": [text, "all"], "term": ["t", "-"],
                          "estimate": [-1.5, 2.0], "p_value": [0.5, None]})
    write_results_csv(table, tmp_path / "r.csv")
    with open(tmp_path / "r.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows[0]["segment"] == "'" + text and rows[1]["segment"] == "all"
    assert rows[1]["term"] == "'-"
    assert rows[0]["estimate"] == "-1.5" and pd.read_csv(tmp_path / "r.csv")["estimate"].tolist() \
        == [-1.5, 2.0]


def test_results_csv_keeps_numbers_typed_as_text(tmp_path):
    table = pd.DataFrame({"label": ["-0.25", "-1e3", "-x"]})
    write_results_csv(table, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().split() == ["label", "-0.25", "-1e3", "'-x"]


def test_no_notebook_retypes_its_parameters_for_write_results():
    import ast
    from pathlib import Path

    import nbformat

    notebooks = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9]*.ipynb"))
    calls = []
    for path in notebooks:
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code" or "write_results" not in cell.source:
                continue
            for node in ast.walk(ast.parse(cell.source)):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == \
                        "write_results":
                    calls.append((path.name, sorted(k.arg for k in node.keywords)))
    assert {name for name, _ in calls} == {p.name for p in notebooks}  # each writes results
    assert [c for c in calls if "parameters" in c[1] or "notebook" in c[1]] == []
