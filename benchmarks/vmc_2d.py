"""VMC from chains to 2D: what accuracy the transformer reaches, at what CPU cost, next to DMRG.

Each case is one Heisenberg lattice (chain L=8 and L=20, the 4x4 torus, the J1-J2 4x4 torus at
J2 = 0.5, the 6x6 torus). For every case the script runs, one after the other in one process,

* the vmc backend with the options given on the command line (``--vmc '{"n_iter": 300}'``; none:
  the defaults, whose values resolved for the model are recorded from ``info["resolved"]``), and
* the dmrg backend on the same lattice (``--dmrg`` bond dimensions; snake order),

and records the relative error of each energy against the reference (exact diagonalisation
where it runs, published values otherwise), the process CPU time and the wall time of each solve
and the load average. On up to ``EXACT_SUM_QUBITS`` qubits the energy of the trained network is
also summed exactly over all configurations (``network_energy``, ``network_relative_error``):
the Monte Carlo estimate of ``n_eval_samples`` samples has a standard error of about 5e-4
relative on the 4x4 torus, the size of the differences being measured. The machine is shared, so CPU seconds are the fairer figure; the load is
recorded next to them. Output: one JSON row per run appended to ``--out`` (a table on stdout).

References: chain L=8 and L=20 (open) and the 4x4 torus by exact diagonalisation in the S^z = 0
sector (4x4: -11.228483208428854); J1-J2 4x4 torus at J2 = 0.5: -8.457923351394856 (exact
diagonalisation, e.g. Schulz, Ziman and Poilblanc, J. Phys. I France 6, 675 (1996)); 6x6 torus:
E/N = -0.678872 (quantum Monte Carlo, Sandvik, Phys. Rev. B 56, 11678 (1997)).

Usage::

    python benchmarks/vmc_2d.py --cases square_4x4 --vmc '{"n_iter": 300}' --out results/vmc_2d_cpu2.json
    python benchmarks/vmc_2d.py --cases square_6x6 --vmc '{"n_iter": 20}' --no-dmrg
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.provenance import git_commit, git_dirty, package_versions

CASES = {
    # name: (model factory, reference energy or None = exact diagonalisation)
    "chain_8": (lambda: Heisenberg(Chain(8)), None),
    "chain_20": (lambda: Heisenberg(Chain(20)), None),
    "square_4x4": (lambda: Heisenberg(Square(4, 4, pbc=True)), -11.228483208428854),
    "j1j2_4x4": (lambda: Heisenberg(Square(4, 4, pbc=True), J2=0.5), -8.457923351394856),
    "square_6x6": (lambda: Heisenberg(Square(6, 6, pbc=True)), -0.678872 * 36),
}


EXACT_SUM_QUBITS = 16
"""Largest lattice whose trained network is summed exactly (2^16 amplitudes: seconds)."""


def network_energy(model, state) -> float:
    """``<psi|H|psi>`` of a trained vmc network summed over all 2^n configurations (no sampling)."""
    from manybody.vmc.backend import make_vstate
    from manybody.vmc.operators import to_pauli_strings

    vs = make_vstate(model, state.config, 32, 0, params=state.params)
    psi = np.asarray(vs.to_array())
    h = to_pauli_strings(model.problem.hamiltonian, model.n_qubits, vs.hilbert).to_sparse()
    return float(np.real(np.vdot(psi, h @ psi)) / np.vdot(psi, psi).real)


def _timed_solve(model, backend: str, options: dict, observables=()):
    """``mb.solve`` with its wall and process CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mb.solve(model, backend=backend, observables=list(observables), **options)
    return res, time.perf_counter() - wall, time.process_time() - cpu


