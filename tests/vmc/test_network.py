"""The masked transformer: normalisation in every constrained sector, zero weight outside it,
exact samples inside it, and the KV-cached conditional equal to the full forward pass."""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from manybody.vmc import build_network

CONFIG = {"d_model": 8, "n_heads": 2, "n_layers": 2, "sign_rule": None}
NAMES = [
    "heisenberg_sz",
    "hubbard_numbers",
    "quantum_link_gauss",
    "z2_gauss",
    "syk_parity",
    "toy_overlapping",
]


PATCHES = [("heisenberg_sz", 4), ("hubbard_numbers", 2), ("syk_parity", 3), ("toy_overlapping_permuted", 7)]
"""Models with tokens of several qubits (``patch``): two tokens of 4 spins; a token per Hubbard
site; the parity constraint of SYK on tokens of 3; overlapping constraints, a permuted order and
the whole configuration as one token."""


@pytest.mark.parametrize(
    "name, dtype, tol, patch",
    [(n, "float64", 1e-10, 1) for n in NAMES]
    + [("z2_gauss", "float32", 1e-5, 1)]
    + [(n, "float64", 1e-10, p) for n, p in PATCHES],
)
def test_normalised_in_sector_and_zero_outside(name, dtype, tol, patch, make_model, helpers):
    model = make_model(name)
    vs = helpers["perturbed_vstate"](model, {**CONFIG, "dtype": dtype, "patch": patch}, n_samples=16)
    bits = helpers["all_bits"](model.n_qubits)
    prob = np.exp(2 * np.real(np.asarray(vs.log_value(jnp.asarray(bits)))).astype(float))
    inside = helpers["satisfied"](model, bits)
    assert abs(prob.sum() - 1.0) < tol
    assert prob[~inside].max(initial=0.0) == 0.0
    assert prob[inside].min() > 0.0
    samples = np.asarray(vs.sample()).reshape(-1, model.n_qubits)
    assert helpers["satisfied"](model, samples).all()


@pytest.mark.parametrize("name, patch", [("heisenberg_sz", 1), ("toy_overlapping_permuted", 1), *PATCHES])
def test_cached_conditional_equals_full_forward_pass(name, patch, make_model, helpers):
    """The sampler's KV-cached conditionals equal the full pass's, and their product at the
    configuration is |psi|^2 (so direct sampling draws |psi|^2)."""
    model = make_model(name)
    vs = helpers["perturbed_vstate"](model, {**CONFIG, "patch": patch}, n_samples=16, seed=3)
    net = vs.model
    x = jnp.asarray(vs.samples.reshape(-1, model.n_qubits))
    variables = {"params": vs.parameters}
    # passes jitted: op by op, the full pass and the init compiled ~200 small kernels (7 s)
    full = np.asarray(jax.jit(partial(net.apply, method=net.conditionals))(variables, x))
    cache = jax.jit(lambda x: net.init(jax.random.PRNGKey(0), x, 0, method=net.conditional))(x)["cache"]
    step = jax.jit(
        lambda cache, q: net.apply(
            {**variables, "cache": cache}, x, q, method=net.conditional, mutable=["cache"]
        )
    )
    for q in np.asarray(model.qubit_order):
        p, mutated = step(cache, jnp.int32(q))
        cache = mutated["cache"]
        np.testing.assert_allclose(np.asarray(p), full[:, q], atol=1e-12)
    chosen = np.take_along_axis(full, np.asarray(x, dtype=int)[..., None], axis=-1)[..., 0]
    psi2 = np.exp(2 * np.real(np.asarray(vs.log_value(x))))
    np.testing.assert_allclose(np.prod(chosen, axis=1), psi2, rtol=1e-10)


@pytest.mark.parametrize("patch, phase", [(1, None), (2, None), (4, "jastrow")])
def test_sampling_frequencies_follow_psi_squared(patch, phase, make_model, helpers):
    """Direct samples reproduce |psi|^2 (chi-square against the enumerated distribution), drawn
    a qubit or a token at a time, also through a learned-phase wrapper."""
    from scipy.stats import chisquare

    model = make_model("hubbard_numbers")
    config = {**CONFIG, "patch": patch, "phase": phase}
    vs = helpers["perturbed_vstate"](model, config, n_samples=4000, seed=5)
    bits = helpers["all_bits"](model.n_qubits)[helpers["satisfied"](model, helpers["all_bits"](8))]
    prob = np.exp(2 * np.real(np.asarray(vs.log_value(jnp.asarray(bits)))))
    samples = np.asarray(vs.samples).reshape(-1, model.n_qubits).astype(int)
    index = {tuple(b): k for k, b in enumerate(bits)}
    counts = np.bincount([index[tuple(s)] for s in samples], minlength=len(bits))
    assert chisquare(counts, prob / prob.sum() * counts.sum()).pvalue > 1e-3


