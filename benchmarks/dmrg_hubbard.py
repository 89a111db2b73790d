"""DMRG speed, Fermi-Hubbard chain: manybody against TeNPy's FermiHubbardChain, one process.

Open chain of L sites, t = 1, U = 4, half filling (n_up = n_down = L/2). Every
code runs two-site DMRG with the same bond-dimension ramp (one value per sweep,
there and back) on one BLAS thread:

* ``manybody``: ``backend="dmrg"`` with its defaults: 2L qubit sites (modes
  ``2i + s``, Jordan-Wigner strings explicit), n_up and n_down as U(1) quantum
  numbers (TeNPy engine);
* ``tenpy_n_sz``: TeNPy ``TwoSiteDMRGEngine`` on ``FermiHubbardChain`` (L sites
  of dimension 4) conserving N and S^z, mixer on, from the Neel state
  (TeNPy's usual set-up).

There is no closed form for the open chain: the reference is the lowest final
energy of the runs; reported per run are the seconds until the energy is
within ``--target`` of it (setup included), the wall time and the final
energy. Run::

    python benchmarks/dmrg_hubbard.py --L 32 --chi 32 64 128 256 512 --json out.json

Not a test: the figures depend on the machine and its load (recorded in the JSON).
"""

from __future__ import annotations

import argparse
import os

from dmrg_common import cpu_clock, report, run_manybody, run_tenpy, save_figures

from manybody.tensornet.dmrg import blas_limit


def _tenpy_hubbard(L):
    from tenpy.models.hubbard import FermiHubbardChain

    return FermiHubbardChain(
        {"L": L, "t": 1.0, "U": 4.0, "mu": 0.0, "bc_MPS": "finite", "cons_N": "N", "cons_Sz": "Sz"}
    )


def _hubbard(L):
    from manybody.lattice import Chain
    from manybody.models import Hubbard

    return Hubbard(Chain(L), t=1.0, U=4.0)


def codes(L, chis, tol):
    neel = ["up", "down"] * (L // 2)
    return {
        "manybody": lambda: run_manybody(_hubbard(L), chis),
        "tenpy_n_sz": lambda: run_tenpy(_tenpy_hubbard(L), neel, chis, tol),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=32)
    parser.add_argument("--chi", type=int, nargs="+", default=[32, 64, 128, 256, 512], help="one per sweep")
    parser.add_argument("--target", type=float, default=1e-8, help="energy error to reach")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    tol = min(1e-10, args.target / 10)
    load_before = os.getloadavg()
    runs = {}
    with blas_limit(1), cpu_clock():
        for run in codes(8, [64], tol).values():  # warm-up: imports
            run()
        for name, run in codes(args.L, args.chi, tol).items():
            runs[name] = run()
            print(f"{name}: done, {runs[name]['wall_s']:.1f} s", flush=True)
            _write(args, runs, load_before)


def _write(args, runs, load_before):
    """Print the table and write the JSON (after every run)."""
    e_ref = min(r["energy"] for r in runs.values())
    ratios = report(runs, e_ref, args.target, [b for b in ["tenpy_n_sz"] if b in runs], ["manybody"])
    save_figures(
        args.json,
        {
            "L": args.L,
            "U": 4.0,
            "chi": args.chi,
            "reference": e_ref,
            "reference_is": "lowest final energy of the runs",
            "target": args.target,
        },
        runs,
        ratios,
        load_before,
    )


if __name__ == "__main__":
    main()
