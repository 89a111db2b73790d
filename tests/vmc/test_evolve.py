"""Time-dependent VMC (``mb.evolve(..., backend="vmc")``) against the exact backend's Krylov evolution."""

import time
from functools import partial

import numpy as np
import pytest

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg, QuantumLink1D, Schwinger, Z2Gauge
from manybody.operators import of


def local_sz(site):
    return mb.Observable(f"sz_{site}", 0.5 * of().QubitOperator(f"Z{site}"))


def compare(model, initial, times, observables, tol, n_err=4.0, **options):
    """Evolve on vmc and exact; every observable within ``tol + n_err`` standard errors of exact.

    ``tol`` bounds the systematic error (initial infidelity, TDVP projection, integrator); the
    Monte Carlo error of each estimate is added on top. Returns both evolutions.
    """
    ev = mb.evolve(model, initial, times, backend="vmc", observables=observables, progress=False, **options)
    ex = mb.evolve(model, initial, times, backend="exact", observables=observables)
    for name in ex.observables:
        mean, error = np.asarray(ev.observables[name].mean), np.asarray(ev.observables[name].error)
        assert np.all(np.abs(mean - np.asarray(ex.observables[name].mean)) < tol + n_err * error), name
    return ev, ex


@pytest.mark.parametrize(
    "option, value",
    [
        ("integrator", "RK9"),
        ("dt", 0.0),
        ("tolerance", 0.0),
        ("n_samples", 8),
        ("initial_fidelity", 1.0),
        ("linear_solver", "gmres"),
        ("n_heads", 3),
    ],
)
def test_bad_options_are_refused_fast(option, value):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=option):
        mb.evolve(Heisenberg(Chain(4)), "neel", [0, 1], backend="vmc", **{option: value})
    assert time.perf_counter() - start < 1.0


def test_initial_state_whose_echo_stays_above_the_fidelity_is_refused_by_name():
    """Z2 gauge theory on one open plaquette: a two-level sector, where the echo of |0000> never
    falls below (|c0|^2 - |c1|^2)^2 (c: its overlaps with the two eigenstates, exact
    diagonalisation), above the default initial_fidelity 0.9."""
    from manybody.exact import sector_hamiltonian

    model = Z2Gauge(2, 2, pbc=False)
    h, basis = sector_hamiltonian(model)
    start = [row.tolist() for row in basis.bits()].index([0, 0, 0, 0])
    weights = np.abs(np.linalg.eigh(h.toarray())[1][start]) ** 2
    floor = (weights[0] - weights[1]) ** 2
    assert len(weights) == 2 and floor > 0.9
    with pytest.raises(ValueError, match=r"initial_fidelity=0.9: .* stays at or above") as error:
        mb.evolve(model, [0, 0, 0, 0], [0, 1], backend="vmc")
    reported = float(str(error.value).split("stays at or above ")[1].split(" ")[0])
    assert floor - 1e-4 <= reported < floor + 1e-3


SMALL_TDVP = dict(d_model=8, n_heads=2, n_layers=1, n_samples=256, n_eval_samples=512)


@pytest.mark.slow
def test_gauge_link_evolution_reports_zero_gauss_violation():
    """The snapshots' own Gauss-law check (``info["constraint_violation"]``, the penalty on the
    evaluation samples): masked sampling never leaves the sector, so it is exactly 0. Slow: 53 s
    on 2 cores (the network fit and the TDVP compilations of a new model), for one branch."""
    ev = mb.evolve(
        QuantumLink1D(4), [1, 0, 1, 0, 0, 0, 0], [0.0, 0.5], backend="vmc", progress=False, **SMALL_TDVP
    )
    assert ev.info["constraint_violation"] == [0.0, 0.0]


def test_iterative_solvers_need_a_diagonal_shift():
    with pytest.raises(ValueError, match="diag_shift"):
        mb.evolve(Heisenberg(Chain(4)), "neel", [0, 1], backend="vmc", linear_solver="cholesky")


def test_netket_integrator_step_counters_still_mean_what_evolve_reads():
    """Guard for the private NetKet internals vmc/evolve.py reads for ``info["steps"]`` and
    ``info["rejected_steps"]``: ``driver.integrator._state.step_no`` (accepted steps since ``t0``)
    and ``step_no_total`` (accepted and rejected). Counted here independently by the public callback
    (called once per accepted step) and NetKet's callback hook run once per attempted step."""
    import netket as nk
    import netket.experimental as nkx

    hilbert = nk.hilbert.Spin(0.5, 3)
    vs = nk.vqs.FullSumState(hilbert, nk.models.RBM(alpha=1, param_dtype=complex), seed=0)
    # a first step of 0.5 is far too large for this tolerance: the controller rejects some
    solver = nkx.dynamics.RK23(0.5, adaptive=True, atol=3e-2, rtol=0.0, dt_limits=(1e-3, 0.5))
    qgt = nk.optimizer.qgt.QGTJacobianDense(holomorphic=True, diag_shift=1e-6)
    driver = nkx.TDVP(nk.operator.Ising(hilbert, nk.graph.Chain(3), h=1.0), vs, solver, qgt=qgt)

    class Attempts(nk.callbacks.AbstractCallback):
        count = 0

        def on_compute_update_end(self, step, log_data, driver):
            Attempts.count += 1

    accepted = []
    driver.run(
        0.5, show_progress=False, callback=[lambda t, log, drv: accepted.append(t) or True, Attempts()]
    )
    state = driver.integrator._state
    assert int(state.step_no) == len(accepted) > 0
    assert int(state.step_no_total) > int(state.step_no)
    # the last attempt at the final time computes no step
    assert int(state.step_no_total) == Attempts.count - 1