@pytest.mark.parametrize(
    "name, patch, use_cache",
    [("toy_overlapping_permuted", 1, True), ("syk_parity", 3, True), ("syk_parity", 3, False)],
)
def test_token_sampler_log_probabilities(name, patch, use_cache, make_model, helpers):
    """TokenSampler's log-probabilities are log |psi|^2 of its samples (with the key/value cache
    and with a full pass per token); with a token per qubit it draws, for the same key, exactly
    the samples of NetKet's qubit-wise ARDirectSampler."""
    import netket as nk

    from manybody.vmc import TokenSampler

    model = make_model(name)
    config = {**CONFIG, "patch": patch, "use_cache": use_cache}
    vs = helpers["perturbed_vstate"](model, config, n_samples=32, seed=2)
    assert isinstance(vs.sampler, TokenSampler)
    variables = {"params": vs.parameters}
    state = vs.sampler.init_state(vs.model, variables, seed=7)
    (samples, log_prob), _ = vs.sampler.sample(
        vs.model, variables, state=state, chain_length=32, return_log_probabilities=True
    )
    samples = samples.reshape(-1, model.n_qubits)
    np.testing.assert_allclose(
        np.asarray(log_prob).ravel(), 2 * np.real(np.asarray(vs.log_value(samples))), atol=1e-10
    )
    assert helpers["satisfied"](model, np.asarray(samples)).all()
    if patch == 1:
        netket = nk.sampler.ARDirectSampler(vs.sampler.hilbert)
        reference, _ = netket.sample(
            vs.model, variables, state=netket.init_state(vs.model, variables, seed=7), chain_length=32
        )
        np.testing.assert_array_equal(np.asarray(reference).reshape(-1, model.n_qubits), np.asarray(samples))


def test_network_without_constraints_has_no_automaton(helpers):
    model = helpers["ToyModel"](4, [])
    net = build_network(model, CONFIG)
    assert net.transitions is None


@pytest.mark.parametrize("name, patch", [("heisenberg_sz", 1), ("toy_overlapping_permuted", 1), *PATCHES])
def test_log_psi_flipped_equals_full_passes(name, patch, make_model, helpers):
    """Copies evaluated from their first flipped position (prefix keys/values reused) against full
    forward passes, for groups that start anywhere, including a last-position-only flip (no pass)."""
    model = make_model(name)
    n = model.n_qubits
    vs = helpers["perturbed_vstate"](model, {**CONFIG, "patch": patch}, n_samples=16, seed=4)
    net, x = vs.model, np.asarray(vs.samples).reshape(-1, n)
    rng = np.random.default_rng(0)
    groups = []
    for start in (1, 3, n - 2, n):
        masks = rng.integers(0, 2, (3, n))
        masks[:, : start - 1] = 0
        masks[:, start - 1] = 1
        groups.append((start, masks))
    # jitted: op by op, this pass compiled ~200 small kernels (7 s)
    log_psi, flipped = jax.jit(lambda v, x: net.apply(v, x, groups, method=net.log_psi_flipped))(
        vs.variables, jnp.asarray(x)
    )
    np.testing.assert_allclose(np.asarray(log_psi), np.asarray(vs.log_value(jnp.asarray(x))), atol=1e-10)
    inverse = np.argsort(np.asarray(model.qubit_order))
    masks = np.concatenate([m for _, m in groups])[:, inverse]  # sampling order -> qubit layout
    copies = (x[:, None, :] ^ masks[None]).reshape(-1, n)
    expected = np.asarray(vs.log_value(jnp.asarray(copies))).reshape(len(x), -1)
    # masked copies have log psi = MASKED_LOGP / 2 in both; compare amplitudes where they live
    alive = expected.real > -1e3
    np.testing.assert_allclose(np.asarray(flipped)[alive], expected[alive], atol=1e-10)
    assert (np.asarray(flipped).real[~alive] < -1e3).all()
