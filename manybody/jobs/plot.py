"""Figures of a sweep: energy and scalar observables against a grid axis
(:func:`plot_sweep`), or an observable family (correlations against distance,
fields per link) of every point (:func:`plot_family`).

One panel per quantity, one curve per backend (and per value of the other
grid axes), error bars where the estimate has one. Drawn on a bare
``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state, works
headless and inside notebooks); the format follows the file suffix (PNG, PDF,
SVG).
"""

from __future__ import annotations

import itertools
import warnings
from pathlib import Path

from manybody.jobs.store import Store
from manybody.jobs.table import average_rows, error_column, sweep_table

__all__ = ["plot_sweep", "plot_family"]

_LABELS = {
    "energy": "E (units of the couplings)",
    "energy_per_site": "E / N (units of the couplings)",
    "variance": r"Var(E) = $\langle H^2\rangle - \langle H\rangle^2$",
    "v_score": r"V-score $N\,\mathrm{Var}(E)/(E - E_\infty)^2$",
}
_NOT_Y = {"backend", "status", "time", "id", "n"}


def _describe(store: Store, names: list[str]) -> dict[str, str]:
    """Each observable's description (its convention), from the model of the first point."""
    from manybody.model import from_dict

    out = {}
    try:
        model = from_dict(store.points()[0].model)
    except (IndexError, ValueError):
        return out
    for name in names:
        try:
            out[name] = model.observable(name).description
        except Exception:  # noqa: BLE001 - the label falls back to the name
            out[name] = name
    return out


def _warn_corrupt(root, ids: list[str]) -> None:
    if ids:
        warnings.warn(
            f"{len(ids)} point(s) left out, their files do not load: {', '.join(ids)} "
            f"(`manybody status {root}` says why; a rerun recomputes them)",
            stacklevel=3,
        )


def _compact(value) -> str:
    if isinstance(value, dict):
        inner = ", ".join(f"{k}={v}" for k, v in value.items() if k != "kind")
        return f"{value.get('kind', '')}({inner})"
    return str(value)


