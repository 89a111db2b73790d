"""Running a sweep: locally in worker processes, in the calling process, or on Dask.

Points are grouped into *tasks*: one point per task, except for backends
with ``warm_start`` along an axis, whose points form one task per line of
that axis (run in order, each starting from the previous result). A task
runs in a worker, which saves each result (a ``Result``, or an ``Evolution``
for the points of a sweep with ``[evolve]``) into the store itself (a
shared filesystem is needed on a cluster) and records failures with their
traceback; the calling process only schedules, reports progress, and
records points whose worker died. What a point prints (a backend's progress
bar, warnings) goes to ``RESULTS/logs/<id>.log``.

When things go wrong
--------------------
* A point whose own code raises is recorded as failed (cause ``"error"``)
  and not run again unless ``retry_failed``.
* A local worker process that dies (killed, out of memory, segfault) takes
  down the pool: the points it and the other workers were running are
  recorded as failed with cause ``"worker_died"`` and run again, each alone in
  a one-worker pool (so that an innocent point never dies with a culprit
  twice), up to ``[run] worker_retries`` more times (default 2); a later plain
  rerun retries them too while under that bound.
* Local workers die with the run: each sets ``PR_SET_PDEATHSIG`` (Linux) or
  watches its parent's pid (elsewhere), and holds a shared lock on
  ``RESULTS/.workers.lock``; a new run waits a few seconds for the workers of
  a killed run to exit and refuses to start beside them.

Executors
---------
* local (default): ``concurrent.futures.ProcessPoolExecutor`` with the
  ``spawn`` start method. Chosen over a Dask ``LocalCluster`` because it is
  in the standard library, starts in a fraction of a second with no
  scheduler, ports or dashboard, and its workers inherit the environment set
  here (BLAS threads, JAX memory preallocation) before they import anything;
  ``spawn`` because forking a process that has started threads (BLAS, JAX)
  is unsafe.
* ``workers=0``: in the calling process, one point after the other (debugging,
  notebooks).
* Dask: ``scheduler="tcp://host:8786"`` (or a ``distributed.Client``); points
  of backends registered with ``uses_gpu`` (VMC; or ``[run] gpu_backends``) ask
  for one unit of the ``gpu_resource`` worker resource when a worker of the
  cluster declares it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import dataclasses
import multiprocessing
import os
import shutil
import signal
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from manybody.io import DIR_MODE, FILE_MODE
from manybody.jobs.store import Store
from manybody.jobs.sweep import Point, RunOptions, Sweep, load_sweep, parse_sweep
from manybody.validation import check_int

__all__ = ["run_sweep", "RunReport", "make_tasks", "run_task", "output_folder"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h
_CONNECT_TIMEOUT = 30.0  # seconds to connect to a Dask scheduler


@dataclass
class RunReport:
    """What a run did.

    Attributes
    ----------
    out : Path
        The results folder.
    total : int
        Points in the sweep.
    skipped : int
        Points already done (or failed, without ``retry_failed``) before the run.
    succeeded, failed : list of str
        Ids of the points run now, by outcome.
    seconds : float
        Wall time of the run.
    """

    out: Path
    total: int
    skipped: int
    succeeded: list = field(default_factory=list)
    failed: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ran(self) -> int:
        return len(self.succeeded) + len(self.failed)

    def __str__(self) -> str:
        text = f"{self.total} points in {self.out}: {self.skipped} skipped (already done or failed)"
        text += f", {self.ran} run: {len(self.succeeded)} succeeded, {len(self.failed)} failed"
        return text + f" ({self.seconds:.1f} s)"


def make_tasks(points: list[Point], groups: list[list[str]]) -> list[list[Point]]:
    """Group points into tasks: singletons, or warm-start lines along an axis (and the axes
    zipped with it), ordered along it. ``groups`` are the sweep's axis groups."""
    tasks, lines = [], {}
    for p in points:
        if not p.warm_start:
            tasks.append([p])
            continue
        k = next(i for i, g in enumerate(groups) if p.warm_start in g)
        lines.setdefault((p.label, *p.index[:k], *p.index[k + 1 :]), []).append(p)
    tasks += [sorted(line, key=lambda p: p.index) for line in lines.values()]
    return tasks


