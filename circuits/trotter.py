"""Real-time evolution with Trotter-Suzuki circuits (``manybody.evolve(..., backend="vqe")``).

The Hamiltonian ``H = sum_g H_g`` is split into the commuting term groups of the
Hamiltonian-variational ansatz (:func:`manybody.circuits.terms.term_groups`: even and
odd bonds of a chain, the diagonal terms last), and one Trotter step of length ``h`` is
Qiskit's ``PauliEvolutionGate([H_1, ..., H_G], h)`` synthesised by ``LieTrotter``
(order 1: ``prod_g exp(-i h H_g)``) or ``SuzukiTrotter`` (orders 2 and 4: the
symmetric products), decomposed into ``rxx, ryy, rzz, rz, ...`` rotations before any
simulation, so the Trotter error is that of the circuits that run on a device. Each
group is a sum of commuting Pauli terms, so its exponential is exact.

Step schedule
-------------
The interval between consecutive requested times ``t_{k-1}, t_k`` is cut into
``n_k`` equal steps of at most ``dt``; the circuit of time ``t_k`` is the initial
state followed by the steps of all intervals up to ``t_k``. The statevector path
applies the same steps incrementally, so both paths give the same state.

Choosing ``dt`` for ``trotter_error`` (the tolerated ``max_t ||psi_trotter(t) - psi(t)||``)
---------------------------------------------------------------------------------------
``error_estimate="doubling"``: all step counts are doubled, on the compiled statevector
simulation (:mod:`manybody.circuits.statevector`), until the states at every requested
time change by less than ``(2^order - 1) trotter_error`` (Richardson: the change of
the states divided by ``2^order - 1`` estimates the error of the finer run, which is
the one used). ``error_estimate="bound"``: the commutator bounds of Childs, Su, Tran,
Wiebe and Zhu, Phys. Rev. X 11, 011020 (2021), ``||S_1(h) - e^{-ihH}|| <= h^2/2
sum_g ||[sum_{g'>g} H_g', H_g]||`` and the corresponding ``h^3`` bound of the
second-order formula with nested commutators, with operator norms bounded by the Pauli
1-norms of the commutators (computed exactly as Pauli sums): rigorous, pessimistic.

Measurement
-----------
With ``estimator="statevector"`` the states are exact vectors (observables by the
core Pauli kernel, Loschmidt echo for free). With ``"qiskit_statevector"``, ``"aer"``
(optionally with a device noise model) or ``"ibm"`` (devices, fake backends; resilience
options; every job recorded, :mod:`manybody.circuits.records`) each time's circuit is
run through the VQE's :class:`~manybody.circuits.estimators.EstimatorAdapter`: ISA
transpilation and layout, and the circuits of all times as the PUBs of one estimator call
(IBM: one job for the whole evolution, recorded with one PUB per time; its id in every
time's ``info["job_ids"]``). The observables passed to the first ``expect`` during the
evolution are measured at every time at once; an ``expect`` with other observables, or after
the evolution, measures its own state only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import PauliEvolutionGate
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.synthesis import LieTrotter, SuzukiTrotter

from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.estimators import EstimatorAdapter, two_qubit_count
from manybody.circuits.gradient import shift_form
from manybody.circuits.options import MAX_SIMULATED_QUBITS
from manybody.circuits.statevector import CompiledCircuit, PauliOperator
from manybody.circuits.terms import term_groups
from manybody.evolution import Snapshot
from manybody.observables import Estimate

__all__ = [
    "group_operators",
    "TrotterStep",
    "step_counts",
    "commutator_bound",
    "two_qubit_depth",
    "TrotterState",
    "evolve",
]

_MAX_DOUBLINGS = 14
_MEMORY_LIMIT = 2**32  # bytes of stored states of the doubling check


def group_operators(model) -> list[SparsePauliOp]:
    """The HVA's commuting term groups of ``model.problem.hamiltonian`` as Pauli sums (constant dropped)."""
    n = model.problem.n_qubits
    groups = term_groups(model.problem.hamiltonian)
    if not groups:
        raise ValueError(f"model {model.problem.name!r} has a constant Hamiltonian: nothing evolves")
    return [
        SparsePauliOp.from_sparse_list(
            [("".join(p for _, p in t), [q for q, _ in t], c) for unit in g for t, c in unit], n
        )
        for g in groups
    ]


