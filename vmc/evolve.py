"""Time-dependent VMC (``mb.evolve(..., backend="vmc")``): NetKet's TDVP driver on the transformer.

The parameters ``theta`` of the autoregressive transformer
(:class:`~manybody.vmc.network.ARTransformer`, complex amplitudes through its
phase head) follow the time-dependent variational principle for
``i d|psi>/dt = H |psi>`` (``hbar = 1``),

    Re[S] d theta / dt = Im[F],   S_kl = <O_k^* O_l>_c,   F_k = <O_k^* E_loc>_c,

with ``O_k = d log psi / d theta_k`` (real parameters, NetKet's
``QGTJacobianDense(holomorphic=False)``), both estimated on ``n_samples``
exact autoregressive samples drawn afresh at every evaluation of the right-hand
side. The linear system is solved by ``netket.optimizer.solver.pinv_smooth``
(eigenvalues below ``rcond`` times the largest dropped, those near
``rcond_smooth`` damped; Medvidovic and Sels 2022): on the dense ``P x P``
tensor when the ``P`` parameters are fewer than twice the Jacobian rows, else
on the ``2R x 2R`` sample-space kernel of :class:`SampleSpaceTDVP` (the same
solution; ``R`` the samples, or the distinct configurations of a sector smaller
than ``n_samples``). Measured (CPU seconds per Heun step, NetKet's dense
``QGTJacobianDense`` against the sample-space form, one process): the quench from
a vmc ground state of the Heisenberg chain L=8 (the solve's default network,
6836 parameters, 2048 samples, 70 distinct) 0.67 s in sample space (81 s with
all 2048 rows, a 4096 x 4096 kernel: the distinct rows are what make it cheap)
against 186 s with the dense tensor (93 s per right-hand side, load 6-8); the
Heisenberg chain L=4 from the Neel state to t=0.5 (the fitted network, 1028
parameters, 6 distinct): the whole ``evolve`` past the compilation both share took 29 s CPU with the dense tensor against 9 s (the same estimates,
load 7-8). It is integrated by a
Runge-Kutta scheme of ``netket.experimental.dynamics`` through
``netket.experimental.TDVP``: by default Heun's second-order scheme with fixed
``dt = 0.02`` (two evaluations per step); the adaptive ones (``"RK23"``,
``"RK45"``, ``"RK12"``) take steps between ``dt / 10`` and ``dt_max`` with a
local error below ``tolerance`` in the state's metric. Measured (Heisenberg
chain L=4 from the Neel state, 2048 samples): RK23 took steps of 0.01-0.03
without rejections, at four evaluations per step; with the Euclidean norm on
the parameters instead, the Monte Carlo noise held the step at its lower bound. Constraints (total S^z, particle numbers, Gauss's
law) are kept exactly: the masked conditionals (:mod:`manybody.vmc.masking`)
give zero amplitude to every configuration outside the sector at all times.

The initial state is

* a basis state ``x0``: the network cannot be a delta function (at one every
  log-derivative has zero variance and the TDVP equation is empty), so a fresh
  network (``d_model``, ``n_heads``, ``n_layers``) is fitted by L-BFGS, maximising the
  exact fidelity on the few configurations involved (to ``1 - fit_infidelity``), to the
  short-time evolved state ``exp(-i H delta) |x0>`` restricted to the configurations ``H``
  reaches from ``x0`` in ``SHORT_TIME_ORDER`` steps (:class:`ShortTimeState`), ``delta``
  chosen so that its fidelity with ``|x0>`` is ``initial_fidelity`` (0.9); the
  evolution starts at ``t = delta`` (``info["start_time"]``); a requested time
  before ``delta`` gets a fresh network fitted the same way to the short-time
  state at that time (``info["fit_fidelity"]`` and ``fit_steps`` are then its
  own; at t=0 the basis state itself).

  Where the error came from (Heisenberg chain L=10 from the Neel state to t=1, TDVP on the
  exact sum over all configurations instead of samples, errors of the network's exact
  expectations): the former start, the first-order state ``(1 - i delta (H - E_0))|x0>`` at
  fidelity 0.99 fitted to infidelity 1e-3 by Adam, began 8.9e-3 above the Neel energy (the
  first-order state's own ``<H> - E_0``) and Heun's ``dt = 0.02`` added 3e-2 in the first
  0.1 (stiff near the product state; ``dt = 0.005`` did not): ``<H>`` drift 0.041, ``<S^z_i>``
  error 0.029 at t=1 without any Monte Carlo noise. From the third-order short-time state at
  fidelity 0.9 (t=0.216, fitted to 1e-5), the same full-sum run ends at ``<H>`` drift 1.7e-3
  and ``<S^z_i>`` error 1.5e-3 (fidelity 0.998 with the exact state at t=1), so the network
  (``d_model`` 8, one layer, 1028 parameters) and the integrator suffice. With the default
  2048 samples per right-hand side (``benchmarks/tdvp_vmc.py``) the network at t=1, summed
  exactly, is within 1.2e-2 (``<S^z_i>``) and 1e-3 (``<H>``) of exact (3e-3 and 7e-3 with
  another grid of steps): the Monte Carlo noise of the equation of motion is what remains;
* a vmc ``Result`` (a quench): its network and parameters (fidelity 1 with
  the ground-state approximation). Tested against the exact evolution of the same state
  (Heisenberg chain L=6, staggered field, to t=0.5: fidelity 0.999998 at t=0.5).

Each snapshot is a :class:`~manybody.vmc.backend.VMCState`, so the observables
are Monte Carlo estimates with standard errors on ``n_eval_samples`` fresh
exact samples (``backend.expect``). ``info`` per time: ``steps`` and
``rejected_steps`` of the integrator since ``t = 0``, ``dt_mean``, ``dt_min``,
``dt_max`` of the steps since the previous time, ``samples`` drawn since
``t = 0`` (``n_samples`` per right-hand side), ``initial_fidelity`` (``|<x0|psi>|^2``
of the fitted state), ``fit_fidelity``, ``fit_steps``, ``start_time``,
``loschmidt_echo`` (from a basis state: ``|<x0|psi(t)>|^2``, exact) and, for
models with local Gauss laws, ``constraint_violation`` (the penalty ``<V>`` on
the evaluation samples, zero by construction).
"""

