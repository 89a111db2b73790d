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
``rcond_smooth`` damped; Medvidovic and Sels 2022) and integrated by a
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
  network (``d_model``, ``n_heads``, ``n_layers``) is fitted, by maximising the
  exact fidelity on the few configurations involved, to the first-order evolved
  state ``(1 - i delta (H - E_0)) |x0>`` (:func:`short_time_state`), ``delta``
  chosen so that its fidelity with ``|x0>`` is ``initial_fidelity``; the
  evolution starts at ``t = delta`` (``info["start_time"]``; requested times up
  to ``delta`` see the fitted state). Its weight off ``x0`` then carries the
  phase ``-i`` of the true evolution: fitted to ``|x0>`` alone (F = 0.99, random
  phases off ``x0``), the Heisenberg chain L=4 started 0.15 above the Neel
  energy, a first-order error ``2 sqrt(F (1 - F)) Re <x0|H|phi>``;
* a vmc ``Result`` (a quench): its network and parameters (fidelity 1 with
  the ground-state approximation).

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

from manybody.evolution import Snapshot
from manybody.vmc.backend import VMCBackend, VMCState, make_vstate
from manybody.vmc.operators import FlipPlan, local_values, to_pauli_strings
from manybody.vmc.options import INTEGRATORS, VMCEvolveOptions

__all__ = ["evolve", "fit_state", "short_time_state", "FIT_LEARNING_RATE"]

FIT_LEARNING_RATE = 0.02
"""Adam step of the fit to the initial state."""


def _log_amplitudes(vstate, configs):
    """``log psi(configs)`` (batch,) as a function of the parameters."""
    x = jnp.asarray(np.atleast_2d(configs), dtype=jnp.int32)
    rest = {k: v for k, v in vstate.variables.items() if k != "params"}

    def log_psi(params):
        return vstate.model.apply({**rest, "params": params}, x)

    return log_psi


def short_time_state(problem, bits, fidelity: float):
    """The first-order evolved basis state ``(1 - i delta (H - E_0)) |bits>``, normalised.

    ``delta`` is chosen so that its fidelity with ``|bits>`` is ``fidelity``:
    ``1 / (1 + delta^2 sigma^2) = fidelity`` with ``sigma^2 = <bits|(H - E_0)^2|bits>``. It equals
    ``exp(-i H delta) |bits>`` up to ``O(delta^2)`` (and a global phase), so its weight off
    ``|bits>`` carries the phase ``-i`` of the true evolution and ``<H> - E_0 = O(delta^2)``.

    Returns
    -------
    configs : ndarray of int8 (m, n_qubits)
        ``bits`` and the configurations ``H`` connects it to (in the sector: ``H`` keeps the constraints).
    amplitudes : ndarray of complex (m,)
    delta : float
        0 if ``bits`` is an eigenstate of ``H`` (then the state is ``|bits>``).
    """
    plan = FlipPlan([problem.pauli])
    x0 = np.asarray(bits, dtype=np.int8)
    masks = np.vstack([np.zeros((1, problem.n_qubits), np.int8), plan.masks])
    term_row = plan.term_mask + 1  # row 0: the diagonal
    rows = x0[None, :] ^ masks
    # <x0 ^ m| c P |x0> = coeffs (-1)^popcount((x0 ^ m) & zy) (the FlipPlan convention)
    signs = 1 - 2 * ((rows[term_row] & plan.zy).sum(axis=1) % 2)
    column = np.zeros(len(rows), dtype=complex)
    np.add.at(column, term_row, plan.coeffs * signs)
    keep = np.abs(column) > 1e-12
    keep[0] = True
    rows, column = rows[keep], column[keep]
    sigma = float(np.linalg.norm(column[1:]))
    if sigma == 0.0:
        return rows[:1], np.ones(1, dtype=complex), 0.0
    delta = float(np.sqrt(1.0 / fidelity - 1.0)) / sigma
    amplitudes = np.concatenate([[1.0], -1j * delta * column[1:]])
    return rows, amplitudes / np.linalg.norm(amplitudes), delta