def test_sample_space_tdvp_matches_netkets_dense_solve():
    """SampleSpaceTDVP (minSR form, with and without distinct rows) gives the right-hand side of
    NetKet's TDVP with the dense tensor and pinv_smooth on the same samples (a complex RBM with
    real parameters, 350 of them against 2 x 64 Jacobian rows)."""
    import jax
    import netket as nk
    import netket.experimental as nkx
    from netket.experimental.driver.tdvp_common import odefun

    from manybody.vmc.evolve import SampleSpaceTDVP
    from manybody.vmc.operators import to_pauli_strings

    model = Heisenberg(Chain(6), fields=[(-1.0) ** i for i in range(6)])
    solver = partial(nk.optimizer.solver.pinv_smooth, rtol=1e-10, rtol_smooth=1e-6)
    hilbert = nk.hilbert.Qubit(6)

    def rhs(make):
        # the same seeds: the same parameters and samples
        vs = nk.vqs.MCState(
            nk.sampler.ExactSampler(hilbert), nk.models.RBMModPhase(alpha=4), n_samples=64, seed=1
        )
        drv = make(to_pauli_strings(model.problem.hamiltonian, 6, hilbert), vs, nkx.dynamics.Heun(0.02))
        dw = odefun(vs, drv, 0.0, vs.parameters)
        return np.concatenate([np.ravel(x) for x in jax.tree_util.tree_leaves(dw)]), vs.n_parameters

    qgt = nk.optimizer.qgt.QGTJacobianDense(holomorphic=False)
    ref, n_parameters = rhs(lambda h, vs, ode: nkx.TDVP(h, vs, ode, qgt=qgt, linear_solver=solver))
    assert n_parameters > 2 * 64 and np.linalg.norm(ref) > 1.0
    for distinct in (None, 64):
        got, _ = rhs(partial(SampleSpaceTDVP, linear_solver=solver, distinct=distinct))
        assert np.linalg.norm(got - ref) < 1e-8 * np.linalg.norm(ref)


def test_heisenberg_neel_quench_matches_exact():
    model = Heisenberg(Chain(4))
    # t=0 and 0.25 come before the start (fidelity 0.9 at t=0.38): networks fitted to the exact state
    ev, ex = compare(model, "neel", [0.0, 0.25, 0.5], [local_sz(0), local_sz(1)], 0.02)
    assert ex.loschmidt_echo[-1] < 0.9  # the state does evolve
    # <H> is conserved by the exact evolution; VMC within its error bars and the TDVP error
    assert np.all(np.abs(ev.energy.mean - ex.energy.mean) < 0.02 + 4 * ev.energy.error)
    info = ev.info
    assert (
        abs(info["initial_fidelity"][-1] - 0.9) < 1e-2 and info["steps"][-1] > 0 and info["samples"][-1] > 0
    )
    assert 0.25 < info["start_time"][0] < 0.5
    # |<x0|psi(t)>|^2 of the network is exact (normalised autoregressive amplitude)
    assert np.abs(ev.loschmidt_echo - ex.loschmidt_echo).max() < 0.02


def staggered_field_quench(n_iter):
    """A vmc ground state of the Heisenberg chain L=6 (the solve's default network, 6804
    parameters), evolved under a staggered field h_i = (-1)^i to t=0.5 (<S^z_i> grows from 0 to
    0.14, the echo falls to 0.3 from the exact ground state), and the reference: the network's own
    amplitudes at t=0, summed exactly over all configurations and evolved exactly (expm_multiply)."""
    import scipy.sparse.linalg

    from manybody.vmc.backend import make_vstate
    from manybody.vmc.operators import to_pauli_strings

    gs = mb.solve(Heisenberg(Chain(6)), backend="vmc", n_iter=n_iter, seed=0, progress=False)
    model = Heisenberg(Chain(6), fields=[(-1.0) ** i for i in range(6)])
    times = np.array([0.0, 0.25, 0.5])
    observables = [local_sz(i) for i in range(6)]
    ev = mb.evolve(model, gs, times, backend="vmc", observables=observables, progress=False)
    vs = make_vstate(model, gs.state.config, 32, 0, params=gs.state.params)
    h = to_pauli_strings(model.problem.hamiltonian, 6, vs.hilbert).to_sparse()
    psi = scipy.sparse.linalg.expm_multiply(-1j * h, np.asarray(vs.to_array()), start=0.0, stop=0.5, num=3)
    sz = 0.5 - np.asarray(vs.hilbert.all_states())
    exact = np.abs(psi) ** 2 @ sz  # (times, sites)
    final = make_vstate(model, ev.state.config, 32, 0, params=ev.state.params)
    fidelity = abs(np.vdot(psi[-1], np.asarray(final.to_array()))) ** 2
    return gs, ev, exact, fidelity


