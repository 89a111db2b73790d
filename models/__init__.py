"""Hamiltonian definitions (``manybody.models``).

Every model is declared once here, backend-free; see ``manybody.model.Model``
for how to write one. Importing this package imports no backend library.
"""

from manybody.model import Model, from_dict, registered_models
from manybody.models.heisenberg import Heisenberg

__all__ = ["Model", "from_dict", "registered_models", "Heisenberg"]
