"""The VQE backend (``backend="vqe"``).

``manybody.solve(model, backend="vqe", ansatz="hva", estimator="statevector")``
compiles the qubit Hamiltonian of ``model.problem`` to a ``SparsePauliOp``, builds the ansatz
(:mod:`manybody.circuits.ansatz`), minimises the energy through one estimator
adapter (:mod:`manybody.circuits.estimators`) and reports the energy with its
standard error, the variance, the circuit's depth and two-qubit gate count
(logical and, on a device or noise model, after ISA transpilation), the
number of estimator calls and shots.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from manybody.backends import Backend, Solution
from manybody.circuits import ibm, trotter
from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.estimators import EstimatorAdapter, two_qubit_count
from manybody.circuits.gradient import shift_form
from manybody.circuits.optimize import Objective, minimize
from manybody.circuits.options import MAX_SIMULATED_QUBITS, VQEEvolveOptions, VQEOptions
from manybody.circuits.terms import light_cone_layers, term_groups
from manybody.observables import Estimate

__all__ = ["VQEBackend", "VQEOptions", "VQEState", "default_reps", "reevaluate"]


@dataclass
class VQEState:
    """An optimised circuit: the ansatz description, its parameters and the estimator settings."""

    spec: AnsatzSpec
    parameters: np.ndarray
    estimator: dict
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def circuit(self, model):
        """The bound circuit (parameters assigned)."""
        return self.ansatz(model).circuit.assign_parameters(self.parameters)

    def ansatz(self, model):
        if "ansatz" not in self._cache:
            self._cache["ansatz"] = build_ansatz(model, self.spec)
        return self._cache["ansatz"]

    def shift(self, model):
        """The ansatz in parameter-shift form (the circuit every estimator runs)."""
        if "shift" not in self._cache:
            self._cache["shift"] = shift_form(self.ansatz(model).circuit)
        return self._cache["shift"]

    def adapter(self, model) -> EstimatorAdapter:
        if "adapter" not in self._cache:
            self._cache["adapter"] = EstimatorAdapter(
                self.estimator["estimator"], VQEOptions(**self.estimator), model.problem.n_qubits
            )
        return self._cache["adapter"]


_VIOLATION_TOL = 1e-6


def _penalty_weight(requested, ansatz, H, model) -> float:
    """The penalty weight: ``"auto"`` is 0 for an ansatz that keeps the constraints, else
    ``2 sum_t |c_t|`` over the Hamiltonian's Pauli terms, more than any energy gained outside the
    sector (``E0_sector - E_min <= 2 ||H||``), since the penalty is at least 1 there."""
    if not model.problem.constraints:
        return 0.0
    if requested != "auto":
        return float(requested)
    if ansatz.preserves_constraints:
        return 0.0
    labels = H.paulis.to_labels()
    return 2.0 * float(sum(abs(c) for c, label in zip(H.coeffs, labels) if set(label) != {"I"}))


def default_reps(model, kind: str) -> int:
    """Layers when ``reps`` is None: 2 for ``hea``, else ``max(n_qubits // 2, cone + 2)``.

    ``cone`` is the number of layers after which every qubit's light cone spans the system
    (:func:`~manybody.circuits.terms.light_cone_layers`; ``L/2`` on the open chain of ``L``
    spins). With ``L/2`` layers the open Heisenberg chain from singlets sits at the edge of
    what the HVA represents and BFGS creeps (L=12: one start in three stalled at 2.9e-6); BFGS
    calls to a relative error of 1e-6 at L=12 with ``L/2`` + 1, + 2, + 4 layers: 888-1209,
    426-811, 438-511 (seeds 0-4, ``benchmarks/vqe_statevector.py``), so two layers beyond the
    light cone cost the fewest layer evaluations.
    """
    if kind == "hea":
        return 2
    n = model.problem.n_qubits
    return max(n // 2, light_cone_layers(term_groups(model.problem.hamiltonian), n) + 2)


def _initial_parameters(opts, n_par: int, kind: str, rng, restart: int) -> np.ndarray:
    if restart == 0 and opts.initial_parameters is not None:
        if len(opts.initial_parameters) != n_par:
            raise ValueError(
                f"initial_parameters has {len(opts.initial_parameters)} values, the ansatz {n_par}"
            )
        return np.array(opts.initial_parameters)
    scale = math.pi if kind == "hea" else 0.1
    return rng.normal(scale=scale, size=n_par) if kind != "hea" else rng.uniform(-scale, scale, n_par)


class VQEBackend(Backend):
    """Variational quantum eigensolver on simulators and IBM Quantum (see the module docstring)."""

    name = "vqe"
    Options = VQEOptions
    EvolveOptions = VQEEvolveOptions

    def check_model(self, model, options: VQEOptions) -> None:
        n = model.problem.n_qubits
        if options.estimator != "ibm" and n > MAX_SIMULATED_QUBITS:
            raise ValueError(
                f"estimator={options.estimator!r} simulates at most {MAX_SIMULATED_QUBITS} qubits, "
                f"the model has {n}"
            )
        for name in (options.noise_model, options.ibm_backend):
            if name is not None and name.startswith("fake_"):
                ibm.check_width(ibm.fake_backend(name), n)  # devices are checked once connected

    def solve(self, model, options: VQEOptions) -> Solution:
        spec = AnsatzSpec(
            options.ansatz,
            options.reps or default_reps(model, options.ansatz),
            options.initial_state,
            options.multi_angle,
        )
        problem = model.problem
        n = problem.n_qubits
        adapter = EstimatorAdapter(options.estimator, options, n)  # account and device errors first
        rng = np.random.default_rng(options.seed)
        optimizer = options.resolved_optimizer
        try:
            ansatz = build_ansatz(model, spec)
            H = to_sparse_pauli_op(problem.hamiltonian, n, name="the Hamiltonian")
            V = to_sparse_pauli_op(problem.penalty_operator(), n) if problem.constraints else None
            penalty = _penalty_weight(options.penalty, ansatz, H, model)
            cost = H
            if penalty:
                cost = (H + penalty * V).simplify()
            shift = shift_form(ansatz.circuit)
            runs = []
            for restart in range(options.n_restarts):
                obj = Objective(adapter, shift, cost)
                x0 = _initial_parameters(options, ansatz.n_parameters, spec.kind, rng, restart)
                x, n_iter = minimize(obj, optimizer, x0, options.maxiter, options.tol, rng, options.stall_tol)
                runs.append((obj.history[-1] if obj.history else math.inf, x, n_iter, obj))
            final_costs = [r[0] for r in runs]
            _, theta, n_iter, best = min(runs, key=lambda r: r[0])
            observables = [H, (H @ H).simplify()]
            if V is not None:
                observables.append(V)
            evs, stds = adapter.run(shift.circuit, observables, shift.angles(theta)[None], purpose="final")
            info_est = adapter.info(shift.circuit)
        finally:
            adapter.close()
        energy, energy_err = float(evs[0, 0]), float(stds[0, 0])
        info = {
            "ansatz": spec.kind,
            "ansatz_spec": ansatz.spec.to_dict(),
            "n_parameters": ansatz.n_parameters,
            "n_groups": ansatz.n_groups,
            "preserves_constraints": ansatz.preserves_constraints,
            "circuit_depth": shift.circuit.depth(),
            "two_qubit_gates": two_qubit_count(shift.circuit),
            "optimizer": optimizer,
            "n_iterations": n_iter,
            "restart_costs": final_costs if options.maxiter else [],
            "energy_std_error": energy_err,
            **info_est,
        }
        info["penalty"] = penalty
        if V is not None:
            info["constraint_violation"] = violation = float(evs[0, 2])
            if violation > _VIOLATION_TOL + 3 * float(stds[0, 2]):
                cause = (
                    "device or shot noise: the circuit itself keeps the constraints"
                    if ansatz.preserves_constraints
                    else "the ansatz does not keep the constraints; use one that does or a larger penalty "
                    f"(used: {penalty:g})"
                )
                note = (
                    f"the state leaves the constrained sector (constraint_violation {violation:.3g} +/- "
                    f"{float(stds[0, 2]):.1g}): the energy may lie below the sector's ground energy; {cause}"
                )
                warnings.warn(note, stacklevel=3)  # at the user's manybody.solve call
                info.setdefault("notes", []).append(note)
        state = VQEState(ansatz.spec, np.asarray(theta, dtype=float), options.estimator_config())
        state._cache.update(ansatz=ansatz, shift=shift)
        if "job_ids" in info:  # the observables' jobs (expect, right after solve) are listed too
            state._cache["job_ids"] = info["job_ids"]
        return Solution(
            energy=energy,
            state=state,
            energy_error=energy_err,
            variance=max(float(evs[0, 1]) - energy**2, 0.0),
            history={"energy": np.asarray(best.history, dtype=float), "time": np.asarray(best.times)},
            info=info,
            device=adapter.device,
            seed=options.seed,
        )

    def evolve(self, model, initial, times, options: VQEEvolveOptions):
        """Trotter circuits measured with the VQE's estimators (:mod:`manybody.circuits.trotter`)."""
        self.check_model(model, options)
        return trotter.evolve(model, initial, times, options)

    def expect(self, state: VQEState | trotter.TrotterState, model, operators) -> list[Estimate]:
        """Estimates of Hermitian qubit operators on the optimised (or Trotter) circuit, with the state's estimator.

        One estimator call for all operators; errors are 0 on exact
        estimators and one standard error with shots.
        """
        if isinstance(state, trotter.TrotterState):
            return state.expect(model, operators)
        ops = [
            to_sparse_pauli_op(op, model.problem.n_qubits, name=f"observable {k}")
            for k, op in enumerate(operators)
        ]
        if not ops:
            return []
        shift = state.shift(model)
        adapter = state.adapter(model)
        n_jobs = len(adapter.job_ids)
        evs, stds = adapter.run(shift.circuit, ops, shift.angles(state.parameters)[None], purpose="expect")
        state._cache.get("job_ids", []).extend(adapter.job_ids[n_jobs:])
        shots = None if adapter.exact else adapter.opts.shots
        return [Estimate(mean=float(m), error=float(s), n_samples=shots) for m, s in zip(evs[0], stds[0])]

    def save_state(self, state: VQEState, folder: Path) -> None:
        from qiskit import qpy

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        data = {
            "ansatz": state.spec.to_dict(),
            "parameters": state.parameters.tolist(),
            "estimator": state.estimator,
        }
        (folder / "vqe_state.json").write_text(json.dumps(data, indent=1))
        if "ansatz" in state._cache:
            with open(folder / "circuit.qpy", "wb") as f:
                qpy.dump(state._cache["ansatz"].circuit.assign_parameters(state.parameters), f)

    def load_state(self, folder: Path, model) -> VQEState:
        path = Path(folder) / "vqe_state.json"
        if not path.is_file():
            raise FileNotFoundError(f"no VQE state at {path}")
        data = json.loads(path.read_text())
        return VQEState(
            AnsatzSpec(**data["ansatz"]), np.asarray(data["parameters"], dtype=float), data["estimator"]
        )


def reevaluate(result, observables=None, **estimator_options):
    """Measure a finished optimisation again at its optimal parameters ("simulate, then measure on the device").

    Parameters
    ----------
    result : manybody.Result
        A ``backend="vqe"`` result (in memory or loaded).
    observables : optional
        As for ``manybody.solve``.
    **estimator_options
        VQE options of the new evaluation, e.g. ``estimator="ibm",
        ibm_backend="ibm_brisbane", shots=8192, zne=True``.

    Returns
    -------
    manybody.Result
        Energy, observables and info (job ids, ISA depth, ...) of the new evaluation.
    """
    from manybody.backends import solve

    if result.backend != "vqe":
        raise ValueError(f"reevaluate needs a result of backend 'vqe', got {result.backend!r}")
    state = result.state
    allowed = VQEOptions.estimator_fields()
    bad = set(estimator_options) - set(allowed)
    if bad:
        raise ValueError(f"reevaluate takes estimator options only {sorted(allowed)}, got {sorted(bad)}")
    spec = state.spec
    return solve(
        result.model_object,
        backend="vqe",
        observables=observables,
        ansatz=spec.kind,
        reps=spec.reps,
        multi_angle=spec.multi_angle,
        initial_state=spec.initial_state,
        initial_parameters=state.parameters.tolist(),
        maxiter=0,
        **estimator_options,
    )
