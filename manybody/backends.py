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
    "register_backend",
    "get_backend",
    "available_backends",
    "make_options",
    "solve",
]

_REGISTRY: dict[str, Any] = {
    "exact": "manybody.exact:ExactBackend",
    "dmrg": "manybody.tensornet:DMRGBackend",
    "vmc": "manybody.vmc:VMCBackend",
    "vqe": "manybody.circuits:VQEBackend",
}
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

    def check_model(self, model: Model, options) -> None:
        """Raise ``ValueError`` if this backend cannot treat ``model`` (before heavy work)."""

    def solve(self, model: Model, options) -> Solution:
        raise NotImplementedError

    def expect(self, state, model: Model, operators: list) -> list:
        raise NotImplementedError

    def save_state(self, state, folder: Path) -> None:
        raise NotImplementedError(f"backend {self.name!r} cannot save its state")

    def load_state(self, folder: Path, model: Model):
        raise NotImplementedError(f"backend {self.name!r} cannot load a state")


def register_backend(name: str, target) -> None:
    """Register a backend class, or a ``"module:Class"`` string imported on first use."""
    _REGISTRY[name] = target
    _INSTANCES.pop(name, None)


def available_backends() -> list[str]:
    return sorted(_REGISTRY)


def get_backend(name: str) -> Backend:
    """The backend registered under ``name`` (imported on first use)."""
    if name in _INSTANCES:
        return _INSTANCES[name]
    if name not in _REGISTRY:
        raise ValueError(f"unknown backend {name!r}; allowed: {available_backends()}")
    target = _REGISTRY[name]
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        try:
            target = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as err:
            raise ValueError(f"backend {name!r} is not available: {err}") from err
    _INSTANCES[name] = target()
    return _INSTANCES[name]


def make_options(backend: Backend, options: dict):
    """Build the backend's Options, rejecting unknown names with the allowed list."""
    allowed = [f.name for f in dataclasses.fields(backend.Options)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for backend {backend.name!r}; allowed: {allowed}")
    return backend.Options(**options)


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
    be = get_backend(backend)
    opts = make_options(be, options)
    obs = resolve_observables(model, observables)
    be.check_model(model, opts)
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
