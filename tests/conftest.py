"""Fixtures shared by several test modules."""

import warnings

import pytest
from toy_data import toy_panel

import cxkit as cx


@pytest.fixture(scope="module")
def panel():
    """The simulated panel of :func:`toy_data.toy_panel` (a module may define its own)."""
    return toy_panel()


@pytest.fixture(scope="session")
def sample():
    """A generated sample (1,500 customers, 12 months) and its monthly panel."""
    data, _ = cx.make_sample(n_customers=1500, months=12, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = cx.build_panel(data)
    return data, panel
