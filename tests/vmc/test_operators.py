"""Qubit operators on NetKet: the bit convention of PauliStrings against the exact backend, the
batched local estimators against the enumerated expectation value of the same network state, the
prefix-reusing local energies against NetKet's full-pass kernel, and the real Jacobian mode."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest
from openfermion import QubitOperator

from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain
from manybody.models import Heisenberg, Hubbard
from manybody.vmc import driver, local_values, make_vstate, operators, to_pauli_strings
from manybody.vmc.driver import jacobian_mode, sr_driver
from manybody.vmc.signs import sign_rule


@pytest.mark.parametrize(
    "model", [Heisenberg(Chain(5), h=0.7, Delta=1.3), Hubbard(Chain(3), U=2.0, mu=0.3, n_up=2, n_down=1)]
)
def test_pauli_strings_match_the_exact_sector_hamiltonian(model):
    dense = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits).to_dense()
    h_sector, basis = sector_hamiltonian(model)
    # NetKet's Qubit basis lists configurations with qubit 0 as the most significant digit
    bits = basis.bits()
    netket_index = bits @ (1 << np.arange(model.n_qubits)[::-1])
    np.testing.assert_allclose(dense[np.ix_(netket_index, netket_index)], h_sector.toarray(), atol=1e-12)


def test_local_values_average_to_the_enumerated_expectation(make_model, helpers):
    model = make_model("hubbard_numbers")
    vs = make_vstate(model, {"n_qubits": 8, "d_model": 8, "n_heads": 2, "n_layers": 1}, 64, 0)
    leaves, tree = jax.tree_util.tree_flatten(vs.parameters)
    keys = jax.random.split(jax.random.PRNGKey(7), len(leaves))
    vs.parameters = jax.tree_util.tree_unflatten(
        tree, [x + 0.5 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys)]
    )
    operators = [
        QubitOperator("Z0", 1.0),
        QubitOperator("X0 X2", 0.5) + QubitOperator("Y0 Y2", 0.5),  # hopping with a JW string on 1
        QubitOperator("X1 Z2 X3", 1.0) + QubitOperator("Y1 Z2 Y3", 1.0),
        QubitOperator("X4", 1.0),  # leaves the sector: expectation 0
        model.qubit_hamiltonian,
    ]
    bits = helpers["all_bits"](model.n_qubits)
    bits = bits[helpers["satisfied"](model, bits)]
    psi = np.exp(np.asarray(vs.log_value(jnp.asarray(bits))))
    weights = np.abs(psi) ** 2
    values = local_values(vs, bits, operators)
    full_bits = helpers["all_bits"](model.n_qubits)
    psi_full = np.exp(np.asarray(vs.log_value(jnp.asarray(full_bits))))
    netket_order = np.argsort(full_bits @ (1 << np.arange(model.n_qubits)[::-1]))
    psi_nk = psi_full[netket_order]
    for op, row in zip(operators, values):
        exact = np.vdot(psi_nk, to_pauli_strings(op, model.n_qubits).to_dense() @ psi_nk).real
        assert np.sum(weights * row).real == pytest.approx(exact, abs=1e-10)
    assert weights.sum() == pytest.approx(1.0, abs=1e-10)
    # diagonal operators only (no flip mask, no network evaluation): the closed form (-1)^(b0 + b1)
    diagonal = local_values(vs, bits, [QubitOperator("Z0 Z1", 1.0)])
    np.testing.assert_allclose(diagonal[0], (1 - 2 * bits[:, 0]) * (1 - 2 * bits[:, 1]), atol=1e-14)


def _perturbed_vstate(model, config, seed=0, scale=0.5, n_samples=64):
    """An MCState of ``model`` with every parameter perturbed (conditionals far from uniform)."""
    vs = make_vstate(model, {"n_qubits": model.n_qubits, "n_heads": 2, **config}, n_samples, seed)
    leaves, tree = jax.tree_util.tree_flatten(vs.parameters)
    keys = jax.random.split(jax.random.PRNGKey(seed + 11), len(leaves))
    vs.parameters = jax.tree_util.tree_unflatten(
        tree, [x + scale * jax.random.normal(k, x.shape, x.dtype) for x, k in zip(leaves, keys)]
    )
    return vs


@pytest.mark.parametrize(
    "name, dtype, local_dtype, tol, phase",
    [
        ("heisenberg_sz", "float64", None, 1e-10, None),
        ("toy_overlapping_permuted", "float64", None, 1e-10, None),
        ("syk_parity", "float64", None, 1e-10, None),
        ("unconstrained_permuted", "float64", None, 1e-10, None),
        ("heisenberg_sz", "float32", None, 2e-4, None),
        # float64 parameters, float32 local-energy passes (operators.LOCAL_DTYPE, what mb.solve uses)
        ("heisenberg_sz", "float64", "float32", 2e-5, None),
        # a learned phase wrapping the transformer (PhaseAR)
        ("heisenberg_sz", "float64", None, 1e-10, "jastrow"),
    ],
)
def test_prefix_local_energies_equal_netkets_full_passes(
    name, dtype, local_dtype, tol, phase, make_model, helpers
):
    """PauliSum's kernel (copies evaluated from their first flipped position) against NetKet's
    PauliStrings kernel (every connected configuration through the whole network, float64 unless
    the network is float32)."""
    model = helpers["ToyModel"](6, [], order=[3, 0, 5, 1, 4, 2]) if name == "unconstrained_permuted" else None
    model = model or make_model(name)
    vs = _perturbed_vstate(model, {"d_model": 8, "n_layers": 2, "dtype": dtype, "phase": phase})
    fast = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, local_dtype=local_dtype)
    assert fast.plan.dtype == local_dtype
    plain = nk.operator.PauliStrings(fast.hilbert, fast.operators, fast.weights)
    assert type(plain) is not type(fast)
    reference = np.asarray(vs.local_estimators(plain).data)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(np.asarray(vs.local_estimators(fast).data), reference, atol=tol * scale)
    vs.chunk_size = 24  # 64 samples: two chunks and a remainder
    np.testing.assert_allclose(np.asarray(vs.local_estimators(fast).data), reference, atol=tol * scale)
    # the training's kernel: distinct samples padded with copies, non-zero matrix elements only
    samples = np.asarray(vs.samples).reshape(-1, model.n_qubits)
    rows, counts, inverse = driver.distinct_rows(samples, len(samples))
    n_valid = int(np.count_nonzero(counts))
    pairs = operators.pair_local_values(vs.model, fast.plan, vs.variables, rows, n_valid)
    np.testing.assert_allclose(pairs[inverse], reference.reshape(-1), atol=tol * scale)
    assert np.all(pairs[n_valid:] == 0)


def test_default_chunks_fit_the_budget_and_change_no_local_energy(make_model, monkeypatch):
    """The cache-sized chunks chosen without a chunk_size give the one-pass local energies."""
    model = make_model("heisenberg_sz")
    vs = _perturbed_vstate(model, {"d_model": 8, "n_layers": 2})
    plan = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits).plan
    samples = jnp.asarray(vs.samples).reshape(-1, model.n_qubits)
    reference = np.asarray(operators._local_values(vs.model, plan, vs.variables, samples))
    monkeypatch.setattr(operators, "CACHE_FLOATS", 2**14)
    chunk = operators.default_chunk_size(vs.model, plan, len(samples))
    groups, _ = plan.groups(np.asarray(vs.model.order))
    positions = model.n_qubits + sum(len(m) * (model.n_qubits - start) for start, m in groups)
    assert 1 <= chunk < len(samples) and chunk * positions * 4 * 8 <= 2**14
    chunked = jax.jit(lambda v, x: operators._chunked_local_values(vs.model, plan, v, x))(
        vs.variables, samples
    )
    np.testing.assert_allclose(np.asarray(chunked), reference, atol=1e-12 * np.abs(reference).max())


def test_jacobian_chunks_give_the_same_sr_update(monkeypatch):
    """sr_driver's Jacobian chunks (jacobian_chunk_size) leave the minSR update unchanged."""
    model = Heisenberg(Chain(6))
    vs = _perturbed_vstate(model, {"d_model": 8, "n_layers": 1})
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    monkeypatch.setattr(driver, "CACHE_FLOATS", 6 * 16 * 8 * 20)  # 20 samples fit: 16 divide 64
    chunked = sr_driver(vs, hamiltonian, optax.sgd(0.01), 1e-3)
    assert chunked.chunk_size_bwd == 16
    whole = nk.driver.VMC_SR(
        hamiltonian, optax.sgd(0.01), diag_shift=1e-3, variational_state=vs, use_ntk=True
    )
    updates = [d.compute_loss_and_update()[1] for d in (chunked, whole)]
    for a, b in zip(*map(jax.tree_util.tree_leaves, updates)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-10)


