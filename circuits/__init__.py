"""Parametrized circuits and VQE with Qiskit (``manybody.circuits``, ``backend="vqe"``).

Modules: :mod:`~manybody.circuits.options` (the options, no Qiskit import),
:mod:`~manybody.circuits.compiler` (QubitOperator -> SparsePauliOp),
:mod:`~manybody.circuits.terms` (term groups of the Hamiltonian-variational ansatz),
:mod:`~manybody.circuits.symmetry` (which units keep the constraints),
:mod:`~manybody.circuits.initial` (initial states),
:mod:`~manybody.circuits.ansatz` (HVA, HEA, number-preserving, gauge-invariant circuits),
:mod:`~manybody.circuits.gradient` (parameter-shift form),
:mod:`~manybody.circuits.statevector` (compiled statevector simulation, adjoint gradients),
:mod:`~manybody.circuits.estimators` (statevector, Aer, IBM Runtime behind one adapter),
:mod:`~manybody.circuits.optimize` (BFGS, L-BFGS-B, COBYLA, SPSA),
:mod:`~manybody.circuits.ibm` (accounts, backends, modes, options),
:mod:`~manybody.circuits.records` (job records: list, status, fetch),
:mod:`~manybody.circuits.vqe` (the backend).

Importing this package is light: the names below are imported on first use, so that
``VQEOptions`` checks options without importing Qiskit.
"""

from manybody.lazy import lazy_attributes

_LAZY = {
    "VQEOptions": "manybody.circuits.options",
    "VQEBackend": "manybody.circuits.vqe",
    "VQEState": "manybody.circuits.vqe",
    "reevaluate": "manybody.circuits.vqe",
    "AnsatzSpec": "manybody.circuits.ansatz",
    "build_ansatz": "manybody.circuits.ansatz",
    "to_sparse_pauli_op": "manybody.circuits.compiler",
    "IBMAccountError": "manybody.circuits.ibm",
    "JobNotFoundError": "manybody.circuits.records",
    "list_jobs": "manybody.circuits.records",
    "job_status": "manybody.circuits.records",
    "fetch": "manybody.circuits.records",
}

__all__ = list(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
