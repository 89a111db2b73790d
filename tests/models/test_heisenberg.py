"""Heisenberg family against closed forms: XXZ dimer with DM, Majumdar-Ghosh, XX free fermions."""

import numpy as np
import pytest

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Graph, Square
from manybody.models import Heisenberg, from_dict


def spectrum(model):
    H, _ = sector_hamiltonian(model)
    return np.linalg.eigvalsh(H.toarray())


def test_xxz_dimer_with_dm_closed_form():
    """Two spins, S^z = 0 block: -J Delta/4 +- sqrt(J^2 + Dz^2)/2 (the DM term rotates the XY
    coupling); S^z = +-1: J Delta/4 -+ h."""
    J, Delta, Dz, h = 1.3, 0.6, 0.8, 0.25
    lat = Chain(2)
    e0 = spectrum(Heisenberg(lat, J=J, Delta=Delta, D=Dz, h=h, sz=0))
    r = np.sqrt(J**2 + Dz**2) / 2
    np.testing.assert_allclose(e0, [-J * Delta / 4 - r, -J * Delta / 4 + r], atol=1e-12)
    assert spectrum(Heisenberg(lat, J=J, Delta=Delta, D=Dz, h=h, sz=1))[0] == pytest.approx(J * Delta / 4 - h)
    assert spectrum(Heisenberg(lat, J=J, Delta=Delta, D=Dz, h=h, sz=-1))[0] == pytest.approx(
        J * Delta / 4 + h
    )


def test_in_plane_dm_dimer():
    """D along x (breaks S^z conservation): the full 4x4 spectrum of
    J S1.S2 + Dx (S1y S2z - S1z S2y) built from spin matrices, spin 1 on qubit 0."""
    J, Dx = 1.0, 0.7
    sx = np.array([[0, 1], [1, 0]]) / 2
    sy = np.array([[0, -1j], [1j, 0]]) / 2
    sz = np.diag([0.5, -0.5])
    S1 = [np.kron(np.eye(2), s) for s in (sx, sy, sz)]  # qubit 0 is the least significant bit
    S2 = [np.kron(s, np.eye(2)) for s in (sx, sy, sz)]
    H = J * sum(a @ b for a, b in zip(S1, S2)) + Dx * (S1[1] @ S2[2] - S1[2] @ S2[1])
    ours = spectrum(Heisenberg(Chain(2), J=J, D=(Dx, 0.0, 0.0), sz=None))
    np.testing.assert_allclose(ours, np.linalg.eigvalsh(H), atol=1e-12)


def test_majumdar_ghosh_point():
    """J2 = J/2 on an even periodic chain: dimer product ground state, E0 = -3 J L / 8."""
    res = mb.solve(Heisenberg(Chain(10, pbc=True), J=1.0, J2=0.5), backend="exact", observables=[])
    assert res.energy == pytest.approx(-3 * 10 / 8, abs=1e-10)


@pytest.mark.parametrize("L, sz", [(8, 0.0), (9, 0.5), (10, 1.0)])
def test_xx_chain_free_fermions(L, sz):
    """Delta = 0, open chain: spinless fermions with hopping J/2 (Jordan-Wigner); with
    n = L/2 - sz down spins, E0 = sum of the n lowest J cos(pi k / (L+1))."""
    J = 1.4
    eps = np.sort(J * np.cos(np.pi * np.arange(1, L + 1) / (L + 1)))
    n = int(round(L / 2 - sz))
    e0 = spectrum(Heisenberg(Chain(L), J=J, Delta=0.0, sz=sz))[0]
    assert e0 == pytest.approx(eps[:n].sum(), abs=1e-10)


def test_site_fields_decoupled_spins():
    fields = [0.3, -0.2, 0.5]
    e = spectrum(Heisenberg(Graph([], n_sites=3), J=0.0, h=0.1, fields=fields, sz=None))
    assert e[0] == pytest.approx(-sum(abs(0.1 + f) for f in fields) / 2)


def test_round_trip_and_errors():
    model = Heisenberg(Square(3, 2), J=1.0, J2=0.2, D=(0.0, 0.0, 0.1), fields=[0.1] * 6, sz=1.0)
    assert from_dict(model.to_dict()) == model
    with pytest.raises(ValueError, match="in-plane DM"):
        Heisenberg(Chain(4), D=(0.1, 0.0, 0.0))
    with pytest.raises(ValueError, match="fields must have one value per site"):
        Heisenberg(Chain(4), fields=[0.1])
    with pytest.raises(ValueError, match="not a sector"):
        Heisenberg(Chain(4), sz=0.5)