def run_task(task: dict) -> list[dict]:
    """Run a task's points in order (the function executed by workers).

    ``task`` holds plain data: ``root`` (results folder), ``points`` (point
    dicts), ``run`` (ids the run wants computed: others are skipped unless
    done), ``plugins`` and ``env`` (environment variables for Dask workers,
    applied if JAX is not yet imported in the worker's process). Each point's
    result is saved to the store, or its failure recorded; returns one
    ``{"id", "status", "error"}`` per point run.
    """
    if "jax" not in sys.modules:
        os.environ.update(task.get("env", {}))
    from manybody.jobs.plugins import load_plugins

    store = Store(task["root"])
    wanted = set(task["run"])
    out, previous = [], None
    for data in task["points"]:
        point = Point.from_dict(data)
        if store.state(point.id) == "done":
            previous = store.result_dir(point.id)
            continue
        if point.id not in wanted:
            continue
        store.mark_running(point.id)
        try:
            with _point_log(store, point.id):
                load_plugins(task.get("plugins", []))
                res = _compute(point, _runtime_options(point, store, previous))
            _check_finite(res)
            res.info["sweep_point"] = {
                "id": point.id,
                "label": point.label,
                "params": point.params,
                **_where(),
            }
            res.save(store.result_dir(point.id))
        except Exception as err:  # noqa: BLE001 - a failed point is recorded and the others continue
            error = f"{type(err).__name__}: {err}"
            store.record_failure(point, error, traceback.format_exc())
            store.clear_running(point.id)
            out.append({"id": point.id, "status": "failed", "error": error})
            continue
        store.clear_failure(point.id)
        store.clear_running(point.id)
        shutil.rmtree(store.root / "checkpoints" / point.id, ignore_errors=True)  # the result supersedes it
        previous = store.result_dir(point.id)
        out.append({"id": point.id, "status": "done", "error": None})
    return out


def _compute(point: Point, options: dict):
    """The point's ``Result`` (``manybody.solve``) or, with ``point.evolve``, its
    ``Evolution`` (``manybody.evolve`` from the initial state over the times)."""
    from manybody.backends import solve
    from manybody.evolution import evolve
    from manybody.model import from_dict

    model = from_dict(point.model)
    if point.evolve:
        initial, times = point.evolve["initial"], point.evolve["times"]
        return evolve(model, initial, times, backend=point.backend, observables=point.observables, **options)
    return solve(model, backend=point.backend, observables=point.observables, **options)


def _check_finite(res) -> None:
    """A run that ends with a non-finite energy, error or variance (at any time, for an
    evolution) is a failed point."""
    from manybody.evolution import Evolution

    if isinstance(res, Evolution):
        values = {"energy": res.energy.mean, "energy_error": res.energy.error}
    else:
        values = {"energy": res.energy, "energy_error": res.energy_error, "variance": res.variance}
    bad = {k: v for k, v in values.items() if v is not None and not np.all(np.isfinite(v))}
    if bad:
        raise FloatingPointError(f"the run ended with non-finite values {bad}: diverged or ill-posed")


@contextlib.contextmanager
def _point_log(store: Store, pid: str):
    """Send what Python code prints while a point runs to ``logs/<id>.log`` (appended):
    backend progress bars and warnings would otherwise garble the sweep's own display."""
    folder = store.root / "logs"
    folder.mkdir(mode=DIR_MODE, exist_ok=True)
    path = folder / f"{pid}.log"
    path.touch(mode=FILE_MODE)
    with (
        open(path, "a") as log,
        contextlib.redirect_stdout(log),
        contextlib.redirect_stderr(log),
    ):
        yield


