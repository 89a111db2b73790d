"""1D U(1) quantum link model against a brute-force construction in the physical language."""

import numpy as np
import pytest

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.models import QuantumLink1D, from_dict


def brute_force_spectrum(n, t, m, pbc, fields):
    """Build H on the Gauss-law sector directly from occupations and link fields.

    Matter x on bit 2x (occupation), link (x, x+1) on bit 2x+1 with E = 1/2 - bit.
    Hop psi^dag_x S^+ psi_y: site x empty, y occupied, E = -1/2 -> all three flip,
    fermionic sign (-1)^(occupied matter sites strictly between x and y).
    """
    nq = 2 * n if pbc else 2 * n - 1
    n_links = n if pbc else n - 1
    states = np.arange(2**nq)
    bits = (states[:, None] >> np.arange(nq)) & 1
    occ, E = bits[:, 0::2], 0.5 - bits[:, 1::2]
    Q = occ - np.arange(n) % 2
    E_right = np.column_stack([E[:, x] if x < n_links else np.full(len(states), fields[1]) for x in range(n)])
    E_left = np.column_stack(
        [E[:, (x - 1) % n] if (x > 0 or pbc) else np.full(len(states), fields[0]) for x in range(n)]
    )
    phys = states[np.all(Q - (E_right - E_left) == 0, axis=1)]
    where = {s: k for k, s in enumerate(phys)}
    H = np.diag([m * sum((-1) ** x * ((s >> 2 * x) & 1) for x in range(n)) for s in phys]).astype(float)
    for k in range(n_links):
        x, y = k, (k + 1) % n
        for s in phys:
            if (s >> 2 * x) & 1 == 0 and (s >> 2 * y) & 1 == 1 and (s >> (2 * k + 1)) & 1 == 1:
                between = range(min(x, y) + 1, max(x, y))
                sign = (-1) ** sum((s >> 2 * z) & 1 for z in between)
                target = s ^ (1 << 2 * x) ^ (1 << 2 * y) ^ (1 << (2 * k + 1))
                H[where[target], where[s]] += -t * sign
                H[where[s], where[target]] += -t * sign
    return np.linalg.eigvalsh(H)


@pytest.mark.parametrize(
    "n, pbc, fields",
    [
        (4, False, (-0.5, -0.5)),
        (6, False, (-0.5, -0.5)),
        (5, False, (0.5, -0.5)),
        (4, True, None),
        (6, True, None),
    ],
)
def test_spectrum_matches_brute_force(n, pbc, fields):
    t, m = 0.8, 0.35
    model = QuantumLink1D(n, t=t, m=m, pbc=pbc, boundary_fields=fields)
    H, _ = sector_hamiltonian(model)
    np.testing.assert_allclose(
        np.linalg.eigvalsh(H.toarray()), brute_force_spectrum(n, t, m, pbc, fields), atol=1e-10
    )


def test_heavy_mass_vacuum():
    """t = 0, m > 0: the bare vacuum (even sites empty, odd filled), E = -m N/2, no particles,
    and the field fixed by the left boundary on every link."""
    model = QuantumLink1D(6, t=0.0, m=1.5)
    res = mb.solve(model, backend="exact", observables="all")
    assert res.energy == pytest.approx(-1.5 * 3, abs=1e-12)
    assert res.observables["particle_density"].mean == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(res.observables["electric_field"].mean, -0.5, atol=1e-12)
    np.testing.assert_allclose(res.observables["charge"].mean, 0.0, atol=1e-12)


def test_layout_and_errors():
    model = QuantumLink1D(4, t=1.0, m=0.2)
    assert model.n_qubits == 7 and model.links == [(0, 1), (1, 2), (2, 3)]
    assert list(model.qubit_order) == list(range(7))
    assert model.constraints[1].qubits == (2, 3, 1) and model.constraints[1].weights == (1.0, 1.0, -1.0)
    assert from_dict(model.to_dict()) == model
    ring = QuantumLink1D(4, pbc=True, boundary_fields=None)
    assert ring.n_qubits == 8 and ring.constraints[0].qubits == (0, 1, 7)
    assert from_dict(ring.to_dict()) == ring
    with pytest.raises(ValueError, match="needs fixed boundary_fields"):
        QuantumLink1D(4, boundary_fields=None)
    with pytest.raises(ValueError, match="boundary_fields must be two values"):
        QuantumLink1D(4, boundary_fields=(1.0, 0.5))
    with pytest.raises(ValueError, match="open chains only"):
        QuantumLink1D(4, pbc=True)
    with pytest.raises(ValueError, match="even on a ring"):
        QuantumLink1D(5, pbc=True, boundary_fields=None)
    with pytest.raises(ValueError, match="n_sites must be an integer >= 2"):
        QuantumLink1D(1)
