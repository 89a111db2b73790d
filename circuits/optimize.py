"""The VQE loop: scipy BFGS / L-BFGS-B / COBYLA and SPSA on a batched estimator.

Each energy, each energy-plus-gradient (parameter shift, see
:mod:`manybody.circuits.gradient`) and each SPSA step is one estimator call
with one PUB.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import scipy.optimize
from threadpoolctl import threadpool_limits

__all__ = ["OPTIMIZER_FUNCTIONS", "Objective", "minimize"]


@dataclass
class Objective:
    """``<cost>`` on the ansatz through an :class:`EstimatorAdapter`, with a history.

    ``cost`` is the Hamiltonian plus any constraint penalty (a ``SparsePauliOp``);
    ``history`` holds the cost after each estimator call (SPSA: the mean of the
    pair), ``times`` the seconds since the objective was created.
    """

    adapter: object
    shift: object
    cost: object
    history: list = field(default_factory=list)
    times: list = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def _record(self, e: float) -> None:
        self.history.append(e)
        self.times.append(time.perf_counter() - self.start)

    def _run(self, rows, purpose):
        evs, _ = self.adapter.run(self.shift.circuit, [self.cost], rows, purpose=purpose)
        return evs[:, 0]

    def energy(self, theta) -> float:
        e = float(self._run(self.shift.angles(theta)[None], "energy")[0])
        self._record(e)
        return e

    def energy_and_gradient(self, theta):
        """The cost and its gradient: adjoint on the compiled statevector, else parameter shift."""
        if self.adapter.has_gradient:
            e, d_phi = self.adapter.value_and_gradient(
                self.shift.circuit, self.cost, self.shift.angles(theta)
            )
            g = self.shift.A.T @ d_phi
        else:
            e, g = self.shift.gradient(self._run(self.shift.gradient_rows(theta), "gradient"))
        self._record(e)
        return e, g

    def energies(self, thetas) -> np.ndarray:
        return self._run(self.shift.angles(thetas), "spsa")


def _spsa(obj: Objective, x0, maxiter: int, rng) -> np.ndarray:
    """Spall's SPSA with calibrated gain (first step ~0.2 rad); returns the mean of the last 25 iterates."""
    alpha, gamma, c = 0.602, 0.101, 0.1
    stability = 0.1 * maxiter
    x = np.array(x0, dtype=float)
    deltas = rng.choice([-1.0, 1.0], size=(5, len(x)))
    e = obj.energies(np.vstack([x + c * deltas, x - c * deltas]))
    mag = np.mean(np.abs(e[:5] - e[5:]) / (2 * c)) or 1.0
    a = 0.2 * (stability + 1) ** alpha / mag
    tail = []
    for k in range(maxiter):
        ak, ck = a / (k + 1 + stability) ** alpha, c / (k + 1) ** gamma
        delta = rng.choice([-1.0, 1.0], size=len(x))
        ep, em = obj.energies(np.vstack([x + ck * delta, x - ck * delta]))
        obj._record(0.5 * (ep + em))
        x = x - ak * (ep - em) / (2 * ck) * delta
        if k >= maxiter - 25:
            tail.append(x)
    return np.mean(tail, axis=0) if tail else x


STALL_WINDOW = 100  # iterations over which the stall rule compares the cost


def _stall_rule(stall_tol: float):
    """A scipy callback that stops when the cost fell by less than ``stall_tol |cost|`` over the
    last ``STALL_WINDOW`` iterations: at that rate the rest of ``maxiter`` would gain at most
    ``maxiter / STALL_WINDOW * stall_tol`` (relative), while a creeping BFGS spends most of its
    iterations there (Heisenberg L=8, 6 layers: 1e-6 after 100-400 iterations, then up to 2000
    iterations for the last 1e-7)."""
    costs: list[float] = []

    def callback(intermediate_result):
        costs.append(float(intermediate_result.fun))
        if len(costs) > STALL_WINDOW and costs[-STALL_WINDOW - 1] - costs[-1] <= stall_tol * abs(costs[-1]):
            raise StopIteration

    return callback


def _scipy(method: str, options: dict, gradient: bool = True):
    def run(obj: Objective, x0, maxiter: int, tol: float, rng, stall_tol: float) -> tuple[np.ndarray, int]:
        fun = obj.energy_and_gradient if gradient else obj.energy
        opts = {"maxiter": maxiter, **{k: (tol if v == "tol" else v) for k, v in options.items()}}
        callback = _stall_rule(stall_tol) if gradient and stall_tol > 0 else None
        # scipy's quasi-Newton steps make small BLAS calls; threaded OpenBLAS spins on them (7 ms per
        # L-BFGS-B step on 2 loaded cores against 0.1 ms single-threaded, more than a whole gradient)
        with threadpool_limits(1, user_api="blas"):
            res = scipy.optimize.minimize(
                fun, x0, jac=gradient or None, method=method, options=opts, callback=callback
            )
        return res.x, int(res.nit if gradient else res.nfev)

    return run


def _spsa_run(obj: Objective, x0, maxiter: int, tol: float, rng, stall_tol: float) -> tuple[np.ndarray, int]:
    return _spsa(obj, x0, maxiter, rng), maxiter


OPTIMIZER_FUNCTIONS = {
    # BFGS (dense inverse Hessian; parameters are few): 1e-6 on the Heisenberg chain L=12 in about
    # half the L-BFGS-B calls (1021 against 2099, benchmarks/vqe_statevector.py)
    "bfgs": _scipy("BFGS", {"gtol": 1e-7}),
    "lbfgs": _scipy("L-BFGS-B", {"ftol": "tol", "gtol": 1e-9, "maxcor": 30}),
    "cobyla": _scipy("COBYLA", {"tol": "tol", "rhobeg": 0.5}, gradient=False),
    "spsa": _spsa_run,
}


def minimize(
    obj: Objective, optimizer: str, x0, maxiter: int, tol: float, rng, stall_tol: float = 0.0
) -> tuple[np.ndarray, int]:
    """Optimise from ``x0`` with ``OPTIMIZER_FUNCTIONS[optimizer]``; returns the parameters and the
    number of iterations (COBYLA: energy evaluations). ``stall_tol > 0`` stops the gradient
    optimisers by the stall rule (:func:`_stall_rule`)."""
    if maxiter == 0:
        return np.asarray(x0, dtype=float), 0
    return OPTIMIZER_FUNCTIONS[optimizer](obj, x0, maxiter, tol, rng, stall_tol)