@pytest.mark.slow
def test_quench_from_vmc_result_matches_exact():
    """Issue 17: the quench from a vmc Result (the sample-space solve: 6804 parameters, 20
    distinct configurations) against the exact evolution of the same state: <S^z_i> within 0.005
    plus 4 standard errors at every time, the network at t=0.5 summed exactly at fidelity above
    0.9995 with the exact state. The reference is the network's own t=0 state, so the ground
    state need not be converged (10 iterations: energy -2.337 against -2.494). Measured: estimates
    within 0.014 (1.8 standard errors; errors <= 0.008), fidelity 0.999998 at t=0.5; 54 s CPU
    (solve 25 s, evolve 29 s, mostly compilation) at load 8.7."""
    gs, ev, exact, fidelity = staggered_field_quench(n_iter=10)
    assert gs.info["sr_mode"] == "minSR" and np.abs(exact[-1]).max() > 0.1  # a large network; the state moves
    estimates = np.stack([ev.observables[f"sz_{i}"].mean for i in range(6)], axis=1)
    errors = np.stack([ev.observables[f"sz_{i}"].error for i in range(6)], axis=1)
    assert np.all(np.abs(estimates - exact) < 0.005 + 4 * errors)
    assert fidelity > 0.9995
    assert ev.info["steps"][-1] == 25


def test_schwinger_vacuum_keeps_gauss_law_exactly():
    model = Schwinger(4, x=1.0, mu=0.5)
    ev, _ = compare(model, "vacuum", [0.0, 0.25], ["electric_field", "gauss_violation"], 0.02)
    # masked sampling: no sample ever leaves the sector, the penalty is exactly zero
    assert np.all(np.asarray(ev.observables["gauss_violation"].mean) == 0.0)


@pytest.mark.slow
def test_heisenberg_l10_target():
    """Issue 17: L=10 Neel quench, energy conserved to 1e-2 and local magnetisation within 2e-2 of exact to t=1.

    The Monte Carlo estimates (32768 evaluation samples) within the targets plus 3 standard errors
    at every time; the network at t=1 also summed exactly over all 2^10 configurations, against the
    targets alone (benchmarks/results/tdvp_vmc_L10_cpu2.json has the measured figures).
    """
    from manybody.vmc.backend import make_vstate
    from manybody.vmc.operators import to_pauli_strings

    model = Heisenberg(Chain(10))
    times = np.linspace(0.0, 1.0, 6)
    observables = [local_sz(i) for i in range(10)]
    ev, ex = compare(model, "neel", times, observables, 0.02, n_err=3.0, n_eval_samples=32768)
    assert np.all(np.abs(ev.energy.mean - ex.energy.mean[0]) < 1e-2 + 3 * ev.energy.error)
    vs = make_vstate(model, ev.state.config, 32, 0, params=ev.state.params)
    psi = np.asarray(vs.to_array())
    h = to_pauli_strings(model.problem.hamiltonian, 10, vs.hilbert).to_sparse()
    assert abs(np.vdot(psi, h @ psi).real - ex.energy.mean[0]) < 1e-2
    sz = np.abs(psi) ** 2 @ (0.5 - np.asarray(vs.hilbert.all_states()))
    exact_sz = [ex.observables[o.name].mean[-1] for o in observables]
    assert np.abs(sz - exact_sz).max() < 2e-2


@pytest.mark.slow
def test_schwinger_n8_vacuum_quench():
    """Issue 17's string-breaking setup on vmc: the electric field within 0.03 (plus 4 standard errors)
    of exact to t=1, Gauss violation exactly 0. Measured (benchmarks/results/tdvp_vmc_schwinger8_cpu2.json):
    field within 0.017 at t=1 (0.005 up to t=0.6), Gauss violation 0 at every time."""
    model = Schwinger(8, x=1.0, mu=0.5)
    ev, _ = compare(model, "vacuum", np.linspace(0.0, 1.0, 3), ["electric_field", "gauss_violation"], 0.03)
    assert np.all(np.asarray(ev.observables["gauss_violation"].mean) == 0.0)
