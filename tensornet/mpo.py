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

Constraints that are not quantum numbers enter as the core penalty operator
(:func:`manybody.constraints.penalty_operator`, zero on the sector), compiled
by the same function.
"""

from __future__ import annotations

import math

import numpy as np

from manybody.constraints import LinearConstraint, ParityConstraint

__all__ = [
    "check_compilable",
    "qubit_operator_mpo",
    "max_span",
    "auto_penalty",
    "MPO_CUTOFF",
    "MAX_TERMS",
]

MPO_CUTOFF = 1e-13
"""Relative singular-value cutoff of the MPO compression."""

MAX_TERMS = 2_000_000
"""Largest number of Pauli strings the compiler accepts (the greedy MPO builder is O(terms))."""

_QUIMB_PAULI = {"X": ("x", 1.0), "Y": ("ⴵ", -1.0j), "Z": ("z", 1.0)}  # Y = -i (ZX)


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


def auto_penalty(qop, n_qubits: int) -> float:
    """Default penalty strength: twice the largest sum of ``|c_t|`` over the Pauli
    strings ``t`` touching one qubit (the energy scale of changing one qubit), at least 1."""
    local = np.zeros(n_qubits)
    for term, coeff in qop.terms.items():
        for q, _ in term:
            local[q] += abs(coeff)
    return float(max(1.0, 2.0 * local.max(initial=0.0)))


def max_span(qop, order) -> int:
    """Largest distance in MPS sites between the first and last qubit of a Pauli string."""
    position = np.empty(len(order), dtype=int)
    position[np.asarray(order)] = np.arange(len(order))
    span = 0
    for term in qop.terms:
        if term:
            sites = [position[q] for q, _ in term]
            span = max(span, int(max(sites) - min(sites)))
    return span


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
