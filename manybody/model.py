"""The ``Model`` base class: sites, Hamiltonian, constraints and observables.

A model is built from plain keyword parameters, validates them on
construction, and round-trips through ``to_dict()`` /
``manybody.models.from_dict()``. Its Hamiltonian is an OpenFermion operator
built on first access (so constructing models stays cheap); backends use its
qubit form ``model.qubit_hamiltonian`` (see :mod:`manybody.operators` for the
qubit convention).

Writing a model
---------------
Subclass :class:`Model`, set ``name``, store the parameters with
``self._set_params(...)`` in ``__init__``, implement ``build_hamiltonian``,
``n_qubits`` and (optionally) ``constraints``; mark observable builders with
:func:`observable`; check parameters with :mod:`manybody.validation`::

    class Ising(Model):
        name = "ising"

        def __init__(self, lattice, J=1.0, h=1.0):
            self._set_params(lattice=lattice, J=check_real("J", J), h=check_real("h", h))

        @observable("magnetization_x", default=True)
        def _mx(self):
            ...
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import numpy as np

from manybody.constraints import check_feasible
from manybody.lattice import Lattice, lattice_from_dict
from manybody.operators import hermitian_part_error, n_qubits_of, to_qubit_operator

__all__ = [
    "Model",
    "observable",
    "from_dict",
    "model_class",
    "registered_models",
    "check_lattice",
]

_MODELS: dict[str, type[Model]] = {}


def check_lattice(lattice, allowed: tuple[type, ...] = (Lattice,)) -> Lattice:
    """A lattice of one of the ``allowed`` types (dicts are rebuilt)."""
    if isinstance(lattice, dict):
        lattice = lattice_from_dict(lattice)
    if not isinstance(lattice, allowed):
        names = ", ".join(c.__name__ for c in allowed)
        raise ValueError(f"lattice must be one of ({names}), got {lattice!r}")
    return lattice


def observable(name: str, default: bool = False, applies=None):
    """Mark a method ``(self) -> Observable | ObservableFamily`` as a named observable.

    ``default=True`` puts it in the set ``solve`` evaluates when no
    observables are requested. ``applies(model) -> bool`` (optional) says
    whether the observable is defined for a given instance (e.g. a staggered
    magnetisation needs a bipartite lattice); where it is not, the name is
    left out of ``observable_names`` and the defaults.
    """

    def mark(fn):
        fn._observable = (name, default, applies)
        return fn

    return mark


class Model:
    """Base class of all models. See the module docstring for how to write one."""

    name: ClassVar[str] = ""
    _observables: ClassVar[dict[str, tuple]] = {}
    params: dict[str, Any]
    lattice: Lattice | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        found = {}
        for klass in reversed(cls.__mro__):
            for attr, fn in vars(klass).items():
                if hasattr(fn, "_observable"):
                    obs_name, default, applies = fn._observable
                    found[obs_name] = (attr, default, applies)
        cls._observables = found
        if cls.name:
            if cls.name in _MODELS and _MODELS[cls.name].__qualname__ != cls.__qualname__:
                raise ValueError(f"model name {cls.name!r} is already registered")
            _MODELS[cls.name] = cls

    def _set_params(self, **params) -> None:
        """Store the (validated) constructor parameters; ``lattice`` is kept apart."""
        if "lattice" in params:
            self.lattice = params["lattice"]
        self.params = params
        for c in self.constraints:
            check_feasible(c)

    # -- what subclasses provide -------------------------------------------------

    @property
    def n_qubits(self) -> int:
        """Number of qubits (spins, fermion modes, Majorana pairs, links...)."""
        raise NotImplementedError

    @property
    def n_sites(self) -> int:
        """Number of sites used for per-site quantities (energy per site, V-score)."""
        return self.lattice.n_sites if self.lattice is not None else self.n_qubits

    @property
    def qubits_per_site(self) -> int:
        """Qubits that make up one physical site (2 for spinful fermions)."""
        return 1

    def build_hamiltonian(self):
        """The Hamiltonian as an OpenFermion operator."""
        raise NotImplementedError

    @property
    def constraints(self) -> list:
        """The sector: constraints every backend enforces (default: none)."""
        return []

    @property
    def reference_energy(self) -> float | None:
        """A trusted ground-state energy for these exact parameters, if known."""
        return None

    def named_states(self) -> dict:
        """Basis states with a physical name (``{"neel": bits}``, ...), each in the sector."""
        return {}

    def sign_structures(self) -> list:
        """Known sign structures of the ground state (``manybody.signs.SignStructure``), if any."""
        return []

    def symmetries(self) -> list:
        """Candidate symmetries in the qubit basis (``manybody.symmetries.QubitSymmetry``): the
        generators the model's geometry suggests. A backend checks each against the Hamiltonian
        and the sector before it uses it (:func:`manybody.symmetries.symmetry_group`)."""
        return []

    # -- derived -----------------------------------------------------------------

    @cached_property
    def hamiltonian(self):
        return self.build_hamiltonian()

    @cached_property
    def qubit_hamiltonian(self):
        """The Hamiltonian as a Hermitian ``QubitOperator`` (Jordan-Wigner)."""
        qop = to_qubit_operator(self.hamiltonian)
        if hermitian_part_error(qop) > 1e-12:
            raise ValueError(f"{self.name}: the Hamiltonian is not Hermitian")
        if n_qubits_of(qop) > self.n_qubits:
            raise ValueError(f"{self.name}: the Hamiltonian acts beyond its {self.n_qubits} qubits")
        return qop

    @cached_property
    def problem(self):
        """The compiled problem every backend reads (:class:`manybody.problem.CompiledProblem`)."""
        from manybody.problem import compile_problem

        return compile_problem(self)

    @property
    def e_inf(self) -> float:
        """``Tr H / 2^n``: the infinite-temperature energy over the full qubit space,
        used as the V-score's reference energy."""
        return float(np.real(self.qubit_hamiltonian.terms.get((), 0.0)))

    @property
    def qubit_order(self) -> np.ndarray:
        """Qubits in the 1D order used by DMRG and autoregressive models:
        the lattice's order (snake in 2D), each site's qubits kept together."""
        if self.lattice is None:
            return np.arange(self.n_qubits)
        k = self.qubits_per_site
        return np.array([s * k + a for s in self.lattice.order for a in range(k)])

    @property
    def observable_names(self) -> list[str]:
        """The observables defined for this instance."""
        return [n for n, (_, _, applies) in self._observables.items() if applies is None or applies(self)]

    @property
    def default_observables(self) -> list[str]:
        return [n for n in self.observable_names if self._observables[n][1]]

    def observable(self, name: str):
        """Build the named observable (``Observable`` or ``ObservableFamily``)."""
        if name in self._observables and name not in self.observable_names:
            raise ValueError(
                f"observable {name!r} is not defined for {self!r}; allowed: {self.observable_names}"
            )
        if name not in self.observable_names:
            raise ValueError(
                f"unknown observable {name!r} for model {self.name!r}; allowed: {self.observable_names}"
            )
        return getattr(self, self._observables[name][0])()

    def to_dict(self) -> dict:
        """Plain, JSON-able parameters; ``from_dict`` rebuilds an equal model."""
        out = {"model": self.name}
        for k, v in self.params.items():
            if isinstance(v, Lattice):
                v = v.to_dict()
            elif isinstance(v, np.ndarray):
                v = v.tolist()
            elif isinstance(v, tuple):
                v = list(v)
            out[k] = v
        return out

    def __eq__(self, other) -> bool:
        return isinstance(other, Model) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(repr(self.to_dict()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"


def registered_models() -> dict[str, type[Model]]:
    """Model classes by name."""
    import manybody.models  # noqa: F401  (registers the built-in models)

    return dict(_MODELS)


def model_class(name: str) -> type[Model]:
    models = registered_models()
    if name not in models:
        raise ValueError(f"unknown model {name!r}; allowed: {sorted(models)}")
    return models[name]


def from_dict(data: dict) -> Model:
    """Rebuild a model from ``Model.to_dict()`` output (or a job file's table)."""
    if not isinstance(data, dict) or "model" not in data:
        raise ValueError("a model dict needs a 'model' key naming the model")
    params = {k: v for k, v in data.items() if k != "model"}
    if isinstance(params.get("lattice"), dict):
        params["lattice"] = lattice_from_dict(params["lattice"])
    cls = model_class(data["model"])
    try:
        return cls(**params)
    except TypeError as err:
        raise ValueError(f"bad parameters for model {data['model']!r}: {err}") from None
