"""The VMC backend against the exact backend: energy, observables, checkpoint/resume,
divergence guard, save/load, warm start and bad input.

Every test shares one model and network size so that JAX compiles once."""

from __future__ import annotations

import subprocess
import sys

import jax
import netket as nk
import numpy as np
import optax
import pytest

import manybody as mb
from manybody.lattice import Chain, Triangular
from manybody.models import Heisenberg
from manybody.vmc.driver import SR

SMALL = dict(d_model=16, n_heads=2, n_layers=1, n_samples=256, n_eval_samples=2048, progress=False)


@pytest.fixture(scope="module")
def chain():
    return Heisenberg(Chain(8))


@pytest.fixture(scope="module")
def exact(chain):
    return mb.solve(chain, backend="exact", observables=["spin_correlations"])


@pytest.fixture(scope="module")
def trained(chain):
    # lr 0.05 with the cosine decay reached ~1e-4 here in 80 iterations (0.02: ~3e-3)
    return mb.solve(
        chain,
        backend="vmc",
        seed=1,
        n_iter=80,
        learning_rate=0.05,
        observables=["spin_correlations"],
        **SMALL,
    )


def test_energy_close_to_exact(trained, exact):
    # variational: above the exact energy up to noise, and within 3e-3 relative error
    assert trained.energy > exact.energy - 5 * trained.energy_error
    assert abs(trained.energy - exact.energy) / abs(exact.energy) < 3e-3
    assert trained.energy_error > 0 and trained.variance >= 0
    assert trained.info["sign_rule"] == "marshall"
    assert trained.device == jax.devices()[0].platform


def test_observables_close_to_exact(trained, exact):
    vmc, ref = trained.observables["spin_correlations"], exact.observables["spin_correlations"]
    # near-converged state: statistical error plus a small bias of the variational state
    assert np.all(np.abs(vmc.mean - ref.mean) < 5 * vmc.error + 0.02)
    assert np.all(vmc.error > 0)


def test_save_load_expect_reproduces(trained, tmp_path):
    trained.save(tmp_path / "run")
    loaded = mb.Result.load(tmp_path / "run")
    again = loaded.expect(["spin_correlations"])["spin_correlations"]
    np.testing.assert_allclose(again.mean, trained.observables["spin_correlations"].mean, atol=1e-12)
    assert sorted(p.name for p in (tmp_path / "run" / "state").iterdir()) == [
        "network.json",
        "params.msgpack",
    ]


def test_tokens_of_four_spins_reach_exact_and_reload(chain, exact, tmp_path):
    """``patch=4``: the chain as two tokens of 4 spins (16-way conditionals) trains as the qubit
    tokens do, and the saved network is rebuilt with its tokens."""
    res = mb.solve(
        chain, backend="vmc", seed=1, n_iter=80, learning_rate=0.05, patch=4, observables=[], **SMALL
    )
    assert res.energy > exact.energy - 5 * res.energy_error
    assert abs(res.energy - exact.energy) / abs(exact.energy) < 3e-3
    res.save(tmp_path / "run")
    loaded = mb.Result.load(tmp_path / "run")
    assert loaded.state.config["patch"] == 4
    again = loaded.expect(["spin_correlations"])["spin_correlations"]
    ref = exact.observables["spin_correlations"]
    assert np.all(np.abs(again.mean - ref.mean) < 5 * again.error + 0.02)


def test_evaluation_samples_are_fresh_draws_of_the_networks_distribution(trained, chain):
    """The evaluation's ``n_eval_samples`` come in draws of the training's ``n_samples`` (the
    sampler it compiled), the last one cut: every draw is new, and the frequencies follow the
    trained network's own |psi|^2, summed exactly over the S^z = 0 sector (70 configurations)."""
    import dataclasses

    from manybody.backends import get_backend
    from manybody.exact import sector_hamiltonian

    backend = get_backend("vmc")
    state = dataclasses.replace(trained.state, n_eval_samples=1000, _vstate=None, _samples=None)
    samples = backend._eval_samples(state, chain)
    assert samples.shape == (1000, chain.n_qubits) and state._vstate.n_samples == SMALL["n_samples"]
    draws = samples[:768].reshape(3, SMALL["n_samples"], -1)
    assert not np.array_equal(draws[0], draws[1]) and not np.array_equal(draws[1], draws[2])
    sector = sector_hamiltonian(chain)[1].bits()
    log_psi = np.asarray(state._vstate.log_value(sector))
    p = np.exp(2 * log_psi.real)
    assert p.sum() == pytest.approx(1.0, abs=1e-10)
    index = {row.tobytes(): i for i, row in enumerate(sector.astype(samples.dtype))}
    frequency = np.bincount([index[row.tobytes()] for row in samples], minlength=len(p)) / len(samples)
    np.testing.assert_array_less(np.abs(frequency - p), 5 * np.sqrt(p * (1 - p) / len(samples)) + 1e-3)


