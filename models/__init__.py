"""Hamiltonian definitions (``manybody.models``).

Every model is declared once here, backend-free; see ``manybody.model.Model``
for how to write one. Importing this package imports no backend library
(OpenFermion is imported when a Hamiltonian or observable is first built).
"""

from manybody.model import Model, from_dict, registered_models
from manybody.models.heisenberg import Heisenberg
from manybody.models.hubbard import Hubbard
from manybody.models.quantum_link import QuantumLink1D
from manybody.models.quantum_link_2d import QuantumLink2D
from manybody.models.schwinger import Schwinger
from manybody.models.syk import SYK
from manybody.models.z2gauge import Z2Gauge

__all__ = [
    "Model",
    "from_dict",
    "registered_models",
    "Heisenberg",
    "Hubbard",
    "SYK",
    "Schwinger",
    "QuantumLink1D",
    "QuantumLink2D",
    "Z2Gauge",
]
