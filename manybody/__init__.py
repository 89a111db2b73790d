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

import os as _os

# In a source checkout the subpackages ``manybody.models``, ``.vmc``, ``.tensornet``
# and ``.circuits`` are the sibling folders ``models/``, ``vmc/``, ... (pyproject.toml
# maps them on install). Searching the checkout's root too lets ``import manybody``
# work from the root of a checkout, where ``manybody/`` shadows the installed package.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if _os.path.isfile(_os.path.join(_root, "pyproject.toml")) and _os.path.isdir(_os.path.join(_root, "models")):
    __path__.append(_root)

from manybody import lattice, models  # noqa: E402
from manybody.backends import available_backends, get_backend, register_backend, solve  # noqa: E402
from manybody.evolution import Evolution, evolve  # noqa: E402
from manybody.observables import Estimate, Observable, ObservableFamily  # noqa: E402
from manybody.result import Result  # noqa: E402

__version__ = "0.13.0"

__all__ = [
    "lattice",
    "models",
    "solve",
    "evolve",
    "Evolution",
    "available_backends",
    "get_backend",
    "register_backend",
    "Result",
    "Estimate",
    "Observable",
    "ObservableFamily",
]
