"""Autoregressive-transformer variational Monte Carlo (``backend="vmc"``, NetKet + JAX + Flax).

See :mod:`manybody.vmc.backend` for the backend, :mod:`manybody.vmc.options` for the options,
:mod:`manybody.vmc.network` for the wave function, :mod:`manybody.vmc.symmetric` for its
symmetrisation over lattice symmetries, :mod:`manybody.vmc.sampler` for its exact sampling, :mod:`manybody.vmc.masking` for how
constraints are enforced exactly, and :mod:`manybody.vmc.driver` for the optimisation loop, and :mod:`manybody.vmc.lanczos` for one
Lanczos step ``(1 + alpha H) psi`` on a trained network.

Importing this package is light: the names below are imported on first use, so that
``VMCOptions`` (:mod:`manybody.vmc.options`) checks options without importing JAX or NetKet.
"""

from manybody.lazy import lazy_attributes

_LAZY = {
    "VMCOptions": "manybody.vmc.options",
    "VMCBackend": "manybody.vmc.backend",
    "VMCState": "manybody.vmc.backend",
    "build_network": "manybody.vmc.backend",
    "make_vstate": "manybody.vmc.backend",
    "ConstraintAutomaton": "manybody.vmc.masking",
    "ARTransformer": "manybody.vmc.network",
    "TokenSampler": "manybody.vmc.sampler",
    "SymmetricAR": "manybody.vmc.symmetric",
    "local_values": "manybody.vmc.operators",
    "lanczos_step": "manybody.vmc.lanczos",
    "LanczosStep": "manybody.vmc.lanczos",
    "to_pauli_strings": "manybody.vmc.operators",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