class TrotterStep:
    """One product-formula step ``S(h)`` as a circuit, and its compiled statevector form.

    Parameters
    ----------
    groups : list of SparsePauliOp
        Commuting groups ``H_g`` in their order in the product.
    order : int
        1 (``LieTrotter``), 2 or 4 (``SuzukiTrotter``).
    """

    def __init__(self, groups: list[SparsePauliOp], order: int):
        self.groups = groups
        self.order = order
        self.tau = Parameter("h")
        synthesis = LieTrotter() if order == 1 else SuzukiTrotter(order=order)
        self.circuit = PauliEvolutionGate(groups, time=self.tau, synthesis=synthesis).definition
        self._shift = None
        self._compiled = None
        self._unitaries: dict[float, list] = {}

    def bound(self, h: float) -> QuantumCircuit:
        """The decomposed step circuit for step length ``h``."""
        return self.circuit.assign_parameters({self.tau: h})

    def apply(self, psi: np.ndarray, h: float, n: int) -> np.ndarray:
        """``S(h)^n psi`` on the compiled statevector simulator (fused two-qubit blocks).

        The step's block matrices are computed once per ``h``
        (:meth:`CompiledCircuit.block_matrices`) and applied ``n`` times
        (:meth:`CompiledCircuit.apply`).
        """
        if self._compiled is None:
            self._shift = shift_form(self.circuit)
            self._compiled = CompiledCircuit(self._shift.circuit, simulate_prefix=False)
        if h not in self._unitaries:
            self._unitaries[h] = self._compiled.block_matrices(self._shift.angles([h]))
        for _ in range(n):
            psi = self._compiled.apply(psi, self._unitaries[h])
        return psi


def _intervals(times: np.ndarray) -> np.ndarray:
    """``t_k - t_{k-1}`` with ``t_{-1} = 0``."""
    return np.diff(np.concatenate([[0.0], times]))


def step_counts(times: np.ndarray, dt: float) -> np.ndarray:
    """Steps per interval ``[t_{k-1}, t_k]`` (from ``t_{-1} = 0``) for steps of at most ``dt``."""
    return np.ceil(_intervals(times) / dt - 1e-9).astype(int)


def _norm1(op: SparsePauliOp) -> float:
    """Pauli 1-norm, an upper bound of the operator norm."""
    return float(np.abs(op.simplify(atol=1e-13).coeffs).sum())


def _comm(a: SparsePauliOp, b: SparsePauliOp) -> SparsePauliOp:
    return (a @ b - b @ a).simplify(atol=1e-13)


def commutator_bound(groups: list[SparsePauliOp], order: int) -> float:
    """``alpha`` with ``||S(h) - exp(-i h H)|| <= alpha h^(order + 1)`` (Childs et al. 2021; orders 1, 2).

    Order 1: ``alpha = 1/2 sum_g ||[B_g, H_g]||``; order 2: ``alpha = 1/12 sum_g
    ||[B_g, [B_g, H_g]]|| + 1/24 sum_g ||[H_g, [H_g, B_g]]||``, with ``B_g = sum_{g'>g} H_g'``
    and ``||.||`` bounded by the Pauli 1-norm.
    """
    if order not in (1, 2):
        raise ValueError(f"the commutator bound is implemented for order 1 and 2, got {order}")
    alpha = 0.0
    for g in range(len(groups) - 1):
        a, b = groups[g], SparsePauliOp.sum(groups[g + 1 :])
        inner = _comm(b, a)
        if order == 1:
            alpha += _norm1(inner) / 2
        else:
            alpha += _norm1(_comm(b, inner)) / 12 + _norm1(_comm(a, _comm(a, b))) / 24
    return alpha


