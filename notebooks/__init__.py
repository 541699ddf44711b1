"""The report notebooks, shipped inside the package as ``cxkit.notebooks`` (package data).

Found with :func:`cxkit._package_data.notebooks_dir`; edit the ``.ipynb`` files here.
"""
