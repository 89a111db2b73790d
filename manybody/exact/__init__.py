"""The exact backend (``backend="exact"``): sparse Lanczos in the constrained sector.

The Hamiltonian is built as a sparse matrix on the basis states that satisfy
every model constraint (total S^z, particle numbers, parity, Gauss's law),
and its lowest eigenpairs are found with ARPACK's Lanczos (``eigsh``), or a
dense ``eigh`` for small sectors. Observables are exact (error 0). This is
the oracle every other backend is tested against; it handles up to 30
qubits, comfortably ~24 spins in the S^z = 0 sector.

Before building anything it counts the sector and estimates the memory the
basis, the sparse matrix and the Lanczos vectors need
(:func:`memory_estimate`); a problem that does not fit in ``max_memory``
(default: 80 % of the memory available now) is refused with the numbers and
the alternatives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse.linalg as spla

from manybody.backends import Backend, Solution
from manybody.evolution import Snapshot
from manybody.observables import Estimate
from manybody.pauli import PauliGroups
from manybody.sector import DENSE_INDEX_MAX_QUBITS, MAX_QUBITS, SectorBasis
from manybody.validation import check_int, check_real

__all__ = [
    "ExactBackend",
    "ExactOptions",
    "ExactEvolveOptions",
    "ExactState",
    "sector_hamiltonian",
    "memory_estimate",
    "half_chain_entropy",
]

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
    max_memory : float or None
        Largest memory estimate (GiB) the backend accepts before it refuses;
        None: 80 % of the memory available when ``solve`` starts.
    """

    n_states: int = 1
    tol: float = 0.0
    max_memory: float | None = None

    def __post_init__(self):
        self.n_states = check_int("n_states", self.n_states, minimum=1)
        self.tol = check_real("tol", self.tol, low=0.0, high=1.0, high_open=True)
        self.max_memory = check_real("max_memory", self.max_memory, low=0.0, low_open=True, allow_none=True)


@dataclass
class ExactEvolveOptions:
    """Options of the exact evolution (Krylov action of ``exp(-i H dt)``, SciPy's ``expm_multiply``).

    Attributes
    ----------
    entropy : bool
        Compute the entanglement entropy of the middle cut of the qubit order at every
        time (needs the full 2^n vector: at most 24 qubits).
    max_memory : float or None
        As for the ground state (GiB).
    """

    entropy: bool = True
    max_memory: float | None = None

    def __post_init__(self):
        from manybody.validation import check_bool

        self.entropy = check_bool("entropy", self.entropy)
        self.max_memory = check_real("max_memory", self.max_memory, low=0.0, low_open=True, allow_none=True)


_ENTROPY_MAX_QUBITS = 24


