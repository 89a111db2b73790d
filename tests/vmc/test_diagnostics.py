"""Collapse detection and the convergence verdict of a VMC run.

The support check is compared with the dense Hamiltonian (exact energy and variance of a state
given by its amplitudes); the verdict with synthetic energy traces whose drift is known."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg
from manybody.vmc.diagnostics import (
    DRIFT_MAX,
    V_SCORE_MAX,
    convergence_verdict,
    coverage_check,
    error_bar_is_short,
    is_collapsed,
    support_check,
)
from manybody.vmc.operators import to_pauli_strings


@pytest.fixture(scope="module")
def chain4():
    model = Heisenberg(Chain(4))
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    return model, hamiltonian, hamiltonian.to_dense()


def _log_value(amplitudes: dict, n_qubits: int):
    """log psi of a state with the given amplitudes {bits tuple: amplitude} (else 0 amplitude)."""

    def log_value(configs):
        out = np.full(len(configs), -np.inf + 0j)
        for i, row in enumerate(np.asarray(configs, dtype=int)):
            amp = amplitudes.get(tuple(row))
            if amp is not None:
                out[i] = np.log(complex(amp))
        return out

    return log_value


def _dense_moments(hamiltonian, h, amplitudes, n):
    psi = np.zeros(2**n, dtype=complex)
    for bits, amp in amplitudes.items():
        psi[int(hamiltonian.hilbert.states_to_numbers(np.array(bits)))] = amp
    psi /= np.linalg.norm(psi)
    energy = np.vdot(psi, h @ psi).real
    return energy, np.vdot(h @ psi, h @ psi).real - energy**2


def test_support_of_a_single_configuration_gives_its_exact_variance(chain4):
    model, hamiltonian, h = chain4
    bits = (1, 0, 1, 1)
    samples = np.tile(bits, (64, 1))
    out = support_check(samples, _log_value({bits: 1.0}, 4), hamiltonian)
    energy, variance = _dense_moments(hamiltonian, h, {bits: 1.0}, 4)
    assert out["n_distinct_samples"] == 1 and out["unseen_probability"] == 0
    assert out["sampled_probability"] == pytest.approx(1.0, abs=1e-14)
    assert out["support_energy"] == pytest.approx(energy, abs=1e-12)
    assert out["support_variance"] == pytest.approx(variance, abs=1e-12) and variance > 0.1
    assert is_collapsed(out, variance=1e-30)


def test_support_of_the_exact_ground_state_has_zero_variance(chain4):
    model, hamiltonian, h = chain4
    # the ground state of the S^z = 0 sector
    in_sector = [i for i in range(16) if bin(i).count("1") == 2]
    sub = h[np.ix_(in_sector, in_sector)]
    e0, v = np.linalg.eigh(sub)
    psi = v[:, 0]
    amplitudes = {tuple((i >> q) & 1 for q in range(4)): psi[k] for k, i in enumerate(in_sector)}
    rng = np.random.default_rng(0)
    probs = np.abs(psi) ** 2
    picks = rng.choice(len(in_sector), size=4096, p=probs / probs.sum())
    samples = np.array([list(tuple((in_sector[k] >> q) & 1 for q in range(4))) for k in picks])
    out = support_check(samples, _log_value(amplitudes, 4), hamiltonian)
    assert out["support_energy"] == pytest.approx(e0[0], abs=1e-12)
    assert out["support_variance"] == pytest.approx(0.0, abs=1e-12)
    assert not is_collapsed(out, variance=0.0)


def test_support_check_skips_when_configurations_were_seen_once(chain4):
    model, hamiltonian, _ = chain4
    samples = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0], [1, 0, 0, 1]])
    out = support_check(samples, _log_value({}, 4), hamiltonian)
    assert out["unseen_probability"] == 0.5 and out["support_variance"] is None
    assert not is_collapsed(out, variance=0.0)


def _rare_configuration_state(hamiltonian, h, n):
    """Near the S^z = 0 ground state, one configuration's amplitude shrunk 30x (probability
    ~1e-4): the local energy is nearly constant except there. Returns the sector's configurations
    (bits), psi on them (normalised), their probabilities and exact local energies, and the index
    of the rare one."""
    sector = [i for i in range(2**n) if bin(i).count("1") == n // 2]
    states = np.array([[(i >> q) & 1 for q in range(n)] for i in sector])
    index = hamiltonian.hilbert.states_to_numbers(states)
    psi = np.linalg.eigh(h[np.ix_(index, index)])[1][:, 0]
    psi[0] /= 30
    psi /= np.linalg.norm(psi)
    full = np.zeros(2**n, dtype=complex)
    full[index] = psi
    e_loc = (h @ full)[index] / psi
    return states, psi, np.abs(psi) ** 2, e_loc, 0


def test_coverage_check_finds_the_variance_of_a_missed_rare_configuration():
    n = 6
    model = Heisenberg(Chain(n))
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, n)
    h = hamiltonian.to_dense()
    states, psi, prob, e_loc, rare = _rare_configuration_state(hamiltonian, h, n)
    energy = float(np.sum(prob * e_loc.real))
    exact_variance = float(np.sum(prob * np.abs(e_loc - energy) ** 2))
    amplitudes = {tuple(s): a for s, a in zip(states, psi)}
    local = {tuple(s): e for s, e in zip(states, e_loc)}
    log_value = _log_value(amplitudes, n)

    def local_energy(configs):
        return np.array([local[tuple(c)] for c in np.asarray(configs, dtype=int)])

    # 4096 exact samples that happen to miss the rare configuration (p ~ 1e-4)
    rng = np.random.default_rng(0)
    others = prob.copy()
    others[rare] = 0
    samples = states[rng.choice(len(states), size=4096, p=others / others.sum())]
    sampled = local_energy(samples).real
    out = coverage_check(samples, log_value, local_energy, hamiltonian.plan.masks, energy)
    seen = np.array([tuple(s) in {tuple(x) for x in samples} for s in states])
    # the exact enumeration: every unseen configuration of the sector neighbours a sample here
    assert out["missing_probability"] == pytest.approx(prob[~seen].sum(), rel=1e-9, abs=1e-15)
    assert out["unseen_neighbours"] == (~seen).sum() >= 1
    reference = float(np.sum(prob[~seen] * np.abs(e_loc[~seen] - energy) ** 2))
    assert out["unseen_variance"] == pytest.approx(reference, rel=1e-9)
    # the sampled variance misses most of the exact one; with the unseen part it is close
    assert sampled.var() < 0.2 * exact_variance < out["unseen_variance"]
    assert error_bar_is_short(out, sampled.var())
    assert sampled.var() + out["unseen_variance"] == pytest.approx(exact_variance, rel=0.1)
    # samples that include the rare configuration: nothing unseen, nothing flagged
    covered = np.concatenate([samples, states])
    full = coverage_check(covered, log_value, local_energy, hamiltonian.plan.masks, energy)
    assert full["unseen_neighbours"] == 0 and full["unseen_variance"] == 0.0
    assert full["missing_probability"] == pytest.approx(0.0, abs=1e-12)
    assert not error_bar_is_short(full, local_energy(covered).real.var())


def test_verdict_flags_a_drifting_energy():
    rng = np.random.default_rng(1)
    e_inf, n = 0.0, 200
    flat = -10 + 1e-4 * rng.standard_normal(n)
    drifting = flat + np.linspace(0.1, 0, n)  # 1e-2 of |E| over the run, far above the noise
    assert convergence_verdict(flat, -10.0, 1e-4, 8, e_inf)["converged"]
    verdict = convergence_verdict(drifting, -10.0, 1e-4, 8, e_inf)
    assert not verdict["converged"] and "still decreases" in verdict["convergence"]
    assert verdict["energy_drift"] > 3 * verdict["energy_drift_error"] and verdict["energy_drift"] > DRIFT_MAX


def test_verdict_flags_a_large_variance():
    energies = np.full(50, -10.0)
    variance = 2 * V_SCORE_MAX * 100 / 8  # V-score = 8 var / 10^2 = 2 V_SCORE_MAX
    verdict = convergence_verdict(energies, -10.0, variance, 8, 0.0)
    assert not verdict["converged"] and "V-score" in verdict["convergence"]
    assert verdict["v_score"] == pytest.approx(2 * V_SCORE_MAX)


def test_collapsed_run_is_reported_not_a_zero_variance_success():
    # issue 15: one huge step collapses |psi|^2 onto one configuration, E = 0.25 +- 1e-22 before
    model = Heisenberg(Chain(4))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = mb.solve(
            model,
            backend="vmc",
            n_iter=1,
            learning_rate=10,
            diag_shift=1e-6,
            diag_shift_final=1e-6,
            n_samples=64,
            n_eval_samples=256,
            sign_rule="none",
            d_model=8,
            n_layers=1,
            progress=False,
            observables=[],
        )
    assert res.info["collapsed"] and not res.info["converged"]
    assert any("collapsed" in str(w.message) for w in caught)
    assert res.info["warnings"] and "collapsed" in res.info["convergence"]
    assert "not converged: the distribution collapsed" in res.summary()
    assert "warning: VMC: |psi|^2 collapsed" in res.summary()
    # the reported variance is the exact one of the state on its support, not the sampled ~1e-33
    assert res.variance == pytest.approx(res.info["support_variance"]) and res.variance > 0.1
    assert res.energy_error >= np.sqrt(res.variance / 256) * (1 - 1e-12)
