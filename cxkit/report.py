"""The results a notebook run hands back, and the table that gathers them.

A notebook run ends with :func:`write_results`, which writes ``results.json``
into the run's ``output_dir``: its parameters, the fingerprint of the data it
used, the cxkit version and one row per reported estimate. After a batch,
:func:`collect_results` gathers every run's rows into one table and adds
Benjamini-Hochberg adjusted p-values across the runs that estimate the same
thing (same notebook, model, outcome and term).
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

__all__ = ["RESULT_COLUMNS", "write_results", "read_results", "collect_results"]

#: Columns of one result row, in order (``notebook`` is filled by the batch).
RESULT_COLUMNS = ("notebook", "model", "outcome", "term", "estimate", "conf_low",
                  "conf_high", "p_value", "n_obs", "effect")
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


def write_results(rows, *, parameters: Mapping, output_dir, data=None,
                  notebook: str | None = None) -> Path:
    """Write a notebook run's ``results.json`` into ``output_dir``.

    One row is one reported estimate: an effect on ``outcome`` of ``term`` in
    ``model``, in the outcome's units, with its confidence interval and
    p-value.

    Parameters
    ----------
    rows : DataFrame or iterable of dict
        Columns ``model, outcome, term, estimate`` (required) and
        ``conf_low, conf_high, p_value, n_obs, effect`` (optional; missing
        values are written as null). ``effect`` is a plain-English sentence.
    parameters : mapping
        The notebook's parameter values (name -> literal value).
    output_dir : str or Path
        Folder of the output notebook; created if missing.
    data : SupportData, optional
        The data the estimates rest on; its fingerprint is recorded.
    notebook : str, optional
        Notebook name written into each row that has none.

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
    ...                 "estimate": -0.4}], parameters={"segment": "all"},
    ...               output_dir=tmp_path)  # doctest: +SKIP
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
    records = []
    for rec in frame.to_dict(orient="records"):
        row = {c: rec.get(c) for c in RESULT_COLUMNS}
        if row["notebook"] is None:
            row["notebook"] = notebook
        records.append(_json_safe(row))
    from cxkit import __version__

    payload = {
        "parameters": _json_safe(dict(parameters)),
        "data_fingerprint": None if data is None else data.fingerprint,
        "cxkit_version": __version__,
        "results": records,
    }
    out_dir = Path(output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    tmp = out_dir / ".results.json.tmp"
    tmp.write_text(json.dumps(payload, indent=2, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a file
    return path


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
        p_value_bh, n_obs, effect``. ``p_value_bh`` is the Benjamini-Hochberg
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
            "p_value_bh", "n_obs", "effect"]
    columns = ["run", "notebook", *param_names, *tail]
    if not records:
        return pd.DataFrame(columns=columns)
    table = pd.DataFrame.from_records(records)
    for col in ("estimate", "conf_low", "conf_high", "p_value"):
        table[col] = pd.to_numeric(table[col], errors="coerce").astype("float64")
    table["p_value_bh"] = _bh_by_group(table, ["notebook", "model", "outcome", "term"])
    return table.reindex(columns=columns)


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
