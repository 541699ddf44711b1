"""Benchmarks of cxkit (run ``python -m benchmarks``; figures go to benchmarks/README.md)."""

from pathlib import Path as _Path


def write_readme_block(name: str, text: str) -> None:
    """Replace (or append) the ``<!-- name:start -->`` ... ``:end`` block of README.md."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    readme = _Path(__file__).parent / "README.md"
    old = readme.read_text(encoding="utf-8") if readme.exists() else "# Benchmarks\n"
    block = f"{start}\n{text.rstrip()}\n{end}"
    if start in old and end in old:
        new = old[:old.index(start)] + block + old[old.index(end) + len(end):]
    else:
        new = old.rstrip() + "\n\n" + block + "\n"
    readme.write_text(new, encoding="utf-8")


def machine(*modules: str) -> str:
    """The machine and the versions a benchmark ran with: cores, memory, Python and each of
    ``modules`` (import names, e.g. ``"duckdb"``), for the README's figures."""
    import importlib
    import os
    import platform

    with open("/proc/meminfo") as fh:
        mem_kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal:"))
    versions = "".join(f", {m} {importlib.import_module(m).__version__}" for m in modules)
    return (f"{os.cpu_count()} cores, {mem_kb / 2**20:.1f} GiB memory, Python "
            f"{platform.python_version()}{versions}")

