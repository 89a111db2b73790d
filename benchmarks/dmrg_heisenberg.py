"""DMRG speed, Heisenberg chain: manybody against raw quimb DMRG2 and TeNPy, one process.

Open chain of L spins-1/2 (S = sigma/2), reference energy -44.1277398932959 at
L = 100. Every code runs two-site DMRG with the same bond-dimension ramp (one
value per sweep, a sweep being there and back) on one BLAS thread:

* ``manybody``: ``backend="dmrg"`` with its defaults (S^z as a U(1) quantum
  number, TeNPy engine);
* ``manybody_dense``: ``symmetry=False`` (quimb engine, S^z penalty);
* ``manybody_dense_penalty0``: ``symmetry=False, penalty=0`` (quimb engine, the
  Hamiltonian MPO alone, as raw quimb);
* ``quimb_dmrg2``: raw quimb ``DMRG2`` on quimb's ``MPO_ham_heis`` with its
  default local solver;
* ``tenpy_sz`` / ``tenpy_none``: TeNPy ``TwoSiteDMRGEngine`` on ``XXZChain`` with
  ``conserve="Sz"`` / ``None``, mixer on, from the Neel state.

Reported per run: seconds until the energy is within ``--target`` of the
reference (setup included), total wall time, final error; ratios manybody /
baseline. Run::

    python benchmarks/dmrg_heisenberg.py --chi 16 32 64 128 200 --target 1e-8 --json out.json
    python benchmarks/dmrg_heisenberg.py --chi 16 32 64 128 256 512 --target 1e-10 --codes manybody tenpy_sz

Not a test: the figures depend on the machine and its load (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import os

from dmrg_common import cpu_clock, report, run_manybody, run_quimb_dmrg2, run_tenpy, save_figures

from manybody.tensornet.dmrg import blas_limit

REFERENCE = {20: -8.682473334398976, 100: -44.1277398932959}


def _tenpy_xxz(L, conserve):
    from tenpy.models.xxz_chain import XXZChain

    return XXZChain({"L": L, "Jxx": 1.0, "Jz": 1.0, "hz": 0.0, "bc_MPS": "finite", "conserve": conserve})


def _heisenberg(L, **kwargs):
    from manybody.lattice import Chain
    from manybody.models import Heisenberg

    return Heisenberg(Chain(L), **kwargs)


def codes(L, chis, tol):
    import quimb.tensor as qtn

    neel = ["up", "down"] * (L // 2)
    return {
        "manybody": lambda: run_manybody(_heisenberg(L), chis),
        "tenpy_sz": lambda: run_tenpy(_tenpy_xxz(L, "Sz"), neel, chis, tol),
        "quimb_dmrg2": lambda: run_quimb_dmrg2(qtn.MPO_ham_heis(L, cyclic=False), chis, tol),
        "manybody_dense_penalty0": lambda: run_manybody(_heisenberg(L), chis, symmetry=False, penalty=0.0),
        "manybody_dense": lambda: run_manybody(_heisenberg(L), chis, symmetry=False),
        "tenpy_none": lambda: run_tenpy(_tenpy_xxz(L, None), neel, chis, tol),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=100)
    parser.add_argument("--chi", type=int, nargs="+", default=[16, 32, 64, 128, 200], help="one per sweep")
    parser.add_argument("--target", type=float, default=1e-8, help="energy error to reach")
    parser.add_argument("--codes", nargs="+", default=None, help="subset of the codes to run")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    e_ref = REFERENCE.get(args.L)
    if e_ref is None:
        raise SystemExit(f"no reference energy for L={args.L}; known: {sorted(REFERENCE)}")
    tol = min(1e-10, args.target / 10)
    load_before = os.getloadavg()
    runs = {}
    with blas_limit(1), cpu_clock():
        warm = codes(20, [8], tol)  # warm-up: imports and numba compilation inside quimb
        for name in ("manybody", "quimb_dmrg2", "tenpy_sz"):
            warm[name]()
        table = codes(args.L, args.chi, tol)
        for name in args.codes or list(table):
            runs[name] = table[name]()
            print(f"{name}: done, {runs[name]['wall_s']:.1f} s", flush=True)
            _write(args, e_ref, runs, load_before)


def _write(args, e_ref, runs, load_before):
    """Print the table and write the JSON (after every run, so that a long benchmark keeps its figures)."""
    baselines = [b for b in ("quimb_dmrg2", "tenpy_sz", "tenpy_none") if b in runs]
    ours = [a for a in runs if a.startswith("manybody")]
    ratios = report(runs, e_ref, args.target, baselines, ours)
    save_figures(
        args.json,
        {"L": args.L, "chi": args.chi, "reference": e_ref, "target": args.target},
        runs,
        ratios,
        load_before,
    )


if __name__ == "__main__":
    main()
