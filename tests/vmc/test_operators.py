"""Qubit operators on NetKet: the bit convention of PauliStrings against the exact backend, the
batched local estimators against the enumerated expectation value of the same network state, and
the prefix-reusing local energies against NetKet's full-pass kernel (the SR step:
test_sr_update.py)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np
import pytest
from openfermion import QubitOperator

from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain
from manybody.models import Heisenberg, Hubbard
from manybody.vmc import driver, local_values, operators, to_pauli_strings


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
    vs = helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 1})
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


@pytest.mark.parametrize(
    "name, dtype, local_dtype, tol, phase, chunk_size, patch",
    [
        ("heisenberg_sz", "float64", None, 1e-10, None, 24, 1),
        ("toy_overlapping_permuted", "float64", None, 1e-10, None, None, 1),
        ("syk_parity", "float64", None, 1e-10, None, None, 1),
        ("unconstrained_permuted", "float64", None, 1e-10, None, None, 1),
        ("heisenberg_sz", "float32", None, 2e-4, None, None, 1),
        # float64 parameters, float32 local-energy passes (operators.LOCAL_DTYPE, what mb.solve uses)
        ("heisenberg_sz", "float64", "float32", 2e-5, None, None, 1),
        # tokens of several qubits: flips inside a token reuse its conditional, not its class; with
        # a learned phase wrapping the transformer (PhaseAR; every phase on tokens of one qubit:
        # tests/vmc/test_signs.py)
        ("heisenberg_sz", "float64", None, 1e-10, None, None, 4),
        ("syk_parity", "float64", None, 1e-10, "jastrow", None, 3),
    ],
)
def test_prefix_local_energies_equal_netkets_full_passes(
    name, dtype, local_dtype, tol, phase, chunk_size, patch, make_model, helpers
):
    """PauliSum's kernel (copies evaluated from their first flipped position) against NetKet's
    PauliStrings kernel (every connected configuration through the whole network, float64 unless
    the network is float32)."""
    model = helpers["ToyModel"](6, [], order=[3, 0, 5, 1, 4, 2]) if name == "unconstrained_permuted" else None
    model = model or make_model(name)
    config = {"d_model": 8, "n_layers": 2, "dtype": dtype, "phase": phase, "patch": patch}
    vs = helpers["perturbed_vstate"](model, config)
    fast = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, local_dtype=local_dtype)
    assert fast.plan.dtype == local_dtype
    plain = nk.operator.PauliStrings(fast.hilbert, fast.operators, fast.weights)
    assert type(plain) is not type(fast)
    reference = np.asarray(vs.local_estimators(plain).data)
    scale = np.abs(reference).max()
    np.testing.assert_allclose(np.asarray(vs.local_estimators(fast).data), reference, atol=tol * scale)
    if chunk_size is not None:  # 64 samples in chunks of 24: two chunks and a remainder
        vs.chunk_size = chunk_size
        np.testing.assert_allclose(np.asarray(vs.local_estimators(fast).data), reference, atol=tol * scale)
    # the training's kernel: distinct samples padded with copies, non-zero matrix elements only
    samples = np.asarray(vs.samples).reshape(-1, model.n_qubits)
    rows, counts, inverse = driver.distinct_rows(samples, len(samples))
    n_valid = int(np.count_nonzero(counts))
    pairs = operators.pair_local_values(vs.model, fast.plan, vs.variables, rows, n_valid)
    np.testing.assert_allclose(pairs[inverse], reference.reshape(-1), atol=tol * scale)
    assert np.all(pairs[n_valid:] == 0)


def test_default_chunks_fit_the_budget_and_change_no_local_energy(make_model, monkeypatch, helpers):
    """The cache-sized chunks chosen without a chunk_size give the one-pass local energies."""
    model = make_model("heisenberg_sz")
    vs = helpers["perturbed_vstate"](model, {"d_model": 8, "n_layers": 2})
    plan = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits).plan
    samples = jnp.asarray(vs.samples).reshape(-1, model.n_qubits)
    # jitted: run op by op, the one-pass reference compiled ~360 small kernels (10 s)
    one_pass = jax.jit(operators._local_values, static_argnums=(0, 1))
    reference = np.asarray(one_pass(vs.model, plan, vs.variables, samples))
    monkeypatch.setattr(operators, "CACHE_FLOATS", 2**14)
    chunk = operators.default_chunk_size(vs.model, plan, len(samples))
    groups, _ = plan.groups(np.asarray(vs.model.order))
    positions = model.n_qubits + sum(len(m) * (model.n_qubits - start) for start, m in groups)
    assert 1 <= chunk < len(samples) and chunk * positions * 4 * 8 <= 2**14
    chunked = jax.jit(lambda v, x: operators._chunked_local_values(vs.model, plan, v, x))(
        vs.variables, samples
    )
    np.testing.assert_allclose(np.asarray(chunked), reference, atol=1e-12 * np.abs(reference).max())


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
