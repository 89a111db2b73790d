"""VQE ansatz benchmark: Hamiltonian-variational vs hardware-efficient vs IBM's tutorial recipe.

On the same Heisenberg chain and half-filled Hubbard chain (exact statevector
estimator, so only ansatz and optimiser differ), for

* ``hva``      : Hamiltonian-variational ansatz from the physical initial state, the default
                 optimiser (BFGS with the adjoint gradient: one estimator call per step);
* ``hea``      : ``efficient_su2`` (reps 3), same optimiser and gradient, with the default
                 constraint penalty (``penalty="auto"``: the HEA breaks S^z / particle numbers);
* ``tutorial`` : IBM's VQE tutorial recipe: ``efficient_su2`` (reps 3) from random angles,
                 COBYLA, one estimator call per energy, no penalty;

it reports estimator calls, wall time, relative error against the exact
backend, the constraint violation ``<sum_c (C_c - value_c)^2>`` (the HEA does
not conserve particle numbers or S^z) and the two-qubit gate count and depth
after transpilation (optimization level 3) to a heavy-hex fake device
(``fake_kolkata``, 27 qubits, CX).

Run: ``python benchmarks/vqe_ansatz.py [--quick]``. Timings are on whatever
machine runs it (the figures in the README were taken on 2 shared CPU cores).
"""

from __future__ import annotations

import argparse
import time

import manybody as mb
from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.estimators import two_qubit_count
from manybody.circuits.ibm import fake_backend
from manybody.lattice import Chain
from manybody.models import Heisenberg, Hubbard

RECIPES = {
    "hva": dict(ansatz="hva"),
    "hea": dict(ansatz="hea", reps=3),
    "tutorial": dict(ansatz="hea", reps=3, optimizer="cobyla", initial_state="zero", penalty=0.0),
}


def heavy_hex_cost(model, options: dict, device) -> tuple[int, int]:
    """Two-qubit gates and depth of the ansatz (with initial state) transpiled for ``device``."""
    from qiskit.transpiler import generate_preset_pass_manager

    kind = options["ansatz"]
    reps = options.get("reps") or max(1, model.n_qubits // 2)
    ansatz = build_ansatz(model, AnsatzSpec(kind, reps, options.get("initial_state", "auto")))
    isa = generate_preset_pass_manager(optimization_level=3, backend=device, seed_transpiler=7).run(
        ansatz.circuit
    )
    return two_qubit_count(isa), isa.depth()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small instances (4 qubits) only")
    parser.add_argument("--maxiter", type=int, default=3000)
    args = parser.parse_args()
    models = (
        {"heisenberg_L4": Heisenberg(Chain(4)), "hubbard_L2": Hubbard(Chain(2))}
        if args.quick
        else {"heisenberg_L8": Heisenberg(Chain(8)), "hubbard_1x4_U4": Hubbard(Chain(4), U=4.0)}
    )
    hva_reps = {"heisenberg_L8": 4, "hubbard_1x4_U4": 3}
    device = fake_backend("fake_kolkata")
    header = f"{'model':16s} {'recipe':9s} {'params':>6s} {'calls':>6s} {'wall s':>8s} {'rel. error':>10s} "
    header += f"{'violation':>9s} {'2q gates':>8s} {'depth':>6s}"
    print(header)
    for name, model in models.items():
        exact = mb.solve(model, backend="exact", observables=[]).energy
        for recipe, options in RECIPES.items():
            options = dict(options)
            if recipe == "hva" and name in hva_reps:
                options["reps"] = hva_reps[name]
            start = time.perf_counter()
            res = mb.solve(model, backend="vqe", observables=[], seed=1, maxiter=args.maxiter, **options)
            wall = time.perf_counter() - start
            n2q, depth = heavy_hex_cost(model, options, device)
            print(
                f"{name:16s} {recipe:9s} {res.info['n_parameters']:6d} {res.info['estimator_calls']:6d} "
                f"{wall:8.1f} {abs(res.energy - exact) / abs(exact):10.2e} "
                f"{res.info.get('constraint_violation', 0.0):9.2e} {n2q:8d} {depth:6d}",
                flush=True,
            )


if __name__ == "__main__":
    main()
