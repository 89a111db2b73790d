"""Real-time evolution through the same interface as the ground state.

``evolve(model, initial, times, backend=..., observables=...)`` evolves a
state with ``exp(-i H t)`` (``hbar = 1``, times in inverse units of the
model's couplings) and measures the observables at every requested time::

    ev = mb.evolve(Heisenberg(Chain(12)), "neel", np.linspace(0, 5, 51), backend="exact",
                   observables=["magnetization_z"])
    ev.times, ev.energy.mean, ev.observables["magnetization_z"].mean, ev.loschmidt_echo

The initial state is

* a basis state: a bit string ``"0101..."`` (character ``q`` is the bit
  ``b_q`` of qubit ``q``; for spins 0 is up, for fermions 1 is occupied), a
  sequence of 0/1, or a name the model declares (``model.named_states()``,
  e.g. ``"neel"`` for spin models on bipartite lattices, ``"vacuum"`` for the
  Schwinger model); it must lie in the model's constrained sector;
* a :class:`~manybody.result.Result` (or the folder of a saved one) of the
  same backend on a model with the same qubits and sector: a quench from the
  ground state of another Hamiltonian.

A backend that evolves implements ``evolve(model, initial, times, options)``,
a generator of :class:`Snapshot` (the state at each time plus what it knows
cheaply: the Loschmidt echo ``|<psi(0)|psi(t)>|^2``, the entanglement entropy
of the middle cut of the qubit order in nats, truncation errors), and declares
its evolution options as ``EvolveOptions``; the observables are evaluated by
the backend's ``expect`` as for ground states.
"""

from __future__ import annotations

import dataclasses
import datetime
import time as _time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from manybody.io import atomic_folder, dump_json, load_json, to_jsonable
from manybody.observables import Estimate, Observable, evaluate, resolve_observables
from manybody.provenance import git_commit, package_versions

__all__ = ["evolve", "Evolution", "InitialState", "Snapshot", "initial_state", "check_times"]

FORMAT_VERSION = 1


@dataclass
class InitialState:
    """What ``evolve`` starts from: basis-state ``bits`` or a ground-state ``result``."""

    label: str
    bits: np.ndarray | None = None
    result: Any = None


@dataclass
class Snapshot:
    """A backend's state at ``time`` and facts it has cheaply (``loschmidt_echo``, ``entropy``, ...)."""

    time: float
    state: Any
    info: dict = field(default_factory=dict)


def check_times(times) -> np.ndarray:
    """A non-empty 1D array of finite, non-negative, non-decreasing times."""
    try:
        arr = np.asarray(times, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"times must be a list of non-negative numbers, got {times!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or arr.min() < 0 or np.any(np.diff(arr) < 0):
        raise ValueError(
            f"times must be a non-empty, non-decreasing list of finite times >= 0, got {np.asarray(times)!r}"
        )
    return arr


def initial_state(model, initial) -> InitialState:
    """Coerce ``initial`` (see the module docstring) for ``model``; raises ``ValueError`` if unusable."""
    from manybody.result import Result

    if isinstance(initial, (str, Path)) and Path(initial).is_dir():
        initial = Result.load(initial)
    if isinstance(initial, Result):
        if initial.model_object.n_qubits != model.n_qubits:
            raise ValueError(
                f"initial: the result's model has {initial.model_object.n_qubits} qubits, "
                f"the evolved model {model.n_qubits}"
            )
        return InitialState(
            f"ground state of {initial.model.get('model')} ({initial.backend})", result=initial
        )
    named = model.named_states()
    if isinstance(initial, str) and initial in named:
        return _checked(model, f"{initial}", np.asarray(named[initial], dtype=np.int8))
    if isinstance(initial, str) and set(initial) <= {"0", "1"} and len(initial) == model.n_qubits:
        return _checked(model, initial, np.array([int(c) for c in initial], dtype=np.int8))
    if not isinstance(initial, str):
        bits = np.asarray(initial)
        if bits.shape == (model.n_qubits,) and np.isin(bits, (0, 1)).all():
            return _checked(model, "".join(str(int(b)) for b in bits), bits.astype(np.int8))
    raise ValueError(
        f"initial must be a bit string or list of {model.n_qubits} bits, one of the model's named "
        f"states {sorted(named)}, or a Result (or its folder); got {initial!r}"
    )


def _checked(model, label: str, bits: np.ndarray) -> InitialState:
    for c in model.problem.constraints:
        if not c.satisfied(bits):
            raise ValueError(f"initial state {label!r} violates the constraint {c.name!r} of {model.name}")
    return InitialState(label, bits=bits)


@dataclass
class Evolution:
    """A time series of observables on an evolving state, with provenance.

    Attributes
    ----------
    model : dict
        ``model.to_dict()`` of the Hamiltonian that evolves the state.
    backend : str
    options : dict
        The backend's evolution options.
    initial : str
        What the evolution started from.
    times : ndarray
    energy : Estimate
        ``<H>(t)`` (conserved up to the method's error).
    observables : dict of str -> Estimate
        Each ``mean`` has the times as its first axis (then the family axis, if any).
    loschmidt_echo, entropy : ndarray or None
        ``|<psi(0)|psi(t)>|^2`` and the entanglement entropy (nats) of the middle
        cut of the qubit order, where the backend gives them.
    info : dict
        Backend facts (truncation errors, Trotter steps, shots, ...).
    wall_time, device, versions, git_commit, created : provenance.
    """

    model: dict
    backend: str
    options: dict
    initial: str
    times: np.ndarray
    energy: Estimate
    observables: dict = field(default_factory=dict)
    loschmidt_echo: np.ndarray | None = None
    entropy: np.ndarray | None = None
    info: dict = field(default_factory=dict)
    wall_time: float = 0.0
    device: str = "cpu"
    versions: dict = field(default_factory=dict)
    git_commit: str | None = None
    created: str = ""
    _state: Any = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (
            f"Evolution({self.model.get('model')}, backend={self.backend!r}, from {self.initial!r}, "
            f"{len(self.times)} times in [{self.times[0]:.4g}, {self.times[-1]:.4g}], "
            f"observables={list(self.observables)})"
        )

    @property
    def state(self):
        """The backend's state at the last time (in memory only)."""
        if self._state is None:
            raise ValueError("this evolution carries no state (it was loaded from disk)")
        return self._state

    _ARRAYS = ("times", "loschmidt_echo", "entropy")

    def save(self, path) -> Path:
        """Write ``evolution.json`` and ``series.npz`` to folder ``path`` (atomically)."""
        path = Path(path)
        meta = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if not f.name.startswith("_") and f.name not in self._ARRAYS
        }
        meta["energy"] = self.energy.to_dict()
        meta["observables"] = {k: v.to_dict() for k, v in self.observables.items()}
        meta["format_version"] = FORMAT_VERSION
        arrays = {k: getattr(self, k) for k in self._ARRAYS if getattr(self, k) is not None}
        with atomic_folder(path) as tmp:
            (tmp / "evolution.json").write_text(dump_json(to_jsonable(meta, lossy=True)))
            np.savez(tmp / "series.npz", **arrays)
        return path

    @classmethod
    def load(cls, path) -> Evolution:
        """Read an evolution written by ``save``; ``ValueError`` naming the folder if it does not load."""
        path = Path(path)
        if not (path / "evolution.json").is_file():
            raise FileNotFoundError(f"no saved evolution at {path} (expected {path / 'evolution.json'})")
        try:
            data = load_json(path / "evolution.json")
            if data.pop("format_version", None) != FORMAT_VERSION:
                raise ValueError("unsupported format version")
            data["energy"] = Estimate.from_dict(data["energy"])
            data["observables"] = {k: Estimate.from_dict(v) for k, v in data["observables"].items()}
            with np.load(path / "series.npz", allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
            return cls(**data, **arrays)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, zipfile.BadZipFile) as err:
            raise ValueError(f"cannot load the evolution in {path}: {type(err).__name__}: {err}") from None


