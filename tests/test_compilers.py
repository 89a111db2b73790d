"""Every compiler of a model's Hamiltonian gives the same matrix.

For one small instance of every model family (``small_model``): the core Pauli kernel
(the exact backend's sparse matrix), Qiskit's ``SparsePauliOp`` (vqe), NetKet's
``PauliStrings`` (vmc) and the quimb MPO (dmrg, in the MPS site order) all equal
OpenFermion's own sparse matrix of the model's qubit Hamiltonian, on the full space
(the TeNPy charged MPO is checked against the same reference in tests/tensornet).
"""

from __future__ import annotations

import numpy as np

from manybody.operators import of
from manybody.pauli import PauliGroups
from manybody.sector import SectorBasis


def test_every_compiler_gives_the_same_matrix(small_model, openfermion_matrix):
    from manybody.circuits.compiler import to_sparse_pauli_op
    from manybody.tensornet.mpo import qubit_operator_mpo
    from manybody.vmc.operators import to_pauli_strings

    problem = small_model.problem
    n = problem.n_qubits
    ref = openfermion_matrix(problem.hamiltonian, n)

    core = PauliGroups(problem.hamiltonian).matrix(SectorBasis(n)).toarray()
    np.testing.assert_allclose(core, ref, atol=1e-12, err_msg="core Pauli kernel")

    qiskit = to_sparse_pauli_op(problem.hamiltonian, n).to_matrix()  # little-endian, as manybody
    np.testing.assert_allclose(qiskit, ref, atol=1e-12, err_msg="Qiskit SparsePauliOp")

    netket = to_pauli_strings(problem.hamiltonian, n).to_dense()  # site 0 most significant, as OpenFermion
    big_endian = of().get_sparse_operator(problem.hamiltonian, n_qubits=n).toarray()
    np.testing.assert_allclose(netket, big_endian, atol=1e-12, err_msg="NetKet PauliStrings")

    mpo, constant = qubit_operator_mpo(problem.hamiltonian, problem.qubit_order)
    dense = mpo.to_dense() + constant * np.eye(2**n)  # MPS site p (most significant first) = qubit order[p]
    big_endian_bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)) & 1  # bits of site p
    little = (big_endian_bits << np.asarray(problem.qubit_order)).sum(axis=1)  # manybody index of each row
    in_manybody_order = np.empty_like(dense)
    in_manybody_order[np.ix_(little, little)] = dense
    np.testing.assert_allclose(in_manybody_order, ref, atol=1e-10, err_msg="quimb MPO")
