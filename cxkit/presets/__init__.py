"""Export presets: the column names and value labels of the tools people export from.

A preset is a YAML fragment of a source config (``<name>.yaml`` in this folder)
holding, per table, the ``columns``, ``values``, ``derive`` and
``datetime_format`` of one tool's export, but no ``path``. A source config
names its presets and overrides them key by key::

    preset: [zendesk, stripe_subscriptions, stripe_invoices, delighted]
    currency: EUR
    tables:
      tickets: {path: exports/tickets.csv}             # everything else from the preset
      customers: {path: exports/subscriptions.csv}
      revenue:
        path: exports/invoices.csv
        columns: {customer_id: customer_email}          # replaces one mapping
      surveys: {path: exports/nps.csv}

Presets are merged in the order given, then the config on top: mappings merge
key by key, anything else replaces; ``null`` for a key of ``columns``,
``derive`` or a table removes the preset's entry (inside ``values`` a ``null``
stays a value: the label means missing). A table a preset describes but the
config does not name is left out. :func:`describe_presets` lists them.
"""

from __future__ import annotations

from typing import Any, Mapping

from cxkit.exceptions import ConfigError

__all__ = ["available_presets", "load_preset", "apply_presets", "describe_presets"]


def available_presets() -> list[str]:
    """Names of the packaged presets, sorted."""
    from cxkit._package_data import presets_dir

    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def load_preset(name: str) -> dict:
    """One preset as a dict (``{"tables": {...}}`` plus an optional ``about``).

    Raises
    ------
    ConfigError
        An unknown preset name (the message lists the known ones).
    """
    import yaml

    from cxkit._package_data import presets_dir

    path = presets_dir() / f"{name}.yaml"
    if not isinstance(name, str) or "/" in name or not path.is_file():
        raise ConfigError(f"preset {name!r} is unknown; available presets: "
                          f"{', '.join(available_presets())}.")
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def _merge(base: dict, over: Mapping, *, in_values: bool = False) -> dict:
    out = dict(base)
    for key, value in over.items():
        if value is None and not in_values:
            out.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value, in_values=in_values or key == "values")
        else:
            out[key] = value
    return out


def apply_presets(raw: Mapping[str, Any], where: str = "config") -> dict:
    """A source config with its ``preset:`` entries merged in (and the key removed).

    Parameters
    ----------
    raw : mapping
        A source config as read from YAML; ``preset`` is a name or a list of names.
    where : str
        How to name the config in error messages.

    Returns
    -------
    dict
        The merged config; tables the config does not name are dropped.

    Examples
    --------
    >>> cfg = apply_presets({"preset": "zendesk", "tables": {"tickets": {"path": "t.csv"}}})
    >>> cfg["tables"]["tickets"]["columns"]["ticket_id"]
    'Id'
    """
    raw = dict(raw)
    names = raw.pop("preset", None)
    if names is None:
        return raw
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{where}: 'preset' is a preset name or a list of names, e.g. "
                          "[zendesk, stripe_invoices]; available: "
                          f"{', '.join(available_presets())}.")
    merged: dict = {}
    for name in names:
        fragment = load_preset(name)
        merged = _merge(merged, {"tables": fragment.get("tables") or {}})
    wanted = raw.get("tables")
    if not isinstance(wanted, Mapping):
        return raw  # load_config says what 'tables' must be
    tables = {}
    for table, spec in wanted.items():
        spec = {"path": spec} if isinstance(spec, str) else spec
        base = merged["tables"].get(table, {})
        tables[table] = _merge(base, spec) if isinstance(spec, Mapping) else spec
    return {**raw, "tables": tables}


def describe_presets():
    """One row per preset and table: what it reads and what the preset maps.

    Returns
    -------
    pandas.DataFrame
        Columns ``preset``, ``table``, ``export`` (what the preset expects) and
        ``columns`` (the canonical columns it fills).
    """
    import pandas as pd

    rows = []
    for name in available_presets():
        fragment = load_preset(name)
        for table, spec in (fragment.get("tables") or {}).items():
            filled = sorted({*spec.get("columns", {}), *spec.get("derive", {})})
            rows.append({"preset": name, "table": table, "export": fragment.get("about", ""),
                         "columns": ", ".join(filled)})
    return pd.DataFrame(rows, columns=["preset", "table", "export", "columns"])
