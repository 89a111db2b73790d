"""The charged engine: two-site DMRG on block-sparse tensors (TeNPy).

Each MPS site is one qubit (basis ``b = 0, 1``, unsorted) whose leg carries
the charges of :func:`manybody.tensornet.charges.sector_charges` (U(1) and Z2
components of one TeNPy ``ChargeInfo``). The Hamiltonian is the sum of the
charged operator strings of :func:`~manybody.tensornet.charges.charged_terms`,
turned into an MPO by TeNPy's ``MPOGraph`` (a finite-state machine MPO;
strings sharing a prefix share its states). The initial state is a product
state in the sector, so the total charge is fixed for the whole run and no
penalty is needed for it.

TeNPy's ``TwoSiteDMRGEngine`` does the sweeps. Its Lanczos solver stops after
a few Krylov vectors while the truncation error is large (``P_tol_to_trunc``:
the projection tolerance follows the truncation) and tightens as the state
converges. TeNPy's density-matrix mixer grows the bond dimension from the
product state during the bond-dimension ramp; the sweeps after it split by a
plain truncated SVD, and the state of lowest energy from the end of the ramp
on is returned.
"""

from __future__ import annotations

import itertools
import sys
import time
import warnings

import numpy as np

from manybody.tensornet.charges import Charge, site_operators

__all__ = ["build_sites", "build_mpo", "run_dmrg", "to_dense_arrays", "from_dense_arrays"]

TRUNCATION_LIMITED = 1e-9
"""Discarded weight (largest per split) of the last ramp sweep above which the mixer is kept
:data:`MIXER_EXTRA_SWEEPS` sweeps longer: the kept basis then matters, and the mixer's sweeps
find a better one (Hubbard L=32, chi 128, discarded 1e-7: -17.994575031 after two more sweeps
with it, -17.994574978 after 28 sweeps without; at chi 512, discarded 5e-12, it is not needed)."""
MIXER_EXTRA_SWEEPS = 2

ENGINE_PARAMS = {"combine": True, "lanczos_params": {"N_min": 2, "N_max": 20, "reortho": False}}
"""TeNPy engine options fixed by the backend (measured: see ``benchmarks/dmrg_heisenberg.py``)."""


