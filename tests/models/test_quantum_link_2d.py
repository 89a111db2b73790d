"""2D U(1) quantum link model against a brute-force construction from link fields."""

import numpy as np
import pytest

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.models import QuantumLink2D, from_dict


def brute_force_spectrum(model):
    """H on the Gauss-law sector built from E_l = 1/2 - b_l and plaquettes found from the
    vertex coordinates (bottom, right, top, left links of each elementary square)."""
    lat, p = model.lattice, model.params
    links = lat.links
    index = {link: k for k, link in enumerate(links)}
    lx, ly = lat.Lx, lat.Ly
    px, py = (p["pbc"], p["pbc"]) if isinstance(p["pbc"], bool) else p["pbc"]
    plaquettes = []
    for y in range(ly if py else ly - 1):
        for x in range(lx if px else lx - 1):
            a, b = x + lx * y, (x + 1) % lx + lx * y
            c, d = (x + 1) % lx + lx * ((y + 1) % ly), x + lx * ((y + 1) % ly)
            # U_p raises E on bottom (a->b) and right (b->c), lowers it on top (d->c) and left (a->d)
            plaquettes.append(([index[(a, b)], index[(b, c)]], [index[(d, c)], index[(a, d)]]))
    n = len(links)
    states = np.arange(2**n)
    E = 0.5 - ((states[:, None] >> np.arange(n)) & 1)
    div = np.zeros((len(states), lat.n_sites))
    for k, (tail, head) in enumerate(links):
        div[:, tail] += E[:, k]
        div[:, head] -= E[:, k]
    phys = states[np.all(np.abs(div - np.asarray(p["charges"])) < 1e-9, axis=1)]
    where = {s: k for k, s in enumerate(phys)}
    H = np.zeros((len(phys), len(phys)))
    for raised, lowered in plaquettes:
        mask = sum(1 << l for l in raised + lowered)
        for s in phys:
            up = all((s >> l) & 1 for l in raised) and not any((s >> l) & 1 for l in lowered)
            down = not any((s >> l) & 1 for l in raised) and all((s >> l) & 1 for l in lowered)
            if up or down:
                H[where[s ^ mask], where[s]] -= p["J"]
                H[where[s], where[s]] += p["lam"]
    return np.linalg.eigvalsh(H)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(Lx=3, Ly=3, J=1.0, lam=0.3),
        dict(Lx=3, Ly=3, J=0.7, lam=-0.5, charges=[1, -1, 0, 0, 0, 0, 0, 0, 0]),
        dict(Lx=3, Ly=2, J=1.0, lam=0.2, pbc=False, charges=[0, 0.5, 0, 0, -0.5, 0]),
        dict(
            Lx=3, Ly=3, J=1.0, lam=0.1, pbc=(True, False), charges=[0.5, 0.5, 0.5, 0, 0, 0, -0.5, -0.5, -0.5]
        ),
    ],
)
def test_spectrum_matches_brute_force(kwargs):
    model = QuantumLink2D(**kwargs)
    H, _ = sector_hamiltonian(model)
    np.testing.assert_allclose(np.linalg.eigvalsh(H.toarray()), brute_force_spectrum(model), atol=1e-10)


def test_rokhsar_kivelson_point():
    """lam = J: H = J sum_p [P_flip - (U + U^dag)] >= 0 with a zero-energy ground state."""
    model = QuantumLink2D(3, 3, J=0.8, lam=0.8)
    assert model.reference_energy == 0.0
    res = mb.solve(model, backend="exact")
    assert res.energy == pytest.approx(0.0, abs=1e-10)
    # every term P_flip - (U + U^dag) >= 0 has zero expectation in a zero-energy state
    assert res.observables["plaquette"].mean == pytest.approx(res.observables["flippability"].mean, abs=1e-10)


def test_errors_and_round_trip():
    model = QuantumLink2D(
        3, 4, J=1.0, lam=-0.25, pbc=(True, False), charges=[0.5] * 3 + [0.0] * 6 + [-0.5] * 3
    )
    assert from_dict(model.to_dict()) == model
    assert model.n_qubits == 21 and sorted(model.qubit_order) == list(range(21))
    assert model.reference_energy is None
    with pytest.raises(ValueError, match="open edges need half-integer charges"):
        QuantumLink2D(3, 3, pbc=False)
    with pytest.raises(ValueError, match="charges must sum to zero"):
        QuantumLink2D(3, 3, charges=[1] + [0] * 8)
    with pytest.raises(ValueError, match=r"charges\[0\] = 3.0 cannot be reached"):
        QuantumLink2D(3, 3, charges=[3, -3] + [0] * 7)
    with pytest.raises(ValueError, match="one value per vertex"):
        QuantumLink2D(3, 3, charges=[0, 0])
    with pytest.raises(ValueError, match="Lx must be >= 3 on a periodic direction"):
        QuantumLink2D(2, 3)
