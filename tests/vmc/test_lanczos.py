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
from manybody.vmc.lanczos import _krylov, krylov_local_values, lanczos_step
from manybody.vmc.operators import FlipPlan

from .conftest import perturb


def _network_vector(model, state):
    """The network's amplitudes on the sector basis (exact summation)."""
    h, basis = sector_hamiltonian(model)
    vs = make_vstate(model, state.config, 64, 0, params=state.params)
    bits = basis.bits()
    return h, bits, np.exp(np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32))))


@pytest.mark.parametrize("symmetry", [None, ["reflection", "spin_flip"]], ids=["plain", "symmetrised"])
def test_krylov_local_values_equal_exact_diagonalisation(symmetry):
    """``e1 = (H psi)/psi`` and ``e2 = (H^2 psi)/psi`` of a random network (complex phase, no sign
    rule) on every configuration of the sector equal the sparse-matrix products to 1e-10."""
    model = Heisenberg(Chain(6, pbc=True), J2=0.3)
    config = {"n_qubits": 6, "d_model": 8, "n_heads": 2, "n_layers": 1, "symmetry": symmetry}
    vs = make_vstate(model, config, 64, 0)
    perturb(vs, 3, 0.3)
    h, basis = sector_hamiltonian(model)
    bits = basis.bits()
    psi = np.exp(np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32))))
    plan = FlipPlan([PauliTable.from_qubit_operator(model.problem.hamiltonian, 6)])  # float64 passes
    e1, e2, n_connected = krylov_local_values(vs, plan, bits, 16)
    assert n_connected == len(bits)
    hpsi = h @ psi
    np.testing.assert_allclose(e1, hpsi / psi, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(e2, (h @ hpsi) / psi, rtol=1e-10, atol=1e-10)


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


@pytest.fixture(scope="module")
def short_result():
    """A short, far from converged solve of the J1-J2 2x3 cluster without a sign rule."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mb.solve(
            Heisenberg(Square(2, 3), J2=0.5),
            backend="vmc",
            sign_rule="none",
            n_iter=10,
            n_samples=128,
            n_eval_samples=4096,
            progress=False,
            observables=[],
            lanczos_step=True,
        )


def test_lanczos_step_estimates_the_energy_of_its_state(short_result, tmp_path):
    """The estimate equals the energy of ``psi + alpha H psi`` summed over the sector at the
    estimated alpha (4 standard errors), which is below the network's summed energy and within
    1e-3 of the best step's; ``network_energy`` is ``result.energy`` (the same samples); the
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
    assert step.network_energy == pytest.approx(short_result.energy, abs=1e-12)
    assert step.n_samples == 4096 and step.v_score > 0
    exact_variance = exact_moments[1] - exact_moments[0] ** 2
    assert abs(short_result.variance / exact_variance - 1) < 0.15  # Re(e1) alone gives half of it
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
