"""The exact backend (``backend="exact"``): sparse Lanczos in the constrained sector.

The Hamiltonian is built as a sparse matrix on the basis states that satisfy
every model constraint (total S^z, particle numbers, parity, Gauss's law),
and its lowest eigenpairs are found with ARPACK's Lanczos (``eigsh``), or a
dense ``eigh`` for small sectors. Observables are exact (error 0). This is
the oracle every other backend is tested against; it handles up to 30
qubits, comfortably ~24 spins in the S^z = 0 sector.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as spla

from manybody.backends import Backend, Solution
from manybody.exact.sector import MAX_QUBITS, PauliGroups, SectorBasis, pauli_masks
from manybody.observables import Estimate
from manybody.operators import of
from manybody.validation import check_int, check_real

__all__ = ["ExactBackend", "ExactOptions", "ExactState", "sector_hamiltonian"]

_DENSE_MAX_DIM = 1500


@dataclass
class ExactOptions:
    """Options of the exact backend.

    Attributes
    ----------
    n_states : int
        Number of lowest eigenstates to compute (>= 1); observables are
        evaluated on the lowest, the others' energies go to ``info["energies"]``.
    tol : float
        Relative tolerance of the Lanczos eigensolver (0 = machine precision).
    """

    n_states: int = 1
    tol: float = 0.0

    def __post_init__(self):
        check_int("n_states", self.n_states, minimum=1)
        check_real("tol", self.tol, low=0.0, high=1.0, high_open=True)


@dataclass
class ExactState:
    """Eigenvectors (columns of ``vectors``) on the sector ``basis``."""

    basis: SectorBasis
    vectors: np.ndarray
    energies: np.ndarray

    @property
    def psi(self) -> np.ndarray:
        return self.vectors[:, 0]


def sector_hamiltonian(model, basis: SectorBasis | None = None):
    """The model's Hamiltonian as a sparse matrix on its constrained sector.

    Returns
    -------
    H : scipy.sparse.csr_matrix
    basis : SectorBasis
        ``basis.states[k]`` is the integer basis state of row ``k``.
    """
    if basis is None:
        basis = SectorBasis(model.n_qubits, model.constraints)
    return PauliGroups(model.qubit_hamiltonian).matrix(basis, "Hamiltonian"), basis


class ExactBackend(Backend):
    name = "exact"
    Options = ExactOptions

    def check_model(self, model, options) -> None:
        if model.n_qubits > MAX_QUBITS:
            raise ValueError(
                f"the exact backend handles at most {MAX_QUBITS} qubits, {model.name} has "
                f"{model.n_qubits}: use backend='dmrg' or 'vmc'"
            )

    def solve(self, model, options: ExactOptions) -> Solution:
        H, basis = sector_hamiltonian(model)
        k = min(options.n_states, basis.dim)
        if basis.dim <= _DENSE_MAX_DIM:
            energies, vectors = scipy.linalg.eigh(H.toarray(), subset_by_index=(0, k - 1))
        else:
            v0 = np.random.default_rng(0).standard_normal(basis.dim).astype(H.dtype)
            energies, vectors = spla.eigsh(H, k=k, which="SA", tol=options.tol, v0=v0)
            order = np.argsort(energies)
            energies, vectors = energies[order], vectors[:, order]
        psi = vectors[:, 0]
        h_psi = H @ psi
        variance = max(float(np.vdot(h_psi, h_psi).real) - float(energies[0]) ** 2, 0.0)
        info = {"sector_dim": basis.dim, "energies": energies.tolist()}
        if k > 1:
            info["gap"] = float(energies[1] - energies[0])
        return Solution(
            energy=float(energies[0]),
            state=ExactState(basis, vectors, energies),
            variance=variance,
            info=info,
        )

    def expect(self, state: ExactState, model, operators) -> list[Estimate]:
        union = of().QubitOperator()
        union.terms = {term: 1.0 for op in operators for term in op.terms}
        values = PauliGroups(union).expectations(state.basis, state.psi)
        out = []
        for op in operators:
            mean = sum(complex(c) * values[pauli_masks(t)[:2]] for t, c in op.terms.items())
            out.append(Estimate(mean=float(np.real(mean)), error=0.0))
        return out

    def save_state(self, state: ExactState, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(
            folder / "exact_state.npz",
            states=state.basis.states,
            vectors=state.vectors,
            energies=state.energies,
        )

    def load_state(self, folder: Path, model) -> ExactState:
        with np.load(folder / "exact_state.npz", allow_pickle=False) as f:
            basis = SectorBasis(model.n_qubits, model.constraints)
            if not np.array_equal(basis.states, f["states"]):
                raise ValueError(f"{folder}: the saved basis does not match the model's sector")
            return ExactState(basis, f["vectors"], f["energies"])
