"""Parametrized circuits: Hamiltonian-variational, hardware-efficient, number-preserving.

Term groups
-----------
The Hamiltonian-variational ansatz (HVA) is built from the model's qubit
Hamiltonian alone, so it serves every model:

1. Pauli terms are collected into *units* by the set of qubits they flip
   (X or Y): ``XX + YY`` on a bond, a Jordan-Wigner hopping
   ``X Z..Z X + Y Z..Z Y``, a gauge-link hopping ``sigma^+ U sigma^-`` + h.c.
   A diagonal term whose support equals a unit's flip set joins that unit
   (``ZZ`` of a Heisenberg bond); the other diagonal terms form the last
   group, one unit per support (Hubbard interaction on a site, a field,
   an electric energy).
2. Units are coloured greedily into *groups* of mutually commuting terms
   (even / odd bonds on a chain, hopping directions on a lattice), so
   ``exp(-i theta H_group)`` is an exact product of Pauli rotations.

If the off-diagonal terms form a single group, ``exp(-i theta H_group)``
cannot lower the energy of a diagonal eigenstate; if every term is real and
flips the parity of one Z string (e.g. a quantum link model without mass or
electric term, :func:`odd_real_terms`), every state reached from a basis
state has ``<H> = 0``. In both cases the landscape is flat and each unit's
phase partner (:func:`phase_partners`) is added as a further group.

A layer applies ``exp(-i theta_g H_g)`` for every group (one angle per group),
or one angle per unit with ``multi_angle=True``. A unit whose Pauli terms all
commute and whose sum commutes with every model constraint (total S^z,
particle numbers, Gauss's law) keeps the state in the constrained sector;
:func:`unit_preserves` checks it, which makes the HVA gauge invariant for
gauge models started from a Gauss-law state.

Initial states
--------------
``"basis"``: the computational basis state of lowest diagonal energy among
those satisfying the constraints (ties: the one most connected by H) (Neel for an antiferromagnet, a charge-density
or Gauss-law vacuum for gauge models, a filled configuration for Hubbard);
``"singlets"``: a product of singlets ``(|01> - |10>)/sqrt 2`` on a perfect
matching of the Hamiltonian's bonds (spin models); ``"slater"``: for a
fermionic Hamiltonian, the ground state of its quadratic part with the
particle numbers of the model's constraints (half-filled Fermi sea for
Hubbard), prepared with OpenFermion's Givens-rotation network
(``XXPlusYYGate`` + ``rz``); ``"zero"``: ``|0...0>``. ``"auto"`` picks, among
the states available for the model, the one of lowest energy (up to 20
qubits; beyond, the first of Slater, singlets, basis that applies).
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.circuit.library import XXPlusYYGate, efficient_su2
from qiskit.quantum_info import SparsePauliOp

from manybody.circuits.compiler import pauli_commute
from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.operators import of

__all__ = [
    "ANSATZE",
    "INITIAL_STATES",
    "AnsatzSpec",
    "build_ansatz",
    "term_groups",
    "unit_preserves",
    "initial_bits",
]

ANSATZE = ("hva", "hea", "number_preserving", "gauge_invariant")
INITIAL_STATES = ("auto", "basis", "singlets", "slater", "zero")
_MAX_ENUMERATE = 24
_AUTO_MAX_QUBITS = 20


@dataclass(frozen=True)
class AnsatzSpec:
    """Everything needed to rebuild an ansatz circuit for a model (JSON-able).

    Attributes
    ----------
    kind : str
        One of ``ANSATZE``.
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


def _flip_set(term) -> frozenset:
    return frozenset(q for q, p in term if p != "Z")


def term_groups(qop) -> list[list[list[tuple]]]:
    """The Hamiltonian's terms as groups of units of ``(term, coefficient)``.

    Units within a group commute term by term; the diagonal units (if any)
    form the last group. See the module docstring.
    """
    units: dict[frozenset, list] = {}
    diag = []
    for term, c in sorted(qop.terms.items()):
        if not term:
            continue
        f = _flip_set(term)
        (units.setdefault(f, []) if f else diag).append((term, float(np.real(c))))
    rest = []
    for term, c in diag:
        support = frozenset(q for q, _ in term)
        if len(support) > 1 and support in units:
            units[support].append((term, c))
        else:
            rest.append((term, c))
    # split a unit whose terms do not commute into commuting pieces
    pieces = []
    for key in sorted(units, key=lambda f: (min(f), sorted(f))):
        for term, c in units[key]:
            for piece in pieces:
                if piece[0] is key and all(pauli_commute(term, t) for t, _ in piece[1]):
                    piece[1].append((term, c))
                    break
            else:
                pieces.append((key, [(term, c)]))
    groups = _colour([unit for _, unit in pieces])
    if rest:
        by_support: dict[frozenset, list] = {}
        for term, c in rest:
            by_support.setdefault(frozenset(q for q, _ in term), []).append((term, c))
        groups.append([by_support[k] for k in sorted(by_support, key=lambda f: (len(f), sorted(f)))])
    return groups


