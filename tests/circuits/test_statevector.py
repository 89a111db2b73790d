"""The compiled statevector simulation against Qiskit's Statevector and the parameter-shift rule."""

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector

from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.gradient import shift_form
from manybody.circuits.statevector import CompiledCircuit, PauliOperator
from manybody.lattice import Chain
from manybody.models import SYK, Heisenberg, Hubbard, QuantumLink1D


@pytest.mark.parametrize(
    "model,kind,reps",
    [
        (Heisenberg(Chain(5), J2=0.3, h=0.2), "hva", 1),
        (Hubbard(Chain(2), U=2.0), "hva", 2),
        (Hubbard(Chain(2), U=2.0), "hea", 2),
        (Hubbard(Chain(2), U=2.0), "number_preserving", 2),
        (SYK(8, seed=3), "hva", 1),
        (QuantumLink1D(3), "gauge_invariant", 2),
    ],
    ids=["heisenberg", "hubbard_hva", "hubbard_hea", "hubbard_np", "syk", "quantum_link"],
)
def test_state_energy_and_adjoint_gradient_match_qiskit(model, kind, reps):
    ansatz = build_ansatz(model, AnsatzSpec(kind, reps))
    shift = shift_form(ansatz.circuit)
    H = to_sparse_pauli_op(model.qubit_hamiltonian, model.n_qubits)
    theta = np.random.default_rng(1).normal(size=ansatz.n_parameters)
    compiled = CompiledCircuit(shift.circuit)
    psi = compiled.state(shift.angles(theta))
    reference = Statevector(ansatz.circuit.assign_parameters(theta)).data
    assert abs(abs(np.vdot(reference, psi)) - 1) < 1e-12  # equal up to the global phase
    energy, d_phi = compiled.value_and_gradient(shift.angles(theta), PauliOperator(H))
    rows = shift.gradient_rows(theta)
    evs = StatevectorEstimator().run([(shift.circuit, H, rows)]).result()[0].data.evs
    e_shift, g_shift = shift.gradient(evs)
    assert energy == pytest.approx(e_shift, abs=1e-12)
    assert np.max(np.abs(shift.A.T @ d_phi - g_shift)) < 1e-11


def test_pauli_operator_matches_the_matrix():
    """Every Pauli letter, phases included, on random states (stacked)."""
    op = SparsePauliOp.from_list(
        [("XYZI", 0.3), ("YYII", -1.2), ("IZIX", 0.7j), ("IIII", 0.25), ("ZXYY", 2.0)]
    )
    psi = np.random.default_rng(0).normal(size=(3, 16)) + 1j * np.random.default_rng(1).normal(size=(3, 16))
    assert np.allclose(PauliOperator(op).apply(psi), psi @ op.to_matrix().T, atol=1e-13)


def test_fused_blocks_with_shared_and_reordered_qubits():
    """Gates on (2, 0) then (0, 2) then a single-qubit gate fuse into one block; a third qubit opens
    another; a parameter used twice gets the sum of both derivatives."""
    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.rzx(a, 2, 0)
    qc.cx(0, 2)
    qc.ry(b, 2)
    qc.rxx(a, 1, 2)
    qc.sx(1)
    compiled = CompiledCircuit(qc)
    assert [blk.qubits for blk in compiled.blocks] == [(0, 2), (1, 2)]
    values = np.array([0.37, -1.1])
    bound = qc.assign_parameters(dict(zip(qc.parameters, values)))
    assert abs(abs(np.vdot(Statevector(bound).data, compiled.state(values))) - 1) < 1e-12
    H = SparsePauliOp.from_list([("ZXY", 0.5), ("XII", 1.0), ("IZZ", -0.3)])
    _, grad = compiled.value_and_gradient(values, PauliOperator(H))
    h = 1e-6
    fd = [
        (
            Statevector(qc.assign_parameters(dict(zip(qc.parameters, values + h * e)))).expectation_value(H)
            - Statevector(qc.assign_parameters(dict(zip(qc.parameters, values - h * e)))).expectation_value(H)
        ).real
        / (2 * h)
        for e in np.eye(2)
    ]
    assert np.allclose(grad, fd, atol=1e-8)


def test_apply_is_the_circuit_unitary_on_any_state():
    """``simulate_prefix=False``: ``apply(psi, block_matrices(phi))`` is the bound circuit's unitary
    (Qiskit's ``Operator``) on random stacked states, up to one global phase."""
    from qiskit.quantum_info import Operator

    a, b = Parameter("a"), Parameter("b")
    qc = QuantumCircuit(3)
    qc.x(1)
    qc.rzz(a, 0, 1)
    qc.h(2)
    qc.cx(2, 0)
    qc.ryy(b, 1, 2)
    values = np.array([0.8, -0.45])
    compiled = CompiledCircuit(qc, simulate_prefix=False)
    rng = np.random.default_rng(4)
    psi = rng.normal(size=(2, 8)) + 1j * rng.normal(size=(2, 8))
    out = compiled.apply(psi, compiled.block_matrices(values))
    reference = psi @ Operator(qc.assign_parameters(dict(zip(qc.parameters, values)))).data.T
    phase = np.vdot(out[0], reference[0]) / np.vdot(out[0], out[0])
    assert abs(abs(phase) - 1) < 1e-12 and np.allclose(phase * out, reference, atol=1e-12)
    with pytest.raises(ValueError, match="expected 2 angles"):
        compiled.block_matrices([0.1])
