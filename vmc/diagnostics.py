"""Checks of a finished VMC run: a collapsed distribution, short error bars and a convergence verdict.

Collapse
--------
An optimisation step that is too large can concentrate ``|psi|^2`` on a few
configurations. The Monte Carlo estimators then see only those configurations:
the local energy ``E_loc(b) = sum_b' H_bb' psi(b') / psi(b)`` is the same for
every sample and the sampled variance is ~0, although the state is far from an
eigenstate (its true variance is ``sum_b' |H_b'b|^2 - H_bb^2`` for a single
configuration ``b``). :func:`support_check` detects it:

* ``n_distinct_samples`` and the Good-Turing estimate of the probability of the
  configurations never sampled, ``unseen_probability = n_1 / n`` (``n_1``: the
  configurations seen exactly once);
* when nothing was seen once (``n_1 = 0``: the samples plausibly cover the
  whole distribution) the exact probability of the sampled configurations is
  computed with the (normalised) autoregressive network; if it is at least
  ``1 - SUPPORT_TOLERANCE``, the energy and variance of the state restricted to
  them are computed exactly, ``E_S = <psi_S|H|psi_S>``,
  ``V_S = ||H psi_S||^2 - E_S^2``, including the configurations outside the
  support that ``H`` reaches. The run has *collapsed* when ``V_S`` exceeds the
  sampled variance ``10`` times over (and ``1e-10``).

Sampled error bars
------------------
Near an eigenstate the local energy is almost constant except on rare configurations (small
``|psi|``, reached by ``H`` from likely ones), which carry most of the variance. When the
evaluation samples miss them, the sampled variance and error bar come out far too small (the
backend matrix's Z2 gauge case: a configuration of probability 4e-4 unseen in 2048 samples, the
energy 60 error bars off). :func:`coverage_check` looks at the configurations ``H`` flips the
samples into (the neighbourhood, when it has at most ``NEIGHBOUR_MAX`` members): their exact
probabilities (the autoregressive network is normalised) and local energies give the variance
``V_u = sum_x' p(x') |E_loc(x') - E|^2`` of those never sampled, which the sampled variance
lacks. When ``V_u`` exceeds the sampled variance, the error bar is unreliable: the backend warns
and reports the error bar of ``variance + V_u``. ``missing_probability``, one minus the exact
probability of the distinct samples, says how much of ``|psi|^2`` the samples did not see.

Convergence
-----------
:func:`convergence_verdict` judges a run by two numbers:

* the V-score ``N Var(E) / (E - E_inf)^2`` (Wu et al., Science 386, 296 (2024)),
  which vanishes for an eigenstate; above ``V_SCORE_MAX`` the state is not
  close to an eigenstate;
* the drift of the energy over the last ``DRIFT_WINDOW`` of the iterations: the
  mean of its older half minus the mean of its newer half, in units of
  ``|E - E_inf|``, significant when above ``3`` standard errors (from the
  scatter of the iterations) and above ``DRIFT_MAX``.

Thresholds were chosen from measured runs (see the constants).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "support_check",
    "coverage_check",
    "error_bar_is_short",
    "NEIGHBOUR_MAX",
    "convergence_verdict",
    "V_SCORE_MAX",
    "DRIFT_MAX",
    "DRIFT_WINDOW",
    "SUPPORT_TOLERANCE",
]

SUPPORT_TOLERANCE = 1e-6
"""Missing probability below which the sampled configurations count as the whole support."""
SUPPORT_MAX = 4096
"""The exact support computation is skipped above this many distinct configurations."""
NEIGHBOUR_MAX = 4096
"""The coverage check is skipped when the samples and their unseen neighbours exceed this many
configurations (their probabilities and local energies are computed)."""
V_SCORE_MAX = 1e-2
"""V-score above which a run is not converged. Measured with the defaults and 100 iterations (seed 0,
2 CPU cores), V-score at relative error: Heisenberg chain L=8 6.5e-5 at 1.7e-5, Hubbard chain L=4
1.2e-5 at 2.4e-5, QuantumLink1D(6, m=0.5) 1.6e-4 at 8.3e-5, J1-J2 2x3 (J2=0.5, no sign rule) 4.0e-2
at 2.3e-2, SYK(8, seed=1) 2.7 at 0.37, SYK(12) 0.55 at 0.16, open 2x4 Hubbard (learned phase) 0.46
at 0.52."""
DRIFT_MAX = 1e-4
"""Relative energy drift over the last window above which a run is still drifting."""
DRIFT_WINDOW = 0.2
"""Fraction of the iterations (at least ``MIN_DRIFT_ITERATIONS``) whose drift is judged."""
MIN_DRIFT_ITERATIONS = 10


def support_check(samples: np.ndarray, log_value, hamiltonian) -> dict:
    """Distinct samples, unseen probability and, for a fully sampled support, its exact E and variance.

    Parameters
    ----------
    samples : ndarray (n_samples, n_qubits)
        Exact samples of ``|psi|^2``.
    log_value : callable
        ``configs (batch, n_qubits) -> log psi`` of the normalised (autoregressive) state.
    hamiltonian : netket operator
        With ``get_conn_padded`` (``<x|H|x'>`` for the connected ``x'``).

    Returns
    -------
    dict
        ``n_distinct_samples``, ``unseen_probability``; when the support was checked also
        ``sampled_probability``, ``support_energy`` and ``support_variance`` (None otherwise).
    """
    samples = np.asarray(samples)
    n, n_qubits = samples.shape
    unique, counts = np.unique(samples, axis=0, return_counts=True)
    out = {
        "n_distinct_samples": len(unique),
        "unseen_probability": float(np.sum(counts == 1) / n),
        "sampled_probability": None,
        "support_energy": None,
        "support_variance": None,
    }
    if out["unseen_probability"] > 0 or len(unique) > SUPPORT_MAX:
        return out
    # evaluate at the samples' shape (a compiled shape the evaluation uses anyway)
    padded = np.concatenate([unique, np.repeat(unique[:1], n - len(unique), axis=0)])
    log_psi = np.asarray(log_value(padded))[: len(unique)]
    mass = float(np.sum(np.exp(2 * log_psi.real)))
    out["sampled_probability"] = mass
    if mass < 1 - SUPPORT_TOLERANCE:
        return out
    psi = np.exp(log_psi) / math.sqrt(mass)
    conns, mels = hamiltonian.get_conn_padded(unique)
    # (H psi)(x') = sum_x <x'|H|x> psi(x) = sum_x conj(<x|H|x'>) psi(x)
    contributions = (np.conj(mels) * psi[:, None]).ravel()
    keys, inverse = np.unique(
        np.concatenate([unique, conns.reshape(-1, n_qubits)]), axis=0, return_inverse=True
    )
    inverse = inverse.ravel()
    psi_keys = np.zeros(len(keys), dtype=complex)
    psi_keys[inverse[: len(unique)]] = psi
    h_psi = np.zeros(len(keys), dtype=complex)
    np.add.at(h_psi, inverse[len(unique) :], contributions)
    energy = float(np.real(np.vdot(psi_keys, h_psi)))
    out["support_energy"] = energy
    out["support_variance"] = max(float(np.sum(np.abs(h_psi) ** 2)) - energy**2, 0.0)
    return out


def coverage_check(samples: np.ndarray, log_value, local_energy, masks: np.ndarray, energy: float) -> dict:
    """Exact probability of the sampled configurations and the variance of their unseen neighbours.

    Parameters
    ----------
    samples : ndarray (n_samples, n_qubits)
        Exact samples of ``|psi|^2``.
    log_value : callable
        ``configs (batch, n_qubits) -> log psi`` of the normalised (autoregressive) state.
    local_energy : callable
        ``configs (batch, n_qubits) -> E_loc`` of the state.
    masks : ndarray (n_masks, n_qubits) of 0/1
        The qubits each off-diagonal term of ``H`` flips (``FlipPlan.masks``).
    energy : float
        The estimated energy ``E``.

    Returns
    -------
    dict
        ``missing_probability`` (``1 - sum`` of ``|psi|^2`` over the distinct samples),
        ``unseen_neighbours`` (configurations of non-zero probability that a mask flips a sample
        into and that were not sampled), ``unseen_neighbour_probability`` and
        ``unseen_variance`` (``sum_x' p(x') |E_loc(x') - E|^2`` over them); all None when the
        samples and their neighbours exceed ``NEIGHBOUR_MAX`` configurations.
    """
    samples = np.asarray(samples)
    unique = np.unique(samples, axis=0)
    out = dict.fromkeys(
        ("missing_probability", "unseen_neighbours", "unseen_neighbour_probability", "unseen_variance")
    )
    masks = np.asarray(masks, dtype=samples.dtype)
    if len(unique) > NEIGHBOUR_MAX:
        return out
    flipped = np.unique((unique[:, None, :] ^ masks[None]).reshape(-1, samples.shape[1]), axis=0)
    known = np.concatenate([unique, flipped])
    _, first = np.unique(known, axis=0, return_index=True)
    neighbours = known[np.sort(first[first >= len(unique)])]  # flipped rows that are no sample
    if len(unique) + len(neighbours) > NEIGHBOUR_MAX:
        return out
    log_psi = np.asarray(log_value(np.concatenate([unique, neighbours])))
    prob = np.exp(2 * log_psi.real)
    p_seen, p_unseen = prob[: len(unique)], prob[len(unique) :]
    reached = p_unseen > 0
    e_loc = np.asarray(local_energy(neighbours[reached])) if reached.any() else np.zeros(0)
    out.update(
        missing_probability=float(max(1.0 - p_seen.sum(), 0.0)),
        unseen_neighbours=int(reached.sum()),
        unseen_neighbour_probability=float(p_unseen.sum()),
        unseen_variance=float(np.sum(p_unseen[reached] * np.abs(e_loc - energy) ** 2)),
    )
    return out


def error_bar_is_short(coverage: dict, variance: float) -> bool:
    """The never-sampled neighbours carry more energy variance than the samples show."""
    unseen = coverage.get("unseen_variance")
    return unseen is not None and unseen > variance and unseen > 1e-12


def is_collapsed(support: dict, variance: float) -> bool:
    """The exact variance on the fully sampled support exceeds the sampled one 10 times over."""
    exact = support.get("support_variance")
    return exact is not None and exact > 10 * variance and exact > 1e-10


def convergence_verdict(
    energies: np.ndarray, energy: float, variance: float, n_sites: int, e_inf: float
) -> dict:
    """Is the run converged? V-score and energy drift (see the module docstring).

    Parameters
    ----------
    energies : 1D array
        Energy per iteration.
    energy, variance : float
        Final estimates.
    n_sites : int
        ``N`` in the V-score.
    e_inf : float
        ``Tr H / dim``, the zero of the V-score's energy scale.

    Returns
    -------
    dict
        ``converged`` (bool), ``convergence`` (a sentence), ``v_score``, ``energy_drift``
        (relative, None with fewer than ``2 * MIN_DRIFT_ITERATIONS`` iterations) and
        ``energy_drift_error``.
    """
    scale = abs(energy - e_inf)
    v_score = n_sites * variance / scale**2 if scale > 0 else math.inf
    energies = np.asarray(energies, dtype=float)
    window = max(MIN_DRIFT_ITERATIONS, int(DRIFT_WINDOW * len(energies)))
    drift = drift_error = None
    reasons = []
    if len(energies) >= 2 * MIN_DRIFT_ITERATIONS and scale > 0:
        older, newer = np.array_split(energies[-window:], 2)
        drift = float((older.mean() - newer.mean()) / scale)
        drift_error = float(
            math.sqrt(older.var(ddof=1) / len(older) + newer.var(ddof=1) / len(newer)) / scale
        )
        if drift > 3 * drift_error and drift > DRIFT_MAX:
            reasons.append(
                f"the energy still decreases (by {drift:.1e} of |E - E_inf| over the last {window} "
                f"iterations, {drift / max(drift_error, 1e-300):.0f} standard errors): raise n_iter"
            )
    if not v_score <= V_SCORE_MAX:
        reasons.append(
            f"the variance is large for an eigenstate (V-score {v_score:.2g} > {V_SCORE_MAX:g}): "
            "a larger network, more samples or iterations, or a sign rule may help"
        )
    converged = not reasons
    if converged:
        judged = (
            f", relative drift {drift:.1e} over the last {window} iterations"
            if drift is not None
            else f" (drift not judged: {len(energies)} iterations)"
        )
        sentence = f"converged: V-score {v_score:.2g}{judged}"
    else:
        sentence = "not converged: " + "; ".join(reasons)
    return {
        "converged": bool(converged),
        "convergence": sentence,
        "v_score": float(v_score),
        "energy_drift": drift,
        "energy_drift_error": drift_error,
    }
