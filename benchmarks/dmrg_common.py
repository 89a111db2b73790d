"""Shared runners of the DMRG benchmarks (``dmrg_heisenberg.py``, ``dmrg_hubbard.py``).

Every runner does two-site DMRG with one bond dimension per sweep (a sweep is
there and back; quimb's one-direction sweeps are paired) and returns the
per-sweep energies and times since the start of the call (model and MPO
construction included), so that the time to reach a target accuracy can be
read off afterwards against a common reference.

On a shared machine the wall clock counts other users' work. Inside
:func:`cpu_clock` every clock these runs read (this module's, TeNPy's DMRG
sweep statistics, manybody's engines) is the process CPU time instead: with one
BLAS thread that is the work each code does, whatever the load.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import time

import numpy as np

_CLOCK_USERS = [
    __name__,
    "tenpy.algorithms.dmrg",
    "tenpy.algorithms.mps_common",
    "manybody.tensornet.dmrg",
    "manybody.tensornet.tenpy_dmrg",
    "manybody.tensornet.quimb_dmrg",
]


class _ProcessClock:
    """The ``time`` module with ``time()`` and ``perf_counter()`` reading the process CPU time."""

    perf_counter = staticmethod(time.process_time)
    time = perf_counter

    def __getattr__(self, name):
        return getattr(time, name)


@contextlib.contextmanager
def cpu_clock():
    """Make the runs' clocks read process CPU time (see the module docstring)."""
    modules = [importlib.import_module(m) for m in _CLOCK_USERS]
    saved = [m.time for m in modules]
    for m in modules:
        m.time = _ProcessClock()
    try:
        yield
    finally:
        for m, t in zip(modules, saved):
            m.time = t


_wall = time.perf_counter  # bound before cpu_clock() patches this module's ``time``
_strftime, _gmtime = time.strftime, time.gmtime


def _utc_now() -> str:
    return _strftime("%Y-%m-%d %H:%M UTC", _gmtime())


def time_to(run, e_ref, target):
    """Seconds until the run's energy is within ``target`` of ``e_ref`` (None if never)."""
    for t, e in zip(run["times"], run["energies"]):
        if abs(e - e_ref) < target:
            return float(t)
    return None


def run_manybody(model, chis, **options):
    """``mb.solve(model, backend="dmrg", bond_dims=chis, **options)``; per-sweep trace."""
    import manybody as mb

    model.problem  # noqa: B018  (OpenFermion model building is not DMRG time)
    start = _wall()
    res = mb.solve(
        model,
        backend="dmrg",
        observables=[],
        bond_dims=list(chis),
        progress=False,
        seed=1,
        variance=False,
        **options,
    )
    wall = _wall() - start
    setup = res.info["setup_time"]  # compilation and initial state, before the first sweep
    return {
        "energies": [float(e) for e in res.history["energy"]],
        "times": [float(t + setup) for t in res.history["time"]],
        "setup_s": float(setup),
        "energy": float(res.energy),
        "wall_s": wall,
        "sweeps": int(res.info["n_sweeps"]),
        "max_bond_dim": int(res.info["max_bond_dim"]),
        "engine": res.info["engine"],
        "mpo_bond_dim": int(res.info["mpo_bond_dim_with_penalty"]),
    }


def run_quimb_dmrg2(mpo, chis, tol, max_sweeps=40):
    """Raw quimb ``DMRG2`` (its default local solver and split), one bond dimension per pair of
    one-direction sweeps, stopped when a pair changes the energy by less than ``tol``."""
    import quimb.tensor as qtn

    wall = _wall()
    start = time.perf_counter()
    dmrg = qtn.DMRG2(mpo, bond_dims=[c for c in chis for _ in range(2)], cutoffs=1e-12)
    energies, times = [], []
    for k in range(max_sweeps):
        chi = chis[min(k, len(chis) - 1)]
        for direction in "RL":
            dmrg.sweep(direction, canonize=k == 0 and direction == "R", max_bond=chi, cutoff=1e-12)
        energies.append(float(np.real(dmrg.local_energies[-1][-1])))
        times.append(time.perf_counter() - start)
        if k >= len(chis) and abs(energies[-1] - energies[-2]) < tol:
            break
    return {
        "energies": energies,
        "times": times,
        "energy": energies[-1],
        "wall_s": _wall() - wall,
        "sweeps": len(energies),
        "max_bond_dim": int(dmrg.state.max_bond()),
    }


def run_tenpy(model, product_state, chis, tol, mixer=True):
    """TeNPy ``TwoSiteDMRGEngine`` on a TeNPy model from a product state (as in TeNPy's examples)."""
    from tenpy.algorithms import dmrg
    from tenpy.networks.mps import MPS

    wall = _wall()
    start = time.perf_counter()
    psi = MPS.from_product_state(model.lat.mps_sites(), product_state, bc="finite")
    params = {
        "mixer": mixer,
        "chi_list": {k: c for k, c in enumerate(chis)},
        "trunc_params": {"chi_max": chis[-1], "svd_min": 1e-10},
        "max_E_err": tol,
        "max_sweeps": 40,
    }
    engine = dmrg.TwoSiteDMRGEngine(psi, model, params)
    setup = time.perf_counter() - start
    energy, _ = engine.run()
    stats = engine.sweep_stats
    return {
        "energies": [float(e) for e in stats["E"]],
        "times": [setup + float(t) for t in stats["time"]],
        "energy": float(energy),
        "wall_s": _wall() - wall,
        "sweeps": len(stats["E"]),
        "max_bond_dim": int(max(psi.chi)),
    }


def report(runs, e_ref, target, baselines, ours):
    """Times to ``target``, errors and ratios ``ours / baseline``; prints a table."""
    table = {}
    for name, r in runs.items():
        t = r["time_to_target_s"] = time_to(r, e_ref, target)
        r["error"] = r["energy"] - e_ref
        table[name] = t
        print(
            f"{name:24s} E={r['energy']:.12f} err={r['error']:+.1e} to {target:g}: "
            f"{'never' if t is None else f'{t:8.1f} s'}  total {r['times'][-1]:8.1f} s  "
            f"wall {r['wall_s']:8.1f} s  chi {r['max_bond_dim']}",
            flush=True,
        )
    ratios = {}
    for a in ours:
        for b in baselines:
            ta, tb = table.get(a), table.get(b)
            ratios[f"{a}/{b}"] = None if ta is None or tb is None else ta / tb
            print(f"ratio {a}/{b}: {ratios[f'{a}/{b}']}")
    return ratios


def save_figures(path, fields: dict, runs: dict, ratios: dict, load_before) -> dict:
    """The figures of one benchmark run with its provenance (clock, load, date); written to ``path`` as JSON if given."""
    out = {
        **fields,
        "blas_threads": 1,
        "clock": "process CPU time (one BLAS thread), see benchmarks/dmrg_common.py",
        "load_average_before_after": [load_before, os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "date": _utc_now(),
        "runs": runs,
        "ratios": ratios,
    }
    if path:
        with open(path, "w") as f:
            json.dump(out, f, indent=1)
    return out