def half_chain_entropy(basis: SectorBasis, psi: np.ndarray, order: np.ndarray) -> float:
    """Von Neumann entropy (nats) of the first ``n // 2`` qubits of ``order`` in the state ``psi``."""
    n = basis.n_qubits
    full = np.zeros(2**n, dtype=psi.dtype)
    full[basis.states] = psi
    # axis k of the (2,)*n tensor is qubit n-1-k (qubit 0 is the least significant bit)
    tensor = full.reshape((2,) * n).transpose([n - 1 - q for q in order])
    s = np.linalg.svd(tensor.reshape(2 ** (n // 2), -1), compute_uv=False)
    p = s[s > 1e-15] ** 2
    p = p / p.sum()
    return float(-(p * np.log(p)).sum())


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
    problem = model.problem
    if basis is None:
        basis = problem.sector()
    return PauliGroups(problem.hamiltonian).matrix(basis, "Hamiltonian"), basis


def memory_estimate(problem, n_states: int = 1, count_flip_masks: bool = True) -> tuple[int, float]:
    """``(sector dimension, bytes)`` the exact backend needs for ``problem``, estimated before any work.

    Counts: the look-up table (4 bytes per basis state of the full space, up to
    27 qubits), the basis (8 bytes per state), the sparse matrix while it is
    assembled (about 56 bytes per non-zero, at most one per state and flip mask
    of the Hamiltonian) and the Lanczos vectors (about ``20 + 2 n_states``
    vectors of 16 bytes per state).

    With ``count_flip_masks=False`` the Hamiltonian is not built (it needs
    OpenFermion and the whole operator) and the matrix is counted as diagonal:
    the result is then a lower bound, cheap enough to refuse an oversized problem
    at once.
    """
    dim = problem.sector_dimension()
    n_flip_masks = len(np.unique(problem.pauli.x, axis=0)) + 1 if count_flip_masks else 1
    nbytes = 8 * dim + 56 * dim * n_flip_masks + 16 * dim * (20 + 2 * n_states)
    if problem.n_qubits <= DENSE_INDEX_MAX_QUBITS:
        nbytes += 4 * 2**problem.n_qubits
    return dim, float(nbytes)


def _available_memory() -> float:
    """Bytes of memory available now (``MemAvailable``; total memory where that is not readable)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return 1024.0 * int(line.split()[1])
    except OSError:
        pass
    import os

    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


class ExactBackend(Backend):
    name = "exact"
    Options = ExactOptions
    EvolveOptions = ExactEvolveOptions

    def check_model(self, model, options) -> None:
        if model.n_qubits > MAX_QUBITS:
            raise ValueError(
                f"the exact backend handles at most {MAX_QUBITS} qubits, {model.name} has "
                f"{model.n_qubits}: use backend='dmrg' or 'vmc'"
            )
        n_states = getattr(options, "n_states", 1)
        limit = 0.8 * _available_memory() if options.max_memory is None else options.max_memory * 2**30
        dim, nbytes = memory_estimate(model.problem, n_states, count_flip_masks=False)
        if dim == 0:
            names = [c.name for c in model.problem.constraints]
            raise ValueError(f"the constraints {names} admit no state: the sector is empty")
        at_least = nbytes > limit
        # at most one non-zero per matrix element: a bound that needs no Hamiltonian either
        fits_dense = nbytes + 56 * dim * (dim - 1) <= limit
        if not at_least and not fits_dense:
            dim, nbytes = memory_estimate(model.problem, n_states)
        if nbytes > limit:
            raise ValueError(
                f"the exact backend would need {'at least' if at_least else 'about'} {nbytes / 2**30:.3g} GiB for {model.name} "
                f"({model.n_qubits} qubits, sector dimension {dim:,}), more than max_memory="
                f"{limit / 2**30:.3g} GiB: fix a constraint sector (e.g. sz=0, n_up/n_down), "
                f"use backend='dmrg' or 'vmc', or raise max_memory"
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

    def evolve(self, model, initial, times, options: ExactEvolveOptions):
        """``psi(t) = exp(-i H t) psi(0)`` on the sector, step by step between the requested times."""
        self.check_model(model, options)
        H, basis = sector_hamiltonian(model)
        if initial.result is not None:
            start = initial.result.state
            if not np.array_equal(start.basis.states, basis.states):
                raise ValueError("initial: the result's sector differs from the evolved model's sector")
            psi0 = start.psi.astype(complex)
        else:
            idx, _ = basis.index(np.array([int(np.dot(initial.bits, 1 << np.arange(basis.n_qubits)))]))
            psi0 = np.zeros(basis.dim, dtype=complex)
            psi0[idx[0]] = 1.0
        entropy = options.entropy and basis.n_qubits <= _ENTROPY_MAX_QUBITS
        order = model.problem.qubit_order
        psi, now = psi0, 0.0
        for t in times:
            if t > now:
                psi = spla.expm_multiply(-1j * (t - now) * H, psi)
                now = t
            info = {"loschmidt_echo": abs(np.vdot(psi0, psi)) ** 2}
            if entropy:
                info["entropy"] = half_chain_entropy(basis, psi, order)
            yield Snapshot(float(t), ExactState(basis, psi[:, None], np.array([np.nan])), info)

    def expect(self, state: ExactState, model, operators) -> list[Estimate]:
        return [Estimate(mean=m, error=0.0) for m in PauliGroups.expect(operators, state.basis, state.psi)]

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
            basis = model.problem.sector()
            if not np.array_equal(basis.states, f["states"]):
                raise ValueError(f"{folder}: the saved basis does not match the model's sector")
            return ExactState(basis, f["vectors"], f["energies"])