from __future__ import annotations

import sys
from functools import partial

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import netket.experimental as nkx
import numpy as np
import optax
import scipy.optimize
import scipy.sparse
import scipy.sparse.linalg
from netket.experimental.driver.tdvp_common import odefun
from netket.utils import struct

from manybody.evolution import Snapshot
from manybody.vmc.backend import VMCBackend, VMCState, make_vstate
from manybody.vmc.compiled import release_compiled_code
from manybody.vmc.driver import _weighted_minsr, distinct_size, jacobian_chunk_size, weighted_local_energies
from manybody.vmc.operators import FlipPlan, to_pauli_strings
from manybody.vmc.options import INTEGRATORS, VMCEvolveOptions

__all__ = ["evolve", "fit_state", "ShortTimeState", "SHORT_TIME_ORDER", "SampleSpaceTDVP"]


@partial(jax.jit, static_argnames="model")
def _apply(model, variables, x):
    """``model.apply(variables, x)`` compiled (run op by op, a first evolve of a Heisenberg chain
    L=4 compiled 145 more small kernels, 307 in all, and took 50 s instead of 46 s)."""
    return model.apply(variables, x)


def _log_amplitudes(vstate, configs):
    """``log psi(configs)`` (batch,) as a function of the parameters."""
    x = jnp.asarray(np.atleast_2d(configs), dtype=jnp.int32)
    rest = {k: v for k, v in vstate.variables.items() if k != "params"}

    def log_psi(params):
        return _apply(vstate.model, {**rest, "params": params}, x)

    return log_psi


SHORT_TIME_ORDER = 3
"""Applications of ``H`` that span the configurations of the short-time state (:class:`ShortTimeState`)."""


