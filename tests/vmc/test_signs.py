"""Sign rules: the structure ``auto`` picks from the model's declaration makes the exact ground
state positive where it is exact (exact diagonalisation in the constrained sector), and the network
carries the rule exactly. Learned phases (two-body, Slater determinant) keep the sampled
distribution, the Slater phase is the exact free-fermion sign at U = 0, and the SR step factor
follows the infinite-temperature energy variance. Slow: the issue-13 targets against exact."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import SYK, Heisenberg, Hubbard
from manybody.vmc import build_network, make_vstate, to_pauli_strings
from manybody.vmc.operators import LOCAL_DTYPE
from manybody.vmc.scale import STEP_REFERENCE_SCALE, energy_scale, step_factor
from manybody.vmc.signs import learned_phase, sign_rule
from manybody.vmc.slater import hartree_fock, one_body_orbitals, uses_hartree_fock


def _ground_state(model):
    """Exact ground state in the constrained sector and its configurations (N_sector, n_qubits)."""
    h, basis = sector_hamiltonian(model)
    _, vecs = scipy.sparse.linalg.eigsh(h, k=1, which="SA")
    return vecs[:, 0], basis.bits()


@pytest.mark.parametrize(
    "model, rule",
    [
        (Heisenberg(Chain(8)), "marshall"),
        (Heisenberg(Square(2, 3)), "marshall"),
        (Hubbard(Chain(4), U=4.0), "hubbard_chain"),
        (Hubbard(Chain(6), U=2.0, n_up=3, n_down=2), "hubbard_chain"),
        (Hubbard(Chain(6, pbc=True), U=4.0, n_up=3, n_down=3), "hubbard_chain"),
    ],
    ids=["heisenberg_chain", "heisenberg_2x3", "hubbard_L4", "hubbard_L6_3_2", "hubbard_pbc_L6_odd"],
)
def test_auto_rule_makes_the_exact_ground_state_positive(model, rule):
    chosen = sign_rule(model.problem, "auto")
    assert chosen is not None and chosen.name == rule
    psi, bits = _ground_state(model)
    signed = chosen.sign(bits) * psi
    signed *= np.sign(signed[np.argmax(np.abs(signed))])
    assert signed.min() > -1e-10


@pytest.mark.parametrize(
    "model",
    [Heisenberg(Chain(8), J2=0.6), Hubbard(Chain(4), t=-1.0)],
    ids=["j1j2_beyond_half", "hubbard_negative_t"],
)
def test_auto_rule_is_none_where_the_model_recommends_none(model):
    assert sign_rule(model.problem, "auto") is None


def test_auto_rule_is_approximate_marshall_for_moderate_frustration():
    # the model recommends Marshall for 0 < J2 <= J/2 without calling it exact
    rule = sign_rule(Heisenberg(Square(2, 3), J2=0.5).problem, "auto")
    assert rule.name == "marshall" and not rule.exact


def test_periodic_hubbard_chain_with_even_filling_has_an_approximate_rule_and_auto_learns_the_sign():
    model = Hubbard(Chain(4, pbc=True), U=4.0)  # even n_up: the boundary hopping is not stoquastic
    rule = sign_rule(model.problem, "hubbard_chain")
    assert rule.recommended and not rule.exact
    # recommended but approximate, two particle numbers: "auto" learns the Slater phase instead
    assert sign_rule(model.problem, "auto") is None
    assert learned_phase(model.problem, "auto") == "slater"
    psi, bits = _ground_state(model)
    signed = rule.sign(bits) * psi
    assert signed.min() < -1e-3 < 1e-3 < signed.max()  # really not the exact sign structure


def test_explicit_rule_that_the_model_does_not_declare_raises():
    with pytest.raises(
        ValueError,
        match=r"declares no such sign structure; allowed: \('auto', 'none', 'jastrow', 'local', 'slater', 'hartree_fock'\)",
    ):
        sign_rule(Hubbard(Square(2, 2)).problem, "hubbard_chain")
    with pytest.raises(
        ValueError,
        match="allowed: \\('auto', 'none', 'jastrow', 'local', 'slater', 'hartree_fock', 'hubbard_chain'\\)",
    ):
        sign_rule(Hubbard(Chain(4)).problem, "fermi")
    # an approximate structure can still be asked for by name
    assert sign_rule(Heisenberg(Chain(6), J2=0.8).problem, "marshall").name == "marshall"


@pytest.mark.parametrize("model", [Heisenberg(Chain(6)), Hubbard(Chain(3), n_up=2, n_down=1)])
def test_network_phase_is_the_rule_when_the_phase_head_is_zero(model, helpers):
    rule = sign_rule(model.problem, "auto")
    net = build_network(
        model,
        {"d_model": 8, "n_heads": 2, "n_layers": 1, "sign_rule": rule.to_dict(), "n_qubits": model.n_qubits},
    )
    bits = helpers["all_bits"](model.n_qubits)
    # jitted: op by op, init and apply compiled ~100 small kernels each
    params = jax.jit(net.init)(jax.random.PRNGKey(0), jnp.asarray(bits))["params"]
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if "phase_head" in jax.tree_util.keystr(path) else x, params
    )
    inside = helpers["satisfied"](model, bits)
    log_psi = np.asarray(jax.jit(net.apply)({"params": params}, jnp.asarray(bits[inside])))
    np.testing.assert_allclose(np.exp(1j * log_psi.imag), rule.sign(bits[inside]), atol=1e-12)


@pytest.mark.parametrize(
    "model, phase",
    [
        (Heisenberg(Square(2, 3), J2=0.5), "jastrow"),
        (Hubbard(Chain(3), n_up=2, n_down=1), "jastrow"),
        (Heisenberg(Square(2, 3), J2=0.5), "local"),
    ],
)
def test_learned_phase_starts_at_the_declared_structure_and_keeps_the_distribution(model, phase, helpers):
    """sign_rule="jastrow" / "local": |psi|^2 is the transformer's normalised distribution (exact
    sampling), and without the random part the phase factor is the declared structure's sign."""
    rule = sign_rule(model.problem, phase)
    assert rule is not None and rule.name in {"marshall", "hubbard_chain"}
    config = {"d_model": 8, "n_heads": 2, "n_layers": 1, "n_qubits": model.n_qubits}
    net = build_network(model, {**config, "sign_rule": rule.to_dict(), "phase": phase})
    bits = helpers["all_bits"](model.n_qubits)
    inside = helpers["satisfied"](model, bits)
    params = net.init(jax.random.PRNGKey(0), jnp.asarray(bits))["params"]
    log_psi = np.asarray(net.apply({"params": params}, jnp.asarray(bits[inside])))
    np.testing.assert_allclose(np.sum(np.exp(2 * log_psi.real)), 1.0, atol=1e-10)
    amplitude = np.asarray(net.amplitude.apply({"params": params["amplitude"]}, jnp.asarray(bits[inside])))
    np.testing.assert_allclose(log_psi.real, amplitude.real, atol=1e-12)
    exact_start = net.clone(init_scale=0.0).init(jax.random.PRNGKey(0), jnp.asarray(bits))["params"]
    exact_start = jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if "phase_head" in jax.tree_util.keystr(path) else x, exact_start
    )
    phase = np.asarray(net.apply({"params": exact_start}, jnp.asarray(bits[inside]))).imag
    np.testing.assert_allclose(np.exp(1j * phase), rule.sign(bits[inside]), atol=1e-10)