def _colour(units) -> list[list]:
    """Greedy colouring of units into groups whose terms all commute."""
    groups: list[list] = []
    for unit in units:
        for group in groups:
            if all(pauli_commute(t, s) for t, _ in unit for u in group for s, _ in u):
                group.append(unit)
                break
        else:
            groups.append([unit])
    return groups


def phase_partners(groups) -> list[list]:
    """Groups of the units ``i [Z_q, h_u] / 2`` (q = the unit's first flipped qubit: X_q -> -Y_q, Y_q -> X_q).

    When the off-diagonal terms form a single commuting group,
    ``exp(-i theta H_group)`` conserves the energy of the diagonal part's
    eigenstates and the HVA cannot lower it; the partners rotate the same
    flips with a quarter-period phase and keep every constraint the unit keeps.
    """
    units = []
    for g in groups:
        for unit in g:
            flips = [q for t, _ in unit for q, p in t if p != "Z"]
            if not flips:
                continue
            q0 = min(flips)
            new = []
            for term, c in unit:
                ops = dict(term)
                if ops.get(q0) == "X":
                    ops[q0], c = "Y", -c
                elif ops.get(q0) == "Y":
                    ops[q0] = "X"
                else:
                    continue
                new.append((tuple(sorted(ops.items())), c))
            units.append(new)
    return _colour(units)


def odd_real_terms(qop) -> bool:
    """Whether every term is real and anticommutes with one Z string ``Pi`` (then the HVA landscape is flat).

    With ``K`` complex conjugation, each ``exp(-i theta h)`` of real terms ``h`` that anticommute
    with ``Pi`` commutes with the antiunitary ``Pi K``, which fixes a real basis state up to sign,
    while ``Pi K H (Pi K)^-1 = -H``: every state the HVA reaches from a basis state has ``<H> = 0``.
    ``Pi`` is found by Gaussian elimination over GF(2): ``|flips(t) & Pi|`` odd for every term ``t``
    (impossible as soon as there is a diagonal term).
    """
    pivots: dict[int, tuple[int, int]] = {}  # leading bit -> (mask, parity)
    for term in qop.terms:
        if not term:
            continue
        if sum(p == "Y" for _, p in term) % 2:
            return False
        mask, rhs = sum(1 << q for q, p in term if p != "Z"), 1
        while mask:
            lead = mask.bit_length() - 1
            if lead not in pivots:
                pivots[lead] = (mask, rhs)
                break
            mask, rhs = mask ^ pivots[lead][0], rhs ^ pivots[lead][1]
        else:
            if rhs:
                return False
    return bool(pivots)


def unit_preserves(unit, constraints) -> bool:
    """Whether ``exp(-i theta sum(unit))``, synthesised term by term, keeps every constraint.

    True when the unit's terms commute with each other and their sum maps
    each basis state only to states with the same constraint values.
    """
    if not all(pauli_commute(a, b) for (a, _), (b, _) in itertools.combinations(unit, 2)):
        return False
    unit = [(t, c) for t, c in unit if _flip_set(t)]  # diagonal terms keep every constraint
    flips = {_flip_set(t) for t, _ in unit}
    if not flips:
        return True
    if len(flips) != 1:
        return False
    flip = sorted(flips.pop())
    support = sorted({q for t, _ in unit for q, _ in t})
    if len(support) > 16:
        raise ValueError(f"cannot check a term acting on {len(support)} qubits for constraint preservation")
    pos = {q: k for k, q in enumerate(support)}
    bits = (np.arange(2 ** len(support))[:, None] >> np.arange(len(support))) & 1
    amp = np.zeros(len(bits), dtype=complex)
    for term, c in unit:
        zy = [pos[q] for q, p in term if p in "YZ"]
        n_y = sum(p == "Y" for _, p in term)
        amp += c * 1j**n_y * (-1.0) ** bits[:, zy].sum(axis=1)
    active = np.abs(amp) > 1e-12
    for con in constraints:
        if isinstance(con, ParityConstraint):
            if len(set(flip) & set(con.qubits)) % 2:
                return False
        elif isinstance(con, LinearConstraint):
            w = dict(zip(con.qubits, con.weights))
            delta = sum(w.get(q, 0.0) * (1 - 2 * bits[:, pos[q]]) for q in flip)
            if np.any(np.abs(np.asarray(delta)[active]) > 1e-9):
                return False
    return True


