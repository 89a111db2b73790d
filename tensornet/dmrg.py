"""The DMRG backend (``backend="dmrg"``): two-site DMRG on matrix product states (quimb).

A *sweep* here is one pass in one direction (quimb's convention): sweeps
alternate right-to-left and left-to-right, and ``bond_dims`` gives the
maximal bond dimension of each sweep (the last value repeats).

quimb's DMRG has no quantum numbers. Constraints (total S^z, particle
numbers, parity, Gauss's law) are kept by starting from a superposition of
basis configurations that satisfy them (found by a pruned depth-first
search), spread by a few applications of ``1 - tau H`` (which conserves
them), and by adding ``penalty * V`` to the Hamiltonian, where ``V >= 0``
vanishes exactly on the sector (see :mod:`manybody.tensornet.mpo`). Reported
energies, variances and observables are those of the Hamiltonian without
penalty; ``info["constraint_violation"] = <V>`` measures how far the state is
from the sector (0 up to rounding when it is in it; a warning above 1e-6).

The two-site update carries a subspace-expansion mixer (see
:mod:`manybody.tensornet.sweeps`) during the bond-dimension ramp; without it
two-site DMRG gets stuck on terms that skip MPS sites (spinful hopping,
plaquettes). Convergence: two consecutive sweeps at the final bond dimension
with the mixer off differ by less than ``tol``.

Limitation: conserved quantities that are not declared constraints (e.g.
winding sectors of gauge fields on a torus) are not targeted: DMRG finds the
lowest state among the sectors present in its initial state.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from manybody.backends import Backend, Solution
from manybody.observables import Estimate
from manybody.tensornet.mpo import MPO_CUTOFF, auto_penalty, check_compilable, compile_model
from manybody.tensornet.mps import (
    MPSState,
    mpo_arrays,
    mpo_expectation,
    mpo_square_expectation,
    pauli_expectations,
    product_superposition,
    random_mps,
    sector_configurations,
)
from manybody.tensornet.sweeps import make_dmrg2
from manybody.validation import check_int, check_real

__all__ = ["DMRGBackend", "DMRGOptions"]

_VIOLATION_WARN = 1e-6
_SPREAD_STEPS = 4
_LANCZOS_VECTORS = 16  # quimb uses 4: ARPACK then restarts so often that a solve takes ~600 matvecs


@dataclass
class DMRGOptions:
    """Options of the DMRG backend.

    Attributes
    ----------
    bond_dims : int or sequence of int
        Maximal MPS bond dimension of each sweep (one direction); the last value
        repeats. Default ``(16, 16, 32, 32, 64, 64, 128, 128, 256)``.
    cutoff : float
        Truncation: the discarded squared Schmidt values of each two-site
        split sum to at most ``cutoff`` (default 1e-12).
    tol : float
        Convergence: stop when two consecutive sweeps at the final bond
        dimension differ in energy by less than ``tol`` (default 1e-10).
    max_sweeps : int
        Maximal number of sweeps (default 60).
    eig_tol : float
        Relative residual tolerance of the local Lanczos eigensolver (ARPACK, 16
        Lanczos vectors; default 1e-8, which gave the same 5e-11 final error as
        1e-10 on the L = 24 chain in half the time; quimb's default 1e-3 does
        not reach 1e-8 energies reliably).
    penalty : float or "auto"
        Strength ``lambda`` of the constraint penalty ``lambda * V``; ``"auto"``
        (default) is twice the largest sum of ``|c_t|`` over the Pauli terms
        touching one qubit (at least 1), i.e. a few times the energy of a
        local move. ``0`` relies on the initial state alone.
    seed : int or None
        Seed of the random initial state; None draws one (recorded in the result).
    progress : bool or None
        Print one line per sweep (energy, bond dimension, discarded weight,
        time) to stderr; None (default) prints when stderr is a terminal.
    warm_start : str, Path, Result or MPSState, optional
        Start from the MPS of a saved DMRG result (its folder), a DMRG Result,
        or an MPSState, of a model with the same qubits and ``qubit_order``.
    mixer : float
        Amplitude of the subspace-expansion mixer (see :mod:`manybody.tensornet.sweeps`) during
        the bond-dimension ramp (the sweeps listed in ``bond_dims``); a tenth of it the sweep
        after, then 0. Needed for terms that skip MPS sites (default 1e-2; 0 disables).
    variance : bool
        Compute ``<H^2> - <H>^2`` (cost ``O(L chi^3 D^2)``; default True).
    blas_threads : int or None
        Limit BLAS threads during the solve (threadpoolctl); None leaves the default.
    """

    bond_dims: int | Sequence[int] = (16, 16, 32, 32, 64, 64, 128, 128, 256)
    cutoff: float = 1e-12
    tol: float = 1e-10
    max_sweeps: int = 60
    eig_tol: float = 1e-8
    penalty: float | str = "auto"
    seed: int | None = None
    progress: bool | None = None
    warm_start: object = None
    mixer: float = 1e-2
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
        self.mixer = check_real("mixer", self.mixer, low=0.0, high=1.0, high_open=True)
        self.eig_tol = check_real("eig_tol", self.eig_tol, low=0.0, high=1.0, low_open=True, high_open=True)
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
        self.warm_start = _coerce_warm_start(self.warm_start)


def _coerce_warm_start(value):
    """A path (kept, checked) or an MPSState (from a Result)."""
    if value is None or isinstance(value, MPSState):
        return value
    if isinstance(value, (str, Path)):
        if not (Path(value) / "state" / "mps.npz").is_file():
            raise ValueError(
                f"warm_start: no saved DMRG state at {value} (expected {Path(value) / 'state' / 'mps.npz'})"
            )
        return str(value)
    from manybody.result import Result

    if isinstance(value, Result):
        if value.backend != "dmrg":
            raise ValueError(f"warm_start needs a DMRG result, got one from backend {value.backend!r}")
        return value.state
    raise ValueError(f"warm_start must be a result folder, a DMRG Result, an MPSState or None, got {value!r}")


class DMRGBackend(Backend):
    """Two-site DMRG (quimb) with an MPO compiled from the model; see the module docstring."""

    name = "dmrg"
    Options = DMRGOptions

    def check_model(self, model, options: DMRGOptions) -> None:
        check_compilable(model)
        if options.warm_start is not None:
            _check_warm(self._warm_state(options.warm_start, model), model)

    def _warm_state(self, warm, model) -> MPSState:
        return MPSState.load(Path(warm) / "state") if isinstance(warm, str) else warm

    def solve(self, model, options: DMRGOptions) -> Solution:
        limit = contextlib.nullcontext()
        if options.blas_threads is not None:
            from threadpoolctl import threadpool_limits

            limit = threadpool_limits(options.blas_threads)
        with limit:
            return self._solve(model, options)

    def _solve(self, model, options: DMRGOptions) -> Solution:
        compiled = compile_model(model)
        seed = options.seed if options.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        rng = np.random.default_rng(seed)
        lam = (
            auto_penalty(model.qubit_hamiltonian, model.n_qubits)
            if options.penalty == "auto"
            else options.penalty
        )
        ham, constant = compiled.H, compiled.constant
        if compiled.V is not None and lam > 0:
            ham = ham + lam * compiled.V
            ham.compress(cutoff=MPO_CUTOFF, cutoff_mode="rel")
        # quimb's DMRG contracts the ket with the MPO's upper index, i.e. it minimises
        # <psi|H^T|psi>; H^T = conj(H) for Hermitian H, so this finds the ground state of H.
        ham = ham.conj()
        dtype = np.result_type(*ham.arrays)
        p0, how = self._initial_state(model, options, compiled, rng, dtype)

        dmrg = make_dmrg2()(ham, bond_dims=options.bond_dims, cutoffs=options.cutoff, p0=p0)
        dmrg.opts["local_eig_tol"] = options.eig_tol
        dmrg.opts["local_eig_ncv"] = _LANCZOS_VECTORS
        show = sys.stderr.isatty() if options.progress is None else options.progress
        history = {"energy": [], "max_bond_dim": [], "discarded_weight": [], "time": []}
        schedule = options.bond_dims
        converged = False
        start = time.perf_counter()
        for k in range(options.max_sweeps):
            direction = "RL"[k % 2]
            chi = schedule[min(k, len(schedule) - 1)]
            dmrg.discarded = 0.0
            n_ramp = len(schedule)
            dmrg.alpha = options.mixer if k < n_ramp else (options.mixer / 10 if k == n_ramp else 0.0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                dmrg.sweep(
                    direction,
                    canonize=k == 0,
                    max_bond=chi,
                    cutoff=options.cutoff,
                )
            energy = float(np.real(dmrg.local_energies[-1][-1])) + constant
            history["energy"].append(energy)
            history["max_bond_dim"].append(dmrg._k.max_bond())
            history["discarded_weight"].append(max(dmrg.discarded, 0.0))
            history["time"].append(time.perf_counter() - start)
            at_final = k > len(schedule)  # the mixer is off from sweep len(schedule) + 1 on
            delta = abs(energy - history["energy"][-2]) if k > 0 else math.inf
            if show:
                print(
                    f"dmrg sweep {k + 1:3d} {direction} chi={history['max_bond_dim'][-1]:4d}/{chi:<4d} "
                    f"E={energy:.12f} dE={delta:.2e} trunc={history['discarded_weight'][-1]:.1e} "
                    f"t={history['time'][-1]:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )
            if at_final and delta < options.tol:
                converged = True
                break

        state = MPSState.from_quimb(dmrg.state, compiled.order)
        W = mpo_arrays(compiled.H)
        energy = float(np.real(mpo_expectation(state, W))) + compiled.constant
        variance = None
        if options.variance:
            variance = max(
                float(np.real(mpo_square_expectation(state, W))) - (energy - compiled.constant) ** 2, 0.0
            )
        violation = 0.0
        if compiled.V is not None:
            violation = float(np.real(mpo_expectation(state, mpo_arrays(compiled.V))))
            if violation > _VIOLATION_WARN:
                warnings.warn(
                    f"dmrg: the state violates the constraints of {model.name!r} (<V> = {violation:.2e}); "
                    f"increase penalty (now {lam:g}) or bond_dims",
                    RuntimeWarning,
                    stacklevel=2,
                )
        if not converged:
            warnings.warn(
                f"dmrg: not converged to tol={options.tol:g} in {options.max_sweeps} sweeps "
                f"(last change {delta:.2e}); increase max_sweeps or bond_dims",
                RuntimeWarning,
                stacklevel=2,
            )
        info = {
            "converged": converged,
            "n_sweeps": len(history["energy"]),
            "max_bond_dim": max(state.bond_dims),
            "bond_dims": state.bond_dims,
            "discarded_weight": history["discarded_weight"][-1],
            "entanglement_entropy": state.entanglement_entropy().tolist(),
            "mpo_bond_dim": compiled.H.max_bond(),
            "mpo_bond_dim_with_penalty": ham.max_bond(),
            "penalty": lam if compiled.V is not None else 0.0,
            "constraint_violation": violation,
            "initial_state": how,
            "qubit_order": compiled.order.tolist(),
            "sweep_energy_with_penalty": history["energy"][-1],
        }
        return Solution(
            energy=energy,
            state=state,
            variance=variance,
            history={k: np.asarray(v) for k, v in history.items()},
            info=info,
            seed=seed,
        )

    def _initial_state(self, model, options, compiled, rng, dtype):
        """quimb MPS to start from, and how it was made.

        With constraints: a random superposition of basis configurations in the
        sector, spread by ``_SPREAD_STEPS`` applications of ``1 - tau H`` (which
        keeps the sector) so that every bond carries several quantum numbers;
        two-site DMRG cannot create the entanglement of terms that skip an MPS
        site (Jordan-Wigner hopping, plaquettes) from a product state.
        """
        if options.warm_start is not None:
            warm = self._warm_state(options.warm_start, model)
            _check_warm(warm, model)
            return warm.to_quimb(dtype=np.result_type(dtype, *warm.arrays)), "warm start"
        order = compiled.order
        chi0 = options.bond_dims[0]
        if not model.constraints:
            return MPSState(random_mps(len(order), chi0, rng, dtype), order).to_quimb(), "random"
        configs = sector_configurations(model.constraints, order, min(chi0, 16), rng)
        if not len(configs):
            return MPSState(
                random_mps(len(order), chi0, rng, dtype), order
            ).to_quimb(), "random (no sector state found)"
        coeffs = rng.standard_normal(len(configs))
        psi = MPSState(product_superposition(configs, coeffs, dtype), order).to_quimb()
        tau = 2.0 / auto_penalty(model.qubit_hamiltonian, model.n_qubits)
        step = compiled.H.identity() - tau * compiled.H
        for _ in range(_SPREAD_STEPS):
            psi = step.apply(psi, compress=True, max_bond=chi0, cutoff=1e-10)
            psi /= psi.norm()
        return psi, f"{len(configs)} sector configurations spread by (1 - tau H)^{_SPREAD_STEPS}"

    def expect(self, state: MPSState, model, operators) -> list[Estimate]:
        strings = list({term for op in operators for term in op.terms})
        values = dict(zip(strings, pauli_expectations(state, strings)))
        out = []
        for op in operators:
            mean = sum(complex(c) * values[t] for t, c in op.terms.items())
            out.append(Estimate(mean=float(np.real(mean)), error=0.0))
        return out

    def save_state(self, state: MPSState, folder: Path) -> None:
        state.save(folder)

    def load_state(self, folder: Path, model) -> MPSState:
        state = MPSState.load(folder)
        _check_warm(state, model, what="saved MPS")
        return state


def _check_warm(state: MPSState, model, what="warm_start") -> None:
    if state.n_qubits != model.n_qubits or not np.array_equal(state.order, np.asarray(model.qubit_order)):
        raise ValueError(
            f"{what}: the MPS has {state.n_qubits} qubits in order {state.order.tolist()[:8]}..., "
            f"the model {model.name!r} has {model.n_qubits} in order {list(model.qubit_order)[:8]}..."
        )
