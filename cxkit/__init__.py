"""cxkit: from helpdesk exports to retention and revenue effects, with honest uncertainty.

The names below are the public API; each lives in a module with one job
(see ARCHITECTURE.md).
"""

import types as _types
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cxkit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from cxkit.cache import load_data, load_panel
from cxkit.data import SupportData
from cxkit.describe import (
    coverage_plot,
    describe_associations,
    describe_claims,
    describe_findings,
    describe_panel,
    describe_performance,
    describe_sources,
    headline_rows,
    kpi_rows,
    quality_rows,
    select,
    value_per_retained_customer,
)
from cxkit.exceptions import (
    BatchError,
    ConfigError,
    CxkitError,
    ModelError,
    ParameterError,
    QuarantineWarning,
    SchemaError,
    SmallSampleWarning,
    SourceError,
)
from cxkit.guardrails import (
    adjust_pvalues,
    compare_naive,
    fit_by_segment,
    fit_mediation,
    fit_within,
    placebo_check,
)
from cxkit.importance import driver_importance, importance_performance
from cxkit.io import read_support_data
from cxkit.metrics import (
    channel_mix,
    compute_kpis,
    contact_rate,
    kpi_trend_plot,
    nps,
    reason_mix,
)
from cxkit.models import fit_retention, fit_revenue
from cxkit.outcomes import build_survival
from cxkit.panel import build_panel
from cxkit.plots import forest_plot, km_plot, quadrant_plot, set_theme
from cxkit.report import write_results
from cxkit.schema import describe_schema
from cxkit.survival import fit_churn_timing, kaplan_meier, ph_test
from cxkit.synth import make_sample
from cxkit.validate import describe_quality
from cxkit.whatif import what_if

__all__ = sorted(
    name for name, value in globals().items()
    if not name.startswith("_") and not isinstance(value, _types.ModuleType)
    and name not in ("version", "PackageNotFoundError", "annotations")
) + ["__version__"]
