"""The results store: one folder per sweep.

Layout::

    OUT/
      sweep.toml          the sweep file of the last run (a copy)
      index.json          every point of that sweep: id, label, backend, grid values, ...
      points/<id>/        the point's saved Result (``Result.save``), or Evolution
                          (``Evolution.save``) for a sweep with ``[evolve]``: written
                          to a temporary sibling, fsynced, then renamed: never half-written
      failed/<id>.json    a failed point: error, cause, traceback, when, where
      running/<id>        a point a worker has started (removed when it ends)
      checkpoints/<id>/   checkpoints of an unfinished point, for backends that
                          support them (VMC): a rerun resumes from them
      .lock               held (``flock``, exclusive) by the run using the folder
      .workers.lock       held (``flock``, shared) by each local worker process of that run

Point states
------------
* *done*: ``points/<id>/`` holds a ``result.json`` (an evolution: ``evolution.json``)
  that parses and a ``history.npz`` (``series.npz``) that passes its CRC check;
* *corrupt*: ``points/<id>/`` exists but its files do not load (damaged after the
  run); counted as not done, rerun by the next ``run``;
* *failed*: a failure record and no result. Its ``cause`` is ``"error"`` (the
  point's own code raised: rerun only with ``retry_failed``) or ``"worker_died"``
  (its worker process was killed or crashed: retried automatically, see
  ``manybody.jobs.execute``);
* *pending*: never run, or interrupted (a killed run leaves only temporary
  folders, whose names start with a dot, removed by the next run).

Files are written with :mod:`manybody.io` (atomic, fsynced, mode 0644, folders 0755).
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import time
import zipfile
from pathlib import Path

from manybody.io import DIR_MODE, atomic_write, load_json, write_json
from manybody.jobs.sweep import Point

__all__ = ["Store", "StoreError", "STATES"]

STATES = ("done", "corrupt", "failed", "pending")
_LOCKS = (".lock", ".workers.lock")
_SAVED = (("result.json", "history.npz", "result"), ("evolution.json", "series.npz", "evolution"))
_worker_lock_file = None  # the open .workers.lock of this worker process (held until it exits)


class StoreError(ValueError):
    """A results folder whose ``index.json`` is missing fields or was written by something else."""


class Store:
    """A sweep's results folder (see the module docstring)."""

    def __init__(self, root):
        self.root = Path(root)

    @property
    def points_dir(self) -> Path:
        return self.root / "points"

    @property
    def failed_dir(self) -> Path:
        return self.root / "failed"

    def result_dir(self, pid: str) -> Path:
        return self.points_dir / pid

    # -- the index -----------------------------------------------------------------

    def write_index(self, sweep) -> None:
        """Record the sweep's points (and a copy of its file) before running."""
        if sweep.source:
            atomic_write(self.root / "sweep.toml", sweep.source)
        write_json(
            self.root / "index.json",
            {
                "name": sweep.name,
                "model": sweep.model,
                "axes": sweep.axes,
                "groups": sweep.groups,
                "backends": sweep.backends,
                "evolve": sweep.evolve,
                "points": [p.to_dict() for p in sweep.points],
            },
        )

    def index(self) -> dict:
        """The content of ``index.json``, checked (``StoreError`` if it is not a sweep index)."""
        path = self.root / "index.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.root} is not a sweep results folder (no index.json)")
        data = load_json(path)
        if not isinstance(data, dict) or not isinstance(data.get("points"), list):
            raise StoreError(f"{path} is not a sweep index (no list of points): not written by manybody run?")
        if not isinstance(data.get("axes"), dict):
            raise StoreError(f"{path} has no table of grid axes: not written by manybody run?")
        return data

    def points(self) -> list[Point]:
        out = []
        for k, p in enumerate(self.index()["points"]):
            try:
                out.append(Point.from_dict(p))
            except (TypeError, ValueError) as err:
                raise StoreError(f"{self.root / 'index.json'}: point {k} is malformed ({err})") from None
        return out

    # -- per-point state -----------------------------------------------------------

    def problem(self, pid: str) -> str | None:
        """Why the saved result of ``pid`` does not load (None if it looks fine or is absent).

        Cheap checks only: ``result.json`` (``evolution.json``) parses into a result (an
        evolution), ``history.npz`` (``series.npz``) is a zip archive whose members pass
        their CRC check."""
        folder = self.result_dir(pid)
        if not folder.exists():
            return None
        found = [s for s in _SAVED if (folder / s[0]).exists()]
        if not found:
            return f"{folder} has no {' or '.join(s[0] for s in _SAVED)}"
        meta, arrays, kind = found[0]
        try:
            data = load_json(folder / meta)
        except (ValueError, OSError) as err:
            return str(err)
        if not isinstance(data, dict) or "energy" not in data or "format_version" not in data:
            return f"{folder / meta} is not a saved {kind}"
        try:
            with zipfile.ZipFile(folder / arrays) as z:
                bad = z.testzip()
        except (OSError, zipfile.BadZipFile, EOFError) as err:
            return f"{folder / arrays} does not load: {err}"
        return f"{folder / arrays}: member {bad} is corrupted" if bad else None

    def failure(self, pid: str) -> dict | None:
        """The failure record of ``pid`` (None if there is none)."""
        path = self.failed_dir / f"{pid}.json"
        if not path.is_file():
            return None
        try:
            record = load_json(path)
        except (ValueError, OSError) as err:
            return {"error": f"unreadable failure record: {err}", "cause": "error"}
        return record if isinstance(record, dict) else {"error": "malformed failure record", "cause": "error"}

    def record_failure(
        self, point: Point, error: str, traceback_text: str, cause: str = "error", worker_deaths: int = 0
    ) -> None:
        """Record that ``point`` failed; ``cause`` is ``"error"`` or ``"worker_died"``."""
        write_json(
            self.failed_dir / f"{point.id}.json",
            {
                "id": point.id,
                "label": point.label,
                "params": point.params,
                "error": error,
                "cause": cause,
                "worker_deaths": worker_deaths,
                "traceback": traceback_text,
                "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
            },
        )

    def worker_deaths(self, pid: str) -> int:
        """How many worker processes died while running ``pid`` (from its failure record)."""
        record = self.failure(pid) or {}
        deaths = record.get("worker_deaths", 0)
        return deaths if isinstance(deaths, int) else 0

    def clear_failure(self, pid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.failed_dir / f"{pid}.json")

    def mark_running(self, pid: str) -> None:
        """Note that a worker started ``pid`` (to tell which points a dead worker held)."""
        atomic_write(self.root / "running" / pid, f"{socket.gethostname()} {os.getpid()}\n")

    def running(self) -> set[str]:
        """Points started and not finished (or interrupted: only meaningful under ``lock``)."""
        folder = self.root / "running"
        return {p.name for p in folder.iterdir() if not p.name.startswith(".")} if folder.is_dir() else set()

    def clear_running(self, pid: str | None = None) -> None:
        """Remove the marker of ``pid`` (of every point if None)."""
        for p in [pid] if pid else self.running():
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.root / "running" / p)

    def state(self, pid: str) -> str:
        """One of :data:`STATES` (see the module docstring)."""
        if self.result_dir(pid).exists():
            return "corrupt" if self.problem(pid) else "done"
        return "failed" if (self.failed_dir / f"{pid}.json").is_file() else "pending"

    def status(self) -> dict[str, list[Point]]:
        """The index's points split by state (keys :data:`STATES`)."""
        out = {s: [] for s in STATES}
        for p in self.points():
            out[self.state(p.id)].append(p)
        return out

    def load(self, pid: str):
        """The saved ``Result`` of ``pid``, or its ``Evolution`` (a point of an ``[evolve]`` sweep)."""
        from manybody.evolution import Evolution
        from manybody.result import Result

        folder = self.result_dir(pid)
        return (Evolution if (folder / "evolution.json").exists() else Result).load(folder)

    # -- running -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, wait_for_workers: float = 10.0):
        """Hold an exclusive lock on the folder for a run (a second run fails clearly).

        Then wait up to ``wait_for_workers`` seconds for the local worker processes
        of an earlier run (holding ``.workers.lock``) to exit: they die with their
        run, but a kill takes a moment to reach them; if they are still there, fail
        rather than race them.
        """
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            self._mkdir()
            yield
            return
        self._mkdir()
        with open(self.root / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(
                    f"another run is using {self.root} (it holds {self.root / '.lock'})"
                ) from None
            try:
                self._wait_for_old_workers(fcntl, wait_for_workers)
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def _mkdir(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(self.root, DIR_MODE)

    def _wait_for_old_workers(self, fcntl, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with open(self.root / ".workers.lock", "a") as f:
            while True:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    fcntl.flock(f, fcntl.LOCK_UN)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"worker processes of an earlier run still use {self.root} "
                            f"(they hold {self.root / '.workers.lock'}): wait for them to exit, or end them"
                        ) from None
                    time.sleep(0.1)

    def hold_worker_lock(self) -> None:
        """In a local worker process: hold a shared lock on ``.workers.lock`` until the
        process exits, so that a later run can tell that this worker is still alive."""
        global _worker_lock_file
        try:
            import fcntl
        except ImportError:
            return
        if _worker_lock_file is None:
            _worker_lock_file = open(self.root / ".workers.lock", "a")  # noqa: SIM115 - held for life
            fcntl.flock(_worker_lock_file, fcntl.LOCK_SH)

    def clean_temporary(self) -> list[Path]:
        """Remove temporary folders and files left by an interrupted run (call under ``lock``)."""
        removed = []
        for folder in (self.points_dir, self.failed_dir, self.root, self.root / "running"):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name.startswith(".") and entry.name not in _LOCKS:
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed.append(entry)
        return removed
