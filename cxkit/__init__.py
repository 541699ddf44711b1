"""cxkit: from helpdesk exports to retention and revenue effects, with honest uncertainty.

The names below are the public API; each lives in a module with one job
(see ARCHITECTURE.md). They are imported on first use, so ``import cxkit``
and the command line start fast; ``cxkit.fit_retention`` and
``from cxkit import fit_retention`` work as usual.
"""

from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from cxkit.exceptions import (
    BatchError,
    ConfigError,
    CxkitError,
    MissingDataError,
    ModelError,
    ParameterError,
    QuarantineWarning,
    ResourceError,
    SchemaError,
    SmallSampleWarning,
    SourceError,
)

try:
    __version__ = version("cxkit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

# public name -> the module (in this package) that defines it
_LAZY = {
    "load_data": "cache",
    "load_panel": "cache",
    "Missing": "availability",
    "expand_terms": "availability",
    "SupportData": "data",
    "EngineData": "engine",
    "open_source": "engine",
    "coverage_plot": "describe",
    "describe_associations": "describe",
    "describe_claims": "claims",
    "describe_findings": "describe",
    "describe_panel": "describe",
    "describe_performance": "describe",
    "describe_sources": "describe",
    "format_table": "display",
    "headline_rows": "result_rows",
    "kpi_rows": "result_rows",
    "quality_rows": "result_rows",
    "select": "selection",
    "value_per_retained_customer": "describe",
    "adjust_pvalues": "comparisons",
    "compare_naive": "comparisons",
    "fit_by_segment": "comparisons",
    "fit_mediation": "mediation",
    "fit_within": "comparisons",
    "placebo_check": "guardrails",
    "driver_importance": "importance",
    "importance_performance": "importance",
    "read_support_data": "io",
    "channel_mix": "metrics",
    "compute_kpis": "metrics",
    "contact_rate": "metrics",
    "kpi_trend_plot": "metrics",
    "nps": "metrics",
    "reason_mix": "metrics",
    "fit_retention": "models",
    "fit_revenue": "revenue",
    "build_survival": "outcomes",
    "build_churn_intervals": "outcomes",
    "cohort_retention": "curves",
    "adjusted_survival": "curves",
    "build_panel": "panel",
    "iter_panel": "panel",
    "write_panel": "panel",
    "effect_plot": "plots",
    "forest_plot": "plots",
    "km_plot": "plots",
    "kpi_interval_plot": "plots",
    "quadrant_plot": "plots",
    "set_theme": "plots",
    "what_if_plot": "plots",
    "write_results": "report",
    "describe_schema": "schema",
    "fit_churn_timing": "survival",
    "kaplan_meier": "survival",
    "logrank_test": "survival",
    "ph_test": "survival",
    "describe_sensitivity": "sensitivity",
    "make_sample": "synth",
    "describe_quality": "validate",
    "what_if": "whatif",
}

_EXCEPTIONS = ["BatchError", "ConfigError", "CxkitError", "MissingDataError", "ModelError",
               "ParameterError", "QuarantineWarning", "ResourceError", "SchemaError",
               "SmallSampleWarning", "SourceError"]
__all__ = sorted([*_LAZY, *_EXCEPTIONS]) + ["__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"cxkit.{module}"), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"cxkit.{name}") is not None:
        value = importlib.import_module(f"cxkit.{name}")  # a submodule: cxkit.metrics
    else:
        raise AttributeError(f"module 'cxkit' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # static analysers and IDEs see the eager imports
    from cxkit.availability import Missing, expand_terms
    from cxkit.cache import load_data, load_panel
    from cxkit.claims import describe_claims
    from cxkit.comparisons import (
        adjust_pvalues,
        compare_naive,
        fit_by_segment,
        fit_within,
    )
    from cxkit.curves import adjusted_survival, cohort_retention
    from cxkit.data import SupportData
    from cxkit.describe import (
        coverage_plot,
        describe_associations,
        describe_findings,
        describe_panel,
        describe_performance,
        describe_sources,
        value_per_retained_customer,
    )
    from cxkit.display import format_table
    from cxkit.engine import EngineData, open_source
    from cxkit.guardrails import placebo_check
    from cxkit.importance import driver_importance, importance_performance
    from cxkit.io import read_support_data
    from cxkit.mediation import fit_mediation
    from cxkit.metrics import (
        channel_mix,
        compute_kpis,
        contact_rate,
        kpi_trend_plot,
        nps,
        reason_mix,
    )
    from cxkit.models import fit_retention
    from cxkit.outcomes import build_churn_intervals, build_survival
    from cxkit.panel import build_panel, iter_panel, write_panel
    from cxkit.plots import (
        effect_plot,
        forest_plot,
        km_plot,
        kpi_interval_plot,
        quadrant_plot,
        set_theme,
        what_if_plot,
    )
    from cxkit.report import write_results
    from cxkit.result_rows import headline_rows, kpi_rows, quality_rows
    from cxkit.revenue import fit_revenue
    from cxkit.schema import describe_schema
    from cxkit.selection import select
    from cxkit.sensitivity import describe_sensitivity
    from cxkit.survival import fit_churn_timing, kaplan_meier, logrank_test, ph_test
    from cxkit.synth import make_sample
    from cxkit.validate import describe_quality
    from cxkit.whatif import what_if
