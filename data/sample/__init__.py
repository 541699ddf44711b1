"""The bundled synthetic sample, shipped inside the package as ``cxkit.sample`` (package data).

Found with :func:`cxkit._package_data.sample_config_path`; regenerate with ``make sample``.
"""
