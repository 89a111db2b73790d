"""When things go wrong in a sweep: dead workers, killed runs, damaged files, bad input.

Energies are compared with the exact backend called directly (``manybody.solve``).
"""

import fcntl
import json
import os
import signal
import stat
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

import manybody as mb
from manybody.cli import main
from manybody.jobs import Store, load_sweep, parse_sweep, plot_sweep, run_sweep, sweep_table
from manybody.jobs import sweep as sweep_module
from manybody.jobs.sweep import RunOptions, SweepError, SweepWarning
from manybody.lattice import Chain
from manybody.models import Heisenberg


def exact_energy(J2, L=6):
    return mb.solve(Heisenberg(Chain(L), J2=J2), backend="exact", observables=[]).energy


def assert_exact_energies(store):
    for p in store.points():
        assert store.load(p.id).energy == pytest.approx(exact_energy(p.params["J2"]), abs=1e-10)


def probe_sweep(write_sweep, options="", grid="J2 = [0.0, 0.1, 0.2]", run=""):
    return write_sweep(
        f"""
        plugins = ["@PROBE@"]
        observables = ["staggered_magnetization_sq"]
        [model]
        name = "heisenberg"
        lattice = {{kind = "chain", L = 6, pbc = false}}
        [grid]
        {grid}
        [backends.probe]
        {options}
        [run]
        threads_per_worker = 1
        {run}
        """
    )


def by_j2(store, state):
    return sorted(p.params["J2"] for p in store.status()[state])


# -- dead workers: retried alone, a bounded number of times --------------------------------


def test_point_whose_worker_died_once_is_retried_and_its_neighbour_is_not_failed(write_sweep, tmp_path):
    marker = tmp_path / "crashed-once"
    sweep = probe_sweep(write_sweep, f'crash_J2 = 0.1\ncrash_once = "{marker}"\nsleep = 0.3')
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=2, progress=False)
    store = Store(out)
    assert marker.exists()  # the worker running J2 = 0.1 did die once
    assert by_j2(store, "done") == [0.0, 0.1, 0.2] and not report.failed and len(report.succeeded) == 3
    assert_exact_energies(store)


def test_points_saved_before_their_worker_died_are_reported_as_succeeded(write_sweep, tmp_path):
    # one warm-start line runs J2 = 0.0, 0.1, 0.2 in one worker: 0.0 is saved, then the worker
    # dies at 0.1 and the line's outcomes are lost with the pool; the report must still count 0.0
    marker = tmp_path / "crashed-once"
    sweep = probe_sweep(write_sweep, f'warm_start = "J2"\ncrash_J2 = 0.1\ncrash_once = "{marker}"')
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=1, progress=False)
    store = Store(out)
    assert marker.exists()
    ids = sorted(p.id for p in store.points())
    assert sorted(report.succeeded) == ids and not report.failed
    assert by_j2(store, "done") == [0.0, 0.1, 0.2]
    assert_exact_energies(store)


def test_points_saved_before_dask_gave_up_on_their_task_are_reported(write_sweep, tmp_path, monkeypatch):
    # a warm-start line whose task saves J2 = 0.0 and then ends in Dask's KilledWorker (run in this
    # process: the task raises an exception of that name after its first point)
    from manybody.jobs import execute

    class KilledWorker(Exception):
        pass

    run_task = execute.run_task

    def killed_after_the_first_point(task):
        run_task({**task, "points": task["points"][:1]})
        raise KilledWorker("the worker running this task died 3 times")

    monkeypatch.setattr(execute, "run_task", killed_after_the_first_point)
    sweep = probe_sweep(write_sweep, 'warm_start = "J2"')
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=0, progress=False)
    store = Store(out)
    assert by_j2(store, "done") == [0.0] and by_j2(store, "failed") == [0.1, 0.2]
    assert report.succeeded == [p.id for p in store.status()["done"]]
    assert sorted(report.failed) == sorted(p.id for p in store.status()["failed"])
    assert {store.failure(p.id)["cause"] for p in store.status()["failed"]} == {"worker_died"}


@pytest.mark.slow
def test_point_that_always_kills_its_worker_gives_up_after_the_retries(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep, "crash_J2 = 0.1\nsleep = 0.2", run="worker_retries = 1")
    out = tmp_path / "res"
    report = run_sweep(sweep, out, workers=2, progress=False)
    store = Store(out)
    assert by_j2(store, "done") == [0.0, 0.2] and by_j2(store, "failed") == [0.1]
    (bad,) = store.status()["failed"]
    record = store.failure(bad.id)
    assert record["cause"] == "worker_died" and record["worker_deaths"] == 2  # first run + 1 retry
    assert "worker process died" in record["error"] and "not retried again" in record["error"]
    assert report.failed == [bad.id]
    # beyond the bound, a plain rerun leaves it alone; --retry-failed runs it again
    assert run_sweep(sweep, out, workers=2, progress=False).ran == 0


def test_plain_rerun_retries_worker_deaths_but_not_errors(write_sweep, tmp_path):
    sweep = load_sweep(probe_sweep(write_sweep))
    out = tmp_path / "res"
    store = Store(out)
    store.root.mkdir()
    died, raised = sweep.points[0], sweep.points[1]
    store.record_failure(died, "the worker process died", "", cause="worker_died", worker_deaths=1)
    store.record_failure(raised, "RuntimeError: bug", "", cause="error")
    report = run_sweep(sweep, out, workers=0, progress=False)
    assert sorted(report.succeeded) == sorted([died.id, sweep.points[2].id])
    assert store.state(died.id) == "done" and store.failure(died.id) is None
    assert store.state(raised.id) == "failed"


def test_non_finite_energy_is_a_failed_point_with_its_reason(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep, "nan_J2 = 0.2")
    out = tmp_path / "res"
    run_sweep(sweep, out, workers=0, progress=False)
    store = Store(out)
    (bad,) = store.status()["failed"]
    assert bad.params["J2"] == 0.2
    assert store.failure(bad.id)["error"].startswith("FloatingPointError: the run ended with non-finite")


# -- a killed run takes its workers along; a rerun does not race them ----------------------


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_the_run_kills_its_workers(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep, "sleep = 60", grid="J2 = [0.0, 0.1]")
    out = tmp_path / "res"
    cmd = [sys.executable, "-m", "manybody.cli", "run", str(sweep), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(cmd + ["--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while len(Store(out).running()) < 2:
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the workers did not start"
            time.sleep(0.05)
        pids = [int((out / "running" / pid).read_text().split()[1]) for pid in Store(out).running()]
        assert all(_alive(pid) for pid in pids)
        proc.send_signal(signal.SIGKILL)  # the run only: its workers must follow
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(_alive(pid) for pid in pids)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # the folder is free again: a rerun (points now quick) completes every point
    sweep = probe_sweep(write_sweep, "", grid="J2 = [0.0, 0.1]")
    report = run_sweep(sweep, out, workers=0, progress=False)
    assert len(report.succeeded) == 2


def test_rerun_refuses_to_race_live_workers_of_an_earlier_run(tmp_path):
    store = Store(tmp_path / "res")
    store.root.mkdir()
    with open(store.root / ".workers.lock", "a") as held:  # a worker of an earlier run, still alive
        fcntl.flock(held, fcntl.LOCK_SH)
        with pytest.raises(RuntimeError, match="worker processes of an earlier run still use"):
            with store.lock(wait_for_workers=0.3):
                pass
    with store.lock(wait_for_workers=0.3):  # gone: the run may start
        pass


# -- damaged files -------------------------------------------------------------------------


@pytest.fixture
def finished(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep)
    out = tmp_path / "res"
    run_sweep(sweep, out, workers=0, progress=False)
    return sweep, out, Store(out)


@pytest.mark.parametrize("damage", ["truncated result.json", "garbage history.npz", "missing history.npz"])
def test_a_corrupted_point_is_named_and_the_others_still_tabulate_and_plot(finished, damage, capsys):
    sweep, out, store = finished
    victim = store.points()[1]
    folder = store.result_dir(victim.id)
    if damage == "truncated result.json":
        text = (folder / "result.json").read_text()
        (folder / "result.json").write_text(text[: len(text) // 2])
    elif damage == "garbage history.npz":
        (folder / "history.npz").write_bytes(b"PK\x03\x04 not a zip archive")
    else:
        (folder / "history.npz").unlink()

    assert by_j2(store, "corrupt") == [0.1] and by_j2(store, "done") == [0.0, 0.2]
    assert main(["status", str(out)]) == 0
    text = capsys.readouterr().out
    assert "2 done, 0 failed, 0 pending, 1 corrupt" in text and f"corrupt {victim.id}" in text

    rows = sweep_table(out)
    assert [r["status"] for r in rows] == ["done", "corrupt", "done"]
    for r in rows[::2]:
        assert r["energy"] == pytest.approx(exact_energy(r["J2"]), abs=1e-10)
    with pytest.warns(UserWarning, match=f"1 point\\(s\\) left out.*{victim.id}"):
        plot_sweep(out, output=out / "fig.png")
    assert (out / "fig.png").stat().st_size > 0

    report = run_sweep(sweep, out, workers=0, progress=False)  # the rerun recomputes it
    assert report.succeeded == [victim.id]
    assert store.load(victim.id).energy == pytest.approx(exact_energy(0.1), abs=1e-10)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2]", "is not a sweep index"),
        ('{"points": [{"id": "x"}], "axes": {}}', "point 0 is malformed"),
        ('{"points": []}', "has no table of grid axes"),
        ('{"points": [', "not valid JSON"),
    ],
)
def test_foreign_or_malformed_index_is_one_line_from_every_command(tmp_path, capsys, content, message):
    (tmp_path / "index.json").write_text(content)
    for command in (["status"], ["table"], ["plot"]):
        assert main([*command, str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and "Traceback" not in err


# -- bad input refused up front ------------------------------------------------------------


def test_negative_workers_are_refused_before_the_folder_exists(write_sweep, tmp_path, capsys):
    sweep = probe_sweep(write_sweep)
    out = tmp_path / "res"
    with pytest.raises(ValueError, match="workers must be an integer >= 0"):
        run_sweep(sweep, out, workers=-1)
    with pytest.raises(SystemExit):
        main(["run", str(sweep), "--out", str(out), "--workers", "-1"])
    assert "argument --workers: must be an integer >= 0" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("answer", [b"HTTP/1.1 400 Bad Request\r\n\r\n" * 3, None])
def test_a_port_that_is_not_a_dask_scheduler_is_one_line(write_sweep, tmp_path, capsys, monkeypatch, answer):
    """An HTTP server (Dask reads its answer as a 3 EiB message) or a silent port (Dask waits for ever)."""
    pytest.importorskip("distributed")
    import socket
    import threading

    from manybody.jobs import execute

    monkeypatch.setattr(execute, "_CONNECT_TIMEOUT", 1.0)
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def serve():
        while True:
            conn, _ = server.accept()
            if answer is not None:
                conn.recv(100)
                conn.sendall(answer)
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    code = main(["run", str(probe_sweep(write_sweep)), "--out", str(tmp_path / "r"), "--scheduler",
                 f"tcp://127.0.0.1:{port}", "--no-progress"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert err.startswith(
        f"manybody run: error: cannot connect to the Dask scheduler at 'tcp://127.0.0.1:{port}'"
    )


def test_a_huge_grid_is_refused_and_a_large_one_warns_with_an_estimate(write_sweep, monkeypatch):
    axes = "[grid]\nJ2 = {start = 0, stop = 1, num = 1001}\nh = {start = 0, stop = 1, num = 1000}\n"
    with pytest.raises(SweepError, match="the sweep has 1001000 points, more than 1000000"):
        parse_sweep(_model_table(axes))
    monkeypatch.setattr(sweep_module, "_WARN_IF_LEFT", 0.0)
    with pytest.warns(SweepWarning, match=r"validating 40 points .* about [\d.]+ s more"):
        parse_sweep(_model_table("[grid]\nJ2 = {start = 0, stop = 1, num = 40}\n"))


def _model_table(grid: str) -> dict:
    import tomllib

    return tomllib.loads(
        '[model]\nname = "heisenberg"\nlattice = {kind = "chain", L = 4}\n' + grid + "[backends.exact]\n"
    )


def test_fixed_parameter_error_does_not_name_a_grid_point():
    bad_fixed = '[model]\nname = "heisenberg"\nlattice = {kind = "chain", L = 4}\nJ = 1e308\n'
    data = __import__("tomllib").loads(bad_fixed + "[grid]\nJ2 = [0.0, 0.5]\n[backends.exact]\n")
    with pytest.raises(SweepError, match=r"^sweep: \[model\] parameters: J = 1e\+308 is too large") as info:
        parse_sweep(data)
    assert "J2" not in str(info.value)
    data["model"]["J"] = 1.0
    data["grid"]["J2"] = [0.0, float("inf")]
    with pytest.raises(SweepError, match=r"\[model\] parameters at \{'J2': inf\}: J2 must be a finite"):
        parse_sweep(data)


def test_gpu_points_follow_the_backend_registry():
    run = RunOptions()
    assert run.wants_gpu("vmc") and not run.wants_gpu("exact") and not run.wants_gpu("dmrg")
    assert RunOptions(gpu_backends=("exact",)).wants_gpu("exact")


def test_results_folder_files_are_0644_and_folders_0755(write_sweep, tmp_path):
    sweep = probe_sweep(write_sweep, "fail_J2 = 0.2")
    out = tmp_path / "res"
    old = os.umask(0o077)
    try:
        run_sweep(sweep, out, workers=0, progress=False)
    finally:
        os.umask(old)
    checked = 0
    for folder in (out / "points", out / "failed"):
        for path in [folder, *folder.rglob("*")]:
            want = 0o755 if path.is_dir() else 0o644
            assert stat.S_IMODE(path.stat().st_mode) == want, path
            checked += 1
    for name in ("index.json", "sweep.toml"):
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o644
    assert stat.S_IMODE(out.stat().st_mode) == 0o755 and checked > 6


def test_saved_point_round_trips_nan_observables(write_sweep, tmp_path):
    """A point whose observable is NaN (an undefined ratio) is still saved, reloaded and tabulated."""
    sweep = probe_sweep(write_sweep, grid="J2 = [0.0]")
    out = tmp_path / "res"
    run_sweep(sweep, out, workers=0, progress=False)
    store = Store(out)
    (p,) = store.points()
    res = store.load(p.id)
    res.observables["staggered_magnetization_sq"] = mb.Estimate(np.nan, np.inf)
    res.save(store.result_dir(p.id))
    assert store.state(p.id) == "done"
    (row,) = sweep_table(out)
    assert np.isnan(row["staggered_magnetization_sq"]) and row["staggered_magnetization_sq_error"] == np.inf
    data = json.loads((store.result_dir(p.id) / "result.json").read_text())
    assert np.isnan(data["observables"]["staggered_magnetization_sq"]["mean"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        repr(store.load(p.id))