def _local_scale(groups: list[SparsePauliOp]) -> float:
    """``max_q sum_{t acts on q} |c_t|``: the largest energy scale seen by one qubit."""
    n = groups[0].num_qubits
    weight = np.zeros(n)
    for op in groups:
        support = op.paulis.x | op.paulis.z
        weight += np.abs(op.coeffs) @ support
    return float(weight.max())


@dataclass
class TrotterState:
    """The evolved state at ``time``: the Trotter circuit and how it is measured.

    Attributes
    ----------
    time : float
    steps : ndarray of int
        Trotter steps of each interval up to ``time`` (see the module docstring).
    dt : ndarray
        The step length of each interval.
    psi : ndarray or None
        The state vector (``estimator="statevector"``).
    measurements : _Measurements or None
        What runs :meth:`circuit` otherwise (shared by the states of one evolution).
    info : dict
        The snapshot's info; the jobs that measure this state add their ids to ``info["job_ids"]``.
    operators : dict
        Compiled observables by ``id`` of the qubit operator, shared by the states of one evolution.
    """

    time: float
    steps: np.ndarray
    dt: np.ndarray
    initial: QuantumCircuit = field(repr=False)
    step: TrotterStep = field(repr=False)
    psi: np.ndarray | None = field(default=None, repr=False)
    measurements: _Measurements | None = field(default=None, repr=False)
    info: dict = field(default_factory=dict, repr=False)
    operators: dict = field(default_factory=dict, repr=False)
    _circuit: QuantumCircuit | None = field(default=None, repr=False)

    def circuit(self) -> QuantumCircuit:
        """The whole circuit: initial state, then every step (decomposed, parameters bound)."""
        if self._circuit is None:
            qc = self.initial.copy()
            for h, n in zip(self.dt, self.steps):
                block = self.step.bound(float(h))
                for _ in range(int(n)):
                    qc.compose(block, inplace=True)
            self._circuit = qc
        return self._circuit

    def expect(self, model, operators) -> list[Estimate]:
        """Estimates of Hermitian qubit operators (exact on the state vector, else one estimator call)."""
        compiled = [self._compiled(model, k, op) for k, op in enumerate(operators)]
        if not compiled:
            return []
        if self.psi is not None:
            return [Estimate(mean=float(kernel.expectation(self.psi)), error=0.0) for _, kernel in compiled]
        evs, stds = self.measurements.measure(self, [op for op, _ in compiled])
        shots = self.info["shots"]
        return [Estimate(mean=float(m), error=float(s), n_samples=shots) for m, s in zip(evs, stds)]

    def _compiled(self, model, k: int, op) -> tuple[SparsePauliOp, PauliOperator | None]:
        """``op`` as a ``SparsePauliOp`` and, on the state vector, the Pauli kernel (cached)."""
        if id(op) not in self.operators:
            sparse = to_sparse_pauli_op(op, model.problem.n_qubits, name=f"observable {k}")
            kernel = PauliOperator(sparse) if self.psi is not None else None
            self.operators[id(op)] = (op, sparse, kernel)  # op kept alive: its id stays unique
        return self.operators[id(op)][1:]


class _Measurements:
    """The estimator runs of one evolution's states (``estimator`` other than ``"statevector"``).

    While the evolution runs (``open``), the first ``measure`` of a list of operators runs the
    circuits of all times as the PUBs of one estimator call (one IBM job) and keeps the values
    for the other times; after it, or for operators not measured yet, one state is run alone.
    """

    def __init__(self, adapter: EstimatorAdapter, states: list[TrotterState]):
        self.adapter = adapter
        self.states = states
        self.open = True
        self._values: dict[tuple, dict[int, tuple]] = {}  # operator ids -> state id -> (evs, stds)

    def measure(self, state: TrotterState, ops: list[SparsePauliOp]) -> tuple[np.ndarray, np.ndarray]:
        """``evs, stds`` (K,) of ``ops`` on ``state`` (the operators are kept alive by the states)."""
        values = self._values.setdefault(tuple(id(op) for op in ops), {})
        if id(state) not in values:
            targets = self.states if self.open else [state]
            n_jobs = len(self.adapter.job_ids)
            results = self.adapter.run_pubs(
                [(s.circuit(), ops, np.zeros((1, 0))) for s in targets], purpose="evolve"
            )
            for s, (evs, stds) in zip(targets, results):
                values[id(s)] = (evs[0], stds[0])
                if self.adapter.job_ids:
                    s.info.setdefault("job_ids", []).extend(self.adapter.job_ids[n_jobs:])
        return values[id(state)]


