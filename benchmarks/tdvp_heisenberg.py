"""MPS time evolution, Heisenberg chain: manybody against raw TeNPy TDVP, one process.

Quench of the open chain of L spins-1/2 (``H = J sum S_i . S_{i+1}``, J = 1)
from the Neel state to ``--t-max``, observed at ``--n-times`` equally spaced
times. Every code runs on one BLAS thread with the same time step, bond
dimension cap and truncation cutoff, S^z conserved:

* ``manybody``: ``mb.evolve(..., backend="dmrg")`` with ``--method`` (default
  ``tdvp``: two-site TDVP until every bond reaches ``chi_max``, then one-site),
  measuring the energy, ``<S^z>`` of the middle site (custom Observable), the
  Loschmidt echo and the middle-cut entropy at every time;
* ``tenpy``: TeNPy's ``TwoSiteTDVPEngine`` on ``XXZChain(Jxx=1, Jz=1,
  conserve="Sz")`` from the Neel product state, measuring the same middle-site
  ``<S^z>`` and entropy.

Reported: process CPU seconds of each run (setup and measurements included:
with one BLAS thread this is the work each code does, whatever the machine's
load), manybody's truncation and projection errors and bond dimension per time, and the largest
difference of ``<S^z>`` and entropy between the two codes. Run::

    python benchmarks/tdvp_heisenberg.py --L 40 --chi 64 --t-max 5 --json benchmarks/results/tdvp_heisenberg_cpu2.json

Not a test: the figures depend on the machine (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from manybody.tensornet.dmrg import blas_limit


def run_manybody(L, times, chi, dt, cutoff, method):
    import manybody as mb
    from manybody.lattice import Chain
    from manybody.models import Heisenberg
    from manybody.operators import of

    start = time.process_time()
    mid = mb.Observable("sz_mid", 0.5 * of().QubitOperator(f"Z{L // 2}"))
    ev = mb.evolve(
        Heisenberg(Chain(L)), "neel", times, backend="dmrg", observables=[mid],
        dt=dt, chi_max=chi, cutoff=cutoff, method=method, progress=True,
    )  # fmt: skip
    return {
        "cpu_seconds": time.process_time() - start,
        "energy": ev.energy.mean.tolist(),
        "sz_mid": ev.observables["sz_mid"].mean.tolist(),
        "entropy": ev.entropy.tolist(),
        "loschmidt_echo": ev.loschmidt_echo.tolist(),
        "truncation_error": ev.info["truncation_error"],
        "projection_error": ev.info["projection_error"],
        "max_bond_dim": ev.info["max_bond_dim"],
        "tdvp_sites": ev.info["tdvp_sites"],
    }


def run_tenpy(L, times, chi, dt, cutoff):
    import warnings

    from tenpy.algorithms.tdvp import TwoSiteTDVPEngine
    from tenpy.models.xxz_chain import XXZChain
    from tenpy.networks.mps import MPS

    start = time.process_time()
    model = XXZChain({"L": L, "Jxx": 1.0, "Jz": 1.0, "hz": 0.0, "bc_MPS": "finite", "conserve": "Sz"})
    psi = MPS.from_product_state(model.lat.mps_sites(), ["up", "down"] * (L // 2), bc="finite")
    params = {"trunc_params": {"chi_max": chi, "svd_min": 1e-14, "trunc_cut": cutoff}, "max_dt": None}
    engine = TwoSiteTDVPEngine(psi, model, params)
    sz, entropy, now = [], [], 0.0
    for t in times:
        n = int(round((t - now) / dt))
        if n:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                engine.run_evolution(n, (t - now) / n)
            now = t
        sz.append(float(psi.expectation_value("Sz", [L // 2])[0]))
        entropy.append(float(psi.entanglement_entropy()[L // 2 - 1]))
    return {
        "cpu_seconds": time.process_time() - start,
        "sz_mid": sz,
        "entropy": entropy,
        "truncation_error": float(engine.trunc_err.eps),
        "max_bond_dim": int(max(psi.chi)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--L", type=int, default=40)
    parser.add_argument("--chi", type=int, default=64)
    parser.add_argument("--t-max", type=float, default=5.0)
    parser.add_argument("--n-times", type=int, default=11)
    parser.add_argument("--dt", type=float, default=0.1)
    parser.add_argument("--cutoff", type=float, default=1e-12)
    parser.add_argument("--method", default="tdvp")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    times = np.linspace(0, args.t_max, args.n_times)
    with blas_limit(1):
        wall = time.perf_counter()
        ours = run_manybody(args.L, times, args.chi, args.dt, args.cutoff, args.method)
        theirs = run_tenpy(args.L, times, args.chi, args.dt, args.cutoff)
        wall = time.perf_counter() - wall
    out = {
        "benchmark": "tdvp_heisenberg",
        "args": vars(args),
        "times": times.tolist(),
        "manybody": ours,
        "tenpy": theirs,
        "cpu_ratio_manybody_over_tenpy": ours["cpu_seconds"] / theirs["cpu_seconds"],
        "max_sz_difference": float(np.max(np.abs(np.subtract(ours["sz_mid"], theirs["sz_mid"])))),
        "max_entropy_difference": float(np.max(np.abs(np.subtract(ours["entropy"], theirs["entropy"])))),
        "wall_seconds": wall,
        "load_average": os.getloadavg(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    print(json.dumps({k: v for k, v in out.items() if k not in ("manybody", "tenpy", "times")}, indent=1))
    print(f"manybody {ours['cpu_seconds']:.1f} s CPU, tenpy {theirs['cpu_seconds']:.1f} s CPU")
    print(f"truncation error per time: {ours['truncation_error']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