def fit_state(vstate, configs, amplitudes, infidelity: float, max_steps: int) -> tuple[float, int]:
    """Fit ``vstate`` in place to the state ``sum_k amplitudes[k] |configs[k]>`` (normalised).

    Maximises the exact fidelity ``|sum_k conj(amplitudes[k]) psi(configs[k])|^2`` (the masked
    autoregressive amplitude is normalised over the sector) with Adam (``FIT_LEARNING_RATE``) until
    ``1 - fidelity <= infidelity``.

    Returns
    -------
    fidelity : float
        Reached with the target.
    steps : int
        Adam steps taken.
    """
    log_psi = _log_amplitudes(vstate, configs)
    target = jnp.asarray(np.conj(amplitudes))
    optimizer = optax.adam(FIT_LEARNING_RATE)

    def loss(params):
        return -2.0 * jnp.log(jnp.abs(jnp.sum(target * jnp.exp(log_psi(params)))))

    @jax.jit
    def step(params, opt_state):
        value, grad = jax.value_and_grad(loss)(params)
        updates, opt_state = optimizer.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    params = vstate.parameters
    opt_state = optimizer.init(params)
    reached, steps = float(jnp.exp(-loss(params))), 0
    while 1.0 - reached > infidelity and steps < max_steps:
        new, opt_state, value = step(params, opt_state)
        reached = float(jnp.exp(-value))  # the fidelity of ``params``, before the update
        if 1.0 - reached <= infidelity:
            break
        params, steps = new, steps + 1
    if 1.0 - reached > infidelity:
        raise RuntimeError(
            f"the network reached fidelity {reached:.6f} with the initial state after {steps} steps, "
            f"short of 1 - {infidelity:.2g}: raise fit_steps or lower initial_fidelity"
        )
    vstate.parameters = params
    return reached, steps


def _initial_vstate(model, initial, options: VMCEvolveOptions):
    """``(vstate, config, facts)`` of the initial state (see the module docstring)."""
    problem = model.problem
    if initial.result is not None:
        state = initial.result.state
        config = dict(state.config)
        vs = make_vstate(model, config, options.n_samples, options.seed, options.chunk_size, state.params)
        return vs, config, {"initial_fidelity": None, "start_time": 0.0, "fit_steps": 0}
    config = {
        "n_qubits": problem.n_qubits,
        "d_model": options.d_model,
        "n_heads": options.n_heads,
        "n_layers": options.n_layers,
        "dtype": "float64",
        "sign_rule": None,
        "phase": None,
    }
    vs = make_vstate(model, config, options.n_samples, options.seed, options.chunk_size)
    configs, amplitudes, delta = short_time_state(problem, initial.bits, options.initial_fidelity)
    # the fit's own error is kept a tenth of the deliberate distance from the basis state
    infidelity = (0.1 if delta else 1.0) * (1.0 - options.initial_fidelity)
    fit, steps = fit_state(vs, configs, amplitudes, infidelity, options.fit_steps)
    x0 = float(jnp.exp(2.0 * jnp.real(_log_amplitudes(vs, initial.bits)(vs.parameters)[0])))
    return vs, config, {"initial_fidelity": x0, "fit_fidelity": fit, "start_time": delta, "fit_steps": steps}


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
    vs, config, facts = _initial_vstate(model, initial, options)
    hamiltonian = to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert)
    solver = _ode_solver(options, vs.n_parameters)
    driver = nkx.TDVP(
        hamiltonian,
        vs,
        solver,
        t0=facts["start_time"],
        qgt=nk.optimizer.qgt.QGTJacobianDense(holomorphic=False, diag_shift=options.diag_shift),
        linear_solver=_linear_solver(options),
        error_norm="qgt",
    )
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
        state = VMCState(
            config=config,
            params=flax.serialization.to_state_dict(vs.parameters),
            seed=options.seed + 1000 * (index + 1),
            n_eval_samples=options.n_eval_samples,
            chunk_size=options.chunk_size,
        )
        info = {
            "steps": accepted,
            "rejected_steps": total - accepted,
            "dt_mean": float(steps.mean()) if steps.size else None,
            "dt_min": float(steps.min()) if steps.size else None,
            "dt_max": float(steps.max()) if steps.size else None,
            "samples": total * stages * options.n_samples,
            **facts,
        }
        if x0_log_psi is not None:
            info["loschmidt_echo"] = float(jnp.exp(2.0 * jnp.real(x0_log_psi(vs.parameters)[0])))
        if gauss is not None:
            evs = VMCBackend()._eval_vstate(state, model)
            samples = np.asarray(evs.samples).reshape(-1, problem.n_qubits)
            info["constraint_violation"] = float(np.mean(local_values(evs, samples, [gauss]).real))
        yield Snapshot(float(t), state, info)
    if bar is not None:
        bar.n = float(times[-1])
        bar.close()
