"""DMRG speed: manybody's quimb backend vs TeNPy two-site DMRG, Heisenberg chain.

Open chain of L = 100 spins-1/2 (S = sigma/2), reference energy
-44.1277398932959 (DESIGN.md). Every code runs two-site DMRG with the same
bond-dimension ramp up to chi = 200 on one BLAS thread, in one process:

* manybody ``backend="dmrg"`` with its defaults (S^z penalty, mixer), and with
  ``penalty=0`` (S^z kept by the initial state only: a smaller MPO);
* TeNPy ``TwoSiteDMRGEngine`` with S^z conservation (block-sparse tensors)
  and without (``conserve=None``), mixer on.

Reported per run: seconds until the energy is within 1e-8 of the reference
(from the per-sweep traces, setup included), total wall time, final error;
ratios are manybody time / TeNPy time. Run::

    python benchmarks/dmrg_heisenberg.py [--L 100] [--chi 200] [--json out.json]

Not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import time

from threadpoolctl import threadpool_limits

REFERENCE = {20: -8.682473334398976, 100: -44.1277398932959}
TARGET = 1e-8


def _time_to_target(times, energies, e_ref, offset):
    for t, e in zip(times, energies):
        if abs(e - e_ref) < TARGET:
            return offset + float(t)
    return None


def run_manybody(L, chis, e_ref, **options):
    import manybody as mb
    from manybody.lattice import Chain
    from manybody.models import Heisenberg

    mb.get_backend("dmrg")
    model = Heisenberg(Chain(L))
    model.qubit_hamiltonian  # noqa: B018  (OpenFermion model building is not DMRG time)
    schedule = [c for c in chis for _ in range(2)]  # one entry per half-sweep
    start = time.perf_counter()
    res = mb.solve(
        model,
        backend="dmrg",
        observables=[],
        bond_dims=schedule,
        progress=False,
        seed=1,
        variance=False,
        **options,
    )
    wall = time.perf_counter() - start
    sweeps = res.history["time"]
    setup = res.info["solve_time"] - sweeps[-1]  # compilation and initial state (upper bound)
    return {
        "energy": res.energy,
        "error": res.energy - e_ref,
        "time_to_1e-8_s": _time_to_target(sweeps, res.history["energy"], e_ref, setup),
        "wall_s": wall,
        "half_sweeps": int(res.info["n_sweeps"]),
        "max_bond_dim": int(res.info["max_bond_dim"]),
        "mpo_bond_dim": int(res.info["mpo_bond_dim_with_penalty"]),
    }


def run_tenpy(L, chis, e_ref, conserve):
    from tenpy.algorithms import dmrg
    from tenpy.models.xxz_chain import XXZChain
    from tenpy.networks.mps import MPS

    start = time.perf_counter()
    model = XXZChain({"L": L, "Jxx": 1.0, "Jz": 1.0, "hz": 0.0, "bc_MPS": "finite", "conserve": conserve})
    psi = MPS.from_product_state(model.lat.mps_sites(), ["up", "down"] * (L // 2), bc="finite")
    params = {
        "mixer": True,
        "chi_list": {k: c for k, c in enumerate(chis)},
        "trunc_params": {"chi_max": chis[-1], "svd_min": 1e-10},
        "max_E_err": 1e-10,
        "max_sweeps": 40,
    }
    engine = dmrg.TwoSiteDMRGEngine(psi, model, params)
    setup = time.perf_counter() - start
    energy, _ = engine.run()
    wall = time.perf_counter() - start
    stats = engine.sweep_stats
    return {
        "energy": float(energy),
        "error": float(energy) - e_ref,
        "time_to_1e-8_s": _time_to_target(stats["time"], stats["E"], e_ref, setup),
        "wall_s": wall,
        "sweeps": len(stats["E"]),
        "max_bond_dim": int(max(psi.chi)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=100)
    parser.add_argument(
        "--chi", type=int, nargs="+", default=[16, 32, 64, 128, 200], help="ramp, one per sweep"
    )
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    e_ref = REFERENCE.get(args.L)
    if e_ref is None:
        raise SystemExit(f"no reference energy for L={args.L}; known: {sorted(REFERENCE)}")
    runs = {}
    with threadpool_limits(1):
        run_manybody(20, [8], REFERENCE[20])  # warm-up: numba compilation inside quimb
        run_tenpy(20, [8], REFERENCE[20], "Sz")
        for name, run in [
            ("tenpy_sz", lambda: run_tenpy(args.L, args.chi, e_ref, "Sz")),
            ("manybody", lambda: run_manybody(args.L, args.chi, e_ref)),
            ("manybody_penalty0", lambda: run_manybody(args.L, args.chi, e_ref, penalty=0.0)),
            ("tenpy_none", lambda: run_tenpy(args.L, args.chi, e_ref, None)),
        ]:
            r = runs[name] = run()
            t = r["time_to_1e-8_s"]
            print(
                f"{name:18s} E={r['energy']:.12f} err={r['error']:+.1e} "
                f"to 1e-8: {'never' if t is None else f'{t:7.1f} s'}  wall {r['wall_s']:7.1f} s  "
                f"chi {r['max_bond_dim']}",
                flush=True,
            )
    ratios = {}
    for ours in ("manybody", "manybody_penalty0"):
        for theirs in ("tenpy_sz", "tenpy_none"):
            a, b = runs[ours]["time_to_1e-8_s"], runs[theirs]["time_to_1e-8_s"]
            ratios[f"{ours}/{theirs}"] = None if a is None or b is None else a / b
            print(f"ratio {ours}/{theirs}: {ratios[f'{ours}/{theirs}']}")
    out = {
        "L": args.L,
        "chi": args.chi,
        "reference": e_ref,
        "blas_threads": 1,
        "runs": runs,
        "ratios": ratios,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
