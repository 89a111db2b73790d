"""Running a sweep: locally in worker processes, in the calling process, or on Dask.

Points are grouped into *tasks*: one point per task, except for backends
with ``warm_start`` along an axis, whose points form one task per line of
that axis (run in order, each starting from the previous result). A task
runs in a worker, which saves each result into the store itself (a
shared filesystem is needed on a cluster) and records failures with their
traceback; the calling process only schedules, reports progress, and
records points whose worker died.

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
  of ``gpu_backends`` (VMC) ask for one unit of the ``gpu_resource`` worker
  resource when a worker of the cluster declares it.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import shutil
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from manybody.jobs.store import Store
from manybody.jobs.sweep import Point, RunOptions, Sweep, load_sweep, parse_sweep

__all__ = ["run_sweep", "RunReport", "make_tasks", "run_task", "output_folder"]


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
    dicts), ``retry_failed``, ``skip`` (ids not to run), ``plugins`` and ``env``
    (environment variables for Dask workers, applied if JAX is not yet
    imported in the worker's process). Each point's result
    is saved to the store, or its failure recorded; returns one
    ``{"id", "status", "error"}`` per point run.
    """
    if "jax" not in sys.modules:
        os.environ.update(task.get("env", {}))
    from manybody.backends import solve
    from manybody.jobs.plugins import load_plugins
    from manybody.model import from_dict

    store = Store(task["root"])
    out, previous = [], None
    for data in task["points"]:
        point = Point.from_dict(data)
        state = store.state(point.id)
        if state == "done":
            previous = store.result_dir(point.id)
            continue
        if point.id in task.get("skip", ()) or (state == "failed" and not task.get("retry_failed")):
            continue
        store.mark_running(point.id)
        try:
            load_plugins(task.get("plugins", []))
            options = _runtime_options(point, store, previous)
            res = solve(
                from_dict(point.model), backend=point.backend, observables=point.observables, **options
            )
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


def _runtime_options(point: Point, store: Store, previous: Path | None) -> dict:
    """The point's options plus what the run supplies (not part of the point's id):
    ``warm_start`` (the previous result along the axis), ``progress=False`` (the sweep has
    its own progress bar) and a per-point ``checkpoint_dir`` in the store (so that an
    interrupted VMC point resumes), each only where the backend has that option and the
    sweep file does not set it."""
    import dataclasses

    from manybody.backends import get_backend

    fields = {f.name for f in dataclasses.fields(get_backend(point.backend).Options)}
    options = dict(point.options)
    if point.warm_start and previous is not None:
        options["warm_start"] = str(previous)
    if "progress" in fields:
        options.setdefault("progress", False)
    if "checkpoint_dir" in fields:
        options.setdefault("checkpoint_dir", str(store.root / "checkpoints" / point.id))
    return options


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


@contextlib.contextmanager
def _executors(run: RunOptions, n_tasks: int, scheduler):
    """Yield ``submit(task, wants_gpu) -> Future`` for the chosen executor."""
    if scheduler is not None:
        import distributed

        own = isinstance(scheduler, str)
        client = distributed.Client(scheduler) if own else scheduler
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
        pool = cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
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
        Run the points recorded as failed again (by default they are skipped).
    progress : bool
        Show a progress bar (tqdm, on stderr).

    Returns
    -------
    RunReport
    """
    start = time.perf_counter()
    sweep = _as_sweep(sweep)
    run = sweep.run
    if workers is not None:
        run = RunOptions(**{**run.__dict__, "workers": workers})
    scheduler = scheduler if scheduler is not None else run.scheduler
    store = Store(out if out is not None else output_folder(sweep))
    with store.lock():
        store.clean_temporary()
        store.clear_running()
        store.write_index(sweep)

        def todo(p: Point) -> bool:
            state = store.state(p.id)
            return state in ("pending", "corrupt") or (state == "failed" and retry_failed)

        pending = [p for p in sweep.points if todo(p)]
        report = RunReport(store.root, len(sweep.points), len(sweep.points) - len(pending))
        tasks = [t for t in make_tasks(sweep.points, sweep.groups) if any(todo(p) for p in t)]
        if tasks:
            _run_tasks(store, sweep, run, scheduler, tasks, retry_failed, report, progress, len(pending))
    report.seconds = time.perf_counter() - start
    return report


def _run_tasks(store, sweep, run, scheduler, tasks, retry_failed, report, progress, n_pending):
    """Submit the tasks; if a local worker process dies (killed, out of memory, crash),
    record the points it was running as failed and resubmit the rest to a fresh pool."""
    from tqdm.auto import tqdm

    env = _worker_env(run)
    given_up: set[str] = set()  # points recorded as failed by this process (never retried in this run)

    def finish(outcomes, bar):
        for o in outcomes:
            (report.succeeded if o["status"] == "done" else report.failed).append(o["id"])
            bar.update(1)
            if o["status"] == "failed":
                bar.write(f"point {o['id']} failed: {o['error']}")

    def give_up(points, error, err, bar):
        out = []
        for p in points:
            if store.state(p.id) != "done" and p.id not in given_up:
                store.record_failure(p, error, "".join(traceback.format_exception(err)))
                given_up.add(p.id)
                out.append({"id": p.id, "status": "failed", "error": error})
        finish(out, bar)

    with tqdm(total=n_pending, unit="point", desc=sweep.name, disable=not progress) as bar:
        while tasks:
            broken, err = [], None
            with _executors(run, len(tasks), scheduler) as submit:
                futures = {}
                for t in tasks:
                    payload = {
                        "root": str(store.root.resolve()),
                        "points": [p.to_dict() for p in t],
                        "retry_failed": retry_failed,
                        "skip": sorted(given_up),
                        "plugins": sweep.plugins,
                        "env": env if scheduler is not None else {},  # local workers inherit it
                    }
                    futures[submit(payload, t[0].backend in run.gpu_backends)] = t
                for fut in cf.as_completed(futures):
                    try:
                        finish(fut.result(), bar)
                    except cf.BrokenExecutor as e:
                        broken.append(futures[fut])
                        err = e
                    except Exception as e:  # noqa: BLE001 - e.g. a Dask worker killed repeatedly
                        error = f"the task of this point failed outside the point: {type(e).__name__}: {e}"
                        give_up([p for p in futures[fut] if store.state(p.id) == "pending"], error, e, bar)
            held = store.running()
            running = [p for t in broken for p in t if p.id in held]
            if broken and not running:  # died outside any point: give up on all, so that the loop ends
                running = [p for t in broken for p in t if store.state(p.id) == "pending"]
            error = "the worker process died (killed, out of memory or crashed) while running this point"
            give_up(running, error + " or one running at the same time", err, bar)
            store.clear_running()
            tasks = [t for t in broken if any(store.state(p.id) == "pending" for p in t)]
