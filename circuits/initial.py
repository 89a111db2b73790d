"""Initial states of the ansätze.

``"basis"``: the computational basis state of lowest diagonal energy among
those satisfying the constraints (ties: the one most connected by H) (Neel
for an antiferromagnet, a charge-density or Gauss-law vacuum for gauge
models, a filled configuration for Hubbard); ``"singlets"``: a product of
singlets ``(|01> - |10>)/sqrt 2`` on a perfect matching of the Hamiltonian's
bonds (spin models); ``"slater"``: for a fermionic Hamiltonian, the ground
state of its quadratic part with the particle numbers of the model's
constraints (half-filled Fermi sea for Hubbard), prepared with OpenFermion's
Givens-rotation network (``XXPlusYYGate`` + ``rz``); ``"zero"``:
``|0...0>``. ``"auto"`` picks, among the states available for the model,
the one of lowest energy (up to 20 qubits; beyond, the first of Slater,
singlets, basis that applies).

Each state is built by a function ``(model, groups) -> QuantumCircuit``
that raises ``ValueError`` (saying what to use instead) when the state does
not apply to the model; ``groups`` are the Hamiltonian's term groups
(:func:`manybody.circuits.terms.term_groups`).
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit.library import XXPlusYYGate
from qiskit.quantum_info import SparsePauliOp, Statevector

from manybody.circuits.terms import flip_set
from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.operators import of
from manybody.pauli import PauliGroups

__all__ = ["INITIAL_BUILDERS", "initial_circuit", "initial_bits"]

_MAX_ENUMERATE = 24
_AUTO_MAX_QUBITS = 20
_AUTO_ORDER = ("slater", "singlets", "basis")


def initial_bits(model) -> np.ndarray:
    """Bits of the constraint-satisfying basis state of lowest diagonal energy.

    Ties go to the state the Hamiltonian connects most strongly to others
    (largest ``sum_s' |<s'|H|s>|^2``, so that the HVA can move away from it;
    e.g. a flippable plaquette), then to the smallest integer.
    """
    problem = model.problem
    if problem.n_qubits > _MAX_ENUMERATE:
        raise ValueError(
            f"initial_state='basis' enumerates the sector, which is limited to {_MAX_ENUMERATE} qubits "
            f"(this model has {problem.n_qubits}); use initial_state='zero' or 'singlets'"
        )
    states = problem.sector().states
    energy = np.zeros(len(states))
    coupling = np.zeros(len(states))
    terms = {t: c for t, c in problem.hamiltonian.terms.items() if t}
    for xy, group in PauliGroups(terms).groups.items():
        amplitude = PauliGroups.amplitudes(states, group)
        if xy:
            coupling += np.abs(amplitude) ** 2
        else:
            energy += amplitude.real
    order = np.lexsort((states, -np.round(coupling, 9), np.round(energy, 9)))
    return (int(states[order[0]]) >> np.arange(problem.n_qubits)) & 1


def _singlet_pairs(model, groups) -> list[tuple[int, int]] | None:
    """A perfect matching of the qubits on two-qubit bonds of the Hamiltonian, if there is one."""
    bonds = sorted(
        {tuple(sorted(flip_set(u[0][0]))) for g in groups for u in g if len(flip_set(u[0][0])) == 2}
    )
    used: set[int] = set()
    pairs = []
    for i, j in bonds:
        if i not in used and j not in used:
            pairs.append((i, j))
            used |= {i, j}
    if len(used) != model.problem.n_qubits:
        return None
    for con in model.problem.constraints:
        if isinstance(con, ParityConstraint):
            return None
        w = dict(zip(con.qubits, con.weights))
        if any(w.get(i, 0.0) != w.get(j, 0.0) for i, j in pairs):
            return None
        if abs(sum(w.get(i, 0.0) for i, _ in pairs) - con.value) > 1e-9:
            return None
    return pairs


def _occupied_orbitals(model) -> np.ndarray | None:
    """Rows ``Q`` (N_f, n): lowest orbitals of the quadratic part in each number-constrained block.

    Reads the model's fermionic Hamiltonian (``model.hamiltonian``, a ``FermionOperator``), the
    only place the quadratic part is still explicit; None for other models.
    """
    ham = model.hamiltonian
    if not isinstance(ham, of().FermionOperator):
        return None
    n = model.problem.n_qubits
    h = np.zeros((n, n), dtype=complex)
    for term, c in ham.terms.items():
        if len(term) == 2 and term[0][1] == 1 and term[1][1] == 0:
            h[term[0][0], term[1][0]] += c
    blocks = [
        (list(c.qubits), int(round(c.value)))
        for c in model.problem.constraints
        if isinstance(c, LinearConstraint) and all(w == 1.0 for w in c.weights)
    ]
    covered = [q for qs, _ in blocks for q in qs]
    if not blocks or not np.any(h) or sorted(covered) != list(range(n)):
        return None
    rows = []
    for qs, count in blocks:
        others = [q for q in range(n) if q not in qs]
        if np.any(np.abs(h[np.ix_(qs, others)]) > 1e-12):
            return None
        _, vecs = np.linalg.eigh(h[np.ix_(qs, qs)])
        for k in range(count):
            row = np.zeros(n, dtype=complex)
            row[qs] = vecs[:, k]
            rows.append(row)
    return np.array(rows) if rows else None


def _zero(model, groups) -> QuantumCircuit:
    return QuantumCircuit(model.problem.n_qubits)


def _basis(model, groups) -> QuantumCircuit:
    qc = QuantumCircuit(model.problem.n_qubits)
    for q, b in enumerate(initial_bits(model)):
        if b:
            qc.x(q)
    return qc


def _singlets(model, groups) -> QuantumCircuit:
    pairs = _singlet_pairs(model, groups)
    if pairs is None:
        raise ValueError(
            "initial_state='singlets' needs a perfect matching of the qubits on two-qubit bonds "
            "compatible with the constraints; use initial_state='basis'"
        )
    qc = QuantumCircuit(model.problem.n_qubits)
    for i, j in pairs:
        qc.x(j)
        qc.h(i)
        qc.cx(i, j)
        qc.z(i)
    return qc


def _slater(model, groups) -> QuantumCircuit:
    """Givens network of ``openfermion.slater_determinant_preparation_circuit`` from ``|1..10..0>``."""
    orbitals = _occupied_orbitals(model)
    if orbitals is None:
        raise ValueError(
            "initial_state='slater' needs a FermionOperator Hamiltonian with a hopping part and "
            "particle-number constraints that split the modes; use initial_state='basis'"
        )
    qc = QuantumCircuit(model.problem.n_qubits)
    for q in range(len(orbitals)):
        qc.x(q)
    for layer in of().slater_determinant_preparation_circuit(orbitals):
        for i, j, theta, phi in layer:
            qc.append(XXPlusYYGate(2 * theta, -np.pi / 2), [i, j])
            qc.rz(phi, j)
    return qc


INITIAL_BUILDERS = {"zero": _zero, "basis": _basis, "singlets": _singlets, "slater": _slater}

_AVAILABLE = {
    "slater": lambda model, groups: _occupied_orbitals(model) is not None,
    "singlets": lambda model, groups: _singlet_pairs(model, groups) is not None,
    "basis": lambda model, groups: True,
}


def initial_circuit(model, kind: str, groups) -> tuple[QuantumCircuit, str]:
    """The initial-state circuit called ``kind`` (``"auto"`` resolved) and its resolved name."""
    if kind != "auto":
        return INITIAL_BUILDERS[kind](model, groups), kind
    candidates = [k for k in _AUTO_ORDER if _AVAILABLE[k](model, groups)]
    if len(candidates) == 1 or model.problem.n_qubits > _AUTO_MAX_QUBITS:
        return INITIAL_BUILDERS[candidates[0]](model, groups), candidates[0]
    terms = [(t, c) for g in groups for u in g for t, c in u]
    H = SparsePauliOp.from_sparse_list(
        [("".join(p for _, p in t), [q for q, _ in t], c) for t, c in terms], model.problem.n_qubits
    )
    built = [INITIAL_BUILDERS[k](model, groups) for k in candidates]
    energies = [Statevector(qc).expectation_value(H).real for qc in built]
    best = int(np.argmin(np.round(energies, 10)))
    return built[best], candidates[best]
