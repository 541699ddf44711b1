"""Source config: how a company's own exports map onto the cxkit data model.

A source config is a YAML file (or a dict) that tells :func:`cxkit.io.read_support_data`
where each export lives, which export column holds which canonical column, how
timestamps are written and which values need translating, so that a new export
format needs a config and no code::

    currency: EUR            # currency of every amount column (default USD)
    timezone: Europe/Berlin  # reporting time zone (default UTC)
    as_of: "2026-01-01"      # optional; dates after it are "in the future" (default: now)
    tables:
      tickets:
        path: exports/tickets.csv          # CSV, .parquet, a glob, or a .duckdb/.db file
        table: tickets                     # table name inside a DuckDB file
        columns: {ticket_id: Id, customer_id: Requester external id, created_at: Created at}
        datetime_format: "%m/%d/%Y %H:%M"  # optional; default ISO 8601
        timezone: America/New_York         # optional zone of the export's timestamps
        values: {csat: {Good: 5, Bad: 1, Not Offered: null}}
        derive: {contacts: "replies + 1"}
        read_options: {delimiter: ";", encoding: latin-1}

Table names are ``customers``, ``tickets``, ``revenue``, ``surveys`` and
``customer_level`` (one row per customer with outcome and drivers). Relative
paths resolve against the config file's folder (``base_dir`` for a dict).
``columns`` maps *canonical name: export column*; export columns that are not
mapped keep their names, snake_cased. ``values`` maps, per (output) column,
export values to the values cxkit should see (``null`` = missing). In YAML only
``true``/``false`` are booleans: ``Yes``/``No`` stay text.

Derived columns (``derive``) are expressions in a small whitelisted language,
documented and evaluated in :mod:`cxkit._derive`. A ``metrics`` block declares
per customer x period aggregates of ticket columns (shares of tickets matching
a condition, means, medians, sums, counts); see
:func:`cxkit.registry.parse_metrics`. A ``churn`` block
(``churn: {inactive_days: 90}``) defines churn by inactivity for customers
without ``churned_at``; see :mod:`cxkit._churn`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import yaml

from cxkit._churn import check_churn_config
from cxkit._derive import FUNCTIONS, evaluate_expression, parse_expression
from cxkit.exceptions import ConfigError
from cxkit.registry import parse_metrics
from cxkit.schema import TABLES

__all__ = ["SourceConfig", "TableConfig", "load_config", "parse_expression",
           "evaluate_expression", "FUNCTIONS"]

TOP_KEYS = ("currency", "timezone", "as_of", "tables", "base_dir", "churn", "metrics")
TABLE_KEYS = ("path", "table", "columns", "datetime_format", "timezone", "values",
              "derive", "read_options")
RESERVED = ("source_row", "source_file")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class TableConfig:
    """Where one table comes from and how its export maps to the data model.

    ``columns`` maps canonical name -> export column; ``values`` maps output
    column -> {export value: value}; ``derive`` maps output column -> expression.
    """

    name: str
    path: str
    table: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    datetime_format: str | None = None
    timezone: str | None = None
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    derive: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    read_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True)
class SourceConfig:
    """A validated source config: reporting conventions plus one entry per table."""

    base_dir: Path
    tables: Mapping[str, TableConfig]
    currency: str = "USD"
    timezone: str = "UTC"
    as_of: pd.Timestamp | None = None
    churn: Mapping[str, Any] | None = None  # churn by inactivity (cxkit._churn)
    metrics: tuple = ()  # metrics declared in the `metrics:` block (cxkit.registry.parse_metrics)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so ``Yes``/``No``/``on`` stay text."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
                              list("tTfF"))


def load_config(source: str | Path | Mapping, *, base_dir: str | Path | None = None) -> SourceConfig:
    """Read and check a source config.

    Parameters
    ----------
    source : str, Path or dict
        Path of a YAML file, or the config itself as a dict (which may hold a
        ``base_dir`` key; relative paths resolve against it, else the cwd).
    base_dir : str or Path, optional
        Folder relative table paths resolve against; overrides the default.

    Returns
    -------
    SourceConfig

    Raises
    ------
    ConfigError
        Unreadable YAML, unknown keys, tables or canonical columns, an invalid
        time zone or date, or a derive expression outside the language.

    Examples
    --------
    >>> cfg = load_config({"tables": {"customers": {"path": "customers.csv"}}})
    >>> cfg.currency, list(cfg.tables)
    ('USD', ['customers'])
    """
    if isinstance(source, Mapping):
        raw = dict(source)
        folder = Path(base_dir or raw.get("base_dir") or ".")
        where = "config dict"
    else:
        path = Path(source)
        if not path.is_file():
            raise ConfigError(f"Source config {path.name!r} not found: give the path of a YAML "
                              "file (see cxkit.config for its shape) or a dict.")
        try:
            raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path.name}: not valid YAML ({exc}).") from None
        folder = Path(base_dir) if base_dir else path.resolve().parent
        where = path.name
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: the top level must be a mapping with a 'tables' key.")
    _check_keys(raw, TOP_KEYS, where)
    tz = _check_zone(raw.get("timezone", "UTC"), f"{where}: timezone")
    currency = str(raw.get("currency", "USD"))
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(f"{where}: currency {currency!r} is not a 3-letter ISO code such as USD or EUR.")
    as_of = None
    if raw.get("as_of") is not None:
        try:
            as_of = pd.Timestamp(raw["as_of"])
        except (ValueError, TypeError):
            raise ConfigError(f"{where}: as_of {raw['as_of']!r} is not a date; write it as "
                              "\"YYYY-MM-DD\".") from None
        as_of = as_of.tz_convert(tz).tz_localize(None) if as_of.tzinfo else as_of
    tables = raw.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise ConfigError(f"{where}: 'tables' must map table names ({', '.join(TABLES)}) to "
                          "their export settings.")
    _check_keys(tables, tuple(TABLES), f"{where}: tables")
    if "customers" not in tables and "customer_level" not in tables:
        raise ConfigError(f"{where}: tables must include 'customers' (or 'customer_level' for "
                          "one row per customer).")
    parsed = {name: _table(name, spec, where) for name, spec in tables.items()}
    return SourceConfig(base_dir=folder, tables=MappingProxyType(parsed), currency=currency,
                        timezone=tz, as_of=as_of,
                        churn=check_churn_config(raw.get("churn"), where),
                        metrics=parse_metrics(raw.get("metrics"), where=f"{where}: metrics"))


def _check_keys(d: Mapping, valid: tuple[str, ...], where: str) -> None:
    for key in d:
        if key not in valid:
            raise ConfigError(f"{where}: unknown key {key!r}; valid keys are {', '.join(valid)}.")


def _check_zone(zone: Any, where: str) -> str:
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}: unknown time zone {zone!r}; use an IANA name such as "
                          "'UTC' or 'Europe/Berlin'.") from None
    return str(zone)


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where} must be a mapping (key: value), got {type(value).__name__}.")
    return value


def _table(name: str, spec: Any, where: str) -> TableConfig:
    at = f"{where}: tables.{name}"
    if isinstance(spec, str):
        spec = {"path": spec}
    spec = _mapping(spec, at)
    _check_keys(spec, TABLE_KEYS, at)
    if not spec.get("path"):
        raise ConfigError(f"{at}: 'path' is missing; give the export file (CSV, Parquet, glob "
                          "or DuckDB file) relative to the config folder.")
    path = str(spec["path"])
    if path.endswith((".duckdb", ".db")) and not spec.get("table"):
        raise ConfigError(f"{at}: {path!r} is a DuckDB file; add 'table: <name>' to say which "
                          "table to read.")
    canonical = [c.name for c in TABLES[name]]
    columns = {str(k): str(v) for k, v in _mapping(spec.get("columns"), f"{at}.columns").items()}
    for key in columns:
        if key not in canonical:
            raise ConfigError(f"{at}.columns: unknown canonical column {key!r}; valid names for "
                              f"{name} are {', '.join(canonical)}.")
    values = {}
    for col, mapping in _mapping(spec.get("values"), f"{at}.values").items():
        values[str(col)] = MappingProxyType({str(k): v for k, v in
                                             _mapping(mapping, f"{at}.values.{col}").items()})
    derive = {}
    for col, expr in _mapping(spec.get("derive"), f"{at}.derive").items():
        col = str(col)
        if not _NAME_RE.match(col) or col in RESERVED:
            raise ConfigError(f"{at}.derive: {col!r} is not a valid new column name; use "
                              "snake_case letters, digits and underscores (not source_row/source_file).")
        try:
            parse_expression(str(expr))
        except ConfigError as exc:
            raise ConfigError(f"{at}.derive.{col}: {exc}") from None
        derive[col] = str(expr)
    zone = _check_zone(spec["timezone"], f"{at}.timezone") if spec.get("timezone") else None
    read_options = _mapping(spec.get("read_options"), f"{at}.read_options")
    return TableConfig(name=name, path=path, table=spec.get("table"),
                       columns=MappingProxyType(columns),
                       datetime_format=spec.get("datetime_format"), timezone=zone,
                       values=MappingProxyType(values), derive=MappingProxyType(derive),
                       read_options=MappingProxyType(dict(read_options)))
