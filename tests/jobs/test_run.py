"""Running sweeps: CLI end to end, failures, retries, warm starts, Dask, SIGKILL + rerun.

Reference values come from the exact backend called directly (``manybody.solve``).
"""

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import manybody as mb
from manybody.cli import main
from manybody.jobs import Store, load_sweep, run_sweep, sweep_table
from manybody.jobs.execute import make_tasks
from manybody.lattice import Chain
from manybody.models import Heisenberg

J2S = [0.0, 0.1, 0.2, 0.3, 0.4]


def exact(L, J2):
    return mb.solve(Heisenberg(Chain(L), J2=J2), backend="exact", observables=["staggered_magnetization_sq"])


def probe_sweep(write_sweep, options="", grid="J2 = [0.0, 0.1, 0.2, 0.3, 0.4]", L=8):
    return write_sweep(
        f"""
        plugins = ["@PROBE@"]
        observables = ["staggered_magnetization_sq"]
        [model]
        name = "heisenberg"
        lattice = {{kind = "chain", L = {L}, pbc = false}}
        [grid]
        {grid}
        [backends.probe]
        {options}
        """
    )


def test_cli_j1j2_chain_table_plot_and_idempotent_rerun(write_sweep, tmp_path, capsys):
    backends = '[backends.exact]\n[backends.dmrg]\nbond_dims = [16, 32]\nseed = 1\nwarm_start = "J2"\n'
    sweep = write_sweep(
        f"""
        observables = ["staggered_magnetization_sq", "spin_correlations"]
        [model]
        name = "heisenberg"
        lattice = {{kind = "chain", L = 10, pbc = false}}
        [grid]
        J2 = {J2S}
        {backends}
        """
    )
    out = tmp_path / "res"
    assert main(["run", str(sweep), "--out", str(out), "--workers", "2", "--no-progress"]) == 0
    assert "10 run: 10 succeeded, 0 failed" in capsys.readouterr().out

    assert main(["table", str(out), "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert sorted((r["backend"], float(r["J2"])) for r in rows) == sorted(
        (b, j) for b in ("exact", "dmrg") for j in J2S
    )
    # exact: machine precision; converged DMRG: ~1e-8 in energy, observables linear in the
    # state error (energy quadratic), hence the looser 1e-6
    tol = {"exact": (1e-10, 1e-10), "dmrg": (1e-8, 1e-6)}
    for row in rows:
        ref = exact(10, float(row["J2"]))
        e_tol, o_tol = tol[row["backend"]]
        assert row["status"] == "done"
        assert float(row["energy"]) == pytest.approx(ref.energy, abs=e_tol)
        assert float(row["staggered_magnetization_sq"]) == pytest.approx(
            float(ref.observables["staggered_magnetization_sq"].mean), abs=o_tol
        )
        assert float(row["variance"]) < 1e-7
    assert main(["table", str(out)]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split()[:4] == ["J2", "backend", "status", "energy"] and len(text) == 12

    # dmrg points ran in order along J2, each from the previous point's saved MPS
    store = Store(out)
    dmrg = sorted((p for p in store.points() if p.backend == "dmrg"), key=lambda p: p.params["J2"])
    assert store.load(dmrg[0].id).options["warm_start"] is None
    for prev, p in zip(dmrg, dmrg[1:]):
        assert Path(store.load(p.id).options["warm_start"]) == store.result_dir(prev.id).resolve()

    figure = tmp_path / "j1j2.pdf"
    assert main(["plot", str(out), "--output", str(figure)]) == 0
    assert figure.read_bytes().startswith(b"%PDF")
    assert main(["plot", str(out)]) == 0
    assert (out / "plot.png").read_bytes().startswith(b"\x89PNG")
    assert main(["plot", str(out), "--family", "spin_correlations", "-o", str(tmp_path / "c.svg")]) == 0
    assert b"<svg" in (tmp_path / "c.svg").read_bytes()[:500]
    capsys.readouterr()

    stamps = {p: p.stat().st_mtime_ns for p in (out / "points").glob("[!.]*/result.json")}
    assert main(["run", str(sweep), "--out", str(out), "--no-progress"]) == 0
    assert "10 skipped (already done or failed), 0 run" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in (out / "points").glob("[!.]*/result.json")} == stamps


def test_failed_point_is_recorded_and_retried(write_sweep, tmp_path, capsys):
    marker = tmp_path / "fixed"
    sweep = probe_sweep(write_sweep, f'fail_J2 = 0.2\nunless_exists = "{marker}"')
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=0, progress=False)
    assert len(report.succeeded) == 4 and len(report.failed) == 1
    store = Store(out)
    status = store.status()
    assert [p.params["J2"] for p in status["failed"]] == [0.2] and len(status["done"]) == 4
    record = store.failure(status["failed"][0].id)
    assert record["error"] == "RuntimeError: probe failure at J2=0.2"
    assert "Traceback" in record["traceback"] and "probe_backend.py" in record["traceback"]
    assert main(["status", str(out)]) == 0
    assert "5 points: 4 done, 1 failed, 0 pending" in capsys.readouterr().out

    # a plain rerun skips the failed point; --retry-failed runs it again
    assert run_sweep(sweep, out, workers=0, progress=False).ran == 0
    marker.touch()
    assert (
        main(["run", str(sweep), "--out", str(out), "--workers", "0", "--retry-failed", "--no-progress"]) == 0
    )
    assert store.failure(status["failed"][0].id) is None
    rows = sweep_table(out)
    assert [r["status"] for r in rows] == ["done"] * 5
    for r in rows:
        assert r["energy"] == pytest.approx(exact(8, r["J2"]).energy, abs=1e-10)


def test_warm_start_passes_previous_result_along_the_axis(write_sweep, tmp_path):
    grid = 'J2 = [0.0, 0.2, 0.4]\nh = [0.0, 0.1, 0.2]\n"lattice.L" = [6, 8]\nzip = [["J2", "h"]]'
    sweep = probe_sweep(write_sweep, 'warm_start = "J2"', grid=grid)
    tasks = make_tasks(load_sweep(sweep).points, load_sweep(sweep).groups)
    assert sorted([(p.params["lattice.L"], p.params["J2"], p.params["h"]) for p in t] for t in tasks) == [
        [(L, 0.0, 0.0), (L, 0.2, 0.1), (L, 0.4, 0.2)] for L in (6, 8)
    ]  # one line per size, along the zipped (J2, h) axis
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=0, progress=False)
    assert len(report.succeeded) == 6
    store = Store(out)
    for p in store.points():
        res = store.load(p.id)
        ref = mb.solve(Heisenberg(Chain(p.params["lattice.L"]), J2=p.params["J2"], h=p.params["h"]), "exact")
        assert res.energy == pytest.approx(ref.energy, abs=1e-10)
        if p.params["J2"] == 0.0:
            assert "warm_start_from" not in res.info
        else:
            previous = Store(out).load(Path(res.info["warm_start_from"]).name)
            assert res.info["warm_start_J2"] == round(p.params["J2"] - 0.2, 12)
            assert previous.model["lattice"]["L"] == p.params["lattice.L"]


def test_sweep_on_a_dask_local_cluster(write_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    sweep = probe_sweep(write_sweep, "", grid="J2 = [0.0, 0.3]")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0"
    ) as cluster:
        report = run_sweep(sweep, tmp_path / "res", scheduler=cluster.scheduler_address, progress=False)
        workers = set(cluster.scheduler.workers)
    assert len(report.succeeded) == 2
    store = Store(tmp_path / "res")
    for p in store.points():
        res = store.load(p.id)
        assert res.info["sweep_point"]["dask_worker"] in workers  # ran on the cluster's worker
        assert res.energy == pytest.approx(exact(8, p.params["J2"]).energy, abs=1e-10)


def test_gpu_backends_ask_for_the_gpu_resource_on_dask(write_sweep, tmp_path):
    distributed = pytest.importorskip("distributed")
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Restrictions(SchedulerPlugin):
        """Record each task's resource restrictions when it starts processing."""

        def __init__(self, scheduler):
            self.scheduler, self.seen = scheduler, []

        def transition(self, key, start, finish, *args, **kwargs):
            if finish == "processing":
                self.seen.append(self.scheduler.tasks[key].resource_restrictions or {})

    sweep = probe_sweep(write_sweep, "[backends.exact]\n[run]\ngpu_backends = ['probe']", grid="J2 = [0.0]")
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0", resources={"GPU": 1}
    ) as cluster:
        spy = Restrictions(cluster.scheduler)
        cluster.scheduler.add_plugin(spy)
        report = run_sweep(sweep, tmp_path / "res", scheduler=cluster.scheduler_address, progress=False)
    assert len(report.succeeded) == 2
    assert sorted(spy.seen, key=len) == [{}, {"GPU": 1}]  # exact: anywhere; probe: one GPU unit


