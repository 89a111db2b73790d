"""Whether a Hamiltonian-variational unit keeps the model's constraints.

A unit ``exp(-i theta sum_t c_t P_t)`` (synthesised term by term) keeps the
constrained sector when its terms commute and their sum maps every basis
state only to states with the same constraint values (total S^z, particle
numbers, parities, Gauss's law). This is what makes the HVA gauge invariant
for gauge models started from a Gauss-law state.
"""

from __future__ import annotations

import itertools

import numpy as np

from manybody.circuits.terms import flip_set
from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.pauli import PauliGroups, pauli_commute

__all__ = ["unit_preserves"]

_MAX_SUPPORT = 16


def unit_preserves(unit, constraints) -> bool:
    """Whether ``exp(-i theta sum(unit))`` keeps every constraint (see the module docstring)."""
    if not all(pauli_commute(a, b) for (a, _), (b, _) in itertools.combinations(unit, 2)):
        return False
    unit = [(t, c) for t, c in unit if flip_set(t)]  # diagonal terms keep every constraint
    flips = {flip_set(t) for t, _ in unit}
    if not flips:
        return True
    if len(flips) != 1:
        return False
    flip = sorted(flips.pop())
    support = sorted({q for t, _ in unit for q, _ in t})
    if len(support) > _MAX_SUPPORT:
        raise ValueError(f"cannot check a term acting on {len(support)} qubits for constraint preservation")
    # every assignment of the support's bits, as global basis-state integers
    local = np.arange(2 ** len(support))
    states = sum(((local >> k) & 1) << q for k, q in enumerate(support))
    ((xy, terms),) = PauliGroups(dict(unit)).groups.items()
    active = np.abs(PauliGroups.amplitudes(states, terms)) > 1e-12
    for con in constraints:
        if isinstance(con, ParityConstraint):
            if len(set(flip) & set(con.qubits)) % 2:
                return False
        elif isinstance(con, LinearConstraint):
            w = dict(zip(con.qubits, con.weights))
            delta = sum(w.get(q, 0.0) * (1 - 2 * ((states >> q) & 1)) for q in flip)
            if np.any(np.abs(np.asarray(delta)[active]) > 1e-9):
                return False
        else:
            raise TypeError(f"unknown constraint type {type(con).__name__}")
    return True
