"""The exact backend against literature values and an independent dense construction."""

import numpy as np
import pytest
import scipy.sparse as sp

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.sector import SectorBasis


@pytest.mark.parametrize(
    "model, reference",
    [
        # Lanczos ground state of the open chain, L = 20 (also reached by converged DMRG).
        (Heisenberg(Chain(20)), -8.682473334398976),
        # 4x4 periodic ED (Schulz, Ziman, Poilblanc, J. Phys. I 6, 675 (1996)).
        (Heisenberg(Square(4, 4, pbc=True)), -11.22848320842887),
        (Heisenberg(Square(4, 4, pbc=True), J2=0.5), -8.457923351394856),
    ],
)
def test_literature_energies(model, reference):
    res = mb.solve(model, backend="exact", observables=[])
    assert res.energy == pytest.approx(reference, abs=1e-10)
    assert res.energy_error == 0.0
    assert abs(res.variance) < 1e-9
    assert model.reference_energy == reference


def test_two_site_singlet_closed_form():
    """Two spins: E = -3J/4 (singlet), <S_0.S_1> = -3/4."""
    res = mb.solve(Heisenberg(Chain(2), J=1.7), observables="spin_correlations")
    assert res.energy == pytest.approx(-0.75 * 1.7, abs=1e-12)
    assert res.observables["spin_correlations"].mean[0] == pytest.approx(-0.75, abs=1e-12)


def test_sector_matrix_matches_openfermion_dense(openfermion_matrix):
    """A Hamiltonian with Y, DM and field terms, restricted to S^z = 0, equals
    OpenFermion's full matrix restricted to the same basis states."""
    model = Heisenberg(
        Chain(6, pbc=True), J=1.0, J2=0.3, Delta=0.7, D=0.4, fields=[0.1 * i for i in range(6)]
    )
    H, basis = sector_hamiltonian(model)
    full = openfermion_matrix(model.qubit_hamiltonian, 6)
    ref = full[np.ix_(basis.states, basis.states)]
    assert np.allclose(H.toarray(), ref, atol=1e-13)
    # The sector is invariant: no amplitude leaves it.
    outside = np.setdiff1d(np.arange(64), basis.states)
    assert np.abs(full[np.ix_(outside, basis.states)]).max() < 1e-13


def test_unconstrained_spectrum_and_excited_states(openfermion_matrix):
    model = Heisenberg(Chain(5), h=0.3, sz=None)
    res = mb.solve(model, backend="exact", n_states=4)
    full = openfermion_matrix(model.qubit_hamiltonian, 5)
    assert np.allclose(res.info["energies"], np.linalg.eigvalsh(full)[:4], atol=1e-10)


def test_observables_match_dense_expectations(openfermion_matrix):
    model = Heisenberg(Square(3, 2), J2=0.2)
    res = mb.solve(model, backend="exact", observables=["sz_correlations", "structure_factor"])
    full = openfermion_matrix(model.qubit_hamiltonian, 6)
    w, v = np.linalg.eigh(full)
    assert w[1] - w[0] > 1e-6, "test needs a non-degenerate ground state"
    psi = v[:, 0]
    fam = model.observable("structure_factor")
    for k, member in enumerate(fam.members):
        ref = np.vdot(psi, openfermion_matrix(member.qubit_operator, 6) @ psi).real
        assert res.observables["structure_factor"].mean[k] == pytest.approx(ref, abs=1e-10)
    # S(q = 0) = |S_total|^2 / N = 0 in the singlet ground state.
    assert res.observables["structure_factor"].mean[0] == pytest.approx(0.0, abs=1e-10)


def test_sector_basis_dimension_and_bits():
    from math import comb

    basis = SectorBasis(10, Heisenberg(Chain(10)).constraints)
    assert basis.dim == comb(10, 5)
    assert np.all(basis.bits().sum(axis=1) == 5)


def test_bethe_ansatz_trend_periodic_chain():
    """Periodic chains approach the Bethe-ansatz energy per site 1/4 - ln 2 with a
    1/L^2 correction (conformal field theory): extrapolate L = 12, 16 to L -> infinity."""
    e = {L: mb.solve(Heisenberg(Chain(L, pbc=True)), observables=[]).energy_per_site for L in (12, 16)}
    e_inf = (16**2 * e[16] - 12**2 * e[12]) / (16**2 - 12**2)
    assert e_inf == pytest.approx(0.25 - np.log(2), abs=2e-4)


def test_non_conserving_hamiltonian_is_reported():
    model = Heisenberg(Chain(4), D=(0.3, 0.0, 0.0), sz=None)
    with pytest.raises(ValueError, match="does not conserve"):
        sector_hamiltonian(model, SectorBasis(4, Heisenberg(Chain(4)).constraints))


def test_sparse_matrix_is_hermitian_and_real_for_real_model():
    H, _ = sector_hamiltonian(Heisenberg(Square(3, 3), J2=0.5))
    assert H.dtype == np.float64
    assert sp.linalg.norm(H - H.T) < 1e-14
