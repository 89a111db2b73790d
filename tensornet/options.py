"""Options of the DMRG backend (imports no quimb and no TeNPy, so bad options fail fast)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manybody.validation import check_int, check_real

__all__ = ["DMRGOptions", "DMRGEvolveOptions"]


@dataclass
class DMRGOptions:
    """Options of the DMRG backend.

    A *sweep* is one pass from the left end to the right end and back (TeNPy's
    and ITensor's convention).

    Attributes
    ----------
    bond_dims : int or sequence of int
        Maximal MPS bond dimension of each sweep; the last value repeats.
        Default ``(16, 32, 64, 128, 256)``.
    cutoff : float
        Truncation: the discarded squared Schmidt values of each two-site
        split sum to at most ``cutoff`` (default 1e-12).
    tol : float
        Convergence: stop when two consecutive sweeps after the bond-dimension
        ramp, mixer off, differ in energy by less than ``tol`` (default 1e-10).
    max_sweeps : int
        Maximal number of sweeps (default 30).
    symmetry : bool
        Keep the model's global charges (U(1): total S^z, particle numbers,
        total charge; Z2: fermion parity) as quantum numbers of block-sparse
        tensors (TeNPy engine; default True). False, or a model without global
        charges, runs dense two-site DMRG (quimb engine) with every constraint
        kept by a penalty.
    penalty : float or "auto"
        Strength ``lambda`` of the penalty ``lambda * V`` for the constraints that
        are not quantum numbers (local Gauss laws; every constraint when
        ``symmetry=False``). ``"auto"`` (default) is twice the largest sum of
        ``|c_t|`` over the Pauli terms touching one qubit (at least 1). ``0``
        relies on the initial state alone.
    mixer : float or "auto"
        Amplitude of the mixer during the bond-dimension ramp (off afterwards).
        ``"auto"`` (default) uses one only when a Hamiltonian term spans more than
        two neighbouring MPS sites (Jordan-Wigner hopping of spinful fermions,
        plaquettes), where two-site updates alone get stuck; ``0`` disables it.
    seed : int or None
        Seed of the initial state; None draws one (recorded in the result).
    progress : bool or None
        Print one line per sweep (energy, bond dimension, discarded weight,
        time) to stderr; None (default) prints when stderr is a terminal.
    warm_start : str, Path, Result or MPSState, optional
        Start from the MPS of a saved DMRG result (its folder), a DMRG Result,
        or an MPSState, of a model with the same qubits and ``qubit_order``.
    variance : bool
        Compute ``<H^2> - <H>^2`` (default True).
    blas_threads : int or None
        Limit BLAS threads during the solve (threadpoolctl); None leaves the default.
    """

    bond_dims: int | Sequence[int] = (16, 32, 64, 128, 256)
    cutoff: float = 1e-12
    tol: float = 1e-10
    max_sweeps: int = 30
    symmetry: bool = True
    penalty: float | str = "auto"
    mixer: float | str = "auto"
    seed: int | None = None
    progress: bool | None = None
    warm_start: object = None
    variance: bool = True
    blas_threads: int | None = None

    def __post_init__(self):
        dims = [self.bond_dims] if isinstance(self.bond_dims, (int, np.integer)) else self.bond_dims
        if isinstance(dims, (str, bytes)) or not isinstance(dims, Sequence) or len(dims) == 0:
            raise ValueError(
                f"bond_dims must be a positive integer or a non-empty list of them, got {self.bond_dims!r}"
            )
        self.bond_dims = tuple(check_int("bond_dims", d, minimum=1) for d in dims)
        self.cutoff = check_real("cutoff", self.cutoff, low=0.0, high=1.0, high_open=True)
        self.tol = check_real("tol", self.tol, low=0.0, low_open=True)
        self.max_sweeps = check_int("max_sweeps", self.max_sweeps, minimum=1)
        if not isinstance(self.symmetry, bool):
            raise ValueError(f"symmetry must be True or False, got {self.symmetry!r}")
        if self.mixer != "auto":
            self.mixer = check_real(
                "mixer (a number in [0, 1) or 'auto')", self.mixer, low=0.0, high=1.0, high_open=True
            )
        if self.penalty != "auto":
            self.penalty = check_real("penalty (a number >= 0 or 'auto')", self.penalty, low=0.0)
        if self.seed is not None:
            if isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
                raise ValueError(f"seed must be a non-negative integer or None, got {self.seed!r}")
            self.seed = int(self.seed)
        if self.progress is not None and not isinstance(self.progress, bool):
            raise ValueError(f"progress must be True, False or None, got {self.progress!r}")
        if not isinstance(self.variance, bool):
            raise ValueError(f"variance must be True or False, got {self.variance!r}")
        if self.blas_threads is not None:
            self.blas_threads = check_int("blas_threads", self.blas_threads, minimum=1)
        self.warm_start = _warm_start_source(self.warm_start)


@dataclass
class DMRGEvolveOptions:
    """Options of the MPS time evolution (``mb.evolve(..., backend="dmrg")``, TeNPy engines).

    Attributes
    ----------
    method : str
        ``"tdvp"`` (default): two-site TDVP while the bond dimension grows, then
        one-site TDVP (no truncation, energy conserved) once every bond has
        reached ``chi_max`` or its largest possible value; ``"tdvp2"``: two-site
        TDVP throughout; ``"mpo"``: the ``W_II`` MPO of ``exp(-i H dt)``
        (second order) applied and compressed at every step.
    dt : float
        Largest time step (inverse units of the couplings, default 0.1); the
        interval between two requested times is split into equal steps of at most ``dt``.
    chi_max : int
        Largest MPS bond dimension (default 256).
    cutoff : float
        Truncation: the discarded squared Schmidt values of each split sum to
        at most ``cutoff`` (default 1e-12).
    progress : bool or None
        One line per requested time on stderr; None (default) when stderr is a terminal.
    blas_threads : int or None
        Limit BLAS threads during the evolution (threadpoolctl); None leaves the default.
    """

    method: str = "tdvp"
    dt: float = 0.1
    chi_max: int = 256
    cutoff: float = 1e-12
    progress: bool | None = None
    blas_threads: int | None = None

    def __post_init__(self):
        from manybody.validation import check_bool, check_choice

        self.method = check_choice("method", self.method, ("tdvp", "tdvp2", "mpo"))
        self.dt = check_real("dt", self.dt, low=0.0, high=1.0, low_open=True)
        self.chi_max = check_int("chi_max", self.chi_max, minimum=1)
        self.cutoff = check_real("cutoff", self.cutoff, low=0.0, high=1.0, high_open=True)
        self.progress = check_bool("progress", self.progress, allow_none=True)
        self.blas_threads = check_int("blas_threads", self.blas_threads, minimum=1, allow_none=True)


def _warm_start_source(value):
    """The warm start as a result folder (str, checked to hold a saved MPS) or an MPSState.

    Loading and the check against the model happen once, in the backend's ``solve``.
    """
    from manybody.tensornet.mps import MPSState

    if value is None or isinstance(value, MPSState):
        return value
    if isinstance(value, (str, Path)):
        path = Path(value) / "state" / "mps.npz"
        if not path.is_file():
            raise ValueError(f"warm_start: no saved DMRG state at {value} (expected {path})")
        return str(value)
    from manybody.result import Result

    if isinstance(value, Result):
        if value.backend != "dmrg":
            raise ValueError(f"warm_start needs a DMRG result, got one from backend {value.backend!r}")
        return value.state
    raise ValueError(f"warm_start must be a result folder, a DMRG Result, an MPSState or None, got {value!r}")
