"""The public API: every exported name resolves, and ``import cxkit`` stays light."""

from __future__ import annotations

import json
import subprocess
import sys

import cxkit


def test_every_public_name_resolves_to_its_defining_module():
    for name in cxkit.__all__:
        value = getattr(cxkit, name)
        if name != "__version__":
            assert value.__module__.startswith("cxkit."), name
    assert cxkit.metrics.compute_kpis is cxkit.compute_kpis  # submodules as attributes


def test_unknown_name_is_an_attribute_error():
    try:
        cxkit.fit_everything  # noqa: B018
    except AttributeError as exc:
        assert "fit_everything" in str(exc)
    else:
        raise AssertionError("cxkit.fit_everything should not exist")


def test_import_cxkit_does_not_load_the_heavy_libraries():
    code = ("import sys, json, cxkit; print(json.dumps(sorted(m for m in "
            "('statsmodels', 'matplotlib', 'duckdb', 'scipy', 'pandas') if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []
