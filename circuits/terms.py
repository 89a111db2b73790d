"""The Hamiltonian's Pauli terms grouped for the Hamiltonian-variational ansatz.

1. Pauli terms are collected into *units* by the set of qubits they flip
   (X or Y): ``XX + YY`` on a bond, a Jordan-Wigner hopping
   ``X Z..Z X + Y Z..Z Y``, a gauge-link hopping ``sigma^+ U sigma^-`` + h.c.
   A diagonal term whose support equals a unit's flip set joins that unit
   (``ZZ`` of a Heisenberg bond); the other diagonal terms form the last
   group, one unit per support (Hubbard interaction on a site, a field,
   an electric energy).
2. Units are coloured greedily into *groups* of mutually commuting terms
   (even / odd bonds on a chain, hopping directions on a lattice), so
   ``exp(-i theta H_group)`` is an exact product of Pauli rotations.

A unit is a list of ``(term, coefficient)`` with OpenFermion terms
``((qubit, 'X'|'Y'|'Z'), ...)`` and real coefficients; a group is a list of units.

Flat landscapes: if the off-diagonal terms form a single group,
``exp(-i theta H_group)`` cannot lower the energy of a diagonal eigenstate;
if every term is real and flips the parity of one Z string
(:func:`odd_real_terms`, e.g. a quantum link model without mass or electric
term), every state reached from a basis state has ``<H> = 0``. In both cases
the ansatz adds each unit's phase partner (:func:`phase_partners`).
"""

from __future__ import annotations

import numpy as np

from manybody.pauli import pauli_commute, pauli_masks

__all__ = [
    "flip_set",
    "term_groups",
    "phase_partners",
    "odd_real_terms",
    "needs_phase_partners",
    "light_cone_layers",
]


def flip_set(term) -> frozenset:
    """The qubits a Pauli term flips (X or Y)."""
    return frozenset(q for q, p in term if p != "Z")


def term_groups(qop) -> list[list[list[tuple]]]:
    """The Hamiltonian's terms as groups of units of ``(term, coefficient)``.

    Units within a group commute term by term; the diagonal units (if any)
    form the last group. See the module docstring.
    """
    units: dict[frozenset, list] = {}
    diag = []
    for term, c in sorted(qop.terms.items()):
        if not term:
            continue
        f = flip_set(term)
        (units.setdefault(f, []) if f else diag).append((term, float(np.real(c))))
    rest = []
    for term, c in diag:
        support = frozenset(q for q, _ in term)
        if len(support) > 1 and support in units:
            units[support].append((term, c))
        else:
            rest.append((term, c))
    # split a unit whose terms do not commute into commuting pieces
    pieces = []
    for key in sorted(units, key=lambda f: (min(f), sorted(f))):
        for term, c in units[key]:
            for piece in pieces:
                if piece[0] is key and all(pauli_commute(term, t) for t, _ in piece[1]):
                    piece[1].append((term, c))
                    break
            else:
                pieces.append((key, [(term, c)]))
    groups = _colour([unit for _, unit in pieces])
    if rest:
        by_support: dict[frozenset, list] = {}
        for term, c in rest:
            by_support.setdefault(frozenset(q for q, _ in term), []).append((term, c))
        groups.append([by_support[k] for k in sorted(by_support, key=lambda f: (len(f), sorted(f)))])
    return groups


def _colour(units) -> list[list]:
    """Greedy colouring of units into groups whose terms all commute."""
    groups: list[list] = []
    for unit in units:
        for group in groups:
            if all(pauli_commute(t, s) for t, _ in unit for u in group for s, _ in u):
                group.append(unit)
                break
        else:
            groups.append([unit])
    return groups


def phase_partners(groups) -> list[list]:
    """Groups of the units ``i [Z_q, h_u] / 2`` (q = the unit's first flipped qubit: X_q -> -Y_q, Y_q -> X_q).

    The partners rotate the same flips with a quarter-period phase and keep
    every constraint the unit keeps.
    """
    units = []
    for g in groups:
        for unit in g:
            flips = [q for t, _ in unit for q, p in t if p != "Z"]
            if not flips:
                continue
            q0 = min(flips)
            new = []
            for term, c in unit:
                ops = dict(term)
                if ops.get(q0) == "X":
                    ops[q0], c = "Y", -c
                elif ops.get(q0) == "Y":
                    ops[q0] = "X"
                else:
                    continue
                new.append((tuple(sorted(ops.items())), c))
            units.append(new)
    return _colour(units)


def odd_real_terms(qop) -> bool:
    """Whether every term is real and anticommutes with one Z string ``Pi`` (then the HVA landscape is flat).

    With ``K`` complex conjugation, each ``exp(-i theta h)`` of real terms ``h`` that anticommute
    with ``Pi`` commutes with the antiunitary ``Pi K``, which fixes a real basis state up to sign,
    while ``Pi K H (Pi K)^-1 = -H``: every state the HVA reaches from a basis state has ``<H> = 0``.
    ``Pi`` is found by Gaussian elimination over GF(2): ``|flips(t) & Pi|`` odd for every term ``t``
    (impossible as soon as there is a diagonal term).
    """
    pivots: dict[int, tuple[int, int]] = {}  # leading bit -> (mask, parity)
    for term in qop.terms:
        if not term:
            continue
        mask, _, n_y = pauli_masks(term)
        if n_y % 2:
            return False
        rhs = 1
        while mask:
            lead = mask.bit_length() - 1
            if lead not in pivots:
                pivots[lead] = (mask, rhs)
                break
            mask, rhs = mask ^ pivots[lead][0], rhs ^ pivots[lead][1]
        else:
            if rhs:
                return False
    return bool(pivots)


def needs_phase_partners(qop, groups) -> bool:
    """Whether the plain HVA landscape is flat (see the module docstring)."""
    off_diagonal = [g for g in groups if any(flip_set(t) for u in g for t, _ in u)]
    return len(off_diagonal) == 1 or odd_real_terms(qop)


def light_cone_layers(groups, n_qubits: int) -> int:
    """Layers of ``groups`` after which every qubit's light cone covers all the qubits it can reach.

    One layer applies the groups in order; within a group the units act in parallel, so a cone
    grows by the supports of the units that touch it (brickwork on a chain: two sites per layer,
    ``L/2`` layers on the open chain of ``L`` sites). Qubits no unit connects are left out.
    """
    supports = [[{q for t, _ in unit for q, _ in t} for unit in g] for g in groups]
    deepest = 0
    for start in range(n_qubits):
        cone, layers = {start}, 0
        while True:
            grown = set(cone)
            for group in supports:
                grown |= set().union(*(s for s in group if s & grown))
            if grown == cone:
                break
            cone, layers = grown, layers + 1
        deepest = max(deepest, layers)
    return deepest
