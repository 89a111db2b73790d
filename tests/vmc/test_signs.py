"""Sign rules: the structure ``auto`` picks from the model's declaration makes the exact ground
state positive where it is exact (exact diagonalisation in the constrained sector), and the network
carries the rule exactly."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg, Hubbard
from manybody.vmc import build_network
from manybody.vmc.signs import sign_rule


def _ground_state(model):
    """Exact ground state in the constrained sector and its configurations (N_sector, n_qubits)."""
    import scipy.sparse.linalg

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


def test_auto_rule_on_a_periodic_hubbard_chain_with_even_filling_is_marked_approximate():
    model = Hubbard(Chain(4, pbc=True), U=4.0)  # even n_up: the boundary hopping is not stoquastic
    rule = sign_rule(model.problem, "auto")
    assert rule.name == "hubbard_chain" and not rule.exact
    psi, bits = _ground_state(model)
    signed = rule.sign(bits) * psi
    assert signed.min() < -1e-3 < 1e-3 < signed.max()  # really not the exact sign structure


def test_explicit_rule_that_the_model_does_not_declare_raises():
    with pytest.raises(
        ValueError, match=r"declares no such sign structure; allowed: \('auto', 'none', 'jastrow'\)"
    ):
        sign_rule(Hubbard(Square(2, 2)).problem, "hubbard_chain")
    with pytest.raises(ValueError, match="allowed: \\('auto', 'none', 'jastrow', 'hubbard_chain'\\)"):
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
    params = net.init(jax.random.PRNGKey(0), jnp.asarray(bits))["params"]
    params = jax.tree_util.tree_map_with_path(
        lambda path, x: jnp.zeros_like(x) if "phase_head" in jax.tree_util.keystr(path) else x, params
    )
    inside = helpers["satisfied"](model, bits)
    log_psi = np.asarray(net.apply({"params": params}, jnp.asarray(bits[inside])))
    np.testing.assert_allclose(np.exp(1j * log_psi.imag), rule.sign(bits[inside]), atol=1e-12)


@pytest.mark.parametrize("model", [Heisenberg(Square(2, 3), J2=0.5), Hubbard(Chain(3), n_up=2, n_down=1)])
def test_learned_phase_starts_at_the_declared_structure_and_keeps_the_distribution(model, helpers):
    """sign_rule="jastrow": |psi|^2 is the transformer's normalised distribution (exact sampling),
    and without the random part the phase factor is the declared structure's sign."""
    rule = sign_rule(model.problem, "jastrow")
    assert rule is not None and rule.name in {"marshall", "hubbard_chain"}
    config = {"d_model": 8, "n_heads": 2, "n_layers": 1, "n_qubits": model.n_qubits}
    net = build_network(model, {**config, "sign_rule": rule.to_dict(), "phase": "jastrow"})
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
