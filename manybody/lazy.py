"""Lazy attributes for backend packages (PEP 562), so that ``import manybody.vmc`` stays light."""

from __future__ import annotations

import importlib

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, names: dict[str, str]):
    """``(__getattr__, __dir__)`` for a package whose attribute ``name`` lives in module ``names[name]``.

    Each module is imported on first access of one of its names.
    """

    def __getattr__(name):
        if name not in names:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(names[name]), name)

    def __dir__():
        return sorted(names)

    return __getattr__, __dir__
