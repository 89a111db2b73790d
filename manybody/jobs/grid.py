"""The parameter grid of a sweep file: axes, ranges, zip and product.

``[grid]`` maps axis names (model parameters, or quoted dotted names such as
``"lattice.L"`` for nested ones) to a list of values or a range table; the
reserved key ``zip`` lists groups of axes that vary together (equal
lengths). Groups are combined by a product, in the order the axes are
written, the last varying fastest.
"""

from __future__ import annotations

import copy
import itertools
import math

__all__ = ["RANGE_KEYS", "check_keys", "axis_values", "parse_grid", "combinations", "model_kwargs"]

RANGE_KEYS = {"start", "stop", "num", "step"}


def check_keys(fail, table: dict, allowed, where: str):
    """``fail`` naming the keys of ``table`` that are not ``allowed``."""
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        fail(f"unknown key(s) {unknown} in {where}; allowed: {sorted(allowed)}")


def axis_values(fail, key: str, spec, table: str = "[grid]") -> list:
    """The values of one axis: a list, or a range table ``{start, stop, num}`` (inclusive
    linspace) or ``{start, stop, step}`` (like Python's range: stop excluded; integers stay
    integers). Floats are rounded to 12 decimals so that ids and labels are clean. ``table``
    names the table of ``key`` in error messages."""
    if isinstance(spec, list):
        values = spec
    elif isinstance(spec, dict):
        check_keys(fail, spec, RANGE_KEYS, f"{table} {key} (a range)")
        if "start" not in spec or "stop" not in spec or ("num" in spec and "step" in spec):
            fail(f"{table} {key}: a range needs start, stop and at most one of num (linspace) or step")
        start, stop = spec["start"], spec["stop"]
        for k in ("start", "stop", "step"):
            v = spec.get(k, 1)
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                fail(f"{table} {key}.{k} must be a number, got {v!r}")
        if "num" in spec:
            num = spec["num"]
            if isinstance(num, bool) or not isinstance(num, int) or num < 0:
                fail(f"{table} {key}.num must be a non-negative integer, got {num!r}")
            values = [round(start + (stop - start) * k / max(num - 1, 1), 12) for k in range(num)]
        else:
            step = spec.get("step", 1)
            if step == 0:
                fail(f"{table} {key}.step must be nonzero")
            n = max(math.ceil((stop - start) / step - 1e-9), 0)
            values = [start + k * step for k in range(n)]
            if not all(isinstance(v, int) for v in (start, stop, step)):
                values = [round(float(v), 12) for v in values]
    else:
        fail(
            f"{table} {key} must be a list of values or a range table {{start, stop, num|step}}, got {spec!r}"
        )
    if not values:
        fail(f"{table} {key} is empty: give at least one value")
    return values


def parse_grid(fail, table, model: dict, parameters: list[str]):
    """Axes (name -> values) and their groups (zipped axes together) of a ``[grid]`` table."""
    if table is None:
        return {}, []
    if not isinstance(table, dict):
        fail(f"[grid] must be a table of axes, got {table!r}")
    zips = table.get("zip", [])
    axes = {}
    for key, spec in table.items():
        if key == "zip":
            continue
        if isinstance(spec, dict) and not set(spec) & RANGE_KEYS:
            fail(
                f'[grid] {key} is a table: for a nested parameter write a quoted key, e.g. "{key}.L" = [...]'
            )
        root = key.split(".")[0]
        if root == "name" or root not in parameters:
            fail(
                f"[grid] {key}: {root!r} is not a parameter of model {model['name']!r}; allowed: {parameters}"
            )
        if "." in key and not isinstance(model.get(root), dict):
            fail(f"[grid] {key}: the nested axis needs [model] {root} to be a table")
        if key in model and "." not in key:
            fail(f"[grid] {key} is also fixed in [model]: keep it in one place")
        axes[key] = axis_values(fail, key, spec)
    if not axes:
        fail("[grid] has no axes: give at least one axis, or remove [grid] for a single point")
    if not isinstance(zips, list) or not all(
        isinstance(z, list) and all(isinstance(a, str) for a in z) for z in zips
    ):
        fail(f'[grid] zip must be a list of lists of axis names, e.g. [["J2", "h"]], got {zips!r}')
    groups, used = [], set()
    for z in zips:
        for a in z:
            if a not in axes:
                fail(f"[grid] zip: unknown axis {a!r}; axes: {list(axes)}")
            if a in used:
                fail(f"[grid] zip: axis {a!r} appears in several zip groups")
            used.add(a)
        lengths = {a: len(axes[a]) for a in z}
        if len(set(lengths.values())) > 1:
            fail(f"[grid] zip: axes zipped together need equal lengths, got {lengths}")
        if z:
            groups.append(list(z))
    for a in axes:
        if a not in used:
            groups.append([a])
    order = list(axes)
    groups.sort(key=lambda g: order.index(g[0]))
    return axes, groups


def combinations(axes: dict, groups: list) -> list[tuple[list[int], dict]]:
    """``(index, params)`` of every grid point: the product over groups, zipped within a group
    (the last group varies fastest). No axes: one point with no parameters."""
    out = []
    for idx in itertools.product(*(range(len(axes[g[0]])) for g in groups)):
        out.append((list(idx), {a: axes[a][i] for g, i in zip(groups, idx) for a in g}))
    return out


def model_kwargs(model: dict, params: dict) -> dict:
    """The fixed ``[model]`` parameters (without ``name``) updated with a point's grid values
    (a dotted axis ``"lattice.L"`` sets a nested entry)."""
    out = copy.deepcopy({k: v for k, v in model.items() if k != "name"})
    for key, value in params.items():
        *path, last = key.split(".")
        node = out
        for p in path:
            node = node[p]
        node[last] = value
    return out
