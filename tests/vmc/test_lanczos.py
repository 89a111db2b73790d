"""One Lanczos step on a trained network (``manybody.vmc.lanczos``) against exact diagonalisation."""

from __future__ import annotations

import warnings

import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.pauli import PauliTable
from manybody.vmc import VMCOptions, make_vstate
from manybody.vmc.lanczos import KEEP, _krylov, krylov_vectors, lanczos_step, propose
from manybody.vmc.operators import FlipPlan

from .conftest import perturb


def _network_vector(model, state):
    """The network's amplitudes on the sector basis (exact summation)."""
    h, basis = sector_hamiltonian(model)
    vs = make_vstate(model, state.config, 64, 0, params=state.params)
    bits = basis.bits()
    return h, bits, np.exp(np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32))))


def _exact_proposal(h, psi):
    """``q(x) = KEEP |psi(x)|^2 + (1 - KEEP) sum_y |psi(y)|^2 |H_xy| / D(y)`` from the dense matrix."""
    off = np.abs(h.toarray())
    np.fill_diagonal(off, 0.0)
    density = np.abs(psi) ** 2
    return KEEP * density + (1 - KEEP) * off @ (density / off.sum(axis=0))


@pytest.fixture(scope="module")
def random_ring():
    """A random network (complex phase, no sign rule) on the 6-ring at J2 = 0.3 and its sector."""
    model = Heisenberg(Chain(6, pbc=True), J2=0.3)
    h, basis = sector_hamiltonian(model)
    plan = FlipPlan([PauliTable.from_qubit_operator(model.problem.hamiltonian, 6)])  # float64 passes
    return model, h, basis.bits(), plan


