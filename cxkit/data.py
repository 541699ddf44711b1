"""``SupportData``: the validated tables one analysis works on.

Produced by :func:`cxkit.io.read_support_data` (a company's exports) or
:func:`cxkit.synth.make_sample` (generated data). Frozen: functions that
derive new tables return new objects and never modify these frames.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

__all__ = ["SupportData", "fingerprint_frames", "is_engine_data"]


@dataclass(frozen=True)
class SupportData:
    """Canonical, validated support and customer tables.

    Attributes
    ----------
    customers : DataFrame
        One row per customer (see ``describe_schema("customers")``).
    tickets, revenue, surveys : DataFrame or None
        Event tables; ``None`` when the source has no such table.
    quality : DataFrame
        Data-quality table: one row per (table, rule) with ``rows_in``,
        ``rows_quarantined`` and a plain-words ``rule`` description.
    quarantine : dict of DataFrame
        Rows set aside per table, each with the ``rule`` that removed it, its
        ``source_row``, and for unreadable values ``unparsed_columns`` and
        their original text in ``unparsed_values``.
    currency : str
        Currency of every ``amount`` column.
    timezone : str
        Reporting time zone the (naive) timestamps are expressed in.
    customer_level : DataFrame or None
        One row per customer with outcome and drivers (customer-level mode).
    metrics : tuple of cxkit.registry.Metric
        Metrics declared in the source config's ``metrics:`` block; the KPI
        tables and the panel add one column each.
    """

    customers: pd.DataFrame
    tickets: pd.DataFrame | None = None
    revenue: pd.DataFrame | None = None
    surveys: pd.DataFrame | None = None
    quality: pd.DataFrame = field(default_factory=pd.DataFrame)
    quarantine: dict = field(default_factory=dict)
    currency: str = "USD"
    timezone: str = "UTC"
    customer_level: pd.DataFrame | None = None
    metrics: tuple = ()

    @cached_property
    def fingerprint(self) -> str:
        """Short content hash of the validated tables (stable across runs).

        Computed once per object (the tables are never modified) and kept
        when the object is pickled: a batch hashes its data once, and its
        kernels read the hash from the cached data.
        """
        frames = {"customers": self.customers, "tickets": self.tickets,
                  "revenue": self.revenue, "surveys": self.surveys,
                  "customer_level": self.customer_level}
        digest = fingerprint_frames(frames)
        if not self.metrics:
            return digest
        return hashlib.sha256((digest + repr(self.metrics)).encode()).hexdigest()[:16]

    def tables(self) -> dict[str, pd.DataFrame]:
        """The event tables that are present, by name."""
        out = {"customers": self.customers, "tickets": self.tickets,
               "revenue": self.revenue, "surveys": self.surveys}
        return {k: v for k, v in out.items() if v is not None}

    def __repr__(self) -> str:  # stable: no addresses, no paths
        parts = [f"{k}={len(v):,} rows" for k, v in self.tables().items()]
        return f"SupportData({', '.join(parts)}, currency={self.currency!r})"


def fingerprint_frames(frames: dict[str, pd.DataFrame | None]) -> str:
    """SHA-256 (first 16 hex digits) over the row hashes of each frame."""
    h = hashlib.sha256()
    for name in sorted(frames):
        df = frames[name]
        if df is None:
            continue
        h.update(name.encode())
        h.update(",".join(map(str, df.columns)).encode())
        h.update(pd.util.hash_pandas_object(df, index=False).to_numpy().tobytes())
    return h.hexdigest()[:16]


def is_engine_data(data) -> bool:
    """Whether ``data`` is an engine's data (:func:`cxkit.open_source`'s ``EngineData``, or
    anything shaped like it): tables reached through ``table(name)``, with the fetched
    ``customers``, the reporting ``timezone`` and the declared ``metrics``.

    Looked up without running them (``inspect.getattr_static``): ``customers``
    is a property that fetches the table.
    """
    import inspect

    missing = object()
    return not isinstance(data, (SupportData, pd.DataFrame)) and all(
        inspect.getattr_static(data, name, missing) is not missing
        for name in ("table", "customers", "timezone", "metrics"))

