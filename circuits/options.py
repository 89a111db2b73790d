"""Options of the VQE backend, checked without importing Qiskit.

The names of the ansätze, initial states, estimators, optimisers and IBM
modes live here; the modules that implement them (``ansatz``, ``initial``,
``estimators``, ``optimize``, ``ibm``) key their registries by these names
(a test checks that both agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, make_dataclass

import numpy as np

from manybody.validation import check_bool, check_choice, check_int, check_real

__all__ = [
    "ANSATZE",
    "INITIAL_STATES",
    "ESTIMATORS",
    "EXACT_ESTIMATORS",
    "OPTIMIZERS",
    "MODES",
    "CHANNELS",
    "DEFAULT_SHOTS",
    "MAX_SIMULATED_QUBITS",
    "VQEOptions",
    "TROTTER_ORDERS",
    "ERROR_ESTIMATES",
    "VQEEvolveOptions",
]

ANSATZE = ("hva", "hea", "number_preserving", "gauge_invariant")
INITIAL_STATES = ("auto", "basis", "singlets", "slater", "zero")
EXACT_ESTIMATORS = ("statevector", "qiskit_statevector")
ESTIMATORS = (*EXACT_ESTIMATORS, "aer", "ibm")
OPTIMIZERS = ("bfgs", "lbfgs", "cobyla", "spsa")
MODES = ("job", "batch", "session")
CHANNELS = ("ibm_quantum_platform", "ibm_cloud")
DEFAULT_SHOTS = 4096
MAX_SIMULATED_QUBITS = 24
_DD_SEQUENCES = ("XX", "XpXm", "XY4")


def _estimator(default=None):
    """A field that belongs to the estimator's configuration (kept by ``reevaluate``)."""
    return field(default=default, metadata={"estimator": True})


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
        Layers; None: ``max(n_qubits // 2, cone + 2)`` (HVA, number-preserving; ``cone``: layers
        for every qubit's light cone to span the system, ``L/2`` on an open chain), 2 (HEA).
    multi_angle : bool
        HVA: one angle per bond/unit per layer (True) or per group (False).
    initial_state : str
        ``"auto"`` (the lowest-energy of the available singlets, Slater
        determinant, basis state), ``"basis"``, ``"singlets"``, ``"slater"``,
        ``"zero"``.
    estimator : str
        ``"statevector"`` (compiled numpy simulation, adjoint gradients),
        ``"qiskit_statevector"`` (Qiskit's reference estimator), ``"aer"``
        (shots), ``"ibm"`` (IBM Quantum Runtime).
    optimizer : str
        ``"auto"`` (BFGS on exact estimators, SPSA with shots), ``"bfgs"``
        (stops at gradient norm 1e-7 or by ``stall_tol``), ``"lbfgs"``, ``"cobyla"``, ``"spsa"``.
    maxiter : int
        Iterations per restart (0: evaluate ``initial_parameters`` only).
    tol : float
        L-BFGS-B ``ftol`` / COBYLA ``tol``.
    stall_tol : float
        BFGS and L-BFGS-B stop when the cost fell by less than ``stall_tol |cost|`` over the last
        100 iterations (at that rate the rest of ``maxiter`` gains at most
        ``maxiter / 100 * stall_tol``); 0 disables the rule.
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
        default ``DEFAULT_SHOTS`` = 4096); must be None for exact estimators.
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
        At least two noise amplification factors, each >= 1 (``ibm`` only).
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
    estimator: str = _estimator("statevector")
    optimizer: str = "auto"
    maxiter: int = 2000
    tol: float = 1e-12
    stall_tol: float = 1e-8
    n_restarts: int = 1
    initial_parameters: list | None = None
    penalty: float | str = "auto"
    shots: int | None = _estimator()
    seed: int | None = _estimator()
    noise_model: str | None = _estimator()
    ibm_backend: str | None = _estimator()
    channel: str | None = _estimator()
    instance: str | None = _estimator()
    mode: str = _estimator("job")
    optimization_level: int = _estimator(2)
    resilience_level: int = _estimator(1)
    measure_mitigation: bool | None = _estimator()
    zne: bool | None = _estimator()
    zne_noise_factors: list | None = _estimator()
    twirling: bool | None = _estimator()
    dynamical_decoupling: bool | str | None = _estimator()
    max_execution_time: int | None = _estimator()
    record_dir: str | None = _estimator()

    def __post_init__(self):
        check_choice("ansatz", self.ansatz, ANSATZE)
        check_int("reps", self.reps, minimum=1, allow_none=True)
        check_bool("multi_angle", self.multi_angle)
        check_choice("initial_state", self.initial_state, INITIAL_STATES)
        check_choice("estimator", self.estimator, ESTIMATORS)
        check_choice("optimizer", self.optimizer, ("auto", *OPTIMIZERS))
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
        check_real("stall_tol", self.stall_tol, low=0.0, high=1.0, high_open=True)
        if self.penalty != "auto":
            check_real("penalty", self.penalty, low=0.0)
        if self.exact and self.shots is not None:
            raise ValueError(
                f"shots must be None for estimator={self.estimator!r} (exact); use estimator='aer'"
            )
        if not self.exact:
            self.shots = DEFAULT_SHOTS if self.shots is None else self.shots
            check_int("shots", self.shots, minimum=1)
        for name in ("measure_mitigation", "zne", "twirling"):
            check_bool(name, getattr(self, name), allow_none=True)
        if self.dynamical_decoupling not in (None, True, False, *_DD_SEQUENCES):
            raise ValueError(
                f"dynamical_decoupling must be None, True, False or one of {_DD_SEQUENCES}, "
                f"got {self.dynamical_decoupling!r}"
            )
        if self.zne_noise_factors is not None:
            self.zne_noise_factors = _noise_factors(self.zne_noise_factors)
            if self.estimator != "ibm":
                raise ValueError("zne_noise_factors is used with estimator='ibm' only")
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
            values = np.ravel(np.asarray(self.initial_parameters, dtype=object))
            for k, x in enumerate(values):
                check_real(f"initial_parameters[{k}]", x)
            self.initial_parameters = [float(x) for x in values]

    @property
    def exact(self) -> bool:
        """Whether the estimator is exact (no shots)."""
        return self.estimator in EXACT_ESTIMATORS

    @property
    def resolved_optimizer(self) -> str:
        if self.optimizer != "auto":
            return self.optimizer
        return "bfgs" if self.exact else "spsa"

    @staticmethod
    def estimator_fields() -> tuple[str, ...]:
        """Names of the options that configure the estimator (not the optimisation)."""
        return tuple(f.name for f in fields(VQEOptions) if f.metadata.get("estimator"))

    def estimator_config(self) -> dict:
        return {k: getattr(self, k) for k in self.estimator_fields()}


def _noise_factors(value) -> list[float]:
    message = f"zne_noise_factors must be a list of at least two finite numbers >= 1, got {value!r}"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) < 2:
        raise ValueError(message)
    out = []
    for x in value:
        if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x) or x < 1:
            raise ValueError(message)
        out.append(float(x))
    return out