def test_flip_groups_partition_the_masks_by_first_flipped_position():
    model = Heisenberg(Chain(9))
    plan = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits).plan
    order = np.array([4, 0, 8, 2, 6, 1, 7, 3, 5])
    groups, position = plan.groups(order, max_groups=3)
    assert len(groups) <= 3
    stacked = np.concatenate([masks for _, masks in groups])
    np.testing.assert_array_equal(stacked[position], plan.masks[:, order])
    for start, masks in groups:
        assert 1 <= start <= model.n_qubits
        assert (masks.argmax(axis=1) >= start - 1).all() and masks.any(axis=1).all()


def test_real_jacobian_mode_gives_the_complex_mode_update():
    """Under an exact sign rule (zero phase head) and a real Hamiltonian, the real-mode SR update
    equals NetKet's complex-mode one and leaves the phase head at zero."""
    model = Heisenberg(Chain(6))
    rule = sign_rule(model.problem, "auto")
    assert rule is not None and rule.exact
    vs = make_vstate(
        model, {"n_qubits": 6, "d_model": 8, "n_heads": 2, "n_layers": 1, "sign_rule": rule.to_dict()}, 64, 0
    )
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    assert jacobian_mode(vs, hamiltonian) == "real"
    assert jacobian_mode(vs, to_pauli_strings(QubitOperator("X0 Y1", 1.0), 6)) is None
    updates = {}
    for mode in ("real", "complex"):
        driver = nk.driver.VMC_SR(
            hamiltonian, optax.sgd(0.01), diag_shift=1e-3, variational_state=vs, use_ntk=True, mode=mode
        )
        updates[mode] = driver.compute_loss_and_update()[1]
    for a, b in zip(
        jax.tree_util.tree_leaves(updates["real"]), jax.tree_util.tree_leaves(updates["complex"])
    ):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-10)
    assert all(not np.asarray(x).any() for x in jax.tree_util.tree_leaves(updates["real"]["phase_head"]))


