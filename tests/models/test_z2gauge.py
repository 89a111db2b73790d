"""Z2 gauge theory: toric-code limits and the magnetic-basis model with a Gauss penalty."""

import numpy as np
import pytest
import scipy.sparse.linalg as spla

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.models import Z2Gauge, from_dict
from manybody.operators import of


@pytest.mark.parametrize("pbc", [False, True])
def test_toric_code_limits(pbc):
    """h = 0: every plaquette satisfied, E0 = -J n_p; J = 0: all links unexcited, E0 = -h n_links."""
    m = Z2Gauge(3, 3, J=1.3, h=0.0, pbc=pbc)
    n_p = 9 if pbc else 4
    assert m.reference_energy == pytest.approx(-1.3 * n_p)
    res = mb.solve(m, backend="exact")
    assert res.energy == pytest.approx(-1.3 * n_p, abs=1e-10)
    assert res.observables["plaquette"].mean == pytest.approx(1.0, abs=1e-10)
    m = Z2Gauge(3, 3, J=0.0, h=0.7, pbc=pbc)
    assert m.n_qubits == (18 if pbc else 12)
    res = mb.solve(m, backend="exact")
    assert res.energy == pytest.approx(-0.7 * m.n_qubits, abs=1e-10)
    np.testing.assert_allclose(res.observables["electric_field"].mean, 1.0, atol=1e-10)


def magnetic_basis_spectrum(model, k, penalty=30.0):
    """Lowest levels of -J sum_p prod Z - h sum X + penalty * sum_v (1 - g_v prod_{l at v} X)/2
    on the full space, i.e. the model as stated before the Hadamard change of basis."""
    QubitOperator = of().QubitOperator
    lat, p = model.lattice, model.params
    H = QubitOperator()
    for plaq in lat.plaquettes:
        H += QubitOperator(tuple((l, "Z") for l, _ in sorted(plaq)), -p["J"])
    for l in range(model.n_qubits):
        H += QubitOperator(f"X{l}", -p["h"])
    for v, links in enumerate(lat.vertex_links):
        g = -1.0 if v in p["charges"] else 1.0
        H += (QubitOperator(()) - QubitOperator(tuple((l, "X") for l, _ in sorted(links)), g)) * (penalty / 2)
    M = of().get_sparse_operator(H, n_qubits=model.n_qubits)
    v0 = np.random.default_rng(1).standard_normal(M.shape[0])
    return np.sort(spla.eigsh(M, k=k, which="SA", v0=v0, tol=1e-12)[0])


@pytest.mark.parametrize("charges", [None, [0, 5]])
def test_matches_magnetic_basis_with_gauss_penalty(charges):
    m = Z2Gauge(3, 3, J=1.0, h=0.6, pbc=False, charges=charges)
    H, basis = sector_hamiltonian(m)
    assert basis.dim == 2 ** (12 - 8)  # 12 links, 9 vertex constraints with one redundancy
    # Lanczos may return one copy of a degenerate level: compare the distinct levels
    ours = np.unique(np.round(np.linalg.eigvalsh(H.toarray()), 8))[:3]
    ref = np.unique(np.round(magnetic_basis_spectrum(m, 6), 8))[:3]
    np.testing.assert_allclose(ours, ref, atol=1e-7)


def test_conventions_and_errors():
    m = Z2Gauge(3, 4, J=0.5, h=0.25, pbc=(True, False), charges=[2, 1])
    assert m.params["charges"] == [1, 2]
    assert from_dict(m.to_dict()) == m
    assert sorted(m.qubit_order) == list(range(m.n_qubits))
    assert len(m.constraints) == 12 and m.constraints[1].parity == 1
    assert m.reference_energy is None
    with pytest.raises(ValueError, match="even number"):
        Z2Gauge(3, 3, charges=[4])
    with pytest.raises(ValueError, match="vertex indices"):
        Z2Gauge(3, 3, charges=[0, 9])
    with pytest.raises(ValueError, match="Ly must be >= 3 on a periodic direction"):
        Z2Gauge(3, 2)
    with pytest.raises(ValueError, match="Lx must be an integer >= 2"):
        Z2Gauge(1, 3, pbc=False)
    with pytest.raises(ValueError, match="h must be a finite real number"):
        Z2Gauge(3, 3, h=None)
