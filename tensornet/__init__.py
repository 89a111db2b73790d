"""DMRG / MPS backend (``backend="dmrg"``).

* :mod:`manybody.tensornet.options`: the options (light: no quimb, no TeNPy);
* :mod:`manybody.tensornet.charges`: global constraints as charges, the Hamiltonian as charged terms;
* :mod:`manybody.tensornet.tenpy_dmrg`: the charged engine (TeNPy block-sparse two-site DMRG);
* :mod:`manybody.tensornet.quimb_dmrg`, :mod:`manybody.tensornet.sweeps`: the dense engine (quimb);
* :mod:`manybody.tensornet.mpo`: qubit operators -> quimb MPOs;
* :mod:`manybody.tensornet.mps`: MPS storage, Pauli-string and MPO expectations, entanglement entropy;
* :mod:`manybody.tensornet.dmrg`: the backend.

Importing this package loads only the options and the MPS storage (numpy);
the backend and the engines are imported on first use.
"""

from manybody.tensornet.mps import MPSState, pauli_expectations
from manybody.tensornet.options import DMRGOptions

__all__ = ["DMRGBackend", "DMRGOptions", "MPSState", "pauli_expectations"]


def __getattr__(name):
    if name == "DMRGBackend":
        from manybody.tensornet.dmrg import DMRGBackend

        return DMRGBackend
    raise AttributeError(f"module 'manybody.tensornet' has no attribute {name!r}")