@pytest.mark.parametrize(
    "target, n, strict, chunk",
    [
        (99, 512, False, 64),
        (3, 512, False, 2),
        (5000, 512, False, 512),
        (100, 997, False, 100),
        (100, 997, True, 1),
    ],
)
def test_equal_chunks_prefer_a_divisor(target, n, strict, chunk):
    assert operators.equal_chunks(target, n, strict) == chunk


@pytest.mark.parametrize("sector_known", [True, False])
def test_distinct_sample_update_equals_netkets_update_on_all_samples(sector_known):
    """On a small sector (Heisenberg L=6, S^z = 0: 20 configurations, 128 samples) the SR step on
    the distinct samples weighted by their counts gives NetKet's own minSR step on every sample
    (NetKet's operator and kernel, SPRING momentum on), energy statistics included, over steps:
    padded to the sector's dimension when it is known, else to a multiple of 128 / ROW_BUCKETS."""
    model = Heisenberg(Chain(6))
    vs = _perturbed_vstate(model, {"d_model": 8, "n_layers": 1}, n_samples=128)
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    sector = model.problem.sector_dimension()
    assert sector == 20
    fast = sr_driver(
        vs,
        hamiltonian,
        optax.sgd(0.01),
        1e-3,
        momentum=0.5,
        sector_dimension=sector if sector_known else None,
    )
    assert fast.distinct == (sector if sector_known else None)
    assert fast._bucket == (None if sector_known else 128 // driver.ROW_BUCKETS)
    plain = nk.operator.PauliStrings(hamiltonian.hilbert, hamiltonian.operators, hamiltonian.weights)
    reference = nk.driver.VMC_SR(
        plain,
        optax.sgd(0.01),
        diag_shift=1e-3,
        momentum=0.5,
        variational_state=vs,
        use_ntk=True,
        on_the_fly=False,
    )
    for _ in range(2):
        vs.reset()
        assert len(np.unique(np.asarray(vs.samples).reshape(-1, 6), axis=0)) < 128
        (stats, dp), (stats_ref, dp_ref) = fast.compute_loss_and_update(), reference.compute_loss_and_update()
        for key in ("mean", "variance", "error_of_mean"):
            assert complex(getattr(stats, key)) == pytest.approx(complex(getattr(stats_ref, key)), rel=1e-10)
        for a, b in zip(*map(jax.tree_util.tree_leaves, (dp, dp_ref))):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-10)
        np.testing.assert_allclose(fast._old_updates, reference._old_updates, atol=1e-10)
        fast.update_parameters(dp)


