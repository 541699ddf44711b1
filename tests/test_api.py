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
            "('statsmodels', 'matplotlib', 'duckdb', 'scipy', 'pandas', 'ibis') "
            "if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_type_checking_imports_match_the_lazy_map():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(cxkit.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If)
                 and getattr(n.test, "id", None) == "TYPE_CHECKING")
    imported = {a.name: node.module.split(".")[1] for node in block.body
                for a in node.names}
    assert imported == cxkit._LAZY  # the two lists name the same functions and modules