def test_warm_start_keeps_the_parameters(trained, chain, tmp_path):
    trained.save(tmp_path / "run")
    # sizes left "auto" (n_layers 2 on a chain): the saved network (n_layers 1) runs and is reported
    sizes = ("d_model", "n_heads", "n_layers")
    sampling = {k: v for k, v in SMALL.items() if k not in sizes}
    warm = mb.solve(
        chain, backend="vmc", seed=1, n_iter=0, warm_start=str(tmp_path / "run"), observables=[], **sampling
    )
    assert warm.energy == pytest.approx(trained.energy, abs=1e-12)
    assert warm.info["n_parameters"] == trained.info["n_parameters"]
    assert {k: warm.info["resolved"][k] for k in sizes} == {k: SMALL[k] for k in sizes}


def _trajectory(chain, **kw):
    res = mb.solve(
        chain, backend="vmc", seed=3, n_iter=6, checkpoint_every=3, observables=[], **{**SMALL, **kw}
    )
    return res.history["energy"]


def test_checkpoint_resume_gives_the_same_trajectory(chain, tmp_path, monkeypatch):
    reference = _trajectory(chain)
    calls = {"n": 0}
    original = nk.driver.VMC_SR.update_parameters

    def interrupted(self, dp):
        calls["n"] += 1
        if calls["n"] == 5:  # after the checkpoint at iteration 3
            raise KeyboardInterrupt
        return original(self, dp)

    monkeypatch.setattr(nk.driver.VMC_SR, "update_parameters", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _trajectory(chain, checkpoint_dir=str(tmp_path))
    monkeypatch.setattr(nk.driver.VMC_SR, "update_parameters", original)
    resumed = mb.solve(
        chain,
        backend="vmc",
        seed=3,
        n_iter=6,
        checkpoint_every=3,
        checkpoint_dir=str(tmp_path),
        observables=[],
        **SMALL,
    )
    assert resumed.info["resumed_from"] == 3
    np.testing.assert_allclose(resumed.history["energy"], reference, rtol=0, atol=1e-10)
    for other in ({"learning_rate": 0.01}, {"momentum": 0.5}, {"diag_shift_final": 1e-3}):
        with pytest.raises(ValueError, match="different run"):
            _trajectory(chain, checkpoint_dir=str(tmp_path), **other)


def test_nan_guard_rolls_back_and_lowers_the_learning_rate(chain, monkeypatch):
    original = SR.compute_loss_and_update
    calls = {"n": 0}

    def poisoned(self):
        stats, dp = original(self)
        calls["n"] += 1
        if calls["n"] == 4:
            stats = stats.replace(mean=np.nan)
        return stats, dp

    monkeypatch.setattr(SR, "compute_loss_and_update", poisoned)
    res = mb.solve(chain, backend="vmc", seed=3, n_iter=6, checkpoint_every=2, observables=[], **SMALL)
    assert res.info["rollbacks"] == 1
    assert res.info["final_learning_rate_scale"] == 0.5
    assert len(res.history["energy"]) == 6 and np.all(np.isfinite(res.history["energy"]))
    # iterations 2, 3 were redone after the rollback to the snapshot at 2, at half the step
    lr = mb.get_backend("vmc").Options().resolved(chain.problem)[0].learning_rate
    schedule = optax.cosine_decay_schedule(lr, 6, alpha=0.1)
    np.testing.assert_allclose(res.history["learning_rate"][:2], [schedule(0), schedule(1)])
    np.testing.assert_allclose(res.history["learning_rate"][2:], [0.5 * schedule(k) for k in range(2, 6)])


@pytest.mark.parametrize(
    "options, match",
    [
        ({"n_iterations": 10}, "unknown option"),
        ({"n_samples": 0}, "n_samples"),
        ({"n_samples": 3}, "n_samples must be 'auto' or an integer >= 32"),  # no error bar below 32
        ({"n_eval_samples": 16}, "n_eval_samples must be an integer >= 32"),
        ({"d_model": 10, "n_heads": 4}, "multiple of n_heads"),
        ({"sign_rule": "maybe"}, "sign_rule"),
        ({"momentum": 1.5}, "momentum"),
        ({"warm_start": "/nonexistent"}, "warm_start"),
        ({"patch": 3}, "patch=3 must divide the 8 qubits"),
        ({"patch": 9}, "patch must be 'auto' or an integer >= 1 and <= 8"),
    ],
)
def test_bad_options_raise(chain, options, match):
    with pytest.raises(ValueError, match=match):
        mb.solve(chain, backend="vmc", **options)


def test_marshall_on_non_bipartite_lattice_raises():
    with pytest.raises(ValueError, match="declares no such sign structure"):
        mb.solve(Heisenberg(Triangular(3, 3)), backend="vmc", sign_rule="marshall")


def test_impossible_sector_raises(helpers):
    from manybody.constraints import LinearConstraint, ParityConstraint

    toy = helpers["ToyModel"](3, [LinearConstraint("n", (0, 1), (1, 1), 2), ParityConstraint("p", (1, 2), 0)])
    toy._constraints.append(ParityConstraint("q", (2,), 0))
    with pytest.raises(ValueError, match="admit no configuration"):
        mb.get_backend("vmc").check_model(toy, mb.get_backend("vmc").Options())


def test_bad_option_is_reported_without_importing_jax():
    """Options live in manybody.vmc.options (no JAX/NetKet/Flax): a bad one fails at once."""
    code = (
        "import sys, manybody as mb\n"
        "from manybody.lattice import Chain\n"
        "from manybody.models import Heisenberg\n"
        "try:\n"
        "    mb.solve(Heisenberg(Chain(4)), backend='vmc', n_samples=3)\n"
        "except ValueError as err:\n"
        "    print(err)\n"
        "print([k for k in ('jax', 'netket', 'flax') if k in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["n_samples must be 'auto' or an integer >= 32, got 3", "[]"]


def test_netket_private_driver_internals_still_mean_what_the_driver_assumes():
    """Guard for the NetKet internals vmc/driver.py reads and writes to snapshot and resume a run:
    ``VMC_SR._optimizer_state`` (the optax state the update uses), ``_step_count`` (behind
    ``step_count``) and ``_old_updates`` (the SPRING momentum buffer, flat)."""
    hilbert = nk.hilbert.Spin(0.5, 2)
    vs = nk.vqs.MCState(nk.sampler.ExactSampler(hilbert), nk.models.RBM(alpha=1), n_samples=64, seed=0)
    driver = nk.driver.VMC_SR(
        nk.operator.Ising(hilbert, nk.graph.Chain(2), h=1.0),
        optax.sgd(0.1),
        diag_shift=0.1,
        momentum=0.9,
        variational_state=vs,
    )
    assert driver.step_count == 0
    driver._step_count = 7
    assert driver.step_count == 7
    # the optimiser state has the structure optax gives the parameters
    reference = optax.sgd(0.1).init(vs.parameters)
    assert jax.tree_util.tree_structure(driver._optimizer_state) == jax.tree_util.tree_structure(reference)
    # _old_updates is the momentum buffer, a flat vector of the parameters filled by a step
    driver.reset_step()
    _, dp = driver.compute_loss_and_update()
    assert np.shape(driver._old_updates) == (vs.n_parameters,) and np.any(np.asarray(driver._old_updates))
    before = dict(vs.parameters)
    driver.update_parameters(dp)
    # update_parameters reads _optimizer_state: sgd's state is empty, the parameters move by -lr * dp
    moved = jax.tree_util.tree_map(lambda a, b, g: np.allclose(a - b, -0.1 * g), vs.parameters, before, dp)
    assert all(jax.tree_util.tree_leaves(moved))


def test_compilation_cache_is_opt_in_bounded_and_locked(tmp_path, monkeypatch):
    """No on-disk cache unless MANYBODY_COMPILATION_CACHE asks for one; the one it enables is
    bounded, so that JAX's LRU cache holds a file lock around reads and writes (processes sharing
    the folder never read a half-written entry)."""
    import jax
    from jax._src.lru_cache import LRUCache  # the cache class JAX builds from these settings

    from manybody.vmc.driver import CACHE_MAX_BYTES, enable_compilation_cache

    monkeypatch.delenv("JAX_COMPILATION_CACHE_DIR", raising=False)
    monkeypatch.delenv("MANYBODY_COMPILATION_CACHE", raising=False)
    old = jax.config.jax_compilation_cache_dir
    try:
        jax.config.update("jax_compilation_cache_dir", None)
        assert enable_compilation_cache() is None
        monkeypatch.setenv("MANYBODY_COMPILATION_CACHE", str(tmp_path / "xla"))
        folder = enable_compilation_cache()
        assert folder == str(tmp_path / "xla")
        assert jax.config.jax_compilation_cache_max_size == CACHE_MAX_BYTES
        cache = LRUCache(folder, max_size=jax.config.jax_compilation_cache_max_size)
        assert cache.eviction_enabled and cache.lock is not None
        cache.put("key", b"executable")
        assert cache.get("key") == b"executable"
    finally:
        jax.config.update("jax_compilation_cache_dir", old)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="memory-map count is read from /proc")
def test_compiled_code_is_released_near_the_map_cap(monkeypatch):
    """Compiled XLA code holds memory mappings until JAX drops it; the guard that runs before every
    vmc solve releases it when the process nears vm.max_map_count (where XLA segfaults)."""
    from manybody.vmc import compiled

    def kernels(n):
        fns = [jax.jit(lambda x, k=k: jax.numpy.sin(x) * k + x.sum()) for k in range(n)]
        for k, f in enumerate(fns):
            f(jax.numpy.ones(k + 1)).block_until_ready()
        return fns

    fns = kernels(20)
    before, cap = compiled.map_usage()
    assert 0 < before < cap
    assert not compiled.release_compiled_code()  # far below the cap: nothing dropped
    assert all(f._cache_size() == 1 for f in fns)
    monkeypatch.setattr(compiled, "map_usage", lambda: (before, before))  # pretend: at the cap
    with pytest.warns(RuntimeWarning, match="vm.max_map_count"):
        assert compiled.release_compiled_code()
    assert all(f._cache_size() == 0 for f in fns)
    monkeypatch.undo()
    assert compiled.map_usage()[0] < before - 20  # the 20 executables' mappings are gone
    with pytest.raises(ValueError, match="fraction"):
        compiled.release_compiled_code(1.5)
