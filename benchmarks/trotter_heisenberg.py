"""Trotter evolution on the statevector: manybody against plain Qiskit on the same circuits.

The issue's target run: Heisenberg chain (open, J=1) from the Neel state to ``t_max``, the local
magnetisation ``<S^z_q>`` of every site and the energy measured at ``n_times`` equally spaced
times, with the second-order Suzuki formula over the even/odd bond groups at the step ``dt`` that
``mb.evolve(..., backend="vqe", trotter_error=1e-3)`` chooses (doubling check). Side by side in one
process, with the same ``dt`` and the same decomposed circuits:

* ``qiskit_estimator_per_time``: the plain Qiskit loop: per time, the Neel preparation plus
  ``PauliEvolutionGate([H_even, H_odd], t, synthesis=SuzukiTrotter(order=2, reps=n))``, run with
  ``StatevectorEstimator`` (every circuit from the start; this reference estimator simulates the
  circuit once per observable);
* ``qiskit_statevector_incremental``: the best plain-Qiskit form: ``Statevector.evolve`` of one
  decomposed step circuit, step after step, ``expectation_value`` per observable and time;
* ``manybody_fixed_dt``: ``mb.evolve(..., backend="vqe", dt=dt)`` (the step compiled into fused
  two-qubit blocks, applied incrementally; observables by the core Pauli kernel);
* ``manybody_trotter_error``: ``mb.evolve(..., backend="vqe", trotter_error=1e-3)``: the same plus
  the doubling check that chooses ``dt`` (runs the evolution at every halving).

All give the same values (checked to 1e-9); the error against ``mb.evolve(..., backend="exact")``
is reported. Usage::

    python benchmarks/trotter_heisenberg.py [--sizes 8 12] [--t-max 5] [--n-times 11] [--repeats 3] [--out FILE]

Writes JSON (default ``benchmarks/results/trotter_heisenberg_cpu2.json``) and prints a table; the
figures depend on the machine's load (its 1-minute average is recorded).
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
from qiskit import QuantumCircuit
from qiskit.circuit.library import PauliEvolutionGate
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.synthesis import SuzukiTrotter

import manybody as mb
from manybody.circuits.trotter import group_operators
from manybody.lattice import Chain
from manybody.models import Heisenberg
from manybody.operators import spin

RESULTS = Path(__file__).parent / "results"


def _timed(fn, repeats: int = 1):
    """The result of ``fn()`` and the shortest of ``repeats`` wall times (the load varies)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def run(n: int, t_max: float, n_times: int, repeats: int) -> dict:
    model = Heisenberg(Chain(n))
    times = np.linspace(0, t_max, n_times)
    observables = [mb.Observable(f"sz{q}", spin("z", q)) for q in range(n)]
    bits = model.named_states()["neel"]

    def manybody_values(ev):
        return np.column_stack([*(ev.observables[f"sz{q}"].mean for q in range(n)), ev.energy.mean])

    auto, t_auto = _timed(
        lambda: mb.evolve(model, "neel", times, backend="vqe", observables=observables), repeats
    )
    dt = auto.info["dt"][-1]
    steps = np.asarray(auto.info["trotter_steps"])
    fixed, t_fixed = _timed(
        lambda: mb.evolve(model, "neel", times, backend="vqe", observables=observables, dt=dt), repeats
    )
    exact, t_exact = _timed(lambda: mb.evolve(model, "neel", times, observables=observables), repeats)

    groups = group_operators(model)
    ops = [SparsePauliOp.from_sparse_list([("Z", [q], 0.5)], n) for q in range(n)] + [
        SparsePauliOp.sum(groups)
    ]
    neel = QuantumCircuit(n)
    for q, b in enumerate(bits):
        if b:
            neel.x(q)

    def qiskit_per_time():
        estimator = StatevectorEstimator()
        rows = []
        for t, reps in zip(times, steps):
            qc = neel.copy()
            if reps:
                gate = PauliEvolutionGate(groups, time=t, synthesis=SuzukiTrotter(order=2, reps=int(reps)))
                qc.compose(gate.definition, inplace=True)
            rows.append(estimator.run([(qc, ops)], precision=0.0).result()[0].data.evs)
        return np.asarray(rows)

    def qiskit_incremental():
        step = PauliEvolutionGate(groups, time=dt, synthesis=SuzukiTrotter(order=2, reps=1)).definition
        psi, rows, done = Statevector(neel), [], 0
        for reps in steps:
            for _ in range(int(reps) - done):
                psi = psi.evolve(step)
            done = int(reps)
            rows.append([psi.expectation_value(op).real for op in ops])
        return np.asarray(rows)

    per_time, t_per_time = _timed(qiskit_per_time)
    incremental, t_incremental = _timed(qiskit_incremental, repeats)
    reference = manybody_values(fixed)
    for name, values in (
        ("auto", manybody_values(auto)),
        ("per_time", per_time),
        ("incremental", incremental),
    ):
        assert np.abs(values - reference).max() < 1e-9, name
    seconds = {
        "qiskit_estimator_per_time": t_per_time,
        "qiskit_statevector_incremental": t_incremental,
        "manybody_fixed_dt": t_fixed,
        "manybody_trotter_error": t_auto,
        "exact_krylov": t_exact,
    }
    return {
        "n_qubits": n,
        "t_max": t_max,
        "n_times": n_times,
        "repeats": repeats,
        "dt": dt,
        "trotter_steps": int(steps[-1]),
        "two_qubit_gates_at_t_max": auto.info["two_qubit_gates"][-1],
        "max_error_vs_exact": float(np.abs(reference - manybody_values(exact)).max()),
        "trotter_error_estimate": max(auto.info["trotter_error_estimate"]),
        "seconds": seconds,
        "speedup_fixed_dt_vs_qiskit_per_time": t_per_time / t_fixed,
        "speedup_fixed_dt_vs_qiskit_incremental": t_incremental / t_fixed,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 12])
    parser.add_argument("--t-max", type=float, default=5.0)
    parser.add_argument("--n-times", type=int, default=11)
    parser.add_argument("--repeats", type=int, default=3, help="best of N for all but the per-time loop")
    parser.add_argument("--out", type=Path, default=RESULTS / "trotter_heisenberg_cpu2.json")
    args = parser.parse_args()
    mb.evolve(Heisenberg(Chain(4)), "neel", [0.1], backend="vqe", observables=[])  # warm-up (imports)
    rows = [run(n, args.t_max, args.n_times, args.repeats) for n in args.sizes]
    out = {
        "benchmark": "trotter_heisenberg",
        "load_average_1min": os.getloadavg()[0],
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "versions": {"qiskit": qiskit.__version__, "numpy": np.__version__},
        "runs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"load {out['load_average_1min']:.1f}")
    print("n   dt      steps  err_vs_exact  qiskit/time  qiskit_incr  manybody_dt  manybody_auto  exact")
    for r in rows:
        s = r["seconds"]
        print(
            f"{r['n_qubits']:<3} {r['dt']:<7.4g} {r['trotter_steps']:<6} {r['max_error_vs_exact']:<13.2e} "
            f"{s['qiskit_estimator_per_time']:<12.2f} {s['qiskit_statevector_incremental']:<12.2f} "
            f"{s['manybody_fixed_dt']:<12.2f} {s['manybody_trotter_error']:<14.2f} {s['exact_krylov']:.2f}"
        )


if __name__ == "__main__":
    main()
