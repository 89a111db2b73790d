"""The symbolic operator layer, built on OpenFermion's operator types.

Models write their Hamiltonians and observables as OpenFermion operators:

* spins-1/2 as ``QubitOperator`` (Pauli strings); use :func:`spin` for
  ``S^a = sigma^a / 2``;
* spinful fermion modes as ``FermionOperator``;
* Majorana modes as ``MajoranaOperator`` (OpenFermion normalisation
  ``{gamma_i, gamma_j} = 2 delta_ij``).

Every backend compiles from one canonical form, the qubit operator returned by
:func:`to_qubit_operator` (Jordan-Wigner for fermions and Majoranas).

Qubit convention (used by every backend and every stored configuration)
-----------------------------------------------------------------------
* Qubit ``q`` is fermion mode ``q``; Majoranas ``2q`` and ``2q + 1`` sit on
  qubit ``q`` (``gamma_2q = a_q + a_q^dag``, ``gamma_2q+1 = -i (a_q - a_q^dag)``).
* The computational state ``|b_q>``, ``b_q in {0, 1}``, is the eigenstate of
  ``Z_q`` with eigenvalue ``(-1)^b_q``. For spins, ``b = 0`` is spin up
  (``S^z = +1/2``); for fermions ``b = n_q``, the occupation.
* A basis state of ``n`` qubits is the integer ``sum_q b_q 2^q`` (qubit 0 is
  the least significant bit, as in Qiskit).
* Jordan-Wigner strings run over lower-numbered qubits:
  ``a_q = Z_0 ... Z_{q-1} (X_q + i Y_q) / 2``.

OpenFermion is imported on first use, so that importing the model layer stays
fast.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "of",
    "spin",
    "spin_dot",
    "to_qubit_operator",
    "hermitian_part_error",
    "n_qubits_of",
]

_PAULI = {"x": "X", "y": "Y", "z": "Z"}


def of():
    """The ``openfermion`` module, imported lazily."""
    import openfermion

    return openfermion


def spin(component: str, site: int):
    """Spin-1/2 operator ``S^a_site = sigma^a_site / 2`` as a ``QubitOperator``."""
    if component.lower() not in _PAULI:
        raise ValueError(f"component must be one of 'x', 'y', 'z', got {component!r}")
    return of().QubitOperator(f"{_PAULI[component.lower()]}{int(site)}", 0.5)


def spin_dot(i: int, j: int, weights=(1.0, 1.0, 1.0)):
    """``wx Sx_i Sx_j + wy Sy_i Sy_j + wz Sz_i Sz_j`` with ``S = sigma / 2``.

    For ``i == j`` this is ``(wx + wy + wz) / 4`` times the identity.
    """
    op = of().QubitOperator()
    if i == j:
        if sum(weights):
            op.terms[()] = 0.25 * float(sum(weights))
        return op
    a, b = sorted((int(i), int(j)))
    for w, p in zip(weights, "XYZ"):
        if w:
            op.terms[((a, p), (b, p))] = 0.25 * w
    return op


def to_qubit_operator(op):
    """The qubit (Pauli) form of an OpenFermion operator, Jordan-Wigner for fermions.

    Coefficients whose imaginary part is below ``1e-14`` of the operator's scale
    are made real, and zero terms are dropped.
    """
    ofm = of()
    if isinstance(op, ofm.QubitOperator):
        qop = ofm.QubitOperator()
        qop.terms = dict(op.terms)
    elif isinstance(op, (ofm.FermionOperator, ofm.MajoranaOperator)):
        qop = ofm.jordan_wigner(op)
    else:
        raise TypeError(
            "expected an OpenFermion QubitOperator, FermionOperator or MajoranaOperator, "
            f"got {type(op).__name__}"
        )
    scale = max((abs(c) for c in qop.terms.values()), default=0.0)
    terms = {}
    for term, c in qop.terms.items():
        c = complex(c)
        if abs(c) <= 1e-14 * scale:
            continue
        terms[term] = c.real if abs(c.imag) <= 1e-14 * scale else c
    qop.terms = terms
    return qop


def n_qubits_of(qop) -> int:
    """One more than the largest qubit index acted on (0 for a constant)."""
    return 1 + max((q for term in qop.terms for q, _ in term), default=-1)


def hermitian_part_error(qop) -> float:
    """Largest imaginary part of a Pauli coefficient (0 for a Hermitian operator).

    A qubit operator is Hermitian exactly when every Pauli-string coefficient
    is real, since Pauli strings form a Hermitian basis.
    """
    return float(max((abs(np.imag(c)) for c in qop.terms.values()), default=0.0))
