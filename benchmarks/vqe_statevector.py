"""VQE on the exact statevector: cost of one energy-plus-gradient call, and time to solution.

Side by side in one process, on the same Hamiltonian-variational circuit (Heisenberg chain,
open, from singlets, the default number of layers, one angle per bond) and the same random angles:

* ``aer_parameter_shift``: the path before the compiled simulator: Aer's ``EstimatorV2``
  (statevector) evaluating the ``1 + 2G`` parameter-shift rows of the circuit (G rotation gates)
  as one PUB;
* ``qiskit_parameter_shift``: the same rows through Qiskit's reference ``StatevectorEstimator``
  (the plain Qiskit loop, the peer);
* ``manybody_adjoint``: ``estimator="statevector"``: the circuit compiled once into fused
  two-qubit blocks on a numpy state vector, energy and the whole gradient by the adjoint method
  (:mod:`manybody.circuits.statevector`).

All three give the same energy and gradient (checked to 1e-9 here, to 1e-12 in the tests).
Then ``manybody.solve(..., backend="vqe")`` with the defaults (BFGS) runs from a few seeds
(initial angles), reporting the wall time, the estimator calls, the final relative error against
the exact backend and the time at which the error first fell below 1e-6 (``history["time"]``);
with ``--previous`` the same seeds also run with the previous default depth (``n/2`` layers),
interleaved with the present defaults.

Usage::

    python benchmarks/vqe_statevector.py [--sizes 8 12] [--repeats 3] [--seeds 0 1 2 3 4] [--previous] [--out FILE]

Writes JSON (default ``benchmarks/results/vqe_statevector_cpu2.json``) and prints a table.
The figures depend on the load of the machine (recorded in the JSON as the 1-minute load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import qiskit
import qiskit_aer
from qiskit.primitives import StatevectorEstimator
from qiskit_aer.primitives import EstimatorV2 as AerEstimator

import manybody as mb
from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.gradient import shift_form
from manybody.circuits.statevector import CompiledCircuit, PauliOperator
from manybody.circuits.vqe import default_reps
from manybody.lattice import Chain
from manybody.models import Heisenberg

RESULTS = Path(__file__).parent / "results"


def _per_call(fn, repeats: int) -> float:
    fn()  # warm-up (compilation, caches)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def per_call_costs(model, reps: int, repeats: int) -> dict:
    """Seconds per energy-plus-gradient call of the three paths, and their agreement."""
    ansatz = build_ansatz(model, AnsatzSpec("hva", reps))
    shift = shift_form(ansatz.circuit)
    H = to_sparse_pauli_op(model.qubit_hamiltonian, model.n_qubits)
    theta = np.random.default_rng(0).normal(scale=0.1, size=ansatz.n_parameters)
    rows = shift.gradient_rows(theta)
    aer = AerEstimator(options={"backend_options": {"method": "statevector"}})
    reference = StatevectorEstimator()

    def shift_rule(estimator):
        evs = estimator.run([(shift.circuit, [H], rows[:, None, :])], precision=0.0).result()[0].data.evs
        return shift.gradient(np.asarray(evs)[:, 0])

    start = time.perf_counter()
    compiled, operator = CompiledCircuit(shift.circuit), PauliOperator(H)
    compile_time = time.perf_counter() - start

    def adjoint():
        e, d_phi = compiled.value_and_gradient(shift.angles(theta), operator)
        return e, shift.A.T @ d_phi

    paths = {
        "aer_parameter_shift": lambda: shift_rule(aer),
        "qiskit_parameter_shift": lambda: shift_rule(reference),
        "manybody_adjoint": adjoint,
    }
    values = {name: fn() for name, fn in paths.items()}
    e0, g0 = values["manybody_adjoint"]
    for name, (e, g) in values.items():
        assert abs(e - e0) < 1e-9 and np.max(np.abs(g - g0)) < 1e-9, name
    seconds = {name: _per_call(fn, repeats) for name, fn in paths.items()}
    return {
        "n_parameters": ansatz.n_parameters,
        "rotation_gates": shift.n_gates,
        "parameter_shift_rows": len(rows),
        "compile_seconds": compile_time,
        "seconds_per_call": seconds,
        "speedup_vs_aer": seconds["aer_parameter_shift"] / seconds["manybody_adjoint"],
        "speedup_vs_qiskit": seconds["qiskit_parameter_shift"] / seconds["manybody_adjoint"],
    }


def solve_to_convergence(model, reps: int | None, exact: float, seed: int) -> dict:
    """``mb.solve`` with the defaults (``reps=None``) or ``reps`` layers from initial angles ``seed``."""
    start = time.perf_counter()
    res = mb.solve(model, backend="vqe", observables=[], reps=reps, seed=seed)
    wall = time.perf_counter() - start
    rel = np.abs(res.history["energy"] - exact) / abs(exact)
    below = np.flatnonzero(rel < 1e-6)
    return {
        "seed": seed,
        "reps": res.info["ansatz_spec"]["reps"],
        "wall_seconds": wall,
        "estimator_calls": res.info["estimator_calls"],
        "n_iterations": res.info["n_iterations"],
        "relative_error": abs(res.energy - exact) / abs(exact),
        "seconds_to_1e-6": float(res.history["time"][below[0]]) if len(below) else None,
        "calls_to_1e-6": int(below[0]) + 1 if len(below) else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 12])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="initial angles of the solves"
    )
    parser.add_argument(
        "--previous", action="store_true", help="also solve with the previous default depth, n/2 layers"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "vqe_statevector_cpu2.json")
    args = parser.parse_args()
    report = {
        "machine": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "load_average_1min_start": os.getloadavg()[0],
        "versions": {"qiskit": qiskit.__version__, "qiskit_aer": qiskit_aer.__version__},
        "models": {},
    }
    print(
        f"{'model':14s} {'params':>6s} {'rows':>5s} {'Aer ms':>8s} {'Qiskit ms':>9s} {'manybody ms':>11s} ",
        end="",
    )
    print(f"{'seed':>4s} {'reps':>4s} {'solve s':>8s} {'calls':>6s} {'rel. error':>10s} {'s to 1e-6':>9s}")
    for n in args.sizes:
        model = Heisenberg(Chain(n))
        reps = default_reps(model, "hva")
        exact = mb.solve(model, backend="exact", observables=[]).energy
        entry = {"reps": reps, "exact_energy": exact, **per_call_costs(model, reps, args.repeats)}
        entry["solves"], entry["solves_previous_default"] = [], []
        report["models"][f"heisenberg_chain_L{n}"] = entry
        ms = {k: 1e3 * v for k, v in entry["seconds_per_call"].items()}
        for seed in args.seeds:
            runs = [("solves", None)] + ([("solves_previous_default", n // 2)] if args.previous else [])
            for key, layers in runs:
                s = solve_to_convergence(model, layers, exact, seed)
                entry[key].append(s)
                to_target = (
                    f"{s['seconds_to_1e-6']:9.1f}" if s["seconds_to_1e-6"] is not None else f"{'-':>9s}"
                )
                print(
                    f"chain L={n:<6d} {entry['n_parameters']:6d} {entry['parameter_shift_rows']:5d} "
                    f"{ms['aer_parameter_shift']:8.1f} {ms['qiskit_parameter_shift']:9.1f} "
                    f"{ms['manybody_adjoint']:11.2f} {s['seed']:4d} {s['reps']:4d} "
                    f"{s['wall_seconds']:8.1f} {s['estimator_calls']:6d} {s['relative_error']:10.1e} {to_target}",
                    flush=True,
                )
    report["load_average_1min_end"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
