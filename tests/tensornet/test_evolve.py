"""MPS time evolution (``mb.evolve(..., backend="dmrg")``) against the exact backend's Krylov evolution."""

import time

import numpy as np
import pytest

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg, Hubbard, QuantumLink1D, Schwinger
from manybody.operators import of


def local_sz(site):
    return mb.Observable(f"sz_{site}", 0.5 * of().QubitOperator(f"Z{site}"))


def compare(model, initial, times, observables, tol, exact_initial=None, **options):
    """Evolve on dmrg and exact; assert every observable, the echo and the entropy agree within ``tol``."""
    ev = mb.evolve(model, initial, times, backend="dmrg", observables=observables, **options)
    ex = mb.evolve(
        model,
        initial if exact_initial is None else exact_initial,
        times,
        backend="exact",
        observables=observables,
    )
    assert np.abs(ev.energy.mean - ex.energy.mean).max() < tol
    assert set(ev.observables) == set(ex.observables)
    for name in ex.observables:
        diff = np.abs(np.asarray(ev.observables[name].mean) - np.asarray(ex.observables[name].mean)).max()
        assert diff < tol, name
    assert np.abs(ev.loschmidt_echo - ex.loschmidt_echo).max() < tol
    assert np.abs(ev.entropy - ex.entropy).max() < tol
    return ev, ex


def test_heisenberg_neel_matches_exact():
    model = Heisenberg(Chain(8))
    obs = [local_sz(0), local_sz(3), "spin_correlations"]
    ev, ex = compare(model, "neel", [0.0, 1.0], obs, 1e-7, dt=0.25)
    assert np.ptp(ex.observables["sz_0"].mean) > 0.1  # the state does evolve
    assert ev.info["truncation_error"][-1] < 1e-12
    assert ev.info["tdvp_sites"][-1] == 1  # every bond at full dimension: one-site TDVP
    assert ev.info["projection_error"][-1] < 1e-6  # full bond dimensions: H psi in the tangent space


def test_schwinger_string_breaking_conserves_charge():
    charges = [0, 1, 0, 0, 0, 0, -1, 0]
    model = Schwinger(8, x=1.0, mu=0.5, charges=charges)
    ev, ex = compare(
        model, "vacuum", [0.0, 0.5, 1.0], ["electric_field", "charge", "gauss_violation"], 1e-6, dt=0.25
    )
    assert np.ptp(ex.observables["electric_field"].mean) > 0.05
    # the total charge is a quantum number of the block-sparse tensors: zero up to rounding
    assert np.abs(ev.observables["gauss_violation"].mean).max() < 1e-12


def test_quench_from_dmrg_ground_state():
    ising_like = Heisenberg(Chain(6), Delta=3.0)
    ground = mb.solve(ising_like, backend="dmrg", seed=1, progress=False)
    exact_ground = mb.solve(ising_like, backend="exact")
    compare(
        Heisenberg(Chain(6)), ground, [0.0, 0.4, 0.8], ["sz_correlations"], 1e-7, exact_initial=exact_ground
    )


