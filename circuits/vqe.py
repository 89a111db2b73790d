"""The VQE backend (``backend="vqe"``).

``manybody.solve(model, backend="vqe", ansatz="hva", estimator="statevector")``
compiles ``model.qubit_hamiltonian`` to a ``SparsePauliOp``, builds the ansatz
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
from manybody.circuits.ansatz import ANSATZE, INITIAL_STATES, AnsatzSpec, build_ansatz
from manybody.circuits.compiler import constraint_penalty, to_sparse_pauli_op
from manybody.circuits.estimators import ENGINES, EstimatorAdapter, two_qubit_count
from manybody.circuits.gradient import shift_form
from manybody.circuits.ibm import CHANNELS, MODES, fake_backend
from manybody.circuits.optimize import OPTIMIZER_FUNCTIONS, Objective, minimize
from manybody.observables import Estimate
from manybody.validation import check_bool, check_choice, check_int, check_real

__all__ = ["VQEBackend", "VQEOptions", "VQEState", "reevaluate"]

_ESTIMATOR_FIELDS = (
    "estimator", "shots", "seed", "noise_model", "ibm_backend", "channel", "instance", "mode",
    "optimization_level", "resilience_level", "measure_mitigation", "zne", "zne_noise_factors",
    "twirling", "dynamical_decoupling", "max_execution_time", "record_dir",
)  # fmt: skip


@dataclass
class VQEOptions:
    """Options of the VQE backend.

    Attributes
    ----------
    ansatz : str
        ``"hva"`` (Hamiltonian-variational, from the model's commuting term
        groups), ``"hea"`` (hardware-efficient ``efficient_su2``),
        ``"number_preserving"`` (XX+YY exchange + Z phases on the hopping
        pairs), ``"gauge_invariant"`` (the HVA, refused unless every unit
        keeps the constraints).
    reps : int or None
        Layers; None: ``n_qubits // 2`` (HVA, number-preserving), 2 (HEA).
    multi_angle : bool
        HVA: one angle per bond/unit per layer (True) or per group (False).
    initial_state : str
        ``"auto"`` (the lowest-energy of the available singlets, Slater
        determinant, basis state), ``"basis"``, ``"singlets"``, ``"slater"``,
        ``"zero"``.
    estimator : str
        ``"statevector"``, ``"qiskit_statevector"``, ``"aer"``, ``"ibm"``.
    optimizer : str
        ``"auto"`` (BFGS on exact estimators, SPSA with shots), ``"bfgs"``
        (stops at gradient norm 1e-7), ``"lbfgs"``, ``"cobyla"``, ``"spsa"``.
    maxiter : int
        Iterations per restart (0: evaluate ``initial_parameters`` only).
    tol : float
        L-BFGS-B ``ftol`` / COBYLA ``tol``.
    n_restarts : int
        Independent random starts; the lowest final cost wins.
    initial_parameters : list of float or None
        Start of the first restart (else small random angles, seeded).
    penalty : float or "auto"
        Weight ``lambda`` of ``sum_c (C_c - value_c)^2`` added to the cost,
        for ansätze that leave the constrained sector (the reported energy
        is ``<H>`` without it). ``"auto"``: 0 when the ansatz keeps every
        constraint, else ``2 sum_t |c_t|`` (the Hamiltonian's Pauli
        coefficients), large enough that the cost's minimum lies in the
        sector. A final ``constraint_violation`` above 1e-6 is always
        reported with a warning and in ``info["notes"]``.
    shots : int or None
        Shots per parameter row and measurement basis (``aer``, ``ibm``;
        default 4096); must be None for exact estimators.
    seed : int or None
        Seeds initial angles, SPSA, shot noise, transpiler and local simulators.
    noise_model : str or None
        ``aer``: a fake backend name whose noise model and ISA are used.
    ibm_backend : str or None
        ``ibm``: device name, a fake backend (``"fake_manila"``, local mode),
        or None for the least busy device with enough qubits.
    channel, instance : str or None
        IBM account channel (``"ibm_quantum_platform"``, ``"ibm_cloud"``) and
        instance; default from the environment or the saved account.
    mode : str
        ``"job"``, ``"batch"`` or ``"session"`` (refused on the Open plan:
        falls back to batch and says so in ``info["notes"]``).
    optimization_level : int
        ``generate_preset_pass_manager`` level (0-3).
    resilience_level : int
        Runtime resilience level (0, 1, 2).
    measure_mitigation, zne, twirling : bool or None
        TREX, zero-noise extrapolation, gate and measurement twirling (None:
        the resilience level's default).
    zne_noise_factors : list of float or None
    dynamical_decoupling : bool, str or None
        True or a sequence (``"XX"``, ``"XpXm"``, ``"XY4"``).
    max_execution_time : int or None
        Seconds of device time per job.
    record_dir : str or None
        Where job records go (default ``$MANYBODY_IBM_JOBS`` or ``~/.manybody/ibm_jobs``).
    """

    ansatz: str = "hva"
    reps: int | None = None
    multi_angle: bool = True
    initial_state: str = "auto"
    estimator: str = "statevector"
    optimizer: str = "auto"
    maxiter: int = 2000
    tol: float = 1e-12
    n_restarts: int = 1
    initial_parameters: list | None = None
    penalty: float | str = "auto"
    shots: int | None = None
    seed: int | None = None
    noise_model: str | None = None
    ibm_backend: str | None = None
    channel: str | None = None
    instance: str | None = None
    mode: str = "job"
    optimization_level: int = 2
    resilience_level: int = 1
    measure_mitigation: bool | None = None
    zne: bool | None = None
    zne_noise_factors: list | None = None
    twirling: bool | None = None
    dynamical_decoupling: bool | str | None = None
    max_execution_time: int | None = None
    record_dir: str | None = None

    def __post_init__(self):
        check_choice("ansatz", self.ansatz, ANSATZE)
        check_int("reps", self.reps, minimum=1, allow_none=True)
        if not isinstance(self.multi_angle, bool):
            raise ValueError(f"multi_angle must be True or False, got {self.multi_angle!r}")
        check_choice("initial_state", self.initial_state, INITIAL_STATES)
        check_choice("estimator", self.estimator, tuple(ENGINES))
        check_choice("optimizer", self.optimizer, ("auto", *OPTIMIZER_FUNCTIONS))
        check_int("maxiter", self.maxiter, minimum=0)
        check_int("n_restarts", self.n_restarts, minimum=1)
        check_int("seed", self.seed, minimum=0, allow_none=True)
        check_int("optimization_level", self.optimization_level, minimum=0)
        if self.optimization_level > 3:
            raise ValueError(f"optimization_level must be 0, 1, 2 or 3, got {self.optimization_level!r}")
        check_choice("resilience_level", self.resilience_level, (0, 1, 2))
        check_choice("mode", self.mode, MODES)
        if self.channel is not None:
            check_choice("channel", self.channel, CHANNELS)
        check_real("tol", self.tol, low=0.0, high=1.0, high_open=True)
        if self.penalty != "auto":
            check_real("penalty", self.penalty, low=0.0)
        exact = self.estimator in ("statevector", "qiskit_statevector")
        if exact and self.shots is not None:
            raise ValueError(
                f"shots must be None for estimator={self.estimator!r} (exact); use estimator='aer'"
            )
        if not exact:
            self.shots = 4096 if self.shots is None else self.shots
            check_int("shots", self.shots, minimum=1)
        for name in ("measure_mitigation", "zne", "twirling"):
            check_bool(name, getattr(self, name), allow_none=True)
        if self.dynamical_decoupling not in (None, True, False, "XX", "XpXm", "XY4"):
            raise ValueError(
                "dynamical_decoupling must be None, True, False, 'XX', 'XpXm' or 'XY4', "
                f"got {self.dynamical_decoupling!r}"
            )
        check_int("max_execution_time", self.max_execution_time, minimum=1, allow_none=True)
        if self.noise_model is not None and self.estimator != "aer":
            raise ValueError("noise_model is used with estimator='aer' only")
        if self.noise_model is not None and not str(self.noise_model).startswith("fake_"):
            raise ValueError(
                f"noise_model must name a fake backend such as 'fake_manila', got {self.noise_model!r}"
            )
        if self.ibm_backend is not None and self.estimator != "ibm":
            raise ValueError("ibm_backend is used with estimator='ibm' only")
        if self.estimator == "ibm" and self.optimizer in ("bfgs", "lbfgs"):
            raise ValueError(
                f"optimizer={self.optimizer!r} needs exact gradients; with estimator='ibm' use 'spsa' or 'cobyla'"
            )
        if self.initial_parameters is not None:
            self.initial_parameters = [float(x) for x in np.ravel(self.initial_parameters)]

    @property
    def resolved_optimizer(self) -> str:
        if self.optimizer != "auto":
            return self.optimizer
        return "bfgs" if self.estimator in ("statevector", "qiskit_statevector") else "spsa"

    def estimator_config(self) -> dict:
        return {k: getattr(self, k) for k in _ESTIMATOR_FIELDS}


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
                self.estimator["estimator"], VQEOptions(**self.estimator), model.n_qubits
            )
        return self._cache["adapter"]


_VIOLATION_TOL = 1e-6


def _penalty_weight(requested, ansatz, H, model) -> float:
    """The penalty weight: ``"auto"`` is 0 for an ansatz that keeps the constraints, else
    ``2 sum_t |c_t|`` over the Hamiltonian's Pauli terms, more than any energy gained outside the
    sector (``E0_sector - E_min <= 2 ||H||``), since the penalty is at least 1 there."""
    if not model.constraints:
        return 0.0
    if requested != "auto":
        return float(requested)
    if ansatz.preserves_constraints:
        return 0.0
    labels = H.paulis.to_labels()
    return 2.0 * float(sum(abs(c) for c, label in zip(H.coeffs, labels) if set(label) != {"I"}))


def _default_reps(model, kind: str) -> int:
    return 2 if kind == "hea" else max(1, model.n_qubits // 2)


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

    def check_model(self, model, options: VQEOptions) -> None:
        if options.estimator in ("statevector", "qiskit_statevector", "aer") and model.n_qubits > 24:
            raise ValueError(
                f"estimator={options.estimator!r} simulates at most 24 qubits, the model has {model.n_qubits}"
            )
        for name in (options.noise_model, options.ibm_backend):
            if name is not None and name.startswith("fake_"):
                backend = fake_backend(name)
                if backend.num_qubits < model.n_qubits:
                    raise ValueError(
                        f"the model needs {model.n_qubits} qubits but backend {name!r} has only "
                        f"{backend.num_qubits}: choose a larger fake backend"
                    )
        model.qubit_hamiltonian  # noqa: B018  (validates Hermiticity early)

    def solve(self, model, options: VQEOptions) -> Solution:
        spec = AnsatzSpec(
            options.ansatz,
            options.reps or _default_reps(model, options.ansatz),
            options.initial_state,
            options.multi_angle,
        )
        n = model.n_qubits
        adapter = EstimatorAdapter(options.estimator, options, n)  # account and device errors first
        rng = np.random.default_rng(options.seed)
        optimizer = options.resolved_optimizer
        try:
            ansatz = build_ansatz(model, spec)
            H = to_sparse_pauli_op(model.qubit_hamiltonian, n, name="the Hamiltonian")
            penalty = _penalty_weight(options.penalty, ansatz, H, model)
            cost = H
            if penalty:
                V = to_sparse_pauli_op(constraint_penalty(model.constraints), n)
                cost = (H + penalty * V).simplify()
            shift = shift_form(ansatz.circuit)
            runs = []
            for restart in range(options.n_restarts):
                obj = Objective(adapter, shift, cost)
                x0 = _initial_parameters(options, ansatz.n_parameters, spec.kind, rng, restart)
                x, n_iter = minimize(obj, optimizer, x0, options.maxiter, options.tol, rng)
                runs.append((obj.history[-1] if obj.history else math.inf, x, n_iter, obj))
            final_costs = [r[0] for r in runs]
            _, theta, n_iter, best = min(runs, key=lambda r: r[0])
            observables = [H, (H @ H).simplify()]
            if model.constraints:
                observables.append(to_sparse_pauli_op(constraint_penalty(model.constraints), n))
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
        if model.constraints:
            info["constraint_violation"] = float(evs[0, 2])
            if info["constraint_violation"] > _VIOLATION_TOL:
                note = (
                    f"the state leaves the constrained sector (constraint_violation "
                    f"{info['constraint_violation']:.3g}): the energy may lie below the sector's ground "
                    f"energy; use an ansatz that keeps the constraints or a larger penalty (used: {penalty:g})"
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

    def expect(self, state: VQEState, model, operators) -> list[Estimate]:
        """Estimates of Hermitian qubit operators on the optimised circuit, with the state's estimator.

        One estimator call for all operators; errors are 0 on exact
        estimators and one standard error with shots.
        """
        ops = [
            to_sparse_pauli_op(op, model.n_qubits, name=f"observable {k}") for k, op in enumerate(operators)
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
    bad = set(estimator_options) - set(_ESTIMATOR_FIELDS)
    if bad:
        raise ValueError(
            f"reevaluate takes estimator options only {sorted(_ESTIMATOR_FIELDS)}, got {sorted(bad)}"
        )
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
