"""Symmetrised networks (``symmetry`` option): the declared lattice symmetries commute with the
Hamiltonian on the sector (its sparse matrix permuted), the symmetrised amplitude is normalised
and invariant, its local energies equal ``(H psi)/psi`` of exact diagonalisation's matrix, its
samples follow ``|psi_G|^2`` (not the network's own distribution), and a solve's estimate agrees
with its network's energy summed over the sector."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats
from openfermion import QubitOperator

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.pauli import PauliGroups, PauliTable
from manybody.symmetries import symmetry_group, transform_bits
from manybody.vmc import make_vstate
from manybody.vmc.operators import FlipPlan, local_values_jit, pair_evaluable, pair_local_values
from manybody.vmc.options import VMCOptions
from manybody.vmc.symmetric import symmetry_generators


def _permutation_indices(basis, permutation, flip):
    """Row ``k`` of the sector maps to row ``index[k]`` under ``b -> b[permutation] ^ flip``."""
    images = transform_bits(basis.bits(), permutation, flip).astype(np.int64)
    index, found = basis.index(images @ (1 << np.arange(basis.n_qubits)))
    assert found.all()
    return index


@pytest.mark.parametrize(
    "lattice, order",
    [(Square(4, 4, pbc=True), 256), (Square(3, 3), 8), (Square(2, 4), 8), (Chain(6, pbc=True), 24)],
    ids=["torus_4x4", "open_3x3", "open_2x4", "ring_6"],
)
def test_declared_symmetries_generate_the_lattice_group_and_commute_with_h(lattice, order):
    """``symmetry="all"``: group orders in closed form: the 4x4 torus 16 translations x 8 (C4v) x 2
    (spin flip); the open 3x3 square C4v (9 spins: S^z = 1/2, no spin flip); the open 2x4
    rectangle C2v x 2; the 6-ring D6 (12) x 2."""
    model = Heisenberg(lattice, J2=0.5)
    problem = model.problem
    permutations, flips = symmetry_group(problem, symmetry_generators(problem, "all"))
    assert len(permutations) == order
    assert (permutations[0] == np.arange(problem.n_qubits)).all() and flips[0] == 0
    if problem.n_qubits > 12:
        return  # the 4x4 torus: its sector matrix is checked through a generator set below
    h, basis = sector_hamiltonian(model)
    for perm, flip in zip(permutations, flips):
        index = _permutation_indices(basis, perm, flip)
        assert abs(h[np.ix_(index, index)] - h).max() < 1e-12


def test_torus_generators_commute_with_h():
    model = Heisenberg(Square(4, 4, pbc=True), J2=0.5)
    h, basis = sector_hamiltonian(model)
    for g in model.problem.symmetries:
        index = _permutation_indices(basis, g.permutation, g.flip)
        permuted = h[index][:, index]
        assert abs(permuted - h).max() < 1e-12, g.name


def test_symmetries_that_break_the_model_are_refused():
    sz1 = Heisenberg(Square(4, 4, pbc=True), sz=1).problem
    with pytest.raises(ValueError, match="'spin_flip' does not map the sector"):
        symmetry_group(sz1, [sz1.symmetry("spin_flip")])
    field = Heisenberg(Chain(6, pbc=True), fields=[0.1 * i for i in range(6)]).problem
    with pytest.raises(ValueError, match="'translation' does not leave the Hamiltonian"):
        symmetry_group(field, [field.symmetry("translation")])
    with pytest.raises(ValueError, match="declares no symmetry 'rotation'"):
        Heisenberg(Chain(6)).problem.symmetry("rotation")
    with pytest.raises(ValueError, match="symmetry must be"):
        VMCOptions(symmetry=("rotation", 3))
    assert VMCOptions(symmetry="rotation+spin_flip").symmetry == ("rotation", "spin_flip")
    with pytest.raises(ValueError, match="'translation' does not leave the Hamiltonian"):
        mb.solve(
            Heisenberg(Chain(6, pbc=True), fields=[0.1 * i for i in range(6)]),
            backend="vmc",
            symmetry="translation",
        )


@pytest.fixture(scope="module")
def symmetric_state():
    """A random symmetrised transformer (C4v of the open 3x3 square, Marshall's sign) on the
    S^z = 1/2 sector of the J1-J2 model, with the sector's configurations."""
    model = Heisenberg(Square(3, 3), J2=0.3, sz=0.5)
    problem = model.problem
    config = dict(
        n_qubits=problem.n_qubits,
        d_model=8,
        n_heads=2,
        n_layers=1,
        patch=1,
        dtype="float64",
        sign_rule=problem.sign_structure("marshall").to_dict(),
        phase=None,
        symmetry=["rotation", "reflection"],
    )
    vs = make_vstate(model, config, 4096, 3)
    h, basis = sector_hamiltonian(model)
    bits = basis.bits()
    log_psi = np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32)))
    return model, vs, h, basis, bits, log_psi


