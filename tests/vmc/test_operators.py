"""Qubit operators on NetKet: the bit convention of PauliStrings against the exact backend, and the
batched local estimators against the enumerated expectation value of the same network state."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from openfermion import QubitOperator

from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain
from manybody.models import Heisenberg, Hubbard
from manybody.vmc import local_values, make_vstate, to_pauli_strings


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
