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

``sign_rule``: ``"auto"`` takes the first structure the model recommends and,
if it recommends none or only an approximate one, the learned Slater phase
(``AUTO_LEARNED``) where two or more particle numbers are conserved (spinful
fermions: measured on the Hubbard model; periodic Hubbard chain L=8 at U=4 with
the defaults: 8.7e-3 and 7.2e-3 (seeds 0, 1) with the Slater phase against 2.3e-2 with the approximate
``hubbard_chain`` rule; single-species problems such as a Heisenberg S^z sector
or the Schwinger model's charge were not measured with it and keep their
recommended structure or none), else the recommended structure or nothing; ``"none"`` none; ``"jastrow"`` a learned
two-body phase (:mod:`manybody.vmc.phase`) starting from the model's first
declared structure; ``"local"`` a learned phase of per-qubit tables over each qubit's Hamiltonian
neighbourhood, started the same way (J1-J2 4x4 torus at J2 = 0.5: on the exact modulus its best
phase reaches 2.8e-3 where the two-body phase's best is Marshall's 2.2e-2, but 400 SR iterations
do not find it; ``benchmarks/vmc_j1j2.py``); ``"slater"`` the phase of a Slater determinant with
trainable orbitals (:mod:`manybody.vmc.slater`); ``"hartree_fock"`` the fixed sign of the
generalized Hartree-Fock determinant (two balanced species: measured with the defaults, open 2x4
Hubbard 5.6e-2 and periodic L=8 6.3e-3 / 9.9e-3 (seeds 0 / 1, SPRING defaults) against 4.0e-2 and 8.7e-3 / 7.2e-3
with the Slater phase, so
"auto" does not take it); any other value names a
declared structure. This module reads only the compiled problem, never a model
class.
"""

from __future__ import annotations

import netket as nk
import numpy as np

from manybody.signs import SignStructure

__all__ = ["sign_rule", "learned_phase", "phase_network", "allowed_sign_rules", "LEARNED", "AUTO_LEARNED"]

LEARNED = ("jastrow", "local", "slater", "hartree_fock")
"""The phases that wrap the transformer (``sign_rule`` values): the learned two-body, local and Slater
phases, and the fixed sign of the Hartree-Fock determinant (:mod:`manybody.vmc.slater`)."""

TRAINED = ("jastrow", "local", "slater")
"""The phases of ``LEARNED`` with trainable parameters (the Hartree-Fock sign is fixed)."""

AUTO_LEARNED = "slater"
"""The learned phase ``"auto"`` uses when the model recommends no exact structure and conserves two
or more particle numbers."""


def allowed_sign_rules(problem) -> tuple[str, ...]:
    """``"auto"``, ``"none"``, the learned phases and the names of the structures ``problem`` declares."""
    return ("auto", "none", *LEARNED, *(s.name for s in problem.sign_structures))


def learned_phase(problem, name: str) -> str | None:
    """The learned phase (one of ``LEARNED``) that ``sign_rule=name`` selects, or None.

    ``ValueError`` for ``"slater"`` on a problem without fixed particle numbers.
    """
    from manybody.vmc.slater import uses_hartree_fock

    if name == "slater" and _fermion_species(problem) == 0:
        raise ValueError(
            f"sign_rule='slater' needs fixed particle numbers (charge constraints with unit weights "
            f"covering every qubit); model {problem.name!r} has none: use 'jastrow' or 'none'"
        )
    if name == "hartree_fock" and not uses_hartree_fock(problem):
        raise ValueError(
            f"sign_rule='hartree_fock' needs two fixed particle numbers of equal size on equally many "
            f"qubits and two-body terms (e.g. Hubbard with n_up = n_down, U != 0); model "
            f"{problem.name!r} does not have them: use 'slater', 'jastrow' or 'none'"
        )
    if name == "local":
        from manybody.vmc.phase import LocalPhaseAR

        LocalPhaseAR.layout(problem.hamiltonian, problem.n_qubits)  # ValueError: too many neighbours
        start = sign_rule(problem, "local")
        if start is not None and start.pairs:
            raise ValueError(
                f"sign_rule='local' starts from a linear sign structure; the first declared structure of "
                f"model {problem.name!r}, {start.name!r}, has pairs: use 'jastrow'"
            )
    if name in LEARNED:
        return name
    if name == "auto" and sign_rule(problem, "auto") is None and _fermion_species(problem) >= 2:
        return AUTO_LEARNED
    return None


def _fermion_species(problem) -> int:
    """The number of conserved particle numbers of ``problem`` (:func:`manybody.vmc.slater.species`)."""
    from manybody.vmc.slater import species

    return len(species(problem) or ())


def sign_rule(problem, name: str) -> SignStructure | None:
    """The sign structure ``name`` selects for ``problem`` (a ``CompiledProblem``), or None.

    For ``"jastrow"`` and ``"local"`` it is the starting point of the learned phase; ``"slater"`` and
    ``"hartree_fock"`` use none, nor does ``"auto"`` where it selects the Slater phase
    (:func:`learned_phase`).
    Raises ``ValueError`` naming the allowed values when ``problem`` declares no structure ``name``.
    """
    if name in ("none", "slater", "hartree_fock"):
        return None
    if name == "auto":
        recommended = next((s for s in problem.sign_structures if s.recommended), None)
        if recommended is not None and not recommended.exact and _fermion_species(problem) >= 2:
            return None  # the learned Slater phase instead (learned_phase)
        return recommended
    if name in ("jastrow", "local"):  # the starting point of the learned phase
        ranked = sorted(problem.sign_structures, key=lambda s: not s.recommended)
        return ranked[0] if ranked else None
    if name not in allowed_sign_rules(problem):
        raise ValueError(
            f"sign_rule={name!r}: model {problem.name!r} declares no such sign structure; "
            f"allowed: {allowed_sign_rules(problem)}"
        )
    return problem.sign_structure(name)


def phase_network(problem, phase: str, amplitude, rule: SignStructure | None):
    """``amplitude`` (an ARTransformer without a fixed rule) times the learned ``phase``.

    ``rule`` starts the two-body phase (``"jastrow"``) and the local phase (``"local"``, linear
    structures only); the Slater phase starts from the one-body
    orbitals (``ValueError`` without fixed particle numbers); ``"hartree_fock"`` is the Slater
    factor with the fixed Hartree-Fock orbitals, under a transformer whose phase head starts at
    zero (its random start, std 0.1 on the kernel, adds phases of std 0.5-1.5 rad: open 2x4 Hubbard
    3.3e-3 -> 0.08 / 0.49 on the exact modulus, seeds 0 / 1); for a real Hamiltonian the state is then real and stays so.
    """
    from manybody.vmc.phase import JastrowPhaseAR, LocalPhaseAR
    from manybody.vmc.slater import SlaterPhaseAR, hartree_fock, one_body_orbitals

    hashable = nk.utils.HashableArray
    if phase == "hartree_fock":
        return SlaterPhaseAR(
            hilbert=amplitude.hilbert,
            amplitude=amplitude.clone(phase_init_scale=0.0),
            orbitals0=hashable(hartree_fock(problem)[0]),
            trainable=False,
        )
    if phase == "slater":
        return SlaterPhaseAR(
            hilbert=amplitude.hilbert, amplitude=amplitude, orbitals0=hashable(one_body_orbitals(problem))
        )
    if phase == "local":
        linear = None if rule is None else rule.linear
        return LocalPhaseAR(
            hilbert=amplitude.hilbert,
            amplitude=amplitude,
            **LocalPhaseAR.layout(problem.hamiltonian, problem.n_qubits, linear),
        )
    pairs = None if rule is None else rule.pair_matrix(problem.n_qubits)
    return JastrowPhaseAR(
        hilbert=amplitude.hilbert,
        amplitude=amplitude,
        linear0=None if rule is None or rule.linear is None else hashable(np.asarray(rule.linear, float)),
        pairs0=None if pairs is None else hashable(pairs.astype(float)),
    )
