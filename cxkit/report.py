"""The results a notebook run hands back, and the table that gathers them.

A notebook run ends with :func:`write_results`, which writes ``results.json``
into the run's ``output_dir``: its parameters, the fingerprint of the data it
used, the cxkit version and one row per reported estimate. A notebook does
not retype its parameters: they are read from the names its ``# Parameters``
cells assign (parsed, never executed) and their current values, and in a
batch :func:`stamp_results` then writes the notebook name and every
parameter value the run used. After a batch, :func:`collect_results` gathers
every run's rows into one table and adds Benjamini-Hochberg adjusted
p-values across the runs that estimate the same thing (same notebook, model,
outcome and term); :func:`write_results_csv` writes it with text cells that
a spreadsheet would read as a formula escaped.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from cxkit.exceptions import ParameterError

__all__ = ["RESULT_COLUMNS", "write_results", "stamp_results", "read_results",
           "collect_results", "write_results_csv"]

#: Columns of one result row, in order (``notebook`` is filled by the batch).
RESULT_COLUMNS = ("notebook", "model", "outcome", "term", "estimate", "conf_low",
                  "conf_high", "p_value", "n_obs", "effect", "evidence", "e_value",
                  "e_value_ci", "robustness_value", "robustness_value_ci", "sensitivity")
_REQUIRED = ("model", "outcome", "term", "estimate")
_NOT_PARAMETERS = ("config", "output_dir")  # same for every run, or machine-specific


def _json_safe(value):
    """Plain JSON value: numpy scalars unwrapped, NaN and NA become ``None``."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT or value is None:
        return None
    if isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _assigned_names(source: str) -> list[str]:
    """Names a cell assigns at top level (``x = 1``, ``x: int = 1``); parsed, not run."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def _notebook_parameters() -> tuple[dict, str | None]:
    """The running notebook's parameter values and name (``{}, None`` outside IPython).

    The parameters are the names assigned in the cells run so far that start
    with ``# Parameters`` (the notebook's parameters cell, and the cell
    papermill injects after it), with their current values in the
    notebook's namespace. The name is the notebook file's stem, where the
    Jupyter server tells the kernel (``__session__``).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return {}, None
    shell = get_ipython()
    if shell is None:
        return {}, None
    ns = shell.user_ns
    names = [name for source in ns.get("In", ()) if source.lstrip().startswith("# Parameters")
             for name in _assigned_names(source)]
    values = {n: ns[n] for n in dict.fromkeys(names) if n in ns}
    session = ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or ""
    return values, (Path(str(session)).stem or None)


def _parameters_record(parameters: Mapping) -> dict:
    return _json_safe({k: v for k, v in parameters.items() if k != "output_dir"})


def _write_json(payload: dict, path: Path) -> None:
    tmp = path.parent / f".{path.name}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file


def write_results(rows, *, output_dir, data=None, parameters: Mapping | None = None,
                  notebook: str | None = None) -> Path:
    """Write a notebook run's ``results.json`` into ``output_dir``.

    One row is one reported estimate: an effect on ``outcome`` of ``term`` in
    ``model``, in the outcome's units, with its confidence interval and
    p-value.

    Parameters
    ----------
    rows : DataFrame or iterable of dict
        Columns ``model, outcome, term, estimate`` (required) and
        ``conf_low, conf_high, p_value, n_obs, effect, evidence, e_value,
        e_value_ci, robustness_value, robustness_value_ci, sensitivity``
        (optional; missing values are written as null). ``effect`` is a
        plain-English sentence, ``evidence`` the estimate's evidence label.
    output_dir : str or Path
        Folder of the output notebook; created if missing.
    data : SupportData, optional
        The data the estimates rest on; its fingerprint is recorded.
    parameters : mapping, optional
        The run's parameter values (name -> literal value; ``output_dir``
        is left out). Default: in a notebook, the names its
        ``# Parameters`` cells assign, with their current values; a batch
        then stamps every parameter value the run used.
    notebook : str, optional
        Notebook name written into each row that has none. Default: the
        notebook's file name where Jupyter tells it; a batch stamps it.

    Returns
    -------
    Path
        The written ``results.json``.

    Raises
    ------
    ParameterError
        A required column is missing or an estimate is not a number.

    Examples
    --------
    >>> write_results([{"model": "logit", "outcome": "churned_next", "term": "csat_mean",
    ...                 "estimate": -0.4}], output_dir=tmp_path,
    ...               parameters={"segment": "all"})  # doctest: +SKIP
    """
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    missing = [c for c in _REQUIRED if c not in frame.columns]
    if missing:
        raise ParameterError(
            f"write_results: rows lack column(s) {missing}; got {list(frame.columns)}. "
            f"Each row needs {list(_REQUIRED)} (e.g. from ModelResult.tidy()).")
    estimates = pd.to_numeric(frame["estimate"], errors="coerce")
    bad = frame.loc[estimates.isna() & frame["estimate"].notna(), "estimate"]
    if len(bad):
        raise ParameterError(
            f"write_results: column 'estimate' has non-numeric values {bad.head(3).tolist()}; "
            "pass numbers (the estimate in the outcome's units).")
    if parameters is None or notebook is None:
        found, name = _notebook_parameters()
        parameters = found if parameters is None else parameters
        notebook = notebook or name
    records = []
    for rec in frame.to_dict(orient="records"):
        row = {c: rec.get(c) for c in RESULT_COLUMNS}
        if row["notebook"] is None:
            row["notebook"] = notebook
        records.append(_json_safe(row))
    from cxkit import __version__

    payload = {
        "notebook": notebook,
        "parameters": _parameters_record(parameters),
        "data_fingerprint": None if data is None else data.fingerprint,
        "cxkit_version": __version__,
        "currency": None if data is None else data.currency,
        "coverage": None if data is None else _coverage(data, parameters or {}),
        "results": records,
    }
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    _write_json(payload, path)
    return path


