"""Constrained computational bases and Pauli-sum algebra restricted to them.

Basis states are integers ``s = sum_q b_q 2^q`` (qubit 0 least significant,
see :mod:`manybody.operators`). A Pauli string ``P = c * prod_q sigma_q`` acts as

    P |s> = c * i^{n_Y} * (-1)^{popcount(s & zy)} |s ^ xy>

where ``xy`` marks the qubits with X or Y (the flipped bits) and ``zy`` the
qubits with Z or Y (using ``Y|b> = i (-1)^b |1-b>``, ``Z|b> = (-1)^b |b>``).
Terms are grouped by their flip mask so one basis look-up serves a group.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import scipy.sparse as sp

from manybody.constraints import LinearConstraint, ParityConstraint

__all__ = ["SectorBasis", "PauliGroups", "pauli_masks"]

MAX_QUBITS = 30
_DENSE_INDEX_MAX_QUBITS = 27
_CHUNK = 1 << 22


def _popcount(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x).astype(np.int64)


def _mask(qubits) -> int:
    m = 0
    for q in qubits:
        m |= 1 << int(q)
    return m


class SectorBasis:
    """The sorted basis states of ``n_qubits`` satisfying every constraint.

    Parameters
    ----------
    n_qubits : int
    constraints : list of LinearConstraint / ParityConstraint
    """

    def __init__(self, n_qubits: int, constraints=()):
        if n_qubits > MAX_QUBITS:
            raise ValueError(
                f"the exact backend handles at most {MAX_QUBITS} qubits, this model has "
                f"{n_qubits}: use backend='dmrg' or 'vmc'"
            )
        self.n_qubits = n_qubits
        self.constraints = list(constraints)
        chunks = []
        for start in range(0, 1 << n_qubits, _CHUNK):
            s = np.arange(start, min(start + _CHUNK, 1 << n_qubits), dtype=np.int64)
            keep = np.ones(len(s), dtype=bool)
            for c in self.constraints:
                keep &= self._satisfied(c, s)
            chunks.append(s[keep])
        self.states = np.concatenate(chunks)
        if len(self.states) == 0:
            names = [c.name for c in self.constraints]
            raise ValueError(f"the constraints {names} admit no state: the sector is empty")
        self._lookup = None
        if n_qubits <= _DENSE_INDEX_MAX_QUBITS:
            self._lookup = np.full(
                1 << n_qubits, -1, dtype=np.int32 if len(self.states) < 2**31 else np.int64
            )
            self._lookup[self.states] = np.arange(len(self.states))

    @staticmethod
    def _satisfied(c, s: np.ndarray) -> np.ndarray:
        if isinstance(c, ParityConstraint):
            return (_popcount(s & _mask(c.qubits)) & 1) == c.parity
        if isinstance(c, LinearConstraint):
            by_weight = defaultdict(list)
            for q, w in zip(c.qubits, c.weights):
                by_weight[w].append(q)
            total = np.zeros(len(s))
            for w, qs in by_weight.items():
                total += w * _popcount(s & _mask(qs))
            return np.abs(total - c.value) < 1e-9
        raise TypeError(f"unknown constraint type {type(c).__name__}")

    @property
    def dim(self) -> int:
        return len(self.states)

    def index(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of ``targets`` in the basis and a mask of those found."""
        if self._lookup is not None:
            idx = self._lookup[targets]
            found = idx >= 0
            return np.where(found, idx, 0), found
        idx = np.searchsorted(self.states, targets)
        idx = np.minimum(idx, self.dim - 1)
        return idx, self.states[idx] == targets

    def bits(self) -> np.ndarray:
        """``(dim, n_qubits)`` array of the bits of every basis state."""
        return ((self.states[:, None] >> np.arange(self.n_qubits)) & 1).astype(np.int8)


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


class PauliGroups:
    """A qubit operator's Pauli terms grouped by flip mask, for a given basis."""

    def __init__(self, qop):
        groups = defaultdict(list)
        for term, c in qop.terms.items():
            xy, zy, ny = pauli_masks(term)
            groups[xy].append((complex(c) * 1j**ny, zy))
        self.groups = dict(groups)

    def amplitudes(self, states: np.ndarray, terms) -> np.ndarray:
        """``sum_t c_t i^{nY} (-1)^{popcount(s & zy_t)}`` for every state ``s``."""
        amp = np.zeros(len(states), dtype=complex)
        for c, zy in terms:
            amp += c * (1 - 2 * (_popcount(states & zy) & 1))
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
        vals = np.concatenate(vals)
        if np.abs(vals.imag).max(initial=0.0) < 1e-14:
            vals = vals.real
        return sp.csr_matrix(
            (vals, (np.concatenate(rows), np.concatenate(cols))), shape=(basis.dim, basis.dim)
        )

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
                out[(xy, zy)] = c * np.sum(weight * (1 - 2 * (_popcount(basis.states & zy) & 1)))
        return out
