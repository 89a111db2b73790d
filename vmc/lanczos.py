"""One Lanczos step on a trained network: the variational state ``(1 + alpha H) psi``.

The state ``psi_alpha = psi + alpha H psi`` lies in the Krylov space ``{psi, H psi}``; its best
energy is the lowest eigenvalue of the 2x2 problem in that space, written with the moments
``mu_k = <psi|H^k|psi> / <psi|psi>``. With ``sigma^2 = mu2 - mu1^2`` (the network's variance)
and ``phi = (H - mu1) psi / sigma`` (orthogonal to ``psi``, normalised), ``H`` in the basis
``{psi, phi}`` is::

    [[mu1,   sigma],
     [sigma, (mu3 - 2 mu1 mu2 + mu1^3) / sigma^2]]

whose lowest eigenvalue is the energy of the best ``psi_alpha``; ``mu4`` gives its variance.

**Sampling.** Samples of ``|psi|^2`` alone do not estimate these moments: a trained network has
rare configurations where its amplitude is far too small ("holes"), and there ``(H psi)/psi`` is
huge. On a J1-J2 4x4 network (the summed variance 0.16, sampled 0.02) configurations of total
probability 7e-4 carry 89 % of ``mu2 - mu1^2``; the step fills exactly those, so an estimate on
``|psi|^2`` samples missed most of its gain (5.0e-3 estimated where the step's state is at
1.8e-3). The moments are therefore sums over a proposal that reaches the holes, sampled exactly::

    q(x) = KEEP |psi(x)|^2 + (1 - KEEP) sum_y |psi(y)|^2 |<x|H|y>| / D(y),   D(y) = sum_{x != y} |<x|H|y>|

(a network sample ``y``, kept with probability ``KEEP``, else replaced by a neighbour ``x``
drawn with probability ``|<x|H|y>| / D(y)``), as ``mu_k = <w_k>_q / <|psi|^2 / q>_q`` with
``w_k(x) = <psi|x> <x|H^k|psi> / q(x)``. The weights ``|psi(x)|^2 / q`` and
``|(H psi)(x)|^2 / q`` are bounded (Cauchy-Schwarz), so the energies and ``mu2`` have finite
variance. Each point needs ``psi``, ``H psi`` and ``H^2 psi``: the network on the point and its
neighbours and the local energies of the neighbours (each distinct configuration once, with the
training's kernels), about the number of off-diagonal terms of ``H`` times the cost of the
evaluation's local energies.

The moments are taken of ``H - c`` with ``c`` the estimate of ``mu1`` (the Krylov space is the
same): ``mu3`` of ``H`` itself is about ``E^3``, and its noise would swamp
``mu3 - 2 mu1 mu2 + mu1^3``, of the order of the variance. The step changes signs as well as
moduli, so it corrects a sign structure that the network inherited from a rule (e.g. Marshall's
on a frustrated magnet). The energy is variational: the estimate converges to the energy of an
explicit wave function. Error bars are a delete-a-block jackknife (the ratio estimators are biased
at order 1/n_samples, far below the error bar at thousands of samples).

References: S. Sorella, Phys. Rev. B 64, 024512 (2001); W.-J. Hu, F. Becca, A. Parola and
S. Sorella, Phys. Rev. B 88, 060402(R) (2013) (one Lanczos step on the J1-J2 model).
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass

import numpy as np

from manybody.pauli import PauliTable
from manybody.result import relative_error, v_score
from manybody.validation import check_int
from manybody.vmc import operators as ops
from manybody.vmc.backend import VMCBackend, _eval_batch, _in_batches
from manybody.vmc.operators import FlipPlan, local_values

__all__ = ["LanczosStep", "krylov_vectors", "lanczos_step", "lanczos_step_of_state", "propose"]

N_BLOCKS = 32
"""Blocks of the jackknife error bars."""

KEEP = 0.5
"""Probability that the proposal keeps a network sample rather than move to one of its neighbours."""


@dataclass(frozen=True)
class LanczosStep:
    """The energy of ``(1 + alpha H) psi`` for a trained network ``psi`` (same units as ``H``).

    Attributes
    ----------
    energy, energy_error : float
        Energy of the best ``psi_alpha`` and its jackknife standard error.
    variance : float
        ``<H^2> - <H>^2`` on ``psi_alpha``.
    alpha : float
        The step, in inverse energy units (``psi_alpha`` is proportional to ``(H + 1/alpha) psi``).
    network_energy, network_energy_error, network_variance : float
        The same estimates for ``psi`` from the same points (the variance includes the holes that
        samples of ``|psi|^2`` miss).
    n_samples : int
        Exact samples of ``|psi|^2`` behind the proposal's points (one point each).
    n_connected : int
        Distinct configurations evaluated (the points and their neighbours).
    n_sites, e_inf, reference_energy :
        From the model: the V-score's site count and reference energy, a known exact energy.
    """

    energy: float
    energy_error: float
    variance: float
    alpha: float
    network_energy: float
    network_energy_error: float
    network_variance: float
    n_samples: int
    n_connected: int
    n_sites: int
    e_inf: float
    reference_energy: float | None = None

    @property
    def v_score(self) -> float | None:
        """``N Var(E) / (E - E_inf)^2`` of ``psi_alpha``."""
        return v_score(self.energy, self.variance, self.n_sites, self.e_inf)

    @property
    def relative_error(self) -> float | None:
        """``|E - E_ref| / |E_ref|`` against ``reference_energy`` if known."""
        return relative_error(self.energy, self.reference_energy)

    def to_dict(self) -> dict:
        """Plain floats and ints (JSON), with the V-score and relative error."""
        return {**dataclasses.asdict(self), "v_score": self.v_score, "relative_error": self.relative_error}


def propose(plan: FlipPlan, samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Points of the proposal ``q`` from network samples: each kept with probability ``KEEP``,
    else replaced by a neighbour ``x = y ^ m`` drawn with probability ``|<x|H|y>| / D(y)``
    (kept where ``H`` connects it to nothing)."""
    _, elements = plan.matrix_elements(samples)
    weights = np.abs(elements)
    total = weights.sum(axis=1)
    move = (rng.random(len(samples)) >= KEEP) & (total > 0)
    drawn = rng.random(int(move.sum())) * total[move]
    choice = np.minimum((np.cumsum(weights[move], axis=1) < drawn[:, None]).sum(axis=1), len(plan.masks) - 1)
    points = np.array(samples, dtype=np.int8)
    points[move] ^= plan.masks[choice]
    return points