@pytest.mark.parametrize("phase, n_down", [("jastrow", 1), ("slater", 1), ("hartree_fock", 2)])
def test_learned_phase_wrappers_run_in_float32_within_its_precision(phase, n_down):
    """A float64 learned-phase wrapper (PhaseAR) in LOCAL_DTYPE / JACOBIAN_DTYPE: amplitude and learned
    phase run in float32 (no float64 left: the output would be promoted; the fixed Hartree-Fock
    orbitals stay float64 constants), and its Jacobian equals NetKet's Jacobian of the float64
    network to float32 precision (its local energies against NetKet's float64 kernel:
    tests/vmc/test_signs.py)."""
    model = Hubbard(Chain(4), U=4.0, n_up=2, n_down=n_down)
    vs = _perturbed_vstate(model, {"d_model": 8, "n_layers": 1, "phase": phase}, n_samples=32)
    samples = jnp.asarray(vs.samples).reshape(-1, model.n_qubits)
    jacobians = {}
    for dtype in (None, driver.JACOBIAN_DTYPE):
        net, variables = operators._local_precision(vs.model, vs.variables, dtype)
        jacobians[dtype] = np.asarray(
            nk.jax.jacobian(net.apply, variables["params"], samples, mode="complex", dense=True, center=True)
        )
    assert operators.LOCAL_DTYPE == driver.JACOBIAN_DTYPE == "float32"
    assert net.amplitude.param_dtype == jnp.float32
    assert {x.dtype for x in jax.tree_util.tree_leaves(variables)} == {jnp.dtype(jnp.float32)}
    amplitude = net.amplitude.apply({"params": variables["params"]["amplitude"]}, samples)
    assert amplitude.dtype == jnp.complex64
    assert net.apply(variables, samples).dtype == (
        jnp.complex128 if phase == "hartree_fock" else jnp.complex64
    )
    assert jacobians["float32"].dtype == np.float32
    scale = np.abs(jacobians[None]).max()
    np.testing.assert_allclose(jacobians["float32"], jacobians[None], atol=2e-5 * scale)


def test_float32_jacobian_chunks_give_the_float64_sr_update():
    """The minSR update with the Jacobian and kernel in JACOBIAN_DTYPE, in chunks and in NetKet's
    complex mode (a network with a phase), equals the unchunked float64 update to float32
    precision. At d_model 32, NetKet's own centring of this chunked float32 Jacobian came out
    wrong on CPU (the Jacobian 98 % off, this update 12 %; at d_model 8 it was right)."""
    model = Heisenberg(Chain(8))
    vs = _perturbed_vstate(model, {"d_model": 32, "n_heads": 4, "n_layers": 2}, n_samples=128)
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, vs.hilbert)
    assert jacobian_mode(vs, hamiltonian) is None  # a learned phase: NetKet's complex mode
    rows, mass, local, _ = driver.weighted_local_energies(vs, hamiltonian.plan, None)
    updates = [
        jax.flatten_util.ravel_pytree(
            driver._weighted_minsr(
                vs.model,
                dtype,
                jnp.asarray(local),
                vs.parameters,
                vs.model_state,
                jnp.asarray(rows),
                jnp.asarray(mass),
                diag_shift=1e-2,
                solver_fn=nk.optimizer.solver.cholesky,
                mode="complex",
                momentum=None,
                old_updates=None,
                chunk_size=chunk,
            )[0]
        )[0]
        for dtype, chunk in ((None, None), (driver.JACOBIAN_DTYPE, 16))
    ]
    assert np.linalg.norm(updates[1] - updates[0]) < 1e-3 * np.linalg.norm(updates[0])
