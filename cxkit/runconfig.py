"""Run configs of ``cxkit run``: reading them and planning the runs.

A run config (YAML) names a data source, notebooks and a grid of parameter
sets. :func:`read_run_config` validates it; :func:`plan_runs` checks every
parameter against each notebook's ``parameters`` cell (parsed with
:mod:`ast`) and lists the runs, before anything runs. Execution is in
:mod:`cxkit.batch`.

Run config keys (paths relative to the run config's folder)::

    source: sample                # or a source config path
    notebooks: [01_data_quality]  # paths, or names of the packaged notebooks
    grid: {segment: [all, SMB], period: [M, Q]}   # product; or a list of dicts
    parameters: {01_data_quality: {alpha: 0.1}}   # per-notebook overrides
    output_root: reports          # default
    jobs: 2                       # default: number of cores
    timeout_seconds: 600          # per notebook (and per cell)
    kernel: python3               # default
    cache: true                   # read data / build panels once per batch

A grid key is passed to the notebooks that declare it and left out for those
that do not (their duplicate runs are merged); a grid key no notebook
declares, an override the notebook does not declare, or a value of the wrong
type is a :class:`~cxkit.exceptions.ParameterError`. The batch passes
``config`` (the source) and ``output_dir`` (``"."``: kernels run inside their
output folder) to notebooks that declare them.
"""

from __future__ import annotations

import ast
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path

from cxkit.exceptions import ConfigError, ParameterError

__all__ = ["RunConfig", "RunSpec", "read_run_config", "plan_runs", "default_run_config",
           "resolve_run_config"]

_KEYS = ("source", "notebooks", "grid", "parameters", "output_root", "jobs",
         "timeout_seconds", "kernel", "cache")
_TYPES = {"str": str, "int": int, "float": (int, float), "bool": bool, "list": (list, tuple),
          "dict": dict}


def default_run_config() -> Path:
    """The packaged default run config (every notebook on the bundled sample)."""
    from cxkit._package_data import default_run_config as packaged

    return packaged()


def resolve_run_config(path=None):
    """What ``cxkit run [RUNCONFIG]`` runs: ``path``; else ``./reports.yaml`` when present;
    else the packaged default batch, read as a mapping so that its ``output_root`` is
    relative to the current folder (never to the installed package)."""
    if path is not None:
        return path
    local = Path("reports.yaml")
    if local.is_file():
        return local
    import yaml

    return yaml.safe_load(default_run_config().read_text(encoding="utf-8"))


@dataclass(frozen=True)
class RunConfig:
    """A validated run config (see the module docstring for the keys)."""

    source: str
    notebooks: tuple[Path, ...]
    grid: tuple[dict, ...] = ({},)
    parameters: dict = field(default_factory=dict)
    output_root: Path = Path("reports")
    jobs: int | None = None
    timeout_seconds: float | None = None
    kernel: str = "python3"
    cache: bool = True
    raw: dict = field(default_factory=dict)


@dataclass(frozen=True)
class RunSpec:
    """One planned run: a notebook and the parameters papermill injects."""

    notebook: str
    input_path: Path
    parameters: dict
    label: dict  # the parameters that vary (grid and overrides)
    slug: str
    defaults: dict  # name -> default value declared in the notebook


def _find_notebook(name: str, base: Path) -> Path:
    names = [name] if name.endswith(".ipynb") else [name, name + ".ipynb"]
    from cxkit._package_data import notebooks_dir

    places = [base, notebooks_dir()]
    for folder in places:
        for n in names:
            if (folder / n).is_file():
                return (folder / n).resolve()
    raise ConfigError(f"run config: notebook {name!r} not found in {[str(p) for p in places]}; "
                      "give a packaged notebook's name or a path relative to the run config.")


def _grid_sets(grid, where: str) -> tuple[dict, ...]:
    if grid is None or grid == {} or grid == []:
        return ({},)
    if isinstance(grid, dict):
        keys = list(grid)
        values = [v if isinstance(v, list) else [v] for v in grid.values()]
        return tuple(dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values))
    if isinstance(grid, list) and all(isinstance(g, dict) for g in grid):
        return tuple(dict(g) for g in grid)
    raise ConfigError(f"{where}: 'grid' must be a mapping of lists (expanded as a product) or "
                      f"a list of mappings; got {type(grid).__name__}: {grid!r:.80}.")


