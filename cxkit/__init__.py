"""cxkit: from helpdesk exports to retention and revenue effects, with honest uncertainty."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("cxkit")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0"

from cxkit.data import SupportData
from cxkit.exceptions import (
    ConfigError,
    CxkitError,
    ModelError,
    ParameterError,
    QuarantineWarning,
    SchemaError,
    SmallSampleWarning,
    SourceError,
)
from cxkit.schema import describe_schema

__all__ = [
    "__version__",
    "SupportData",
    "describe_schema",
    "CxkitError",
    "ConfigError",
    "SourceError",
    "SchemaError",
    "ModelError",
    "ParameterError",
    "QuarantineWarning",
    "SmallSampleWarning",
]
