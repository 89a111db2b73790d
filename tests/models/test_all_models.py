"""Properties every model must have: round trips, Hermiticity, conserved constraints,
Gauss's law for the gauge models."""

import json

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import manybody as mb
from manybody.constraints import constraint_operator
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import (
    SYK,
    Heisenberg,
    Hubbard,
    QuantumLink1D,
    QuantumLink2D,
    Schwinger,
    Z2Gauge,
    from_dict,
)
from manybody.operators import of
from manybody.pauli import PauliGroups
from manybody.sector import SectorBasis

MODELS = [
    Heisenberg(Chain(6), J2=0.3, h=0.1),
    Hubbard(Square(2, 3, pbc=(True, False)), t=1.0, U=3.0, mu=0.2, n_up=2, n_down=3),
    SYK(10, J=1.0, seed=4, parity=1),
    Schwinger(8, x=1.2, mu=0.3, alpha=0.1, charges=[0, 0, 1, 0, 0, -1, 0, 0]),
    Z2Gauge(3, 3, J=1.0, h=0.4, pbc=False, charges=[0, 4]),
    Z2Gauge(3, 3, J=1.0, h=0.4),
    QuantumLink1D(6, t=1.0, m=0.3, boundary_fields=(0.5, -0.5)),
    QuantumLink1D(4, t=1.0, m=-0.2, pbc=True, boundary_fields=None),
    QuantumLink2D(3, 3, J=1.0, lam=0.4),
    QuantumLink2D(3, 2, J=1.0, lam=-0.3, pbc=False, charges=[0, 0.5, 0, 0, -0.5, 0]),
]
# gauge models small enough for the unconstrained full space (penalty test)
GAUGE = [m for m in MODELS if m.n_qubits <= 14 and "gauss_violation" in m.observable_names]


def ids(models):
    return [f"{m.name}-{m.n_qubits}q" for m in models]


@pytest.mark.parametrize("model", MODELS, ids=ids(MODELS))
def test_round_trip_and_hermitian(model):
    again = from_dict(json.loads(json.dumps(model.to_dict())))  # job files store JSON/TOML
    assert again == model and type(again) is type(model)
    assert again.qubit_hamiltonian == model.qubit_hamiltonian
    H, _ = sector_hamiltonian(model)  # raises if H leaves the constrained sector
    assert abs(H - H.conj().T).max() < 1e-12
    assert all(isinstance(c, float) for c in model.qubit_hamiltonian.terms.values())  # real, Hermitian
    assert sorted(model.qubit_order) == list(range(model.n_qubits))


@pytest.mark.parametrize("model", MODELS, ids=ids(MODELS))
def test_hamiltonian_commutes_with_every_constraint(model):
    H = model.qubit_hamiltonian
    for c in model.constraints:
        comm = of().commutator(H, constraint_operator(c))
        assert max((abs(v) for v in comm.terms.values()), default=0.0) < 1e-12, c.name


@pytest.mark.parametrize("model", GAUGE, ids=ids(GAUGE))
def test_gauss_law_in_ground_state_and_as_penalty(model):
    """The physical ground state has zero Gauss violation, and it is the ground state of
    H + lambda * sum_v (G_v - g_v)^2 on the *unconstrained* space."""
    res = mb.solve(model, backend="exact", observables=["gauss_violation"])
    assert abs(res.observables["gauss_violation"].mean) < 1e-10
    violation = model.observable("gauss_violation").qubit_operator
    full = SectorBasis(model.n_qubits)
    M = PauliGroups(model.qubit_hamiltonian + violation * 20.0).matrix(full)
    v0 = np.random.default_rng(0).standard_normal(full.dim)
    e0 = spla.eigsh(M, k=1, which="SA", v0=v0, tol=1e-12)[0][0]
    assert e0 == pytest.approx(res.energy, abs=1e-8)
