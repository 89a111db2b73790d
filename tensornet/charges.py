"""Quantum numbers: the model's global constraints as charges, its Hamiltonian as charged terms.

Every global constraint of the compiled problem becomes one charge of the
block-sparse tensors (:mod:`manybody.tensornet.tenpy_dmrg`):

* a ``LinearConstraint`` of kind ``"charge"`` (``sum_q w_q b_q == value``) is a
  U(1) charge: qubit ``q`` in state ``b`` carries ``k w_q b``, with ``k`` the
  smallest positive integer that makes every ``k w_q`` and ``k value`` integers;
* a ``ParityConstraint`` of kind ``"parity"`` (``sum_q b_q == parity mod 2``)
  is a Z2 charge: qubit ``q`` carries ``b`` (mod 2) if it is in the constraint.

Local Gauss laws (kind ``"gauss"``) are not charges; they stay a penalty.

The Hamiltonian enters as its Pauli strings with ``X = s+ + s-`` and
``Y = -i s+ + i s-`` (``s+ = |0><1|`` raises ``Z``, ``s- = |1><0|``), so that
every resulting operator string has a definite charge. The strings are summed
(``XX + YY`` leaves only ``2 (s+ s- + s- s+)``), and each one left must
conserve every charge; otherwise :func:`charged_terms` refuses the model.
"""

from __future__ import annotations

import functools
import itertools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

__all__ = ["Charge", "sector_charges", "charged_terms", "site_operators", "charge_definite_mps", "QUBIT_OPS"]

QUBIT_OPS = {
    "Id": np.eye(2),
    "Z": np.array([[1.0, 0.0], [0.0, -1.0]]),
    "Sp": np.array([[0.0, 1.0], [0.0, 0.0]]),  # |0><1|: b = 1 -> b = 0
    "Sm": np.array([[0.0, 0.0], [1.0, 0.0]]),  # |1><0|
}
"""Operators on one qubit (basis ``b = 0, 1``, ``b = 0`` is ``Z = +1``)."""

_SPLIT = {"X": (("Sp", 1.0), ("Sm", 1.0)), "Y": (("Sp", -1.0j), ("Sm", 1.0j)), "Z": (("Z", 1.0),)}
_BIT_CHANGE = {"Z": 0, "Sp": -1, "Sm": 1}  # change of b
_MAX_SCALE = 1000
_DROP = 1e-13  # relative size of a summed coefficient treated as zero


@dataclass(frozen=True)
class Charge:
    """One conserved quantity as a block-sparse charge.

    Attributes
    ----------
    name : str
        The constraint's name (``"total_sz"``, ``"n_up"``, ``"fermion_parity"``).
    kind : str
        ``"charge"`` (U(1)) or ``"parity"`` (Z2).
    mod : int
        1 for U(1), 2 for Z2 (TeNPy's convention).
    per_qubit : ndarray of int
        Charge carried by each qubit in state ``b = 1`` (``b = 0`` carries 0), qubit order.
    target : int
        Total charge of the sector (``k * value`` for U(1), ``parity`` for Z2).
    value : float
        The constraint's value as declared (``value`` or ``parity``).
    """

    name: str
    kind: str
    mod: int
    per_qubit: np.ndarray
    target: int
    value: float

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "value": self.value}


def _integer_scale(values, name):
    """Smallest positive integer ``k`` with every ``k * v`` an integer (within 1e-9)."""
    k = 1
    for v in values:
        frac = Fraction(v).limit_denominator(_MAX_SCALE)
        if abs(float(frac) - v) > 1e-9:
            raise ValueError(
                f"constraint {name!r}: weight or value {v!r} is not a ratio of integers up to "
                f"{_MAX_SCALE}; it cannot be a charge (pass symmetry=False to use a penalty)"
            )
        k = math.lcm(k, frac.denominator)
    return k


def sector_charges(charges, parities, n_qubits: int) -> list[Charge]:
    """The charges of the global U(1) constraints ``charges`` and Z2 constraints ``parities``."""
    out = []
    for c in charges:
        k = _integer_scale([*c.weights, c.value], c.name)
        per = np.zeros(n_qubits, dtype=np.int64)
        for q, w in zip(c.qubits, c.weights):
            per[q] += round(k * w)
        out.append(Charge(c.name, "charge", 1, per, round(k * c.value), float(c.value)))
    for c in parities:
        per = np.zeros(n_qubits, dtype=np.int64)
        for q in c.qubits:
            per[q] = (per[q] + 1) % 2
        out.append(Charge(c.name, "parity", 2, per, int(c.parity), float(c.parity)))
    return out


def site_operators(group: int) -> dict[str, np.ndarray]:
    """Operators of a site of ``group`` consecutive qubits: ``"A_B"`` is ``kron(A, B)`` of
    :data:`QUBIT_OPS` (the first qubit most significant in the site's basis index)."""
    ops = {}
    for names in itertools.product(QUBIT_OPS, repeat=group):
        if any(n != "Id" for n in names):
            ops["_".join(names)] = functools.reduce(np.kron, [QUBIT_OPS[n] for n in names])
    return ops