SMALL_NET = {"d_model": 8, "n_heads": 2, "n_layers": 1}


@pytest.mark.parametrize(
    "model",
    [
        Hubbard(Chain(4, pbc=True), U=0.0, n_up=1, n_down=1),
        Hubbard(Square(3, 2, pbc=False), U=0.0, n_up=2, n_down=1),
        Hubbard(Chain(5, pbc=True), U=0.0, n_up=3, n_down=1),  # the boundary hopping crosses a JW string
    ],
    ids=["ring4_1_1", "open_3x2_2_1", "ring5_3_1"],
)
def test_slater_phase_at_u0_is_the_sign_of_the_exact_ground_state(model):
    """At U = 0 the ground state is the Slater determinant of the lowest one-body orbitals: the
    phase of the unperturbed initial determinant must be its sign (up to one global sign)."""
    h, basis = sector_hamiltonian(model)
    energies, vecs = scipy.sparse.linalg.eigsh(h, k=2, which="SA")
    assert energies[1] - energies[0] > 1e-6  # a unique ground state
    psi, bits = vecs[:, 0], basis.bits()
    net = build_network(model, {**SMALL_NET, "n_qubits": model.n_qubits, "phase": "slater"})
    net = net.clone(init_scale=0.0)
    # jitted: op by op, init and apply compiled ~100 small kernels each
    params = jax.jit(net.init)(jax.random.PRNGKey(0), jnp.asarray(bits))["params"]
    theta = np.asarray(jax.jit(partial(net.apply, method=net._phase))({"params": params}, jnp.asarray(bits)))
    relative = np.exp(1j * theta) * np.sign(psi)
    weight = np.abs(psi) > 1e-8
    np.testing.assert_allclose(relative[weight], relative[weight][0], atol=1e-10)
    assert abs(abs(relative[weight][0]) - 1) < 1e-12


