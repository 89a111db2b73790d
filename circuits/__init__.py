"""Parametrized circuits and VQE with Qiskit (``manybody.circuits``, ``backend="vqe"``).

Modules: :mod:`~manybody.circuits.compiler` (QubitOperator -> SparsePauliOp),
:mod:`~manybody.circuits.ansatz` (HVA, HEA, number-preserving, gauge-invariant),
:mod:`~manybody.circuits.gradient` (batched parameter shift),
:mod:`~manybody.circuits.estimators` (statevector, Aer, IBM Runtime behind one adapter),
:mod:`~manybody.circuits.optimize` (L-BFGS-B, COBYLA, SPSA),
:mod:`~manybody.circuits.ibm` (accounts, backends, modes, options),
:mod:`~manybody.circuits.records` (job records: list, status, fetch),
:mod:`~manybody.circuits.vqe` (the backend).
"""

from manybody.circuits import records
from manybody.circuits.ansatz import AnsatzSpec, build_ansatz
from manybody.circuits.compiler import to_sparse_pauli_op
from manybody.circuits.ibm import IBMAccountError
from manybody.circuits.records import JobNotFoundError, fetch, job_status, list_jobs
from manybody.circuits.vqe import VQEBackend, VQEOptions, VQEState, reevaluate

__all__ = [
    "VQEBackend",
    "VQEOptions",
    "VQEState",
    "AnsatzSpec",
    "build_ansatz",
    "to_sparse_pauli_op",
    "reevaluate",
    "records",
    "list_jobs",
    "job_status",
    "fetch",
    "IBMAccountError",
    "JobNotFoundError",
]
