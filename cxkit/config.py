"""Source config: how a company's own exports map onto the cxkit data model.

A source config is a YAML file (or a dict) that tells :func:`cxkit.io.read_support_data`
where each export lives, which export column holds which canonical column, how
timestamps are written and which values need translating, so that a new export
format needs a config and no code::

    preset: [zendesk]        # optional export presets (cxkit.presets), overridden key by key
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
        read_options: {delimiter: ";", decimal: ",", thousands: ".", encoding: latin-1}
        dedupe: {keep: last, by: file_order}  # overlapping exports: latest version wins
    plausibility:            # limits of the plausibility rules (defaults shown)
      max_resolution_days: 365
      max_first_response_days: 30
      earliest: null         # e.g. "2015-01-01": event dates before it are implausible
      date_fence: 5          # event dates before Q1 - 5 x max(IQR, 1 year) are year typos
      duplicate_rows: true   # identical rows are duplicates (the first is kept)
      customer_span: true    # tickets created before signup or after churn are set aside
    pseudonymise: false      # true: customer ids become keyed hashes at read time
    engine:                  # optional: where the tables are read, checked and aggregated
      backend: postgres      # duckdb (default) | postgres | pyspark | snowflake | bigquery | ...
      connection: "${CXKIT_WAREHOUSE_URL}"  # from the environment, never a secret in the YAML
      quarantine: cxkit_quarantine_  # table-name prefix (warehouses) or folder (file sources)

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

``datetime_format`` is strftime codes, or ``epoch_s`` / ``epoch_ms`` for Unix
timestamps in seconds or milliseconds (always UTC). ``read_options`` go to the
CSV reader; ``decimal`` and ``thousands`` are applied to the number columns
(the file is read as text so that ids keep their leading zeros). ``dedupe``
resolves overlapping export files: of the rows sharing ``key`` (default the
table's id column) only the last (``keep: last``) or first version is kept,
ordered by file and row (``by: file_order``) or by a timestamp column
(``by: updated_at``); the others are set aside as ``superseded``.
``plausibility`` holds the limits of the plausibility rules
(:class:`Plausibility`); ``pseudonymise`` replaces every ``customer_id`` by a
keyed hash whose key is read from the environment variable
``CXKIT_PSEUDONYM_KEY`` (or the one named by ``pseudonymise: {key_env: NAME}``);
the key never sits in the config.

The ``engine`` block (:class:`EngineConfig`) names the Ibis backend that reads,
checks and aggregates the tables (:mod:`cxkit.engine`); without it,
:func:`cxkit.engine.open_source` uses DuckDB over the files. A table of a
warehouse is given by ``table:`` (``schema.name`` allowed) instead of
``path:``. ``connection`` is a URL read from the environment when it is
written ``"${VARIABLE}"`` (expanded when the engine connects); a URL with a
literal password or token in the YAML is refused.
"""

from __future__ import annotations

import os
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
from cxkit._formats import CSV_OPTIONS
from cxkit.exceptions import ConfigError, SourceError
from cxkit.registry import parse_metrics
from cxkit.schema import TABLES

__all__ = ["SourceConfig", "TableConfig", "EngineConfig", "load_config", "parse_expression",
           "evaluate_expression", "FUNCTIONS", "BACKENDS", "expand_env", "resolve_as_of",
           "sample_config_path", "is_size"]

TOP_KEYS = ("currency", "timezone", "as_of", "tables", "base_dir", "churn", "metrics",
            "plausibility", "pseudonymise", "engine")
ENGINE_KEYS = ("backend", "connection", "memory_limit", "threads", "temp_directory",
               "max_temp_directory_size", "quarantine")
#: engine backends: Ibis backend name -> pip extra that installs its driver
BACKENDS = {"duckdb": None, "postgres": "postgres", "pyspark": "spark", "snowflake": "snowflake",
            "bigquery": "bigquery", "databricks": "databricks", "trino": "trino"}
