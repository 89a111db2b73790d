"""SYK: normalisation, Tr(H^2) closed form, explicit Majorana matrices, disorder averages."""

import itertools
import math
from functools import reduce

import numpy as np
import pytest

from manybody.exact import sector_hamiltonian
from manybody.models import SYK, from_dict
from manybody.models.syk import syk_couplings
from manybody.operators import of

I2, X, Y, Z = np.eye(2), np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])


def explicit_chis(n_qubits):
    """chi_i = gamma_i / sqrt(2) as dense matrices, qubit 0 the least significant bit:
    gamma_2q = Z..Z X_q, gamma_2q+1 = Z..Z Y_q."""

    def on(ops):  # ops[q] acts on qubit q; kron with the highest qubit first
        return reduce(np.kron, [ops.get(q, I2) for q in reversed(range(n_qubits))])

    chis = []
    for q in range(n_qubits):
        for p in (X, Y):
            chis.append(on({**{k: Z for k in range(q)}, q: p}) / np.sqrt(2))
    return chis


def full_spectrum(model):
    H, _ = sector_hamiltonian(model)
    return np.linalg.eigvalsh(H.toarray())


def test_matches_explicit_majorana_matrices():
    n = 8
    model = SYK(n, J=1.3, seed=7, parity=None)
    chis = explicit_chis(n // 2)
    for i in range(n):
        for j in range(n):
            np.testing.assert_allclose(
                chis[i] @ chis[j] + chis[j] @ chis[i], np.eye(16) * (i == j), atol=1e-14
            )
    H_ref = sum(
        c * chis[i] @ chis[j] @ chis[k] @ chis[l]
        for (i, j, k, l), c in zip(itertools.combinations(range(n), 4), model.params["couplings"])
    )
    H, basis = sector_hamiltonian(model)
    assert list(basis.states) == list(range(16))
    np.testing.assert_allclose(H.toarray(), H_ref, atol=1e-13)


@pytest.mark.parametrize("n", [6, 10, 14])
def test_trace_of_h_squared_closed_form(n):
    """Tr(H^2)/2^(N/2) = sum_P c_P^2 over Pauli strings = sum J_ijkl^2 / 16, and Tr H = 0."""
    model = SYK(n, seed=3, parity=None)
    expected = np.sum(np.asarray(model.params["couplings"]) ** 2) / 16
    qop = model.qubit_hamiltonian
    assert sum(abs(c) ** 2 for c in qop.terms.values()) == pytest.approx(expected, rel=1e-12)
    assert model.e_inf == 0.0
    if n <= 10:
        dense = of().get_sparse_operator(qop, n_qubits=n // 2).toarray()
        assert np.trace(dense @ dense).real / 2 ** (n // 2) == pytest.approx(expected, rel=1e-12)


def test_coupling_statistics_and_order():
    n, J = 16, 1.5
    model = SYK(n, J=J, seed=11)
    c = np.asarray(model.params["couplings"])
    np.testing.assert_array_equal(c, syk_couplings(n, J, 11))
    np.testing.assert_array_equal(
        c, np.sqrt(6 * J**2 / n**3) * np.random.default_rng(11).standard_normal(math.comb(n, 4))
    )
    # sample variance of 1820 Gaussians: relative standard error sqrt(2/1820) = 3.3 %
    assert np.var(c) / (6 * J**2 / n**3) == pytest.approx(1.0, abs=4 * np.sqrt(2 / len(c)))
    assert abs(np.mean(c)) < 4 * np.sqrt(6 * J**2 / n**3 / len(c))
    assert not np.array_equal(c, SYK(n, J=J, seed=12).params["couplings"])


def test_round_trip_and_explicit_couplings():
    model = SYK(10, J=0.7, seed=5, parity=1)
    again = from_dict(model.to_dict())
    assert again == model and again.qubit_hamiltonian == model.qubit_hamiltonian
    # 2 chi0 chi1 chi2 chi3 = (2/4) (gamma0 gamma1)(gamma2 gamma3) = (1/2)(i Z0)(i Z1) = -Z0 Z1 / 2
    custom = SYK(4, couplings=[2.0], parity=None)
    assert custom.qubit_hamiltonian.terms == {((0, "Z"), (1, "Z")): -0.5}
    assert custom.to_dict()["couplings"] == [2.0]


def test_parity_sectors_partition_the_spectrum():
    n = 10
    both = full_spectrum(SYK(n, seed=2, parity=None))
    split = np.sort(np.concatenate([full_spectrum(SYK(n, seed=2, parity=p)) for p in (0, 1)]))
    np.testing.assert_allclose(split, both, atol=1e-12)


def disorder_average(n, seeds):
    e0 = [full_spectrum(SYK(n, seed=s, parity=None))[0] / n for s in seeds]
    return np.mean(e0), np.std(e0) / np.sqrt(len(e0))


@pytest.mark.parametrize("n", [8, 10, 12])
def test_disorder_averaged_ground_energy(n):
    """Finite-size E0/N lies near -0.045..-0.049 J (large-N limit ~ -0.04 J; Maldacena and
    Stanford 2016; García-García and Verbaarschot, PRD 94, 126010 (2016)), 16 seeds."""
    mean, err = disorder_average(n, range(16))
    assert -0.049 - 3 * err < mean < -0.045 + 3 * err


@pytest.mark.slow
@pytest.mark.parametrize("n", [14, 16])
def test_disorder_averaged_ground_energy_larger(n):
    mean, err = disorder_average(n, range(40))
    assert -0.049 - 3 * err < mean < -0.045 + 3 * err


def test_bad_parameters():
    with pytest.raises(ValueError, match="n_majoranas must be even"):
        SYK(9)
    with pytest.raises(ValueError, match="n_majoranas must be an integer >= 4"):
        SYK(2)
    with pytest.raises(ValueError, match="couplings must be 15 finite numbers"):
        SYK(6, couplings=[1.0] * 5)
    with pytest.raises(ValueError, match="parity must be 0, 1 or None"):
        SYK(8, parity=2)
    with pytest.raises(ValueError, match="J must be a finite real number >= 0"):
        SYK(8, J=-1.0)
