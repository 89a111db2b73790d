"""Constraints: conserved quantities that are diagonal in the qubit basis.

Every constraint a model declares (total S^z, particle number per spin,
fermion parity, Gauss's law in the electric basis) is a function of the
computational-basis bits ``b_q`` (see :mod:`manybody.operators` for the
convention) and selects the sector the backends work in:

* :class:`LinearConstraint`: ``sum_q w_q b_q == value``;
* :class:`ParityConstraint`: ``sum_q b_q == parity (mod 2)``.

Each constraint has a ``kind`` that tells a backend how it can be enforced:

* ``"charge"``: a global U(1) charge (total S^z, particle number per spin,
  total charge), a quantum number of block-sparse tensors;
* ``"parity"``: a global Z2 charge (fermion parity);
* ``"gauss"``: a local law (Gauss's law at one vertex), declared with
  ``local=True``; backends without local symmetries enforce it by the penalty
  :func:`penalty_operator`.

``satisfied(bits)`` evaluates a constraint on an array of bit configurations
(last axis = qubits); the exact backend filters its basis with it and the VMC
backend masks its conditionals with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LinearConstraint",
    "ParityConstraint",
    "Constraint",
    "check_feasible",
    "constraint_operator",
    "penalty_operator",
]


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
    local : bool
        A local law (Gauss's law at a vertex) rather than a global charge.
    """

    name: str
    qubits: tuple[int, ...]
    weights: tuple[float, ...]
    value: float
    local: bool = False

    @property
    def kind(self) -> str:
        """``"gauss"`` for a local law, else ``"charge"``."""
        return "gauss" if self.local else "charge"

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
            "local": self.local,
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
    local : bool
        A local law (Z2 Gauss's law at a vertex) rather than a global parity.
    """

    name: str
    qubits: tuple[int, ...]
    parity: int
    local: bool = False

    @property
    def kind(self) -> str:
        """``"gauss"`` for a local law, else ``"parity"``."""
        return "gauss" if self.local else "parity"

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
        return {
            "type": "parity",
            "name": self.name,
            "qubits": list(self.qubits),
            "parity": self.parity,
            "local": self.local,
        }


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


def constraint_operator(c):
    """The generator of a constraint as a diagonal ``QubitOperator``.

    ``LinearConstraint``: ``sum_k w_k b_{q_k} - value`` (zero on the sector), with
    ``b_q = (1 - Z_q) / 2``; ``ParityConstraint``: ``prod_k Z_{q_k}`` (``(-1)^parity``
    on the sector).
    """
    from openfermion import QubitOperator

    if isinstance(c, ParityConstraint):
        return QubitOperator(tuple((q, "Z") for q in c.qubits), 1.0)
    if isinstance(c, LinearConstraint):
        op = QubitOperator((), -c.value)
        for q, w in zip(c.qubits, c.weights):
            op += QubitOperator((), w / 2) - QubitOperator(f"Z{q}", w / 2)
        return op
    raise TypeError(f"unknown constraint type {type(c).__name__}")


def penalty_operator(constraints):
    """``V = sum_c V_c >= 0``, zero exactly on the sector, as a ``QubitOperator``.

    ``V_c = (sum_k w_k b_k - value)^2`` for a linear constraint and
    ``V_c = (1 - (-1)^parity prod_k Z_k) / 2`` (1 when violated) for a parity.
    """
    from openfermion import QubitOperator

    total = QubitOperator()
    for c in constraints:
        g = constraint_operator(c)
        if isinstance(c, ParityConstraint):
            total += QubitOperator((), 0.5) - g * (0.5 * (-1) ** c.parity)
        else:
            total += g * g
    total.compress()
    return total
