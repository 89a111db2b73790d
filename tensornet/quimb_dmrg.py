"""The dense engine: two-site DMRG on quimb tensors (no quantum numbers).

Used for models without global charges (gauge models, SYK with both
parities, spin models without a fixed S^z) and when ``symmetry=False``.
Constraints are kept by an in-sector initial state and a penalty added to the
MPO by the backend. A sweep is quimb's right-to-left pass followed by a
left-to-right pass; the local Lanczos solver runs with quimb's loose defaults
(tolerance 1e-3, 4 Lanczos vectors) while the bond dimension grows and with
:data:`FINAL_EIG_TOL` once the ramp is over.
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

from manybody.tensornet.mps import MPSState, product_superposition, random_mps

__all__ = ["run_dmrg", "initial_state", "FINAL_EIG_TOL"]

FINAL_EIG_TOL = 1e-7
"""Relative tolerance of the local eigensolver after the bond-dimension ramp."""
_FINAL_NCV = 10
_SPREAD_STEPS = 4


def initial_state(n_qubits, order, configs, chi0, rng, dtype, spread_mpo=None, tau=0.0):
    """A quimb MPS to start from, and how it was made.

    ``configs`` (bits in MPS order) satisfy the constraints: their random
    superposition, spread by ``_SPREAD_STEPS`` applications of ``1 - tau H``
    (``spread_mpo``; this keeps the sector) so that every bond carries several
    quantum numbers. Without ``configs``, a random MPS.
    """
    if configs is None or not len(configs):
        how = "random" if configs is None else "random (no sector state found)"
        return MPSState(random_mps(n_qubits, chi0, rng, dtype), order).to_quimb(), how
    coeffs = rng.standard_normal(len(configs))
    psi = MPSState(product_superposition(configs, coeffs, dtype), order).to_quimb()
    if spread_mpo is None:
        return psi, f"{len(configs)} sector configurations"
    step = spread_mpo.identity() - tau * spread_mpo
    for _ in range(_SPREAD_STEPS):
        psi = step.apply(psi, compress=True, max_bond=chi0, cutoff=1e-10)
        psi /= psi.norm()
    return psi, f"{len(configs)} sector configurations spread by (1 - tau H)^{_SPREAD_STEPS}"


def run_dmrg(ham, p0, *, bond_dims, cutoff, tol, max_sweeps, mixer, show):
    """Two-site DMRG on the quimb MPO ``ham`` from the quimb MPS ``p0``.

    ``ham`` must be the transpose of the Hamiltonian (quimb contracts the ket
    with the MPO's upper index). Returns the final quimb MPS, the per-sweep
    history (energy of ``ham``, max bond dimension, discarded weight, time) and
    whether it converged (see :class:`~manybody.tensornet.options.DMRGOptions`).
    """
    from manybody.tensornet.sweeps import make_dmrg2

    dmrg = make_dmrg2()(ham, bond_dims=bond_dims, cutoffs=cutoff, p0=p0)
    history = {"energy": [], "max_bond_dim": [], "discarded_weight": [], "time": [], "start": 0.0}
    n_ramp = len(bond_dims)
    converged = False
    start = history["start"] = time.perf_counter()
    for k in range(max_sweeps):
        chi = bond_dims[min(k, n_ramp - 1)]
        dmrg.alpha = mixer if k < n_ramp else 0.0
        if k >= n_ramp:
            dmrg.opts["local_eig_tol"] = FINAL_EIG_TOL
            dmrg.opts["local_eig_ncv"] = _FINAL_NCV
        dmrg.discarded = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for direction in "RL":
                dmrg.sweep(direction, canonize=k == 0 and direction == "R", max_bond=chi, cutoff=cutoff)
        energy = float(np.real(dmrg.local_energies[-1][-1]))
        history["energy"].append(energy)
        history["max_bond_dim"].append(dmrg._k.max_bond())
        history["discarded_weight"].append(max(dmrg.discarded, 0.0))
        history["time"].append(time.perf_counter() - start)
        delta = abs(energy - history["energy"][-2]) if k > 0 else np.inf
        if show:
            print(
                f"dmrg sweep {k + 1:3d} chi={history['max_bond_dim'][-1]:4d}/{chi:<4d} "
                f"E={energy:.12f} dE={delta:.2e} trunc={history['discarded_weight'][-1]:.1e} "
                f"t={history['time'][-1]:.1f}s",
                file=sys.stderr,
                flush=True,
            )
        if k >= n_ramp and delta < tol:
            converged = True
            break
    return dmrg.state, history, converged
