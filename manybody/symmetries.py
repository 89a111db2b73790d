"""Symmetries in the qubit basis: permutations of the qubits, optionally with every bit flipped.

A symmetry ``g`` maps a configuration of bits ``b`` to

    (g b)_q = b_{pi(q)} XOR f,

a qubit permutation ``pi`` (``permutation``) and a global bit flip ``f`` (``flip``; for spins
``prod_q X_q``, the rotation by pi about x). A model declares the generators its geometry
suggests (``Model.symmetries``: lattice translations, rotations, reflections, the spin flip);
:func:`symmetry_group` checks that each one leaves the Hamiltonian and the sector invariant
(``U H U^dag = H`` with ``U |b> = |g b>``, and ``g`` maps the sector onto itself) and closes
them into a group. The VMC backend symmetrises its wave function over such a group
(:mod:`manybody.vmc.symmetric`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from manybody.constraints import LinearConstraint, ParityConstraint

__all__ = ["QubitSymmetry", "check_symmetry", "symmetry_group", "transform_bits", "MAX_GROUP_ORDER"]

MAX_GROUP_ORDER = 1024
"""Largest group :func:`symmetry_group` builds (the 6x6 torus: 36 translations x 8 x 2 = 576)."""


@dataclass(frozen=True)
class QubitSymmetry:
    """``b -> (b_{pi(0)}, ..., b_{pi(n-1)}) XOR flip`` (see the module docstring).

    Attributes
    ----------
    name : str
        E.g. ``"translation_x"``; what a backend option (``symmetry``) refers to.
    permutation : tuple of int
        ``pi``: bit ``q`` of the image is bit ``pi(q)`` of the configuration.
    flip : bool
        Every bit of the image flipped as well.
    """

    name: str
    permutation: tuple[int, ...]
    flip: bool = False

    def __post_init__(self):
        perm = tuple(int(q) for q in self.permutation)
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(
                f"symmetry {self.name!r}: permutation must be a permutation of 0..n-1, got {perm}"
            )
        object.__setattr__(self, "permutation", perm)
        object.__setattr__(self, "flip", bool(self.flip))


def transform_bits(bits: np.ndarray, permutation, flip) -> np.ndarray:
    """``g b`` for configurations ``bits`` (..., n): ``bits[..., permutation] ^ flip``."""
    return np.asarray(bits)[..., np.asarray(permutation)] ^ np.asarray(flip, dtype=np.asarray(bits).dtype)


def _mapped_terms(hamiltonian, symmetry: QubitSymmetry) -> dict:
    """The terms of ``U H U^dag``: ``sigma_j -> sigma_{pi^-1(j)}``, and with the flip
    ``Y -> -Y``, ``Z -> -Z``."""
    inverse = np.argsort(symmetry.permutation)
    out = {}
    for term, coeff in hamiltonian.terms.items():
        mapped = tuple(sorted((int(inverse[q]), p) for q, p in term))
        if symmetry.flip:
            coeff = coeff * (-1) ** sum(p in "YZ" for _, p in term)
        out[mapped] = out.get(mapped, 0.0) + coeff
    return out


def _constraint_key(constraint, permutation=None, flip=False):
    """A canonical form of ``constraint`` (or of its pull-back by ``g``: the constraint that ``b``
    satisfies exactly when ``g b`` satisfies ``constraint``)."""
    qubits = np.asarray(constraint.qubits, dtype=int)
    if permutation is not None:
        qubits = np.asarray(permutation)[qubits]
    if isinstance(constraint, ParityConstraint):
        parity = (constraint.parity + (len(qubits) if flip else 0)) % 2
        return ("parity", tuple(sorted(qubits.tolist())), parity)
    weights, value = np.asarray(constraint.weights, dtype=float), constraint.value
    if flip:  # sum w (1 - b) = v  <=>  sum (-w) b = v - sum w
        weights, value = -weights, value - weights.sum()
    terms = sorted(zip(qubits.tolist(), weights.tolist()))
    if terms and terms[0][1] < 0:  # sum w b = v and sum (-w) b = -v are one constraint
        terms, value = [(q, -w) for q, w in terms], -value
    return ("linear", tuple((q, round(w, 9)) for q, w in terms), round(value, 9))


def check_symmetry(problem, symmetry: QubitSymmetry) -> None:
    """``ValueError`` unless ``symmetry`` leaves the Hamiltonian and the sector of ``problem`` invariant."""
    if len(symmetry.permutation) != problem.n_qubits:
        raise ValueError(
            f"symmetry {symmetry.name!r} permutes {len(symmetry.permutation)} qubits, model {problem.name!r} "
            f"has {problem.n_qubits}"
        )
    terms = _mapped_terms(problem.hamiltonian, symmetry)
    original = problem.hamiltonian.terms
    keys = set(terms) | set(original)
    if any(abs(terms.get(k, 0.0) - original.get(k, 0.0)) > 1e-12 for k in keys):
        raise ValueError(
            f"symmetry {symmetry.name!r} does not leave the Hamiltonian of model {problem.name!r} invariant"
        )
    sector = {_constraint_key(c) for c in problem.constraints}
    for c in problem.constraints:
        if not isinstance(c, (LinearConstraint, ParityConstraint)):
            raise ValueError(
                f"symmetry {symmetry.name!r}: constraint {c.name!r} of unknown type {type(c).__name__}"
            )
        if _constraint_key(c, symmetry.permutation, symmetry.flip) not in sector:
            raise ValueError(
                f"symmetry {symmetry.name!r} does not map the sector of model {problem.name!r} onto itself "
                f"(constraint {c.name!r}; e.g. the spin flip needs S^z = 0)"
            )


def symmetry_group(problem, generators) -> tuple[np.ndarray, np.ndarray]:
    """The group the symmetries ``generators`` generate, each checked against ``problem``.

    Parameters
    ----------
    problem : CompiledProblem
        Its Hamiltonian (a ``QubitOperator``) and constraints.
    generators : sequence of QubitSymmetry

    Returns
    -------
    permutations : ndarray of int, shape (G, n)
    flips : ndarray of int8, shape (G,)
        The group elements, the identity first: element ``k`` maps ``b`` to
        ``b[permutations[k]] ^ flips[k]``.
    """
    n = problem.n_qubits
    for g in generators:
        check_symmetry(problem, g)
    identity = (tuple(range(n)), 0)
    elements = {identity: None}
    frontier = [identity]
    gens = [(g.permutation, int(g.flip)) for g in generators]
    while frontier:
        new = []
        for perm, flip in frontier:
            for gperm, gflip in gens:
                # g (h b) = (h b)[gperm] ^ gflip = b[perm[gperm]] ^ flip ^ gflip
                element = (tuple(np.asarray(perm)[list(gperm)].tolist()), flip ^ gflip)
                if element not in elements:
                    elements[element] = None
                    new.append(element)
                    if len(elements) > MAX_GROUP_ORDER:
                        names = [g.name for g in generators]
                        raise ValueError(
                            f"the symmetries {names} generate more than MAX_GROUP_ORDER = {MAX_GROUP_ORDER} "
                            "elements: choose fewer"
                        )
        frontier = new
    listed = list(elements)
    return np.array([p for p, _ in listed], dtype=int), np.array([f for _, f in listed], dtype=np.int8)
