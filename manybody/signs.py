"""Sign structures: known signs of a model's ground state in the qubit basis.

A model may declare that its ground-state amplitudes, in the computational
basis, carry the sign

    s(b) = (-1)^(sum_q c_q b_q + sum_{(p, q) in pairs} b_p b_q),

with ``c`` (``linear``, a 0/1 vector indexed by qubit) and ``pairs`` (a list
of qubit pairs). A variational backend can build the sign into its wave
function and learn only the remaining amplitude. Examples (declared by the
models themselves, see ``Model.sign_structures``):

* Marshall's rule for the antiferromagnetic Heisenberg model on a bipartite
  lattice: ``c_q = 1`` on sublattice A, i.e. ``(-1)^(spins down on A)``;
* the reordering sign of the Hubbard chain: the sign of bringing the
  interleaved modes ``2 i + s`` into all-up-then-all-down order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SignStructure"]


@dataclass(frozen=True)
class SignStructure:
    """A sign ``(-1)^(c.b + sum_{(p,q) in pairs} b_p b_q)`` of the ground-state amplitudes.

    Attributes
    ----------
    name : str
        E.g. ``"marshall"``; the value a backend option (``sign_rule``) refers to.
    linear : tuple of int or None
        ``c_q`` in {0, 1} for every qubit.
    pairs : tuple of (int, int) or None
        Qubit pairs ``(p, q)``, ``p != q``.
    exact : bool
        The ground state of these exact parameters has exactly this sign.
    recommended : bool
        Worth using by default (exact, or a close start the backend corrects).
    """

    name: str
    linear: tuple[int, ...] | None = None
    pairs: tuple[tuple[int, int], ...] | None = None
    exact: bool = False
    recommended: bool = False

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "exact": self.exact,
            "recommended": self.recommended,
            "linear": None if self.linear is None else list(self.linear),
            "pairs": None if self.pairs is None else [list(p) for p in self.pairs],
        }

    @classmethod
    def from_dict(cls, data: dict | None) -> SignStructure | None:
        if data is None:
            return None
        pairs = data.get("pairs")
        return cls(
            data["name"],
            None if data.get("linear") is None else tuple(data["linear"]),
            None if pairs is None else tuple(tuple(p) for p in pairs),
            bool(data.get("exact", False)),
            bool(data.get("recommended", False)),
        )

    def sign(self, bits: np.ndarray) -> np.ndarray:
        """The sign (+1/-1) of each configuration, ``bits`` (..., n) with qubit q in column q."""
        bits = np.asarray(bits, dtype=int)
        exponent = np.zeros(bits.shape[:-1], dtype=int)
        if self.linear is not None:
            exponent += bits @ np.asarray(self.linear, dtype=int)
        for p, q in self.pairs or ():
            exponent += bits[..., p] * bits[..., q]
        return 1 - 2 * (exponent % 2)

    def pair_matrix(self, n: int) -> np.ndarray | None:
        """``pairs`` as a symmetric (n, n) 0/1 matrix, or None."""
        if self.pairs is None:
            return None
        matrix = np.zeros((n, n), dtype=int)
        for p, q in self.pairs:
            matrix[p, q] = matrix[q, p] = 1
        return matrix
