"""Keep a long session below the kernel's cap on memory mappings of compiled XLA code.

Every executable that JAX compiles for the CPU lives in memory mappings of its own (about ten
per small kernel: code, read-only data, data), released only when JAX's caches drop the
executable. Linux caps the mappings of one process (``/proc/sys/vm/max_map_count``, 65530 by
default), and a process that reaches the cap does not get an error: XLA's compiler crashes
with a segmentation fault at its next compilation (or its next load from the on-disk cache).
A notebook, a sweep or a test session that compiles many network shapes in one process gets
there (the vmc test suite adds about 2000 mappings per minute).

:func:`release_compiled_code` runs before every vmc ``solve`` and ``evolve``: when the process
holds more than ``MAP_FRACTION`` of the cap it clears JAX's caches of compiled functions (the
next call of a function compiles it again) and says so in a warning. Elsewhere than Linux it
does nothing.
"""

from __future__ import annotations

import gc
import warnings

import jax

__all__ = ["MAP_FRACTION", "map_usage", "release_compiled_code"]

MAP_FRACTION = 0.6
"""Fraction of ``vm.max_map_count`` above which JAX's compiled functions are released."""


def map_usage() -> tuple[int, int] | None:
    """``(mappings of this process, the kernel's cap)``, or None where ``/proc`` has neither."""
    try:
        with open("/proc/sys/vm/max_map_count") as f:
            cap = int(f.read())
        with open("/proc/self/maps", "rb") as f:
            used = sum(1 for _ in f)
    except (OSError, ValueError):
        return None
    return used, cap


def release_compiled_code(fraction: float = MAP_FRACTION) -> bool:
    """Clear JAX's compiled functions if this process holds more than ``fraction`` of the cap.

    Parameters
    ----------
    fraction : float
        Threshold as a fraction of ``vm.max_map_count`` (0 releases unconditionally on Linux).

    Returns
    -------
    bool
        Whether the caches were cleared.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}")
    usage = map_usage()
    if usage is None or usage[0] < fraction * usage[1]:
        return False
    jax.clear_caches()
    gc.collect()
    if fraction > 0:
        warnings.warn(
            f"this process held {usage[0]} memory mappings, more than {fraction:.0%} of the "
            f"kernel's cap vm.max_map_count={usage[1]} (mostly compiled XLA code): JAX's compiled "
            "functions were released and will be compiled again when next called",
            RuntimeWarning,
            stacklevel=2,
        )
    return True
