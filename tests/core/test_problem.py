"""The compiled problem: sector counting, constraint kinds, penalty, declared sign structures,
and the exact backend's memory estimate."""

import itertools

import numpy as np
import pytest

import manybody as mb
from manybody.constraints import LinearConstraint, ParityConstraint, penalty_operator
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import SYK, Heisenberg, Hubbard, Z2Gauge
from manybody.operators import of
from manybody.pauli import PauliGroups, pauli_commute
from manybody.sector import SectorBasis, sector_dimension


def test_sector_dimension_counts_the_enumerated_basis(small_model):
    problem = small_model.problem
    assert problem.sector_dimension() == problem.sector().dim
    assert problem.sector().dim == len(
        [s for s in range(2**problem.n_qubits) if _satisfies_all(s, problem.n_qubits, problem.constraints)]
    )


def _satisfies_all(state, n, constraints):
    bits = np.array([(state >> q) & 1 for q in range(n)])
    return all(bool(c.satisfied(bits)) for c in constraints)


def test_sector_dimension_with_overlapping_weighted_constraints():
    """Random weighted, overlapping constraints: the transfer count equals brute force."""
    rng = np.random.default_rng(3)
    n = 9
    for _ in range(20):
        cons = []
        for k in range(3):
            qubits = tuple(sorted(rng.choice(n, size=4, replace=False)))
            weights = tuple(rng.choice([-1.0, 1.0, 2.0], size=4))
            bits = rng.integers(0, 2, size=n)
            cons.append(
                LinearConstraint(f"c{k}", qubits, weights, float(np.dot(weights, bits[list(qubits)])))
            )
        cons.append(ParityConstraint("p", tuple(range(0, n, 2)), int(rng.integers(0, 2))))
        brute = sum(_satisfies_all(s, n, cons) for s in range(2**n))
        assert sector_dimension(n, cons) == brute


def test_constraint_kinds():
    assert [c.kind for c in Heisenberg(Chain(4)).problem.constraints] == ["charge"]
    assert [c.kind for c in Hubbard(Chain(4)).problem.charges] == ["charge", "charge"]
    assert [c.kind for c in SYK(8, seed=1).problem.parities] == ["parity"]
    z2 = Z2Gauge(2, 3, pbc=False).problem
    assert z2.gauss_laws and not z2.charges and not z2.parities


def test_penalty_vanishes_exactly_on_the_sector(small_model):
    """V = 0 on every sector state and V >= 1 on every other basis state (full-space diagonal)."""
    problem = small_model.problem
    V = PauliGroups(penalty_operator(problem.constraints)).matrix(SectorBasis(problem.n_qubits))
    diag = V.diagonal().real
    assert abs(V - V.multiply(np.eye(V.shape[0]) > 0)).max() == 0  # diagonal in the qubit basis
    inside = problem.sector().states
    assert np.abs(diag[inside]).max() < 1e-12
    outside = np.setdiff1d(np.arange(2**problem.n_qubits), inside)
    assert len(outside) == 0 or diag[outside].min() >= 1 - 1e-12


def test_pauli_commute_agrees_with_openfermion():
    paulis = ["X", "Y", "Z"]
    terms = [
        tuple((q, p) for q, p in zip(range(3), combo) if p)
        for combo in itertools.product([*paulis, None], repeat=3)
    ]
    QubitOperator = of().QubitOperator
    for a in terms:
        for b in terms:
            comm = of().commutator(QubitOperator(a), QubitOperator(b))
            assert pauli_commute(a, b) == (not comm.terms or max(abs(v) for v in comm.terms.values()) < 1e-14)


@pytest.mark.parametrize(
    "model",
    [
        Heisenberg(Chain(8)),
        Heisenberg(Square(2, 3)),
        Heisenberg(Chain(6), Delta=0.5, h=0.2),
        Heisenberg(Chain(8), J2=-0.4),
        Hubbard(Chain(4)),
        Hubbard(Chain(6), U=2.0),
        Hubbard(Chain(6), n_up=3, n_down=1),
    ],
    ids=lambda m: repr(m)[:40],
)
def test_declared_exact_sign_structures_are_the_ground_state_signs(model):
    """Where a model declares an exact sign structure, sign(b) psi_0(b) >= 0 for the exact ground state."""
    (structure,) = [s for s in model.problem.sign_structures if s.exact]
    H, basis = sector_hamiltonian(model)
    vals, vecs = np.linalg.eigh(H.toarray())
    assert vals[1] - vals[0] > 1e-8  # a unique ground state: its sign is defined
    signed = structure.sign(basis.bits()) * vecs[:, 0].real
    signed *= np.sign(signed[np.argmax(np.abs(signed))])
    assert signed.min() > -1e-10


def test_sign_structures_are_declared_only_where_they_apply():
    from manybody.lattice import Triangular

    assert Heisenberg(Triangular(3, 3, pbc=True)).problem.sign_structures == ()
    (marshall,) = Heisenberg(Square(2, 3), J2=0.5).problem.sign_structures
    assert not marshall.exact and marshall.recommended
    (marshall,) = Heisenberg(Square(2, 3), J2=0.7).problem.sign_structures
    assert not marshall.exact and not marshall.recommended
    assert Hubbard(Square(2, 2)).problem.sign_structures == ()
    with pytest.raises(ValueError, match="declares no sign structure 'marshall'"):
        Hubbard(Chain(4)).problem.sign_structure("marshall")


def test_exact_refuses_what_does_not_fit_before_building_it():
    model = Heisenberg(Chain(30), sz=None)
    with pytest.raises(ValueError, match=r"at least .*GiB.*sector dimension 1,073,741,824.*backend='dmrg'"):
        mb.solve(model, backend="exact")
    # refused from the sector size alone: the Hamiltonian (OpenFermion) was never built
    assert "hamiltonian" not in model.problem.__dict__
    assert "qubit_hamiltonian" not in model.__dict__
    with pytest.raises(ValueError, match="max_memory"):
        mb.solve(Heisenberg(Chain(12)), backend="exact", max_memory=1e-4)
    with pytest.raises(ValueError, match="max_memory must be"):
        mb.solve(Heisenberg(Chain(4)), backend="exact", max_memory=-1)


def test_default_observables_work_on_every_lattice():
    """Triangular is not bipartite: no staggered magnetisation among the defaults, the rest works."""
    from manybody.lattice import Triangular

    model = Heisenberg(Triangular(3, 3, pbc=True))
    assert "staggered_magnetization_sq" not in model.observable_names
    res = mb.solve(model, backend="exact")
    corr = res.observables["spin_correlations"]
    nearest = corr.mean[np.argmin(np.abs(np.asarray(corr.axis) - 1.0))]
    assert nearest == pytest.approx(
        res.energy / len(model.lattice.bonds(1)), abs=1e-10
    )  # E = J sum_<ij> S_i.S_j
    with pytest.raises(ValueError, match="not defined"):
        mb.solve(model, backend="exact", observables=["staggered_magnetization_sq"])


@pytest.mark.parametrize("backend", ["dmrg", "vmc"])
def test_one_site_models_are_sent_to_exact(backend):
    """A one-site Hubbard model (2 qubits, one MPS site) or a one-spin chain: a clear refusal."""
    for model in (Hubbard(Chain(1), n_up=1, n_down=0), Heisenberg(Chain(1), sz=0.5)):
        with pytest.raises(ValueError, match="backend='exact'"):
            mb.solve(model, backend=backend)
