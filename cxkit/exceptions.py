"""Errors and warnings raised by cxkit.

Every error derives from :class:`CxkitError` and also from the builtin it
refines, so ``except ValueError`` keeps working. Messages name the file, the
column, a few offending values and what to do; the command line prints the
message alone, without a traceback.
"""

from __future__ import annotations

__all__ = [
    "CxkitError",
    "ConfigError",
    "SourceError",
    "SchemaError",
    "ModelError",
    "ParameterError",
    "BatchError",
    "QuarantineWarning",
    "SmallSampleWarning",
]


class CxkitError(Exception):
    """Base class of every error cxkit raises on purpose."""


class ConfigError(CxkitError, ValueError):
    """A source or run config is malformed (unknown key, wrong type, missing path)."""


class SourceError(CxkitError, OSError):
    """An input file or table cannot be read (missing, unreadable, empty glob)."""


class SchemaError(CxkitError, ValueError):
    """A structural problem: a required column is missing or cannot be parsed."""


class ModelError(CxkitError, ValueError):
    """A model cannot be fitted as asked (too few events, separation, collinearity...)."""


class ParameterError(CxkitError, ValueError):
    """A notebook parameter is unknown to the notebook or has the wrong type."""


class BatchError(CxkitError, RuntimeError):
    """One or more runs of a batch failed."""


class QuarantineWarning(UserWarning):
    """Rows failed a validation rule and were set aside (see ``SupportData.quality``)."""


class SmallSampleWarning(UserWarning):
    """An estimate rests on fewer observations or events than it should."""
