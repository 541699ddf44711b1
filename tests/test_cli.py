"""The command line: exit codes, the printed quality table, quarantine files, clean errors."""

import shutil
import sys
import types
from pathlib import Path

import pandas as pd
import pytest

from cxkit.cli import main

FIXTURE = Path(__file__).parent / "fixtures" / "helpdesk"


@pytest.fixture
def export(tmp_path):
    """The Zendesk-like fixture copied, with one ticket resolved before it was created."""
    folder = tmp_path / "export"
    shutil.copytree(FIXTURE, folder)
    with open(folder / "tickets.csv", "a") as fh:
        fh.write("105,00019,07/01/2024 10:00,07/01/2024 08:00,07/01/2024 10:05,0,Good,chat,"
                 "Tier 1\n")
    return folder


def test_validate_prints_the_table_and_writes_quarantine(export, capsys):
    assert main(["validate", str(export / "cxkit.yaml")]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "resolved_before_created" in x)
    assert line.split()[:2] == ["tickets", "resolved_before_created"]
    assert "resolved_at earlier than created_at" in line
    assert "Rows quarantined: 1." in out
    rows = pd.read_csv(export / "quarantine" / "tickets.csv", dtype=str)
    assert rows[["rule", "source_row", "ticket_id"]].values.tolist() == [
        ["resolved_before_created", "5", "105"]]
    assert not (export / "quarantine" / "customers.csv").exists()



def test_validate_writes_the_text_of_an_unreadable_value(export, capsys):
    with open(export / "tickets.csv", "a") as fh:  # a creation date that is not a date
        fh.write("106,00019,sometime,07/01/2024 12:00,07/01/2024 10:05,0,Good,chat,Tier 1\n")
        for n in range(107, 112):  # enough readable dates that one bad value is not structural
            fh.write(f"{n},00019,07/02/2024 10:00,07/02/2024 12:00,,0,Good,chat,Tier 1\n")
    assert main(["validate", str(export / "cxkit.yaml")]) == 0
    rows = pd.read_csv(export / "quarantine" / "tickets.csv", dtype=str).set_index("ticket_id")
    assert rows.loc["106", "rule"] == "unparseable_value"
    assert rows.loc["106", "unparsed_columns"] == "created_at"
    assert rows.loc["106", "unparsed_values"].endswith("='sometime'")

def test_validate_quarantine_dir_and_as_of(export, tmp_path, capsys):
    target = tmp_path / "q"
    assert main(["validate", str(export / "cxkit.yaml"), "--quarantine-dir", str(target),
                 "--as-of", "2024-10-31"]) == 0
    rules = pd.read_csv(target / "tickets.csv")["rule"].value_counts().to_dict()
    # ticket 104 (3 Nov) is after as_of; 105 is resolved early (checked before future dates)
    assert rules == {"future_date": 1, "resolved_before_created": 1}
    assert not (target / "customers.csv").exists()


def test_clean_run_removes_stale_quarantine_files(export, capsys):
    (export / "quarantine").mkdir()
    stale = export / "quarantine" / "revenue.csv"
    stale.write_text("old")
    assert main(["validate", str(export / "cxkit.yaml")]) == 0
    assert not stale.exists()


def test_structural_error_exits_2_without_traceback(export, capsys):
    text = (export / "tickets.csv").read_text().replace("Created at", "Opened")
    (export / "tickets.csv").write_text(text)
    assert main(["validate", str(export / "cxkit.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: tickets.csv: column 'Created at'")
    assert "tables.tickets.columns.created_at" in err and "Traceback" not in err


def test_missing_config_exits_2(tmp_path, capsys):
    assert main(["validate", str(tmp_path / "none.yaml")]) == 2
    assert "error: source config" in capsys.readouterr().err


def test_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0 and capsys.readouterr().out.startswith("cxkit ")


def test_sample_and_run_delegate(monkeypatch, tmp_path):
    calls = {}
    synth = types.SimpleNamespace(
        write_sample=lambda out, **kw: calls.setdefault("sample", (out, kw)) and out)
    failed = types.SimpleNamespace(failed=("a run",), summary=lambda: "1 run failed")
    batch = types.SimpleNamespace(
        run_batch=lambda path, jobs=None: calls.setdefault("run", (path, jobs)) and failed)
    monkeypatch.setitem(sys.modules, "cxkit.synth", synth)
    monkeypatch.setitem(sys.modules, "cxkit.batch", batch)
    assert main(["sample", "--out", str(tmp_path), "--customers", "50", "--seed", "3"]) == 0
    assert calls["sample"] == (tmp_path, {"n_customers": 50, "months": 24, "seed": 3,
                                          "variant": "default"})
    calls.clear()
    assert main(["sample", "--out", str(tmp_path), "--variant", "minimal",
                 "--variant", "log_resolution"]) == 0
    assert calls["sample"][1]["variant"] == ["minimal", "log_resolution"]
    assert main(["run", "batch.yaml", "--jobs", "2"]) == 1
    assert calls["run"] == ("batch.yaml", 2)