def test_symmetrised_amplitude_is_normalised_and_invariant(symmetric_state):
    _, vs, _, basis, bits, log_psi = symmetric_state
    assert abs(np.sum(np.exp(2 * log_psi.real)) - 1) < 1e-12
    permutations, flips = np.asarray(vs.model.permutations), np.asarray(vs.model.flips)
    assert len(permutations) == 8
    for perm, flip in zip(permutations, flips):
        index = _permutation_indices(basis, perm, flip)
        assert np.abs(log_psi.real[index] - log_psi.real).max() < 1e-12


def test_symmetrised_local_energies_equal_exact_diagonalisation(symmetric_state):
    """The Hamiltonian (invariant: one batched pass over the images, and the training's kernel of
    the non-zero matrix elements) and an operator that is not invariant (each image with its own
    masks), against the sector matrices applied to psi_G."""
    model, vs, h, basis, bits, log_psi = symmetric_state
    psi = np.exp(log_psi)
    other = QubitOperator("X0 X1", 0.25) + QubitOperator("Y0 Y1", 0.25) + QubitOperator("Z4", 0.5)
    other += QubitOperator("X2 X5", -0.3) + QubitOperator("Y2 Y5", -0.3)
    for operator, matrix in [
        (model.problem.hamiltonian, h),
        (other, PauliGroups(other).matrix(basis, "operator")),
    ]:
        plan = FlipPlan([PauliTable.from_qubit_operator(operator, basis.n_qubits)])
        local = np.asarray(local_values_jit(vs.model, plan, vs.variables, bits, None))[:, 0]
        exact = (matrix @ psi) / psi
        assert np.abs(local - exact).max() < 1e-10
        invariant = operator is model.problem.hamiltonian
        assert pair_evaluable(vs.model, plan) == invariant
        if invariant:  # the training's kernel: the non-zero elements on every image, padding rows last
            padded = np.concatenate([bits, bits[:3]])
            pairs = pair_local_values(vs.model, plan, vs.variables, padded, len(bits))
            assert np.abs(pairs[: len(bits)] - exact).max() < 1e-10 and np.all(pairs[len(bits) :] == 0)


def test_symmetrised_samples_follow_the_symmetrised_distribution(symmetric_state):
    """Pearson's chi-square of 4096 seeded samples against |psi_G|^2 (cells of expected count
    below 5 pooled), and the mean of a bit that the symmetry mixes, against its exact value
    under |psi_G|^2 (5 standard errors) and away from the network's own distribution."""
    model, vs, _, basis, bits, log_psi = symmetric_state
    samples = np.asarray(vs.sample()).reshape(-1, basis.n_qubits).astype(np.int64)
    index, found = basis.index(samples @ (1 << np.arange(basis.n_qubits)))
    assert found.all()
    prob = np.exp(2 * log_psi.real)
    counts = np.bincount(index, minlength=len(prob))
    expected = prob * len(samples)
    big = expected >= 5
    observed, wanted = counts[big], expected[big]
    if not big.all():
        observed, wanted = np.append(observed, counts[~big].sum()), np.append(wanted, expected[~big].sum())
    statistic = np.sum((observed - wanted) ** 2 / wanted)
    assert statistic < scipy.stats.chi2.ppf(1 - 1e-4, len(observed) - 1)
    inner = vs.model.amplitude
    own = np.exp(2 * np.asarray(inner.apply({"params": vs.parameters["amplitude"]}, jnp.asarray(bits))).real)
    corner = bits[:, 0]
    exact, network = prob @ corner, own @ corner
    error = np.sqrt(exact * (1 - exact) / len(samples))
    assert abs(samples[:, 0].mean() - exact) < 5 * error
    assert abs(network - exact) > 6 * error  # the test tells the two distributions apart