def _enumerate_sector(model) -> np.ndarray:
    if model.n_qubits > _MAX_ENUMERATE:
        raise ValueError(
            f"initial_state='basis' enumerates the sector, which is limited to {_MAX_ENUMERATE} qubits "
            f"(this model has {model.n_qubits}); use initial_state='zero' or 'singlets'"
        )
    return model.problem.sector().states


def initial_bits(model) -> np.ndarray:
    """Bits of the constraint-satisfying basis state of lowest diagonal energy.

    Ties go to the state the Hamiltonian connects most strongly to others
    (largest ``sum_s' |<s'|H|s>|^2``, so that the HVA can move away from it;
    e.g. a flippable plaquette), then to the smallest integer.
    """
    states = _enumerate_sector(model)
    energy = np.zeros(len(states))
    amplitudes: dict[int, np.ndarray] = {}
    for term, c in model.qubit_hamiltonian.terms.items():
        if not term:
            continue
        zy = sum(1 << q for q, p in term if p in "YZ")
        sign = 1 - 2 * (np.bitwise_count(states & zy) & 1)
        flip = sum(1 << q for q, p in term if p in "XY")
        if flip:
            n_y = sum(p == "Y" for _, p in term)
            amplitudes[flip] = amplitudes.get(flip, 0) + complex(c) * 1j**n_y * sign
        else:
            energy += np.real(c) * sign
    coupling = sum((np.abs(a) ** 2 for a in amplitudes.values()), np.zeros(len(states)))
    order = np.lexsort((states, -np.round(coupling, 9), np.round(energy, 9)))
    return (int(states[order[0]]) >> np.arange(model.n_qubits)) & 1


def _singlet_pairs(model, groups) -> list[tuple[int, int]] | None:
    """A perfect matching of the qubits on two-qubit bonds of the Hamiltonian, if there is one."""
    bonds = sorted(
        {tuple(sorted(_flip_set(u[0][0]))) for g in groups for u in g if len(_flip_set(u[0][0])) == 2}
    )
    used: set[int] = set()
    pairs = []
    for i, j in bonds:
        if i not in used and j not in used:
            pairs.append((i, j))
            used |= {i, j}
    if len(used) != model.n_qubits:
        return None
    for con in model.constraints:
        if isinstance(con, ParityConstraint):
            return None
        w = dict(zip(con.qubits, con.weights))
        if any(w.get(i, 0.0) != w.get(j, 0.0) for i, j in pairs):
            return None
        if abs(sum(w.get(i, 0.0) for i, _ in pairs) - con.value) > 1e-9:
            return None
    return pairs


