"""``cxkit init``: a new analysis project folder, ready for ``cxkit run``.

:func:`init_project` writes, into a new or empty folder:

- ``cxkit.yaml``: the source config to fill in, built on the named presets
  (:mod:`cxkit.presets`) with a ``path`` under ``exports/`` per table and, as
  comments, the export columns each preset expects;
- ``reports.yaml``: the run config of ``cxkit run``, on the bundled sample until
  ``source`` is switched to ``cxkit.yaml``;
- ``notebooks/``: copies of the report notebooks, to customise;
- ``exports/``: the folder for the exports, and ``README.md`` with the next steps.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cxkit.exceptions import ConfigError

__all__ = ["init_project"]

_TABLE_ORDER = ("customers", "tickets", "revenue", "surveys")

# a source config for exports without a preset: every canonical column to map by hand
_GENERIC = {
    "customers": {"customer_id": "<customer id column>", "signup_at": "<signup date column>",
                  "churned_at": "<cancellation date column, empty while active>"},
    "tickets": {"ticket_id": "<ticket id column>", "customer_id": "<customer id column>",
                "created_at": "<created column>", "resolved_at": "<solved column>",
                "csat": "<satisfaction column>"},
    "revenue": {"customer_id": "<customer id column>", "paid_at": "<payment date column>",
                "amount": "<amount column, in the config's currency>"},
    "surveys": {"customer_id": "<customer id column>", "answered_at": "<answer date column>",
                "nps": "<0-10 score column>"},
}


def _source_config(presets: list[str]) -> str:
    from cxkit.presets import load_preset

    covered: dict[str, tuple[str, dict]] = {}
    for name in presets:
        for table, spec in (load_preset(name).get("tables") or {}).items():
            covered[table] = (name, spec)
    lines = ["# Source config: where your exports are and how their columns map onto cxkit's",
             "# data model. Paths are relative to this folder. Check it with",
             "#   cxkit validate cxkit.yaml",
             "# Each key under a table overrides the preset's, e.g. columns: {customer_id: Email};",
             "# null removes a preset's mapping. Presets: python -c 'import cxkit.presets as p; "
             "print(p.describe_presets())'"]
    if presets:
        lines.append(f"preset: [{', '.join(presets)}]")
    lines += ["currency: USD            # currency of every amount",
              "timezone: UTC            # reporting zone: weeks and months are this zone's",
              "tables:"]
    for table in [t for t in _TABLE_ORDER if t in covered or t == "customers" or not presets]:
        lines.append(f"  {table}:")
        lines.append(f"    path: exports/{table}.csv")
        if table in covered:
            name, spec = covered[table]
            lines.append(f"    # from preset {name}, which reads these export columns:")
            for canonical, export in (spec.get("columns") or {}).items():
                lines.append(f"    #   {canonical}: {export}")
            for canonical, expr in (spec.get("derive") or {}).items():
                lines.append(f"    #   {canonical} = {expr}")
        else:
            lines.append("    columns:               # canonical name: your export's column")
            for canonical, hint in _GENERIC[table].items():
                lines.append(f'      {canonical}: "{hint}"')
    return "\n".join(lines) + "\n"


def _run_config(notebooks: list[str]) -> str:
    listed = "\n".join(f"  - notebooks/{n}" for n in notebooks)
    return f"""# Run config of `cxkit run` (run it in this folder; reports go to reports/).
# It runs on the bundled sample until your exports are in place: then set
#   source: cxkit.yaml
source: sample
notebooks:
{listed}
grid:
  segment: [all]
  period: [M]
output_root: reports
timeout_seconds: 900
"""


_README = """# {name}: support analytics with cxkit

1. Put your exports into `exports/` (the file names `cxkit.yaml` expects), or edit the
   `path:` entries of `cxkit.yaml`.
2. Check the column names in `cxkit.yaml` against your files{preset_note},
   then run `cxkit validate cxkit.yaml` until it reports no structural error; rows that fail a rule
   are set aside in `quarantine/`, with the export's row number and text.
3. In `reports.yaml` set `source: cxkit.yaml` and run `cxkit run`; open
   `reports/latest/index.html`.
4. Schedule it, e.g. every Monday at 06:00 (cron):
   `0 6 * * 1  cd {path} && {cxkit} run >> cron.log 2>&1`
   A failed run exits non-zero and leaves the previous complete report in `reports/latest`.
5. Customise the notebooks in `notebooks/` (they run with the parameters in `reports.yaml`).
"""


def _executable() -> str:
    """The ``cxkit`` command of this installation (cron has a short PATH)."""
    import sys

    beside = Path(sys.executable).parent / "cxkit"
    return beside.as_posix() if beside.is_file() else "cxkit"


def init_project(out_dir, *, presets=None) -> list[Path]:
    """Scaffold a cxkit project folder (see the module docstring).

    Parameters
    ----------
    out_dir : str or Path
        A folder that does not exist yet or is empty.
    presets : list of str, optional
        Export presets the source config starts from (``cxkit.presets``).

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    ConfigError
        The folder holds files already (nothing is overwritten) or a preset is unknown.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> files = init_project(pathlib.Path(tempfile.mkdtemp()) / "demo", presets=["zendesk"])
    >>> sorted(p.name for p in files)[:3]
    ['01_data_quality.ipynb', '02_support_kpis.ipynb', '03_retention_drivers.ipynb']
    """
    from cxkit._package_data import notebook_paths

    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"cxkit init: {out.as_posix()!r} exists and is not empty; give a new "
                          "folder (nothing is overwritten).")
    presets = list(presets or [])
    source = _source_config(presets)  # checks the preset names before anything is written
    notebooks = notebook_paths()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    (out / "exports").mkdir(exist_ok=True)
    written = []
    for nb in notebooks:
        written.append(Path(shutil.copyfile(nb, out / "notebooks" / nb.name)))
    files = {
        "cxkit.yaml": source,
        "reports.yaml": _run_config([nb.stem for nb in notebooks]),
        "README.md": _README.format(
            name=out.resolve().name, path=out.resolve().as_posix(), cxkit=_executable(),
            preset_note=f" (presets: {', '.join(presets)})" if presets else ""),
    }
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
        written.append(out / name)
    return written
