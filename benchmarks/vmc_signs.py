"""Signs in VMC: fixed rules against a learned phase, relative error against exact diagonalisation.

For each model the vmc backend runs with the same network, samples, iterations and seed under
several ``sign_rule`` values (``"none"``; the learned phases ``"jastrow"``, a two-body phase
(:mod:`manybody.vmc.phase`), and ``"slater"``, the phase of a Slater determinant with trainable
orbitals (:mod:`manybody.vmc.slater`); ``"hartree_fock"``, the fixed sign of the generalized
Hartree-Fock determinant; the model's declared structures), one after the other in
one process, and records the relative error of the energy against the exact ground state, the
V-score, the convergence verdict, the SR step factor and the wall time. Output: JSON (rows of
the same case, rule, iterations and seed are replaced, others kept, so that several processes
can fill one file) and a table on stdout.

The cases are those of issue 13 where no exact rule exists: the periodic Hubbard chain L=8 and
the open 2x4 Hubbard cluster at U=4, half filling (no built-in rule; target 1e-2), SYK with
12 Majoranas (target 1e-2), SYK(8) (4 qubits, the small model of the test matrix), and the
frustrated Heisenberg 2x3 cluster at J2 = 0.5 (2.3e-2 without a rule).

Usage::

    python benchmarks/vmc_signs.py --cases j1j2_2x3 syk12 --n-iter 100 --out results/vmc_signs_cpu2.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import SYK, Heisenberg, Hubbard

CASES = {
    "hubbard_ring_8": (
        lambda: Hubbard(Chain(8, pbc=True), U=4.0),
        ("none", "jastrow", "slater", "hartree_fock", "hubbard_chain"),
    ),
    "hubbard_2x4_open": (
        lambda: Hubbard(Square(4, 2, pbc=False), U=4.0),
        ("none", "jastrow", "slater", "hartree_fock"),
    ),
    "hubbard_2x3_open": (lambda: Hubbard(Square(3, 2, pbc=False), U=4.0), ("none", "slater")),
    "syk12": (lambda: SYK(12, seed=0), ("none", "jastrow")),
    "syk8": (lambda: SYK(8, seed=1), ("none", "jastrow")),
    "j1j2_2x3": (lambda: Heisenberg(Square(2, 3), J2=0.5), ("none", "jastrow", "marshall")),
}


def run(case: str, rules, n_iter: int, seed: int, options: dict | None = None) -> list[dict]:
    options = options or {}
    model = CASES[case][0]()
    exact = mb.solve(model, backend="exact", observables=[]).energy
    rows = []
    for rule in rules:
        start, cpu_start = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = mb.solve(
                model,
                backend="vmc",
                sign_rule=rule,
                n_iter=n_iter,
                seed=seed,
                progress=False,
                observables=[],
                **options,
            )
        cpu = time.process_time() - cpu_start
        row = {
            "case": case,
            "n_qubits": model.n_qubits,
            "sign_rule": rule,
            "resolved_sign_rule": res.info["sign_rule"],
            "step_factor": res.info.get("step_factor"),
            "resolved": res.info.get("resolved"),
            "n_iter": n_iter if n_iter != "auto" else res.info["resolved"]["n_iter"],
            "n_iter_option": n_iter,
            "seed": seed,
            "options": options,
            "energy": res.energy,
            "energy_error": res.energy_error,
            "exact": exact,
            "relative_error": abs(res.energy - exact) / abs(exact),
            "v_score": res.v_score,
            "convergence": res.info["convergence"],
            "seconds": time.perf_counter() - start,
            "cpu_seconds": cpu,
            "load_average": os.getloadavg()[0],
        }
        print(
            f"{case:18s} {rule:14s} rel {row['relative_error']:.2e}  V-score {row['v_score']:.2g}  "
            f"{row['seconds']:.0f} s, {cpu:.0f} s CPU (load {row['load_average']:.1f})",
            flush=True,
        )
        rows.append(row)
    return rows


def save(out: Path, rows: list[dict]) -> None:
    """Write ``rows`` into the JSON file ``out``, replacing rows of the same case, rule, iterations,
    seed and other options."""

    def key(row):
        return (
            *(row.get(k) for k in ("case", "sign_rule", "n_iter", "seed")),
            json.dumps(row.get("options") or {}),
        )

    data = json.loads(out.read_text()) if out.is_file() else {}
    new = {key(r) for r in rows}
    kept = [r for r in data.get("rows", []) if key(r) not in new]
    data.update(cpu_count=os.cpu_count(), rows=kept + rows)
    out.write_text(json.dumps(data, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--rules", nargs="+", default=None, help="sign_rule values (default: per case)")
    parser.add_argument("--n-iter", default="auto", help="iterations, or 'auto' (the backend's default)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--options", default="{}", help="other vmc options as JSON, e.g. '{\"patch\": 3}'")
    parser.add_argument("--out", default=None, help="JSON file (under benchmarks/ if relative)")
    args = parser.parse_args()
    rows = []
    for case in args.cases:
        n_iter = args.n_iter if args.n_iter == "auto" else int(args.n_iter)
        rows += run(case, args.rules or CASES[case][1], n_iter, args.seed, json.loads(args.options))
        if args.out:
            out = Path(args.out)
            out = out if out.is_absolute() else Path(__file__).parent / out
            out.parent.mkdir(parents=True, exist_ok=True)
            save(out, rows)


if __name__ == "__main__":
    main()