def _connections(plan: FlipPlan, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The configurations ``rows ^ m`` for every flip mask ``m`` (the diagonal first) and ``<rows ^ m|H|rows>``.

    Returns
    -------
    targets : ndarray of int8 (len(rows), 1 + n_masks, n_qubits)
    elements : ndarray of complex (len(rows), 1 + n_masks)
    """
    masks = np.vstack([np.zeros((1, plan.n_qubits), np.int8), plan.masks])
    term_row = plan.term_mask + 1  # mask 0: the diagonal
    targets = rows[:, None, :] ^ masks[None, :, :]
    # <x ^ m| c P |x> = coeffs (-1)^popcount((x ^ m) & zy) (the FlipPlan convention)
    signs = 1 - 2 * ((targets[:, term_row, :] & plan.zy[None]).sum(axis=2) % 2)
    elements = np.zeros((len(masks), len(rows)), dtype=complex)
    np.add.at(elements, term_row, (plan.coeffs[None, :] * signs).T)
    return targets, elements.T


class ShortTimeState:
    """The evolved basis state ``exp(-i (H - E_0) t) |bits>`` on the configurations ``H`` reaches in ``order`` steps.

    ``H`` is restricted to the configurations connected to ``bits`` by at most ``order``
    applications of ``H`` (the ``order``-th neighbours of the basis state), and its exponential is
    applied by ``scipy.sparse.linalg.expm_multiply``: the restricted ``H^k |bits>`` equals the true
    one for ``k <= order``, so the state is exact up to ``O((sigma t)^(order + 1) / (order + 1)!)``
    (``sigma^2 = <bits|(H - E_0)^2|bits>``) and conserves ``<H> = E_0`` exactly (Heisenberg chain
    L=10 from the Neel state at fidelity 0.99: infidelity 3e-11 with 80 configurations for
    ``order=3``, 3e-7 at fidelity 0.9; the first-order state ``(1 - i t (H - E_0))|bits>`` had
    4e-5 and ``<H> - E_0 = 8.9e-3`` at 0.99).

    Attributes
    ----------
    configs : ndarray of int8 (m, n_qubits)
        ``bits`` first, then the configurations reached (in the sector: ``H`` keeps the constraints).
    sigma : float
        The energy spread of ``|bits>`` (0 for an eigenstate).
    """

    def __init__(self, problem, bits, order: int = SHORT_TIME_ORDER):
        plan = FlipPlan([problem.pauli])
        configs = np.asarray(bits, dtype=np.int8)[None, :]
        for _ in range(order):
            targets, elements = _connections(plan, configs)
            reached = np.unique(targets[np.abs(elements) > 1e-12], axis=0)
            known = {row.tobytes() for row in configs}
            new = [row for row in reached if row.tobytes() not in known]
            if not new:
                break
            configs = np.vstack([configs, new])
        index = {row.tobytes(): k for k, row in enumerate(configs)}
        targets, elements = _connections(plan, configs)
        rows = np.array([index.get(row.tobytes(), -1) for row in targets.reshape(-1, problem.n_qubits)])
        rows = rows.reshape(elements.shape)
        keep = (rows >= 0) & (np.abs(elements) > 1e-12)
        columns = np.broadcast_to(np.arange(len(configs))[:, None], rows.shape)
        h = scipy.sparse.csr_matrix((elements[keep], (rows[keep], columns[keep])), shape=(len(configs),) * 2)
        self._h = h - h[0, 0].real * scipy.sparse.identity(len(configs), format="csr")
        self._start = np.zeros(len(configs), dtype=complex)
        self._start[0] = 1.0
        self.configs = configs
        self.sigma = float(np.linalg.norm(self._h @ self._start))

    def amplitudes(self, t: float) -> np.ndarray:
        """The normalised amplitudes on ``configs`` at time ``t``."""
        psi = scipy.sparse.linalg.expm_multiply(-1j * t * self._h, self._start)
        return psi / np.linalg.norm(psi)

    def time_at_fidelity(self, fidelity: float) -> float:
        """The first time ``t`` with ``|<bits|psi(t)>|^2 = fidelity`` (``scipy.optimize.brentq``); 0 for an eigenstate.

        Searched up to twice the first-order time (the echo is ``1 - (sigma t)^2 + ...``), where
        the short-time state holds. A ``ValueError`` naming ``initial_fidelity`` when the echo stays
        above ``fidelity`` there (a state close to an eigenstate, e.g. a two-level system).
        """
        if self.sigma == 0.0:
            return 0.0

        def excess(t):
            return abs(self.amplitudes(t)[0]) ** 2 - fidelity

        first_order = float(np.sqrt(1.0 / fidelity - 1.0)) / self.sigma
        grid = np.linspace(0.0, 2.0 * first_order, 33)
        on_grid = np.array([excess(t) for t in grid])
        below = np.flatnonzero(on_grid < 0)
        if not below.size:
            raise ValueError(
                f"initial_fidelity={fidelity}: the echo |<initial|psi(t)>|^2 stays at or above "
                f"{fidelity + on_grid.min():.4g} up to t={grid[-1]:.3g}; pass an initial_fidelity above that"
            )
        k = below[0]
        return float(scipy.optimize.brentq(excess, grid[k - 1], grid[k], xtol=1e-12))


_FIT_OPTIMIZER = optax.lbfgs()


def _fit_loss(params, model, rest, configs, target):
    """``-log`` of the fidelity ``|sum_k target[k] psi(configs[k])|^2`` (``target`` conjugated)."""
    log_psi = _apply(model, {**rest, "params": params}, configs)
    return -2.0 * jnp.log(jnp.abs(jnp.sum(target * jnp.exp(log_psi))))


@partial(jax.jit, static_argnames="model")
def _fit_step(params, opt_state, model, rest, configs, target):
    """One L-BFGS step of :func:`fit_state` (compiled once per network and number of configurations)."""

    def loss(p):
        return _fit_loss(p, model, rest, configs, target)

    value, grad = optax.value_and_grad_from_state(loss)(params, state=opt_state)
    updates, opt_state = _FIT_OPTIMIZER.update(grad, opt_state, params, value=value, grad=grad, value_fn=loss)
    return optax.apply_updates(params, updates), opt_state, value


def fit_state(vstate, configs, amplitudes, infidelity: float, max_steps: int) -> tuple[float, int]:
    """Fit ``vstate`` in place to the state ``sum_k amplitudes[k] |configs[k]>`` (normalised).

    Maximises the exact fidelity ``|sum_k conj(amplitudes[k]) psi(configs[k])|^2`` (the masked
    autoregressive amplitude is normalised over the sector) with ``optax.lbfgs`` (its zoom line
    search) until ``1 - fidelity <= infidelity``. Measured on the Heisenberg chain L=10 (Neel,
    short-time state at fidelity 0.9, 1028 parameters): L-BFGS reaches 1.5e-4 in 300 steps and
    6e-6 in 1000 (12 s CPU in all); Adam (step 0.02) stalled at 4.6e-2 after 3000.

    Returns
    -------
    fidelity : float
        Reached with the target.
    steps : int
        L-BFGS steps taken.
    """
    x = jnp.asarray(configs, dtype=jnp.int32)
    target = jnp.asarray(np.conj(amplitudes))
    rest = {k: v for k, v in vstate.variables.items() if k != "params"}
    params = vstate.parameters
    # strong-typed like the state _fit_step returns (optax's init has weak-typed line-search
    # counters), else the second step compiles _fit_step again
    opt_state = jax.tree_util.tree_map(
        lambda x: jnp.asarray(x, jnp.result_type(x)), _FIT_OPTIMIZER.init(params)
    )
    reached, steps = float(jnp.exp(-_fit_loss(params, vstate.model, rest, x, target))), 0
    while 1.0 - reached > infidelity and steps < max_steps:
        new, opt_state, value = _fit_step(params, opt_state, vstate.model, rest, x, target)
        reached = float(jnp.exp(-value))  # the fidelity of ``params``, before the update
        if 1.0 - reached <= infidelity:
            break
        params, steps = new, steps + 1
    if 1.0 - reached > infidelity:
        raise RuntimeError(
            f"the network reached fidelity {reached:.6f} with the initial state after {steps} steps, "
            f"short of 1 - {infidelity:.2g}: raise fit_steps or fit_infidelity, or a larger network"
        )
    vstate.parameters = params
    return reached, steps


def _fitted(model, config: dict, options: VMCEvolveOptions, short: ShortTimeState, t: float):
    """A fresh network fitted to the short-time state at time ``t``: ``(vstate, fidelity, steps)``."""
    vs = make_vstate(model, config, options.n_samples, options.seed, options.chunk_size)
    fidelity, steps = fit_state(
        vs, short.configs, short.amplitudes(t), options.fit_infidelity, options.fit_steps
    )
    return vs, fidelity, steps


def _initial_vstate(model, initial, options: VMCEvolveOptions):
    """``(vstate, config, facts, short)`` of the initial state (see the module docstring).

    ``short`` is the :class:`ShortTimeState` of a basis state (None from a ``Result``).
    """
    problem = model.problem
    if initial.result is not None:
        state = initial.result.state
        config = dict(state.config)
        vs = make_vstate(model, config, options.n_samples, options.seed, options.chunk_size, state.params)
        return vs, config, {"initial_fidelity": None, "start_time": 0.0, "fit_steps": 0}, None
    config = {
        "n_qubits": problem.n_qubits,
        "d_model": options.d_model,
        "n_heads": options.n_heads,
        "n_layers": options.n_layers,
        "dtype": "float64",
        "sign_rule": None,
        "phase": None,
    }
    short = ShortTimeState(problem, initial.bits)
    delta = short.time_at_fidelity(options.initial_fidelity)
    vs, fit, steps = _fitted(model, config, options, short, delta)
    x0 = float(jnp.exp(2.0 * jnp.real(_log_amplitudes(vs, initial.bits)(vs.parameters)[0])))
    facts = {"initial_fidelity": x0, "fit_fidelity": fit, "start_time": delta, "fit_steps": steps}
    return vs, config, facts, short


def _ode_solver(options: VMCEvolveOptions, n_parameters: int):
    """The Runge-Kutta integrator; an adaptive one accepts a step when ``||error||_S <= tolerance``.

    NetKet scales the error as ``norm(error) / (atol / n_parameters)`` (``rtol = 0``): ``atol =
    tolerance * n_parameters`` makes the criterion a bound on the error in the state's norm.
    """
    make = getattr(nkx.dynamics, options.integrator)
    if not INTEGRATORS[options.integrator]:
        return make(options.dt)
    return make(
        options.dt,
        adaptive=True,
        rtol=0.0,
        atol=options.tolerance * n_parameters,
        dt_limits=(0.1 * options.dt, options.dt_max),
    )


def _linear_solver(options: VMCEvolveOptions):
    solvers = nk.optimizer.solver
    if options.linear_solver == "pinv_smooth":
        return partial(solvers.pinv_smooth, rtol=options.rcond, rtol_smooth=options.rcond_smooth)
    return solvers.cholesky


class SampleSpaceTDVP(nkx.TDVP):
    """NetKet's ``TDVP`` driver with the equation of motion solved in sample space (minSR form).

    With ``X`` the centred Jacobian rows ``sqrt(p_s) (O_s - <O>)`` (real and imaginary parts
    as separate rows, ``2 R`` of them for ``R`` samples), ``Re[S] = X^T X`` and
    ``Im[F] = X^T e`` with ``e`` the rows of ``-i sqrt(p_s) (E_loc - <E>)``, so the solution is
    ``X^T g(X X^T) e``: the minSR update (:func:`~manybody.vmc.driver._minsr_update`) given the local energies
    times ``-i / 2``, with the same ``linear_solver`` (``pinv_smooth`` or ``cholesky``) acting
    on the ``2R x 2R`` kernel ``X X^T + diag_shift`` instead of the ``P x P`` tensor. Every
    eigenvalue of the kernel is one of the tensor (the rest of the tensor's are 0), so
    ``pinv_smooth`` drops and damps the same ones and the solution is the same to rounding
    (tested against ``nkx.TDVP`` with ``QGTJacobianDense``), at ``O(R^2 P + R^3)`` instead of
    ``O(R P^2 + P^3)`` per right-hand side. With ``distinct`` rows (the dimension of a sector
    below the number of samples, :func:`~manybody.vmc.driver.distinct_size`) the samples are
    reduced to their distinct configurations, each weighted by its count (``p_s``; the same
    ``X^T X`` and ``X^T e``). The error norm of adaptive integrators is the tensor's, lazily
    (``QGTOnTheFly``). Needs a :class:`~manybody.vmc.operators.PauliSum` Hamiltonian.
    """

    _distinct: int | None = struct.field(pytree_node=False, serialize=False, default=None)
    _diag_shift: float = struct.field(pytree_node=False, serialize=False, default=0.0)

    def __init__(self, *args, distinct: int | None = None, diag_shift: float = 0.0, **kwargs):
        super().__init__(*args, qgt=nk.optimizer.qgt.QGTOnTheFly(holomorphic=False), **kwargs)
        self._distinct = distinct
        self._diag_shift = diag_shift


@odefun.dispatch
def _odefun_sample_space(state: nk.vqs.MCState, driver: SampleSpaceTDVP, t, w, *, stage=0):  # noqa: F811
    state.parameters = w
    state.reset()
    rows, mass, local, driver._loss_stats = weighted_local_energies(
        state, driver.generator(t).plan, driver._distinct
    )
    # the minSR update solves Re[S] x = 2 Re[F]; the TDVP needs Re[S] x = Im[F] = Re[F(-i E_loc)]
    driver._dw, _, _ = _weighted_minsr(
        state.model,
        None,
        -0.5j * local,
        state.parameters,
        state.model_state,
        rows,
        mass,
        diag_shift=driver._diag_shift,
        solver_fn=driver.linear_solver,
        mode="complex",
        momentum=None,
        old_updates=None,
        chunk_size=jacobian_chunk_size(state, len(rows)),
    )
    if stage == 0:
        driver._last_qgt = driver.qgt(state)
    return driver._dw


def _tdvp_driver(problem, vs, hamiltonian, solver, t0: float, options: VMCEvolveOptions):
    """:class:`SampleSpaceTDVP` when the parameters outnumber the Jacobian rows, else NetKet's ``TDVP``
    with the dense tensor (``QGTJacobianDense``), both with the same linear solver."""
    distinct = distinct_size(problem.sector_dimension(), options.n_samples, vs.n_parameters)
    common = dict(t0=t0, linear_solver=_linear_solver(options), error_norm="qgt")
    if vs.n_parameters > 2 * (distinct or options.n_samples):
        return SampleSpaceTDVP(
            hamiltonian, vs, solver, distinct=distinct, diag_shift=options.diag_shift, **common
        )
    qgt = nk.optimizer.qgt.QGTJacobianDense(holomorphic=False, diag_shift=options.diag_shift)
    return nkx.TDVP(hamiltonian, vs, solver, qgt=qgt, **common)


def evolve(model, initial, times, options: VMCEvolveOptions):
    """Yield a :class:`~manybody.evolution.Snapshot` (a :class:`VMCState`) at each of ``times``.

    Parameters
    ----------
    model : Model
    initial : manybody.evolution.InitialState
        Basis-state ``bits`` or a vmc ``result``.
    times : ndarray
        Non-decreasing times >= 0.
    options : VMCEvolveOptions
    """
    problem = model.problem
    release_compiled_code()
    vs, config, facts, short = _initial_vstate(model, initial, options)
    hamiltonian = to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert)
    solver = _ode_solver(options, vs.n_parameters)
    driver = _tdvp_driver(problem, vs, hamiltonian, solver, facts["start_time"], options)
    stages = len(solver.tableau.c)
    x0_log_psi = None if initial.bits is None else _log_amplitudes(vs, initial.bits)
    gauss = problem.penalty_operator(problem.gauss_laws) if problem.gauss_laws else None
    show = sys.stderr.isatty() if options.progress is None else options.progress
    bar = None
    if show:
        from tqdm.auto import tqdm

        bar = tqdm(total=float(times[-1]), desc=f"vmc evolve {problem.name}", unit="t", dynamic_ncols=True)
    visited: list[float] = []

    def record(t, log_data, drv):
        visited.append(float(drv.t))
        if bar is not None:
            bar.n = round(float(drv.t), 6)
            bar.set_postfix(dt=f"{float(drv.dt):.2g}")
        return True

    now = facts["start_time"]
    for index, t in enumerate(times):
        visited.clear()
        if t > now:
            driver.run(float(t) - now, show_progress=False, callback=record)
            now = float(driver.t)
        steps = np.diff(np.unique(np.asarray(visited))) if len(visited) > 1 else np.zeros(0)
        integrator_state = driver.integrator._state
        accepted, total = int(integrator_state.step_no), int(integrator_state.step_no_total)
        snapshot, early = vs, {}
        if t < facts["start_time"]:
            # before the evolution starts: a network fitted to the short-time state at t itself
            snapshot, fidelity, fit_steps = _fitted(model, config, options, short, float(t))
            early = {"fit_fidelity": fidelity, "fit_steps": fit_steps}
        state = VMCState(
            config=config,
            params=flax.serialization.to_state_dict(snapshot.parameters),
            seed=options.seed + 1000 * (index + 1),
            n_eval_samples=options.n_eval_samples,
            chunk_size=options.chunk_size,
            n_samples=options.n_samples,
        )
        info = {
            "steps": accepted,
            "rejected_steps": total - accepted,
            "dt_mean": float(steps.mean()) if steps.size else None,
            "dt_min": float(steps.min()) if steps.size else None,
            "dt_max": float(steps.max()) if steps.size else None,
            "samples": total * stages * options.n_samples,
            **facts,
            **early,
        }
        if x0_log_psi is not None:
            info["loschmidt_echo"] = float(jnp.exp(2.0 * jnp.real(x0_log_psi(snapshot.parameters)[0])))
        if gauss is not None:
            info["constraint_violation"] = float(
                np.mean(VMCBackend()._eval_values(state, model, [gauss]).real)
            )
        yield Snapshot(float(t), state, info)
    if bar is not None:
        bar.n = float(times[-1])
        bar.close()