def plot_sweep(
    root,
    x: str | None = None,
    y: list[str] | None = None,
    output=None,
    average: str | None = None,
    dpi: int = 150,
) -> Path:
    """Plot a results folder; return the path of the written figure.

    Parameters
    ----------
    root : str or Path
        A sweep results folder.
    x : str, optional
        The grid axis on the horizontal axis (default: the first axis with
        more than one value).
    y : list of str, optional
        Quantities to plot (default: ``energy`` and every scalar observable);
        also ``energy_per_site``, ``variance``, ``v_score``.
    output : str or Path, optional
        The figure file (default ``<root>/plot.png``); PNG, PDF or SVG by suffix.
    average : str, optional
        A grid axis to average over (disorder seeds): points show the mean and
        its standard error over that axis (see ``average_rows``).
    """
    from matplotlib.figure import Figure

    store = Store(root)
    index = store.index()
    axes = index["axes"]
    rows = sweep_table(root)
    _warn_corrupt(root, [r["id"] for r in rows if r["status"] == "corrupt"])
    rows = [r for r in rows if r["status"] == "done"]
    if average is not None:
        rows = average_rows(rows, list(axes), average)
        axes = {a: v for a, v in axes.items() if a != average}
    if not rows:
        raise ValueError(f"{root}: no finished point to plot")
    if x is None:
        varying = [a for a, v in axes.items() if len(v) > 1] or list(axes)
        if not varying:
            raise ValueError(f"{root}: the sweep has no grid axis to plot against")
        x = varying[0]
    if x not in axes:
        raise ValueError(f"x must be a grid axis, one of {list(axes)}, got {x!r}")
    if any(isinstance(r[x], (list, dict, str, bool)) for r in rows):
        raise ValueError(f"axis {x!r} is not numeric: choose another x among {list(axes)}")
    available = []
    for r in rows:
        available += [
            k
            for k in r
            if k not in available and k not in _NOT_Y and k not in axes and not k.endswith(("_error", "_sem"))
        ]
    if y is None:
        y = ["energy"] + [k for k in available if k not in _LABELS]
    unknown = [q for q in y if q not in available]
    if unknown:
        raise ValueError(f"unknown quantity {unknown}; allowed: {available}")
    descriptions = _describe(store, [q for q in y if q not in _LABELS])

    others = [a for a in axes if a != x]
    curves: dict[str, list[dict]] = {}
    for r in rows:
        key = ", ".join([r["backend"]] + [f"{a}={r[a]}" for a in others])
        curves.setdefault(key, []).append(r)

    fig = Figure(figsize=(6.4, 2.6 * len(y) + 0.6), layout="constrained")
    panels = fig.subplots(len(y), 1, sharex=True, squeeze=False)[:, 0]
    styles = [(m, ls) for ls in ("-", "--", ":", "-.") for m in ("o", "s", "^", "D", "v", "x")]
    for ax, q in zip(panels, y):
        for (key, pts), (marker, line) in zip(curves.items(), itertools.cycle(styles)):
            pts = sorted((p for p in pts if p.get(q) is not None), key=lambda p: p[x])
            if not pts:
                continue
            err_key = error_column(pts[0], q)
            err = [p.get(err_key) or 0.0 for p in pts] if err_key else None
            ax.errorbar(
                [p[x] for p in pts],
                [p[q] for p in pts],
                yerr=err if err and any(err) else None,
                marker=marker,
                linestyle=line,
                ms=4,
                mfc="none",
                capsize=2,
                label=key,
            )
        if q in _LABELS:
            ax.set_ylabel(_LABELS[q], fontsize=8)
        else:
            ax.set_ylabel(q, fontsize=8)
            ax.set_title(descriptions.get(q, ""), fontsize=7)
        ax.grid(alpha=0.3)
    panels[0].legend(fontsize=7)
    model = index["model"]["name"]
    panels[-1].set_xlabel(
        f"{x}  (parameter of model {model!r}: units and signs in its docstring)", fontsize=8
    )
    fixed = [f"{k}={_compact(v)}" for k, v in index["model"].items() if k != "name"]
    fig.suptitle(f"{model}: " + ", ".join(fixed), fontsize=8)
    output = Path(output) if output is not None else Path(root) / "plot.png"
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    return output


def plot_family(root, name: str, output=None, dpi: int = 150) -> Path:
    """Plot the observable family ``name`` (e.g. ``spin_correlations``) of every finished
    point against the family's axis, one curve per point; return the figure's path."""
    import numpy as np
    from matplotlib.figure import Figure

    store = Store(root)
    curves, corrupt = [], []
    for p in store.points():
        if store.state(p.id) != "done":
            corrupt += [p.id] if store.state(p.id) == "corrupt" else []
            continue
        try:
            est = store.load(p.id).observables.get(name)
        except (ValueError, OSError):
            corrupt.append(p.id)
            continue
        if est is not None and np.ndim(est.mean) == 1:
            label = ", ".join([p.label] + [f"{k}={v}" for k, v in p.params.items()])
            curves.append((label, est))
    _warn_corrupt(root, corrupt)
    if not curves:
        raise ValueError(f"{root}: no finished point has the observable family {name!r}")
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    first = curves[0][1]
    numeric = first.axis is not None and np.ndim(first.axis) == 1
    for (label, est), marker in zip(curves, itertools.cycle("osD^vx")):
        x = np.asarray(est.axis, dtype=float) if numeric else np.arange(np.size(est.mean))
        err = np.asarray(est.error, dtype=float)
        ax.errorbar(
            x, est.mean, yerr=err if np.any(err) else None, marker=marker, ms=4, mfc="none", label=label
        )
    ax.set_xlabel(first.axis_name if numeric else f"{first.axis_name or 'component'} (index)", fontsize=8)
    ax.set_ylabel(name, fontsize=8)
    ax.set_title(_describe(store, [name]).get(name, ""), fontsize=7)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    output = Path(output) if output is not None else Path(root) / f"{name}.png"
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    return output