DUCKDB_ONLY = ("memory_limit", "threads", "temp_directory", "max_temp_directory_size")
_SIZE = re.compile(r"^\s*\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KIB|MIB|GIB|TIB)\s*$", re.IGNORECASE)
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# a URL's password (scheme://user:password@host) or a secret-looking query parameter
_URL_SECRET = re.compile(r"://[^/@:]*:([^/@]+)@")
_PARAM_SECRET = re.compile(r"(?:password|passwd|pwd|token|secret|private_key|access_key)=([^&;]+)",
                           re.IGNORECASE)
TABLE_KEYS = ("path", "table", "columns", "datetime_format", "timezone", "values",
              "derive", "read_options", "dedupe")
EPOCH_FORMATS = {"epoch_s": "s", "epoch_ms": "ms"}  # datetime_format: Unix-time unit
DEFAULT_KEY_ENV = "CXKIT_PSEUDONYM_KEY"
RESERVED = ("source_row", "source_file")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Plausibility:
    """Limits of the plausibility rules (``plausibility:`` in the source config).

    ``None`` switches a limit off. ``max_resolution_days``: a ticket resolved
    longer than this after creation; ``max_first_response_days``: a first
    response later than this. Event dates (tickets, payments, survey answers)
    before ``earliest`` or before ``Q1 - date_fence x max(IQR, 365 days)`` of
    their column (quartiles over the whole column: far below the bulk of the
    data, as a year typo is) are outside the plausible window.
    ``duplicate_rows``: a row identical to an earlier one in every column is
    a duplicate. ``customer_span``: a ticket created before its customer's
    signup or after the churn is outside the customer's active span.
    """

    max_resolution_days: float | None = 365
    max_first_response_days: float | None = 30
    earliest: pd.Timestamp | None = None
    date_fence: float | None = 5
    duplicate_rows: bool = True
    customer_span: bool = True


@dataclass(frozen=True)
class Dedupe:
    """How overlapping exports of one table are resolved (``dedupe:``)."""

    keep: str = "last"  # "last" or "first" version of each key
    by: str = "file_order"  # "file_order" or the column that orders the versions
    key: tuple[str, ...] = ()  # empty: the table's id column


@dataclass(frozen=True)
class EngineConfig:
    """The ``engine:`` block: which Ibis backend reads, checks and aggregates the tables.

    ``connection`` keeps its ``${VARIABLE}`` references; :func:`expand_env`
    resolves them when :func:`cxkit.engine.connect` connects. ``memory_limit``,
    ``threads``, ``temp_directory`` and ``max_temp_directory_size`` (DuckDB
    only) bound DuckDB's memory, say where it spills and how much disk the
    spill may take; ``quarantine`` is where
    :meth:`cxkit.engine.EngineData.write_quarantine` writes: a folder for file
    sources (default ``quarantine`` beside the config), a table-name prefix for
    warehouse tables (default ``cxkit_quarantine_``).
    """

    backend: str = "duckdb"
    connection: str | None = None
    memory_limit: str | None = None
    threads: int | None = None
    temp_directory: str | None = None
    max_temp_directory_size: str | None = None
    quarantine: str | None = None


@dataclass(frozen=True)
class TableConfig:
    """Where one table comes from and how its export maps to the data model.

    ``columns`` maps canonical name -> export column; ``values`` maps output
    column -> {export value: value}; ``derive`` maps output column -> expression.
    ``path`` is ``None`` for a table of the engine's database (``table:`` alone).
    """

    name: str
    path: str | None
    table: str | None = None
    columns: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    datetime_format: str | None = None
    timezone: str | None = None
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: MappingProxyType({}))
    derive: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    read_options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    dedupe: Dedupe | None = None


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
    plausibility: Plausibility = field(default_factory=Plausibility)
    pseudonymise_key_env: str | None = None  # set: customer ids are pseudonymised
    engine: EngineConfig | None = None  # the `engine:` block (None: DuckDB over the files)