def read_run_config(path) -> RunConfig:
    """Read and validate a run config (YAML file or mapping).

    Parameters
    ----------
    path : str, Path or mapping
        The YAML file; a mapping is read as its content, with paths relative
        to the current folder.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        Unreadable YAML, an unknown key, a value of the wrong type, a missing
        notebook or source config.
    """
    import yaml

    if isinstance(path, dict):
        raw, base, where = dict(path), Path.cwd(), "run config"
    else:
        path = Path(path)
        where = f"run config {path}"
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise ConfigError(f"{where}: cannot read it ({exc.strerror}); "
                              "check the path.") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{where}: not valid YAML ({exc}).") from None
        base = path.resolve().parent
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys {list(_KEYS)}.")
    unknown = sorted(set(raw) - set(_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed: {list(_KEYS)}.")
    source = str(raw.get("source", "sample"))
    if source != "sample":
        src = (base / source).resolve()
        if not src.exists():
            raise ConfigError(f"{where}: source config {source!r} not found (looked at {src}).")
        source = str(src)
    notebooks = raw.get("notebooks")
    if not isinstance(notebooks, list) or not notebooks:
        raise ConfigError(f"{where}: 'notebooks' must be a non-empty list of notebook names.")
    paths = tuple(_find_notebook(str(n), base) for n in notebooks)
    overrides = raw.get("parameters") or {}
    stems = {p.stem for p in paths}
    if not isinstance(overrides, dict) or not all(isinstance(v, dict) for v in overrides.values()):
        raise ConfigError(f"{where}: 'parameters' maps a notebook name to a mapping of values.")
    strays = sorted(set(map(lambda k: Path(str(k)).stem, overrides)) - stems)
    if strays:
        raise ConfigError(f"{where}: 'parameters' names notebook(s) {strays} that are not in "
                          f"'notebooks' {sorted(stems)}.")
    jobs, timeout = raw.get("jobs"), raw.get("timeout_seconds")
    if jobs is not None and (not isinstance(jobs, int) or isinstance(jobs, bool) or jobs < 1):
        raise ConfigError(f"{where}: 'jobs' must be a positive integer; got {jobs!r}.")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        raise ConfigError(f"{where}: 'timeout_seconds' must be a positive number; got {timeout!r}.")
    return RunConfig(
        source=source, notebooks=paths, grid=_grid_sets(raw.get("grid"), where),
        parameters={Path(str(k)).stem: dict(v) for k, v in overrides.items()},
        output_root=(base / str(raw.get("output_root", "reports"))).resolve(),
        jobs=jobs, timeout_seconds=timeout, kernel=str(raw.get("kernel", "python3")),
        cache=bool(raw.get("cache", True)), raw=raw)


def _declared(path: Path) -> dict[str, dict]:
    """Parameters of a notebook's ``parameters`` cell: name -> {type, default}.

    Parsed with :mod:`ast` rather than ``papermill.inspect_notebook``, whose
    line-based reader skips any line with a second ``=`` (as in a help
    comment like ``# "" = from the start``), so such parameters would look
    undeclared.
    """
    import nbformat

    nb = nbformat.read(path, as_version=4)
    cell = next((c for c in nb.cells if c.cell_type == "code"
                 and "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return {}
    try:
        tree = ast.parse(cell.source)
    except SyntaxError as exc:
        raise ConfigError(f"{path.name}: the parameters cell is not valid Python "
                          f"({exc.msg}, line {exc.lineno}); fix the notebook.") from None
    out = {}
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            name, kind, value = node.target.id, ast.unparse(node.annotation), node.value
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            name, kind, value = node.targets[0].id, None, node.value
        else:
            continue
        try:
            default = ast.literal_eval(value) if value is not None else None
        except ValueError:
            default = None
        if kind is None and default is not None:
            kind = type(default).__name__
        out[name] = {"type": kind, "default": default}
    return out


def _type_ok(value, kind: str | None) -> bool:
    """Whether ``value`` fits the annotation ``kind`` (``int``, ``str | None``...).

    Annotations other than str, int, float, bool, list, dict and None are not
    checked.
    """
    if kind is None:
        return True
    parts = [re.sub(r"\[.*\]", "", p).strip() for p in kind.split("|")]
    if value is None:
        return "None" in parts or any(p not in _TYPES for p in parts)
    for part in parts:
        if part == "None":
            continue
        if part not in _TYPES:
            return True
        if isinstance(value, bool) and part != "bool":
            continue
        if isinstance(value, _TYPES[part]):
            return True
    return False


def _slug(label: dict) -> str:
    if not label:
        return "default"
    parts = [f"{k}={'+'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
             for k, v in label.items()]
    slug = re.sub(r"[^A-Za-z0-9=+._-]", "-", "_".join(parts))
    if len(slug) > 100:  # keep paths short, and distinct
        import hashlib

        slug = slug[:90] + "-" + hashlib.sha256(slug.encode()).hexdigest()[:8]
    return slug


def plan_runs(config: RunConfig) -> tuple[RunSpec, ...]:
    """Check every parameter against the notebooks and list the runs.

    Raises
    ------
    ParameterError
        A grid key no notebook declares, an override the notebook does not
        declare, or a value whose type differs from the declared one. Every
        problem is listed; nothing has run.
    """
    declared = {p: _declared(p) for p in config.notebooks}
    problems = []
    grid_keys = list(dict.fromkeys(k for g in config.grid for k in g))
    for key in grid_keys:
        if not any(key in d for d in declared.values()):
            problems.append(f"grid parameter {key!r} is declared by none of the notebooks "
                            f"({', '.join(p.name for p in declared)})")
    runs, seen = [], set()
    for path, decl in declared.items():
        signature = ", ".join(f"{n}: {d['type']}" for n, d in decl.items()) or "none"
        overrides = config.parameters.get(path.stem, {})
        for name in overrides:
            if name not in decl:
                problems.append(f"{path.name}: parameter {name!r} (value {overrides[name]!r}) "
                                f"is not declared; declared: {signature}")
        for grid_set in config.grid:
            label = {k: v for k, v in {**grid_set, **overrides}.items() if k in decl}
            for name, value in label.items():
                if not _type_ok(value, decl[name]["type"]):
                    hint = " (quote it in YAML)" if isinstance(value, bool) else ""
                    problems.append(f"{path.name}: parameter {name!r} = {value!r} is "
                                    f"{type(value).__name__}, declared {decl[name]['type']}"
                                    f"{hint}; declared: {signature}")
            params = dict(label)
            if "config" in decl and "config" not in params:
                params["config"] = config.source
            if "output_dir" in decl:
                params["output_dir"] = "."
            slug = _slug(label)
            if (path, slug) in seen:
                continue
            seen.add((path, slug))
            runs.append(RunSpec(path.stem, path, params, label, slug,
                                {n: d["default"] for n, d in decl.items()}))
    if problems:
        shown = "\n  - ".join(problems[:12])
        more = f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else ""
        raise ParameterError(f"run config refused, nothing was run:\n  - {shown}{more}\n"
                             "Fix 'grid'/'parameters' in the run config to match the notebooks' "
                             "parameters cells.")
    return tuple(runs)
