"""The compiled problem: everything a backend needs from a model, built once.

A :class:`CompiledProblem` is what every backend compiles from. It holds the
qubit Hamiltonian (Jordan-Wigner already applied, see
:mod:`manybody.operators` for the qubit convention) as an OpenFermion
``QubitOperator`` and as a :class:`~manybody.pauli.PauliTable`, the
constraints sorted by how they can be enforced, the qubit order used by MPS
and autoregressive backends, and the sign structures the model declares::

    problem = model.problem            # cached on the model
    problem.pauli.x, problem.pauli.z   # (n_terms, n_qubits) bool
    problem.charges                    # global U(1) charges: block-sparse quantum numbers
    problem.parities                   # global Z2 charges
    problem.gauss_laws                 # local laws: a penalty where not built in
    problem.sector()                   # the enumerated constrained basis (small systems)

Backends receive the model, read only ``model.problem`` (and ``model.name``
for messages), and never import a model class or another backend.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from manybody.constraints import penalty_operator
from manybody.pauli import PauliTable
from manybody.sector import SectorBasis, sector_dimension

__all__ = ["CompiledProblem", "compile_problem"]


@dataclass(eq=False)
class CompiledProblem:
    """A model compiled for the backends (see the module docstring).

    Attributes
    ----------
    name : str
        The model's name (for messages).
    n_qubits, n_sites : int
    qubit_order : ndarray of int
        ``qubit_order[p]`` is the qubit at position ``p`` of the 1D order
        (snake in 2D, a site's qubits adjacent).
    hamiltonian : QubitOperator
        Hermitian, real coefficients. Built on first access (it needs
        OpenFermion), so that the sector, the constraints and the sizes are
        available for checks within milliseconds.
    constraints : tuple
        Every constraint of the sector; each has ``kind`` in
        ``{"charge", "parity", "gauss"}``.
    sign_structures : tuple of SignStructure
        Declared by the model (may be empty).
    symmetries : tuple of QubitSymmetry
        Candidate symmetry generators declared by the model (may be empty; checked where used,
        :func:`manybody.symmetries.symmetry_group`).
    reference_energy : float or None
        A trusted ground-state energy, if the model knows one.
    model_dict : dict
        ``model.to_dict()``, for provenance.
    """

    name: str
    n_qubits: int
    n_sites: int
    qubit_order: np.ndarray
    _model: object = field(repr=False)
    constraints: tuple = ()
    sign_structures: tuple = ()
    symmetries: tuple = ()
    reference_energy: float | None = None
    model_dict: dict = field(default_factory=dict)
    _sector: SectorBasis | None = field(default=None, init=False, repr=False)

    @cached_property
    def hamiltonian(self):
        return self._model.qubit_hamiltonian

    @cached_property
    def pauli(self) -> PauliTable:
        """The Hamiltonian as a symplectic Pauli table."""
        return PauliTable.from_qubit_operator(self.hamiltonian, self.n_qubits)

    @property
    def e_inf(self) -> float:
        """``Tr H / 2^n``: the identity component (the V-score's reference energy)."""
        return float(np.real(self.hamiltonian.terms.get((), 0.0)))

    @property
    def charges(self) -> list:
        """Global U(1) charges ``sum_q w_q b_q = value`` (kind ``"charge"``)."""
        return [c for c in self.constraints if c.kind == "charge"]

    @property
    def parities(self) -> list:
        """Global Z2 charges ``sum_q b_q = parity mod 2`` (kind ``"parity"``)."""
        return [c for c in self.constraints if c.kind == "parity"]

    @property
    def gauss_laws(self) -> list:
        """Local laws (kind ``"gauss"``)."""
        return [c for c in self.constraints if c.kind == "gauss"]

    def penalty_operator(self, constraints=None):
        """``V >= 0``, zero exactly on the sector of ``constraints`` (default: all)."""
        return penalty_operator(self.constraints if constraints is None else constraints)

    def sector_dimension(self) -> int:
        """Number of basis states in the constrained sector (counted, not enumerated)."""
        return sector_dimension(self.n_qubits, self.constraints)

    def sector(self) -> SectorBasis:
        """The enumerated constrained basis (cached; at most 30 qubits)."""
        if self._sector is None:
            self._sector = SectorBasis(self.n_qubits, self.constraints)
        return self._sector

    def sign_structure(self, name: str):
        """The declared sign structure called ``name``; ``ValueError`` listing the declared ones."""
        return self._declared(self.sign_structures, "sign structure", name)

    def symmetry(self, name: str):
        """The declared symmetry generator called ``name``; ``ValueError`` listing the declared ones."""
        return self._declared(self.symmetries, "symmetry", name)

    def _declared(self, items, kind: str, name: str):
        for item in items:
            if item.name == name:
                return item
        names = [item.name for item in items]
        raise ValueError(f"model {self.name!r} declares no {kind} {name!r}; it declares {names}")


def compile_problem(model) -> CompiledProblem:
    """Compile ``model`` (cached as ``model.problem``; call that instead)."""
    order = np.asarray(model.qubit_order, dtype=int)
    n = model.n_qubits
    if sorted(order.tolist()) != list(range(n)):
        raise ValueError(
            f"model {model.name!r}: qubit_order must be a permutation of 0..{n - 1}, got {order}"
        )
    constraints = tuple(model.constraints)
    for c in constraints:
        if any(not 0 <= q < n for q in c.qubits):
            raise ValueError(f"constraint {c.name!r} involves qubits outside 0..{n - 1}: {c.qubits}")
    return CompiledProblem(
        name=model.name,
        n_qubits=n,
        n_sites=model.n_sites,
        qubit_order=order,
        _model=model,
        constraints=constraints,
        sign_structures=tuple(model.sign_structures()),
        symmetries=tuple(model.symmetries()),
        reference_energy=model.reference_energy,
        model_dict=model.to_dict(),
    )