def _stack(estimates: list[Estimate]) -> Estimate:
    def arr(attr):
        values = [getattr(e, attr) for e in estimates]
        return None if any(v is None for v in values) else np.asarray(values)

    first = estimates[0]
    return Estimate(
        mean=arr("mean"),
        error=arr("error"),
        variance=arr("variance"),
        n_samples=first.n_samples,
        axis_name=first.axis_name,
        axis=first.axis,
    )


def evolve(model, initial, times, backend: str = "exact", observables=None, **options) -> Evolution:
    """Evolve ``initial`` with ``exp(-i H t)`` of ``model`` and measure at every time.

    Parameters
    ----------
    model : Model
        The Hamiltonian that evolves the state (a quench if ``initial`` is the
        ground state of another model).
    initial : str, sequence of 0/1, Result or path
        See the module docstring.
    times : sequence of float
        Non-decreasing times >= 0 (``hbar = 1``, inverse units of the couplings).
    backend : str
        A registered backend that can evolve (``"exact"``; see the README for the others).
    observables : None, "all", str, Observable or list
        As for ``solve``; ``None`` means the model's defaults. The energy is always measured.
    **options
        The backend's evolution options (``backend_spec(name).evolve_options``).

    Returns
    -------
    Evolution
    """
    from manybody.backends import get_backend, make_options
    from manybody.model import Model

    if not isinstance(model, Model):
        raise TypeError(f"model must be a manybody Model, got {type(model).__name__}")
    times = check_times(times)
    opts = make_options(backend, options, evolve=True)
    be = get_backend(backend)
    start = _time.perf_counter()
    init = initial_state(model, initial)
    if init.result is not None and init.result.backend != be.name:
        raise ValueError(
            f"initial: a result of backend {init.result.backend!r} cannot start an evolution on {be.name!r}"
        )
    obs = resolve_observables(model, observables)
    energy_obs = Observable("energy", model.problem.hamiltonian, "<H>")
    series: dict[str, list] = {}
    extras: dict[str, list] = {}
    snap = None
    for snap in be.evolve(model, init, times, opts):
        estimates = evaluate(be, snap.state, model, [*obs, energy_obs])
        for name, est in estimates.items():
            series.setdefault(name, []).append(est)
        for key, value in snap.info.items():
            extras.setdefault(key, []).append(value)
    energy = _stack(series.pop("energy"))
    scalar = {k: np.asarray(v) for k, v in extras.items() if k in ("loschmidt_echo", "entropy")}
    info = {k: v for k, v in extras.items() if k not in scalar}
    return Evolution(
        model=model.to_dict(),
        backend=be.name,
        options=to_jsonable(opts, lossy=True),
        initial=init.label,
        times=times,
        energy=energy,
        observables={k: _stack(v) for k, v in series.items()},
        loschmidt_echo=scalar.get("loschmidt_echo"),
        entropy=scalar.get("entropy"),
        info=to_jsonable(info, lossy=True),
        wall_time=_time.perf_counter() - start,
        versions=package_versions(),
        git_commit=git_commit(),
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        _state=None if snap is None else snap.state,
    )
