"""Short VMC runs on the constrained models against exact diagonalisation: a Hubbard chain
(particle numbers masked, the hubbard_chain sign rule), a 1D quantum link model and a 2D Z2
gauge theory (Gauss's law masked). Iteration counts and bounds from runs on 2 CPU cores
(relative errors 9e-5, 4.5e-5 and 3e-9 with seed 0, about 20 s each)."""

from __future__ import annotations

import numpy as np
import pytest

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Hubbard, QuantumLink1D, Z2Gauge

SMALL = dict(d_model=16, n_heads=2, n_layers=1, n_samples=256, n_eval_samples=2048, progress=False)

CASES = [
    # (id, model factory, iterations, relative error bound, expected sign rule, observable)
    ("hubbard_chain_L4", lambda: Hubbard(Chain(4), U=4.0), 60, 1e-3, "hubbard_chain", "double_occupancy"),
    ("quantum_link_1d_6", lambda: QuantumLink1D(6, m=0.5), 60, 1e-3, "none", "gauss_violation"),
    ("z2_gauge_3x2_open", lambda: Z2Gauge(3, 2, h=0.5, pbc=False), 60, 1e-4, "none", "gauss_violation"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_energy_and_observable_against_exact(case):
    _, factory, n_iter, bound, rule, name = case
    model = factory()
    exact = mb.solve(model, backend="exact", observables=[name])
    res = mb.solve(model, backend="vmc", seed=0, n_iter=n_iter, observables=[name], **SMALL)
    assert res.info["sign_rule"] == rule
    assert res.energy > exact.energy - 5 * res.energy_error
    assert abs(res.energy - exact.energy) / abs(exact.energy) < bound
    vmc, ref = res.observables[name], exact.observables[name]
    if name == "gauss_violation":
        # only physical configurations are sampled: no violation in any sample
        assert np.all(np.asarray(vmc.mean) == 0) and np.all(np.asarray(ref.mean) < 1e-10)
    else:
        assert np.all(np.abs(np.asarray(vmc.mean) - np.asarray(ref.mean)) < 5 * np.asarray(vmc.error) + 1e-2)
