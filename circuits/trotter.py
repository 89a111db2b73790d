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
transpilation and layout, one estimator call (IBM: one job) per time, the job ids in
``info["job_ids"]``.
"""

from __future__ import annotations

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
    adapter : EstimatorAdapter or None
        The estimator that runs :meth:`circuit` otherwise.
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
    adapter: EstimatorAdapter | None = field(default=None, repr=False)
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
        ops = [op for op, _ in compiled]
        adapter = self.adapter
        n_jobs = len(adapter.job_ids)
        evs, stds = adapter.run(self.circuit(), ops, np.zeros((1, 0)), purpose="evolve")
        if adapter.job_ids:
            self.info.setdefault("job_ids", []).extend(adapter.job_ids[n_jobs:])
        shots = None if adapter.exact else adapter.opts.shots
        return [Estimate(mean=float(m), error=float(s), n_samples=shots) for m, s in zip(evs[0], stds[0])]

    def _compiled(self, model, k: int, op) -> tuple[SparsePauliOp, PauliOperator | None]:
        """``op`` as a ``SparsePauliOp`` and, on the state vector, the Pauli kernel (cached)."""
        if id(op) not in self.operators:
            sparse = to_sparse_pauli_op(op, model.problem.n_qubits, name=f"observable {k}")
            kernel = PauliOperator(sparse) if self.psi is not None else None
            self.operators[id(op)] = (op, sparse, kernel)  # op kept alive: its id stays unique
        return self.operators[id(op)][1:]


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


def _doubling(step, psi0, times, order, tol, counts):
    """Double every step count until the Richardson error estimate is below ``tol`` at every time."""
    states = _run(step, psi0, times, counts)
    for _ in range(_MAX_DOUBLINGS):
        counts = 2 * counts
        finer = _run(step, psi0, times, counts)
        errors = [np.linalg.norm(a - b) / (2**order - 1) for a, b in zip(finer, states)]
        states = finer
        if max(errors) <= tol:
            return counts, states, errors
    raise RuntimeError(
        f"the Trotter error estimate {max(errors):.3g} is still above trotter_error={tol:g} after "
        f"{_MAX_DOUBLINGS} doublings ({counts.sum()} steps); ask for a larger trotter_error or a higher order"
    )


def _schedule(model, step, times, options, psi0):
    """Step counts per interval, the states if the doubling check computed them, and error estimates."""
    intervals = _intervals(times)
    if options.dt is not None:
        return step_counts(times, options.dt), None, None
    if times[-1] == 0:
        return np.zeros(len(times), dtype=int), None, None
    if options.error_estimate == "bound":
        alpha = commutator_bound(step.groups, options.order)
        h = (options.trotter_error / (alpha * times[-1])) ** (1 / options.order) if alpha else times[-1]
        return step_counts(times, h), None, None
    memory = 2 * len(times) * 16 * 2**model.problem.n_qubits
    if model.problem.n_qubits > MAX_SIMULATED_QUBITS or memory > _MEMORY_LIMIT:
        raise ValueError(
            f"error_estimate='doubling' simulates the {model.problem.n_qubits}-qubit states at all "
            f"{len(times)} times ({memory / 2**30:.1f} GiB); use error_estimate='bound', dt, or fewer times"
        )
    start = np.ceil(intervals * _local_scale(step.groups) - 1e-9).astype(int)
    return _doubling(step, psi0, times, options.order, options.trotter_error, start)


def evolve(model, initial, times, options):
    """Yield a :class:`~manybody.evolution.Snapshot` with a :class:`TrotterState` at each time.

    ``info`` per time: ``trotter_steps`` (total up to that time), ``dt`` (the largest step),
    ``trotter_order``, ``step_depth`` and ``two_qubit_gates`` (of the logical circuit), and
    ``trotter_error_estimate`` (doubling), ``loschmidt_echo`` (statevector), ``estimator``,
    ``shots`` and the ISA depth and ``job_ids`` (IBM) of the estimator.
    """
    n = model.problem.n_qubits
    est = options.estimator_options()
    step = TrotterStep(group_operators(model), options.order)
    initial_qc = _initial_circuit(model, initial)
    psi0 = np.ascontiguousarray(Statevector(initial_qc).data) if n <= MAX_SIMULATED_QUBITS else None
    adapter = EstimatorAdapter(est.estimator, est, n)
    try:
        counts, states, errors = _schedule(model, step, times, options, psi0)
        if est.estimator == "statevector" and states is None:
            states = _run(step, psi0, times, counts)
        intervals = _intervals(times)
        dts = np.divide(intervals, counts, out=np.zeros_like(intervals), where=counts > 0)
        operators: dict = {}
        one = step.bound(1.0)
        step_depth, step_cx = one.depth(), two_qubit_count(one)
        for k, t in enumerate(times):
            info = {
                "trotter_order": options.order,
                "trotter_steps": int(counts[: k + 1].sum()),
                "dt": float(dts[: k + 1].max()),
                "step_depth": step_depth,
                "two_qubit_gates": two_qubit_count(initial_qc) + step_cx * int(counts[: k + 1].sum()),
                "estimator": est.estimator,
                "shots": est.shots,
            }
            if errors is not None:
                info["trotter_error_estimate"] = float(errors[k])
            state = TrotterState(
                float(t), counts[: k + 1], dts[: k + 1], initial_qc, step, info=info, operators=operators
            )
            if est.estimator == "statevector":
                state.psi = states[k]
                info["loschmidt_echo"] = float(abs(np.vdot(psi0, states[k])) ** 2)
            else:
                state.adapter = adapter
                if adapter.target is not None:
                    isa = adapter.isa(state.circuit())
                    info.update(isa_depth=isa.depth(), isa_two_qubit_gates=two_qubit_count(isa))
                if est.estimator == "ibm":
                    info["job_ids"] = []
            yield Snapshot(float(t), state, info)
    finally:
        adapter.close()
