"""Options of the VMC backend (imports no JAX, NetKet or Flax, so a bad option fails in milliseconds)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manybody.validation import check_bool, check_choice, check_int, check_real

__all__ = [
    "VMCOptions",
    "VMCEvolveOptions",
    "MIN_SAMPLES",
    "DTYPES",
    "MAX_PATCH",
    "PHASE_SAMPLES",
    "INTEGRATORS",
    "LINEAR_SOLVERS",
    "AUTO",
    "cut_width",
    "auto_options",
    "auto_patch",
    "warm_start_folder",
    "symmetry_names",
]

MIN_SAMPLES = 32
"""Fewest samples that give an error bar: NetKet's error of the mean needs 32 independent blocks
(with fewer it is NaN)."""

DTYPES = ("float64", "float32")

MAX_PATCH = 8
"""Most qubits per transformer token (``patch``): 256-way conditionals."""

AUTO = "auto"
"""The value of an option chosen from the model at solve time by :func:`auto_options`: the sizes
(``n_iter``, ``n_samples``, ``d_model``, ``n_heads``, ``n_layers``, ``patch``) and the SR step
(``learning_rate``, ``momentum``)."""

WIDE_PATCH = 4
"""Most qubits per token "auto" chooses (:func:`auto_patch`)."""

PATCH_ABOVE = 4
"""Cut width without strings (:func:`cut_width`) above which "auto" reads tokens of several qubits:
the open 4x2 Hubbard cluster (8) gained from them, the periodic Hubbard chain of 8 sites (4) lost."""

PHASE_SAMPLES = 2048
"""Samples per iteration "auto" gives wide models whose phase is trained (:func:`auto_options`)."""

WIDE = 3
"""Cut widths above this are treated as two-dimensional (:func:`auto_options`): chains have 1
(open) or 2 (periodic), Hubbard chains 2, the open 4x4 lattice 4, the 4x4 torus 8, the 6x6
torus 12."""


def cut_width(problem, strings: bool = True) -> int:
    """The area of the widest cut of the sampling order: the most qubits before a cut that share an
    off-diagonal Hamiltonian term (one that flips a qubit) with a qubit after it.

    An autoregressive network carries this boundary through every position, as an MPS carries
    the entanglement across its bonds. It is 1 for an open chain (also the Schwinger model, whose
    long-range electric energy is diagonal), 2 for a periodic chain or a Hubbard chain (two modes
    per site), ``Lx`` for an open ``Lx x Ly`` square lattice and ``2 Lx`` for a torus (rows of
    ``Lx`` sites in snake order); Jordan-Wigner strings count (an open 4x2 Hubbard cluster: 14).

    Parameters
    ----------
    problem : CompiledProblem
        Reads ``qubit_order`` and the Pauli table of the Hamiltonian.
    strings : bool
        Count the qubits a term only reads (its Z factors, e.g. Jordan-Wigner strings). False:
        only the qubits it flips (the periodic Hubbard chain of 8 sites: 4 instead of 14; the
        open 4x2 cluster: 8, a row of 4 sites).
    """
    n = problem.n_qubits
    position = np.empty(n, dtype=int)
    position[np.asarray(problem.qubit_order, dtype=int)] = np.arange(n)
    table = problem.pauli
    acts = [x | z for x, z in zip(table.x, table.z)] if strings else list(table.x)
    supports = {tuple(sorted(position[np.flatnonzero(a)])) for a, x in zip(acts, table.x) if x.any()}
    # reach[p]: the furthest position that a term acting at position p also acts on
    reach = np.arange(n)
    for s in supports:
        if len(s) > 1:
            reach[list(s)] = np.maximum(reach[list(s)], s[-1])
    return max((int(np.sum(reach[:cut] >= cut)) for cut in range(1, n)), default=0)


def auto_patch(problem) -> int:
    """Qubits per token for ``problem``: the largest divisor of the number of qubits up to
    ``WIDE_PATCH`` where more than ``PATCH_ABOVE`` qubits before a cut of the sampling order are
    flipped together with one after it (:func:`cut_width` without strings: the 4x4 and larger
    tori, Hubbard clusters, the 2D gauge theories of 40 links, SYK(12)), else 1 (chains, rings,
    the periodic Hubbard chain)."""
    n = problem.n_qubits
    if cut_width(problem, strings=False) <= PATCH_ABOVE:
        return 1
    return max(p for p in range(1, WIDE_PATCH + 1) if n % p == 0)


def auto_options(problem, trained_phase: bool = False) -> dict:
    """The options for ``problem`` (a ``CompiledProblem``) that ``"auto"`` stands for: the sizes
    and the SR step; ``trained_phase``: the transformer's amplitude is multiplied by a phase with
    parameters of its own (``sign_rule`` "slater", "jastrow" or "local", or "auto" where it
    resolves to "slater").

    Models of cut width at most ``WIDE`` (:func:`cut_width`: chains, Hubbard chains, the
    Schwinger model) get 200 iterations, 512 samples, ``d_model`` 16, 2 heads, 2 layers and
    plain SR at ``learning_rate`` 0.05 (measured on chains: Heisenberg L=12 1.6e-5, Hubbard L=8
    7.5e-4 relative error). Wider models (2D lattices, the 2D gauge theories, Hubbard clusters
    and rings, SYK(12)) get a transformer twice as wide (``d_model`` 32, 4 heads, 2 layers: 3.8x
    the parameters), 800 iterations and 1024 samples, with the same step. On the 4x4 Heisenberg
    torus (the trained network's energy summed exactly over the sector) that is 8.65e-4
    (seed 0, 576 s wall on an idle 2-core machine) and 8.56e-4 (seed 1).

    Most wide models also read tokens of ``patch`` qubits (:func:`auto_patch`: 4 where 4 divides
    the qubits). Measured against a token per qubit with the same defaults (seeds 0 and 1, summed
    exactly over the sector, CPU seconds of one XLA thread): 4x4 Heisenberg torus 6.34e-4 and
    6.14e-4 in 850 s and 769 s (8.65e-4 and 8.56e-4; 1423 s at 0.8.2); J1-J2 4x4 torus at
    J2 = 0.5 1.83e-2 in 1649 s (2.22e-2 in 2259 s); open 2x4 Hubbard at U = 4 1.12e-2 and 1.03e-2
    (1.90e-2 with a token per qubit, seed 0); SYK(12) (6 qubits: ``patch`` 3) 5.6e-8 in 71 s
    (1.0e-7 in 112 s). The periodic Hubbard chain of 8 sites is wide only through its
    Jordan-Wigner strings and lost with tokens of 4 (8.4e-3 against 4.1e-3), so it keeps 1.

    Wide models whose phase is trained get ``PHASE_SAMPLES`` (2048) samples (0.11.0): the open
    2x4 Hubbard cluster at U = 4 with the Slater phase (``patch`` 4, 800 iterations) reaches
    5.3e-3 and 5.7e-3 (seeds 0 and 1) in 1399 s and 1550 s CPU, against 1.12e-2 and 1.03e-2 in
    1279 s and 1140 s with 1024 samples (the 1e-2 target missed); the periodic Hubbard chain of
    8 sites 2.0e-3 in 1901 s against 4.1e-3 in 852 s. With a token per qubit 2048 samples had
    needed 1000 iterations for about 1e-2 (1.16e-2 and 1.11e-2 after 800).

    Measured and not made defaults (figures in ``benchmarks/README.md``, *Defaults that scale:
    the runs behind them*): 512 samples (1.7e-3 on the 4x4 torus: the SR update is dominated by
    sample noise); a larger step or another diagonal shift (no gain); SPRING momentum 0.9 at step
    0.02 (a little better on the 4x4 torus, but a small Z2 gauge model ended 0.79 away from exact,
    against 2.9e-5 with plain SR).

    Returns
    -------
    dict
        ``{"n_iter", "n_samples", "d_model", "n_heads", "n_layers", "patch", "learning_rate",
        "momentum", "cut_width"}``.
    """
    width = cut_width(problem)
    chosen = dict(
        n_iter=200,
        n_samples=512,
        d_model=16,
        n_heads=2,
        n_layers=2,
        learning_rate=0.05,
        momentum=None,
        patch=auto_patch(problem),
    )
    if width > WIDE:
        chosen.update(n_iter=800, n_samples=PHASE_SAMPLES if trained_phase else 1024, d_model=32, n_heads=4)
    return {**chosen, "cut_width": width}


def warm_start_folder(path: str) -> Path:
    """The ``state`` folder of a saved vmc Result at ``path`` (``ValueError`` if there is none)."""
    folder = Path(path) / "state"
    if not (folder / "network.json").is_file():
        raise ValueError(
            f"warm_start must be a saved vmc Result folder (with state/network.json), got {path!r}"
        )
    return folder


@dataclass
class VMCOptions:
    """Options of the VMC backend.

    Attributes
    ----------
    seed : int
        Seeds the parameter initialisation and the sampler (reproducible runs).
    n_iter : int or "auto"
        Optimisation iterations.
    n_samples : int or "auto"
        Exact samples per iteration (sharded over all JAX devices), at least ``MIN_SAMPLES``.
    n_eval_samples : int
        Samples of the final evaluation (energy, variance, observables), at least ``MIN_SAMPLES``.
    learning_rate : float or "auto"
        Initial SR step; cosine-decays to ``learning_rate * lr_final_fraction``. ``"auto"``:
        0.05 on chains (measured: Heisenberg chain L=8 (80 iterations) reached 8e-5 relative
        error against 3e-3 with 0.02; L=12 with the defaults reached 1.6e-5), on every model
        (:func:`auto_options`). The step used is
        ``learning_rate * info["step_factor"]``, raised for Hamiltonians with weak couplings
        (:mod:`manybody.vmc.scale`; SYK(8): x4.1).
    lr_final_fraction : float
        Final over initial learning rate.
    diag_shift, diag_shift_final : float
        Diagonal regularisation of the SR (or minSR) matrix, decayed geometrically.
    momentum : float, None or "auto"
        SPRING momentum ``mu`` in [0, 1) (None: plain SR; Goldshlager, Abrahamsen and Lin,
        J. Comput. Phys. 515, 113351 (2024)): the minSR update ``phi_k`` solves for the energy
        gradient minus ``mu`` times the projection of the previous update ``phi_{k-1}`` and
        adds ``mu phi_{k-1}`` back (NetKet's ``VMC_SR(momentum=mu)``), so that directions that
        persist over iterations accumulate (up to ``1 / (1 - mu)`` times the step) while sample
        noise averages out; the step is ``learning_rate`` times ``phi_k``. ``"auto"``: None
        (0.9 with ``learning_rate`` 0.02 gained a little on the 4x4 torus and derailed a small
        2D gauge model: :func:`auto_options`).
    d_model, n_heads, n_layers : int or "auto"
        Transformer width, attention heads (divides d_model), blocks.

        ``"auto"`` (the default of these five size options, of ``patch``, and of
        ``learning_rate`` and ``momentum``) is resolved from the model when the run starts
        (:func:`auto_options`: by the cut width of the sampling order: 200 iterations, 512
        samples, d_model 16, 2 heads, 2 layers on chains; 800 iterations, 1024 samples (2048
        with a trained phase), d_model 32 and 4 heads on 2D lattices and other models of cut
        width above ``WIDE``; an automatic ``d_model`` is a multiple of a given ``n_heads``,
        automatic heads divide a given ``d_model``); ``info["resolved"]`` reports the values used.
    patch : int or "auto"
        Qubits per token of the transformer (1 to ``MAX_PATCH``; must divide the number of
        qubits): each token is ``patch`` consecutive qubits of the model's sampling order and its
        conditional is ``2^patch``-way (:class:`~manybody.vmc.network.ARTransformer`), sampled a
        token at a time. With the snake order of a square lattice, ``patch = Lx`` makes a token
        of each row. ``"auto"`` (:func:`auto_patch`): the largest divisor of the number of
        qubits up to 4 where more than 4 qubits before a cut of the sampling order are flipped
        together with one after it (2D lattices, Hubbard clusters, 2D gauge theories, SYK), else
        1 (chains, rings and the periodic Hubbard chain); the measurements are in
        :func:`auto_options`.
    sign_rule : str
        A sign structure built into the wave function (:mod:`manybody.vmc.signs`): ``"auto"``
        (the one the model recommends, if any: Marshall for the unfrustrated bipartite
        Heisenberg model, the reordering sign on Hubbard chains with ``t > 0`` where it is exact;
        else ``"slater"`` where two or more particle numbers are conserved), ``"none"``, the learned phases
        ``"jastrow"`` (two-body), ``"local"`` (per-qubit tables over Hamiltonian neighbourhoods,
        :mod:`manybody.vmc.phase`) and ``"slater"`` (a Slater determinant with trainable orbitals,
        :mod:`manybody.vmc.slater`), ``"hartree_fock"`` (the fixed sign of the generalized
        Hartree-Fock determinant; two balanced species), or the name of a structure the model declares
        (``model.problem.sign_structures``).
    symmetry : str or tuple of str
        Symmetrise the wave function over the group these symmetries of the model generate
        (:mod:`manybody.vmc.symmetric`: ``|psi|^2`` averaged over the group's images of a
        configuration, sampling still exact; each amplitude costs one network pass per group
        element): ``"none"`` (default), names the model declares
        (``model.problem.symmetries``, e.g. ``"rotation"``, ``"reflection"``,
        ``"translation_x"``, ``"spin_flip"`` for the Heisenberg model) as a tuple or joined by
        ``"+"`` (``"rotation+spin_flip"``: 8 elements), or ``"all"``. Each is checked to leave the
        Hamiltonian and the sector invariant. A ``warm_start`` keeps the saved network's group.
    chunk_size : int or None
        Samples per forward/backward chunk (memory); None = all at once.
    checkpoint_dir : str or None
        Folder of the checkpoint; an existing checkpoint there is resumed.
    checkpoint_every : int
        Iterations between checkpoints (and in-memory snapshots for the divergence guard).
    progress : bool
        Show a progress bar (energy, error, variance, it/s).
    warm_start : str or None
        Path of a saved vmc Result folder whose network and parameters initialise the run.
    dtype : str
        ``"float64"`` (default) or ``"float32"`` parameters and activations. float32 halves the
        cost of a forward pass (measured on CPU: 0.51 s -> 0.25 s for 10240 chain-L=20
        configurations) and is the usual choice on GPUs; normalisation then holds to ~1e-6.
    use_cache : bool
        Key/value cache for sampling (False only for benchmarks).
    lanczos_step : bool
        Also estimate the energy of one Lanczos step ``(1 + alpha H) psi`` on the trained network
        (:mod:`manybody.vmc.lanczos`), on the ``n_eval_samples`` evaluation samples; reported in
        ``info["lanczos_step"]`` (``energy``, ``energy_error``, ``variance``, ``alpha``, ...), while
        ``energy`` and the observables stay those of the network. Costs about the number of
        off-diagonal terms of ``H`` times the evaluation's local energies (J1-J2 4x4 torus, 8192
        samples: about 40 s CPU, error 2.8e-4 relative; 6x6 torus: 188 s).
    """

    seed: int = 0
    n_iter: int | str = AUTO
    n_samples: int | str = AUTO
    n_eval_samples: int = 8192
    learning_rate: float | str = AUTO
    lr_final_fraction: float = 0.1
    diag_shift: float = 1e-2
    diag_shift_final: float = 1e-4
    momentum: float | str | None = AUTO
    d_model: int | str = AUTO
    n_heads: int | str = AUTO
    n_layers: int | str = AUTO
    patch: int | str = AUTO
    sign_rule: str = "auto"
    symmetry: str | tuple = "none"
    chunk_size: int | None = None
    checkpoint_dir: str | None = None
    checkpoint_every: int = 50
    progress: bool = True
    warm_start: str | None = None
    dtype: str = "float64"
    use_cache: bool = True
    lanczos_step: bool = False

    def __post_init__(self):
        self.seed = check_int("seed", self.seed, minimum=0)
        self.n_iter = _int_or_auto("n_iter", self.n_iter, minimum=0)
        self.n_samples = _int_or_auto("n_samples", self.n_samples, minimum=MIN_SAMPLES)
        self.n_eval_samples = check_int("n_eval_samples", self.n_eval_samples, minimum=MIN_SAMPLES)
        if self.learning_rate != AUTO:
            self.learning_rate = check_real(
                "learning_rate", self.learning_rate, low=0.0, high=10.0, low_open=True
            )
        self.lr_final_fraction = check_real(
            "lr_final_fraction", self.lr_final_fraction, low=0.0, high=1.0, low_open=True
        )
        self.diag_shift = check_real("diag_shift", self.diag_shift, low=0.0, high=1e3, low_open=True)
        self.diag_shift_final = check_real(
            "diag_shift_final", self.diag_shift_final, low=0.0, high=1e3, low_open=True
        )
        if self.momentum != AUTO:
            self.momentum = check_real(
                "momentum", self.momentum, low=0.0, high=1.0, high_open=True, allow_none=True
            )
        self.d_model = _int_or_auto("d_model", self.d_model, minimum=1)
        self.n_heads = _int_or_auto("n_heads", self.n_heads, minimum=1)
        self.n_layers = _int_or_auto("n_layers", self.n_layers, minimum=1)
        self.checkpoint_every = check_int("checkpoint_every", self.checkpoint_every, minimum=1)
        self.chunk_size = check_int("chunk_size", self.chunk_size, minimum=1, allow_none=True)
        if AUTO not in (self.d_model, self.n_heads) and self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        if not isinstance(self.sign_rule, str) or not self.sign_rule:
            raise ValueError(
                f"sign_rule must be 'auto', 'none' or the name of a sign structure the model declares, "
                f"got {self.sign_rule!r}"
            )
        self.patch = _int_or_auto("patch", self.patch, minimum=1, maximum=MAX_PATCH)
        self.symmetry = symmetry_names(self.symmetry)
        self.dtype = check_choice("dtype", self.dtype, DTYPES)
        self.progress = check_bool("progress", self.progress)
        self.use_cache = check_bool("use_cache", self.use_cache)
        self.lanczos_step = check_bool("lanczos_step", self.lanczos_step)
        for name in ("checkpoint_dir", "warm_start"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, (str, Path)):
                raise ValueError(f"{name} must be a path or None, got {value!r}")
            setattr(self, name, None if value is None else str(value))
        if self.warm_start is not None:
            warm_start_folder(self.warm_start)

    def resolved(self, problem, trained_phase: bool = False) -> tuple[VMCOptions, dict]:
        """These options with every ``"auto"`` value replaced for ``problem`` (:func:`auto_options`,
        with ``trained_phase``), and a dict of the replaced values (with the ``cut_width`` they were
        chosen by; empty if nothing was ``"auto"``)."""
        auto = [name for name in AUTO_FIELDS if getattr(self, name) == AUTO]
        if not auto:
            return self, {}
        sizes = auto_options(problem, trained_phase)
        chosen = {name: sizes[name] for name in auto}
        if "d_model" in chosen and "n_heads" not in chosen:  # a multiple of the given heads
            chosen["d_model"] = -(-sizes["d_model"] // self.n_heads) * self.n_heads
        if "n_heads" in chosen and "d_model" not in chosen:  # at most the automatic heads, dividing d_model
            chosen["n_heads"] = max(h for h in range(1, sizes["n_heads"] + 1) if self.d_model % h == 0)
        return dataclasses.replace(self, **chosen), {**chosen, "cut_width": sizes["cut_width"]}


AUTO_FIELDS = ("n_iter", "n_samples", "d_model", "n_heads", "n_layers", "patch", "learning_rate", "momentum")


def symmetry_names(value) -> str | tuple[str, ...]:
    """The ``symmetry`` option as ``"none"``, ``"all"`` or a tuple of distinct names (``ValueError``
    naming the parameter otherwise; the names are checked against the model at solve time)."""
    if isinstance(value, str):
        if value in ("none", "all"):
            return value
        value = value.split("+")
    if not isinstance(value, (list, tuple)) or not value or not all(isinstance(v, str) and v for v in value):
        raise ValueError(
            f"symmetry must be 'none', 'all', names joined by '+' or a tuple of names, got {value!r}"
        )
    return tuple(dict.fromkeys(v.strip() for v in value))


def _int_or_auto(name: str, value, minimum: int, maximum: int | None = None):
    """``"auto"`` or an integer of at least ``minimum`` (and at most ``maximum``)."""
    if value == AUTO:
        return AUTO
    try:
        return check_int(name, value, minimum=minimum, maximum=maximum)
    except ValueError:
        bound = f">= {minimum}" + ("" if maximum is None else f" and <= {maximum}")
        raise ValueError(f"{name} must be 'auto' or an integer {bound}, got {value!r}") from None


INTEGRATORS = {
    "RK12": True,
    "RK23": True,
    "RK45": True,
    "Euler": False,
    "Heun": False,
    "Midpoint": False,
    "RK4": False,
}
"""NetKet's ``netket.experimental.dynamics`` integrators, each with whether it adapts its step."""

LINEAR_SOLVERS = ("pinv_smooth", "cholesky")


@dataclass
class VMCEvolveOptions:
    """Options of time-dependent VMC (``mb.evolve(..., backend="vmc")``, NetKet's ``TDVP`` driver).

    Attributes
    ----------
    integrator : str
        A Runge-Kutta integrator of ``netket.experimental.dynamics`` (``INTEGRATORS``): fixed-step
        ``"Heun"`` (default, second order), ``"Euler"``, ``"Midpoint"``, ``"RK4"``, or adaptive
        ``"RK12"``, ``"RK23"``, ``"RK45"``.
    dt : float
        First time step (the step of a fixed-step integrator), inverse units of the couplings.
    dt_max : float
        Largest step an adaptive integrator takes.
    tolerance : float
        Largest local error of one step of an adaptive integrator, in the state's norm
        ``||delta psi||`` (the metric of the quantum geometric tensor, Schmitt and Heyl,
        PRL 125, 100503 (2020): error directions the state does not feel are not counted).
    n_samples : int
        Exact samples per evaluation of the equation of motion (at least ``MIN_SAMPLES``).
    n_eval_samples : int
        Fresh exact samples of the observables at each requested time (at least ``MIN_SAMPLES``).
    linear_solver : str
        How the TDVP system is solved: ``"pinv_smooth"`` (default; NetKet's regularised
        pseudo-inverse from an eigendecomposition of the tensor, or of its sample-space kernel when
        the parameters outnumber twice the Jacobian rows: ``SampleSpaceTDVP``) or ``"cholesky"``
        (a few times cheaper, regularised by ``diag_shift > 0`` only).
    diag_shift : float
        Added to the diagonal of the quantum geometric tensor (or of the sample-space kernel: the
        same solution).
    rcond, rcond_smooth : float
        Regularisation of ``pinv_smooth``: eigenvalues of the tensor below ``rcond`` times the
        largest are dropped, those near ``rcond_smooth`` times it damped.
    initial_fidelity : float
        From a basis state ``x0``: the network is fitted to the short-time evolved state
        ``exp(-i H delta) |x0>`` (on the configurations ``H`` reaches in a few steps) whose
        fidelity with ``|x0>`` is this value, and evolves from ``t = delta`` (see
        :mod:`manybody.vmc.evolve`: 0.9 starts past the stiff first steps from a product state);
        the fidelity reached is ``info["initial_fidelity"]``.
    fit_infidelity : float
        From a basis state: the fit stops when ``1 - |<target|psi>|^2`` is at most this.
    fit_steps : int
        Most fitting steps (an error if ``fit_infidelity`` is not reached).
    d_model, n_heads, n_layers : int
        The transformer fitted to a basis state (a ``Result`` brings its own network).
    seed : int
        Seeds the initialisation and the samplers.
    chunk_size : int or None
        Samples per forward/backward chunk (memory); None = all at once.
    progress : bool or None
        A progress bar over time (tqdm); None (default) when stderr is a terminal.
    """

    integrator: str = "Heun"
    dt: float = 0.02
    dt_max: float = 0.05
    tolerance: float = 1e-3
    n_samples: int = 2048
    n_eval_samples: int = 4096
    linear_solver: str = "pinv_smooth"
    diag_shift: float = 0.0
    rcond: float = 1e-10
    rcond_smooth: float = 1e-6
    initial_fidelity: float = 0.9
    fit_infidelity: float = 1e-5
    fit_steps: int = 3000
    d_model: int = 8
    n_heads: int = 2
    n_layers: int = 1
    seed: int = 0
    chunk_size: int | None = None
    progress: bool | None = None

    def __post_init__(self):
        self.integrator = check_choice("integrator", self.integrator, tuple(INTEGRATORS))
        self.dt = check_real("dt", self.dt, low=0.0, high=1.0, low_open=True)
        self.dt_max = check_real("dt_max", self.dt_max, low=0.0, high=1.0, low_open=True)
        if self.dt_max < self.dt and INTEGRATORS[self.integrator]:
            raise ValueError(f"dt_max ({self.dt_max}) must be at least dt ({self.dt})")
        self.tolerance = check_real("tolerance", self.tolerance, low=0.0, high=1.0, low_open=True)
        self.n_samples = check_int("n_samples", self.n_samples, minimum=MIN_SAMPLES)
        self.n_eval_samples = check_int("n_eval_samples", self.n_eval_samples, minimum=MIN_SAMPLES)
        self.diag_shift = check_real("diag_shift", self.diag_shift, low=0.0, high=1e3)
        self.linear_solver = check_choice("linear_solver", self.linear_solver, LINEAR_SOLVERS)
        if self.linear_solver != "pinv_smooth" and self.diag_shift == 0:
            raise ValueError(f"linear_solver={self.linear_solver!r} needs diag_shift > 0 (a regularisation)")
        self.rcond = check_real("rcond", self.rcond, low=0.0, high=1.0, high_open=True)
        self.rcond_smooth = check_real("rcond_smooth", self.rcond_smooth, low=0.0, high=1.0, high_open=True)
        self.initial_fidelity = check_real(
            "initial_fidelity", self.initial_fidelity, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.fit_infidelity = check_real(
            "fit_infidelity", self.fit_infidelity, low=0.0, high=1.0, low_open=True
        )
        self.fit_steps = check_int("fit_steps", self.fit_steps, minimum=1)
        self.d_model = check_int("d_model", self.d_model, minimum=1)
        self.n_heads = check_int("n_heads", self.n_heads, minimum=1)
        self.n_layers = check_int("n_layers", self.n_layers, minimum=1)
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        self.seed = check_int("seed", self.seed, minimum=0)
        self.chunk_size = check_int("chunk_size", self.chunk_size, minimum=1, allow_none=True)
        self.progress = check_bool("progress", self.progress, allow_none=True)
