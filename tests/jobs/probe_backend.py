"""A sweep plugin for the jobs tests: the exact backend with test hooks.

``backend = "probe"`` solves exactly like ``exact`` and can additionally sleep,
fail at one value of J2 (unless a marker file exists), kill its process at
another (``crash_J2``, like a segfault or an out-of-memory kill; with
``crash_once`` only while that marker file does not exist, which the dying
process creates), return a NaN energy at ``nan_J2``, and accept a
``warm_start`` result folder, whose J2 it records in ``info`` (with the
worker's thread and JAX-memory environment variables).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from manybody.backends import register_backend
from manybody.exact import ExactBackend, ExactOptions
from manybody.result import Result


@dataclass
class ProbeOptions(ExactOptions):
    sleep: float = 0.0
    fail_J2: float | None = None
    unless_exists: str | None = None
    warm_start: str | None = None
    crash_J2: float | None = None
    crash_once: str | None = None
    nan_J2: float | None = None


class ProbeBackend(ExactBackend):
    name = "probe"
    Options = ProbeOptions

    def solve(self, model, options):
        time.sleep(options.sleep)
        if options.crash_J2 == model.params["J2"]:
            if options.crash_once is None or not Path(options.crash_once).exists():
                if options.crash_once is not None:
                    Path(options.crash_once).touch()
                os._exit(3)  # a worker dying (segfault, out-of-memory kill)
        if options.fail_J2 == model.params["J2"] and not (
            options.unless_exists and Path(options.unless_exists).exists()
        ):
            raise RuntimeError(f"probe failure at J2={options.fail_J2}")
        sol = super().solve(model, options)
        if options.nan_J2 == model.params["J2"]:
            sol.energy = float("nan")
        sol.info["env"] = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "XLA_PYTHON_CLIENT_PREALLOCATE")}
        if options.warm_start is not None:
            previous = Result.load(options.warm_start)
            sol.info.update(warm_start_from=options.warm_start, warm_start_J2=previous.model["J2"])
        return sol


register_backend("probe", ProbeBackend, supports_warm_start=True)
