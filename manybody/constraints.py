"""Constraints: conserved quantities that are diagonal in the qubit basis.

Every constraint a model declares (total S^z, particle number per spin,
fermion parity, Gauss's law in the electric basis) is a function of the
computational-basis bits ``b_q`` (see :mod:`manybody.operators` for the
convention) and selects the sector the backends work in:

* :class:`LinearConstraint`: ``sum_q w_q b_q == value``;
* :class:`ParityConstraint`: ``sum_q b_q == parity (mod 2)``.

``satisfied(bits)`` evaluates a constraint on an array of bit configurations
(last axis = qubits); the exact backend filters its basis with it and the VMC
backend masks its conditionals with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearConstraint", "ParityConstraint", "Constraint", "check_feasible"]


@dataclass(frozen=True)
class LinearConstraint:
    """``sum_q weights[k] * b_{qubits[k]} == value`` (bits ``b in {0, 1}``).

    Parameters
    ----------
    name : str
        What is conserved, e.g. ``"total_sz"`` or ``"gauss[3]"``.
    qubits : tuple of int
        The qubits involved.
    weights : tuple of float
        One weight per qubit.
    value : float
        The required value of the weighted bit sum.
    """

    name: str
    qubits: tuple[int, ...]
    weights: tuple[float, ...]
    value: float

    def __post_init__(self):
        object.__setattr__(self, "qubits", tuple(int(q) for q in self.qubits))
        object.__setattr__(self, "weights", tuple(float(w) for w in self.weights))
        object.__setattr__(self, "value", float(self.value))
        if len(self.qubits) != len(self.weights):
            raise ValueError(f"constraint {self.name!r}: one weight per qubit is required")

    def evaluate(self, bits: np.ndarray) -> np.ndarray:
        """The weighted bit sum for each configuration in ``bits`` (..., n_qubits)."""
        bits = np.asarray(bits)
        return bits[..., list(self.qubits)] @ np.asarray(self.weights)

    def satisfied(self, bits: np.ndarray) -> np.ndarray:
        return np.abs(self.evaluate(bits) - self.value) < 1e-9

    def bounds(self) -> tuple[float, float]:
        """Smallest and largest value the weighted bit sum can take."""
        w = np.asarray(self.weights)
        return float(w[w < 0].sum()), float(w[w > 0].sum())

    def to_dict(self) -> dict:
        return {
            "type": "linear",
            "name": self.name,
            "qubits": list(self.qubits),
            "weights": list(self.weights),
            "value": self.value,
        }


@dataclass(frozen=True)
class ParityConstraint:
    """``sum_q b_q == parity (mod 2)``, i.e. ``prod_q Z_q == (-1)^parity``.

    Parameters
    ----------
    name : str
        What is conserved, e.g. ``"fermion_parity"``.
    qubits : tuple of int
        The qubits whose bit parity is fixed.
    parity : int
        0 (even, ``prod Z = +1``) or 1 (odd, ``prod Z = -1``).
    """

    name: str
    qubits: tuple[int, ...]
    parity: int

    def __post_init__(self):
        object.__setattr__(self, "qubits", tuple(int(q) for q in self.qubits))
        if self.parity not in (0, 1):
            raise ValueError(f"constraint {self.name!r}: parity must be 0 or 1, got {self.parity!r}")

    def evaluate(self, bits: np.ndarray) -> np.ndarray:
        bits = np.asarray(bits)
        return bits[..., list(self.qubits)].sum(axis=-1) % 2

    def satisfied(self, bits: np.ndarray) -> np.ndarray:
        return self.evaluate(bits) == self.parity

    def to_dict(self) -> dict:
        return {"type": "parity", "name": self.name, "qubits": list(self.qubits), "parity": self.parity}


Constraint = LinearConstraint | ParityConstraint


def check_feasible(constraint: Constraint) -> None:
    """Raise ``ValueError`` if no bit configuration can satisfy ``constraint`` alone."""
    if isinstance(constraint, ParityConstraint):
        if constraint.parity == 1 and not constraint.qubits:
            raise ValueError(f"constraint {constraint.name!r}: odd parity of no qubits is impossible")
        return
    lo, hi = constraint.bounds()
    if not lo - 1e-9 <= constraint.value <= hi + 1e-9:
        raise ValueError(
            f"constraint {constraint.name!r}: value {constraint.value} is outside the "
            f"reachable range [{lo}, {hi}]"
        )