@pytest.mark.parametrize("U", [1.0, 4.0, 8.0])
def test_hartree_fock_of_the_hubbard_dimer_is_the_closed_form(U):
    """Two sites, one particle per spin: orbitals cos(a)|1> + sin(a)|2> (up) and sin(a)|1> + cos(a)|2>
    (down) have the mean-field energy -2 t x + U x^2 / 2 with x = sin 2a, so the Hartree-Fock energy
    is -2 t^2 / U for U >= 2t (a broken-symmetry solution) and -2t + U/2 below (the restricted one)."""
    orbitals, energy, converged = hartree_fock(Hubbard(Chain(2), U=U).problem)
    assert converged
    assert energy == pytest.approx(-2 / U if U >= 2 else -2 + U / 2, abs=1e-9)
    np.testing.assert_allclose(orbitals.conj().T @ orbitals, np.eye(2), atol=1e-12)


@pytest.mark.parametrize(
    "model",
    [Hubbard(Square(2, 2, pbc=False), U=4.0), Hubbard(Chain(6), U=3.0, mu=0.5, n_up=2, n_down=2)],
    ids=["open_2x2", "chain6_2_2_mu"],
)
def test_hartree_fock_energy_is_the_determinants_energy_and_a_minimum(model):
    """Independent reference: the determinant built in the full Fock space from OpenFermion's
    sparse creation operators, its energy with the sparse Hamiltonian; the SCF solution is a
    minimum (random small rotations of the orbitals into the empty ones raise the energy)."""
    from openfermion import FermionOperator, get_sparse_operator, jordan_wigner_sparse

    n = model.n_qubits
    hamiltonian = get_sparse_operator(model.qubit_hamiltonian, n_qubits=n)
    creation = [jordan_wigner_sparse(FermionOperator(((q, 1),)), n_qubits=n) for q in range(n)]

    def direct_energy(orbitals):
        state = np.zeros(2**n, dtype=complex)
        state[0] = 1.0
        for column in orbitals.T:
            state = sum(c * (op @ state) for c, op in zip(column, creation))
        return np.vdot(state, hamiltonian @ state).real / np.vdot(state, state).real

    assert uses_hartree_fock(model.problem)
    orbitals, energy, converged = hartree_fock(model.problem)
    assert converged
    assert direct_energy(orbitals) == pytest.approx(energy, abs=1e-10)
    rng = np.random.default_rng(0)
    for _ in range(5):
        generator = 0.05 * (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n)))
        rotation = scipy.linalg.expm(generator - generator.conj().T)
        assert direct_energy(rotation @ orbitals) > energy + 1e-8


