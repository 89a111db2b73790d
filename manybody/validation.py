"""Input checks shared by models and backend options.

Each check returns the normalised value or raises ``ValueError`` naming the
parameter, what is allowed and what was given, before any heavy work starts.

Real numbers must be finite and at most ``MAX_ABS = 1e15`` in magnitude: a
coupling of 1e308 would overflow the squares behind variances and penalties
long after the run started, and no physical parameter or option of this suite
needs more than 15 orders of magnitude.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["MAX_ABS", "check_int", "check_real", "check_choice", "check_bool"]

MAX_ABS = 1e15


def check_int(
    name: str, value, *, minimum: int | None = None, maximum: int | None = None, allow_none: bool = False
) -> int | None:
    """An integer (at least ``minimum``, at most ``maximum``; None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    bound = "" if minimum is None else f" >= {minimum}"
    bound += "" if maximum is None else f"{' and' if bound else ''} <= {maximum}"
    none = " or None" if allow_none else ""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise ValueError(f"{name} must be an integer{bound}{none}, got {value!r}")
    return int(value)


def check_real(
    name: str,
    value,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_none: bool = False,
) -> float | None:
    """A finite real number, ``|value| <= MAX_ABS``, in the interval given by ``low``/``high``
    (open ends when ``*_open``)."""
    if value is None and allow_none:
        return None
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    if ok and abs(value) > MAX_ABS:
        raise ValueError(
            f"{name} = {value!r} is too large in magnitude: at most {MAX_ABS:g} "
            "(larger values overflow energies and variances)"
        )
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low:g}")
        if high is not None:
            bounds.append(f"{'<' if high_open else '<='} {high:g}")
        what = "a finite real number" + (" " + " and ".join(bounds) if bounds else "")
        raise ValueError(f"{name} must be {what}{' or None' if allow_none else ''}, got {value!r}")
    return float(value)


def check_choice(name: str, value, allowed):
    """One of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"{name} must be one of {tuple(allowed)}, got {value!r}")
    return value


def check_bool(name: str, value, *, allow_none: bool = False) -> bool | None:
    """True or False (or None when ``allow_none``)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False{' or None' if allow_none else ''}, got {value!r}")
    return value
