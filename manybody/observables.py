"""Observables and estimates: the one interface every backend answers through.

An :class:`Observable` is a named Hermitian operator; an
:class:`ObservableFamily` is a set of them along an axis (a correlation
function against distance, a structure factor against momentum). Backends
implement a single primitive, ``expect(state, model, operators)``, returning
one :class:`Estimate` per qubit operator; :func:`evaluate` coerces the user's
input once, flattens families, calls the backend once and regroups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from manybody.operators import hermitian_part_error, to_qubit_operator

__all__ = ["Estimate", "Estimates", "Observable", "ObservableFamily", "resolve_observables", "evaluate"]


def _plain(x):
    if x is None:
        return None
    arr = np.asarray(x)
    return arr.tolist() if arr.ndim else arr.item()


_REPR_VALUES = 8  # values of a family shown by Estimate.__repr__


class Estimates(dict):
    """Observable name -> :class:`Estimate`; an unknown name raises a ``KeyError`` listing the known ones."""

    def __missing__(self, key):
        raise KeyError(f"no observable {key!r} in these results; available: {sorted(self)}")


@dataclass(frozen=True)
class Estimate:
    """An expectation value with its statistical error.

    Attributes
    ----------
    mean : float or ndarray
        The estimate (an array for an observable family).
    error : float or ndarray
        One standard error of ``mean`` (0 for exact backends).
    variance : float or ndarray, optional
        Variance of the operator's local estimator over the samples
        (stochastic backends), or ``<O^2> - <O>^2`` where the backend has it.
    n_samples : int, optional
        Number of samples (or shots) behind the estimate.
    axis_name, axis : str, ndarray, optional
        For families: what the array is indexed by (``"r"``, ``"q"``, ...).
    """

    mean: Any
    error: Any = 0.0
    variance: Any = None
    n_samples: int | None = None
    axis_name: str | None = None
    axis: Any = None

    def __float__(self) -> float:
        return float(self.mean)

    def __repr__(self) -> str:
        if np.ndim(self.mean) == 0:
            return f"Estimate({float(self.mean):.10g} +/- {float(self.error):.2g})"
        mean, error = np.ravel(self.mean), np.ravel(self.error)
        shown = _REPR_VALUES if mean.size > _REPR_VALUES + 2 else mean.size
        more = f", ... ({mean.size} values)" if shown < mean.size else ""
        values = ", ".join(f"{m:.6g}" for m in mean[:shown]) + more
        text = f"Estimate({self.axis_name or 'index'}: [{values}]"
        if error.size == mean.size and np.any(error != 0):
            text += " +/- [" + ", ".join(f"{e:.2g}" for e in error[:shown]) + (", ..." if more else "") + "]"
        return text + ")"

    def to_dict(self) -> dict:
        return {
            "mean": _plain(self.mean),
            "error": _plain(self.error),
            "variance": _plain(self.variance),
            "n_samples": self.n_samples,
            "axis_name": self.axis_name,
            "axis": _plain(self.axis),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Estimate:
        def arr(x):
            return np.asarray(x) if isinstance(x, list) else x

        return cls(
            mean=arr(data["mean"]),
            error=arr(data["error"]),
            variance=arr(data.get("variance")),
            n_samples=data.get("n_samples"),
            axis_name=data.get("axis_name"),
            axis=arr(data.get("axis")),
        )


@dataclass(frozen=True)
class Observable:
    """A named Hermitian operator on the model's qubits.

    ``operator`` is any OpenFermion operator (qubit, fermion or Majorana); it
    is converted to its qubit form (Jordan-Wigner) once, on construction.
    """

    name: str
    operator: Any
    description: str = ""
    qubit_operator: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        qop = to_qubit_operator(self.operator)
        bad = [c for c in qop.terms.values() if not np.isfinite(c)]
        if bad:
            raise ValueError(f"observable {self.name!r} has non-finite coefficients {bad[:3]}")
        if hermitian_part_error(qop) > 1e-12:
            raise ValueError(f"observable {self.name!r} is not Hermitian")
        object.__setattr__(self, "qubit_operator", qop)

    @property
    def qubit_operators(self) -> list:
        return [self.qubit_operator]

    def collect(self, estimates: list[Estimate]) -> Estimate:
        return estimates[0]


@dataclass(frozen=True)
class ObservableFamily:
    """Observables ``O(a)`` along an axis ``a`` (distance, momentum, site, ...).

    Parameters
    ----------
    name : str
    axis_name : str
        Name of the axis, e.g. ``"r"`` (distance), ``"q"`` (momentum), ``"site"``.
    axis : array
        Axis values, one row per member.
    operators : sequence
        One OpenFermion operator per axis value.
    """

    name: str
    axis_name: str
    axis: Any
    operators: tuple
    description: str = ""
    members: tuple = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if len(self.operators) != len(self.axis):
            raise ValueError(f"observable family {self.name!r}: one operator per axis value")
        members = tuple(Observable(f"{self.name}[{k}]", op) for k, op in enumerate(self.operators))
        object.__setattr__(self, "members", members)
        object.__setattr__(self, "axis", np.asarray(self.axis))

    @property
    def qubit_operators(self) -> list:
        return [m.qubit_operator for m in self.members]

    def collect(self, estimates: list[Estimate]) -> Estimate:
        def stack(attr):
            vals = [getattr(e, attr) for e in estimates]
            return None if any(v is None for v in vals) else np.array(vals, dtype=float)

        n = [e.n_samples for e in estimates]
        return Estimate(
            mean=stack("mean"),
            error=stack("error"),
            variance=stack("variance"),
            n_samples=n[0] if len(set(n)) == 1 else None,
            axis_name=self.axis_name,
            axis=self.axis,
        )


def resolve_observables(model, observables) -> list:
    """Coerce ``observables`` to a list of Observable / ObservableFamily.

    Accepts ``None`` (the model's defaults), ``"all"``, a name, an
    :class:`Observable`, a family, or a list of these.
    """
    if observables is None:
        observables = model.default_observables
    elif isinstance(observables, str) and observables == "all":
        observables = model.observable_names
    if isinstance(observables, (str, Observable, ObservableFamily)):
        observables = [observables]
    out = []
    for obs in observables:
        if isinstance(obs, str):
            try:
                out.append(model.observable(obs))
            except ValueError as err:  # the model lists the allowed names; "all" is allowed too
                if obs in model.observable_names:
                    raise
                raise ValueError(f'{err}, or "all" for every one of them') from None
        elif isinstance(obs, (Observable, ObservableFamily)):
            out.append(obs)
        else:
            raise TypeError(
                f"observables must be names or Observable/ObservableFamily objects, got {type(obs).__name__}"
            )
    n_qubits = model.n_qubits
    for obs in out:
        for qop in obs.qubit_operators:
            top = max((q for term in qop.terms for q, _ in term), default=-1)
            if top >= n_qubits:
                raise ValueError(
                    f"observable {obs.name!r} acts on qubit {top}, but model {model.name!r} has "
                    f"{n_qubits} qubits (0..{n_qubits - 1})"
                )
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ValueError(f"observable names must be unique, got {names}")
    return out


def evaluate(backend, state, model, observables) -> dict[str, Estimate]:
    """Evaluate observables on a backend's state with one ``backend.expect`` call."""
    flat, spans = [], []
    for obs in observables:
        ops = obs.qubit_operators
        spans.append((obs, len(flat), len(flat) + len(ops)))
        flat.extend(ops)
    estimates = backend.expect(state, model, flat) if flat else []
    if len(estimates) != len(flat):
        raise RuntimeError(
            f"backend {backend.name!r} returned {len(estimates)} estimates for {len(flat)} operators"
        )
    return Estimates({obs.name: obs.collect(estimates[a:b]) for obs, a, b in spans})
