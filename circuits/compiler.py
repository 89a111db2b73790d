"""Compile the canonical qubit operator of :mod:`manybody.operators` to Qiskit.

The manybody qubit convention and Qiskit's agree: qubit ``q`` of a
``QubitOperator`` term is Qiskit qubit ``q``, and basis states are the
integers ``sum_q b_q 2^q`` (little-endian), with ``b_q = 0`` the ``Z = +1``
eigenstate. ``SparsePauliOp.from_sparse_list`` takes explicit qubit
indices, so no label reversal is needed here.
"""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.operators import n_qubits_of, of, to_qubit_operator

__all__ = ["to_sparse_pauli_op", "constraint_penalty", "pauli_commute"]


def to_sparse_pauli_op(op, n_qubits: int, *, name: str = "operator") -> SparsePauliOp:
    """A Hermitian OpenFermion operator as a real-coefficient ``SparsePauliOp``.

    Parameters
    ----------
    op : QubitOperator, FermionOperator or MajoranaOperator
        Converted with Jordan-Wigner (:func:`manybody.operators.to_qubit_operator`).
    n_qubits : int
        Width of the result; the operator must act on qubits ``< n_qubits``.
    name : str
        Used in error messages.

    Raises
    ------
    ValueError
        If the operator is not Hermitian or acts beyond ``n_qubits``.
    """
    qop = to_qubit_operator(op)
    bad = [(term, c) for term, c in qop.terms.items() if abs(np.imag(c)) > 1e-12]
    if bad:
        term, c = bad[0]
        raise ValueError(
            f"{name} is not Hermitian: the Pauli string {term} has the complex coefficient {c}; "
            "pass Hermitian operators (e.g. O + O^dagger, or i (O - O^dagger))"
        )
    if n_qubits_of(qop) > n_qubits:
        raise ValueError(f"{name} acts on qubit {n_qubits_of(qop) - 1}, beyond the model's {n_qubits} qubits")
    terms = [
        ("".join(p for _, p in term), [q for q, _ in term], float(np.real(c)))
        for term, c in qop.terms.items()
    ]
    if not terms:
        terms = [("", [], 0.0)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=n_qubits).simplify(atol=0.0)


def constraint_penalty(constraints) -> object:
    """``sum_c (C_c - value_c)^2`` as a ``QubitOperator`` (zero exactly on the sector).

    ``b_q = (1 - Z_q) / 2``; a parity constraint contributes
    ``(1 - (-1)^parity prod_q Z_q) / 2``.
    """
    QubitOperator = of().QubitOperator
    total = QubitOperator()
    for c in constraints:
        if isinstance(c, LinearConstraint):
            dev = QubitOperator((), -c.value)
            for q, w in zip(c.qubits, c.weights):
                dev += QubitOperator((), w / 2) - QubitOperator(f"Z{q}", w / 2)
            total += dev * dev
        elif isinstance(c, ParityConstraint):
            z = tuple((q, "Z") for q in c.qubits)
            total += QubitOperator((), 0.5) - QubitOperator(z, 0.5 * (-1) ** c.parity)
        else:
            raise TypeError(f"unknown constraint type {type(c).__name__}")
    total.compress()
    return total


def pauli_commute(a: tuple, b: tuple) -> bool:
    """Whether two OpenFermion Pauli terms (``((q, 'X'), ...)``) commute."""
    pa = dict(a)
    anti = sum(1 for q, p in b if q in pa and pa[q] != p)
    return anti % 2 == 0
