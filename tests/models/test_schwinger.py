"""Schwinger model against an explicit construction with gauge links and Gauss's law."""

import itertools

import numpy as np
import pytest

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.models import Schwinger, from_dict
from manybody.operators import of


def explicit_link_spectrum(n, x, mu, alpha, charges, total_charge, K):
    """Hamer et al.'s lattice Hamiltonian with explicit integer link fields L_0..L_{N-2}
    (truncated to |L| <= K), the literal hopping -i x (phi^dag_n U_n phi_{n+1} - h.c.)
    (U_n raises L_n by one), restricted to the states obeying Gauss's law
    L_n - L_{n-1} = Q_n + q_n at every site, with L_{-1} = 0 and the field beyond the
    last site fixed to total_charge + sum q."""
    q = np.asarray(charges if charges is not None else [0.0] * n)
    ferm = np.array(list(itertools.product((0, 1), repeat=n)))
    fields = np.array(list(itertools.product(range(-K, K + 1), repeat=n - 1)))
    occ = np.repeat(ferm, len(fields), axis=0)
    L = np.tile(fields, (len(ferm), 1))
    Q = occ - np.arange(n) % 2
    L_full = np.column_stack(
        [np.zeros(len(L)), L, np.full(len(L), total_charge + q.sum())]
    )  # L_{-1}..L_{N-1}
    ok = np.all(np.abs(np.diff(L_full, axis=1) - (Q + q)) < 1e-9, axis=1)
    occ, L = occ[ok], L[ok]
    index = {(tuple(o), tuple(l)): k for k, (o, l) in enumerate(zip(occ, L))}
    H = np.zeros((len(occ), len(occ)), dtype=complex)
    for k, (o, l) in enumerate(zip(occ, L)):
        H[k, k] = mu * np.sum((-1) ** np.arange(n) * o) + np.sum((l + alpha) ** 2)
        for site in range(n - 1):
            if o[site] == 0 and o[site + 1] == 1:  # phi^dag_site U phi_site+1 (adjacent modes: no JW sign)
                o2, l2 = o.copy(), l.copy()
                o2[site], o2[site + 1], l2[site] = 1, 0, l[site] + 1
                target = index.get((tuple(o2), tuple(l2)))
                assert target is not None, "link truncation K too small"
                H[target, k] += -1j * x
                H[k, target] += 1j * x
    return np.linalg.eigvalsh(H)


@pytest.mark.parametrize(
    "n, alpha, charges, total_charge",
    [
        (4, 0.0, None, 0),
        (4, 0.3, None, 1),
        (6, 0.15, None, 0),
        (6, 0.0, [0, 1, 0, 0, -1, 0], 0),  # a string between static charges at sites 1 and 4
    ],
)
def test_matches_explicit_gauge_links(n, alpha, charges, total_charge):
    x, mu = 0.9, 0.4
    model = Schwinger(n, x=x, mu=mu, alpha=alpha, charges=charges, total_charge=total_charge)
    H, _ = sector_hamiltonian(model)
    ref = explicit_link_spectrum(n, x, mu, alpha, charges, total_charge, K=n // 2)
    np.testing.assert_allclose(np.linalg.eigvalsh(H.toarray()), ref, atol=1e-10)


def test_martinez_spin_form():
    """W = (x/2) sum (XX + YY) - (mu/2) sum (-1)^n Z_n + sum_n (L_n + alpha)^2, with
    L_n = sum_{l<=n} [(1 - Z_l)/2 - (l mod 2)] (the docstring's spin form)."""
    n, x, mu, alpha = 6, 0.7, 0.3, 0.2
    Qop = of().QubitOperator
    W = Qop()
    for k in range(n - 1):
        W += Qop(f"X{k} X{k + 1}", x / 2) + Qop(f"Y{k} Y{k + 1}", x / 2)
    for k in range(n):
        W += Qop(f"Z{k}", -mu / 2 * (-1) ** k)
    for link in range(n - 1):
        Ln = Qop((), alpha)
        for l in range(link + 1):
            Ln += Qop((), 0.5 - l % 2) - Qop(f"Z{l}", 0.5)
        W += Ln * Ln
    ours = Schwinger(n, x=x, mu=mu, alpha=alpha).qubit_hamiltonian
    diff = ours - W
    assert max((abs(c) for c in diff.terms.values()), default=0.0) < 1e-12


def test_heavy_mass_and_string_observables():
    # x = 0, mu > 0: the bare vacuum, W = -mu N/2 + (N-1) alpha^2
    res = mb.solve(Schwinger(6, x=0.0, mu=2.0, alpha=0.25), backend="exact", observables="all")
    assert res.energy == pytest.approx(-2.0 * 3 + 5 * 0.25**2, abs=1e-12)
    np.testing.assert_allclose(res.observables["electric_field"].mean, 0.25, atol=1e-12)
    assert res.observables["particle_density"].mean == pytest.approx(0.0, abs=1e-12)
    # a static pair +1 (site 1) / -1 (site 4) with heavy matter: a unit string on links 1..3
    res = mb.solve(Schwinger(6, x=0.0, mu=2.0, charges=[0, 1, 0, 0, -1, 0]), backend="exact")
    np.testing.assert_allclose(res.observables["electric_field"].mean, [0, 1, 1, 1, 0], atol=1e-12)
    assert res.energy == pytest.approx(-6.0 + 3.0, abs=1e-12)


def test_round_trip_and_errors():
    model = Schwinger(8, x=2.0, mu=0.1, alpha=0.5, charges=[0, 1, 0, 0, 0, 0, -1, 0])
    assert from_dict(model.to_dict()) == model
    assert model.n_qubits == 8 and model.constraints[0].value == 4
    with pytest.raises(ValueError, match="n_sites must be even"):
        Schwinger(5)
    with pytest.raises(ValueError, match="charges must have one value per site"):
        Schwinger(4, charges=[1, -1])
    with pytest.raises(ValueError, match="total_charge must be in -2..2"):
        Schwinger(4, total_charge=3)
    with pytest.raises(ValueError, match="x must be a finite real number"):
        Schwinger(4, x="1")
