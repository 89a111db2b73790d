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
Runge-Kutta scheme of ``netket.experimental.dynamics`` (adaptive RK23 by
default, steps between ``dt``/10 and ``dt_max`` chosen for ``rtol``) through
``netket.experimental.TDVP``. Constraints (total S^z, particle numbers, Gauss's
law) are kept exactly: the masked conditionals (:mod:`manybody.vmc.masking`)
give zero amplitude to every configuration outside the sector at all times.

The initial state is

* a basis state ``x0``: a fresh network (``d_model``, ``n_heads``,
  ``n_layers``) is fitted by Adam on ``-log |psi(x0)|^2`` (exact: the
  autoregressive amplitude is normalised) until the fidelity
  ``|<x0|psi>|^2`` reaches ``initial_fidelity``. The state must keep some
  weight off ``x0``: at a delta function every log-derivative has zero
  variance and the TDVP equation is empty;
* a vmc ``Result`` (a quench): its network and parameters (fidelity 1 with
  the ground-state approximation).

Each snapshot is a :class:`~manybody.vmc.backend.VMCState`, so the observables
are Monte Carlo estimates with standard errors on ``n_eval_samples`` fresh
exact samples (``backend.expect``). ``info`` per time: ``steps`` and
``rejected_steps`` of the integrator since ``t = 0``, ``dt_mean``, ``dt_min``,
``dt_max`` of the steps since the previous time, ``samples`` drawn since
``t = 0`` (``n_samples`` per right-hand side), ``initial_fidelity``,
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
from manybody.vmc.operators import local_values, to_pauli_strings
from manybody.vmc.options import INTEGRATORS, VMCEvolveOptions

__all__ = ["evolve", "fit_basis_state", "FIT_LEARNING_RATE"]

FIT_LEARNING_RATE = 0.02
"""Adam step of the fit to a basis state."""


def _log_amplitude(vstate, bits):
    """``log psi(bits)`` as a function of the parameters (one configuration)."""
    x = jnp.asarray(np.asarray(bits)[None], dtype=jnp.int32)
    rest = {k: v for k, v in vstate.variables.items() if k != "params"}

    def log_psi(params):
        return vstate.model.apply({**rest, "params": params}, x)[0]

    return log_psi


def fit_basis_state(vstate, bits, fidelity: float, max_steps: int) -> tuple[float, int]:
    """Fit ``vstate`` in place to the basis state ``bits`` until ``|<bits|psi>|^2 >= fidelity``.

    Minimises ``-log |psi(bits)|^2 = -2 Re log psi(bits)`` with Adam (``FIT_LEARNING_RATE``); exact,
    because the masked autoregressive amplitude is normalised over the sector.

    Returns
    -------
    fidelity : float
        ``|<bits|psi>|^2`` reached.
    steps : int
        Adam steps taken.
    """
    log_psi = _log_amplitude(vstate, bits)
    optimizer = optax.adam(FIT_LEARNING_RATE)

    @jax.jit
    def step(params, opt_state):
        loss, grad = jax.value_and_grad(lambda p: -2.0 * jnp.real(log_psi(p)))(params)
        updates, opt_state = optimizer.update(grad, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params = vstate.parameters
    opt_state = optimizer.init(params)
    reached = float(jnp.exp(2.0 * jnp.real(log_psi(params))))
    steps = 0
    while reached < fidelity and steps < max_steps:
        new, opt_state, loss = step(params, opt_state)
        reached = float(jnp.exp(-loss))  # the fidelity of ``params``, before the update
        if reached >= fidelity:
            break
        params, steps = new, steps + 1
    if reached < fidelity:
        raise RuntimeError(
            f"the network reached fidelity {reached:.6f} with the initial basis state after {steps} steps, "
            f"less than initial_fidelity={fidelity}: raise fit_steps or lower initial_fidelity"
        )
    vstate.parameters = params
    return reached, steps


def _initial_vstate(model, initial, options: VMCEvolveOptions):
    """``(vstate, config, fidelity, fit_steps)`` of the initial state (see the module docstring)."""
    problem = model.problem
    if initial.result is not None:
        state = initial.result.state
        config = dict(state.config)
        vs = make_vstate(model, config, options.n_samples, options.seed, options.chunk_size, state.params)
        return vs, config, 1.0, 0
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
    fidelity, steps = fit_basis_state(vs, initial.bits, options.initial_fidelity, options.fit_steps)
    return vs, config, fidelity, steps


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
    if options.linear_solver == "cholesky":
        return solvers.cholesky
    return jax.scipy.sparse.linalg.cg  # matrix-free on the Jacobian


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
    vs, config, fidelity, fit_steps = _initial_vstate(model, initial, options)
    hamiltonian = to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert)
    solver = _ode_solver(options, vs.n_parameters)
    driver = nkx.TDVP(
        hamiltonian,
        vs,
        solver,
        qgt=nk.optimizer.qgt.QGTJacobianDense(holomorphic=False, diag_shift=options.diag_shift),
        linear_solver=_linear_solver(options),
        error_norm="qgt",
    )
    stages = len(solver.tableau.c)
    x0_log_psi = None if initial.bits is None else _log_amplitude(vs, initial.bits)
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

    now = 0.0
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
            "initial_fidelity": fidelity,
            "fit_steps": fit_steps,
        }
        if x0_log_psi is not None:
            info["loschmidt_echo"] = float(jnp.exp(2.0 * jnp.real(x0_log_psi(vs.parameters))))
        if gauss is not None:
            evs = VMCBackend()._eval_vstate(state, model)
            samples = np.asarray(evs.samples).reshape(-1, problem.n_qubits)
            info["constraint_violation"] = float(np.mean(local_values(evs, samples, [gauss]).real))
        yield Snapshot(float(t), state, info)
    if bar is not None:
        bar.n = float(times[-1])
        bar.close()
