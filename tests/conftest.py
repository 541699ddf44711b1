"""Fixtures shared by several test modules."""

import pytest
from toy_data import toy_panel


@pytest.fixture(scope="module")
def panel():
    """The simulated panel of :func:`toy_data.toy_panel` (a module may define its own)."""
    return toy_panel()
