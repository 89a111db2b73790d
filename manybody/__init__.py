"""manybody: a quantum many-body variational simulation suite.

Declare a Hamiltonian once (``manybody.models``) and solve it with
interchangeable backends that answer through one observable interface::

    import manybody as mb
    from manybody.lattice import Chain
    from manybody.models import Heisenberg

    res = mb.solve(Heisenberg(Chain(12)), backend="exact")
    res.energy, res.observables["spin_correlations"]

Importing this package imports no backend library (jax, netket, quimb,
qiskit); each backend is imported when first used.
"""

from manybody import lattice, models
from manybody.backends import available_backends, get_backend, register_backend, solve
from manybody.observables import Estimate, Observable, ObservableFamily
from manybody.result import Result

__version__ = "0.1.0"

__all__ = [
    "lattice",
    "models",
    "solve",
    "available_backends",
    "get_backend",
    "register_backend",
    "Result",
    "Estimate",
    "Observable",
    "ObservableFamily",
]
