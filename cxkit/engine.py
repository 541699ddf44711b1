"""The engine boundary: a source's tables read, checked and reduced where they live.

:func:`open_source` connects to the config's engine (``engine:`` block of the
source config; DuckDB over the files by default), reads each table as a
canonical Ibis table (:func:`cxkit._engine_read.read_engine_table`), applies
the validation rules as Ibis expressions (:func:`cxkit._engine_rules.check_tables`)
and materialises the checked tables once, so that every later query (quality
counts, quarantine, the panel's cells) reads the stored table instead of
parsing the export again. Only small answers come back to Python: the
customers, the quality table, the quarantined rows and the panel's cells.

Sessions are pinned to UTC: engine timestamps are UTC instants (naive), and
cxkit converts to the reporting zone only for what it hands to pandas
(:attr:`EngineData.customers`, :meth:`EngineData.to_support_data`).

Backends:

- ``duckdb`` (default): a database file in a new temporary folder (under
  ``temp_directory`` when given), ``memory_limit`` (default 2GB, leaving room
  for the pandas side) and ``threads``; larger intermediate results spill to
  that folder (at most ``max_temp_directory_size``, default 20GB), which
  :meth:`EngineData.close` removes. CSV exports are stored once after
  reading (parsed once); Parquet is re-read where needed.
- ``postgres``: ``connection`` is a ``postgresql://`` URL (from the
  environment); checked tables are session temporary tables.
- ``pyspark``: a local SparkSession (``local[2]``; or the master URL given as
  ``connection``), reused when one is running and left running on close
  (starting a JVM is slow); checked tables are cached.
- ``snowflake``, ``bigquery``, ``databricks``, ``trino``: ``ibis.connect``
  of the URL; the driver comes with the extra (``pip install 'cxkit[...]'``).
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

import pandas as pd

from cxkit._churn import ACTIVITY, churn_by_inactivity
from cxkit._engine_read import read_engine_table
from cxkit._engine_rules import check_tables
from cxkit.config import (
    BACKENDS,
    EngineConfig,
    SourceConfig,
    expand_env,
    load_config,
    resolve_as_of,
    sample_config_path,
)
from cxkit.data import SupportData
from cxkit.exceptions import ConfigError, ResourceError, SourceError
from cxkit.registry import check_declared
from cxkit.validate import SHOWN_AS

__all__ = ["connect", "close", "open_source", "EngineData", "to_reporting_zone"]

DEFAULT_MEMORY_LIMIT = "2GB"  # DuckDB's default would be 80% of the machine; room for pandas
DEFAULT_MAX_TEMP = "20GB"  # DuckDB's default would be 90% of the free disk
SPARK_CONF = {  # a local Spark session: UTC, few shuffle partitions, a modest driver
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.memory": "2g",
    "spark.ui.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",  # pandas <-> Spark through Arrow
}
DRIVER_MODULES = {"postgres": "psycopg", "pyspark": "pyspark", "snowflake": "snowflake.connector",
                  "bigquery": "google.cloud.bigquery", "databricks": "databricks.sql",
                  "trino": "trino"}
QUARANTINE_PREFIX = "cxkit_quarantine_"  # default table-name prefix on warehouses
_CLEANUP: dict[int, weakref.finalize] = {}  # id(backend) -> removes its temporary folder


def _require(backend: str) -> None:
    module = DRIVER_MODULES.get(backend)
    try:
        found = module is None or importlib.util.find_spec(module.split(".")[0]) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ConfigError(f"engine.backend {backend!r} needs its driver, which is not installed: "
                          f"pip install 'cxkit[{BACKENDS[backend]}]'.")


def connect(engine: EngineConfig | None = None, *, base_dir: str | Path | None = None):
    """An Ibis backend for the ``engine:`` block, its session pinned to UTC.

    Parameters
    ----------
    engine : EngineConfig, optional
        The source config's ``engine`` block; ``None`` for DuckDB with the
        defaults.
    base_dir : str or Path, optional
        Folder a relative ``temp_directory`` resolves against.

    Returns
    -------
    ibis BaseBackend
        Close it with :func:`close` (removes DuckDB's temporary folder).

    Raises
    ------
    ConfigError
        A ``${VARIABLE}`` of the connection is not set, or the backend's
        driver is not installed (names the extra to install).
    SourceError
        The engine refused the connection (its message, one line).
    """
    engine = engine or EngineConfig()
    _require(engine.backend)
    import ibis

    if engine.backend == "duckdb":
        return _connect_duckdb(engine, base_dir)
    url = expand_env(engine.connection) if engine.connection else None
    try:
        if engine.backend == "postgres":
            return ibis.connect(url, options="-c TimeZone=UTC")
        if engine.backend == "pyspark":
            from pyspark.sql import SparkSession

            builder = SparkSession.builder.master(url or "local[2]").appName("cxkit")
            for key, value in SPARK_CONF.items():
                builder = builder.config(key, value)
            session = builder.getOrCreate()
            session.conf.set("spark.sql.session.timeZone", "UTC")  # also on a running session
            return ibis.pyspark.connect(session)
        return ibis.connect(url)
    except ConfigError:
        raise
    except Exception as exc:  # each driver raises its own types
        first = (str(exc).splitlines() or [""])[0][:200]
        if url:
            first = first.replace(url, "<connection>")
        raise SourceError(f"engine {engine.backend}: cannot connect ({type(exc).__name__}: "
                          f"{first}); check the URL in engine.connection's variable and that "
                          "the server is reachable.") from None


def _connect_duckdb(engine: EngineConfig, base_dir: str | Path | None):
    import ibis

    from cxkit.aggregate import check_settings
    from cxkit.exceptions import ParameterError

    memory = engine.memory_limit or DEFAULT_MEMORY_LIMIT
    try:
        threads = check_settings(memory_limit=memory, threads=engine.threads)
    except ParameterError as exc:
        raise ConfigError(f"engine: {exc}") from None
    parent = None
    if engine.temp_directory:
        parent = Path(engine.temp_directory)
        if not parent.is_absolute() and base_dir is not None:
            parent = Path(base_dir) / parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ResourceError.from_os_error(
                exc, path=parent.as_posix(), doing="create engine.temp_directory",
                fix="set engine.temp_directory to a writable folder") from exc
    folder = Path(tempfile.mkdtemp(prefix="cxkit-engine-", dir=parent))
    settings = dict(memory_limit=memory, threads=threads, temp_directory=str(folder / "spill"),
                    max_temp_directory_size=engine.max_temp_directory_size or DEFAULT_MAX_TEMP,
                    preserve_insertion_order=False)
    try:
        # Ibis sets the session's TimeZone to UTC once connected; given in the connection's
        # config, DuckDB 2 tries to autoload ICU before its built-in copy (seconds, then fails)
        con = ibis.duckdb.connect(folder / "engine.duckdb", **settings)
        con.raw_sql("SET TimeZone = 'UTC'")  # stated here too, not left to Ibis alone
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    _CLEANUP[id(con)] = weakref.finalize(con, shutil.rmtree, folder, ignore_errors=True)
    return con


def close(con) -> None:
    """Disconnect ``con`` and remove its temporary folder (DuckDB).

    A Spark session stays running for the next connection of the process.
    """
    if con is None:
        return
    if getattr(con, "name", "") != "pyspark":
        try:
            con.disconnect()
        except Exception:  # already closed
            pass
    cleanup = _CLEANUP.pop(id(con), None)
    if cleanup is not None:
        cleanup()


def to_reporting_zone(frame: pd.DataFrame, zone: str) -> pd.DataFrame:
    """Timestamp columns of ``frame`` from naive UTC instants to naive ``zone`` clock times."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            s = out[col]
            if getattr(s.dt, "tz", None) is None:
                s = s.dt.tz_localize("UTC")
            out[col] = s.dt.tz_convert(zone).dt.tz_localize(None).astype("datetime64[ns]")
    return out


def _canonical_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Dtypes of the pandas path (:mod:`cxkit.io`): text objects, counts ``Int64``, flags bool."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if pd.api.types.is_bool_dtype(s) or str(s.dtype) == "boolean":
            out[col] = s.astype(bool) if not s.isna().any() else s.astype("boolean")
        elif pd.api.types.is_integer_dtype(s) or (col == "contacts"
                                                  and pd.api.types.is_numeric_dtype(s)):
            out[col] = s.astype("Int64") if col == "contacts" else s
        elif pd.api.types.is_string_dtype(s) or s.dtype == object:
            out[col] = pd.Series([None if v is None or v is pd.NA or v != v else v
                                  for v in s.astype(object)], index=s.index, dtype=object)
    return out


class EngineData:
    """A source read, checked and materialised by an engine (see :func:`open_source`).

    Attributes
    ----------
    backend : str
        Ibis backend name (``duckdb``, ``postgres``, ``pyspark``, ...).
    con : ibis BaseBackend
        The connection the tables live on.
    config : SourceConfig
    as_of : Timestamp
        End of observation, naive in the reporting zone.
    timezone, currency : str
    metrics : tuple
        Metrics declared in the config's ``metrics:`` block.
    """

    def __init__(self, *, con, config: SourceConfig, checked, as_of: pd.Timestamp) -> None:
        self.con, self.config, self.checked, self.as_of = con, config, checked, as_of
        self.backend = con.name
        self.timezone, self.currency, self.metrics = config.timezone, config.currency, \
            config.metrics
        self._quality: pd.DataFrame | None = None
        self._customers: pd.DataFrame | None = None

    # -- tables on the engine ------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """The tables the source has, customers first."""
        return list(self.checked.flagged)

    def table(self, name: str):
        """The clean canonical table ``name`` (UTC instants), or ``None`` when absent.

        Without the ``rule`` and tracking columns (``source_row``,
        ``source_file``, ...), like the frames of :class:`~cxkit.data.SupportData`.
        """
        if name not in self.checked.flagged:
            return None
        return self.checked.clean(name)

    def quarantine(self, name: str):
        """The quarantined rows of ``name`` (Ibis table; ``rule``, ``source_row``, values, ...)."""
        if name not in self.checked.flagged:
            raise KeyError(f"no table {name!r} in this source; tables: {', '.join(self.names)}")
        return self.checked.quarantine(name)

    @property
    def quality(self) -> pd.DataFrame:
        """The data-quality table (``cxkit.validate.QUALITY_COLUMNS``), computed once."""
        if self._quality is None:
            self._quality = self.checked.quality()
        return self._quality

    def _fetch(self, expr, *, ordered: bool = True) -> pd.DataFrame:
        if ordered and {"source_file", "source_row"} <= set(expr.columns):
            expr = expr.order_by(["source_file", "source_row"])
        frame = expr.to_pandas()
        return _canonical_dtypes(to_reporting_zone(frame, self.timezone)).reset_index(drop=True)

    def _fetch_clean(self, name: str) -> pd.DataFrame | None:
        """The clean rows of ``name`` in export order (file, then row)."""
        if name not in self.checked.flagged:
            return None
        flagged = self.checked.flagged[name]
        ordered = flagged.filter(flagged["rule"].isnull()) \
            .order_by(["source_file", "source_row"]).select(self.table(name).columns)
        return self._fetch(ordered, ordered=False)

    def _fetch_quarantine(self, name: str) -> pd.DataFrame:
        frame = self._fetch(self.quarantine(name))
        return frame.rename(columns=SHOWN_AS)

    @property
    def customers(self) -> pd.DataFrame:
        """Clean customers (pandas; timestamps naive in the reporting zone), fetched once.

        With a ``churn:`` block, ``churned_at`` is set by inactivity from the
        engine's last activity per customer (:mod:`cxkit._churn`). In
        customer-level mode without a customers table: ``customer_id`` only.
        """
        if self._customers is None:
            customers = self._fetch_clean("customers")
            if customers is None:  # customer-level mode: the ids, in export order
                customers = self._fetch_clean("customer_level")[["customer_id"]]
            elif self.config.churn is not None:
                customers = self._churn(customers)
            self._customers = customers
        return self._customers

    def _churn(self, customers: pd.DataFrame) -> pd.DataFrame:
        """``churned_at`` by inactivity; the engine reduces each activity table to its last date."""
        events = {}
        for name in self.config.churn["activity"]:
            table = self.table(name)
            if table is None:
                continue
            col = ACTIVITY[name]
            last = table.group_by("customer_id").aggregate(**{col: table[col].max()})
            events[name] = self._fetch(last, ordered=False)
        return churn_by_inactivity(customers, events, as_of=self.as_of, **self.config.churn)

    def to_support_data(self) -> SupportData:
        """The clean tables fetched into a :class:`~cxkit.data.SupportData` (small data).

        Rows come in export order (file, then row); timestamps naive in the
        reporting zone; the quarantine as pandas frames like the pandas path's.
        """
        tables = {name: self._fetch_clean(name) for name in self.names if name != "customers"}
        quarantine = {name: self._fetch_quarantine(name) for name in self.names}
        tickets = tables.get("tickets")
        check_declared(self.metrics, tickets)
        return SupportData(customers=self.customers, tickets=tickets,
                           revenue=tables.get("revenue"), surveys=tables.get("surveys"),
                           quality=self.quality, quarantine=quarantine, currency=self.currency,
                           timezone=self.timezone, customer_level=tables.get("customer_level"),
                           metrics=self.metrics)

    # -- quarantine ----------------------------------------------------------------------------
    def write_quarantine(self, dest: str | Path | None = None) -> dict[str, str]:
        """Write the quarantined rows where they belong; returns ``{table: where}``.

        File sources: ``<folder>/<table>.csv`` (timestamps in the reporting
        zone), folder ``dest`` or ``engine.quarantine``, else ``quarantine``
        beside the config (in the current folder for the bundled sample); a
        file left from an earlier run for a table now without quarantined
        rows is removed. Warehouse tables (``table:`` on a
        warehouse backend): a table ``<prefix><table>`` in the warehouse
        (values as stored: UTC instants), prefix ``dest`` or
        ``engine.quarantine``, else ``cxkit_quarantine_``; replaced on each run.

        Raises
        ------
        ResourceError
            The folder or the warehouse refused the write.
        """
        engine = self.config.engine
        warehouse = engine is not None and engine.backend != "duckdb" \
            and not isinstance(dest, Path)
        written = {}
        if warehouse:
            prefix = str(dest or engine.quarantine or QUARANTINE_PREFIX)
            *schema, stem = prefix.split(".")
            for name in self.names:
                rows = self.quarantine(name)
                target = f"{stem}{name}"
                try:
                    self.con.create_table(target, rows, database=".".join(schema) or None,
                                          overwrite=True)
                except Exception as exc:  # the warehouse's own error types
                    first = (str(exc).splitlines() or [""])[0][:200]
                    raise ResourceError(
                        f"cannot write the quarantine table {prefix}{name} ({first}); set "
                        "engine.quarantine to a schema.prefix_ you may create tables in.") \
                        from None
                written[name] = ".".join([*schema, target])
            return written
        folder = Path(dest) if dest is not None else Path(
            engine.quarantine if engine is not None and engine.quarantine else "quarantine")
        bundled = Path(self.config.base_dir).resolve() == sample_config_path().parent.resolve()
        if not folder.is_absolute() and dest is None and not bundled:  # never into the package
            folder = Path(self.config.base_dir) / folder
        for name in self.names:
            target = folder / f"{name}.csv"
            rows = self._fetch_quarantine(name)
            try:
                if len(rows):
                    folder.mkdir(parents=True, exist_ok=True)
                    rows.to_csv(target, index=False)
                    written[name] = target.as_posix()
                elif target.exists():
                    target.unlink()  # a file from an earlier run would mislead
            except OSError as exc:
                raise ResourceError.from_os_error(
                    exc, path=target.as_posix(), doing="write the quarantined rows",
                    fix="choose a writable folder (engine.quarantine or dest=)") from exc
        return written

    # -- lifetime ------------------------------------------------------------------------------
    def close(self) -> None:
        """Disconnect and remove the engine's temporary files (idempotent)."""
        close(self.con)

    def __enter__(self) -> EngineData:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:  # stable: no addresses, no paths
        return (f"EngineData(backend={self.backend!r}, tables={self.names}, "
                f"currency={self.currency!r})")


def _config(config: Any) -> SourceConfig:
    if isinstance(config, str) and config == "sample":
        config = sample_config_path()
    return config if isinstance(config, SourceConfig) else load_config(config)


def _check_supported(cfg: SourceConfig) -> None:
    if cfg.pseudonymise_key_env:
        raise ConfigError("pseudonymise is not available through the engine (open_source or an "
                          "engine: block): pseudonymise the ids in the warehouse (a view over a "
                          "keyed hash), or read the files without an engine block.")


def _store(con, name: str, table):
    """``table`` stored once, so later queries read it instead of recomputing it.

    DuckDB: a table of the temporary database file (it spills to disk);
    Postgres: a temporary table of the session; other backends: Ibis's cache
    (a Spark cache, a warehouse's temporary table).

    Raises
    ------
    ResourceError
        DuckDB ran out of memory or of spill space (one line naming the settings).
    """
    try:
        if con.name in ("duckdb", "postgres"):
            return con.create_table(name, table, overwrite=True, temp=con.name == "postgres")
        return table.cache()
    except Exception as exc:
        if "OutOfMemory" not in type(exc).__name__:
            raise
        first = (str(exc).splitlines() or [""])[0][:200]
        raise ResourceError(f"The engine ran out of memory or spill space storing {name} "
                            f"({first}); raise engine.memory_limit or "
                            "engine.max_temp_directory_size, or point engine.temp_directory "
                            "at a larger disk.") from None


def _parsed_once(tcfg) -> bool:
    """Whether to store the read table: text exports (CSV) would be parsed again per query;
    Parquet, DuckDB files and warehouse tables are cheap to re-read."""
    return tcfg.path is not None and not tcfg.path.lower().endswith(
        (".parquet", ".duckdb", ".db"))


def _drop_stored(con, names: list[str]) -> None:
    """Drop tables :func:`_store` made that nothing reads any more (DuckDB, Postgres)."""
    if con.name in ("duckdb", "postgres"):
        for name in names:
            con.drop_table(name, force=True)


def open_source(config: Any = "sample", *, as_of: Any = None) -> EngineData:
    """Read and check a source's tables inside its engine.

    Parameters
    ----------
    config : str, Path, dict or SourceConfig, default "sample"
        As for :func:`cxkit.io.read_support_data`; its ``engine:`` block picks
        the backend (DuckDB over the files when absent).
    as_of : str or Timestamp, optional
        Dates after it are quarantined as "in the future"; default the
        config's ``as_of``, else now (reporting zone).

    Returns
    -------
    EngineData
        Use it in a ``with`` block (or call ``close()``) to release the
        connection and the temporary files.

    Raises
    ------
    ConfigError, SourceError, SchemaError
        As :func:`cxkit.io.read_support_data`; also an unset connection
        variable or a missing driver (``pip install 'cxkit[postgres]'``).

    Warns
    -----
    QuarantineWarning
        When rows were set aside.

    Examples
    --------
    >>> with open_source("sample") as data:  # doctest: +SKIP
    ...     data.quality.shape[1], data.table("tickets").count().to_pyarrow().as_py() > 0
    (7, True)
    """
    cfg = _config(config)
    _check_supported(cfg)
    when = resolve_as_of(as_of, cfg)
    instant = when.tz_localize(cfg.timezone, ambiguous=False, nonexistent="shift_forward") \
        .tz_convert("UTC").tz_localize(None)
    con = connect(cfg.engine, base_dir=cfg.base_dir)
    try:
        order = sorted(cfg.tables, key=lambda t: (t not in ("customers", "customer_level"), t))
        # each export parsed once (stored read tables), each table checked once (stored flagged
        # tables, customers first so the event tables' cross-table rules read them)
        stored = [n for n in order if _parsed_once(cfg.tables[n])]
        tables = {name: read_engine_table(
            con, cfg.tables[name], config=cfg,
            materialise=(lambda t, n=name: _store(con, f"cx_read_{n}", t))
            if name in stored else None) for name in order}
        checked = check_tables(
            tables, as_of=instant, plausibility=cfg.plausibility, currency=cfg.currency,
            dedupe={n: t.dedupe for n, t in cfg.tables.items() if t.dedupe is not None},
            timezone=cfg.timezone,
            materialise=lambda n, t: _store(con, f"cx_checked_{n}", t))
        _drop_stored(con, [f"cx_read_{n}" for n in stored])  # read by the checked tables only
        data = EngineData(con=con, config=cfg, checked=checked, as_of=when)
        if data.metrics:
            tickets = data.table("tickets")
            check_declared(data.metrics, None if tickets is None else
                           data._fetch(tickets.limit(0), ordered=False))
        data.quality  # noqa: B018 - counted now: warns once when rows were set aside
    except BaseException:
        close(con)
        raise
    return data
