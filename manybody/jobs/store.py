"""The results store: one folder per sweep.

Layout::

    OUT/
      sweep.toml          the sweep file of the last run (a copy)
      index.json          every point of that sweep: id, label, backend, grid values, ...
      points/<id>/        the point's saved Result (``Result.save``: written to a
                          temporary sibling, then renamed: never half-written)
      failed/<id>.json    a failed point: error, traceback, when, where
      running/<id>        a point a worker has started (removed when it ends)
      checkpoints/<id>/   checkpoints of an unfinished point, for backends with a
                          ``checkpoint_dir`` option (VMC): a rerun resumes from them
      .lock               held (``flock``) by the run using the folder

A point is *done* when ``points/<id>/result.json`` exists, *failed* when it
has a failure record and no result, and *pending* otherwise (never run, or
interrupted: a killed run leaves only temporary folders, removed by the next
run).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import shutil
import socket
import tempfile
from pathlib import Path

from manybody.jobs.sweep import Point

__all__ = ["Store", "write_json_atomic"]


def write_json_atomic(path: Path, data) -> None:
    """Write JSON to a temporary file in the same folder, fsync it, then rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
        self.root.mkdir(parents=True, exist_ok=True)
        if sweep.source:
            tmp = self.root / ".sweep.toml.tmp"
            tmp.write_text(sweep.source)
            os.replace(tmp, self.root / "sweep.toml")
        write_json_atomic(
            self.root / "index.json",
            {
                "name": sweep.name,
                "model": sweep.model,
                "axes": sweep.axes,
                "groups": sweep.groups,
                "backends": sweep.backends,
                "points": [p.to_dict() for p in sweep.points],
            },
        )

    def index(self) -> dict:
        path = self.root / "index.json"
        if not path.is_file():
            raise FileNotFoundError(f"{self.root} is not a sweep results folder (no index.json)")
        with open(path) as f:
            return json.load(f)

    def points(self) -> list[Point]:
        return [Point.from_dict(p) for p in self.index()["points"]]

    # -- per-point state -----------------------------------------------------------

    def is_done(self, pid: str) -> bool:
        return (self.result_dir(pid) / "result.json").is_file()

    def failure(self, pid: str) -> dict | None:
        path = self.failed_dir / f"{pid}.json"
        if not path.is_file():
            return None
        with open(path) as f:
            return json.load(f)

    def record_failure(self, point: Point, error: str, traceback_text: str) -> None:
        write_json_atomic(
            self.failed_dir / f"{point.id}.json",
            {
                "id": point.id,
                "label": point.label,
                "params": point.params,
                "error": error,
                "traceback": traceback_text,
                "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "host": socket.gethostname(),
            },
        )

    def clear_failure(self, pid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.failed_dir / f"{pid}.json")

    def mark_running(self, pid: str) -> None:
        """Note that a worker started ``pid`` (to tell which points a dead worker held)."""
        (self.root / "running").mkdir(parents=True, exist_ok=True)
        (self.root / "running" / pid).write_text(f"{socket.gethostname()} {os.getpid()}\n")

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
        """``"done"``, ``"failed"`` or ``"pending"``."""
        if self.is_done(pid):
            return "done"
        return "failed" if (self.failed_dir / f"{pid}.json").is_file() else "pending"

    def status(self) -> dict[str, list[Point]]:
        """The index's points split into done, failed and pending."""
        out = {"done": [], "failed": [], "pending": []}
        for p in self.points():
            out[self.state(p.id)].append(p)
        return out

    def load(self, pid: str):
        from manybody.result import Result

        return Result.load(self.result_dir(pid))

    # -- running -------------------------------------------------------------------

    @contextlib.contextmanager
    def lock(self):
        """Hold an exclusive lock on the folder for a run (a second run fails clearly)."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            import fcntl
        except ImportError:  # not POSIX: no locking
            yield
            return
        with open(self.root / ".lock", "w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(
                    f"another run is using {self.root} (it holds {self.root / '.lock'})"
                ) from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def clean_temporary(self) -> list[Path]:
        """Remove temporary folders and files left by an interrupted run (call under ``lock``)."""
        removed = []
        for folder in (self.points_dir, self.failed_dir, self.root):
            if not folder.is_dir():
                continue
            for entry in folder.iterdir():
                if entry.name.startswith(".") and entry.name != ".lock":
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                    removed.append(entry)
        return removed
