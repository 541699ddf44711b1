"""cxkit init (cxkit.project) and the package data it copies (cxkit._package_data)."""

import pytest
import yaml

from cxkit._package_data import default_run_config, notebook_paths, sample_dir
from cxkit.cli import main
from cxkit.config import load_config
from cxkit.exceptions import ConfigError
from cxkit.project import init_project
from cxkit.runconfig import read_run_config


def test_package_data_is_found_without_the_repository_layout():
    assert [p.stem[:2] for p in notebook_paths()] == ["01", "02", "03", "04", "05", "06"]
    assert (sample_dir() / "cxkit.yaml").is_file() and (sample_dir() / "truth.json").is_file()
    assert yaml.safe_load(default_run_config().read_text())["source"] == "sample"


def test_init_writes_a_runnable_project(tmp_path):
    out = tmp_path / "demo"
    written = init_project(out, presets=["zendesk", "stripe_invoices"])
    names = {p.relative_to(out).as_posix() for p in written}
    assert {"cxkit.yaml", "reports.yaml", "README.md", "notebooks/01_data_quality.ipynb"} <= names
    assert (out / "exports").is_dir()
    # the run config runs the project's own copies of the notebooks, on the sample for now
    run = read_run_config(out / "reports.yaml")
    assert run.source == "sample" and len(run.notebooks) == 6
    assert all(p.parent == (out / "notebooks").resolve() for p in run.notebooks)
    assert run.output_root == (out / "reports").resolve()
    # the source config is the presets plus a path per table, and it loads
    raw = yaml.safe_load((out / "cxkit.yaml").read_text())
    assert raw["preset"] == ["zendesk", "stripe_invoices"]
    assert set(raw["tables"]) == {"customers", "tickets", "revenue"}
    cfg = load_config(out / "cxkit.yaml")
    assert cfg.tables["tickets"].columns["ticket_id"] == "Id"
    assert cfg.tables["revenue"].path == "exports/revenue.csv"
    assert "# from preset zendesk" in (out / "cxkit.yaml").read_text()
    assert "cxkit validate cxkit.yaml" in (out / "README.md").read_text()


def test_init_without_preset_lists_every_column_to_map(tmp_path):
    init_project(tmp_path / "p")
    raw = yaml.safe_load((tmp_path / "p" / "cxkit.yaml").read_text())
    assert set(raw["tables"]) == {"customers", "tickets", "revenue", "surveys"}
    assert raw["tables"]["revenue"]["columns"]["amount"].startswith("<")


def test_init_never_overwrites_and_checks_presets_first(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["init", str(tmp_path / "full")]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "new"), "--preset", "zendesk,nope"]) == 2
    assert "preset 'nope' is unknown" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()  # nothing written
    with pytest.raises(ConfigError):
        init_project(tmp_path / "full")


def test_cli_init_takes_repeated_and_comma_separated_presets(tmp_path, capsys):
    assert main(["init", str(tmp_path / "d"), "--preset", "zendesk,stripe_subscriptions",
                 "--preset", "delighted"]) == 0
    raw = yaml.safe_load((tmp_path / "d" / "cxkit.yaml").read_text())
    assert raw["preset"] == ["zendesk", "stripe_subscriptions", "delighted"]
    assert "cxkit run" in capsys.readouterr().out
