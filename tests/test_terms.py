"""Tests of cxkit.terms: the whitelist of drivers and controls (nothing is ever evaluated)."""

import numpy as np
import pytest

from cxkit.exceptions import ParameterError
from cxkit.models import fit_retention
from cxkit.terms import Term, parse_term, parse_terms


@pytest.mark.parametrize("text, expected", [
    ("resolution_hours_mean", Term("resolution_hours_mean", "resolution_hours_mean")),
    ("log(resolution_hours_mean)",
     Term("log(resolution_hours_mean)", "resolution_hours_mean", "transform", "log")),
    (" np.log1p( tenure_months ) ",
     Term("np.log1p(tenure_months)", "tenure_months", "transform", "log1p")),
    ("sqrt(x)", Term("sqrt(x)", "x", "transform", "sqrt")),
    ("x >= 4", Term("x >= 4", "x", "threshold", ">=", 4.0)),
    ("x<-1.5", Term("x < -1.5", "x", "threshold", "<", -1.5)),
    ("x > 0", Term("x > 0", "x", "threshold", ">", 0.0)),
    ("x <= 2", Term("x <= 2", "x", "threshold", "<=", 2.0)),
])
def test_allowed_driver_forms(text, expected):
    assert parse_term(text) == expected


def test_categorical_controls():
    assert parse_term("C(plan)", role="control") == Term("C(plan)", "plan", "categorical")
    ref = parse_term('C(plan, Treatment(reference="pro"))', role="control")
    assert ref == Term("C(plan, Treatment(reference='pro'))", "plan", "categorical", None, "pro")
    assert parse_term("C(plan, Treatment('pro'))", role="control").value == "pro"
    with pytest.raises(ParameterError, match="put it in controls"):
        parse_term("C(plan)")


@pytest.mark.parametrize("text", [
    "np.savetxt('hacked.txt', [1])", "__import__('os').system('echo hi')", "x.real", "x[0]",
    "x + 1", "log(x, 2)", "log(x + 1)", "lambda: 1", "C(x, Sum)", "C(x, Treatment(1, 2))",
    "np.exp(x)", "os.log(x)", "1 < x < 3", "x >= y", "x >= '4'", "x >= True", "", "f(x)",
    "open('x')", "I(x ** 2)",
])
def test_anything_else_is_refused(text):
    with pytest.raises(ParameterError):
        parse_term(text, role="control")


def test_duplicates_and_non_strings_are_refused():
    with pytest.raises(ParameterError, match="given twice"):
        parse_terms(["fcr_rate", "fcr_rate "])
    with pytest.raises(ParameterError, match="non-empty string"):
        parse_terms([3])


def test_an_injected_control_is_never_executed(panel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for control in ("np.savetxt('hacked.txt', [1])",
                    "C(plan, Treatment(reference=np.savetxt('hacked.txt', [1])))"):
        with pytest.raises(ParameterError, match="not allowed|Treatment"):
            fit_retention(panel, drivers=["fcr_rate"], controls=["C(plan)", control])
    with pytest.raises(ParameterError, match="not allowed"):
        fit_retention(panel, drivers=["np.savetxt('hacked.txt', [1])"])
    assert list(tmp_path.iterdir()) == []


def test_transforms_and_slopes():
    x = np.array([0.5, 1.0, 4.0])
    log = parse_term("log(x)")
    np.testing.assert_allclose(log.apply(x), np.log(x))
    np.testing.assert_allclose(log.slope(x), 1 / x)
    np.testing.assert_allclose(parse_term("sqrt(x)").slope(x), 0.5 / np.sqrt(x))
    np.testing.assert_allclose(parse_term("log1p(x)").slope(x), 1 / (1 + x))
    np.testing.assert_array_equal(parse_term("x >= 1").apply(x), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(log.invalid(np.array([1.0, 0.0, -1.0, np.nan])),
                                  [False, True, True, False])