@pytest.mark.parametrize("symmetry", [None, ["reflection", "spin_flip"]], ids=["plain", "symmetrised"])
def test_krylov_vectors_equal_exact_diagonalisation(random_ring, symmetry):
    """``psi``, ``H psi``, ``H^2 psi`` and the proposal density ``q`` of a random network on every
    configuration of the sector equal the sparse-matrix products (up to one common factor) to 1e-10."""
    model, h, bits, plan = random_ring
    config = {"n_qubits": 6, "d_model": 8, "n_heads": 2, "n_layers": 1, "symmetry": symmetry}
    vs = make_vstate(model, config, 64, 0)
    perturb(vs, 3, 0.3)
    psi_exact = np.exp(np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32))))
    psi, hpsi, h2psi, q, n_connected = krylov_vectors(vs, plan, bits, 16)
    assert n_connected == len(bits)
    scale = psi[0] / psi_exact[0]
    np.testing.assert_allclose(psi, scale * psi_exact, rtol=1e-10)
    np.testing.assert_allclose(hpsi, scale * (h @ psi_exact), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(h2psi, scale * (h @ (h @ psi_exact)), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(q, abs(scale) ** 2 * _exact_proposal(h, psi_exact), rtol=1e-10)


def test_krylov_vectors_warn_of_local_energies_out_of_range(random_ring, monkeypatch):
    """A local energy that overflowed (an amplitude ratio beyond floating point) is dropped with a
    warning that counts it, and the vectors stay finite."""
    import manybody.vmc.lanczos as lanczos

    model, h, bits, plan = random_ring
    vs = make_vstate(model, {"n_qubits": 6, "d_model": 8, "n_heads": 2, "n_layers": 1}, 64, 0)
    real_local_values = lanczos.local_values

    def overflowing(*args):
        values = real_local_values(*args)
        values[0, 0] = np.inf
        return values

    monkeypatch.setattr(lanczos, "local_values", overflowing)
    with pytest.warns(RuntimeWarning, match="1 of 20 configurations"):
        vectors = krylov_vectors(vs, plan, bits, 16)
    assert all(np.all(np.isfinite(v)) for v in vectors[:4])


def test_proposal_draws_from_q(random_ring):
    """Exact samples of ``|psi|^2`` moved by ``propose`` follow ``q`` (chi-square, p > 1e-4)."""
    import scipy.stats

    model, h, bits, plan = random_ring
    rng = np.random.default_rng(1)
    psi = rng.normal(size=len(bits)) * np.exp(rng.normal(size=len(bits)))
    density = psi**2 / np.sum(psi**2)
    samples = bits[rng.choice(len(bits), size=200_000, p=density)]
    points = propose(plan, samples, rng)
    index = {tuple(b): i for i, b in enumerate(bits)}
    observed = np.bincount([index[tuple(p)] for p in points], minlength=len(bits))
    expected = len(points) * _exact_proposal(h, psi) / np.sum(_exact_proposal(h, psi))
    statistic = np.sum((observed - expected) ** 2 / expected)
    assert statistic < scipy.stats.chi2.ppf(1 - 1e-4, len(bits) - 1)
    assert np.mean(np.any(points != samples, axis=1)) == pytest.approx(1 - KEEP, abs=0.01)


def test_krylov_formulas_equal_the_two_by_two_eigenproblem():
    """Energy, step and variance from the moments equal the generalised eigenproblem in
    ``{psi, H psi}`` and the variance of ``psi + alpha H psi`` (dense algebra, 1e-10)."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 30))
    h = (a + a.T) / 2
    psi = rng.normal(size=30)
    psi /= np.linalg.norm(psi)
    hp = h @ psi
    mu = np.array([psi @ hp, hp @ hp, hp @ h @ hp, (h @ hp) @ (h @ hp)])
    energy, alpha, variance = _krylov(mu)
    gram = np.array([[1, mu[0]], [mu[0], mu[1]]])
    w, v = scipy.linalg.eigh(np.array([[mu[0], mu[1]], [mu[1], mu[2]]]), gram)
    assert abs(energy - w[0]) < 1e-10
    assert abs(alpha - v[1, 0] / v[0, 0]) < 1e-10
    z = psi + alpha * hp
    z /= np.linalg.norm(z)
    assert abs(energy - z @ h @ z) < 1e-10
    assert abs(variance - (z @ h @ h @ z - (z @ h @ z) ** 2)) < 1e-10
    c = 0.7  # the moments of H - c give the same step
    hc = hp - c * psi
    shifted = np.array([psi @ hc, hc @ hc, hc @ (h @ hc - c * hc), (h @ hc - c * hc) @ (h @ hc - c * hc)])
    np.testing.assert_allclose(_krylov(shifted, c), (energy, alpha, variance), rtol=1e-10, atol=1e-10)


def _short_solve(model, **options):
    """A short, far from converged vmc solve (4096 evaluation samples), warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mb.solve(model, backend="vmc", n_eval_samples=4096, progress=False, observables=[], **options)


@pytest.fixture(scope="module")
def short_result():
    """The J1-J2 2x3 cluster without a sign rule, 10 iterations, with the solve's Lanczos step."""
    return _short_solve(
        Heisenberg(Square(2, 3), J2=0.5), sign_rule="none", n_iter=10, n_samples=128, lanczos_step=True
    )


def test_lanczos_step_estimates_the_energy_of_its_state(short_result, tmp_path):
    """The estimate equals the energy of ``psi + alpha H psi`` summed over the sector at the
    estimated alpha (4 standard errors), which is below the network's summed energy and within
    1e-3 of the best step's; ``network_energy`` agrees with the network's summed energy; the
    solve's ``lanczos_step=True`` reported the same step; a saved and reloaded result gives it too.
    The network's variance (complex local energies: no sign rule) is the exact one within 15 %."""
    model = short_result.model_object
    step = lanczos_step(short_result)
    h, _, psi = _network_vector(model, short_result.state)

    def energy(z):
        return np.vdot(z, h @ z).real / np.vdot(z, z).real

    summed = energy(psi + step.alpha * (h @ psi))
    assert abs(step.energy - summed) < 4 * step.energy_error
    assert summed < energy(psi) - 0.5  # a rough network: the step gains much
    exact_moments = np.array(
        [
            energy(psi),
            *[
                np.vdot(v, w).real / np.vdot(psi, psi).real
                for v, w in ((h @ psi, h @ psi), (h @ psi, h @ (h @ psi)), (h @ (h @ psi), h @ (h @ psi)))
            ],
        ]
    )
    assert summed - _krylov(exact_moments)[0] < 1e-3
    assert abs(step.network_energy - energy(psi)) < 4 * step.network_energy_error
    assert step.n_samples == 4096 and step.v_score > 0
    exact_variance = exact_moments[1] - exact_moments[0] ** 2
    assert abs(short_result.variance / exact_variance - 1) < 0.15  # Re(e1) alone gives half of it
    assert abs(step.network_variance / exact_variance - 1) < 0.15
    assert short_result.info["lanczos_step"] == pytest.approx(step.to_dict(), abs=1e-10)
    assert "one Lanczos step" in short_result.summary()
    short_result.save(tmp_path / "run")
    again = lanczos_step(mb.Result.load(tmp_path / "run"))
    assert again.energy == pytest.approx(step.energy, abs=1e-10)


def test_lanczos_step_draws_fresh_samples(short_result):
    """``n_samples`` and ``seed`` draw new exact samples: the estimate agrees with the summed
    energy of its own step (4 standard errors); the same seed gives the same samples."""
    step = lanczos_step(short_result, n_samples=2048, seed=5)
    assert lanczos_step(short_result, n_samples=2048, seed=6).energy != step.energy
    assert lanczos_step(short_result, n_samples=2048, seed=5).energy == step.energy
    h, _, psi = _network_vector(short_result.model_object, short_result.state)
    z = psi + step.alpha * (h @ psi)
    assert step.n_samples == 2048
    assert abs(step.energy - np.vdot(z, h @ z).real / np.vdot(z, z).real) < 4 * step.energy_error


def test_lanczos_step_refuses_bad_input(short_result):
    exact = mb.solve(Heisenberg(Chain(4)), backend="exact", observables=[])
    with pytest.raises(ValueError, match="backend='vmc'.*'exact'"):
        lanczos_step(exact)
    with pytest.raises(ValueError, match="n_samples must be an integer >= 64 or None"):
        lanczos_step(short_result, n_samples=10)
    with pytest.raises(ValueError, match="seed must be an integer >= 0 or None"):
        lanczos_step(short_result, seed=-1)
    with pytest.raises(ValueError, match="lanczos_step"):
        VMCOptions(lanczos_step="yes")


@pytest.mark.slow
def test_lanczos_step_on_every_model_family(small_model):
    """Every model family (constraints, fermions, complex couplings): after a 5-iteration solve
    the step's estimate agrees with the energy of ``psi + alpha H psi`` summed over the sector
    (4 standard errors) and lies below the network's summed energy."""
    res = _short_solve(small_model, n_iter=5, n_samples=64)
    step = lanczos_step(res)
    h, _, psi = _network_vector(small_model, res.state)
    z = psi + step.alpha * (h @ psi)
    summed = np.vdot(z, h @ z).real / np.vdot(z, z).real
    assert abs(step.energy - summed) < 4 * step.energy_error
    assert summed < np.vdot(psi, h @ psi).real / np.vdot(psi, psi).real


def test_a_failed_step_keeps_the_trained_network(monkeypatch):
    """If the step fails after training, solve still returns the network's result, with the error
    in ``info["lanczos_step"]`` and a warning."""
    import manybody.vmc.lanczos as lanczos

    def fail(state, model):
        raise MemoryError("no room")

    monkeypatch.setattr(lanczos, "lanczos_step_of_state", fail)
    with pytest.warns(RuntimeWarning, match="Lanczos step failed.*MemoryError: no room"):
        res = mb.solve(
            Heisenberg(Chain(4)),
            backend="vmc",
            n_iter=2,
            n_samples=64,
            progress=False,
            observables=[],
            lanczos_step=True,
        )
    assert np.isfinite(res.energy) and res.state is not None
    assert res.info["lanczos_step"] == {"error": "MemoryError: no room"}
    assert "Lanczos" not in res.summary().split("warning")[0]
