"""Compiler convention, term groups, initial states and symmetry of the ansätze (against the exact backend)."""

import itertools

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

import manybody as mb
from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.gradient import shift_form
from manybody.circuits.symmetry import unit_preserves
from manybody.circuits.terms import light_cone_layers, term_groups
from manybody.circuits.vqe import default_reps
from manybody.constraints import LinearConstraint
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.model import Model
from manybody.models import Heisenberg, Hubbard, QuantumLink1D, Schwinger
from manybody.operators import of
from manybody.pauli import pauli_commute


def _full_vector(psi_sector, basis, n):
    full = np.zeros(2**n, dtype=complex)
    full[basis.states] = psi_sector
    return full


@pytest.mark.parametrize(
    "model",
    [
        Heisenberg(Chain(5), J2=0.3, h=0.2),
        Hubbard(Chain(3), U=3.0, n_up=2, n_down=1),
        QuantumLink1D(3, m=0.4),
    ],
    ids=["heisenberg", "hubbard", "quantum_link"],
)
def test_compiled_operator_matches_exact_backend(model):
    """Qiskit's little-endian statevector of the exact ground vector gives the exact energy,
    and every basis state's diagonal element matches the sector Hamiltonian's."""
    n = model.n_qubits
    H = to_sparse_pauli_op(model.qubit_hamiltonian, n)
    Hs, basis = sector_hamiltonian(model)
    vals, vecs = np.linalg.eigh(Hs.toarray())
    psi = Statevector(_full_vector(vecs[:, 0], basis, n))
    assert psi.expectation_value(H).real == pytest.approx(vals[0], abs=1e-10)
    for k, s in enumerate(basis.states[:20]):
        assert Statevector.from_int(int(s), 2**n).expectation_value(H).real == pytest.approx(
            Hs[k, k], abs=1e-12
        )


def test_non_hermitian_operator_is_refused():
    op = of().QubitOperator("X0 Y1", 1j)
    with pytest.raises(ValueError, match="not Hermitian"):
        to_sparse_pauli_op(op, 2, name="observable 0")
    with pytest.raises(ValueError, match="beyond the model's 2 qubits"):
        to_sparse_pauli_op(of().QubitOperator("Z3"), 2)


def test_heisenberg_chain_groups_are_even_and_odd_bonds():
    groups = term_groups(Heisenberg(Chain(6)).qubit_hamiltonian)
    bonds = [sorted({tuple(sorted({q for t, _ in u for q, _ in t})) for u in g}) for g in groups]
    assert bonds == [[(0, 1), (2, 3), (4, 5)], [(1, 2), (3, 4)]]
    for g in groups:  # every unit is XX + YY + ZZ, and a group's terms commute
        assert all(len(u) == 3 for u in g)
        terms = [t for u in g for t, _ in u]
        assert all(pauli_commute(a, b) for a, b in itertools.combinations(terms, 2))


def _sector_weight(model, circuit, rng):
    values = rng.uniform(-1, 1, circuit.num_parameters)
    probs = Statevector(circuit.assign_parameters(values)).probabilities()
    bits = (np.arange(len(probs))[:, None] >> np.arange(model.n_qubits)) & 1
    inside = np.all([c.satisfied(bits) for c in model.constraints], axis=0)
    return probs[inside].sum()


@pytest.mark.parametrize(
    "model,kind",
    [
        (Heisenberg(Square(2, 2)), "hva"),
        (Hubbard(Chain(3), n_up=2, n_down=1), "hva"),
        (Hubbard(Chain(3), n_up=2, n_down=1), "number_preserving"),
        (QuantumLink1D(3, m=0.4), "gauge_invariant"),
        (Schwinger(4), "gauge_invariant"),
    ],
)
def test_symmetric_ansatze_stay_in_the_sector(model, kind):
    ansatz = build_ansatz(model, AnsatzSpec(kind, 2))
    assert ansatz.preserves_constraints
    assert _sector_weight(model, ansatz.circuit, np.random.default_rng(3)) == pytest.approx(1.0, abs=1e-10)


def test_hardware_efficient_ansatz_leaves_the_sector():
    model = Heisenberg(Chain(4))
    ansatz = build_ansatz(model, AnsatzSpec("hea", 1))
    assert not ansatz.preserves_constraints
    assert _sector_weight(model, ansatz.circuit, np.random.default_rng(3)) < 0.99


class _Tilted(Model):
    """H = X0 + Z0 Z1 with a total-S^z constraint that X0 breaks (test only, unregistered)."""

    def __init__(self):
        self._set_params()

    n_qubits = 2
    constraints = [LinearConstraint("total_sz", (0, 1), (1.0, 1.0), 1.0)]

    def build_hamiltonian(self):
        return of().QubitOperator("X0") + of().QubitOperator("Z0 Z1")


def test_gauge_invariant_ansatz_refuses_symmetry_breaking_terms():
    model = _Tilted()
    assert not unit_preserves([(((0, "X"),), 1.0)], model.constraints)
    with pytest.raises(ValueError, match="ansatz='gauge_invariant'"):
        build_ansatz(model, AnsatzSpec("gauge_invariant", 1))


def test_singlet_product_energy():
    """Each singlet has <S_i.S_j> = -3/4 and the bond between singlets 0: a chain of 4 gives E = -1.5."""
    model = Heisenberg(Chain(4))
    ansatz = build_ansatz(model, AnsatzSpec("hva", 1))
    assert ansatz.spec.initial_state == "singlets"
    state = Statevector(ansatz.circuit.assign_parameters(np.zeros(ansatz.n_parameters)))
    H = to_sparse_pauli_op(model.qubit_hamiltonian, 4)
    assert state.expectation_value(H).real == pytest.approx(-1.5, abs=1e-12)