def _runtime_options(point: Point, store: Store, previous: Path | None) -> dict:
    """The point's options plus what the run supplies (not part of the point's id):
    ``warm_start`` (the previous result along the axis) and, for ground-state points of
    backends registered with ``supports_checkpoint``, a per-point ``checkpoint_dir`` in the
    store (so that an interrupted point resumes), unless the sweep file sets it."""
    from manybody.backends import backend_spec

    options = dict(point.options)
    if point.warm_start and previous is not None:
        options["warm_start"] = str(previous)
    if not point.evolve and backend_spec(point.backend).supports_checkpoint:
        options.setdefault("checkpoint_dir", str(store.root / "checkpoints" / point.id))
    return options


def _worker_init(parent_pid: int, root: str) -> None:
    """Initializer of local worker processes: die with the run, and hold the workers' lock."""
    _die_with_parent(parent_pid)
    Store(root).hold_worker_lock()


def _die_with_parent(parent_pid: int) -> None:
    """End this process when ``parent_pid`` (the run) ends.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``, so the kernel kills this process
    when its parent dies (even by SIGKILL). Elsewhere: a daemon thread that polls
    ``os.getppid()`` once a second. Either way, a parent that died before this
    ran is noticed at once (the process was re-parented).
    """
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):
            armed = False
        if os.getppid() != parent_pid:
            os._exit(1)
        if armed:
            return

    def watch():
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="manybody-parent-watch", daemon=True).start()


def output_folder(sweep: Sweep) -> Path:
    """The sweep's results folder: its ``output``, else ``results/<name>`` (relative to the cwd)."""
    return Path(sweep.output) if sweep.output else Path("results") / sweep.name


def _where() -> dict:
    """Where a point runs: host, process and, inside a Dask worker, its address."""
    out = {"host": socket.gethostname(), "pid": os.getpid()}
    if "distributed" in sys.modules:
        try:
            out["dask_worker"] = sys.modules["distributed"].get_worker().address
        except ValueError:  # not in a Dask worker
            pass
    return out


def _as_sweep(sweep) -> Sweep:
    if isinstance(sweep, Sweep):
        return sweep
    if isinstance(sweep, dict):
        return parse_sweep(sweep)
    return load_sweep(sweep)


