"""Pseudonymised customer ids: a keyed hash applied when the exports are read.

With ``pseudonymise: true`` in the source config, :func:`cxkit.io.read_support_data`
replaces every ``customer_id`` of every table (quarantined rows included) by
``"p"`` + the first 20 hex digits of HMAC-SHA256(key, id), before validation, so
nothing downstream (tables, panels, caches, quarantine files, reports) sees a
real id. The key is read from an environment variable (``CXKIT_PSEUDONYM_KEY``
unless ``pseudonymise: {key_env: NAME}`` names another), never from the
config; the same key gives the same pseudonyms in every run, so tables still
join and runs can be compared. Without the key the ids cannot be recovered.
"""

from __future__ import annotations

import hashlib
import hmac
import os

import pandas as pd

from cxkit.exceptions import ConfigError

__all__ = ["pseudonym_key", "pseudonymise_ids"]

MIN_KEY_CHARS = 16


def pseudonym_key(env: str) -> bytes:
    """The pseudonymisation key from environment variable ``env``.

    Raises
    ------
    ConfigError
        When the variable is unset or shorter than 16 characters.
    """
    value = os.environ.get(env, "")
    if len(value) < MIN_KEY_CHARS:
        state = "is not set" if not value else f"holds fewer than {MIN_KEY_CHARS} characters"
        raise ConfigError(f"pseudonymise: the environment variable {env} {state}; set it to a "
                          f"secret of at least {MIN_KEY_CHARS} characters (kept out of the "
                          "config and the repository; the same key gives the same pseudonyms).")
    return value.encode("utf-8")


def pseudonymise_ids(ids: pd.Series, *, key: bytes) -> pd.Series:
    """Keyed hash of each id (``"p"`` + 20 hex digits); missing ids stay missing.

    Examples
    --------
    >>> pseudonymise_ids(pd.Series(["C1", None, "C1"]), key=b"0123456789abcdef").tolist()
    ['p9847d1d4a07bd1e7c7f3', None, 'p9847d1d4a07bd1e7c7f3']
    """
    present = ids.dropna()
    mapping = {v: "p" + hmac.new(key, str(v).encode("utf-8"), hashlib.sha256).hexdigest()[:20]
               for v in pd.unique(present)}
    out = ids.astype(object).map(mapping)
    return out.where(ids.notna(), None)
