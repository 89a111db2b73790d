"""One model x backend matrix: every model family (one small instance, ``small_model`` in
conftest.py) on every backend, energy and every default observable against exact
diagonalisation, with the tolerance of each estimator:

* dmrg: converged two-site DMRG, energy to 1e-8, observables to 1e-6;
* vqe: the default ansatz on the statevector estimator, energy to 1e-6 (relative);

Observables are compared only where the exact ground state is non-degenerate (they are
defined by the state only there).
"""

from __future__ import annotations

import numpy as np

import manybody as mb

DMRG = dict(bond_dims=[16, 32, 64])


def _exact(model):
    return mb.solve(model, backend="exact", n_states=2)


def _unique(ex) -> bool:
    return ex.info["gap"] > 1e-6


def test_dmrg(small_model):
    ex = _exact(small_model)
    res = mb.solve(small_model, backend="dmrg", **DMRG)
    assert abs(res.energy - ex.energy) < 1e-8
    assert res.info["constraint_violation"] < 1e-9
    if _unique(ex):
        for name, est in ex.observables.items():
            np.testing.assert_allclose(res.observables[name].mean, est.mean, atol=1e-6, err_msg=name)


def test_vqe(small_model):
    ex = _exact(small_model)
    res = mb.solve(small_model, backend="vqe", seed=1)
    assert abs(res.energy - ex.energy) <= 1e-6 * abs(ex.energy)
    assert res.info.get("constraint_violation", 0.0) < 1e-8
    if _unique(ex):
        for name, est in ex.observables.items():
            np.testing.assert_allclose(res.observables[name].mean, est.mean, atol=1e-4, err_msg=name)