def _worker_env(run: RunOptions) -> dict[str, str]:
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "true" if run.xla_preallocate else "false"}
    if run.xla_mem_fraction is not None:
        env["XLA_PYTHON_CLIENT_MEM_FRACTION"] = str(run.xla_mem_fraction)
    return env


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    """Temporarily set environment variables (inherited by processes spawned meanwhile)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class _Inline(cf.Executor):
    """Run each task when submitted, in this process."""

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        try:
            fut.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001
            fut.set_exception(err)
        return fut


def _connect(distributed, address: str):
    """A ``distributed.Client`` for ``address``, or a one-line RuntimeError: Dask can fail
    with any exception on a port that is not a Dask scheduler (a MemoryError reading an
    HTTP answer as a message length) and can wait for ever on one that never answers,
    so the connection is made in a thread with a deadline of ``_CONNECT_TIMEOUT`` seconds."""
    box = {}

    def connect():
        try:
            box["client"] = distributed.Client(address, timeout=_CONNECT_TIMEOUT)
        except BaseException as err:  # noqa: BLE001 - reported below, in the calling thread
            box["error"] = err

    thread = threading.Thread(target=connect, name="manybody-dask-connect", daemon=True)
    thread.start()
    thread.join(_CONNECT_TIMEOUT + 5)
    if "client" in box:
        return box["client"]
    err = box.get("error")
    why = f"{type(err).__name__}: {err}" if err is not None else f"no answer within {_CONNECT_TIMEOUT:g} s"
    raise RuntimeError(
        f"cannot connect to the Dask scheduler at {address!r} ({why}): is it a Dask scheduler?"
    )


@contextlib.contextmanager
def _executors(run: RunOptions, n_tasks: int, scheduler, root):
    """Yield ``submit(task, wants_gpu) -> Future`` for the chosen executor."""
    if scheduler is not None:
        import distributed

        own = isinstance(scheduler, str)
        client = _connect(distributed, scheduler) if own else scheduler
        try:
            try:
                workers = client.scheduler_info(n_workers=-1)["workers"]
            except TypeError:
                workers = client.scheduler_info()["workers"]
            gpu = run.gpu_resource and any(
                run.gpu_resource in w.get("resources", {}) for w in workers.values()
            )
            plain = client.get_executor(pure=False)
            on_gpu = client.get_executor(pure=False, resources={run.gpu_resource: 1}) if gpu else plain
            yield lambda task, wants_gpu: (on_gpu if wants_gpu else plain).submit(run_task, task)
        finally:
            if own:
                client.close()
        return
    workers = run.workers if run.workers is not None else (os.cpu_count() or 1)
    workers = min(workers, n_tasks)
    if workers == 0:
        yield lambda task, wants_gpu: _Inline().submit(run_task, task)
        return
    threads = run.threads_per_worker or max(1, (os.cpu_count() or 1) // workers)
    env = _worker_env(run)
    env.update({k: str(threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")})
    # workers are spawned on demand (at submit), so the environment stays set while the pool lives
    with _environ(env):
        pool = cf.ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(os.getpid(), str(root)),
        )
        try:
            yield lambda task, wants_gpu: pool.submit(run_task, task)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)


def run_sweep(
    sweep,
    out=None,
    *,
    workers: int | None = None,
    scheduler=None,
    retry_failed: bool = False,
    progress: bool = True,
) -> RunReport:
    """Run every pending point of a sweep and save the results.

    Parameters
    ----------
    sweep : str, Path, dict or Sweep
        A sweep file, its parsed content, or a validated :class:`Sweep`.
    out : str or Path, optional
        Results folder (default: the sweep's ``output``, else ``results/<name>``).
    workers : int, optional
        Local worker processes (overrides ``[run] workers``); 0 = in this process.
    scheduler : str or distributed.Client, optional
        Run on a Dask cluster (overrides ``[run] scheduler``).
    retry_failed : bool
        Run the points recorded as failed again (by default only those whose
        worker died, up to ``[run] worker_retries`` times, are).
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    RunReport
    """
    start = time.perf_counter()
    check_int("workers", workers, minimum=0, allow_none=True)
    if scheduler is not None and not isinstance(scheduler, str) and not hasattr(scheduler, "get_executor"):
        raise ValueError(
            f"scheduler must be an address (tcp://host:8786) or a distributed.Client, got {scheduler!r}"
        )
    sweep = _as_sweep(sweep)
    run = sweep.run
    if workers is not None:
        run = dataclasses.replace(run, workers=workers)
    scheduler = scheduler if scheduler is not None else run.scheduler
    store = Store(out if out is not None else output_folder(sweep))
    with store.lock():
        store.clean_temporary()
        store.clear_running()
        store.write_index(sweep)

        def todo(p: Point) -> bool:
            state = store.state(p.id)
            if state == "failed" and not retry_failed:
                record = store.failure(p.id) or {}
                return (
                    record.get("cause") == "worker_died" and store.worker_deaths(p.id) <= run.worker_retries
                )
            return state != "done"

        pending = [p for p in sweep.points if todo(p)]
        if retry_failed:
            for p in pending:
                store.clear_failure(p.id)  # a fresh count of worker deaths
        report = RunReport(store.root, len(sweep.points), len(sweep.points) - len(pending))
        ids = {p.id for p in pending}
        tasks = [t for t in make_tasks(sweep.points, sweep.groups) if any(p.id in ids for p in t)]
        if tasks:
            _run_tasks(store, sweep, run, scheduler, tasks, ids, report, progress)
    report.seconds = time.perf_counter() - start
    return report


_DIED = "the worker process died (killed, out of memory or crashed) while running this point"


def _run_tasks(store, sweep, run, scheduler, tasks, ids, report, progress):
    """Submit the tasks. If a local worker process dies, the pool breaks: the points that
    were running are recorded as failed (cause ``"worker_died"``, counted) and run again,
    each alone in a one-worker pool, while their count is within ``run.worker_retries``;
    tasks that had not started go back to the normal pool."""
    from tqdm.auto import tqdm

    env = _worker_env(run)
    ids = set(ids)

    def finish(outcomes, bar):
        for o in outcomes:
            (report.succeeded if o["status"] == "done" else report.failed).append(o["id"])
            bar.update(1)
            if o["status"] == "failed":
                bar.write(f"point {o['id']} failed: {o['error']}")

    def fail(points, error, err, bar, cause="error", count_death=False, retry_now=True):
        """Record ``points`` as failed; return those to retry now (worker deaths within the
        bound; ``retry_now=False``: left to a later run, e.g. after Dask's own retries)."""
        final, again = [], []
        for p in points:
            if store.state(p.id) == "done" or p.id not in ids:
                continue
            deaths = store.worker_deaths(p.id) + 1 if count_death else 0
            within = count_death and deaths <= run.worker_retries
            retry = within and retry_now
            text = error if not count_death else f"{error} ({deaths} time{'s' * (deaths > 1)})"
            if count_death and not within:
                text += (
                    f": not retried again (worker_retries = {run.worker_retries}; rerun with --retry-failed)"
                )
            store.record_failure(p, text, "".join(traceback.format_exception(err)), cause, deaths)
            if retry:
                again.append(p)
            else:
                ids.discard(p.id)
                final.append({"id": p.id, "status": "failed", "error": text})
        finish(final, bar)
        return again

    def report_saved(lost, bar):
        """Report the points of the tasks ``lost`` that a worker saved before the task's outcome
        was lost (a broken pool, a killed Dask worker) as succeeded."""
        saved = [p for t in lost for p in t if p.id in ids and store.state(p.id) == "done"]
        finish([{"id": p.id, "status": "done"} for p in saved], bar)
        ids.difference_update(p.id for p in saved)

    normal, isolated = list(tasks), []
    with tqdm(total=len(ids), unit="point", desc=sweep.name, disable=not progress) as bar:
        while normal or isolated:
            alone = bool(isolated)
            batch = isolated if alone else normal
            if alone:
                isolated = []
            else:
                normal = []
            broken, err = [], None
            batch_run = dataclasses.replace(run, workers=1) if alone else run
            with _executors(batch_run, len(batch), scheduler, store.root.resolve()) as submit:
                futures = {}
                for t in batch:
                    payload = {
                        "root": str(store.root.resolve()),
                        "points": [p.to_dict() for p in t],
                        "run": sorted(ids & {p.id for p in t}),
                        "plugins": sweep.plugins,
                        "env": env if scheduler is not None else {},  # local workers inherit it
                    }
                    futures[submit(payload, run.wants_gpu(t[0].backend))] = t
                for fut in cf.as_completed(futures):
                    try:
                        finish(fut.result(), bar)
                    except cf.BrokenExecutor as e:
                        broken.append(futures[fut])
                        err = e
                    except Exception as e:  # noqa: BLE001 - e.g. a Dask worker killed repeatedly
                        died = type(e).__name__ == "KilledWorker"  # Dask has retried already
                        error = _DIED if died else "the task of this point failed outside the point"
                        report_saved([futures[fut]], bar)
                        cause = "worker_died" if died else "error"
                        fail(
                            futures[fut],
                            f"{error}: {type(e).__name__}: {e}",
                            e,
                            bar,
                            cause,
                            died,
                            retry_now=False,
                        )
            report_saved(broken, bar)
            held = store.running()
            if broken and not any(p.id in held for t in broken for p in t):
                # the workers died before running any point (startup, a plugin): no retry helps
                why = "the worker processes died before running any point (at startup?)"
                fail([p for t in broken for p in t], why, err, bar)
                broken = []
            for t in broken:
                dead = [p for p in t if p.id in held]
                if dead:
                    if fail(dead, _DIED, err, bar, "worker_died", count_death=True):
                        isolated.append(t)
                elif any(p.id in ids and store.state(p.id) != "done" for p in t):
                    (isolated if alone else normal).append(t)  # had not started
            store.clear_running()