def test_hartree_fock_sign_of_the_open_2x4_hubbard_ground_state():
    """sign_rule="hartree_fock" on the exact ground-state modulus (exact diagonalisation): measured
    relative error 3.3e-3 against 0.135 with the one-body orbitals' determinant; the orbitals are
    constants and the transformer's phase head starts at zero."""
    model = Hubbard(Square(4, 2, pbc=False), U=4.0)
    assert learned_phase(model.problem, "hartree_fock") == "hartree_fock"
    h, basis = sector_hamiltonian(model)
    energies, vecs = scipy.sparse.linalg.eigsh(h, k=1, which="SA")
    bits = basis.bits()
    net = build_network(model, {**SMALL_NET, "n_qubits": model.n_qubits, "phase": "hartree_fock"})
    # jitted: op by op, init and apply compiled ~100 small kernels each
    params = jax.jit(net.init)(jax.random.PRNGKey(0), jnp.asarray(bits[:2]))["params"]
    assert set(params) == {"amplitude"}
    theta = np.asarray(jax.jit(net.apply)({"params": params}, jnp.asarray(bits)).imag)
    psi = np.abs(vecs[:, 0]) * np.exp(1j * theta)
    energy = np.vdot(psi, h @ psi).real / np.vdot(psi, psi).real
    assert energies[0] < energy < energies[0] + 1e-2 * abs(energies[0])
    one_body = one_body_orbitals(model.problem)
    signs = np.linalg.det(one_body[np.array([np.flatnonzero(b) for b in bits])]).real
    psi = np.abs(vecs[:, 0]) * np.sign(signs)
    assert np.vdot(psi, h @ psi).real > energies[0] + 0.1 * abs(energies[0])


def test_hartree_fock_needs_two_balanced_species_with_interactions():
    for model in (Hubbard(Chain(4), U=4.0, n_up=2, n_down=1), Hubbard(Chain(4), U=0.0), SYK(8)):
        assert not uses_hartree_fock(model.problem)
        with pytest.raises(ValueError, match="sign_rule='hartree_fock' needs two fixed particle numbers"):
            learned_phase(model.problem, "hartree_fock")
    assert learned_phase(Hubbard(Square(2, 2)).problem, "auto") == "slater"  # not taken by "auto"


@pytest.mark.parametrize("phase, n_down", [("jastrow", 1), ("local", 1), ("slater", 1), ("hartree_fock", 2)])
def test_learned_phases_keep_the_distribution_and_the_fast_local_energies(phase, n_down, helpers):
    """|psi|^2 is the transformer's normalised distribution, and the prefix-reusing local energies
    (PauliSum) equal NetKet's full-pass kernel for the wrapped network (random parameters)."""
    model = Hubbard(Square(2, 2, pbc=False), U=4.0, n_up=2, n_down=n_down)
    vs = helpers["perturb"](
        make_vstate(model, {**SMALL_NET, "n_qubits": model.n_qubits, "phase": phase}, 64, 0), 3
    )
    bits = helpers["all_bits"](model.n_qubits)
    bits = bits[helpers["satisfied"](model, bits)]
    log_psi = np.asarray(vs.log_value(jnp.asarray(bits)))
    amplitude = vs.model.amplitude.apply({"params": vs.parameters["amplitude"]}, jnp.asarray(bits))
    assert np.sum(np.exp(2 * log_psi.real)) == pytest.approx(1.0, abs=1e-10)
    np.testing.assert_allclose(log_psi.real, np.asarray(amplitude).real, atol=1e-12)
    fast = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    plain = nk.operator.PauliStrings(fast.hilbert, fast.operators, fast.weights)
    reference = np.asarray(vs.local_estimators(plain).data)
    np.testing.assert_allclose(
        np.asarray(vs.local_estimators(fast).data), reference, atol=1e-10 * np.abs(reference).max()
    )
    # mb.solve's operator: local energies in LOCAL_DTYPE (float32), the wrapper's phase included
    fast = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, local_dtype=LOCAL_DTYPE)
    np.testing.assert_allclose(
        np.asarray(vs.local_estimators(fast).data), reference, atol=1e-5 * np.abs(reference).max()
    )