def test_hubbard_fermions_two_qubit_sites():
    model = Hubbard(Chain(4), U=2.0)
    basis = model.problem.sector()
    bits = (int(basis.states[len(basis.states) // 3]) >> np.arange(model.n_qubits)) & 1
    compare(model, bits.tolist(), [0.0, 0.5], ["double_occupancy"], 1e-7)


def test_no_charge_dm_terms():
    model = Heisenberg(Chain(6), D=(0.7, 0.0, 0.0), sz=None)  # x DM terms break total S^z
    assert not model.problem.charges and not model.problem.parities
    compare(model, "neel", [0.0, 0.5], [local_sz(2)], 1e-7)


def test_truncation_error_reported():
    ev = mb.evolve(
        Heisenberg(Chain(8)), "neel", np.linspace(0, 1, 3), backend="dmrg", chi_max=4, method="tdvp2"
    )
    trunc = np.asarray(ev.info["truncation_error"])
    assert trunc[0] == 0 and trunc[-1] > 1e-6 and np.all(np.diff(trunc) >= 0)
    assert max(ev.info["max_bond_dim"]) == 4 and set(ev.info["tdvp_sites"]) == {2}


def mps_amplitudes(state, basis_states):
    """``<s|psi>`` of an MPSState for integer basis states ``s`` (bit ``q`` = qubit ``q``)."""
    out = []
    for s in basis_states:
        v = np.ones(1)
        for p, a in enumerate(state.arrays):
            v = v @ a[:, (int(s) >> int(state.order[p])) & 1, :]
        out.append(v[0])
    return np.asarray(out)


def test_one_site_projection_error_bounds_the_state_error():
    """Neel quench, L=12, chi_max=8: after the switch to one-site TDVP the bond dimension is
    saturated; the reported projection error (integral of ||(1 - P) H psi|| dt) is nonzero, bounds
    the 2-norm distance to the exact state (up to a phase) and so every <S^z_i> error, and is not
    far above that distance."""
    model = Heisenberg(Chain(12))
    obs = [local_sz(i) for i in range(12)]
    ev = mb.evolve(model, "neel", [0.0, 1.0, 2.0], backend="dmrg", chi_max=8, observables=obs)
    ex = mb.evolve(model, "neel", [0.0, 1.0, 2.0], backend="exact", observables=obs)
    projection = np.asarray(ev.info["projection_error"])
    assert list(ev.info["tdvp_sites"]) == [2, 1, 1] and max(ev.info["max_bond_dim"]) == 8
    assert projection[0] == 0 and np.all(np.diff(projection) > 0) and projection[-1] > 1e-3
    exact = ex.state
    overlap = abs(np.vdot(exact.psi, mps_amplitudes(ev.state, exact.basis.states)))
    distance = np.sqrt(max(2 - 2 * overlap, 0.0))
    assert 1e-3 < distance <= projection[-1] < 3 * distance
    for o in obs:  # |<O> - <O>_exact| <= 2 ||O|| distance, ||S^z|| = 1/2
        err = np.abs(np.asarray(ev.observables[o.name].mean) - np.asarray(ex.observables[o.name].mean))
        assert np.all(err <= projection + 1e-12), o.name


def test_one_site_phase_conserves_energy():
    ev = mb.evolve(Heisenberg(Chain(8)), "neel", np.linspace(0, 1, 3), backend="dmrg", chi_max=4)
    sites = np.asarray(ev.info["tdvp_sites"])
    assert sites[-1] == 1
    assert np.ptp(ev.energy.mean[sites == 1]) < 1e-8  # one-site TDVP conserves <H> exactly


@pytest.mark.parametrize(
    "option, value",
    [("dt", 0.0), ("dt", 2.0), ("chi_max", 0), ("method", "tebd"), ("cutoff", 1.0), ("symmetry", False)],
)
def test_bad_options_are_refused_fast(option, value):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=option):
        mb.evolve(Heisenberg(Chain(4)), "neel", [0, 1], backend="dmrg", **{option: value})
    assert time.perf_counter() - start < 1.0


@pytest.mark.slow
def test_heisenberg_l12_neel_to_t5_within_1e6():
    model = Heisenberg(Chain(12))
    obs = [local_sz(0), local_sz(5), "spin_correlations", "sz_correlations"]
    compare(model, "neel", np.linspace(0, 5, 11), obs, 1e-6)


def test_long_chain_conserves_neel_energy():
    L = 20  # more sites than TeNPy's 2D-ring check allows by default; <H> = -(L - 1) J / 4 at all times
    ev = mb.evolve(Heisenberg(Chain(L)), "neel", [0.0, 0.05], backend="dmrg", chi_max=4)
    assert np.abs(ev.energy.mean + (L - 1) / 4).max() < 1e-8
    assert ev.info["max_bond_dim"][-1] > 1 and ev.entropy[-1] > 1e-3


def test_snake_2d_from_product_state():
    compare(Heisenberg(Square(2, 3)), "neel", [0.0, 0.5], ["sz_correlations"], 1e-8)


def test_three_site_gauge_hopping_keeps_gauss_laws():
    model = QuantumLink1D(4)  # fermion-link-fermion hopping: no two-site update moves a product state
    basis = model.problem.sector()
    bits = (int(basis.states[len(basis.states) // 2]) >> np.arange(model.n_qubits)) & 1
    ev, ex = compare(model, bits.tolist(), [0.0, 0.5], ["electric_field", "particle_density"], 1e-6)
    assert np.ptp(ex.observables["electric_field"].mean, axis=0).max() > 0.1  # the state does move
    assert max(ev.info["constraint_violation"]) < 1e-10
