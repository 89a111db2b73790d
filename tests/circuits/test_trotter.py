"""Trotter circuits (``mb.evolve(..., backend="vqe")``) against the exact backend and closed forms."""

import numpy as np
import pytest
import scipy.linalg
from qiskit.quantum_info import Operator

import manybody as mb
from manybody.circuits import trotter
from manybody.lattice import Chain
from manybody.models import Heisenberg, Schwinger
from manybody.operators import spin


def _max_errors(ev, ex):
    """Largest deviation from the exact run in every observable, the energy and the echo."""
    out = {k: np.abs(ev.observables[k].mean - ex.observables[k].mean).max() for k in ex.observables}
    out["energy"] = np.abs(ev.energy.mean - ex.energy.mean).max()
    out["loschmidt_echo"] = np.abs(ev.loschmidt_echo - ex.loschmidt_echo).max()
    return out


def test_neel_quench_within_requested_accuracy_of_exact():
    """L=8 to t=2: every observable within trotter_error of exact; the doubling estimate is honest."""
    model = Heisenberg(Chain(8))
    times = np.linspace(0, 2, 5)
    ex = mb.evolve(model, "neel", times, observables="all")
    ev = mb.evolve(model, "neel", times, backend="vqe", observables="all", trotter_error=1e-3)
    errors = _max_errors(ev, ex)
    assert max(v for k, v in errors.items() if k != "energy") < 1e-3, errors
    assert errors["energy"] < 1e-3 * 2 * 8  # ||H|| <= 3/4 per bond: |dE| <= 2 ||H|| trotter_error
    estimate = np.asarray(ev.info["trotter_error_estimate"])
    assert estimate.max() <= 1e-3 and estimate[0] == 0
    assert ev.info["trotter_steps"][0] == 0 and ev.info["trotter_steps"][-1] > 0
    assert np.diff(ev.info["two_qubit_gates"]).min() >= 0
    assert np.allclose(ev.observables["magnetization_z"].error, 0)


def test_one_step_is_the_product_formula():
    """The decomposed step circuit equals exp(-ih H_1/2) exp(-ih H_2) exp(-ih H_1/2) (dense matrices)."""
    model = Heisenberg(Chain(4), Delta=0.7)
    groups = trotter.group_operators(model)
    assert len(groups) == 2  # even and odd bonds
    h = 0.37
    step = trotter.TrotterStep(groups, order=2)
    a, b = (scipy.linalg.expm(-1j * h * g.to_matrix()) for g in groups)
    half = scipy.linalg.expm(-0.5j * h * groups[0].to_matrix())
    assert Operator(step.bound(h)).equiv(Operator(half @ b @ half))
    lie = trotter.TrotterStep(groups, order=1)
    assert Operator(lie.bound(h)).equiv(Operator(b @ a)) or Operator(lie.bound(h)).equiv(Operator(a @ b))
    # the compiled statevector path applies the same circuit
    psi = np.zeros(16, dtype=complex)
    psi[0b0101] = 1
    assert np.allclose(step.apply(psi, h, 3), np.linalg.matrix_power(half @ b @ half, 3) @ psi, atol=1e-12)


def test_error_shrinks_with_the_order_of_the_formula():
    """Fixed dt: the error falls as dt^order (order 1 halves, order 2 quarters when dt halves)."""
    model = Heisenberg(Chain(6))
    op = [mb.Observable("sz0", spin("z", 0))]
    ex = mb.evolve(model, "neel", [1.0], observables=op).observables["sz0"].mean[0]
    for order, ratio in ((1, 2), (2, 4)):
        err = [
            abs(
                mb.evolve(model, "neel", [1.0], backend="vqe", observables=op, order=order, dt=dt)
                .observables["sz0"]
                .mean[0]
                - ex
            )
            for dt in (0.1, 0.05)
        ]
        assert err[0] / err[1] == pytest.approx(ratio, rel=0.15), (order, err)
    fourth = mb.evolve(model, "neel", [1.0], backend="vqe", observables=op, order=4, dt=0.25)
    assert abs(fourth.observables["sz0"].mean[0] - ex) < 1e-4


def test_commutator_bound_holds():
    """The a-priori bound: the true state error at t=1 lies below trotter_error."""
    model = Heisenberg(Chain(6))
    groups = trotter.group_operators(model)
    H = sum(g.to_matrix() for g in groups)
    psi0 = np.zeros(64, dtype=complex)
    psi0[int("".join(map(str, model.named_states()["neel"][::-1])), 2)] = 1
    exact = scipy.linalg.expm(-1j * H) @ psi0
    for order in (1, 2):
        ev = mb.evolve(
            model,
            "neel",
            [1.0],
            backend="vqe",
            observables=[],
            order=order,
            error_estimate="bound",
            trotter_error=1e-2,
        )
        overlap = abs(np.vdot(exact, ev.state.psi))
        assert np.sqrt(2 - 2 * overlap) < 1e-2  # the state error up to a global phase
        assert trotter.commutator_bound(groups, order) > 0


def test_bad_evolve_options_are_refused_before_qiskit():
    for bad, match in (
        ({"order": 3}, "order must be one of"),
        ({"trotter_error": 0}, "trotter_error"),
        ({"dt": 0}, "dt must be"),
        ({"shots": 100}, "shots must be None"),
        ({"order": 4, "error_estimate": "bound"}, "order 1 and 2"),
        ({"trotter_steps": 3}, "unknown option"),
    ):
        with pytest.raises(ValueError, match=match):
            mb.evolve(Heisenberg(Chain(4)), "0101", [0, 1], backend="vqe", **bad)