TROTTER_ORDERS = (1, 2, 4)
ERROR_ESTIMATES = ("doubling", "bound")


@dataclass
class _TrotterOptions:
    order: int | str = 2
    trotter_error: float = 1e-3
    dt: float | None = None
    error_estimate: str = "doubling"
    max_two_qubit_depth: int | None = None

    def __post_init__(self):
        check_choice("order", self.order, (*TROTTER_ORDERS, "auto"))
        if self.order == "auto" and self.dt is not None:
            raise ValueError("order='auto' chooses the order for trotter_error; with dt give order 1, 2 or 4")
        check_real("trotter_error", self.trotter_error, low=0.0, high=1.0, low_open=True)
        check_real("dt", self.dt, low=0.0, low_open=True, allow_none=True)
        check_choice("error_estimate", self.error_estimate, ERROR_ESTIMATES)
        check_int("max_two_qubit_depth", self.max_two_qubit_depth, minimum=1, allow_none=True)
        if self.error_estimate == "bound" and self.order == 4 and self.dt is None:
            raise ValueError("error_estimate='bound' is implemented for order 1 and 2; use 'doubling' or dt")
        self.estimator_options()  # checks the estimator fields as VQEOptions does

    def estimator_options(self) -> VQEOptions:
        """The estimator fields as ``VQEOptions`` (what ``EstimatorAdapter`` reads)."""
        est = VQEOptions(**{k: getattr(self, k) for k in VQEOptions.estimator_fields()})
        self.shots = est.shots
        return est


VQEEvolveOptions = make_dataclass(
    "VQEEvolveOptions",
    [
        (f.name, f.type, field(default=f.default, metadata=f.metadata))
        for f in fields(VQEOptions)
        if f.metadata.get("estimator")
    ],
    bases=(_TrotterOptions,),
    namespace={"__module__": __name__},
)
VQEEvolveOptions.__doc__ = """Options of ``manybody.evolve(..., backend="vqe")`` (Trotter circuits, :mod:`manybody.circuits.trotter`).

Attributes
----------
order : int or "auto"
    Product formula over the HVA's commuting term groups: 1 (Lie-Trotter), 2 or 4 (Suzuki);
    ``"auto"``: the order (1, 2, 4; 1, 2 with ``error_estimate="bound"``) whose schedule reaches
    ``trotter_error`` (within ``max_two_qubit_depth``) with the smallest two-qubit depth, or, if
    none does, the one with the smallest estimated error; ``info["trotter_order"]`` tells which.
trotter_error : float
    Tolerated error of the state, ``max_t ||psi_trotter(t) - psi(t)||`` (2-norm), which bounds
    every observable's error by ``2 ||O|| trotter_error``; sets the step ``dt`` unless ``dt`` is given.
dt : float or None
    The largest Trotter step (inverse units of the couplings); each interval between requested
    times is cut into ``ceil(interval / dt)`` equal steps.
error_estimate : str
    How ``dt`` is chosen for ``trotter_error``: ``"doubling"`` (halve the step on the compiled
    statevector simulation until the change of the states, divided by ``2^order - 1``, is below
    ``trotter_error`` at every time; needs at most ``MAX_SIMULATED_QUBITS`` qubits) or ``"bound"``
    (the a-priori commutator bound of Childs et al., Phys. Rev. X 11, 011020 (2021), orders 1 and 2,
    with operator norms bounded by Pauli 1-norms: rigorous and pessimistic).
max_two_qubit_depth : int or None
    Hardware cap on the two-qubit depth of the deepest (last) circuit, counted on the logical
    circuit as the initial state's plus the steps' two-qubit depths (before routing to a
    device). The step chosen for ``trotter_error`` is enlarged to fit; when the accuracy is then
    not reached, a ``UserWarning`` and ``info["notes"]`` give the error estimated at the steps
    that ran. With ``dt`` a schedule beyond the cap is refused.
estimator, shots, seed, noise_model, ibm_backend, channel, instance, mode, optimization_level,
resilience_level, measure_mitigation, zne, zne_noise_factors, twirling, dynamical_decoupling,
max_execution_time, record_dir
    As for :class:`VQEOptions`: the estimator that measures the circuits (IBM jobs are recorded).
"""
