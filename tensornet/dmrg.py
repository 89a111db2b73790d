"""The DMRG backend (``backend="dmrg"``): two-site DMRG on matrix product states.

Two engines behind one interface, both compiled from ``model.problem``:

* **charged** (TeNPy, :mod:`manybody.tensornet.tenpy_dmrg`) when the model has
  global charges (U(1): total S^z, particle numbers, total charge; Z2: fermion
  parity) and ``symmetry=True`` (default): block-sparse tensors carrying those
  quantum numbers, an in-sector product initial state, hence no penalty for
  them (``info["constraint_violation"]`` is 0 by construction);
* **dense** (quimb, :mod:`manybody.tensornet.quimb_dmrg`) otherwise.

Constraints that are not quantum numbers (local Gauss laws; all of them when
``symmetry=False``) are kept by an in-sector initial state and the penalty
``penalty * V`` (``V = model.problem.penalty_operator(...)``, 0 on the
sector) added to the MPO. Reported energies, variances and observables are
those of the Hamiltonian without penalty; ``info["constraint_violation"] =
<V>`` (a warning above 1e-6).

Both engines return an :class:`~manybody.tensornet.mps.MPSState` (dense
right-canonical tensors, MPS order = ``qubit_order``), on which observables
(Pauli strings) are evaluated exactly, and which is saved (npz) and loaded as
a warm start by either engine.

Limitation: conserved quantities that are not declared constraints (e.g.
winding sectors of gauge fields on a torus) are not targeted: DMRG finds the
lowest state among the sectors present in its initial state.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from manybody.backends import Backend, Solution
from manybody.observables import Estimate
from manybody.tensornet.mpo import auto_penalty, check_compilable, max_span, qubit_operator_mpo
from manybody.tensornet.mps import (
    MPSState,
    mpo_arrays,
    mpo_expectation,
    mpo_square_expectation,
    pauli_expectations,
    sector_configurations,
)
from manybody.tensornet.options import DMRGEvolveOptions, DMRGOptions

__all__ = ["DMRGBackend", "DMRGOptions"]

_VIOLATION_WARN = 1e-6
_MIXER = 1e-5  # mixer="auto": TeNPy's density-matrix mixer amplitude (TeNPy's default; 1e-3 measured slower)
_DENSE_MIXER = 1e-2  # the same for the quimb engine's subspace expansion
_N_CANDIDATES = 16  # sector configurations tried for the charged engine's product state


class DMRGBackend(Backend):
    """Two-site DMRG (TeNPy with quantum numbers, or quimb); see the module docstring."""

    name = "dmrg"
    Options = DMRGOptions
    EvolveOptions = DMRGEvolveOptions

    def check_model(self, model, options) -> None:
        check_compilable(model)
        problem = model.problem
        if problem.n_qubits // qubits_per_site(problem) < 2:
            raise ValueError(
                f"DMRG needs at least 2 MPS sites; model {model.name!r} has one site of "
                f"{problem.n_qubits} qubits: use backend='exact'"
            )

    def solve(self, model, options: DMRGOptions) -> Solution:
        with blas_limit(options.blas_threads):
            return self._solve(model, options)

    def _solve(self, model, options: DMRGOptions) -> Solution:
        from manybody.tensornet.charges import sector_charges

        start = time.perf_counter()
        problem = model.problem
        warm = _load_warm_start(options.warm_start, model)
        seed = options.seed if options.seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        rng = np.random.default_rng(seed)
        order = np.asarray(problem.qubit_order, dtype=int)
        charges = []
        if options.symmetry:
            charges = sector_charges(problem.charges, problem.parities, problem.n_qubits)
        penalized = problem.gauss_laws if charges else list(problem.constraints)
        if penalized:
            lam = (
                auto_penalty(problem.hamiltonian, problem.n_qubits)
                if options.penalty == "auto"
                else options.penalty
            )
        else:
            lam = 0.0
        penalty_op = problem.penalty_operator(penalized) if penalized else None
        ham = problem.hamiltonian if lam == 0 else problem.hamiltonian + lam * penalty_op
        if options.mixer == "auto":
            # the charged engine starts from a product state: without a mixer two-site updates grow
            # the bond dimension slowly (Heisenberg L=60: 7 s to 1e-8 with it, over 40 s without)
            mixer = _MIXER if charges else _DENSE_MIXER if max_span(ham, order) > 1 else 0.0
        else:
            mixer = options.mixer
        show = sys.stderr.isatty() if options.progress is None else options.progress
        options = dataclasses.replace(options, bond_dims=useful_bond_dims(options.bond_dims, len(order)))
        run = _run_charged if charges else _run_dense
        state, out = run(problem, options, order, charges, ham, lam, warm, rng, mixer, show)
        violation = 0.0
        if penalty_op is not None:
            violation = float(np.real(_pauli_value(state, penalty_op)))
            if violation > _VIOLATION_WARN:
                warnings.warn(
                    f"dmrg: the state violates the constraints of {problem.name!r} (<V> = {violation:.2e}); "
                    f"increase penalty (now {lam:g}) or bond_dims",
                    RuntimeWarning,
                    stacklevel=2,
                )
        history = out.pop("history")
        setup_time = history.pop("start") - start
        if not out["converged"]:
            warnings.warn(
                f"dmrg: not converged to tol={options.tol:g} in {options.max_sweeps} sweeps; "
                "increase max_sweeps or bond_dims",
                RuntimeWarning,
                stacklevel=2,
            )
        energy, variance = out.pop("energy"), out.pop("variance")
        info = {
            "engine": out.pop("engine"),
            "charges": [c.to_dict() for c in charges],
            "converged": out.pop("converged"),
            "n_sweeps": len(history["energy"]),
            "max_bond_dim": max(state.bond_dims, default=1),
            "bond_dims": state.bond_dims,
            "discarded_weight": history["discarded_weight"][out["state_sweep"] - 1],
            "setup_time": setup_time,
            "entanglement_entropy": state.entanglement_entropy().tolist(),
            **out,
            "mixer": mixer,
            "penalty": lam,
            "penalized_constraints": [c.name for c in penalized],
            "constraint_violation": violation,
            "qubit_order": order.tolist(),
        }
        return Solution(
            energy=energy,
            state=state,
            variance=variance,
            history={k: np.asarray(v) for k, v in history.items()},
            info=info,
            seed=seed,
        )

    def evolve(self, model, initial, times, options: DMRGEvolveOptions):
        """TDVP (or MPO) evolution on the charged MPS: see :mod:`manybody.tensornet.evolve`."""
        from manybody.tensornet.evolve import evolve

        self.check_model(model, options)
        yield from evolve(model, initial, times, options)

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


def blas_limit(threads: int | None):
    """A context capping the BLAS threads at ``threads`` (threadpoolctl; None: no cap).

    threadpoolctl caps only the BLAS libraries already loaded: SciPy's own OpenBLAS (the one
    TeNPy's block-sparse ``tensordot`` and SVD call) is loaded here first, or it would keep its
    default thread count.
    """
    if threads is None:
        return contextlib.nullcontext()
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, see above)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads)


def useful_bond_dims(bond_dims, n_sites: int) -> tuple[int, ...]:
    """``bond_dims`` capped at the largest bond dimension of an ``n_sites`` qubit MPS,
    ``2^(n_sites // 2)``, without the repeats this creates at the end of the ramp."""
    cap = 2 ** min(n_sites // 2, 62)
    dims = [min(int(d), cap) for d in bond_dims]
    while len(dims) > 1 and dims[-1] == dims[-2]:
        dims.pop()
    return tuple(dims)


def _pauli_value(state: MPSState, qop) -> complex:
    strings = list(qop.terms)
    return complex(np.dot([complex(qop.terms[t]) for t in strings], pauli_expectations(state, strings)))


def _run_charged(problem, options, order, charges, ham, lam, warm, rng, mixer, show):
    """The TeNPy engine: returns the MPSState and the engine's results."""
    from manybody.tensornet import tenpy_dmrg as td
    from manybody.tensornet.charges import charge_definite_mps, charged_terms

    group = qubits_per_site(problem)
    terms, coeffs, constant = charged_terms(ham, order, charges, group)
    sites = td.build_sites(charges, order, group)
    mpo = td.build_mpo(sites, terms, coeffs, group)
    if warm is not None:
        arrays = charge_definite_mps(warm.arrays, order, charges)
        psi, how = td.from_dense_arrays(sites, arrays, group), "warm start"
    else:
        bits = _lowest_diagonal_configuration(problem, order, ham, rng)
        psi, how = td.product_state(sites, bits, group), "product state in the sector"
    psi, history, converged = td.run_dmrg(
        psi,
        mpo,
        bond_dims=options.bond_dims,
        cutoff=options.cutoff,
        tol=options.tol,
        max_sweeps=options.max_sweeps,
        mixer=mixer,
        show=show,
    )
    h_mpo, h_constant = mpo, constant
    if lam > 0:  # energies and variance without the penalty
        h_terms, h_coeffs, h_constant = charged_terms(problem.hamiltonian, order, charges, group)
        h_mpo = td.build_mpo(sites, h_terms, h_coeffs, group)
    history["energy"] = [e + constant for e in history["energy"]]
    e0 = float(np.real(h_mpo.expectation_value(psi)))
    variance = max(float(np.real(h_mpo.variance(psi, e0))), 0.0) if options.variance else None
    state = MPSState(td.to_dense_arrays(psi, group), order, right_canonical=True)
    return state, {
        "engine": "tenpy",
        "state_sweep": history.pop("state_sweep"),
        "energy": e0 + h_constant,
        "variance": variance,
        "converged": converged,
        "history": history,
        "mpo_bond_dim": int(max(h_mpo.chi)),
        "mpo_bond_dim_with_penalty": int(max(mpo.chi)),
        "initial_state": how,
    }


def qubits_per_site(problem) -> int:
    """Qubits per site of the charged engine: the model's qubits per lattice site if that is 2
    (a site's two fermion modes, adjacent in ``qubit_order``: one site of dimension 4, as TeNPy's
    spinful fermions), else 1."""
    n, sites = problem.n_qubits, problem.n_sites
    return 2 if sites and n == 2 * sites else 1


def _lowest_diagonal_configuration(problem, order, ham, rng):
    """A sector configuration (bits in MPS order) of low diagonal energy, charges spread evenly.

    The first candidate is built site by site, each bit chosen to lower the diagonal energy
    ``<b|H|b>`` of the terms completed at that site plus a small penalty on the deviation of the
    running charges from an even spread (the Neel state for the Heisenberg chain, one fermion
    per site for the half-filled Hubbard chain); of it and a few random sector configurations
    the one of lowest cost is used. Two-site DMRG moves charge only slowly along the chain: from
    a random sector configuration the L = 100 Heisenberg chain needs several more sweeps.
    """
    L = len(order)
    position = np.empty(L, dtype=int)
    position[order] = np.arange(L)
    ending = [[] for _ in range(L)]  # diagonal terms by their last MPS position
    for t, c in ham.terms.items():
        if t and all(p == "Z" for _, p in t):
            sites = [position[q] for q, _ in t]
            ending[max(sites)].append((float(np.real(c)), sites))
    n_con = max(len(problem.constraints), 1)
    weights = np.zeros((L, n_con))
    for k, con in enumerate(problem.constraints):
        for q, w in zip(con.qubits, getattr(con, "weights", [1.0] * len(con.qubits))):
            weights[position[q], k] = w
    total = np.array([getattr(con, "value", 0.0) for con in problem.constraints] or [0.0])
    scale = 1e-3 * max((abs(c) for e in ending for c, _ in e), default=1.0)

    def local_cost(p, bits, b):
        z = 1 - 2 * np.append(bits[:p], b)
        energy = sum(c * np.prod(z[s]) for c, s in ending[p])
        running = bits[:p] @ weights[:p] + b * weights[p]
        return energy + scale * np.sum((running - total * (p + 1) / L) ** 2)

    def prefer(p, bits):
        return int(local_cost(p, bits, 1) < local_cost(p, bits, 0))

    configs = sector_configurations(problem.constraints, order, _N_CANDIDATES, rng, prefer=prefer)
    if not len(configs):
        raise ValueError(f"dmrg: found no basis state in the sector of {problem.name!r}")
    cost = [sum(local_cost(p, bits, bits[p]) for p in range(L)) for bits in configs]
    bits = configs[int(np.argmin(cost))].copy()
    # then swaps of two bits of equal charges (they keep every constraint) while they lower the cost
    touching = [[] for _ in range(L)]
    for e in ending:
        for c, sites in e:
            for p in set(sites):
                touching[p].append((c, sites))

    def swap_gain(i, j):
        terms = {id(t): t for t in touching[i] + touching[j]}.values()
        z = 1 - 2 * bits
        before = sum(c * np.prod(z[s]) for c, s in terms)
        z[i], z[j] = z[j], z[i]
        after = sum(c * np.prod(z[s]) for c, s in terms)
        run = np.cumsum(bits[:, None] * weights, axis=0) - total * (np.arange(1, L + 1) / L)[:, None]
        moved = run.copy()
        moved[i:j] += (bits[j] - bits[i]) * weights[i]
        return before - after + scale * (np.sum(run**2) - np.sum(moved**2))

    pairs = [(i, j) for i in range(L) for j in range(i + 1, L) if np.array_equal(weights[i], weights[j])]
    for _ in range(L):
        improved = False
        for i, j in pairs:
            if bits[i] != bits[j] and swap_gain(i, j) > 1e-12:
                bits[i], bits[j] = bits[j], bits[i]
                improved = True
        if not improved:
            break
    return bits


def _run_dense(problem, options, order, charges, ham, lam, warm, rng, mixer, show):
    """The quimb engine: returns the MPSState and the engine's results."""
    from manybody.tensornet import quimb_dmrg as qd

    name = problem.name
    H, h_constant = qubit_operator_mpo(problem.hamiltonian, order, f"{name} Hamiltonian")
    full, constant = (
        (H, h_constant) if lam == 0 else qubit_operator_mpo(ham, order, f"{name} Hamiltonian + penalty")
    )
    # quimb's DMRG contracts the ket with the MPO's upper index, i.e. it minimises
    # <psi|H^T|psi>; H^T = conj(H) for Hermitian H, so this finds the ground state of H.
    full = full.conj()
    dtype = np.result_type(*full.arrays)
    chi0 = options.bond_dims[0]
    if warm is not None:
        p0, how = warm.to_quimb(dtype=np.result_type(dtype, *warm.arrays)), "warm start"
    else:
        configs = None
        if problem.constraints:
            configs = sector_configurations(problem.constraints, order, min(chi0, 16), rng)
        tau = 2.0 / auto_penalty(problem.hamiltonian, problem.n_qubits)
        p0, how = qd.initial_state(len(order), order, configs, chi0, rng, dtype, H, tau)
    psi, history, converged = qd.run_dmrg(
        full,
        p0,
        bond_dims=options.bond_dims,
        cutoff=options.cutoff,
        tol=options.tol,
        max_sweeps=options.max_sweeps,
        mixer=mixer,
        show=show,
    )
    history["energy"] = [e + float(np.real(constant)) for e in history["energy"]]
    state = MPSState.from_quimb(psi, order)
    W = mpo_arrays(H)
    e0 = float(np.real(mpo_expectation(state, W)))
    variance = None
    if options.variance:
        variance = max(float(np.real(mpo_square_expectation(state, W))) - e0**2, 0.0)
    return state, {
        "engine": "quimb",
        "state_sweep": len(history["energy"]),
        "energy": e0 + float(np.real(h_constant)),
        "variance": variance,
        "converged": converged,
        "history": history,
        "mpo_bond_dim": H.max_bond(),
        "mpo_bond_dim_with_penalty": full.max_bond(),
        "initial_state": how,
    }


def _load_warm_start(source, model) -> MPSState | None:
    """The warm-start MPS (loaded once from a folder, or given), checked against ``model``."""
    if source is None:
        return None
    state = MPSState.load(Path(source) / "state") if isinstance(source, str) else source
    _check_warm(state, model)
    return state


def _check_warm(state: MPSState, model, what="warm_start") -> None:
    if state.n_qubits != model.n_qubits or not np.array_equal(state.order, np.asarray(model.qubit_order)):
        raise ValueError(
            f"{what}: the MPS has {state.n_qubits} qubits in order {state.order.tolist()[:8]}..., "
            f"the model {model.name!r} has {model.n_qubits} in order {list(model.qubit_order)[:8]}..."
        )