def stamp_results(path, *, notebook: str, parameters: Mapping) -> None:
    """Write a run's notebook name and parameter values into its ``results.json``.

    What the batch knows (every parameter value the run used: the declared
    defaults and the values passed) replaces what the notebook wrote.
    """
    path = Path(path)
    payload = read_results(path)
    payload["notebook"] = notebook
    payload["parameters"] = _parameters_record(parameters)
    for row in payload.get("results", []):
        if row.get("notebook") is None:
            row["notebook"] = notebook
    _write_json(payload, path)


def _coverage(data, parameters: Mapping) -> dict | None:
    """First and last day the run's data cover (``YYYY-MM-DD``), within its ``start``/``end``.

    The event tables' timestamps (tickets, payments, survey answers) span the
    range; a ``start`` or ``end`` parameter narrows it (``end`` is the last
    period included, so the range runs to that period's end).
    """
    from cxkit.schema import EVENT_TIME

    lows, highs = [], []
    for name, frame in data.tables().items():
        column = EVENT_TIME.get(name)
        if name == "customers" or column not in frame.columns:
            continue
        stamps = pd.to_datetime(frame[column], errors="coerce").dropna()
        if len(stamps):
            lows.append(stamps.min())
            highs.append(stamps.max())
    if not lows:
        return None
    low, high = min(lows), max(highs)
    if parameters.get("start"):
        low = max(low, pd.Timestamp(parameters["start"]))
    if parameters.get("end"):
        end = pd.Timestamp(parameters["end"])
        if parameters.get("period") in ("W", "M", "Q"):
            end = pd.Period(end, freq=parameters["period"]).end_time
        high = min(high, end)
    return {"start": low.strftime("%Y-%m-%d"), "end": high.strftime("%Y-%m-%d")}


def read_results(path) -> dict:
    """Read one ``results.json`` (see :func:`write_results`)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def collect_results(runs: Iterable[Mapping], *, root) -> pd.DataFrame:
    """Every result row of a batch in one table, with BH-adjusted p-values.

    Parameters
    ----------
    runs : iterable of mapping
        The manifest's run records (keys ``run``, ``notebook``,
        ``parameters``, ``status``, ``results``: the path of the run's
        ``results.json`` relative to ``root``, or ``None``).
    root : str or Path
        The run folder the paths are relative to.

    Returns
    -------
    DataFrame
        One row per estimate of a successful run; columns ``run, notebook``,
        one column per parameter (``config`` and ``output_dir`` left out),
        then ``model, outcome, term, estimate, conf_low, conf_high, p_value,
        p_value_bh, n_obs, effect, evidence`` (the estimate's evidence label,
        :mod:`cxkit.evidence`) and its sensitivity to unobserved confounding
        (``e_value, e_value_ci, robustness_value, robustness_value_ci,
        sensitivity``; :mod:`cxkit.sensitivity`). ``p_value_bh`` is the Benjamini-Hochberg
        adjusted p-value (0-1) within each (notebook, model, outcome, term)
        across runs; null where ``p_value`` is null.
    """
    records, param_names = [], []
    for run in runs:
        if run.get("status") != "ok" or not run.get("results"):
            continue
        path = Path(root) / run["results"]
        if not path.exists():
            continue
        rows = read_results(path)["results"]
        params = {k: v for k, v in run["parameters"].items() if k not in _NOT_PARAMETERS}
        for name in params:
            if name not in param_names:
                param_names.append(name)
        flat = {k: "+".join(map(str, v)) if isinstance(v, list) else v
                for k, v in params.items()}
        for row in rows:
            records.append({**{c: row.get(c) for c in RESULT_COLUMNS}, **flat,
                            "run": run["run"], "notebook": run["notebook"]})
    tail = ["model", "outcome", "term", "estimate", "conf_low", "conf_high", "p_value",
            "p_value_bh", "n_obs", "effect", "evidence", "e_value", "e_value_ci",
            "robustness_value", "robustness_value_ci", "sensitivity"]
    columns = ["run", "notebook", *param_names, *tail]
    if not records:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame.from_records(records)
    for col in ("estimate", "conf_low", "conf_high", "p_value"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    table["p_value_bh"] = _bh_by_group(table, ["notebook", "model", "outcome", "term"])
    return table.reindex(columns=columns)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _defused(value):
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            float(value)  # "-0.5" typed as text is a number, not a formula
        except ValueError:
            return "'" + value
    return value


def write_results_csv(table: pd.DataFrame, path) -> Path:
    """Write :func:`collect_results`' table as CSV, safe to open in a spreadsheet.

    Text cells that begin with ``=``, ``+``, ``-``, ``@``, a tab or a
    carriage return (CSV formula injection) get a leading ``'``; numbers,
    negative ones included, are written as numbers.
    """
    text = table.select_dtypes(include=["object", "string"]).columns
    safe = table.assign(**{c: table[c].map(_defused) for c in text})
    safe.to_csv(path, index=False)
    return Path(path)


def _bh_by_group(table: pd.DataFrame, keys: list[str]) -> pd.Series:
    """Benjamini-Hochberg adjusted p-values within groups; NaN stays NaN."""
    from statsmodels.stats.multitest import multipletests

    adjusted = pd.Series(np.nan, index=table.index, dtype="float64")
    keyed = table[keys].astype("string").fillna("<NA>")
    for _, idx in keyed.groupby(keys, sort=False).groups.items():
        p = table.loc[idx, "p_value"].dropna()
        if len(p):
            adjusted.loc[p.index] = multipletests(p.to_numpy(), method="fdr_bh")[1]
    return adjusted
