"""Autoregressive-transformer variational Monte Carlo (``backend="vmc"``, NetKet + JAX + Flax).

See :mod:`manybody.vmc.backend` for the options, :mod:`manybody.vmc.network`
for the wave function, :mod:`manybody.vmc.masking` for how constraints are
enforced exactly, and :mod:`manybody.vmc.driver` for the optimisation loop.
"""

from manybody.vmc.backend import VMCBackend, VMCOptions, VMCState, build_network, make_vstate
from manybody.vmc.masking import ConstraintAutomaton
from manybody.vmc.network import ARTransformer
from manybody.vmc.operators import local_values, to_pauli_strings

__all__ = [
    "VMCBackend",
    "VMCOptions",
    "VMCState",
    "ARTransformer",
    "ConstraintAutomaton",
    "build_network",
    "make_vstate",
    "local_values",
    "to_pauli_strings",
]
