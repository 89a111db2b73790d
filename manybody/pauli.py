"""The one Pauli kernel: Pauli strings as bit masks and as symplectic tables.

Qubit ``q`` is bit ``q`` of an integer basis state ``s = sum_q b_q 2^q``
(see :mod:`manybody.operators`). A Pauli string ``P = c * prod_q sigma_q``
acts on a basis state as

    P |s> = c * i^{n_Y} * (-1)^{popcount(s & zy)} |s ^ xy>

where ``xy`` marks the qubits with X or Y (the flipped bits) and ``zy`` the
qubits with Z or Y (from ``Y|b> = i (-1)^b |1-b>`` and ``Z|b> = (-1)^b |b>``).
Equivalently ``<s ^ xy| P |s> = c i^{n_Y} (-1)^{popcount(s & zy)}`` and
``<s| P |s ^ xy> = c i^{n_Y} (-1)^{popcount((s ^ xy) & zy)}``.

* :func:`pauli_masks` gives ``(xy, zy, n_Y)`` of one OpenFermion term;
* :class:`PauliTable` stores a whole operator as boolean ``x``/``z`` arrays
  (any number of qubits) for backends that vectorise over terms;
* :class:`PauliGroups` groups terms by flip mask and builds sector matrices
  and expectation values (the exact backend, sector checks, tests).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from manybody.sector import SectorBasis

__all__ = ["pauli_masks", "pauli_commute", "popcount", "parity_sign", "PauliTable", "PauliGroups"]


def popcount(x: np.ndarray) -> np.ndarray:
    """Number of set bits of each (non-negative) integer."""
    return np.bitwise_count(x).astype(np.int64)


def parity_sign(states: np.ndarray, mask: int) -> np.ndarray:
    """``(-1)^{popcount(s & mask)}`` for every state ``s``."""
    return 1 - 2 * (popcount(states & mask) & 1)


def pauli_masks(term) -> tuple[int, int, int]:
    """``(xy, zy, n_Y)`` of a Pauli string ``((qubit, 'X'|'Y'|'Z'), ...)``."""
    xy = zy = ny = 0
    for q, p in term:
        if p in "XY":
            xy |= 1 << q
        if p in "ZY":
            zy |= 1 << q
        ny += p == "Y"
    return xy, zy, ny


def pauli_commute(a, b) -> bool:
    """Whether two Pauli strings (OpenFermion terms ``((q, 'X'), ...)``) commute."""
    xa, za, _ = pauli_masks(a)
    xb, zb, _ = pauli_masks(b)
    return (int(xa & zb).bit_count() + int(za & xb).bit_count()) % 2 == 0


@dataclass(frozen=True)
class PauliTable:
    """A qubit operator ``sum_t coeffs[t] P_t + constant`` in symplectic form.

    Attributes
    ----------
    n_qubits : int
    x, z : ndarray of bool, shape (n_terms, n_qubits)
        ``x[t, q]``: ``P_t`` has X or Y on qubit ``q``; ``z[t, q]``: Z or Y.
    coeffs : ndarray of complex, shape (n_terms,)
        The coefficient of each Pauli string as written (``Y`` counted as ``Y``,
        not as ``i X Z``).
    constant : float
        The identity component (real for a Hermitian operator).
    terms : tuple
        The OpenFermion terms ``((qubit, 'X'|'Y'|'Z'), ...)`` in table order.
    """

    n_qubits: int
    x: np.ndarray
    z: np.ndarray
    coeffs: np.ndarray
    constant: float
    terms: tuple

    @classmethod
    def from_qubit_operator(cls, qop, n_qubits: int) -> PauliTable:
        terms = [t for t in qop.terms if t]
        x = np.zeros((len(terms), n_qubits), dtype=bool)
        z = np.zeros((len(terms), n_qubits), dtype=bool)
        for k, term in enumerate(terms):
            for q, p in term:
                x[k, q] = p in "XY"
                z[k, q] = p in "ZY"
        coeffs = np.array([complex(qop.terms[t]) for t in terms], dtype=complex)
        constant = float(np.real(qop.terms.get((), 0.0)))
        return cls(n_qubits, x, z, coeffs, constant, tuple(terms))

    @property
    def n_terms(self) -> int:
        return len(self.terms)

    @property
    def n_y(self) -> np.ndarray:
        """Number of Y factors of each string."""
        return (self.x & self.z).sum(axis=1)

    @property
    def is_diagonal(self) -> np.ndarray:
        """Strings made of Z only."""
        return ~self.x.any(axis=1)


class PauliGroups:
    """A qubit operator's Pauli terms grouped by flip mask (integer masks, <= 62 qubits).

    ``qop`` is a ``QubitOperator`` or a dict ``{term: coefficient}``.
    """

    def __init__(self, qop):
        groups = defaultdict(list)
        for term, c in getattr(qop, "terms", qop).items():
            xy, zy, ny = pauli_masks(term)
            groups[xy].append((complex(c) * 1j**ny, zy))
        self.groups = dict(groups)

    @staticmethod
    def amplitudes(states: np.ndarray, terms) -> np.ndarray:
        """``sum_t c_t i^{nY} (-1)^{popcount(s & zy_t)}`` for every state ``s``."""
        amp = np.zeros(len(states), dtype=complex)
        for c, zy in terms:
            amp += c * parity_sign(states, zy)
        return amp

    def matrix(self, basis: SectorBasis, what: str = "operator") -> sp.csr_matrix:
        """The operator restricted to ``basis``; raises if it leaves the sector."""
        rows, cols, vals = [], [], []
        col = np.arange(basis.dim)
        for xy, terms in self.groups.items():
            amp = self.amplitudes(basis.states, terms)
            nonzero = np.abs(amp) > 1e-14
            idx, found = basis.index(basis.states ^ xy)
            if np.any(nonzero & ~found):
                raise ValueError(
                    f"the {what} does not conserve the constraints {[c.name for c in basis.constraints]}"
                )
            keep = nonzero & found
            rows.append(idx[keep])
            cols.append(col[keep])
            vals.append(amp[keep])
        vals = np.concatenate(vals) if vals else np.zeros(0)
        if np.abs(vals.imag).max(initial=0.0) < 1e-14:
            vals = vals.real
        rows = np.concatenate(rows) if rows else np.zeros(0, dtype=int)
        cols = np.concatenate(cols) if cols else np.zeros(0, dtype=int)
        return sp.csr_matrix((vals, (rows, cols)), shape=(basis.dim, basis.dim))

    def expectations(self, basis: SectorBasis, psi: np.ndarray) -> dict:
        """``<psi| c_t P_t |psi>`` for every term, keyed by ``(xy, zy)``.

        Components that leave the sector are orthogonal to ``psi`` and drop out.
        """
        out = {}
        for xy, terms in self.groups.items():
            idx, found = basis.index(basis.states ^ xy)
            bra = np.where(found, np.conj(psi[idx]), 0.0)
            weight = bra * psi
            for c, zy in terms:
                out[(xy, zy)] = c * np.sum(weight * parity_sign(basis.states, zy))
        return out

    @classmethod
    def expect(cls, operators, basis: SectorBasis, psi: np.ndarray) -> list[float]:
        """``<psi|O|psi>`` (real part) for each Hermitian qubit operator ``O`` (one pass over all terms)."""
        values = cls({t: 1.0 for op in operators for t in op.terms}).expectations(basis, psi)
        return [
            float(np.real(sum(complex(c) * values[pauli_masks(t)[:2]] for t, c in op.terms.items())))
            for op in operators
        ]
