"""Plain-words labels of drivers for sentences and plot axes.

:func:`driver_label` is the one function sentences, plots and what-if texts
call to name a driver and the unit of a change in it; the facts come from the
metric registry (:func:`cxkit.registry.lookup`).
"""

from __future__ import annotations

from cxkit import registry

__all__ = ["driver_label"]


def driver_label(term: str) -> tuple[str, str, float]:
    """Plain-words label of a driver column, the unit suffix of its delta and a scale.

    Returns ``(label, unit, scale)`` from the metric registry: a delta ``d``
    of the driver is written as ``f"{d * scale:+g}{unit} {label}"`` (``rate``
    columns, stored 0-1, are written in percentage points).
    """
    metric = registry.lookup(term)
    unit, scale = metric.sentence_unit
    return metric.label, unit, scale
