"""Time-dependent VMC against the exact (Krylov) and MPS (TDVP) evolutions, one process.

Quench of the open Heisenberg chain of L spins-1/2 (``H = J sum S_i . S_{i+1}``,
J = 1) from the Neel state, or of the Schwinger model (``--model schwinger``,
N sites, x = 1, mu = 0.5) from the bare vacuum, to ``--t-max``, observed at
``--n-times`` equally spaced times with the three backends of ``mb.evolve``:

* ``exact``: Krylov action of ``exp(-i H dt)`` on the sector (the reference);
* ``dmrg``: TeNPy TDVP on the charged MPS (``chi_max`` above the largest
  useful bond dimension, so exact up to the integrator);
* ``vmc``: NetKet's TDVP driver on the autoregressive transformer (the
  backend's default evolution options unless given with ``--vmc KEY=VALUE``).

Reported per backend: wall and process CPU seconds, the largest difference to
exact over all times of ``<S^z_i>`` on every site (Heisenberg) or of the
electric field on every link (Schwinger), the largest energy drift
``|<H>(t) - <H>(0)|``, the Monte Carlo error bars, and for vmc the integrator's
steps, mean step, samples and the initial fidelity, and (Heisenberg) ``<H>`` and
``<S^z_i>`` of the final network summed exactly over all configurations (the
TDVP error without the evaluation's sampling noise); for Schwinger the Gauss
violation. Run::

    python benchmarks/tdvp_vmc.py --L 10 --t-max 1 --vmc n_eval_samples=32768 \
        --json benchmarks/results/tdvp_vmc_L10_cpu2.json

Not a test: the figures depend on the machine and its load (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def problem(kind: str, n: int):
    """``(model, initial, observables, name of the compared family)``."""
    import manybody as mb
    from manybody.lattice import Chain
    from manybody.models import Heisenberg, Schwinger
    from manybody.operators import of

    if kind == "heisenberg":
        obs = [mb.Observable(f"sz_{i}", 0.5 * of().QubitOperator(f"Z{i}")) for i in range(n)]
        return Heisenberg(Chain(n)), "neel", obs
    return Schwinger(n, x=1.0, mu=0.5), "vacuum", ["electric_field", "gauss_violation"]


def observed(ev, kind: str) -> np.ndarray:
    """(times, quantities) compared between backends."""
    if kind == "heisenberg":
        return np.stack([np.asarray(ev.observables[k].mean) for k in ev.observables], axis=1)
    return np.asarray(ev.observables["electric_field"].mean)


def run(backend: str, kind: str, n: int, times, options: dict) -> dict:
    import manybody as mb

    model, initial, obs = problem(kind, n)
    wall, cpu = time.perf_counter(), time.process_time()
    ev = mb.evolve(model, initial, times, backend=backend, observables=obs, **options)
    out = {
        "wall_seconds": time.perf_counter() - wall,
        "cpu_seconds": time.process_time() - cpu,
        "energy": ev.energy.mean.tolist(),
        "energy_error": np.asarray(ev.energy.error).tolist(),
        "observed": observed(ev, kind).tolist(),
        "info": ev.info,
    }
    if kind == "schwinger":
        out["gauss_violation"] = np.asarray(ev.observables["gauss_violation"].mean).tolist()
    if backend == "vmc":
        errors = [np.asarray(e.error) for k, e in ev.observables.items() if k != "gauss_violation"]
        out["max_standard_error"] = float(max(np.max(e) for e in errors))
        if kind == "heisenberg":
            out["final_network_exact"] = network_exact(model, ev.state)
    return out


def network_exact(model, state) -> dict:
    """``<H>`` and ``<S^z_i>`` of the final network by summing over all 2^L configurations (no sampling)."""
    from manybody.vmc.backend import make_vstate
    from manybody.vmc.operators import to_pauli_strings

    vs = make_vstate(model, state.config, 32, 0, params=state.params)
    psi = np.asarray(vs.to_array())
    h = to_pauli_strings(model.problem.hamiltonian, model.n_qubits, vs.hilbert).to_sparse()
    bits = np.asarray(vs.hilbert.all_states())
    return {
        "energy": float(np.real(np.vdot(psi, h @ psi))),
        "observed": (np.abs(psi) ** 2 @ (0.5 - bits)).tolist(),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", choices=("heisenberg", "schwinger"), default="heisenberg")
    parser.add_argument("--L", type=int, default=10)
    parser.add_argument("--t-max", type=float, default=1.0)
    parser.add_argument("--n-times", type=int, default=6)
    parser.add_argument("--vmc", nargs="*", default=[], help="vmc evolve options KEY=VALUE (Python literals)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import ast

    vmc_options = {k: ast.literal_eval(v) for k, v in (item.split("=", 1) for item in args.vmc)}
    times = np.linspace(0, args.t_max, args.n_times)
    runs = {
        "exact": run("exact", args.model, args.L, times, {}),
        "dmrg": run("dmrg", args.model, args.L, times, {"chi_max": 64, "dt": 0.05}),
        "vmc": run("vmc", args.model, args.L, times, {"progress": True, **vmc_options}),
    }
    ref = np.asarray(runs["exact"]["observed"])
    final = runs["vmc"].get("final_network_exact")
    if final is not None:
        final["observed_difference"] = float(np.max(np.abs(np.asarray(final["observed"]) - ref[-1])))
        final["energy_difference"] = final["energy"] - runs["exact"]["energy"][-1]
        print(
            "vmc final network, exact sums:",
            {k: final[k] for k in ("observed_difference", "energy_difference")},
        )
    for r in runs.values():
        r["max_observed_difference"] = float(np.max(np.abs(np.asarray(r["observed"]) - ref)))
        r["max_energy_drift"] = float(np.max(np.abs(np.asarray(r["energy"]) - r["energy"][0])))
        r["max_energy_difference"] = float(
            np.max(np.abs(np.asarray(r["energy"]) - np.asarray(runs["exact"]["energy"])))
        )
    out = {
        "benchmark": "tdvp_vmc",
        "args": vars(args),
        "times": times.tolist(),
        "runs": runs,
        "load_average": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    keys = (
        "wall_seconds",
        "cpu_seconds",
        "max_observed_difference",
        "max_energy_drift",
        "max_standard_error",
    )
    for name, r in runs.items():
        print(name, {k: r[k] for k in keys if k in r})
    print("vmc info at the last time:", {k: v[-1] for k, v in runs["vmc"]["info"].items()})
    print("load average", out["load_average"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
