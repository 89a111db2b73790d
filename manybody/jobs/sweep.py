"""Sweep files: load, validate and expand a TOML sweep into points.

A sweep file names a model with its fixed parameters, a grid of varying
parameters, one or more backends with their options, the observables and the
output folder::

    name = "j1j2_chain"                    # optional (default: the file name)
    output = "results/j1j2_chain"          # optional, relative to the working directory
    observables = ["staggered_magnetization_sq", "spin_correlations"]   # or "all"
    plugins = ["my_models.py"]             # optional files that register models/backends

    [model]
    name = "heisenberg"
    lattice = {kind = "chain", L = 12, pbc = false}
    J = 1.0

    [grid]
    J2 = [0.0, 0.1, 0.2, 0.3, 0.4]         # a list ...
    h = {start = 0.0, stop = 1.0, num = 5} # ... or a range (num: inclusive linspace;
                                           #     step: like Python's range, stop excluded)
    "lattice.L" = [8, 10, 12]              # a quoted dotted key sets a nested parameter
    zip = [["J2", "h"]]                    # axes that vary together; the rest: product

    [backends.exact]                       # one table per backend, keyed by a label
    [backends.dmrg]
    max_bond = 64
    warm_start = "J2"                      # start from the previous point along J2
    [backends.dmrg_small]                  # a second configuration of the same backend
    backend = "dmrg"
    max_bond = 16

    [run]                                  # execution defaults (CLI flags override)
    workers = 2

With an ``[evolve]`` table every point is a real-time evolution
(``manybody.evolve``) instead of a ground state, and the ``[backends.*]``
tables hold the backends' *evolution* options::

    [evolve]
    initial = "neel"                       # a bit string, a list of 0/1, or a named state
    times = {start = 0.0, stop = 5.0, num = 51}   # or a list of times

Everything is validated before anything runs: unknown keys, wrong types,
empty axes, unknown models (``manybody.model.model_class``), model parameters
(every model is constructed), backend options (``manybody.backends.make_options``)
and the backend's ``check_model`` on every point. Each error is a
:class:`SweepError` naming the offending key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import math
import time
import tomllib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from manybody.io import to_jsonable
from manybody.jobs.grid import axis_values, check_keys, combinations, model_kwargs, parse_grid
from manybody.jobs.plugins import load_plugins
from manybody.model import model_class

__all__ = [
    "SweepError",
    "SweepWarning",
    "MAX_POINTS",
    "Sweep",
    "Point",
    "RunOptions",
    "load_sweep",
    "parse_sweep",
    "point_id",
]

_TOP_KEYS = {"name", "output", "observables", "plugins", "model", "grid", "backends", "run", "evolve"}
_EVOLVE_KEYS = ("initial", "times")


MAX_POINTS = 1_000_000
_WARN_SAMPLE, _WARN_IF_LEFT = 20, 5.0  # warn if validating the rest will take longer (s), timed on 20 points


class SweepError(ValueError):
    """A sweep file is invalid; the message names the file and the offending key."""


class SweepWarning(UserWarning):
    """Something about a sweep worth knowing before it runs (a very large grid)."""


@dataclass(frozen=True)
class RunOptions:
    """Execution settings (``[run]`` table; CLI flags and ``run_sweep`` arguments override).

    Attributes
    ----------
    workers : int or None
        Local worker processes (default: the number of CPU cores, at most the
        number of tasks); 0 runs the points in the calling process.
    scheduler : str or None
        A Dask scheduler address (``tcp://host:8786``); None runs locally.
    threads_per_worker : int or None
        BLAS/OpenMP threads per local worker (``OMP_NUM_THREADS`` etc.);
        default: cores // workers.
    xla_preallocate : bool
        Value of ``XLA_PYTHON_CLIENT_PREALLOCATE`` in the workers. False
        (default) lets several workers share a GPU; True gives one worker
        JAX's usual preallocation of most of the GPU memory.
    xla_mem_fraction : float or None
        ``XLA_PYTHON_CLIENT_MEM_FRACTION`` in the workers (e.g. 0.45 for two
        workers per GPU).
    gpu_resource : str
        Name of the Dask worker resource that the points of GPU backends
        ask for (one unit) when some worker of the cluster declares it; ""
        disables this.
    gpu_backends : tuple of str or None
        Backends whose points want a GPU (default None: those registered with
        ``uses_gpu``, see ``manybody.backends.backend_spec``).
    worker_retries : int
        How many more times a point is run, alone in a fresh worker, after the
        worker process running it died (killed, out of memory, crashed); a
        point whose own code raised is not retried (default 2).
    """

    workers: int | None = None
    scheduler: str | None = None
    threads_per_worker: int | None = None
    xla_preallocate: bool = False
    xla_mem_fraction: float | None = None
    gpu_resource: str = "GPU"
    gpu_backends: tuple | None = None
    worker_retries: int = 2

    def wants_gpu(self, backend: str) -> bool:
        """Whether the points of ``backend`` ask for a GPU."""
        from manybody.backends import backend_spec

        return (
            backend in self.gpu_backends if self.gpu_backends is not None else backend_spec(backend).uses_gpu
        )


@dataclass(frozen=True)
class Point:
    """One (model, backend) job of a sweep.

    Attributes
    ----------
    id : str
        Deterministic id: a hash of the model dict, backend, options,
        observables and warm-start axis (see :func:`point_id`).
    label : str
        The backend's label in the sweep file (``[backends.<label>]``).
    backend : str
        Registered backend name.
    params : dict
        The grid values of this point (axis name -> value).
    model : dict
        The full ``Model.to_dict()``.
    options : dict
        Backend options as written in the sweep file (without ``warm_start``).
    observables : list of str
    warm_start : str or None
        Axis along which this point starts from the previous point's result.
    index : list of int
        Position of the point in each axis group of the grid.
    evolve : dict or None
        ``{"initial", "times"}`` of a real-time evolution point (``[evolve]``; times
        expanded to a list); None for a ground-state point.
    """

    id: str
    label: str
    backend: str
    params: dict
    model: dict
    options: dict
    observables: list
    warm_start: str | None = None
    index: list = field(default_factory=list)
    evolve: dict | None = None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Point:
        return cls(**data)


@dataclass
class Sweep:
    """A validated sweep: its settings and the expanded list of points.

    Attributes
    ----------
    name, output : str
        From the file (``output`` may be None: ``results/<name>``).
    model : dict
        The ``[model]`` table (``name`` and fixed parameters).
    axes : dict of str -> list
        Grid axes and their values; ``groups`` lists the zipped axes together.
    backends : dict of label -> {"backend", "options", "warm_start"}
        (the options are evolution options when ``evolve`` is set)
    observables : list of str, "all" or None
        As written (None: each model's defaults).
    plugins : list of str
        Absolute paths of the plugin files.
    run : RunOptions
    points : list of Point
    source, path :
        The file's text and path (None for a sweep given as a dict).
    evolve : dict or None
        The ``[evolve]`` table, ``{"initial", "times"}`` (times as a list), or None
        for a ground-state sweep.
    """

    name: str
    model: dict
    axes: dict
    groups: list
    backends: dict
    observables: object
    output: str | None
    plugins: list
    run: RunOptions
    points: list
    source: str = ""
    path: Path | None = None
    evolve: dict | None = None


def point_id(model: dict, backend: str, options: dict, observables, warm_start=None, evolve=None) -> str:
    """A 16-hex-digit hash of what defines a point (stable across runs and machines); an
    evolution point's ``evolve`` table (initial state, times) is part of it."""
    key = {"model": model, "backend": backend, "options": options, "observables": observables}
    if warm_start:
        key["warm_start"] = warm_start
    if evolve:
        key["evolve"] = evolve
    text = json.dumps(to_jsonable(key, lossy=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def load_sweep(path) -> Sweep:
    """Read and validate a sweep file (TOML); raise :class:`SweepError` if invalid."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep file {str(path)!r} does not exist")
    text = path.read_text()
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SweepError(f"{path}: not valid TOML: {err}") from None
    return parse_sweep(data, source=text, path=path)


def parse_sweep(data: dict, source: str = "", path: Path | None = None) -> Sweep:
    """Validate a sweep given as a dict (the parsed TOML) and expand its points."""
    where = str(path) if path is not None else "sweep"

    def fail(msg):
        raise SweepError(f"{where}: {msg}")

    if not isinstance(data, dict):
        fail(f"a sweep is a table of settings, got {type(data).__name__}")
    check_keys(fail, data, _TOP_KEYS, "top level")
    name = _typed(fail, data, "name", str, path.stem if path is not None else "sweep")
    output = _typed(fail, data, "output", str, None)
    plugins = _typed(fail, data, "plugins", list, [])
    for k, p in enumerate(plugins):
        if not isinstance(p, str):
            fail(f"plugins[{k}] must be a file path (string), got {p!r}")
    base = path.parent if path is not None else Path.cwd()
    plugins = [str((base / p).resolve()) for p in plugins]
    try:
        load_plugins(plugins)
    except Exception as err:  # noqa: BLE001 - any import error of a user file
        fail(f"plugins: cannot load: {type(err).__name__}: {err}")
    observables = data.get("observables")
    if observables is not None and not (
        observables == "all"
        or (isinstance(observables, list) and all(isinstance(o, str) for o in observables))
    ):
        fail(f'observables must be a list of observable names or "all", got {observables!r}')
    run = _parse_run(fail, data.get("run", {}))
    model = _parse_model(fail, data.get("model"))
    axes, groups = parse_grid(fail, data.get("grid"), model, _model_params(model_class(model["name"])))
    evolve = _parse_evolve(fail, data.get("evolve"))
    backends = _parse_backends(fail, data.get("backends"), groups, evolve)
    points = _expand(fail, model, axes, groups, backends, observables, evolve)
    return Sweep(
        name, model, axes, groups, backends, observables, output, plugins, run, points, source, path, evolve
    )


# -- pieces ------------------------------------------------------------------------


def _typed(fail, table: dict, key: str, kind, default, where: str = ""):
    if key not in table:
        return default
    value = table[key]
    ok = isinstance(value, kind) and not (kind is not bool and isinstance(value, bool))
    if not ok:
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        fail(f"{where}{key} must be of type {names}, got {value!r}")
    return value


def _parse_run(fail, table) -> RunOptions:
    if not isinstance(table, dict):
        fail(f"[run] must be a table, got {table!r}")
    check_keys(fail, table, [f.name for f in dataclasses.fields(RunOptions)], "[run]")
    w = "[run] "
    workers = _typed(fail, table, "workers", int, None, w)
    threads = _typed(fail, table, "threads_per_worker", int, None, w)
    if workers is not None and workers < 0:
        fail(f"[run] workers must be >= 0, got {workers}")
    if threads is not None and threads < 1:
        fail(f"[run] threads_per_worker must be >= 1, got {threads}")
    frac = _typed(fail, table, "xla_mem_fraction", (int, float), None, w)
    if frac is not None and not 0 < frac <= 1:
        fail(f"[run] xla_mem_fraction must be in (0, 1], got {frac}")
    gpu = _typed(fail, table, "gpu_backends", list, None, w)
    if gpu is not None and not all(isinstance(b, str) for b in gpu):
        fail(f"[run] gpu_backends must be a list of backend names, got {gpu!r}")
    retries = _typed(fail, table, "worker_retries", int, 2, w)
    if retries < 0:
        fail(f"[run] worker_retries must be >= 0, got {retries}")
    return RunOptions(
        workers=workers,
        scheduler=_typed(fail, table, "scheduler", str, None, w),
        threads_per_worker=threads,
        xla_preallocate=_typed(fail, table, "xla_preallocate", bool, False, w),
        xla_mem_fraction=frac,
        gpu_resource=_typed(fail, table, "gpu_resource", str, "GPU", w),
        gpu_backends=None if gpu is None else tuple(gpu),
        worker_retries=retries,
    )


def _parse_evolve(fail, table) -> dict | None:
    """The ``[evolve]`` table: ``initial`` (checked against each model in ``_expand``) and
    ``times`` (a list or a range, checked by ``manybody.evolution.check_times``)."""
    from manybody.evolution import check_times

    if table is None:
        return None
    if not isinstance(table, dict):
        fail(f"[evolve] must be a table with initial and times, got {table!r}")
    check_keys(fail, table, _EVOLVE_KEYS, "[evolve]")
    for key in _EVOLVE_KEYS:
        if key not in table:
            fail(
                f'[evolve] {key} is missing (e.g. initial = "neel", times = {{start = 0, stop = 5, num = 51}})'
            )
    initial = table["initial"]
    if not (
        isinstance(initial, str)
        or (isinstance(initial, list) and initial and all(type(b) is int and b in (0, 1) for b in initial))
    ):
        fail(
            f"[evolve] initial must be a bit string, a list of 0/1 or a named state (string), got {initial!r}"
        )
    times = axis_values(fail, "times", table["times"], "[evolve]")
    try:
        times = [float(t) for t in check_times(times)]
    except ValueError:
        fail(f"[evolve] times must be a non-empty, non-decreasing list of finite times >= 0, got {times}")
    return {"initial": initial, "times": times}


def _parse_model(fail, table) -> dict:
    if table is None:
        fail('missing [model] table (e.g. [model] name = "heisenberg")')
    if not isinstance(table, dict):
        fail(f"[model] must be a table, got {table!r}")
    name = table.get("name")
    if not isinstance(name, str):
        fail(f"[model] name must be a model name (string), got {name!r}")
    try:
        cls = model_class(name)
    except ValueError as err:
        fail(f"[model] name: {err}")
    allowed = _model_params(cls)
    check_keys(fail, table, ["name", *allowed], f"[model] (parameters of {name!r})")
    return dict(table)


def _model_params(cls) -> list[str]:
    sig = inspect.signature(cls.__init__)
    return [
        p for p in list(sig.parameters)[1:] if sig.parameters[p].kind is not inspect.Parameter.VAR_KEYWORD
    ]


def _parse_backends(fail, table, groups, evolve) -> dict:
    from manybody.backends import backend_spec

    if table is None:
        fail("missing [backends] table (e.g. [backends.exact])")
    if not isinstance(table, dict) or not table:
        fail(f"[backends] must hold one table per backend, e.g. [backends.exact], got {table!r}")
    out = {}
    for label, opts in table.items():
        where = f"[backends.{label}]"
        if not isinstance(opts, dict):
            fail(f"{where} must be a table of options, got {opts!r}")
        opts = dict(opts)
        name = opts.pop("backend", label)
        try:
            spec = backend_spec(name)
        except ValueError as err:
            fail(f"{where}: {err}")
        warm = opts.pop("warm_start", False)
        if evolve is not None and warm is not False:
            fail(
                f"{where} warm_start: evolution points start from [evolve] initial, not from a previous result"
            )
        if evolve is None and spec.supports_checkpoint and "checkpoint_dir" in opts:
            fail(
                f"{where} checkpoint_dir: a sweep gives each point its own (RESULTS/checkpoints/<id>): remove it"
            )
        if warm is not False:
            if not spec.supports_warm_start:
                fail(f"{where} warm_start: backend {name!r} does not start from a previous result")
            axes = [a for g in groups for a in g]
            if warm is True:
                if len(groups) != 1:
                    fail(f"{where} warm_start = true is ambiguous: name the axis, one of {axes}")
                warm = groups[0][0]
            if not isinstance(warm, str) or warm not in axes:
                fail(f"{where} warm_start must be true, false or a grid axis {axes}, got {warm!r}")
        out[label] = {"backend": name, "options": opts, "warm_start": warm or None}
    return out


def _expand(fail, model: dict, axes: dict, groups: list, backends: dict, observables, evolve) -> list[Point]:
    from manybody.backends import backend_spec, get_backend, make_options
    from manybody.evolution import initial_state
    from manybody.model import from_dict

    n_points = math.prod(len(axes[g[0]]) for g in groups) * len(backends)
    if n_points > MAX_POINTS:
        fail(f"the sweep has {n_points} points, more than {MAX_POINTS}: split it into several sweeps")
    combos = combinations(axes, groups)
    options = {}
    for label, spec in backends.items():
        try:
            options[label] = make_options(spec["backend"], spec["options"], evolve=evolve is not None)
        except (ValueError, TypeError) as err:
            evolves = backend_spec(spec["backend"]).evolve_options is not None
            why = (
                " (the sweep has an [evolve] table: these are evolution options)"
                if evolve and evolves
                else ""
            )
            fail(f"[backends.{label}]: {err}{why}")
    points, seen, start = [], {}, None
    for k, (idx, params) in enumerate(combos):
        if k == 1:  # the first point pays for imports: time the next ones
            start = time.perf_counter()
        elif k == 1 + _WARN_SAMPLE:
            left = (time.perf_counter() - start) / _WARN_SAMPLE * (len(combos) - k)
            if left > _WARN_IF_LEFT:
                warnings.warn(
                    f"validating {n_points} points (every model is built and checked): about "
                    f"{left:.0f} s more; the run stores one folder per point",
                    SweepWarning,
                    stacklevel=3,
                )
        kwargs = model_kwargs(model, params)
        at = f" at {params}" if params else ""
        try:
            m = from_dict({"model": model["name"], **kwargs})
        except (ValueError, TypeError) as err:
            fail(_model_error(err, model, combos, params))
        names = _observable_names(fail, m, observables)
        if evolve is not None:
            try:
                initial_state(m, evolve["initial"])
            except ValueError as err:
                fail(f"[evolve] initial{at if k or _initial_varies(model, combos, evolve) else ''}: {err}")
        mdict = m.to_dict()
        for label, spec in backends.items():
            where = f"[backends.{label}]"
            try:
                get_backend(spec["backend"]).check_model(m, options[label])
            except ValueError as err:
                fail(f"{where}{at}: {err}")
            pid = point_id(mdict, spec["backend"], spec["options"], names, spec["warm_start"], evolve)
            if pid in seen:
                fail(f"{where}{at} repeats the point of {seen[pid]}: remove the duplicate")
            seen[pid] = f"[backends.{label}]{at}"
            points.append(
                Point(
                    pid,
                    label,
                    spec["backend"],
                    params,
                    mdict,
                    spec["options"],
                    names,
                    spec["warm_start"],
                    idx,
                    evolve,
                )
            )
    return points


def _model_error(err: Exception, model: dict, combos: list, params: dict) -> str:
    """The message for a model that cannot be built: naming the grid point only if the
    error depends on it (a fixed parameter's error is the same at another grid point)."""
    from manybody.model import from_dict

    other = next((q for _, q in combos if q != params), None)
    if other is None:
        return f"[model] parameters: {err}"
    try:
        from_dict({"model": model["name"], **model_kwargs(model, other)})
    except (ValueError, TypeError) as again:
        if str(again) == str(err):
            return f"[model] parameters: {err}"
    return f"[model] parameters at {params}: {err}"


def _initial_varies(model: dict, combos: list, evolve: dict) -> bool:
    """Whether ``[evolve] initial``, refused at the first grid point, is valid at the last one
    (then the error names the point; as for the model's parameters, one other point is tried)."""
    from manybody.evolution import initial_state
    from manybody.model import from_dict

    if len(combos) < 2:
        return False
    try:
        initial_state(
            from_dict({"model": model["name"], **model_kwargs(model, combos[-1][1])}), evolve["initial"]
        )
    except (ValueError, TypeError):
        return False
    return True


def _observable_names(fail, model, observables) -> list[str]:
    if observables is None:
        return list(model.default_observables)
    if observables == "all":
        return list(model.observable_names)
    for o in observables:
        if o not in model.observable_names:
            fail(
                f"observables: unknown observable {o!r} for model {model.name!r}; "
                f'allowed: {model.observable_names}, or "all" for every one of them'
            )
    return list(observables)
