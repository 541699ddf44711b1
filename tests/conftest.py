"""Fixtures shared by several test modules."""

import os

# one BLAS thread: small least-squares fits run ~50x slower when threads contend on a busy
# machine (set before numpy is first imported)
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import warnings  # noqa: E402

import pytest  # noqa: E402
from toy_data import toy_panel  # noqa: E402

import cxkit as cx  # noqa: E402


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
