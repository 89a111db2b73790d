"""Compiler: a model's qubit Hamiltonian and constraints -> quimb MPOs.

The canonical form every backend compiles from is the model's
``qubit_hamiltonian`` (a ``QubitOperator``, Jordan-Wigner already applied), so
the MPO is a sum of Pauli strings. MPS site ``p`` holds qubit
``model.qubit_order[p]`` (snake order in 2D, a site's qubits adjacent); as the
strings are already in qubit form, the reordering is a relabelling of sites.

Each Pauli string is added to ``quimb.operator.SparseOperatorBuilder`` with
``Y = -i ZX`` so that real Hamiltonians give real MPOs; the greedy state
machine MPO is then SVD-compressed (relative cutoff :data:`MPO_CUTOFF`),
which is what keeps all-to-all models (SYK) and long-range terms tractable.
The identity component is kept out of the MPO and returned as a constant.

Constraints (all diagonal in the qubit basis, see :mod:`manybody.constraints`)
become a penalty operator ``V >= 0`` that vanishes exactly on the sector:

* ``LinearConstraint``: ``(sum_k w_k n_k - value)^2`` with ``n = (1 - Z)/2``;
* ``ParityConstraint``: ``(1 - (-1)^parity prod_k Z_k) / 2``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from manybody.constraints import LinearConstraint, ParityConstraint

__all__ = [
    "CompiledModel",
    "check_compilable",
    "compile_model",
    "qubit_operator_mpo",
    "auto_penalty",
    "MPO_CUTOFF",
    "MAX_TERMS",
]

MPO_CUTOFF = 1e-13
"""Relative singular-value cutoff of the MPO compression."""

MAX_TERMS = 2_000_000
"""Largest number of Pauli strings the compiler accepts (the greedy MPO builder is O(terms))."""

_QUIMB_PAULI = {"X": ("x", 1.0), "Y": ("ⴵ", -1.0j), "Z": ("z", 1.0)}  # Y = -i (ZX)


@dataclass
class CompiledModel:
    """The MPOs of one model (MPS site order ``order``).

    Attributes
    ----------
    order : ndarray of int
        ``order[p]`` is the qubit at MPS site ``p``.
    H : MatrixProductOperator
        The Hamiltonian without its identity component.
    constant : float
        The identity component of the Hamiltonian (added to every energy).
    V : MatrixProductOperator or None
        The constraint penalty operator (0 on the sector), None without constraints.
    """

    order: np.ndarray
    H: object
    constant: float
    V: object | None


def _check_term(term, coeff, n_qubits, what):
    if not (math.isfinite(np.real(coeff)) and math.isfinite(np.imag(coeff))):
        raise ValueError(f"{what}: coefficient of {term!r} is {coeff!r}; couplings must be finite")
    for q, p in term:
        if not 0 <= q < n_qubits:
            raise ValueError(f"{what}: term {term!r} acts on qubit {q}, outside 0..{n_qubits - 1}")
        if p not in _QUIMB_PAULI:
            raise ValueError(f"{what}: unknown Pauli {p!r} in {term!r}")


def qubit_operator_mpo(qop, order, what="operator"):
    """Compile a ``QubitOperator`` to a compressed quimb MPO in MPS order.

    Parameters
    ----------
    qop : openfermion.QubitOperator
        Pauli strings on qubits ``0 .. len(order) - 1``.
    order : sequence of int
        ``order[p]`` is the qubit at MPS site ``p``.
    what : str
        Name used in error messages.

    Returns
    -------
    mpo : MatrixProductOperator or None
        None if ``qop`` is a multiple of the identity.
    constant : complex
        The identity component.
    """
    from quimb.operator import SparseOperatorBuilder
    from quimb.operator.hilbertspace import HilbertSpace

    n = len(order)
    if len(qop.terms) > MAX_TERMS:
        raise ValueError(
            f"{what} has {len(qop.terms)} Pauli strings; the MPO compiler accepts at most {MAX_TERMS}"
        )
    builder = SparseOperatorBuilder(hilbert_space=HilbertSpace([int(q) for q in order]))
    constant = 0.0
    for term, coeff in qop.terms.items():
        _check_term(term, coeff, n, what)
        if not term:
            constant += coeff
            continue
        c = complex(coeff) * np.prod([_QUIMB_PAULI[p][1] for _, p in term])
        builder.add_term(c.real if c.imag == 0 else c, *[(_QUIMB_PAULI[p][0], int(q)) for q, p in term])
    if builder.nterms == 0:
        return None, constant
    mpo = builder.build_mpo()
    mpo.compress(cutoff=MPO_CUTOFF, cutoff_mode="rel")
    return mpo, constant


def _mpo_from_arrays(arrays):
    """A quimb MPO from ``(D_left, D_right, out, in)`` arrays with unit outer bonds."""
    import quimb.tensor as qtn

    arrays = list(arrays)
    arrays[0] = arrays[0][0]
    arrays[-1] = arrays[-1][:, 0]
    return qtn.MatrixProductOperator(arrays, shape="lrud")


def _constraint_mpo(c, position, L):
    """The penalty ``V_c`` of one constraint as an MPO (bond dimension 2 before squaring)."""
    eye, z, n = np.eye(2), np.diag([1.0, -1.0]), np.diag([0.0, 1.0])
    if isinstance(c, ParityConstraint):
        # (1 - s prod Z) / 2: two product operators on the diagonal of the bond
        sign = 1 - 2 * c.parity
        qubits = {int(position[q]) for q in c.qubits}
        arrays = [
            np.array([[eye, np.zeros((2, 2))], [np.zeros((2, 2)), z if p in qubits else eye]])
            for p in range(L)
        ]
        arrays[0] = np.array([[0.5 * eye, -0.5 * sign * (z if 0 in qubits else eye)]])
        arrays[-1] = arrays[-1][:, :1] + arrays[-1][:, 1:]
        return _mpo_from_arrays(arrays)
    # A = sum_k w_k n_k - value: bond states "before" (0) and "after" (1) the one placed term
    weight = np.zeros(L)
    for q, w in zip(c.qubits, c.weights):
        weight[position[q]] += w
    arrays = [np.array([[eye, weight[p] * n], [np.zeros((2, 2)), eye]]) for p in range(L)]
    arrays[0] = arrays[0][:1].copy()
    arrays[0][0, 1] -= c.value * eye
    arrays[-1] = arrays[-1][:, 1:]
    A = _mpo_from_arrays(arrays)
    V = A.apply(A)
    V.compress(cutoff=MPO_CUTOFF, cutoff_mode="rel")
    return V


def penalty_mpo(constraints, order):
    """``V = sum_c V_c`` (see the module docstring) as a compressed MPO in MPS order."""
    L = len(order)
    position = np.empty(L, dtype=int)
    position[np.asarray(order)] = np.arange(L)
    V = None
    for c in constraints:
        Vc = _constraint_mpo(c, position, L)
        V = Vc if V is None else V + Vc
        V.compress(cutoff=MPO_CUTOFF, cutoff_mode="rel")
    return V


def auto_penalty(qop, n_qubits: int) -> float:
    """Default penalty strength: twice the largest sum of ``|c_t|`` over the Pauli
    strings ``t`` touching one qubit (the energy scale of changing one qubit), at least 1."""
    local = np.zeros(n_qubits)
    for term, coeff in qop.terms.items():
        for q, _ in term:
            local[q] += abs(coeff)
    return float(max(1.0, 2.0 * local.max(initial=0.0)))


def check_compilable(model) -> np.ndarray:
    """Check, before heavy work, that ``model`` can be put on an MPS; return its order.

    Raises
    ------
    ValueError
        Fewer than 2 qubits, a ``qubit_order`` that is not a permutation,
        non-finite couplings, more than :data:`MAX_TERMS` Pauli strings, a
        constant Hamiltonian, or constraints of an unknown type.
    """
    n = model.n_qubits
    if n < 2:
        raise ValueError(f"DMRG needs at least 2 qubits, model {model.name!r} has {n}: use backend='exact'")
    order = np.asarray(model.qubit_order, dtype=int)
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError(
            f"model {model.name!r}: qubit_order must be a permutation of 0..{n - 1}, got {order}"
        )
    qop = model.qubit_hamiltonian
    if len(qop.terms) > MAX_TERMS:
        raise ValueError(
            f"model {model.name!r} has {len(qop.terms)} Pauli strings; the MPO compiler accepts at most {MAX_TERMS}"
        )
    for term, coeff in qop.terms.items():
        _check_term(term, coeff, n, f"{model.name} Hamiltonian")
    if all(not term for term in qop.terms):
        raise ValueError(
            f"model {model.name!r}: the Hamiltonian is a constant; there is nothing for DMRG to optimise"
        )
    for c in model.constraints:
        if not isinstance(c, (LinearConstraint, ParityConstraint)):
            raise ValueError(
                f"constraint {c!r}: the DMRG compiler knows LinearConstraint and ParityConstraint"
            )
        if any(not 0 <= q < n for q in c.qubits):
            raise ValueError(f"constraint {c.name!r} involves qubits outside 0..{n - 1}: {c.qubits}")
    return order


def compile_model(model) -> CompiledModel:
    """Check (:func:`check_compilable`) and compile ``model``: Hamiltonian MPO and
    constraint penalty MPO."""
    order = check_compilable(model)
    H, constant = qubit_operator_mpo(model.qubit_hamiltonian, order, f"{model.name} Hamiltonian")
    V = None
    if model.constraints:
        V = penalty_mpo(model.constraints, order)
    return CompiledModel(order=order, H=H, constant=float(np.real(constant)), V=V)