def test_local_phase_tables_cover_the_hamiltonian_neighbourhoods_and_refuse_wide_ones():
    """The local phase of qubit q reads q and every qubit sharing a Hamiltonian term with it: on the
    J1-J2 torus the 4 nearest and 4 next-nearest neighbours (site i = x + 4 y)."""
    from manybody.vmc.phase import LocalPhaseAR, neighbourhoods

    model = Heisenberg(Square(4, 4, pbc=True), J2=0.5)
    assert neighbourhoods(model.problem.hamiltonian, 16)[0] == [1, 3, 4, 5, 7, 12, 13, 15]
    linear = model.problem.sign_structure("marshall").linear
    table0 = np.asarray(LocalPhaseAR.layout(model.problem.hamiltonian, 16, linear)["table0"])
    assert table0.shape == (16, 2**9)  # T_q[code] = c_q b_q, b_q the code's bit 0
    np.testing.assert_array_equal(table0[:, 1::2], np.repeat(np.asarray(linear, float)[:, None], 256, axis=1))
    assert not table0[:, ::2].any()
    with pytest.raises(ValueError, match="LOCAL_MAX_NEIGHBOURS"):  # the JW string of the boundary hop
        learned_phase(Hubbard(Chain(6, pbc=True)).problem, "local")
    with pytest.raises(ValueError, match="starts from a linear sign structure"):
        learned_phase(Hubbard(Chain(3), n_up=2, n_down=1).problem, "local")


def test_slater_needs_fixed_particle_numbers_and_auto_uses_it_only_without_an_exact_recommended_rule():
    with pytest.raises(ValueError, match="sign_rule='slater' needs fixed particle numbers"):
        learned_phase(SYK(8).problem, "slater")
    with pytest.raises(ValueError, match="sign_rule='slater' needs fixed particle numbers"):
        mb.solve(SYK(8), backend="vmc", sign_rule="slater")
    assert learned_phase(SYK(8).problem, "auto") is None
    assert learned_phase(Hubbard(Square(2, 2)).problem, "auto") == "slater"
    assert learned_phase(Hubbard(Chain(4)).problem, "auto") is None  # hubbard_chain is exact here
    assert learned_phase(Hubbard(Chain(6, pbc=True), n_up=3, n_down=3).problem, "auto") is None  # odd: exact
    assert learned_phase(Hubbard(Chain(8, pbc=True)).problem, "auto") == "slater"  # even: approximate
    assert learned_phase(Heisenberg(Chain(6)).problem, "auto") is None  # Marshall
    assert learned_phase(Heisenberg(Chain(8), J2=0.6).problem, "auto") is None  # one species: not measured


@pytest.mark.parametrize("model", [Heisenberg(Chain(6)), SYK(8, seed=1), Hubbard(Chain(3), n_up=2, n_down=1)])
def test_energy_scale_is_the_infinite_temperature_energy_spread_per_qubit(model):
    """Independent reference: ``Tr (H - Tr H / 2^n)^2 / 2^n`` from the dense matrix."""
    from openfermion import get_sparse_operator

    n = model.n_qubits
    dense = get_sparse_operator(model.qubit_hamiltonian, n_qubits=n).toarray()
    centred = dense - np.trace(dense) / 2**n * np.eye(2**n)
    spread = np.sqrt(np.trace(centred @ centred).real / 2**n / n)
    assert energy_scale(model.problem) == pytest.approx(spread, rel=1e-12)
    assert step_factor(model.problem) == pytest.approx(max(1.0, STEP_REFERENCE_SCALE / spread), rel=1e-12)


def test_det_phase_is_numpys_determinant_phase():
    from manybody.vmc.slater import det_phase

    rng = np.random.default_rng(0)
    matrices = rng.normal(size=(20, 5, 5)) + 1j * rng.normal(size=(20, 5, 5))
    matrices[0, 3] = 0.0  # singular: phase 0
    reference = np.linalg.det(matrices)
    reference = np.where(np.abs(reference) > 0, reference / np.maximum(np.abs(reference), 1e-300), 0)
    np.testing.assert_allclose(np.asarray(det_phase(jnp.asarray(matrices))), reference, atol=1e-12)


def test_weak_couplings_get_a_larger_step():
    """SYK's couplings are ~4x weaker than the Heisenberg chain's (whose scale the step is meant at)."""
    assert step_factor(SYK(8, seed=1).problem) > 4
    assert step_factor(Heisenberg(Chain(12)).problem) == 1.0
