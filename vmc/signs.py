"""Which sign structure a VMC run builds into its wave function (the ``sign_rule`` option).

Models declare the known signs of their ground states in the qubit basis as
:class:`manybody.signs.SignStructure` objects, ``model.problem.sign_structures``:

    s(b) = (-1)^(sum_q c_q b_q + sum_{(p, q) in pairs} b_p b_q)

(Marshall's rule on bipartite Heisenberg lattices, the reordering sign of the
Hubbard chain, ...; each with ``exact`` and ``recommended`` flags). The
transformer multiplies its amplitude by the chosen structure and learns only
the rest: for a real Hamiltonian the energy gradient along the phases vanishes
at real positive amplitudes, so signs that are parities of particle counts
are learned slowly or not at all.

``sign_rule``: ``"auto"`` takes the first structure the model recommends (none
if it recommends none), ``"none"`` none, ``"jastrow"`` a learned two-body phase
(:mod:`manybody.vmc.phase`) starting from the model's first declared structure,
and any other value names a declared structure. This module reads only the
compiled problem, never a model class.
"""

from __future__ import annotations

from manybody.signs import SignStructure

__all__ = ["sign_rule", "allowed_sign_rules", "LEARNED"]

LEARNED = "jastrow"


def allowed_sign_rules(problem) -> tuple[str, ...]:
    """``"auto"``, ``"none"``, ``"jastrow"`` and the names of the structures ``problem`` declares."""
    return ("auto", "none", LEARNED, *(s.name for s in problem.sign_structures))


def sign_rule(problem, name: str) -> SignStructure | None:
    """The sign structure ``name`` selects for ``problem`` (a ``CompiledProblem``), or None.

    Raises ``ValueError`` naming the allowed values when ``problem`` declares no structure ``name``.
    """
    if name == "none":
        return None
    if name == "auto":
        return next((s for s in problem.sign_structures if s.recommended), None)
    if name == LEARNED:  # the starting point of the learned phase
        ranked = sorted(problem.sign_structures, key=lambda s: not s.recommended)
        return ranked[0] if ranked else None
    if name not in allowed_sign_rules(problem):
        raise ValueError(
            f"sign_rule={name!r}: model {problem.name!r} declares no such sign structure; "
            f"allowed: {allowed_sign_rules(problem)}"
        )
    return problem.sign_structure(name)