def build_sites(charges: list[Charge], order, group: int = 1):
    """TeNPy ``Site`` objects, each of ``group`` consecutive qubits of ``order`` (dimension
    ``2^group``, basis index ``sum_j b_j 2^(group - 1 - j)``), legs carrying ``charges``."""
    from tenpy.linalg import np_conserved as npc
    from tenpy.networks.site import Site

    chinfo = npc.ChargeInfo([c.mod for c in charges], [c.name for c in charges])
    ops = site_operators(group)
    states = np.array(list(itertools.product([0, 1], repeat=group)))  # (2^group, group) bits
    sites = []
    for s in range(len(order) // group):
        qubits = np.asarray(order[group * s : group * (s + 1)])
        total = states @ np.stack([c.per_qubit[qubits] for c in charges], axis=1)  # (2^group, n_charges)
        mods = np.array([c.mod for c in charges])
        qflat = np.where(mods > 1, total % mods, total)
        leg = npc.LegCharge.from_qflat(chinfo, qflat)
        sites.append(Site(leg, [str(k) for k in range(len(states))], sort_charge=False, **ops))
    return sites


def build_mpo(sites, terms, coeffs, group: int = 1):
    """The MPO ``sum_t coeffs[t] terms[t]``; complex only if a coefficient is.

    The finite-state machine of TeNPy's ``MPOGraph`` (states, their order and the
    bond charges) filled as dense arrays: the same MPO as ``MPOGraph.build_MPO``
    (checked by a test), without its per-entry block-sparse insertion, which takes
    seconds for the all-to-all terms of SYK.
    """
    from tenpy.linalg import np_conserved as npc
    from tenpy.networks.mpo import MPO, MPOGraph
    from tenpy.networks.terms import TermList

    real = bool(np.all(np.abs(np.imag(coeffs)) <= 1e-14 * max(np.abs(coeffs).max(initial=0.0), 1.0)))
    strength = np.real(coeffs) if real else coeffs
    L = len(sites)
    graph = MPOGraph.from_term_list(
        TermList([list(t) for t in terms], strength), sites, "finite", unit_cell_width=L
    )
    # TeNPy internals (guarded by tests/tensornet/test_tenpy_internals.py)
    graph._set_ordered_states()
    grids = graph._build_grids()
    legs, _ = graph._calc_legcharges(None)
    ops = {"Id": np.eye(2**group), **site_operators(group)}
    IdL = [s.get("IdL", None) for s in graph._ordered_states]
    IdR = [s.get("IdR", None) for s in graph._ordered_states]
    # bond states sorted by charge and bunched: few large blocks instead of one per state
    perms, bunched = [], []
    for b, leg in enumerate(legs):
        q = leg.to_qflat()
        perm = np.lexsort(q.T[::-1]) if q.shape[1] else np.arange(len(q))
        perms.append(perm)
        bunched.append(npc.LegCharge.from_qflat(leg.chinfo, q[perm], leg.qconj).bunch()[1])
        inverse = np.argsort(perm)
        IdL[b] = None if IdL[b] is None else int(inverse[IdL[b]])
        IdR[b] = None if IdR[b] is None else int(inverse[IdR[b]])
    Ws = []
    for i, (site, grid) in enumerate(zip(sites, grids)):
        W = np.zeros((len(grid), len(grid[0]), 2**group, 2**group), dtype=float if real else complex)
        for a, row in enumerate(grid):
            for b, entry in enumerate(row):
                for name, c in entry or ():
                    W[a, b] += c * ops[name]
        W = W[perms[i]][:, perms[i + 1]]
        legs_i = [bunched[i], bunched[i + 1].conj(), site.leg, site.leg.conj()]
        # only the non-zero blocks: every block the charges allow would be stored otherwise
        # (Hubbard: 44 instead of 25), and carried through each effective-Hamiltonian product
        Ws.append(npc.Array.from_ndarray(W, legs_i, labels=["wL", "wR", "p", "p*"]).ipurge_zeros(0.0))
    return MPO(sites, Ws, "finite", IdL, IdR, graph.max_range, mps_unit_cell_width=L)


def from_dense_arrays(sites, arrays, group: int = 1):
    """A TeNPy MPS from qubit ``(chi_left, 2, chi_right)`` arrays with definite charges (canonicalised)."""
    from tenpy.networks.mps import MPS

    flat = []
    for s in range(len(sites)):
        t = arrays[group * s]
        for a in arrays[group * s + 1 : group * (s + 1)]:
            t = np.tensordot(t, a, axes=(t.ndim - 1, 0))
        flat.append(np.transpose(t.reshape(t.shape[0], -1, t.shape[-1]), (1, 0, 2)))
    psi = MPS.from_Bflat(sites, flat, bc="finite", permute=False, form=None, unit_cell_width=len(sites))
    psi.canonical_form()
    return psi


def product_state(sites, bits, group: int = 1):
    """The product state ``|bits>`` (qubit bits in MPS order)."""
    from tenpy.networks.mps import MPS

    bits = np.asarray(bits).reshape(len(sites), group)
    labels = [str(int(b @ (2 ** np.arange(group)[::-1]))) for b in bits]
    return MPS.from_product_state(sites, labels, bc="finite", unit_cell_width=len(sites))


def to_dense_arrays(psi, group: int = 1) -> list[np.ndarray]:
    """The MPS as right-canonical qubit ``(chi_left, 2, chi_right)`` numpy arrays; a site of
    several qubits ``B`` is split exactly by an SVD ``B = (U S) V``, both factors right-canonical."""
    out = []
    for i in range(psi.L):
        t = psi.get_B(i, "B").itranspose(["vL", "p", "vR"]).to_ndarray()
        parts = []
        for _ in range(group - 1):
            left, right = t.shape[0], t.shape[-1]
            u, sv, vh = np.linalg.svd(t.reshape(-1, 2 * right), full_matrices=False)
            keep = max(int(np.count_nonzero(sv > 1e-14 * sv[0])), 1)
            parts.append(vh[:keep].reshape(keep, 2, right))
            t = (u[:, :keep] * sv[:keep]).reshape(left, -1, keep)
        out.extend([t, *parts[::-1]])
    return out


def _engine_class(show: bool, n_ramp: int):
    from tenpy.algorithms.dmrg import TwoSiteDMRGEngine

    class Engine(TwoSiteDMRGEngine):
        """TeNPy's two-site engine with manybody's one-line-per-sweep progress display, keeping
        a copy of the state of lowest energy among the sweeps from the last of the ramp (sweep
        ``n_ramp``) on (``best``, ``best_energy``, ``best_sweep``, counted from 1), and keeping
        the mixer for :data:`MIXER_EXTRA_SWEEPS` more sweeps if the last ramp sweep discarded
        more than :data:`TRUNCATION_LIMITED`."""

        best, best_energy, best_sweep = None, np.inf, 0

        def sweep(self, optimize=True, meas_E_trunc=False):
            mixer = self.mixer
            discarded = super().sweep(optimize=optimize, meas_E_trunc=meas_E_trunc)
            ramp_done = optimize and self.sweeps == n_ramp
            if ramp_done and mixer is not None and self.mixer is None and discarded > TRUNCATION_LIMITED:
                mixer.disable_after += MIXER_EXTRA_SWEEPS  # TeNPy switched it off at the end of the ramp
                self.mixer = mixer
            return discarded

        def status_update(self, iteration_start_time):
            super().status_update(iteration_start_time)
            s = self.sweep_stats
            # a sweep ends with the update of the first two sites, whose split is exact: the
            # sweep energy is that of the MPS
            if len(s["E"]) >= n_ramp and s["E"][-1] < self.best_energy:
                self.best, self.best_energy, self.best_sweep = self.psi.copy(), s["E"][-1], len(s["E"])
            if show:
                print(
                    f"dmrg sweep {len(s['E']):3d} chi={s['max_chi'][-1]:4d} E={s['E'][-1]:.12f} "
                    f"dE={s['Delta_E'][-1]:.2e} trunc={s['max_trunc_err'][-1]:.1e} t={s['time'][-1]:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )

    return Engine


def run_dmrg(psi, mpo, *, bond_dims, cutoff, tol, max_sweeps, mixer, show):
    """Run two-site DMRG from ``psi`` (modified in place).

    Parameters
    ----------
    psi : tenpy MPS
    mpo : tenpy MPO
    bond_dims : tuple of int
        Maximal bond dimension of each sweep (one sweep = right and back); the last repeats.
    cutoff : float
        Largest discarded weight per two-site split.
    tol : float
        Convergence: energy change between sweeps below ``tol`` (mixer off).
    max_sweeps : int
    mixer : float
        Density-matrix mixer amplitude (0 = none); it decays by 2 per sweep and is
        switched off after the ramp (the sweeps of ``bond_dims``), two sweeps later if the
        last ramp sweep discarded more than :data:`TRUNCATION_LIMITED`.
    show : bool
        Print one line per sweep on stderr.

    Returns
    -------
    psi : tenpy MPS
        The state of lowest energy among the sweeps from the last of the ramp on (two-site
        DMRG with truncation is not monotonic: on the Hubbard chain at chi 128, mixer on for two
        sweeps past the ramp, the sweeps after it rose by 3e-8), in canonical form.
    history : dict
        Per-sweep lists: ``energy``, ``max_bond_dim``, ``discarded_weight``, ``time`` (seconds
        since ``start``, the ``time.perf_counter()`` before the first sweep); ``state_sweep``,
        the sweep (from 1) whose state is returned.
    converged : bool
    """
    from tenpy.models.model import MPOModel

    model = MPOModel(_lattice(psi.sites), mpo)
    n_ramp = len(bond_dims)
    params = {
        "chi_list": {k: int(c) for k, c in enumerate(bond_dims)},
        "chi_list_reactivates_mixer": False,
        "trunc_params": {"chi_max": int(bond_dims[-1]), "svd_min": 1e-12, "trunc_cut": max(cutoff, 1e-15)},
        "max_E_err": tol,
        "P_tol_min": tol / 10,  # Lanczos: loose while the truncation error is large, never tighter than this
        "max_S_err": 1.0,
        "min_sweeps": n_ramp,
        "max_sweeps": max_sweeps,
        "mixer": bool(mixer > 0),
        "N_sweeps_check": 1,
        "max_N_sites_per_ring": psi.L + 1,
        "max_trunc_err": None,  # a large truncation is reported (discarded_weight), not an error  # a chain of sites, not a 2D ring (TeNPy's sanity check)
    }
    params.update(ENGINE_PARAMS)
    if mixer > 0:
        # the mixer (decaying by 2 per sweep) grows the bond dimension from the product state
        # during the ramp and is off afterwards (unless the run is truncation-limited, see
        # Engine.sweep): once the bond dimension is at its final value the plain SVD split is
        # cheaper (Hubbard L=32, chi 512: 5.5 s against 8.7 s per sweep with the mixer's density
        # matrices) and the first sweep without it gives the lower energy (chi 512: by 2e-11)
        params["mixer_params"] = {"amplitude": mixer, "decay": 2.0, "disable_after": n_ramp}
    from tenpy.tools.optimization import OptimizationFlag, temporary_level

    history = {"start": time.perf_counter()}
    engine = _engine_class(show, min(n_ramp, max_sweeps))(psi, model, params)
    # the MPO and the state were built and checked with TeNPy's default level; the sweeps skip
    # TeNPy's per-tensor sanity checks (~15% of a small run)
    with temporary_level(OptimizationFlag.skip_arg_checks), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="unused option", category=UserWarning)
        warnings.filterwarnings("ignore", message="Maximum truncation error")
        engine.run()
        # TeNPy reports options that a short run never read (Lanczos limits, mixer reactivation)
        # when its configs are deleted: check them here, where that report is silenced
        engine.options.warn_unused(True)
    s = engine.sweep_stats
    history |= {
        "energy": list(map(float, s["E"])),
        "max_bond_dim": list(map(int, s["max_chi"])),
        "discarded_weight": [float(x) for x in s["max_trunc_err"]],
        "time": [float(t) for t in s["time"]],
    }
    delta = abs(s["Delta_E"][-1]) if len(s["E"]) > 1 else np.inf
    converged = bool(delta < tol and engine.mixer is None)
    if engine.best is not None and engine.best_energy < s["E"][-1]:
        psi, history["state_sweep"] = engine.best, engine.best_sweep
    else:
        history["state_sweep"] = len(s["E"])
    # TeNPy canonicalises the final state only if the mixer is off; a kept copy is as the sweep left it
    if np.max(psi.norm_test()) > 1e-10:
        psi.canonical_form()
    return psi, history, converged


def _lattice(sites):
    from tenpy.models.lattice import TrivialLattice

    return TrivialLattice(sites, bc_MPS="finite")