def charged_terms(qop, order, charges: list[Charge], group: int = 1):
    """The Hamiltonian as operator strings of definite charge, in MPS order.

    Parameters
    ----------
    qop : openfermion.QubitOperator
        The qubit Hamiltonian.
    order : array of int
        ``order[p]`` is the qubit at MPS position ``p``.
    charges : list of Charge
    group : int
        Qubits per MPS site: site ``s`` holds positions ``group * s ... group * s + group - 1``.

    Returns
    -------
    terms : list of tuple of (op, site)
        Operator strings, sites increasing, ``op`` a key of :func:`site_operators`.
    coeffs : ndarray of complex
    constant : float
        The identity component.

    Raises
    ------
    ValueError
        If a string with non-zero coefficient changes one of the charges.
    """
    position = np.empty(len(order), dtype=int)
    position[np.asarray(order)] = np.arange(len(order))
    summed: dict[tuple, complex] = {}
    constant = 0.0
    scale = 0.0
    for term, coeff in qop.terms.items():
        scale = max(scale, abs(coeff))
        if not term:
            constant += float(np.real(coeff))
            continue
        letters = sorted((int(position[q]), p) for q, p in term)
        sites = [s for s, _ in letters]
        for choice in itertools.product(*(_SPLIT[p] for _, p in letters)):
            key = tuple((op, s) for s, (op, _) in zip(sites, choice))
            c = complex(coeff) * math.prod(f for _, f in choice)
            summed[key] = summed.get(key, 0.0) + c
    terms, coeffs = [], []
    qubit_at = np.asarray(order)
    for key, c in summed.items():
        if abs(c) <= _DROP * scale:
            continue
        for ch in charges:
            change = sum(_BIT_CHANGE[op] * int(ch.per_qubit[qubit_at[s]]) for op, s in key)
            if (change % ch.mod if ch.mod > 1 else change) != 0:
                raise ValueError(
                    f"the Hamiltonian does not conserve {ch.kind} {ch.name!r}: the term "
                    f"{c:.3g} * {' '.join(f'{op}{int(qubit_at[s])}' for op, s in key)} changes it by "
                    f"{change}; fix the model's constraints or pass symmetry=False"
                )
        terms.append(_group_sites(key, group))
        coeffs.append(c)
    return terms, np.asarray(coeffs, dtype=complex), constant


def _group_sites(key, group):
    """``((op, position), ...)`` -> ``((site_op, site), ...)`` for sites of ``group`` positions."""
    if group == 1:
        return key
    sites: dict[int, list[str]] = {}
    for op, p in key:
        sites.setdefault(p // group, ["Id"] * group)[p % group] = op
    return tuple(("_".join(ops), s) for s, ops in sorted(sites.items()))


def charge_definite_mps(arrays, order, charges: list[Charge], rel_cutoff: float = 1e-12):
    """The same MPS with bond states of definite charge, projected on the sector.

    An MPS from the dense engine (or any gauge) mixes charge sectors within its bond
    bases. Sweeping left to right, the rows ``(left state, bit)`` of each tensor
    are grouped by their charge and each group is decomposed by its own SVD
    (singular values below ``rel_cutoff`` times the largest dropped), so that every
    new bond state carries one charge; at the end the components whose total
    charge differs from the sector's are dropped.

    Parameters
    ----------
    arrays : list of ndarray
        ``(chi_left, 2, chi_right)`` qubit tensors in MPS order.
    order : array of int
        ``order[p]`` is the qubit at MPS position ``p``.
    charges : list of Charge

    Returns
    -------
    list of ndarray
        Tensors whose bond indices each have one charge (unnormalised).
    """
    mods = np.array([c.mod for c in charges])
    per = np.stack([c.per_qubit for c in charges], axis=1)[np.asarray(order)]  # (L, n_charges)
    target = np.array([c.target for c in charges])

    def wrap(q):
        return np.where(mods > 1, q % np.maximum(mods, 1), q)

    q_left = np.zeros((1, len(charges)), dtype=np.int64)
    carry = np.ones((1, 1))
    out = []
    for p, a in enumerate(arrays):
        a = np.tensordot(carry, a, axes=(1, 0))
        left, _, right = a.shape
        q_rows = wrap(q_left[:, None, :] + np.array([0, 1])[None, :, None] * per[p]).reshape(left * 2, -1)
        m = a.reshape(left * 2, right)
        if p == len(arrays) - 1:
            m = m * np.all(q_rows == wrap(target), axis=1)[:, None]
            out.append(m.reshape(left, 2, right))
            break
        blocks = []
        for q in np.unique(q_rows, axis=0):
            rows = np.flatnonzero(np.all(q_rows == q, axis=1))
            u, sv, vh = np.linalg.svd(m[rows], full_matrices=False)
            blocks.append((q, rows, u, sv, vh))
        largest = max((b[3][0] for b in blocks if len(b[3])), default=0.0)
        iso, rest, q_new = [], [], []
        for q, rows, u, sv, vh in blocks:
            keep = int(np.count_nonzero(sv > rel_cutoff * largest))
            col = np.zeros((left * 2, keep), dtype=u.dtype)
            col[rows] = u[:, :keep]
            iso.append(col)
            rest.append(sv[:keep, None] * vh[:keep])
            q_new.extend([q] * keep)
        out.append(np.hstack(iso).reshape(left, 2, -1))
        carry = np.vstack(rest)
        q_left = np.array(q_new, dtype=np.int64).reshape(-1, len(charges))
    return out
