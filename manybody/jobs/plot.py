"""Figures of a sweep: energy and scalar observables against a grid axis
(:func:`plot_sweep`), or an observable family (correlations against distance,
fields per link) of every point (:func:`plot_family`).

For a sweep with ``[evolve]``, :func:`plot_evolution` (the default of
``plot_sweep`` when no ``x`` is given) draws each quantity against time, one
curve per point; ``plot_sweep(..., x=AXIS)`` draws the final-time values
against a grid axis, and ``plot_family`` the family at the final time.

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
from manybody.jobs.table import average_rows, error_column, final_estimate, sweep_table

__all__ = ["plot_sweep", "plot_family", "plot_evolution"]

_LABELS = {
    "energy": "E (units of the couplings)",
    "energy_per_site": "E / N (units of the couplings)",
    "variance": r"Var(E) = $\langle H^2\rangle - \langle H\rangle^2$",
    "v_score": r"V-score $N\,\mathrm{Var}(E)/(E - E_\infty)^2$",
}
_NOT_Y = {"backend", "status", "time", "id", "n", "t_final"}
_SERIES = {
    "loschmidt_echo": r"Loschmidt echo $|\langle\psi(0)|\psi(t)\rangle|^2$",
    "entropy": "middle-cut entanglement entropy (nats)",
}


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

    For a sweep with ``[evolve]``: without ``x`` and ``average``, the quantities
    against time (:func:`plot_evolution`); with them, their final-time values.
    """
    from matplotlib.figure import Figure

    store = Store(root)
    index = store.index()
    if index.get("evolve") and x is None and average is None:
        return plot_evolution(root, y=y, output=output, dpi=dpi)
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
        _label_panel(ax, q, descriptions)
        if index.get("evolve"):
            ax.set_title(f"{ax.get_title()} at the final time t = {rows[0].get('t_final'):g}", fontsize=7)
        ax.grid(alpha=0.3)
    panels[0].legend(fontsize=7)
    model = index["model"]["name"]
    panels[-1].set_xlabel(
        f"{x}  (parameter of model {model!r}: units and signs in its docstring)", fontsize=8
    )
    return _finish(fig, index, root, output, "plot.png", dpi)


def _label_panel(ax, q: str, descriptions: dict) -> None:
    if q in _LABELS or q in _SERIES:
        ax.set_ylabel({**_LABELS, **_SERIES}[q], fontsize=8)
    else:
        ax.set_ylabel(q, fontsize=8)
        ax.set_title(descriptions.get(q, ""), fontsize=7)


def _finish(fig, index: dict, root, output, default: str, dpi: int) -> Path:
    """Title the figure with the model's fixed parameters and write it."""
    model = index["model"]["name"]
    fixed = [f"{k}={_compact(v)}" for k, v in index["model"].items() if k != "name"]
    fig.suptitle(f"{model}: " + ", ".join(fixed), fontsize=8)
    output = Path(output) if output is not None else Path(root) / default
    output.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(output, dpi=dpi)
    return output


def plot_evolution(root, y: list[str] | None = None, output=None, dpi: int = 150) -> Path:
    """Plot each quantity of a ``[evolve]`` sweep's finished points against time, one curve
    per point (backend label and grid values); return the figure's path.

    ``y``: ``energy`` (default, with every scalar observable and, where the backend gives
    them, ``loschmidt_echo`` and ``entropy``), or a selection of these.
    """
    import numpy as np
    from matplotlib.figure import Figure

    store = Store(root)
    index = store.index()
    if not index.get("evolve"):
        raise ValueError(f"{root}: not a sweep with [evolve]: use plot_sweep")
    series, corrupt = [], []
    for p in store.points():
        state = store.state(p.id)
        try:
            ev = store.load(p.id) if state == "done" else None
        except (ValueError, OSError):
            ev = None
            state = "corrupt"
        corrupt += [p.id] if state == "corrupt" else []
        if ev is None:
            continue
        quantities = {"energy": (ev.energy.mean, ev.energy.error)}
        quantities.update({k: (e.mean, e.error) for k, e in ev.observables.items() if np.ndim(e.mean) == 1})
        for k in _SERIES:
            if getattr(ev, k) is not None:
                quantities[k] = (getattr(ev, k), None)
        label = ", ".join([p.label] + [f"{k}={v}" for k, v in p.params.items()])
        series.append((label, ev.times, quantities))
    _warn_corrupt(root, corrupt)
    if not series:
        raise ValueError(f"{root}: no finished point to plot")
    available = list(dict.fromkeys(k for _, _, q in series for k in q))
    y = available if y is None else y
    unknown = [q for q in y if q not in available]
    if unknown:
        raise ValueError(f"unknown quantity {unknown} of these evolutions; allowed: {available}")
    descriptions = _describe(store, [q for q in y if q not in _LABELS and q not in _SERIES])
    fig = Figure(figsize=(6.4, 2.6 * len(y) + 0.6), layout="constrained")
    panels = fig.subplots(len(y), 1, sharex=True, squeeze=False)[:, 0]
    for ax, q in zip(panels, y):
        for (label, times, quantities), line in zip(series, itertools.cycle(("-", "--", ":", "-."))):
            if q not in quantities:
                continue
            mean, err = quantities[q]
            err = None if err is None or not np.any(err) else np.asarray(err, dtype=float)
            ax.errorbar(times, np.asarray(mean, dtype=float), yerr=err, linestyle=line, label=label)
        _label_panel(ax, q, descriptions)
        ax.grid(alpha=0.3)
    panels[0].legend(fontsize=6)
    initial = index["evolve"]["initial"]
    panels[-1].set_xlabel(f"t (inverse units of the couplings), from {initial!r}", fontsize=8)
    return _finish(fig, index, root, output, "plot.png", dpi)


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
        if est is not None and p.evolve:
            est = final_estimate(est)  # the family at the final time
        if est is not None and np.ndim(est.mean) == 1:
            label = ", ".join([p.label] + [f"{k}={v}" for k, v in p.params.items()])
            label += f", t={p.evolve['times'][-1]:g}" if p.evolve else ""
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