def test_symmetric_solve_estimates_its_network_energy(tmp_path):
    """A short solve on the 6-ring (reflection and spin flip: 4 elements): its sampled energy
    agrees with the trained symmetrised network's energy summed over the sector (5 standard
    errors), and the saved result reloads the symmetrised network."""
    model = Heisenberg(Chain(6, pbc=True), J2=0.3)
    res = mb.solve(
        model,
        backend="vmc",
        symmetry="reflection+spin_flip",
        n_iter=5,
        n_samples=64,
        n_eval_samples=4096,
        progress=False,
        observables=[],
    )
    assert res.info["symmetry"] == ["reflection", "spin_flip"] and res.info["symmetry_group_order"] == 4
    h, basis = sector_hamiltonian(model)
    vs = make_vstate(model, res.state.config, 64, 0, params=res.state.params)
    psi = np.exp(np.asarray(vs.log_value(jnp.asarray(basis.bits(), dtype=jnp.int32))))
    summed = np.vdot(psi, h @ psi).real / np.vdot(psi, psi).real
    assert abs(res.energy - summed) < 5 * res.energy_error
    res.save(tmp_path / "run")
    loaded = mb.Result.load(tmp_path / "run")
    assert loaded.state.config["symmetry"] == ["reflection", "spin_flip"]


@pytest.mark.slow
def test_quench_from_symmetrised_result_matches_exact():
    """Time evolution keeps the symmetrised network: a 6-ring ground state (reflection and spin
    flip, J2 = 0, 10 iterations of a small network: Marshall's sign is exact, so the phase head
    stays at zero and the state has a character under the group, which the evolution keeps)
    quenched to J2 = 0.5, against the exact evolution of the network's own state: nearest and
    next-nearest <S^z S^z> within 0.005 plus 4 standard errors, the t = 0.5 network at fidelity
    above 0.999 with the exact state. A quench Hamiltonian that breaks the group is refused by
    the symmetry's name. Measured: estimates within 0.012 (3.1 standard errors), fidelity
    0.99998; 53 s CPU."""
    import scipy.sparse.linalg

    from manybody.operators import of
    from manybody.vmc.operators import to_pauli_strings

    options = dict(symmetry="reflection+spin_flip", d_model=16, n_layers=1, progress=False, observables=[])
    gs = mb.solve(Heisenberg(Chain(6, pbc=True)), backend="vmc", n_iter=10, n_samples=256, **options)
    quench = Heisenberg(Chain(6, pbc=True), J2=0.5)
    correlations = [mb.Observable(f"zz_0{k}", 0.25 * of().QubitOperator(f"Z0 Z{k}")) for k in (1, 2)]
    times = np.array([0.0, 0.25, 0.5])
    ev = mb.evolve(quench, gs, times, backend="vmc", observables=correlations, progress=False)
    assert ev.state.config["symmetry"] == ["reflection", "spin_flip"]
    vs = make_vstate(quench, gs.state.config, 32, 0, params=gs.state.params)
    h = to_pauli_strings(quench.problem.hamiltonian, 6, vs.hilbert).to_sparse()
    psi = scipy.sparse.linalg.expm_multiply(-1j * h, np.asarray(vs.to_array()), start=0.0, stop=0.5, num=3)
    z = 1 - 2 * np.asarray(vs.hilbert.all_states())
    for k, name in [(1, "zz_01"), (2, "zz_02")]:
        exact = np.abs(psi) ** 2 @ (0.25 * z[:, 0] * z[:, k])
        estimate = ev.observables[name]
        assert np.all(np.abs(np.asarray(estimate.mean) - exact) < 0.005 + 4 * np.asarray(estimate.error)), (
            name
        )
    assert np.ptp(np.abs(psi) ** 2 @ (z[:, 0] * z[:, 1])) > 0.02  # the quench moves the correlations
    final = make_vstate(quench, ev.state.config, 32, 0, params=ev.state.params)
    assert abs(np.vdot(psi[-1], np.asarray(final.to_array()))) ** 2 > 0.999
    with pytest.raises(ValueError, match="'reflection' does not leave the Hamiltonian"):
        mb.evolve(
            Heisenberg(Chain(6, pbc=True), fields=[0.1 * i for i in range(6)]), gs, times, backend="vmc"
        )
