"""Fermi-Hubbard model: references, OpenFermion's fermi_hubbard, free fermions, sum rules."""

import numpy as np
import pytest
import scipy.sparse as sp

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square, Triangular
from manybody.models import Hubbard, from_dict
from manybody.operators import of


def sector_spectrum(model):
    H, _ = sector_hamiltonian(model)
    return np.linalg.eigvalsh(H.toarray())


def openfermion_sector_spectrum(lx, ly, periodic, t, U, mu, n_up, n_down):
    """Spectrum of OpenFermion's own ``fermi_hubbard`` in the (n_up, n_down) sector.

    OpenFermion's sparse matrices are big-endian (qubit 0 is the most significant bit).
    """
    ofm = of()
    H = ofm.fermi_hubbard(lx, ly, t, U, chemical_potential=mu, periodic=periodic)
    n = 2 * lx * ly
    M = sp.csr_matrix(ofm.get_sparse_operator(H, n_qubits=n))
    idx = np.arange(2**n)
    bits = (idx[:, None] >> (n - 1 - np.arange(n))) & 1
    keep = (bits[:, 0::2].sum(1) == n_up) & (bits[:, 1::2].sum(1) == n_down)
    return np.linalg.eigvalsh(M[keep][:, keep].toarray())


@pytest.mark.parametrize(
    "lattice, of_args, fill",
    [
        (Chain(4, pbc=True), (4, 1, True), (2, 2)),  # even filling: boundary sign matters
        (Chain(5, pbc=True), (5, 1, True), (2, 3)),
        (Chain(5), (5, 1, False), (3, 2)),
        (Square(2, 2, pbc=True), (2, 2, True), (2, 2)),
        (Square(2, 3), (2, 3, False), (3, 3)),
    ],
)
def test_spectrum_matches_openfermion_fermi_hubbard(lattice, of_args, fill):
    t, U, mu = 1.3, 3.1, 0.4
    ours = sector_spectrum(Hubbard(lattice, t=t, U=U, mu=mu, n_up=fill[0], n_down=fill[1]))
    ref = openfermion_sector_spectrum(*of_args, t, U, mu, *fill)
    np.testing.assert_allclose(ours, ref, atol=1e-10)


@pytest.mark.parametrize("lattice", [Chain(4, pbc=True), Chain(6, pbc=True), Square(2, 3, pbc=(True, False))])
@pytest.mark.parametrize("n_up, n_down", [(1, 2), (2, 2), (3, 1)])
def test_free_fermions_closed_form(lattice, n_up, n_down):
    """U = 0: the ground energy is the sum of the lowest hopping-matrix eigenvalues per spin.

    With an even number of fermions on a periodic ring the Jordan-Wigner string
    flips the boundary sign in the spin language; a wrong fermionic sign would
    miss this reference.
    """
    n = lattice.n_sites
    T = np.zeros((n, n))
    for i, j in lattice.bonds(1):
        T[i, j] = T[j, i] = -1.0
    eps = np.linalg.eigvalsh(T)
    expected = eps[:n_up].sum() + eps[:n_down].sum()
    e0 = sector_spectrum(Hubbard(lattice, U=0.0, n_up=n_up, n_down=n_down))[0]
    assert e0 == pytest.approx(expected, abs=1e-10)


def test_chain_reference_l8():
    model = Hubbard(Chain(8))
    res = mb.solve(model, backend="exact")
    assert model.reference_energy == -4.235806999129688
    assert res.energy == pytest.approx(model.reference_energy, abs=1e-10)


def test_chain_reference_l10():
    """20 qubits, sector dimension 63504: about 6 s of CPU."""
    model = Hubbard(Chain(10))
    res = mb.solve(model, backend="exact", observables=[])
    assert model.reference_energy == -5.380618820415
    assert res.energy == pytest.approx(model.reference_energy, abs=1e-9)


def test_observables_hellmann_feynman_and_sum_rules():
    lattice = Chain(6)
    n, U, dU = 6, 2.5, 1e-4
    res = mb.solve(Hubbard(lattice, U=U), backend="exact")
    e_plus = mb.solve(Hubbard(lattice, U=U + dU), backend="exact", observables=[]).energy
    e_minus = mb.solve(Hubbard(lattice, U=U - dU), backend="exact", observables=[]).energy
    D = res.observables["double_occupancy"].mean
    # dE/dU = sum_i <n_up n_down> = N * D
    assert D == pytest.approx((e_plus - e_minus) / (2 * dU) / n, abs=1e-7)
    counts = n - res.observables["charge_correlations"].axis  # pairs at distance r on an open chain
    n_tot = n
    charge = res.observables["charge_correlations"].mean
    spin = res.observables["spin_correlations"].mean
    # sum_{i<j} n_i n_j = (N_tot^2 - sum_i n_i^2) / 2, sum_i n_i^2 = N_tot + 2 N D
    assert np.dot(counts, charge) == pytest.approx((n_tot**2 - n_tot - 2 * n * D) / 2, abs=1e-10)
    # S^z_tot = 0: sum_{i<j} S^z_i S^z_j = -sum_i (S^z_i)^2 / 2 = -(N_tot - 2 N D) / 8
    assert np.dot(counts, spin) == pytest.approx(-(n_tot - 2 * n * D) / 8, abs=1e-10)
    assert spin[0] < 0  # antiferromagnetic nearest neighbours
    density = mb.solve(Hubbard(lattice, U=U), backend="exact", observables=["density"])
    np.testing.assert_allclose(density.observables["density"].mean, 1.0, atol=1e-10)  # particle-hole symmetry


def test_conventions_and_round_trip():
    model = Hubbard(Square(2, 3, pbc=(True, False)), t=0.7, U=5.0, mu=-0.2, n_up=2, n_down=3)
    assert model.n_qubits == 12 and model.qubits_per_site == 2
    assert list(model.qubit_order[:4]) == [0, 1, 2, 3]
    assert [c.name for c in model.constraints] == ["n_up", "n_down"]
    assert model.constraints[0].qubits == (0, 2, 4, 6, 8, 10)
    assert model.constraints[1].qubits == (1, 3, 5, 7, 9, 11)
    assert from_dict(model.to_dict()) == model
    sector_hamiltonian(model)  # raises if H leaves the (n_up, n_down) sector
    assert model.reference_energy is None
    assert Hubbard(Chain(8), mu=0.0).reference_energy == -4.235806999129688
    # single site: E = U n_up n_down - mu n
    assert sector_spectrum(Hubbard(Chain(1), U=3.0, mu=0.5, n_up=1, n_down=1))[0] == pytest.approx(2.0)


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_up"):
        Hubbard(Chain(5))
    with pytest.raises(ValueError, match="n_down must be in 0..4"):
        Hubbard(Chain(4), n_up=2, n_down=5)
    with pytest.raises(ValueError, match="n_up must be an integer >= 0"):
        Hubbard(Chain(4), n_up=-1, n_down=2)
    with pytest.raises(ValueError, match="U must be a finite real number"):
        Hubbard(Chain(4), U="big")
    with pytest.raises(ValueError, match="lattice must be"):
        Hubbard([0, 1])
    assert Hubbard(Triangular(2, 2), n_up=2, n_down=1).n_qubits == 8
