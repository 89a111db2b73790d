"""One Lanczos step on a trained network: the variational state ``(1 + alpha H) psi``.

The state ``psi_alpha = psi + alpha H psi`` lies in the Krylov space ``{psi, H psi}``; its best
energy is the lowest eigenvalue of the 2x2 problem in that space, written with the moments
``mu_k = <psi|H^k|psi> / <psi|psi>``. They are estimated on exact samples ``x ~ |psi(x)|^2``
(the network's autoregressive sampling; no Markov chain) from the local energies::

    e1(x) = (H psi)(x) / psi(x)
    e2(x) = (H^2 psi)(x) / psi(x) = sum_y <x|H|y> psi(y) / psi(x) e1(y)

    mu1 = <e1>,  mu2 = <|e1|^2>,  mu3 = <Re conj(e1) e2>,  mu4 = <|e2|^2>.

``e2`` needs ``e1`` on every configuration ``y`` that ``H`` connects to a sample (each distinct
one evaluated once, with the same local-energy kernels as the training): about the number of
off-diagonal terms of ``H`` times the cost of the evaluation's local energies.

With ``sigma^2 = mu2 - mu1^2`` (the network's variance) and ``phi = (H - mu1) psi / sigma``
(orthogonal to ``psi``, normalised), ``H`` in the basis ``{psi, phi}`` is::

    [[mu1,   sigma],
     [sigma, (mu3 - 2 mu1 mu2 + mu1^3) / sigma^2]]

whose lowest eigenvalue is the energy of the best ``psi_alpha``. The step keeps the network's
samples (no new sampling); it changes signs as well as moduli, so it corrects a sign structure
that the network inherited from a rule (e.g. Marshall's on a frustrated magnet).

The energy is variational: the estimate converges to the energy of an explicit wave function.
Its error bar is a delete-a-block jackknife over the samples (the ratio of moments is biased
at order 1/n_samples, far below the error bar at thousands of samples).

References: S. Sorella, Phys. Rev. B 64, 024512 (2001); W.-J. Hu, F. Becca, A. Parola and
S. Sorella, Phys. Rev. B 88, 060402(R) (2013) (one Lanczos step on the J1-J2 model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from manybody.pauli import PauliTable
from manybody.result import relative_error, v_score
from manybody.validation import check_int
from manybody.vmc import operators as ops
from manybody.vmc.backend import VMCBackend, _eval_batch, _in_batches
from manybody.vmc.operators import FlipPlan, local_values

__all__ = ["LanczosStep", "lanczos_step", "lanczos_step_of_state", "krylov_local_values"]

N_BLOCKS = 32
"""Blocks of the jackknife error bars."""


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
        The same estimates for ``psi`` on the same samples.
    n_samples : int
        Exact samples of ``|psi|^2``.
    n_connected : int
        Distinct configurations whose local energy was evaluated (samples and their neighbours).
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


def krylov_local_values(
    vstate, plan: FlipPlan, samples: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """``e1 = (H psi)/psi`` and ``e2 = (H^2 psi)/psi`` on ``samples``, and the configurations evaluated.

    Parameters
    ----------
    vstate : netket.vqs.MCState
        The network (its model and variables).
    plan : FlipPlan
        ``H`` (one operator).
    samples : ndarray (n_samples, n_qubits)
        Bits in qubit order.
    batch : int
        Rows per network evaluation (a compiled shape).
    """
    samples = np.asarray(samples).astype(np.int8)
    diagonal, elements = plan.matrix_elements(samples)
    rows, masks = np.nonzero(elements)
    neighbours = samples[rows] ^ plan.masks[masks]
    configs, inverse = np.unique(np.concatenate([samples, neighbours]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    at_sample, at_neighbour = inverse[: len(samples)], inverse[len(samples) :]
    log_psi = np.asarray(_in_batches(vstate.log_value, batch)(configs))
    supported = np.isfinite(log_psi.real)
    e1 = np.where(supported, local_values(vstate, configs, plan, batch)[0], 0.0)
    # H conserves the sampled sector: psi(y) = 0 implies (H psi)(y) = 0, so those terms vanish
    ratio = np.where(supported[at_neighbour], np.exp(log_psi[at_neighbour] - log_psi[at_sample[rows]]), 0.0)
    terms = elements[rows, masks] * ratio * e1[at_neighbour]
    e2 = diagonal * e1[at_sample]
    e2 = e2 + np.bincount(rows, terms.real, len(samples)) + 1j * np.bincount(rows, terms.imag, len(samples))
    return e1[at_sample], e2, len(configs)


def _krylov(moments: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Energy, step ``alpha`` and variance of the best ``psi + alpha H psi`` from the moments
    ``(..., 4)`` = ``mu1..mu4`` (vectorised over leading axes)."""
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
        alpha = t / (1 - t * m1)
    return energy, alpha, np.maximum(h2 / norm - energy**2, 0.0)


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
    evaluation samples."""
    backend = VMCBackend()
    vstate = backend._eval_vstate(state, model)
    samples = backend._eval_samples(state, model)
    problem = model.problem
    plan = FlipPlan([PauliTable.from_qubit_operator(problem.hamiltonian, problem.n_qubits)], ops.LOCAL_DTYPE)
    e1, e2, n_connected = krylov_local_values(vstate, plan, samples, _eval_batch(state))
    per_sample = np.stack([e1.real, np.abs(e1) ** 2, (np.conj(e1) * e2).real, np.abs(e2) ** 2], axis=1)

    def stats(mu):
        energy, alpha, variance = _krylov(mu)
        return np.stack([energy, alpha, variance, mu[..., 0], mu[..., 1] - mu[..., 0] ** 2], axis=-1)

    (energy, alpha, variance, e_net, var_net), (error, *_) = _jackknife(per_sample, stats)
    return LanczosStep(
        energy=float(energy),
        energy_error=float(error),
        variance=float(variance),
        alpha=float(alpha),
        network_energy=float(e_net),
        network_energy_error=float(np.sqrt(var_net / len(samples))),
        network_variance=float(var_net),
        n_samples=len(samples),
        n_connected=int(n_connected),
        n_sites=model.n_sites,
        e_inf=model.e_inf,
        reference_energy=model.reference_energy,
    )
