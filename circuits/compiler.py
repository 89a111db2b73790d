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

from manybody.operators import n_qubits_of, to_qubit_operator

__all__ = ["to_sparse_pauli_op"]


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
