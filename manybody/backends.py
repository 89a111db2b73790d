"""The backend protocol, the registry of backends by name, and ``solve``.

A backend is a class with

* ``name`` and ``Options``, a dataclass whose fields are its documented
  options (validated in ``__post_init__``; unknown options are an error);
* ``solve(model, options) -> Solution``: the ground state;
* ``expect(state, model, operators) -> list[Estimate]``: expectation values of
  Hermitian qubit operators on a state (the one observable primitive);
* ``save_state(state, folder)`` / ``load_state(folder, model)`` so that a
  saved result can evaluate new observables after ``Result.load``.

Backends register by name, lazily (the module is imported on first use), so
``import manybody`` stays light: the built-in ones are ``exact``, ``dmrg``,
``vmc`` and ``vqe``; ``register_backend`` adds more.
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from manybody.model import Model
from manybody.observables import evaluate, resolve_observables

__all__ = [
    "Backend",
    "Solution",
    "BackendSpec",
    "register_backend",
    "backend_spec",
    "get_backend",
    "available_backends",
    "make_options",
    "solve",
]


@dataclass(frozen=True)
class BackendSpec:
    """What the registry knows of a backend without importing it.

    Attributes
    ----------
    name : str
    target : str or type
        The backend class, or ``"module:Class"`` imported on first use.
    options : str or type
        The backend's ``Options`` dataclass, or ``"module:Class"`` of a module that
        imports no heavy library, so that options are checked in milliseconds.
    uses_gpu : bool
        Runs on a GPU when one is present (job schedulers ask for one).
    supports_warm_start : bool
        Accepts ``warm_start`` (a previous result) as an option.
    supports_checkpoint : bool
        Accepts ``checkpoint_dir`` and resumes from it.
    evolve_options : str, type or None
        The Options dataclass of ``evolve`` (real-time evolution), or None if the
        backend does not evolve states.
    """

    name: str
    target: Any
    options: Any
    uses_gpu: bool = False
    supports_warm_start: bool = False
    supports_checkpoint: bool = False
    evolve_options: Any = None


def _load(target):
    if not isinstance(target, str):
        return target
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


_REGISTRY: dict[str, BackendSpec] = {}
_INSTANCES: dict[str, Backend] = {}


@dataclass
class Solution:
    """What a backend's ``solve`` returns; ``manybody.solve`` turns it into a Result.

    Attributes
    ----------
    energy : float
        Ground-state energy estimate (units of the model's couplings).
    state : object
        The backend's state, passed back to its ``expect`` and ``save_state``.
    energy_error : float
        One standard error of ``energy`` (0 for exact or deterministic methods).
    variance : float or None
        ``<H^2> - <H>^2`` on the state.
    history : dict of str -> 1D array
        Per-iteration (or per-sweep) traces, e.g. ``{"energy": ...}``.
    info : dict
        JSON-able backend facts (bond dimensions, depth, acceptance, ...).
    device : str
        Where the work ran (``"cpu"``, ``"gpu:0"``, a QPU name, ...).
    seed : int or None
        The seed that makes the run reproducible.
    """

    energy: float
    state: Any
    energy_error: float = 0.0
    variance: float | None = None
    history: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    device: str = "cpu"
    seed: int | None = None


class Backend:
    """Base class of the backends (see the module docstring)."""

    name: ClassVar[str] = ""
    Options: ClassVar[type] = type(None)
    EvolveOptions: ClassVar[type | None] = None

    def check_model(self, model: Model, options) -> None:
        """Raise ``ValueError`` if this backend cannot treat ``model`` (before heavy work)."""

    def solve(self, model: Model, options) -> Solution:
        raise NotImplementedError

    def expect(self, state, model: Model, operators: list) -> list:
        raise NotImplementedError

    def evolve(self, model: Model, initial, times, options):
        """Yield a ``manybody.evolution.Snapshot`` at each of ``times`` (see ``manybody.evolve``)."""
        raise NotImplementedError(f"backend {self.name!r} does not evolve states")

    def save_state(self, state, folder: Path) -> None:
        raise NotImplementedError(f"backend {self.name!r} cannot save its state")

    def load_state(self, folder: Path, model: Model):
        raise NotImplementedError(f"backend {self.name!r} cannot load a state")


def register_backend(
    name: str,
    target,
    *,
    options=None,
    uses_gpu: bool = False,
    supports_warm_start: bool = False,
    supports_checkpoint: bool = False,
    evolve_options=None,
) -> None:
    """Register a backend class, or a ``"module:Class"`` string imported on first use.

    ``options``: its Options dataclass (or ``"module:Class"``); default: the class's ``Options``
    attribute, which imports the backend to check options. ``evolve_options``: the same for
    ``evolve``, None if the backend does not evolve states. The flags are those of :class:`BackendSpec`.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"a backend name must be a non-empty string, got {name!r}")
    if options is None:
        options = f"{target}.Options" if isinstance(target, str) else target.Options
    _REGISTRY[name] = BackendSpec(
        name, target, options, uses_gpu, supports_warm_start, supports_checkpoint, evolve_options
    )
    _INSTANCES.pop(name, None)


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def backend_spec(name: str) -> BackendSpec:
    """The registry entry of ``name`` (nothing heavy is imported)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; allowed: {available_backends()}")
    return _REGISTRY[name]


def _options_class(spec: BackendSpec, evolve: bool = False) -> type:
    options = spec.evolve_options if evolve else spec.options
    if isinstance(options, str) and options.endswith(".Options"):
        return _load(options.removesuffix(".Options")).Options
    return _load(options)


def get_backend(name: str) -> Backend:
    """The backend registered under ``name`` (imported on first use)."""
    if name in _INSTANCES:
        return _INSTANCES[name]
    spec = backend_spec(name)
    try:
        cls = _load(spec.target)
    except (ImportError, AttributeError) as err:
        raise ValueError(f"backend {name!r} is not available: {err}") from err
    _INSTANCES[name] = cls()
    return _INSTANCES[name]


def make_options(backend, options: dict, evolve: bool = False):
    """Build a backend's Options (``evolve``: its evolution options) from a dict, rejecting
    unknown names with the allowed list.

    ``backend`` is a registered name (the backend itself is not imported) or a Backend.
    """
    if isinstance(backend, str):
        spec = backend_spec(backend)
        if evolve and spec.evolve_options is None:
            able = [n for n, s in _REGISTRY.items() if s.evolve_options is not None]
            raise ValueError(f"backend {spec.name!r} does not evolve states; backends that do: {able}")
        name, cls = spec.name, _options_class(spec, evolve)
    else:
        name, cls = backend.name, backend.EvolveOptions if evolve else backend.Options
    allowed = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for backend {name!r}; allowed: {allowed}")
    return cls(**options)


register_backend(
    "exact",
    "manybody.exact:ExactBackend",
    options="manybody.exact:ExactOptions",
    evolve_options="manybody.exact:ExactEvolveOptions",
)
register_backend(
    "dmrg",
    "manybody.tensornet:DMRGBackend",
    options="manybody.tensornet:DMRGOptions",
    supports_warm_start=True,
    evolve_options="manybody.tensornet.options:DMRGEvolveOptions",
)
register_backend(
    "vmc",
    "manybody.vmc:VMCBackend",
    options="manybody.vmc.options:VMCOptions",
    uses_gpu=True,
    supports_warm_start=True,
    supports_checkpoint=True,
    evolve_options="manybody.vmc.options:VMCEvolveOptions",
)
register_backend(
    "vqe",
    "manybody.circuits:VQEBackend",
    options="manybody.circuits.options:VQEOptions",
    evolve_options="manybody.circuits.options:VQEEvolveOptions",
)


def solve(model: Model, backend: str = "exact", observables=None, **options):
    """Find the ground state of ``model`` with the named backend.

    Parameters
    ----------
    model : Model
        The model (see ``manybody.models``).
    backend : str
        ``"exact"``, ``"dmrg"``, ``"vmc"``, ``"vqe"`` or a registered name.
    observables : None, "all", str, Observable or list
        What to measure on the ground state; ``None`` means the model's
        defaults. Names refer to ``model.observable_names``.
    **options
        The backend's options (see ``get_backend(name).Options``).

    Returns
    -------
    Result
    """
    from manybody.result import Result

    if not isinstance(model, Model):
        raise TypeError(f"model must be a manybody Model, got {type(model).__name__}")
    opts = make_options(backend, options)
    be = get_backend(backend)
    be.check_model(model, opts)
    obs = resolve_observables(model, observables)
    start = time.perf_counter()
    sol = be.solve(model, opts)
    solve_time = time.perf_counter() - start
    estimates = evaluate(be, sol.state, model, obs)
    return Result.from_solution(
        model=model,
        backend=be.name,
        options=opts,
        solution=sol,
        observables=estimates,
        wall_time=time.perf_counter() - start,
        solve_time=solve_time,
    )