def krylov_vectors(vstate, plan: FlipPlan, points: np.ndarray, batch: int) -> tuple[np.ndarray, ...]:
    """``psi``, ``H psi``, ``H^2 psi`` and ``q`` at ``points``, all up to one common factor, and the
    number of distinct configurations evaluated.

    Parameters
    ----------
    vstate : netket.vqs.MCState
        The network (its model and variables).
    plan : FlipPlan
        ``H`` (one operator).
    points : ndarray (n_points, n_qubits)
        Bits in qubit order.
    batch : int
        Rows per network evaluation (a compiled shape).
    """
    points = np.asarray(points).astype(np.int8)
    diagonal, elements = plan.matrix_elements(points)
    rows, masks = np.nonzero(elements)
    neighbours = points[rows] ^ plan.masks[masks]
    configs, inverse = np.unique(np.concatenate([points, neighbours]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    at_point, at_neighbour = inverse[: len(points)], inverse[len(points) :]
    log_psi = np.asarray(_in_batches(vstate.log_value, batch)(configs))
    supported = np.isfinite(log_psi.real)
    psi = np.where(supported, np.exp(log_psi - log_psi.real[supported].max()), 0.0)
    # H conserves the sampled sector: psi(y) = 0 implies (H psi)(y) = 0
    with np.errstate(invalid="ignore", over="ignore"):
        hpsi = np.where(supported, local_values(vstate, configs, plan, batch)[0] * psi, 0.0)
    lost = ~np.isfinite(hpsi)
    if lost.any():
        warnings.warn(
            f"lanczos_step: {int(lost.sum())} of {len(configs)} configurations have amplitudes too small "
            "for their local energy in floating point (ratios beyond its range); their H psi is set to 0",
            RuntimeWarning,
            stacklevel=3,
        )
        hpsi = np.where(lost, 0.0, hpsi)
    coupling = elements[rows, masks]

    def apply_h(vector):  # (H v)(x) at the points from v on the points and their neighbours
        off = coupling * vector[at_neighbour]
        return (
            diagonal * vector[at_point]
            + np.bincount(rows, off.real, len(points))
            + 1j * np.bincount(rows, off.imag, len(points))
        )

    reach = np.abs(plan.matrix_elements(configs)[1]).sum(axis=1)
    density = np.abs(psi) ** 2
    from_neighbours = np.abs(coupling) * density[at_neighbour] / np.where(reach > 0, reach, 1.0)[at_neighbour]
    q = KEEP * density[at_point] + (1 - KEEP) * (
        np.bincount(rows, from_neighbours, len(points))
        + np.where(reach[at_point] > 0, 0.0, density[at_point])
    )
    return psi[at_point], apply_h(psi), apply_h(hpsi), q, len(configs)


def _krylov(moments: np.ndarray, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy, step ``alpha`` and variance of the best ``psi + alpha H psi`` from the moments
    ``(..., 4)`` = ``mu1..mu4`` of ``H - shift`` (vectorised over leading axes)."""
    m1, m2, m3, m4 = np.moveaxis(moments, -1, 0)
    var = np.maximum(m2 - m1**2, 0.0)
    safe = np.where(var > 0, var, 1.0)
    h11 = np.where(var > 0, (m3 - 2 * m1 * m2 + m1**3) / safe, m1)
    energy = (m1 + h11) / 2 - np.sqrt(((h11 - m1) / 2) ** 2 + var)
    # the eigenvector is psi + t (H - mu1) psi with t = (E - mu1) / sigma^2
    t = np.where(var > 0, (energy - m1) / safe, 0.0)
    norm = 1 + t**2 * var
    h2 = m2 + 2 * t * (m3 - m1 * m2) + t**2 * (m4 - 2 * m1 * m3 + m1**2 * m2)
    with np.errstate(divide="ignore"):
        alpha = t / (1 - t * (m1 + shift))
    return energy + shift, alpha, np.maximum(h2 / norm - energy**2, 0.0)


def _jackknife(values: np.ndarray, fun) -> tuple[np.ndarray, np.ndarray]:
    """``fun(mean of values)`` and its delete-a-block jackknife standard error (values: (n, k))."""
    n_blocks = min(N_BLOCKS, len(values))
    blocks = np.array([b.sum(axis=0) for b in np.array_split(values, n_blocks)])
    sizes = np.array([len(b) for b in np.array_split(values, n_blocks)])
    full = fun(values.mean(axis=0))
    leave_out = fun((blocks.sum(axis=0) - blocks) / (len(values) - sizes)[:, None])
    error = np.sqrt((n_blocks - 1) / n_blocks * np.sum((leave_out - leave_out.mean(axis=0)) ** 2, axis=0))
    return full, error


def lanczos_step(result, n_samples: int | None = None, seed: int | None = None) -> LanczosStep:
    """The energy of one Lanczos step ``(1 + alpha H) psi`` on a trained vmc network.

    Parameters
    ----------
    result : Result
        A ``backend="vmc"`` result (in memory or loaded with ``Result.load``: its saved network).
    n_samples : int, optional
        Exact samples of ``|psi|^2``. Default: the result's evaluation samples
        (``n_eval_samples``, the samples behind ``result.energy``).
    seed : int, optional
        With ``n_samples`` or alone: draw new samples from a sampler seeded by ``seed`` (default:
        the run's seed, which with the default ``n_samples`` gives the evaluation samples again).
        The same ``(n_samples, seed)`` gives the same samples.

    Returns
    -------
    LanczosStep

    Raises
    ------
    ValueError
        ``result`` is not a vmc result, ``n_samples`` is not an integer >= 64 or ``seed`` not
        an integer >= 0.

    Examples
    --------
    >>> res = mb.solve(Heisenberg(Square(4, 4, pbc=True), J2=0.5), backend="vmc")  # doctest: +SKIP
    >>> step = lanczos_step(res)  # doctest: +SKIP
    >>> step.energy, step.energy_error, step.network_energy  # doctest: +SKIP
    """
    if getattr(result, "backend", None) != "vmc":
        raise ValueError(
            f"lanczos_step needs a Result of backend='vmc' (its network), got backend={getattr(result, 'backend', result)!r}"
        )
    n_samples = check_int("n_samples", n_samples, minimum=64, allow_none=True)
    seed = check_int("seed", seed, minimum=0, allow_none=True)
    state = result.state
    if n_samples is not None or seed is not None:
        state = dataclasses.replace(
            state,
            n_eval_samples=state.n_eval_samples if n_samples is None else n_samples,
            seed=state.seed if seed is None else seed,
            _samples=None,
            _vstate=None,
        )
    return lanczos_step_of_state(state, result.model_object)


def lanczos_step_of_state(state, model) -> LanczosStep:
    """:func:`lanczos_step` of a :class:`~manybody.vmc.backend.VMCState` of ``model`` on its
    evaluation samples (the proposal's moves seeded by the state's seed)."""
    backend = VMCBackend()
    vstate = backend._eval_vstate(state, model)
    samples = backend._eval_samples(state, model)
    problem = model.problem
    plan = FlipPlan([PauliTable.from_qubit_operator(problem.hamiltonian, problem.n_qubits)], ops.LOCAL_DTYPE)
    points = propose(plan, samples, np.random.default_rng(state.seed))
    psi, hpsi, h2psi, q, n_connected = krylov_vectors(vstate, plan, points, _eval_batch(state))
    norm = np.abs(psi) ** 2 / q
    # moments of H - shift: those of H are E^k plus small central parts, which their noise would swamp
    shift = float(np.sum((np.conj(psi) * hpsi).real / q) / np.sum(norm))
    h1, h2 = hpsi - shift * psi, h2psi - 2 * shift * hpsi + shift**2 * psi
    weights = np.stack(
        [
            norm,
            (np.conj(psi) * h1).real / q,
            np.abs(h1) ** 2 / q,
            (np.conj(h1) * h2).real / q,
            np.abs(h2) ** 2 / q,
        ],
        axis=1,
    )

    def stats(sums):
        mu = sums[..., 1:] / sums[..., :1]
        energy, alpha, variance = _krylov(mu, shift)
        return np.stack([energy, mu[..., 0] + shift, alpha, variance, mu[..., 1] - mu[..., 0] ** 2], axis=-1)

    (energy, e_net, alpha, variance, var_net), (error, error_net, *_) = _jackknife(weights, stats)
    return LanczosStep(
        energy=float(energy),
        energy_error=float(error),
        variance=float(variance),
        alpha=float(alpha),
        network_energy=float(e_net),
        network_energy_error=float(error_net),
        network_variance=float(var_net),
        n_samples=len(samples),
        n_connected=int(n_connected),
        n_sites=model.n_sites,
        e_inf=model.e_inf,
        reference_energy=model.reference_energy,
    )
