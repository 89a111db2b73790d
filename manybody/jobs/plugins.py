"""Plugin files: Python files named in a sweep's ``plugins`` list, imported before
validation (and in every worker) so that they can register models
(subclasses of ``manybody.model.Model``) and backends (``manybody.register_backend``)."""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

__all__ = ["load_plugins"]


def load_plugins(paths) -> None:
    """Import each file once per process (by its absolute path)."""
    for path in paths:
        path = Path(path).resolve()
        name = "manybody_plugin_" + hashlib.sha1(str(path).encode()).hexdigest()[:12]
        if name in sys.modules:
            continue
        if not path.is_file():
            raise FileNotFoundError(f"plugin file {str(path)!r} does not exist")
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