class _Loader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false, so ``Yes``/``No``/``on`` stay text."""


_Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:bool",
                              re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def load_config(source: str | Path | Mapping, *,
                base_dir: str | Path | None = None) -> SourceConfig:
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
    if "preset" in raw:  # export presets (cxkit/presets), merged under the config's own keys
        from cxkit.presets import apply_presets

        raw = apply_presets(raw, where)
    _check_keys(raw, TOP_KEYS, where)
    tz = _check_zone(raw.get("timezone", "UTC"), f"{where}: timezone")
    currency = str(raw.get("currency", "USD"))
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise ConfigError(f"{where}: currency {currency!r} is not a 3-letter ISO code "
                          "such as USD or EUR.")
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
    engine = _engine(raw.get("engine"), where)
    parsed = {name: _table(name, spec, where, engine) for name, spec in tables.items()}
    return SourceConfig(base_dir=folder, tables=MappingProxyType(parsed), currency=currency,
                        timezone=tz, as_of=as_of,
                        churn=check_churn_config(raw.get("churn"), where),
                        metrics=parse_metrics(raw.get("metrics"), where=f"{where}: metrics"),
                        plausibility=_plausibility(raw.get("plausibility"), where),
                        pseudonymise_key_env=_pseudonymise(raw.get("pseudonymise"), where),
                        engine=engine)


def sample_config_path() -> Path:
    """Path of the bundled sample's source config (package data ``cxkit.sample``).

    Raises
    ------
    SourceError
        When the sample has not been generated.
    """
    from cxkit._package_data import sample_dir

    path = sample_dir() / "cxkit.yaml"
    if not path.is_file():
        raise SourceError("The bundled sample data (data/sample/cxkit.yaml) is missing; "
                          "generate it with `cxkit sample --out data/sample`.")
    return path


def resolve_as_of(as_of: Any, config: SourceConfig) -> pd.Timestamp:
    """The observation end: ``as_of``, else the config's, else now; naive, reporting zone.

    Raises
    ------
    ConfigError
        ``as_of`` is not a date.
    """
    when = as_of if as_of is not None else config.as_of
    try:
        when = pd.Timestamp(when) if when is not None else \
            pd.Timestamp.now(tz=config.timezone).tz_localize(None)
    except (ValueError, TypeError):
        raise ConfigError(f"as_of {as_of!r} is not a date; write it as YYYY-MM-DD.") from None
    if when.tzinfo is not None:
        when = when.tz_convert(config.timezone).tz_localize(None)
    return when


def expand_env(text: str, *, where: str = "engine.connection") -> str:
    """``text`` with each ``${VARIABLE}`` replaced by the environment's value.

    Raises
    ------
    ConfigError
        A variable is not set (one line naming it).

    Examples
    --------
    >>> import os; os.environ["CXKIT_DOC_URL"] = "postgresql://localhost/db"
    >>> expand_env("${CXKIT_DOC_URL}")
    'postgresql://localhost/db'
    """
    def value(match: re.Match) -> str:
        name = match.group(1)
        if not os.environ.get(name):
            raise ConfigError(f"{where}: the environment variable {name} is not set; export it "
                              f"(e.g. export {name}='postgresql://user:...@host/db') before "
                              "running cxkit.")
        return os.environ[name]
    return _ENV_REF.sub(value, text)


def is_size(value: Any) -> bool:
    """Whether ``value`` is a memory or disk size DuckDB takes: a number and a unit
    (``"4GB"``, ``"512MB"``, ``"1.5GiB"``)."""
    return isinstance(value, str) and _SIZE.match(value) is not None


def _engine(value: Any, where: str) -> EngineConfig | None:
    if value is None:
        return None
    at = f"{where}: engine"
    spec = _mapping(value, at)
    _check_keys(spec, ENGINE_KEYS, at)
    backend = str(spec.get("backend", "duckdb")).strip().lower()
    if backend not in BACKENDS:
        raise ConfigError(f"{at}.backend {backend!r} is not supported; use one of "
                          f"{', '.join(BACKENDS)}.")
    if backend != "duckdb":
        for key in DUCKDB_ONLY:
            if spec.get(key) is not None:
                raise ConfigError(f"{at}.{key} applies to the duckdb backend only; remove it "
                                  f"(the {backend} server manages its own resources).")
    connection = spec.get("connection")
    if connection is not None:
        if not isinstance(connection, str) or not connection.strip():
            raise ConfigError(f"{at}.connection must be a URL or \"${{VARIABLE}}\" naming the "
                              f"environment variable that holds it, got {connection!r}.")
        literal = _ENV_REF.sub("", connection)
        for pattern in (_URL_SECRET, _PARAM_SECRET):
            found = pattern.search(literal)
            if found and found.group(1).strip():
                raise ConfigError(f"{at}.connection holds a password or token in the YAML; put "
                                  "the URL in an environment variable and write "
                                  "connection: \"${CXKIT_WAREHOUSE_URL}\" instead.")
        if backend == "duckdb":
            raise ConfigError(f"{at}.connection is for warehouse backends; DuckDB reads the "
                              "files of `path:` (a .duckdb file with `table:` for its tables).")
    elif backend not in ("duckdb", "pyspark"):
        raise ConfigError(f"{at}.connection is missing: the {backend} backend needs a URL; write "
                          "connection: \"${CXKIT_WAREHOUSE_URL}\" and export that variable.")
    sizes = {}
    for key in ("memory_limit", "max_temp_directory_size"):
        size = spec.get(key)
        if size is not None and not is_size(size):
            raise ConfigError(f"{at}.{key} {size!r} is not a size; write a number with a "
                              "unit, e.g. \"4GB\" or \"512MB\".")
        sizes[key] = size.strip() if size else None
    threads = spec.get("threads")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ConfigError(f"{at}.threads must be a positive whole number, got {threads!r}.")
    for key in ("temp_directory", "quarantine"):
        given = spec.get(key)
        if given is not None and (not isinstance(given, str) or not given.strip()):
            raise ConfigError(f"{at}.{key} must be a non-empty text, got {given!r}.")
    quarantine = spec.get("quarantine")
    if quarantine is not None and backend not in ("duckdb",) \
            and not _NAME_RE.match(quarantine.split(".")[-1]):
        raise ConfigError(f"{at}.quarantine {quarantine!r} is not a table-name prefix; use "
                          "letters, digits and underscores (optionally schema.prefix_).")
    return EngineConfig(backend=backend, connection=connection, threads=threads,
                        temp_directory=spec.get("temp_directory"), quarantine=quarantine,
                        **sizes)


def _plausibility(value: Any, where: str) -> Plausibility:
    spec = _mapping(value, f"{where}: plausibility")
    names = tuple(Plausibility.__dataclass_fields__)
    _check_keys(spec, names, f"{where}: plausibility")
    out = {}
    for key, given in spec.items():
        at = f"{where}: plausibility.{key}"
        if key in ("duplicate_rows", "customer_span"):
            if not isinstance(given, bool):
                raise ConfigError(f"{at} must be true or false, got {given!r}.")
            out[key] = given
        elif key == "earliest":
            try:
                out[key] = None if given is None else pd.Timestamp(str(given))
            except ValueError:
                raise ConfigError(f"{at}: {given!r} is not a date; write it as "
                                  "\"YYYY-MM-DD\" (or null for no limit).") from None
        elif given is not None and (isinstance(given, bool) or not isinstance(given, (int, float))
                                    or given <= 0):
            raise ConfigError(f"{at} must be a positive number (or null for no limit), got "
                              f"{given!r}.")
        else:
            out[key] = given
    return Plausibility(**out)


def _pseudonymise(value: Any, where: str) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return DEFAULT_KEY_ENV
    spec = _mapping(value, f"{where}: pseudonymise")
    _check_keys(spec, ("key_env",), f"{where}: pseudonymise")
    env = str(spec.get("key_env") or DEFAULT_KEY_ENV)
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", env):
        raise ConfigError(f"{where}: pseudonymise.key_env {env!r} is not an environment "
                          "variable name.")
    return env


def _dedupe(value: Any, name: str, at: str) -> Dedupe | None:
    if value is None:
        return None
    spec = _mapping(value, f"{at}.dedupe")
    _check_keys(spec, ("keep", "by", "key"), f"{at}.dedupe")
    keep, by = str(spec.get("keep", "last")), str(spec.get("by", "file_order"))
    if keep not in ("last", "first"):
        raise ConfigError(f"{at}.dedupe.keep must be 'last' or 'first', got {keep!r}.")
    key = spec.get("key") or ()
    key = (key,) if isinstance(key, str) else tuple(str(k) for k in key)
    if not key and name not in ("customers", "tickets", "customer_level"):
        raise ConfigError(f"{at}.dedupe: table {name} has no id column; say which columns "
                          "identify a row with `key: [customer_id, ...]`.")
    return Dedupe(keep=keep, by=by, key=key)


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


def _table(name: str, spec: Any, where: str, engine: EngineConfig | None = None) -> TableConfig:
    at = f"{where}: tables.{name}"
    if isinstance(spec, str):
        spec = {"path": spec}
    spec = _mapping(spec, at)
    _check_keys(spec, TABLE_KEYS, at)
    warehouse = engine is not None and engine.backend != "duckdb"
    table = spec.get("table")
    if table is not None and (not isinstance(table, str) or not all(
            _NAME_RE.match(part) for part in table.split("."))
            or table.count(".") > 2):
        raise ConfigError(f"{at}.table {table!r} is not a table name; write name, "
                          "schema.name or catalog.schema.name (letters, digits, underscores).")
    if not spec.get("path"):
        if table and warehouse:
            path = None
        elif table:
            raise ConfigError(f"{at}: 'table: {table}' needs a database: add an `engine:` block "
                              "naming the warehouse (backend, connection), or give "
                              "`path:` of the DuckDB file that holds the table.")
        else:
            raise ConfigError(f"{at}: 'path' is missing; give the export file (CSV, Parquet, "
                              "glob or DuckDB file) relative to the config folder, or "
                              "`table:` with an `engine:` block for a warehouse table.")
    else:
        path = str(spec["path"])
    if path is not None and warehouse:
        raise ConfigError(f"{at}: the {engine.backend} engine reads tables of its database; "
                          f"give `table:` instead of `path: {path}` (load files into the "
                          "warehouse first, or drop the engine block to read files with DuckDB).")
    if path is not None and path.endswith((".duckdb", ".db")) and not spec.get("table"):
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
                              "snake_case letters, digits and underscores "
                              "(not source_row/source_file).")
        try:
            parse_expression(str(expr))
        except ConfigError as exc:
            raise ConfigError(f"{at}.derive.{col}: {exc}") from None
        derive[col] = str(expr)
    zone = _check_zone(spec["timezone"], f"{at}.timezone") if spec.get("timezone") else None
    read_options = _mapping(spec.get("read_options"), f"{at}.read_options")
    text_only = [k for k in read_options if k in CSV_OPTIONS]
    if text_only and path and str(path).lower().endswith(".parquet"):
        raise ConfigError(f"{at}.read_options: {', '.join(text_only)} read CSV text, and {path} "
                          "is Parquet (typed columns, nothing to split or parse); remove them.")
    fmt = spec.get("datetime_format")
    if fmt is not None and (not isinstance(fmt, str) or
                            (fmt not in EPOCH_FORMATS and "%" not in fmt)):
        raise ConfigError(f"{at}.datetime_format {fmt!r} is not a format: use strftime codes "
                          "such as \"%d/%m/%Y %H:%M\", or epoch_s / epoch_ms for Unix time.")
    return TableConfig(name=name, path=path, table=spec.get("table"),
                       columns=MappingProxyType(columns),
                       datetime_format=spec.get("datetime_format"), timezone=zone,
                       values=MappingProxyType(values), derive=MappingProxyType(derive),
                       read_options=MappingProxyType(dict(read_options)),
                       dedupe=_dedupe(spec.get("dedupe"), name, at))