def _occupied_orbitals(model) -> np.ndarray | None:
    """Rows ``Q`` (N_f, n): lowest orbitals of the quadratic part in each number-constrained block."""
    ofm = of()
    ham = model.hamiltonian
    if not isinstance(ham, ofm.FermionOperator):
        return None
    n = model.n_qubits
    h = np.zeros((n, n), dtype=complex)
    for term, c in ham.terms.items():
        if len(term) == 2 and term[0][1] == 1 and term[1][1] == 0:
            h[term[0][0], term[1][0]] += c
    blocks = [
        (list(c.qubits), int(round(c.value)))
        for c in model.constraints
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


def _slater_circuit(q_matrix: np.ndarray, n: int) -> QuantumCircuit:
    """Givens network of ``openfermion.slater_determinant_preparation_circuit`` from ``|1..10..0>``."""
    qc = QuantumCircuit(n)
    for q in range(len(q_matrix)):
        qc.x(q)
    for layer in of().slater_determinant_preparation_circuit(q_matrix):
        for i, j, theta, phi in layer:
            qc.append(XXPlusYYGate(2 * theta, -np.pi / 2), [i, j])
            qc.rz(phi, j)
    return qc


def _initial_circuit(model, kind: str, groups) -> tuple[QuantumCircuit, str]:
    n = model.n_qubits
    qc = QuantumCircuit(n)
    if kind == "auto":
        return _auto_initial(model, groups)
    if kind == "zero":
        return qc, kind
    if kind == "slater":
        orbitals = _occupied_orbitals(model)
        if orbitals is None:
            raise ValueError(
                "initial_state='slater' needs a FermionOperator Hamiltonian with a hopping part and "
                "particle-number constraints that split the modes; use initial_state='basis'"
            )
        return _slater_circuit(orbitals, n), kind
    if kind == "singlets":
        pairs = _singlet_pairs(model, groups)
        if pairs is None:
            raise ValueError(
                "initial_state='singlets' needs a perfect matching of the qubits on two-qubit bonds "
                "compatible with the constraints; use initial_state='basis'"
            )
        for i, j in pairs:
            qc.x(j)
            qc.h(i)
            qc.cx(i, j)
            qc.z(i)
        return qc, kind
    for q, b in enumerate(initial_bits(model)):
        if b:
            qc.x(q)
    return qc, kind


def _auto_initial(model, groups) -> tuple[QuantumCircuit, str]:
    """The available physical initial state (singlets, Slater, basis) of lowest energy."""
    from qiskit.quantum_info import Statevector

    candidates = ["basis"]
    if _singlet_pairs(model, groups):
        candidates.insert(0, "singlets")
    if _occupied_orbitals(model) is not None:
        candidates.insert(0, "slater")
    if len(candidates) == 1 or model.n_qubits > _AUTO_MAX_QUBITS:
        return _initial_circuit(model, candidates[0], groups)
    H = _unit_op([tc for g in groups for u in g for tc in u], model.n_qubits)
    built = [_initial_circuit(model, kind, groups) for kind in candidates]
    energies = [Statevector(qc).expectation_value(H).real for qc, _ in built]
    return built[int(np.argmin(np.round(energies, 10)))]


def _unit_op(unit, n: int) -> SparsePauliOp:
    return SparsePauliOp.from_sparse_list(
        [("".join(p for _, p in t), [q for q, _ in t], c) for t, c in unit], n
    )


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
    from qiskit.circuit.library import PauliEvolutionGate

    n = model.n_qubits
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
    n = model.n_qubits
    pairs = []
    for g in groups:
        for u in g:
            f = tuple(sorted(_flip_set(u[0][0])))
            hop = [(((f[0], p), (f[1], p)), 1.0) for p in "XY"] if len(f) == 2 else None
            if hop and unit_preserves(hop, model.constraints):
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


def build_ansatz(model, spec: AnsatzSpec) -> Ansatz:
    """Build the circuit described by ``spec`` for ``model`` (initial state included)."""
    groups = term_groups(model.qubit_hamiltonian)
    if not groups:
        raise ValueError(f"model {model.name!r} has a constant Hamiltonian: nothing to optimise")
    init, init_kind = _initial_circuit(model, spec.initial_state, groups)
    off_diagonal = [g for g in groups if any(_flip_set(t) for u in g for t, _ in u)]
    flat = len(off_diagonal) == 1 or odd_real_terms(model.qubit_hamiltonian)
    if flat and spec.kind in ("hva", "gauge_invariant"):
        groups = groups + phase_partners(off_diagonal)
    preserving = all(unit_preserves(u, model.constraints) for g in groups for u in g)
    if spec.kind in ("hva", "gauge_invariant"):
        if spec.kind == "gauge_invariant" and not preserving:
            raise ValueError(
                "ansatz='gauge_invariant': some Hamiltonian terms, exponentiated term by term, break the "
                f"constraints {[c.name for c in model.constraints]}; use ansatz='hva'"
            )
        body = _hva(model, spec, groups)
    elif spec.kind == "hea":
        body = efficient_su2(model.n_qubits, ["ry", "rz"], reps=spec.reps, parameter_prefix="θ")
        preserving = False
    elif spec.kind == "number_preserving":
        body = _number_preserving(model, spec, groups)
        preserving = True
    else:
        raise ValueError(f"ansatz must be one of {ANSATZE}, got {spec.kind!r}")
    circuit = init.compose(body)
    resolved = AnsatzSpec(spec.kind, spec.reps, init_kind, spec.multi_angle)
    return Ansatz(resolved, circuit, preserving and init_kind != "zero", len(groups))
