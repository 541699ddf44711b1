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
    "MissingDataError",
    "ModelError",
    "ParameterError",
    "ResourceError",
    "BatchError",
    "ResourceError",
    "QuarantineWarning",
    "SmallSampleWarning",
]


class CxkitError(Exception):
    """Base class of every error cxkit raises on purpose."""


class ConfigError(CxkitError, ValueError):
    """A source or run config (a YAML file) is malformed: unknown key, wrong type, missing path."""


class SourceError(CxkitError, OSError):
    """An input file or table cannot be read (missing, unreadable, empty glob)."""


class SchemaError(CxkitError, ValueError):
    """A structural problem: a required column is missing or cannot be parsed."""


class MissingDataError(SchemaError):
    """The data lack a table or column an analysis needs; the message says how to add it.

    Notebook-facing functions turn it into a :class:`~cxkit.availability.Missing`
    note (see :func:`cxkit.availability.adapts`).
    """


class ModelError(CxkitError, ValueError):
    """The data cannot identify the model (too few events, separation, collinearity, a
    column the panel lacks, non-convergence)."""


class ParameterError(CxkitError, ValueError):
    """A function argument or notebook parameter has a value cxkit cannot use (an unknown
    ``method`` or ``design``, a driver outside the whitelist, a wrong type)."""


class BatchError(CxkitError, RuntimeError):
    """One or more runs of a batch failed."""


class QuarantineWarning(UserWarning):
    """Rows failed a validation rule and were set aside (see ``SupportData.quality``)."""


class SmallSampleWarning(UserWarning):
    """An estimate rests on fewer observations or events than it should."""


class ResourceError(CxkitError, OSError):
    """The machine refused: no memory left, a full disk, a read-only or forbidden folder."""

    @classmethod
    def from_os_error(cls, exc: OSError, *, path, doing: str, fix: str = "") -> ResourceError:
        """One line naming the path, what failed and what to do, from an ``OSError``.

        Parameters
        ----------
        exc : OSError
            The operating system's error (its ``errno`` is kept).
        path : str or Path
            The file or folder cxkit was writing or reading.
        doing : str
            What cxkit was doing, e.g. ``"create the run folder"``.
        fix : str, optional
            What to do instead of the generic advice for the error.
        """
        import errno

        reasons = {
            errno.ENOSPC: ("the disk is full", "free some space on it, or choose a folder on "
                           "another disk"),
            errno.EDQUOT: ("the disk quota is used up", "free some space, or choose another "
                           "folder"),
            errno.EROFS: ("the file system is read-only", "choose a writable folder"),
            errno.EACCES: ("permission denied", "give this user write permission on it, or "
                           "choose another folder"),
            errno.EPERM: ("operation not permitted", "give this user write permission on it, "
                          "or choose another folder"),
        }
        reason, advice = reasons.get(exc.errno, (exc.strerror or str(exc), "check the folder"))
        error = cls(f"could not {doing} at '{path}': {reason}; {fix or advice}.")
        error.errno = exc.errno
        return error
