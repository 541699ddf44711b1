"""Run configs: reading, validating and planning runs before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from cxkit._package_data import notebooks_dir
from cxkit.exceptions import ConfigError, ParameterError
from cxkit.runconfig import (
    _declared,
    default_run_config,
    plan_runs,
    read_run_config,
    resolve_run_config,
)

NB = Path(__file__).parent / "fixtures" / "notebooks"


def _config(root, *notebooks, **extra):
    return {"notebooks": [str(NB / f"{n}.ipynb") for n in notebooks or ("quick",)],
            "output_root": str(root), "jobs": 2, "cache": False, **extra}


def test_run_config_unknown_key_and_missing_notebook(tmp_path):
    with pytest.raises(ConfigError, match="unknown key"):
        read_run_config({**_config(tmp_path), "job": 2})
    with pytest.raises(ConfigError, match="'no_such' not found"):
        read_run_config({"notebooks": ["no_such"]})


def test_grid_mapping_is_expanded_as_a_product(tmp_path):
    cfg = read_run_config(_config(tmp_path, grid={"segment": ["a", "b"], "period": ["M", "Q"]}))
    assert [tuple(g.values()) for g in cfg.grid] == [("a", "M"), ("a", "Q"), ("b", "M"),
                                                     ("b", "Q")]


def test_default_run_config_parses():
    path = default_run_config()
    assert path.name == "reports.yaml" and path.exists()
    cfg = read_run_config(path)
    assert cfg.source == "sample" and len(cfg.notebooks) == 6
    assert {p.parent for p in cfg.notebooks} == {notebooks_dir()}  # the packaged notebooks


def test_cxkit_run_without_argument_prefers_the_local_reports_yaml(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    packaged = resolve_run_config(None)
    assert isinstance(packaged, dict) and packaged["source"] == "sample"
    cfg = read_run_config(packaged)
    assert cfg.output_root == tmp_path / "reports"  # under the current folder, not the package
    (tmp_path / "reports.yaml").write_text("source: sample\nnotebooks: [01_data_quality]\n")
    assert resolve_run_config(None) == Path("reports.yaml")
    assert resolve_run_config("other.yaml") == "other.yaml"


def test_parameters_cell_is_read_with_ast_not_papermills_line_regex():
    # papermill's inspect_notebook skips lines whose help comment holds a second "="
    declared = _declared(NB / "quick.ipynb")
    assert declared["segment"] == {"type": "str", "default": "all"}
    assert declared["horizon"] == {"type": "int", "default": 1}
    assert list(declared) == ["segment", "period", "horizon", "alpha", "output_dir"]


def test_grid_key_goes_only_to_notebooks_that_declare_it(tmp_path):
    # quick declares segment and period; cached declares period but not segment
    cfg = read_run_config(_config(tmp_path, "quick", "cached",
                                  grid={"segment": ["all", "SMB"], "period": ["M"]}))
    runs = plan_runs(cfg)
    quick = [r for r in runs if r.notebook == "quick"]
    cached = [r for r in runs if r.notebook == "cached"]
    assert [r.label for r in quick] == [{"segment": "all", "period": "M"},
                                        {"segment": "SMB", "period": "M"}]
    assert [r.label for r in cached] == [{"period": "M"}]  # the two segment runs merged
    assert cached[0].parameters == {"period": "M", "config": "sample", "output_dir": "."}
    assert quick[0].slug == "segment=all_period=M"


def test_every_problem_is_listed_at_once(tmp_path):
    cfg = read_run_config(_config(tmp_path, grid={"colour": ["red"], "horizon": ["two"]},
                                  parameters={"quick": {"lag": 2}}))
    with pytest.raises(ParameterError) as info:
        plan_runs(cfg)
    msg = str(info.value)
    assert "'colour' is declared by none" in msg
    assert "'horizon' = 'two' is str, declared int" in msg
    assert "'lag' (value 2) is not declared" in msg
    assert "nothing was run" in msg


@pytest.mark.parametrize("raw, words", [
    ({"notebooks": []}, "non-empty list"),
    ({"notebooks": ["quick"], "jobs": 0}, "'jobs' must be a positive integer"),
    ({"notebooks": ["quick"], "timeout_seconds": -1}, "'timeout_seconds' must be a positive"),
    ({"notebooks": ["quick"], "parameters": {"other": {"a": 1}}}, "not in 'notebooks'"),
    ({"notebooks": ["quick"], "grid": "segment"}, "'grid' must be a mapping"),
])
def test_bad_values_name_the_key(raw, words):
    raw = {**raw, "notebooks": [str(NB / f"{n}.ipynb") for n in raw["notebooks"]]}
    with pytest.raises(ConfigError, match=words):
        read_run_config(raw)
