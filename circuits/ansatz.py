"""Parametrized circuits: Hamiltonian-variational, hardware-efficient, number-preserving.

The Hamiltonian-variational ansatz (HVA) is built from the model's qubit
Hamiltonian alone, so it serves every model: its term groups
(:mod:`manybody.circuits.terms`) give the layers, ``exp(-i theta_g H_g)`` for
every group (one angle per group), or one angle per unit with
``multi_angle=True``; two-qubit ``a XX + b YY + c ZZ`` units are synthesised
with 3 CX, other units as products of Pauli rotations (exact: a unit's terms
commute). Where the plain HVA landscape is flat, the phase partners of the
units are added (see :mod:`manybody.circuits.terms`). A unit that keeps every
constraint (:mod:`manybody.circuits.symmetry`) keeps the state in the
sector, which makes the HVA gauge invariant for gauge models started from a
Gauss-law state. Initial states: :mod:`manybody.circuits.initial`.

``ANSATZ_BUILDERS`` maps each name of ``manybody.circuits.options.ANSATZE`` to
``(model, spec, groups) -> (circuit, preserves_constraints)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import PauliEvolutionGate, XXPlusYYGate, efficient_su2
from qiskit.quantum_info import SparsePauliOp

from manybody.circuits.initial import initial_circuit
from manybody.circuits.symmetry import unit_preserves
from manybody.circuits.terms import flip_set, needs_phase_partners, phase_partners, term_groups

__all__ = ["ANSATZ_BUILDERS", "AnsatzSpec", "Ansatz", "build_ansatz"]


@dataclass(frozen=True)
class AnsatzSpec:
    """Everything needed to rebuild an ansatz circuit for a model (JSON-able).

    Attributes
    ----------
    kind : str
        One of ``manybody.circuits.options.ANSATZE``.
    reps : int
        Number of layers.
    initial_state : str
        ``"basis"``, ``"singlets"``, ``"slater"`` or ``"zero"`` (``"auto"`` is resolved by
        :func:`build_ansatz`).
    multi_angle : bool
        HVA: one angle per unit (bond) instead of one per group.
    """

    kind: str
    reps: int
    initial_state: str = "auto"
    multi_angle: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Ansatz:
    """A built ansatz: the circuit and facts about it."""

    spec: AnsatzSpec
    circuit: QuantumCircuit
    preserves_constraints: bool
    n_groups: int

    @property
    def n_parameters(self) -> int:
        return self.circuit.num_parameters


def _canonical_coefficients(unit) -> tuple[int, int, float, float, float] | None:
    """``(i, j, a, b, c)`` if the unit is ``a XX + b YY + c ZZ`` on qubits i < j (with XX or YY), else None."""
    coeff = {"X": 0.0, "Y": 0.0, "Z": 0.0}
    pairs = set()
    for term, c in unit:
        if len(term) != 2 or term[0][1] != term[1][1]:
            return None
        pairs.add((term[0][0], term[1][0]))
        coeff[term[0][1]] += c
    if len(pairs) != 1 or not (coeff["X"] or coeff["Y"]):
        return None
    ((i, j),) = pairs
    return i, j, coeff["X"], coeff["Y"], coeff["Z"]


def _append_canonical(qc: QuantumCircuit, i: int, j: int, a, b, c) -> None:
    """``exp(-i (a XX + b YY + c ZZ))`` with 3 CX (Vatan and Williams, Phys. Rev. A 69, 032315 (2004)).

    Up to a global phase; checked against the matrix exponential in the tests.
    """
    qc.rz(-np.pi / 2, j)
    qc.cx(j, i)
    qc.rz(2 * c + np.pi / 2, i)
    qc.ry(-np.pi / 2 - 2 * a, j)
    qc.cx(i, j)
    qc.ry(2 * b + np.pi / 2, j)
    qc.cx(j, i)
    qc.rz(np.pi / 2, i)


def _hva(model, spec, groups) -> QuantumCircuit:
    """Layers of ``exp(-i theta H_unit)`` (or ``H_group``); two-qubit XX+YY+ZZ units use 3 CX."""
    n = model.problem.n_qubits
    blocks = [[u] for g in groups for u in g] if spec.multi_angle else [list(g) for g in groups]
    theta = ParameterVector("θ", spec.reps * len(blocks))
    qc = QuantumCircuit(n)
    k = 0
    for _ in range(spec.reps):
        for block in blocks:
            for unit in block:
                canonical = _canonical_coefficients(unit)
                if canonical is not None:
                    i, j, a, b, c = canonical
                    _append_canonical(qc, i, j, a * theta[k], b * theta[k], c * theta[k])
                else:
                    support = sorted({q for t, _ in unit for q, _ in t})
                    local = {q: m for m, q in enumerate(support)}
                    op = SparsePauliOp.from_sparse_list(
                        [("".join(p for _, p in t), [local[q] for q, _ in t], c) for t, c in unit],
                        len(support),
                    )
                    # synthesised (Lie-Trotter, exact here: the unit's terms commute), not a matrix exponential
                    qc.compose(PauliEvolutionGate(op, time=theta[k]).definition, support, inplace=True)
            k += 1
    return qc


def _number_preserving(model, spec, groups) -> QuantumCircuit:
    n = model.problem.n_qubits
    pairs = []
    for g in groups:
        for u in g:
            f = tuple(sorted(flip_set(u[0][0])))
            hop = [(((f[0], p), (f[1], p)), 1.0) for p in "XY"] if len(f) == 2 else None
            if hop and unit_preserves(hop, model.problem.constraints):
                pairs.append(f)
    if not pairs:
        raise ValueError(
            "ansatz='number_preserving' needs two-qubit hopping terms that conserve the constraints"
        )
    layers: list[list] = []
    for p in pairs:
        for layer in layers:
            if all(not set(p) & set(o) for o in layer):
                layer.append(p)
                break
        else:
            layers.append([p])
    n_par = spec.reps * (2 * len(pairs) + n)
    theta = ParameterVector("θ", n_par)
    qc = QuantumCircuit(n)
    k = 0
    for _ in range(spec.reps):
        for layer in layers:
            for i, j in layer:
                qc.append(XXPlusYYGate(theta[k], theta[k + 1]), [i, j])
                k += 2
        for q in range(n):
            qc.rz(theta[k], q)
            k += 1
    return qc


def _hva_circuit(model, spec, groups) -> tuple[QuantumCircuit, bool]:
    preserving = all(unit_preserves(u, model.problem.constraints) for g in groups for u in g)
    if spec.kind == "gauge_invariant" and not preserving:
        raise ValueError(
            "ansatz='gauge_invariant': some Hamiltonian terms, exponentiated term by term, break the "
            f"constraints {[c.name for c in model.problem.constraints]}; use ansatz='hva'"
        )
    return _hva(model, spec, groups), preserving


def _hea_circuit(model, spec, groups) -> tuple[QuantumCircuit, bool]:
    return efficient_su2(model.problem.n_qubits, ["ry", "rz"], reps=spec.reps, parameter_prefix="θ"), False


ANSATZ_BUILDERS = {
    "hva": _hva_circuit,
    "gauge_invariant": _hva_circuit,
    "hea": _hea_circuit,
    "number_preserving": lambda model, spec, groups: (_number_preserving(model, spec, groups), True),
}


def build_ansatz(model, spec: AnsatzSpec) -> Ansatz:
    """Build the circuit described by ``spec`` for ``model`` (initial state included)."""
    H = model.problem.hamiltonian
    groups = term_groups(H)
    if not groups:
        raise ValueError(f"model {model.problem.name!r} has a constant Hamiltonian: nothing to optimise")
    init, init_kind = initial_circuit(model, spec.initial_state, groups)
    if spec.kind in ("hva", "gauge_invariant") and needs_phase_partners(H, groups):
        groups = groups + phase_partners(groups)
    body, preserving = ANSATZ_BUILDERS[spec.kind](model, spec, groups)
    resolved = AnsatzSpec(spec.kind, spec.reps, init_kind, spec.multi_angle)
    return Ansatz(resolved, init.compose(body), preserving and init_kind != "zero", len(groups))