def solve_row(case: str, model, backend: str, options: dict, reference: float, observables=()):
    """One timed solve and its JSON row (relative error against ``reference``, CPU and wall
    seconds, load average before and after, the resolved vmc sizes or the dmrg bond dimensions,
    the mean of each requested observable); prints a line of the table."""
    load_before = os.getloadavg()[0]
    res, wall, cpu = _timed_solve(model, backend, options, observables)
    row = {
        "case": case,
        "n_qubits": model.n_qubits,
        "backend": backend,
        "options": {k: v for k, v in options.items() if k != "progress"},
        "energy": res.energy,
        "energy_error": res.energy_error,
        "reference": reference,
        "relative_error": abs(res.energy - reference) / abs(reference),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "load_average": [load_before, os.getloadavg()[0]],
        "observables": {name: float(res.observables[name].mean) for name in observables},
    }
    if backend == "vmc":
        row.update(
            resolved=res.info.get("resolved"),
            n_parameters=res.info["n_parameters"],
            iterations_per_second=res.info["iterations_per_second"],
            rollbacks=res.info["rollbacks"],
            final_learning_rate_scale=res.info["final_learning_rate_scale"],
            v_score=res.v_score,
            convergence=res.info["convergence"],
            lanczos_step=res.info.get("lanczos_step"),
            energy_trace=[
                float(e) for e in res.history["energy"][:: max(1, len(res.history["energy"]) // 50)]
            ],
        )
        if model.n_qubits <= EXACT_SUM_QUBITS:
            exact_sum = network_energy(model, res.state)
            row.update(
                network_energy=exact_sum, network_relative_error=abs(exact_sum - reference) / abs(reference)
            )
    else:
        row.update(
            max_bond_dim=res.info["max_bond_dim"],
            n_sweeps=res.info["n_sweeps"],
            variance=res.variance,
            discarded_weight=res.info["discarded_weight"],
            constraint_violation=res.info.get("constraint_violation"),
        )
    summed = f" (summed {row['network_relative_error']:.2e})" if "network_relative_error" in row else ""
    print(
        f"{case:11s} {backend:4s} rel {row['relative_error']:.2e}{summed}  cpu {cpu:7.1f} s  wall {wall:7.1f} s  "
        f"load {load_before:.1f}-{row['load_average'][1]:.1f}  {json.dumps(row['options'])}",
        flush=True,
    )
    return res, row


def run(case: str, vmc_options: dict, bond_dims, seed: int) -> list[dict]:
    factory, reference = CASES[case]
    model = factory()
    if reference is None:
        reference = mb.solve(model, backend="exact", observables=[]).energy
    solvers = [("vmc", dict(seed=seed, progress=False, **vmc_options))]
    if bond_dims:
        solvers.append(("dmrg", dict(bond_dims=bond_dims, seed=seed, progress=False)))
    return [solve_row(case, model, backend, options, reference)[1] for backend, options in solvers]


def append_rows(path: str, rows: list[dict], provenance: dict) -> None:
    """Append ``rows`` (with ``provenance``) to the JSON file ``path`` (under benchmarks/ if relative)."""
    out = Path(path)
    out = out if out.is_absolute() else Path(__file__).parent / out
    out.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(out.read_text()) if out.is_file() else {"rows": []}
    data.update(cpu_count=os.cpu_count(), versions=package_versions())
    data["rows"] += [{**row, **provenance} for row in rows]
    out.write_text(json.dumps(data, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--vmc", default="{}", help="vmc options as JSON (default: the defaults)")
    parser.add_argument("--dmrg", type=int, nargs="*", default=[16, 32, 64, 128, 256], help="dmrg bond_dims")
    parser.add_argument("--no-dmrg", action="store_true", help="vmc only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file to append to (under benchmarks/ if relative)")
    args = parser.parse_args()
    provenance = dict(commit=git_commit(), dirty=git_dirty())  # of the code this process runs
    for case in args.cases:
        rows = run(case, json.loads(args.vmc), None if args.no_dmrg else args.dmrg, args.seed)
        if args.out:
            append_rows(args.out, rows, provenance)


if __name__ == "__main__":
    main()