@pytest.mark.parametrize("lattice", [Chain(4), Square(2, 2)], ids=["chain4", "square2x2"])
def test_slater_initial_state_is_the_free_fermion_ground_state(lattice):
    """At U = 0 the Slater determinant of the hopping part is the exact ground state."""
    model = Hubbard(lattice, U=0.0)
    ansatz = build_ansatz(model, AnsatzSpec("hva", 1))
    assert ansatz.spec.initial_state == "slater"
    state = Statevector(ansatz.circuit.assign_parameters(np.zeros(ansatz.n_parameters)))
    H = to_sparse_pauli_op(model.qubit_hamiltonian, model.n_qubits)
    exact = mb.solve(model, backend="exact", observables=[]).energy
    assert state.expectation_value(H).real == pytest.approx(exact, abs=1e-10)


@pytest.mark.parametrize("kind", ["hva", "hea", "number_preserving"])
def test_parameter_shift_gradient_matches_finite_differences(kind):
    from qiskit.primitives import StatevectorEstimator

    model = Hubbard(Chain(2), U=2.0)
    ansatz = build_ansatz(model, AnsatzSpec(kind, 2))
    shift = shift_form(ansatz.circuit)
    H = to_sparse_pauli_op(model.qubit_hamiltonian, model.n_qubits)
    theta = np.random.default_rng(0).normal(size=ansatz.n_parameters)
    est = StatevectorEstimator()
    energy, grad = shift.gradient(
        est.run([(shift.circuit, H, shift.gradient_rows(theta))]).result()[0].data.evs
    )
    h = 1e-5
    rows = np.vstack([theta + h * np.eye(len(theta)), theta - h * np.eye(len(theta))])
    ev = est.run([(ansatz.circuit, H, rows)]).result()[0].data.evs
    fd = (ev[: len(theta)] - ev[len(theta) :]) / (2 * h)
    assert energy == pytest.approx(est.run([(ansatz.circuit, H, theta)]).result()[0].data.evs, abs=1e-12)
    assert np.max(np.abs(grad - fd)) < 1e-8


def test_basis_initial_state_prefers_states_the_hamiltonian_connects():
    """Quantum link 2x2 at lambda = 0: every Gauss-law state has diagonal energy 0; the chosen one
    must be flippable (not an eigenstate, so the variational circuit can leave it)."""
    from manybody.circuits.initial import initial_bits
    from manybody.models import QuantumLink2D

    model = QuantumLink2D(2, 2, pbc=False)
    bits = initial_bits(model)
    assert all(c.satisfied(bits) for c in model.constraints)
    index = int(sum(int(b) << q for q, b in enumerate(bits)))
    H = to_sparse_pauli_op(model.qubit_hamiltonian, model.n_qubits).to_matrix(sparse=True)
    column = H[:, index].toarray().ravel()
    column[index] = 0.0
    assert np.linalg.norm(column) > 0.5


def test_three_cnot_canonical_block_is_the_exponential():
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import Operator, SparsePauliOp
    from scipy.linalg import expm

    from manybody.circuits.ansatz import _append_canonical

    a, b, c = 0.37, -0.81, 1.23
    for i, j in [(0, 1), (1, 0)]:
        qc = QuantumCircuit(2)
        _append_canonical(qc, i, j, a, b, c)
        target = expm(-1j * SparsePauliOp.from_list([("XX", a), ("YY", b), ("ZZ", c)]).to_matrix())
        overlap = np.vdot(target.ravel(), Operator(qc).data.ravel()) / 4
        assert abs(abs(overlap) - 1) < 1e-12
        assert qc.count_ops()["cx"] == 3


def test_registries_match_the_option_names():
    """The light options module lists the names; each heavy module implements exactly those."""
    from manybody.circuits import options
    from manybody.circuits.ansatz import ANSATZ_BUILDERS
    from manybody.circuits.estimators import ENGINES
    from manybody.circuits.initial import INITIAL_BUILDERS
    from manybody.circuits.optimize import OPTIMIZER_FUNCTIONS

    assert set(ANSATZ_BUILDERS) == set(options.ANSATZE)
    assert set(ENGINES) == set(options.ESTIMATORS)
    assert {"auto", *INITIAL_BUILDERS} == set(options.INITIAL_STATES)
    assert set(OPTIMIZER_FUNCTIONS) == set(options.OPTIMIZERS)


@pytest.mark.parametrize("L", [4, 7, 12])
def test_light_cone_of_the_chain_brickwork_and_default_depth(L):
    """Even then odd bonds: a cone grows by two sites per layer (by one in the first layer from an
    end the first group misses, for odd L), so ceil(L / 2) layers span the open chain and half as
    many the ring (both directions); the default depth is two layers beyond the open chain's
    cone, never below n/2 (4x4 torus: n/2 = 8 > 1 + 2)."""
    open_chain = Heisenberg(Chain(L))
    assert light_cone_layers(term_groups(open_chain.problem.hamiltonian), L) == -(-L // 2)
    assert default_reps(open_chain, "hva") == -(-L // 2) + 2
    ring = Heisenberg(Chain(12, pbc=True))
    assert light_cone_layers(term_groups(ring.problem.hamiltonian), 12) == 3
    assert default_reps(ring, "hva") == 6 and default_reps(Heisenberg(Square(4, 4, pbc=True)), "hva") == 8
    assert default_reps(open_chain, "hea") == 2