def test_sigkill_midway_then_rerun_completes_without_corruption(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep, "sleep = 0.6", grid="J2 = [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]")
    out = tmp_path / "res"
    cmd = [
        sys.executable,
        "-m",
        "manybody.cli",
        "run",
        str(sweep),
        "--out",
        str(out),
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 90
        while len(list((out / "points").glob("[!.]*/result.json"))) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the sweep made no progress"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the run and its worker, like a node crash
        proc.wait()
    status = Store(out).status()
    assert 2 <= len(status["done"]) < 8 and not status["failed"]

    report = run_sweep(sweep, out, workers=0, progress=False)
    assert report.skipped == len(status["done"]) and len(report.succeeded) == 8 - report.skipped
    folders = sorted(p.name for p in (out / "points").iterdir())
    assert folders == sorted(p.id for p in Store(out).points())  # one folder per point, no leftovers
    for r in sweep_table(out):
        assert r["status"] == "done"
        assert r["energy"] == pytest.approx(exact(8, r["J2"]).energy, abs=1e-10)
    assert not (out / "failed").exists() or not any((out / "failed").iterdir())


def test_dead_worker_fails_only_its_point(write_sweep, tmp_path):
    options = "crash_J2 = 0.1\n[run]\nthreads_per_worker = 1\nxla_preallocate = true\nworker_retries = 0"
    sweep = probe_sweep(write_sweep, options, grid="J2 = [0.0, 0.1, 0.2]")
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=1, progress=False)
    store = Store(out)
    status = store.status()
    assert [p.params["J2"] for p in status["failed"]] == [0.1] and len(status["done"]) == 2
    assert "worker process died" in store.failure(status["failed"][0].id)["error"]
    assert sorted(report.failed) == [status["failed"][0].id] and len(report.succeeded) == 2
    for p in status["done"]:
        res = store.load(p.id)
        assert res.energy == pytest.approx(exact(8, p.params["J2"]).energy, abs=1e-10)
        # both worker pools (before and after the crash) got the run's environment
        assert res.info["env"] == {"OMP_NUM_THREADS": "1", "XLA_PYTHON_CLIENT_PREALLOCATE": "true"}
    assert os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE") != "true"  # restored in this process


def _heisenberg_sweep(write_sweep, backends, J2="[0.0, 0.3]", L=4):
    return write_sweep(
        f"""
        observables = ["staggered_magnetization_sq"]
        [model]
        name = "heisenberg"
        lattice = {{kind = "chain", L = {L}, pbc = false}}
        [grid]
        J2 = {J2}
        {backends}
        """
    )


def test_sweep_on_the_vqe_backend(write_sweep, tmp_path):
    # statevector VQE with the Hamiltonian-variational ansatz is exact for a 4-site chain
    sweep = _heisenberg_sweep(write_sweep, "[backends.vqe]\nseed = 1\n")
    report = run_sweep(sweep, tmp_path / "res", workers=0, progress=False)
    assert len(report.succeeded) == 2
    for r in sweep_table(tmp_path / "res"):
        assert r["backend"] == "vqe"
        assert r["energy"] == pytest.approx(exact(4, r["J2"]).energy, abs=1e-8)


@pytest.mark.slow
def test_sweep_on_the_vmc_backend_with_warm_start(write_sweep, tmp_path):
    options = (
        "[backends.vmc]\nn_iter = 60\nn_samples = 256\nn_eval_samples = 2048\nd_model = 8\n"
        'n_heads = 2\nn_layers = 1\nwarm_start = "J2"\n'
    )
    sweep = _heisenberg_sweep(write_sweep, options, J2="[0.0, 0.1]", L=6)
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=1, progress=False)
    assert len(report.succeeded) == 2
    store = Store(out)
    first, second = sorted(store.points(), key=lambda p: p.params["J2"])
    for p in (first, second):
        res = store.load(p.id)
        ref = exact(6, p.params["J2"]).energy
        # variational upper bound (within 5 standard errors) and a short run's accuracy
        assert res.energy > ref - 5 * res.energy_error
        assert abs(res.energy - ref) / abs(ref) < 0.03
        assert "vmc heisenberg" in (out / "logs" / f"{p.id}.log").read_text()  # its progress bar
        assert res.options["checkpoint_dir"] == str((out / "checkpoints" / p.id).resolve())
    assert Path(store.load(second.id).options["warm_start"]) == store.result_dir(first.id).resolve()
    assert not (out / "checkpoints").exists() or not any((out / "checkpoints").iterdir())


def test_disorder_average_over_seeds(write_sweep, tmp_path, capsys):
    from manybody.models import SYK

    sweep = write_sweep(
        """
        [model]
        name = "syk"
        n_majoranas = 8
        [grid]
        seed = {start = 0, stop = 4}
        [backends.exact]
        """
    )
    out = tmp_path / "res"
    assert run_sweep(sweep, out, workers=0, progress=False).ran == 4
    assert main(["table", str(out), "--average", "seed", "--format", "csv"]) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    energies = [mb.solve(SYK(8, seed=s), backend="exact", observables=[]).energy for s in range(4)]
    assert int(row["n"]) == 4 and row["backend"] == "exact"
    assert float(row["energy"]) == pytest.approx(np.mean(energies), abs=1e-10)
    assert float(row["energy_sem"]) == pytest.approx(np.std(energies, ddof=1) / 2, abs=1e-10)
    assert main(["plot", str(out), "--average", "seed"]) == 2  # nothing left to plot against
    assert "no grid axis" in capsys.readouterr().err
