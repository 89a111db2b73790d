"""The SR step of the vmc driver: minSR updates in Jacobian chunks, in NetKet's real mode, on the
distinct samples weighted by their counts, and in float32 (JACOBIAN_DTYPE), each against NetKet's own
float64 update on the same state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import optax
import pytest
from openfermion import QubitOperator

from manybody.lattice import Chain
from manybody.models import Heisenberg, Hubbard
from manybody.vmc import driver, make_vstate, operators, to_pauli_strings
from manybody.vmc.driver import jacobian_mode, sr_driver
from manybody.vmc.signs import sign_rule


def test_jacobian_chunks_give_the_same_sr_update(monkeypatch, helpers):
    """sr_driver's Jacobian chunks (jacobian_chunk_size) leave the minSR update unchanged."""
    model = Heisenberg(Chain(6))
    vs = helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 1})
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


@pytest.mark.parametrize("sector_known", [True, False])
def test_distinct_sample_update_equals_netkets_update_on_all_samples(sector_known, helpers):
    """On a small sector (Heisenberg L=6, S^z = 0: 20 configurations, 128 samples) the SR step on
    the distinct samples weighted by their counts gives NetKet's own minSR step on every sample
    (NetKet's operator and kernel, SPRING momentum on), energy statistics included, over steps:
    padded to the sector's dimension when it is known, else to a multiple of 128 / ROW_BUCKETS."""
    model = Heisenberg(Chain(6))
    vs = helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 1}, n_samples=128)
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
def test_learned_phase_wrappers_run_in_float32_within_its_precision(phase, n_down, helpers):
    """A float64 learned-phase wrapper (PhaseAR) in LOCAL_DTYPE / JACOBIAN_DTYPE: amplitude and learned
    phase run in float32 (no float64 left: the output would be promoted; the fixed Hartree-Fock
    orbitals stay float64 constants), and its Jacobian equals NetKet's Jacobian of the float64
    network to float32 precision (its local energies against NetKet's float64 kernel:
    tests/vmc/test_signs.py)."""
    model = Hubbard(Chain(4), U=4.0, n_up=2, n_down=n_down)
    vs = helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 1, "phase": phase}, n_samples=32)
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
    # output dtypes by tracing only (run op by op, the passes compiled ~100 small kernels each)
    amplitude = jax.eval_shape(net.amplitude.apply, {"params": variables["params"]["amplitude"]}, samples)
    assert amplitude.dtype == jnp.complex64
    assert jax.eval_shape(net.apply, variables, samples).dtype == (
        jnp.complex128 if phase == "hartree_fock" else jnp.complex64
    )
    assert jacobians["float32"].dtype == np.float32
    scale = np.abs(jacobians[None]).max()
    np.testing.assert_allclose(jacobians["float32"], jacobians[None], atol=2e-5 * scale)


def test_float32_jacobian_chunks_give_the_float64_sr_update(helpers):
    """The minSR update with the Jacobian and kernel in JACOBIAN_DTYPE, in chunks and in NetKet's
    complex mode (a network with a phase), equals the unchunked float64 update to float32
    precision. At d_model 32, NetKet's own centring of this chunked float32 Jacobian came out
    wrong on CPU (the Jacobian 98 % off, this update 12 %; at d_model 8 it was right)."""
    model = Heisenberg(Chain(8))
    vs = helpers["perturbed_vstate"](model, {"d_model": 32, "n_heads": 4, "n_layers": 2}, n_samples=128)
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


def test_dense_jacobian_budget_counts_precision_and_mode(monkeypatch, helpers):
    """sr_driver keeps the explicit Jacobian while samples x parameters x bytes per entry (twice in
    NetKet's complex mode) fit DENSE_JACOBIAN_BYTES: 4 bytes in JACOBIAN_DTYPE, 8 in float64."""
    model = Heisenberg(Chain(6))
    rule = sign_rule(model.problem, "auto").to_dict()
    states = {
        None: helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 1}),  # a learned phase
        "real": make_vstate(
            model, {"n_qubits": 6, "d_model": 8, "n_heads": 2, "n_layers": 1, "sign_rule": rule}, 64, 0
        ),
    }
    for mode, vs in states.items():
        hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, vs.hilbert)
        assert jacobian_mode(vs, hamiltonian) == mode and vs.n_parameters > vs.n_samples
        entries = vs.n_samples * vs.n_parameters * (1 if mode == "real" else 2)
        for dtype, itemsize in ((driver.JACOBIAN_DTYPE, 4), (None, 8)):
            for budget, on_the_fly in ((entries * itemsize, False), (entries * itemsize - 1, True)):
                monkeypatch.setattr(driver, "DENSE_JACOBIAN_BYTES", budget)
                sr = sr_driver(vs, hamiltonian, optax.sgd(0.01), 1e-3, jacobian_dtype=dtype)
                assert sr.on_the_fly == on_the_fly, (mode, dtype, budget)


@pytest.mark.parametrize("rows", [520, 640, 256])
def test_gram_from_lower_blocks_is_the_full_product(rows):
    """driver.gram (the minSR kernel from its lower-triangular blocks of GRAM_BLOCK rows on CPU; a
    plain product for other row counts) equals x x^T."""
    x = np.random.default_rng(rows).normal(size=(rows, 300))
    np.testing.assert_allclose(np.asarray(jax.jit(driver.gram)(jnp.asarray(x))), x @ x.T, atol=1e-11)


@pytest.mark.parametrize("complex_parameters", [False, True])
def test_minsr_update_is_netkets(complex_parameters):
    """driver._minsr_update (blocked kernel, update as a row-vector product) gives NetKet's
    ``_compute_srt_update``, SPRING momentum included, on 512 rows (4 kernel blocks)."""
    from netket._src.ngd.srt import _compute_srt_update

    rng = np.random.default_rng(1)
    o_l, dv = jnp.asarray(rng.normal(size=(512, 600))), jnp.asarray(rng.normal(size=512))
    old = jnp.asarray(rng.normal(size=600))
    structure = {"w": jax.ShapeDtypeStruct((300,), complex if complex_parameters else float)}
    solver = nk.optimizer.solver.cholesky
    ours = driver._minsr_update(o_l, dv, 1e-2, solver, 0.9, old, complex_parameters)
    ref = _compute_srt_update(
        o_l,
        dv,
        diag_shift=1e-2,
        solver_fn=solver,
        mode="complex",
        momentum=0.9,
        old_updates=old,
        params_structure=structure,
    )
    for a, b in zip(ours[:2], ref[:2]):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-10)
