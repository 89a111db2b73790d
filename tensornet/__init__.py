"""DMRG / MPS backend (``backend="dmrg"``), built on quimb.

* :mod:`manybody.tensornet.mpo`: the compiler, qubit Hamiltonian and constraints -> compressed MPO;
* :mod:`manybody.tensornet.mps`: MPS storage, canonical form, Pauli-string and MPO expectations,
  entanglement entropy;
* :mod:`manybody.tensornet.dmrg`: the backend (two-site DMRG with a bond-dimension schedule).
"""

from manybody.tensornet.dmrg import DMRGBackend, DMRGOptions
from manybody.tensornet.mpo import compile_model, qubit_operator_mpo
from manybody.tensornet.mps import MPSState, pauli_expectations

__all__ = [
    "DMRGBackend",
    "DMRGOptions",
    "MPSState",
    "compile_model",
    "qubit_operator_mpo",
    "pauli_expectations",
]
