"""Helpers shared by the gauge-link models: Gauss's law as operators and observables.

Every gauge model is written in the *electric basis*, so that each Gauss-law
generator ``G_v`` is diagonal in the qubit basis and is declared as a
:class:`~manybody.constraints.LinearConstraint` (``G_v`` an integer-valued
divergence) or a :class:`~manybody.constraints.ParityConstraint`
(``G_v = prod Z``). The constraint's weighted bit sum minus its value *is*
``G_v - g_v`` (linear case), so the same object serves the backends (as a
sector) and the observables (as an operator).
"""

from __future__ import annotations

import numpy as np

from manybody.constraints import ParityConstraint, constraint_operator
from manybody.lattice import Square
from manybody.model import Model, observable
from manybody.observables import Observable, ObservableFamily
from manybody.operators import of
from manybody.validation import check_int

__all__ = [
    "LinkModel",
    "bit",
    "sigma_plus",
    "sigma_minus",
    "gauss_violation",
    "electric_field_family",
    "relabel",
    "link_order",
    "check_gauge_square",
]


def bit(q: int):
    """The bit ``b_q = (1 - Z_q) / 2`` (occupation, or spin down) as a ``QubitOperator``."""
    QubitOperator = of().QubitOperator
    return QubitOperator((), 0.5) - QubitOperator(f"Z{q}", 0.5)


def sigma_plus(q: int):
    """``|0><1|`` on qubit ``q`` = ``(X + iY) / 2`` (raises S^z by one: S^+)."""
    QubitOperator = of().QubitOperator
    return QubitOperator(f"X{q}", 0.5) + QubitOperator(f"Y{q}", 0.5j)


def sigma_minus(q: int):
    """``|1><0|`` on qubit ``q`` = ``(X - iY) / 2`` (S^-)."""
    QubitOperator = of().QubitOperator
    return QubitOperator(f"X{q}", 0.5) - QubitOperator(f"Y{q}", 0.5j)


def gauss_violation(constraints, name: str = "gauss_violation") -> Observable:
    """``sum_v (G_v - g_v)^2`` over the given Gauss-law constraints.

    For a linear generator this is the squared divergence mismatch; for a
    parity generator ``G_v = prod Z = +-1`` it is ``2 - 2 g_v G_v``, i.e. 4 per
    violated vertex. Zero exactly on the physical sector.
    """
    op = of().QubitOperator()
    for c in constraints:
        if isinstance(c, ParityConstraint):
            g = 1.0 - 2.0 * c.parity
            op += of().QubitOperator((), 2.0) - constraint_operator(c) * (2.0 * g)
        else:
            d = constraint_operator(c)
            op += d * d
    return Observable(name, op, "sum_v <(G_v - g_v)^2> over the Gauss-law generators (0 if physical)")


def electric_field_family(name: str, qubits, axis, scale: float, description: str) -> ObservableFamily:
    """One ``scale * Z_q`` per link qubit (``E = S^z = Z/2`` or the Z2 field ``Z``)."""
    QubitOperator = of().QubitOperator
    ops = tuple(QubitOperator(f"Z{q}", scale) for q in qubits)
    return ObservableFamily(name, "link", axis, ops, description)


def relabel(qop, mapping):
    """A copy of a ``QubitOperator`` with qubit ``q`` renamed ``mapping[q]``."""
    out = of().QubitOperator()
    out.terms = {tuple(sorted((mapping[q], p) for q, p in term)): c for term, c in qop.terms.items()}
    return out


def link_order(lattice) -> np.ndarray:
    """Links in a 1D order for DMRG/autoregressive models: by the position of
    their tail vertex in ``lattice.order`` (snake), x-link before y-link."""
    pos = np.empty(lattice.n_sites, dtype=int)
    pos[lattice.order] = np.arange(lattice.n_sites)
    coords = lattice.coords
    keys = []
    for k, (tail, head) in enumerate(lattice.links):
        d = np.abs(coords[head] - coords[tail])
        keys.append((pos[tail], int(np.argmax(d)), k))
    return np.array([k for *_, k in sorted(keys)])


def check_gauge_square(Lx, Ly, pbc) -> Square:
    """A ``Square`` lattice for a pure-gauge model, validated before any work.

    Each extent must be >= 2 (open) or >= 3 (periodic), so that plaquettes exist
    and no link is its own periodic image.
    """
    lattice = Square(check_int("Lx", Lx, minimum=2), check_int("Ly", Ly, minimum=2), pbc=pbc)
    flags = lattice.pbc if isinstance(lattice.pbc, tuple) else (lattice.pbc,) * 2
    for name, n, p in zip(("Lx", "Ly"), lattice.extent, flags):
        if p and n < 3:
            raise ValueError(
                f"{name} must be >= 3 on a periodic direction (got {n}); use pbc=False or a larger lattice"
            )
    return lattice


class LinkModel(Model):
    """Base of the pure-gauge models whose qubits are the links of a ``Square`` lattice
    (one qubit per link, ordered for DMRG/VMC by ``link_order``)."""

    @property
    def n_qubits(self) -> int:
        return len(self.lattice.links)

    @property
    def n_sites(self) -> int:
        return self.n_qubits

    @property
    def qubit_order(self) -> np.ndarray:
        return link_order(self.lattice)

    @observable("gauss_violation", default=True)
    def _gauss_violation(self):
        return gauss_violation(self.constraints)
