"""Tables of a sweep's results: one row per point, as dicts, CSV or aligned text.

Columns: the grid axes, ``backend`` (the label in the sweep file), ``status``,
``energy``, ``energy_error`` (one standard error, 0 where exact),
``energy_per_site``, ``variance`` (``<H^2> - <H>^2``), ``v_score``
(``N Var(E) / (E - E_inf)^2``), each scalar observable and its error
(``<name>_error``), ``time`` (seconds of solve plus observables) and ``id``.
Energies are in the units of the model's couplings.

A point of a sweep with ``[evolve]`` (an ``Evolution``) gives its values at
the *final time*: ``t_final``, ``energy`` and ``energy_error`` (``<H>(t)``),
each scalar observable and its error, ``loschmidt_echo`` and ``entropy``
where the backend gives them, ``time`` and ``id``; the whole time series is
in its folder (``Store(root).load(id)``, plotted by ``manybody plot``).

:func:`average_rows` averages finished rows over one axis (disorder seeds):
each value column becomes the sample mean, ``<name>_sem`` its standard error
``std / sqrt(n)`` over the samples (ddof = 1), and ``n`` the number of samples.
"""

from __future__ import annotations

import csv
import io
import math

import numpy as np

from manybody.jobs.store import Store

__all__ = ["sweep_table", "average_rows", "format_table", "error_column", "final_estimate"]

_KEYS = ("backend", "status", "id", "t_final")  # not averaged (t_final: the same for every point)


def sweep_table(root, include_unfinished: bool = True) -> list[dict]:
    """Rows of the results in ``root`` (points not done have only parameters and status;
    a point whose files do not load has status ``"corrupt"`` and does not stop the others)."""
    store = Store(root)
    index = store.index()
    axes = list(index["axes"])
    rows = []
    for p in store.points():
        state = store.state(p.id)
        if state == "done":
            try:
                res = store.load(p.id)
            except (ValueError, OSError):  # damaged since the cheap check: report, keep the others
                state = "corrupt"
        if state != "done" and not include_unfinished:
            continue
        row = {a: p.params.get(a) for a in axes}
        row.update(backend=p.label, status=state)
        if state == "done":
            row.update(_evolution_values(res) if p.evolve else _result_values(res))
            row["time"] = res.wall_time
        row["id"] = p.id
        rows.append(row)
    return rows


def _result_values(res) -> dict:
    row = {
        "energy": res.energy,
        "energy_error": res.energy_error,
        "energy_per_site": res.energy_per_site,
        "variance": res.variance,
        "v_score": res.v_score,
    }
    for name, est in res.observables.items():
        if np.ndim(est.mean) == 0:
            row[name] = float(est.mean)
            row[f"{name}_error"] = float(est.error)
    return row


def final_estimate(est):
    """The last time of an evolution's ``Estimate`` (whose arrays have the times first)."""
    from manybody.observables import Estimate

    def last(value):
        return None if value is None else np.asarray(value)[-1]

    return Estimate(
        last(est.mean), last(est.error), last(est.variance), est.n_samples, est.axis_name, est.axis
    )


def _evolution_values(ev) -> dict:
    row = {"t_final": float(ev.times[-1])}
    for name, est in {"energy": ev.energy, **ev.observables}.items():
        est = final_estimate(est)
        if np.ndim(est.mean) == 0:
            row[name] = float(est.mean)
            row[f"{name}_error"] = None if est.error is None else float(est.error)
    for name in ("loschmidt_echo", "entropy"):
        series = getattr(ev, name)
        if series is not None:
            row[name] = float(np.asarray(series)[-1])
    return row


def average_rows(rows: list[dict], axes: list[str], over: str) -> list[dict]:
    """Average the finished rows over the grid axis ``over`` (e.g. ``"seed"``), per backend
    and values of the other ``axes`` (see the module docstring)."""
    if over not in axes:
        raise ValueError(f"cannot average over {over!r}: it is not a grid axis, one of {axes}")
    others = [a for a in axes if a != over]
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        if r.get("status") == "done":
            groups.setdefault((r["backend"], *(repr(r[a]) for a in others)), []).append(r)
    out = []
    for members in groups.values():
        row = {a: members[0][a] for a in others}
        row.update(backend=members[0]["backend"], n=len(members))
        if "t_final" in members[0]:
            row["t_final"] = members[0]["t_final"]
        columns = [k for k in _columns(members) if k not in (*_KEYS, *axes) and not k.endswith("_error")]
        for k in columns:
            data = np.array([m[k] for m in members if m.get(k) is not None], dtype=float)
            if data.size == 0:
                continue
            row[k] = float(data.mean())
            if k != "time":
                row[f"{k}_sem"] = float(data.std(ddof=1) / np.sqrt(data.size)) if data.size > 1 else None
        out.append(row)
    return out


def error_column(row: dict, name: str) -> str | None:
    """The column holding the error bar of ``name`` in a (plain or averaged) row."""
    for key in (f"{name}_sem", f"{name}_error"):
        if key in row:
            return key
    return "energy_error" if name == "energy" and "energy_error" in row else None


def _columns(rows: list[dict]) -> list[str]:
    cols = []
    for row in rows:
        for k in row:
            if k not in cols:
                cols.append(k)
    tail = [c for c in ("time", "id") if c in cols]
    return [c for c in cols if c not in tail] + tail


def _fmt(col: str, value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if col.endswith(("_error", "_sem")) or col in ("variance", "v_score", "time"):
            return f"{value:.3g}"
        return f"{value:.12g}"
    return str(value)


def format_table(rows: list[dict], fmt: str = "text") -> str:
    """``fmt="csv"`` (full precision) or ``"text"`` (aligned columns, rounded errors)."""
    if fmt not in ("csv", "text"):
        raise ValueError(f"fmt must be 'csv' or 'text', got {fmt!r}")
    cols = _columns(rows)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row.get(c) for c in cols})
        return buf.getvalue()
    cells = [[_fmt(c, row.get(c)) for c in cols] for row in rows]
    widths = [max([len(c)] + [len(r[k]) for r in cells]) for k, c in enumerate(cols)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.rjust(w) for v, w in zip(r, widths)).rstrip() for r in cells]
    return "\n".join(lines) + "\n"
