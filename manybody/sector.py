"""Constrained computational bases: enumeration, look-up and size estimates.

Basis states are integers ``s = sum_q b_q 2^q`` (qubit 0 least significant,
see :mod:`manybody.operators`). :class:`SectorBasis` lists, in increasing
order, the states that satisfy every constraint of a model;
:func:`sector_dimension` counts them without enumerating (a transfer count
over the qubits), so that a backend can refuse an oversized problem before it
allocates anything.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.pauli import popcount

__all__ = ["SectorBasis", "sector_dimension", "MAX_QUBITS", "DENSE_INDEX_MAX_QUBITS"]

MAX_QUBITS = 30
"""Largest number of qubits whose basis is enumerated (2^30 candidate states)."""

DENSE_INDEX_MAX_QUBITS = 27
"""Up to this many qubits a dense look-up table (4 bytes per state of the full space) finds basis positions."""
_CHUNK = 1 << 22


def _mask(qubits) -> int:
    m = 0
    for q in qubits:
        m |= 1 << int(q)
    return m


def _satisfied(c, s: np.ndarray) -> np.ndarray:
    if isinstance(c, ParityConstraint):
        return (popcount(s & _mask(c.qubits)) & 1) == c.parity
    if isinstance(c, LinearConstraint):
        by_weight = defaultdict(list)
        for q, w in zip(c.qubits, c.weights):
            by_weight[w].append(q)
        total = np.zeros(len(s))
        for w, qs in by_weight.items():
            total += w * popcount(s & _mask(qs))
        return np.abs(total - c.value) < 1e-9
    raise TypeError(f"unknown constraint type {type(c).__name__}")


def sector_dimension(n_qubits: int, constraints=()) -> int:
    """The number of basis states satisfying every constraint, counted without enumeration.

    A transfer count over the qubits: the state of the count is the tuple of
    partial sums of the constraints that are still open (a constraint closes
    after its last qubit, where its value is checked). Cheap for global charges
    (one partial sum) and for local constraints (few open at a time).
    """
    constraints = list(constraints)
    last = [max(c.qubits, default=-1) for c in constraints]
    weights = np.zeros((n_qubits, len(constraints)))
    for k, c in enumerate(constraints):
        if isinstance(c, ParityConstraint):
            weights[list(c.qubits), k] = 1.0
        else:
            for q, w in zip(c.qubits, c.weights):
                weights[q, k] += w
    counts = {tuple(0.0 for _ in constraints): 1}
    for k, c in enumerate(constraints):
        if last[k] < 0 and not _closed_ok(c, 0.0):
            return 0
    for q in range(n_qubits):
        nxt: dict[tuple, int] = defaultdict(int)
        for sums, n in counts.items():
            for b in (0, 1):
                new = list(sums)
                ok = True
                for k, c in enumerate(constraints):
                    if b:
                        new[k] = round(new[k] + weights[q, k], 9)
                        if isinstance(c, ParityConstraint):
                            new[k] %= 2
                    if last[k] == q:
                        ok = _closed_ok(c, new[k])
                        new[k] = 0.0
                        if not ok:
                            break
                if ok:
                    nxt[tuple(new)] += n
        counts = nxt
    return int(sum(counts.values()))


def _closed_ok(c, total: float) -> bool:
    if isinstance(c, ParityConstraint):
        return int(round(total)) % 2 == c.parity
    return abs(total - c.value) < 1e-9


class SectorBasis:
    """The sorted basis states of ``n_qubits`` satisfying every constraint.

    Parameters
    ----------
    n_qubits : int
        At most :data:`MAX_QUBITS`.
    constraints : list of LinearConstraint / ParityConstraint
    """

    def __init__(self, n_qubits: int, constraints=()):
        if n_qubits > MAX_QUBITS:
            raise ValueError(
                f"the constrained basis is enumerated for at most {MAX_QUBITS} qubits, this model has "
                f"{n_qubits}: use backend='dmrg' or 'vmc'"
            )
        self.n_qubits = n_qubits
        self.constraints = list(constraints)
        chunks = []
        for start in range(0, 1 << n_qubits, _CHUNK):
            s = np.arange(start, min(start + _CHUNK, 1 << n_qubits), dtype=np.int64)
            keep = np.ones(len(s), dtype=bool)
            for c in self.constraints:
                keep &= _satisfied(c, s)
            chunks.append(s[keep])
        self.states = np.concatenate(chunks)
        if len(self.states) == 0:
            names = [c.name for c in self.constraints]
            raise ValueError(f"the constraints {names} admit no state: the sector is empty")
        self._lookup = None
        if n_qubits <= DENSE_INDEX_MAX_QUBITS:
            self._lookup = np.full(
                1 << n_qubits, -1, dtype=np.int32 if len(self.states) < 2**31 else np.int64
            )
            self._lookup[self.states] = np.arange(len(self.states))

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