def _initial_circuit(model, initial) -> QuantumCircuit:
    if initial.result is not None:
        result = initial.result
        return result.state.circuit(result.model_object)
    qc = QuantumCircuit(model.problem.n_qubits)
    for q, b in enumerate(initial.bits):
        if b:
            qc.x(q)
    return qc


def _run(step: TrotterStep, psi0: np.ndarray, times, counts) -> list[np.ndarray]:
    """The states at ``times`` with ``counts`` steps per interval."""
    psi, out, now = psi0, [], 0.0
    for t, n in zip(times, counts):
        if n:
            psi = step.apply(psi, (t - now) / n, int(n))
        now = t
        out.append(psi)
    return out


def _doubling(step, psi0, times, order, tol, counts, max_steps):
    """Double every step count until the Richardson error estimate is below ``tol`` at every time.

    Returns ``(counts, states, errors)``, or None when that would need more than ``max_steps``
    steps (None: no cap).
    """
    states = _run(step, psi0, times, counts)
    for _ in range(_MAX_DOUBLINGS):
        if max_steps is not None and 2 * counts.sum() > max_steps:
            return None
        counts = 2 * counts
        finer = _run(step, psi0, times, counts)
        errors = _richardson(finer, states, order)
        states = finer
        if max(errors) <= tol:
            return counts, states, errors
    raise RuntimeError(
        f"the Trotter error estimate {max(errors):.3g} is still above trotter_error={tol:g} after "
        f"{_MAX_DOUBLINGS} doublings ({counts.sum()} steps); ask for a larger trotter_error or a higher order"
    )


def _richardson(finer, coarser, order) -> list[float]:
    """The error of the finer states (twice the steps of the coarser ones) at every time."""
    return [float(np.linalg.norm(a - b)) / (2**order - 1) for a, b in zip(finer, coarser)]


def two_qubit_depth(circuit: QuantumCircuit) -> int:
    """Depth of ``circuit`` counting only gates on two or more qubits."""
    return circuit.depth(filter_function=lambda inst: inst.operation.num_qubits >= 2)


def _capped_counts(times, max_steps: int) -> np.ndarray:
    """Even step counts per interval (``2 step_counts(times, 2h)``) with the smallest step ``h``
    whose total fits in ``max_steps``; one step per interval if even counts do not fit."""
    needed = int(np.count_nonzero(_intervals(times) > 0))
    if max_steps < 2 * needed:
        return step_counts(times, times[-1])
    low, high = times[-1] / max_steps, times[-1]  # high fits: two steps per interval
    for _ in range(60):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if 2 * step_counts(times, 2 * mid).sum() > max_steps else (low, mid)
    return 2 * step_counts(times, 2 * high)


def _bound_errors(alpha, times, counts, order) -> list[float]:
    """The commutator bound ``alpha sum_i n_i h_i^(order + 1)`` of the state error up to each time."""
    intervals = _intervals(times)
    h = np.divide(intervals, counts, out=np.zeros_like(intervals), where=counts > 0)
    return list(alpha * np.cumsum(counts * h ** (order + 1)))


def _schedule(model, step, order, times, options, psi0, max_steps):
    """Step counts per interval, the states if the doubling check computed them, error estimates,
    and a note if ``trotter_error`` was not reached within ``max_steps`` steps (None: no cap)."""
    intervals = _intervals(times)
    if options.dt is not None:
        counts = step_counts(times, options.dt)
        if max_steps is not None and counts.sum() > max_steps:
            raise ValueError(
                f"dt={options.dt:g} needs {counts.sum()} Trotter steps, more than the {max_steps} that "
                f"max_two_qubit_depth={options.max_two_qubit_depth} allows; give a larger dt or drop dt "
                "(the step is then chosen within the cap)"
            )
        return counts, None, None, None
    if times[-1] == 0:
        return np.zeros(len(times), dtype=int), None, None, None
    tol = options.trotter_error
    if options.error_estimate == "bound":
        alpha = commutator_bound(step.groups, order)
        h = (tol / (alpha * times[-1])) ** (1 / order) if alpha else times[-1]
        counts = step_counts(times, h)
        if max_steps is None or counts.sum() <= max_steps:
            return counts, None, _bound_errors(alpha, times, counts, order), None
        counts = _capped_counts(times, max_steps)
        errors = _bound_errors(alpha, times, counts, order)
    else:
        memory = 2 * len(times) * 16 * 2**model.problem.n_qubits
        if model.problem.n_qubits > MAX_SIMULATED_QUBITS or memory > _MEMORY_LIMIT:
            raise ValueError(
                f"error_estimate='doubling' simulates the {model.problem.n_qubits}-qubit states at all "
                f"{len(times)} times ({memory / 2**30:.1f} GiB); use error_estimate='bound', dt, or fewer times"
            )
        start = np.ceil(intervals * _local_scale(step.groups) - 1e-9).astype(int)
        if max_steps is None or start.sum() <= max_steps:
            found = _doubling(step, psi0, times, order, tol, start, max_steps)
            if found is not None:
                return (*found, None)
        counts = _capped_counts(times, max_steps)
        states = _run(step, psi0, times, counts)
        coarser = _run(step, psi0, times, counts // 2) if np.all(counts % 2 == 0) else None
        errors = _richardson(states, coarser, order) if coarser is not None else None
    if errors is not None and max(errors) <= tol:
        return counts, None if options.error_estimate == "bound" else states, errors, None
    estimate = f"estimated error {max(errors):.2g}" if errors is not None else "error not estimated"
    note = (
        f"trotter_error={tol:g} is not reached within max_two_qubit_depth={options.max_two_qubit_depth}: "
        f"ran {counts.sum()} steps of order {order} (dt up to {np.max(intervals / np.maximum(counts, 1)):.3g}), "
        f"{estimate}; allow a larger depth, a larger trotter_error, or another order"
    )
    return counts, None if options.error_estimate == "bound" else states, errors, note


def _max_steps(options, times, init_depth: int, step_depth: int) -> int | None:
    """The most Trotter steps within ``options.max_two_qubit_depth`` (None: no cap)."""
    cap = options.max_two_qubit_depth
    if cap is None or step_depth == 0:
        return None
    n_max = (cap - init_depth) // step_depth
    needed = int(np.count_nonzero(_intervals(times) > 0))
    if n_max < needed:
        raise ValueError(
            f"max_two_qubit_depth={cap} leaves room for {max(n_max, 0)} Trotter steps (two-qubit depth "
            f"{init_depth} for the initial state, {step_depth} per step), but the {needed} time "
            "intervals need at least one step each"
        )
    return n_max


@dataclass
class _Plan:
    """A product formula and its step schedule (see :func:`_schedule`)."""

    step: TrotterStep
    counts: np.ndarray
    states: list | None
    errors: list | None
    note: str | None
    init_depth: int
    step_depth: int  # two-qubit depth of one step

    @property
    def depth(self) -> int:
        """Two-qubit depth of the last time's circuit."""
        return self.init_depth + self.step_depth * int(self.counts.sum())


AUTO_ORDERS = {"doubling": (1, 2, 4), "bound": (1, 2)}


def _plan(model, groups, order, times, options, psi0, init_depth) -> _Plan:
    step = TrotterStep(groups, order)
    step_depth = two_qubit_depth(step.bound(1.0))
    max_steps = _max_steps(options, times, init_depth, step_depth)
    counts, states, errors, note = _schedule(model, step, order, times, options, psi0, max_steps)
    return _Plan(step, counts, states, errors, note, init_depth, step_depth)


def _choose_plan(model, initial_qc, times, options, psi0) -> _Plan:
    """The plan of ``options.order``; with ``"auto"`` the order whose schedule reaches
    ``trotter_error`` with the smallest two-qubit depth (none does: the smallest estimated error)."""
    groups = group_operators(model)
    init_depth = two_qubit_depth(initial_qc)
    if options.order != "auto":
        return _plan(model, groups, options.order, times, options, psi0, init_depth)
    plans, failures = [], []
    for order in AUTO_ORDERS[options.error_estimate]:
        try:
            plans.append(_plan(model, groups, order, times, options, psi0, init_depth))
        except (ValueError, RuntimeError) as err:
            failures.append(f"order {order}: {err}")
    if not plans:
        raise ValueError("order='auto' found no usable order: " + "; ".join(failures))
    reached = [p for p in plans if p.note is None]
    if reached:
        return min(reached, key=lambda p: p.depth)
    return min(plans, key=lambda p: max(p.errors) if p.errors is not None else np.inf)


def evolve(model, initial, times, options):
    """Yield a :class:`~manybody.evolution.Snapshot` with a :class:`TrotterState` at each time.

    ``info`` per time: ``trotter_steps`` (total up to that time), ``dt`` (the largest step),
    ``trotter_order``, ``step_depth`` and ``two_qubit_gates`` (of the logical circuit), and
    ``trotter_error_estimate`` (doubling), ``loschmidt_echo`` (statevector), ``estimator``,
    ``shots`` and the ISA depth and ``job_ids`` (IBM) of the estimator.
    """
    n = model.problem.n_qubits
    est = options.estimator_options()
    initial_qc = _initial_circuit(model, initial)
    psi0 = np.ascontiguousarray(Statevector(initial_qc).data) if n <= MAX_SIMULATED_QUBITS else None
    adapter = EstimatorAdapter(est.estimator, est, n)
    try:
        plan = _choose_plan(model, initial_qc, times, options, psi0)
        step, counts, states_sv, errors, note = plan.step, plan.counts, plan.states, plan.errors, plan.note
        one = step.bound(1.0)
        step_depth, step_cx = one.depth(), two_qubit_count(one)
        if note is not None:
            warnings.warn(note, stacklevel=3)  # at the user's manybody.evolve call
        if est.estimator == "statevector" and states_sv is None:
            states_sv = _run(step, psi0, times, counts)
        intervals = _intervals(times)
        dts = np.divide(intervals, counts, out=np.zeros_like(intervals), where=counts > 0)
        operators: dict = {}
        states = []
        for k, t in enumerate(times):
            n_steps = int(counts[: k + 1].sum())
            info = {
                "trotter_order": step.order,
                "trotter_steps": n_steps,
                "dt": float(dts[: k + 1].max()),
                "step_depth": step_depth,
                "two_qubit_gates": two_qubit_count(initial_qc) + step_cx * n_steps,
                "two_qubit_depth": plan.init_depth + plan.step_depth * n_steps,
                "estimator": est.estimator,
                "shots": est.shots,
            }
            if errors is not None:
                info["trotter_error_estimate"] = float(errors[k])
            if note is not None:
                info["notes"] = [note]
            state = TrotterState(
                float(t), counts[: k + 1], dts[: k + 1], initial_qc, step, info=info, operators=operators
            )
            if est.estimator == "statevector":
                state.psi = states_sv[k]
                info["loschmidt_echo"] = float(abs(np.vdot(psi0, states_sv[k])) ** 2)
            else:
                if adapter.target is not None:
                    isa = adapter.isa(state.circuit())
                    info.update(isa_depth=isa.depth(), isa_two_qubit_gates=two_qubit_count(isa))
                if est.estimator == "ibm":
                    info["job_ids"] = []
            states.append(state)
        measurements = _Measurements(adapter, states)
        for state in states:
            if state.psi is None:
                state.measurements = measurements
            yield Snapshot(state.time, state, state.info)
        measurements.open = False
    finally:
        adapter.close()
