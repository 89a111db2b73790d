"""One adapter in front of every estimator the VQE uses.

``EstimatorAdapter(kind, ...)`` runs ``(circuit, observables, parameter rows)``
as a single PUB and returns ``evs, stds`` of shape (rows, observables):

``"statevector"``
    Exact expectation values from Aer's statevector simulator (``stds = 0``).
``"qiskit_statevector"``
    The same from Qiskit's reference ``StatevectorEstimator`` (slower; a cross-check).
``"aer"``
    Aer with a shot budget: the exact (optionally noisy, ``noise_model=<fake
    backend name>``, density matrix) value of ``O`` and ``O^2`` gives the
    variance, and the estimate is drawn from ``N(<O>, Var(O) / shots)`` with the
    adapter's seeded generator: the Gaussian limit of measuring ``O``
    ``shots`` times (real Pauli-grouped measurement has a larger variance).
``"ibm"``
    ``qiskit_ibm_runtime.executor_estimator.Estimator`` (the successor of the
    deprecated runtime ``EstimatorV2``) on a device or a fake backend in local
    mode: ISA transpilation, ``apply_layout`` on every observable, resilience
    options, job / batch / session mode, every job recorded on disk
    (:mod:`manybody.circuits.records`).

This module is the only place that knows which primitive class is used.
"""

from __future__ import annotations

import numpy as np
from qiskit.quantum_info import SparsePauliOp

from manybody.circuits import ibm, records

__all__ = ["ESTIMATORS", "EstimatorAdapter", "two_qubit_count"]

ESTIMATORS = ("statevector", "qiskit_statevector", "aer", "ibm")


def two_qubit_count(circuit) -> int:
    """Number of gates acting on two or more qubits (barriers and measurements excluded)."""
    return sum(
        1
        for inst in circuit.data
        if len(inst.qubits) >= 2 and inst.operation.name not in ("barrier", "measure")
    )


class EstimatorAdapter:
    """Evaluate observables on parameter rows of a circuit with the chosen estimator.

    Parameters
    ----------
    kind : str
        One of ``ESTIMATORS``.
    options : VQEOptions
        Reads ``shots, seed, noise_model, ibm_backend, channel, instance, mode,
        optimization_level, record_dir`` and the resilience options.
    n_qubits : int
        Width of the model (checked against the device).

    Attributes
    ----------
    calls : int
        Estimator calls (one PUB each).
    shots : int
        Shots spent (shots x parameter rows x measurement bases).
    job_ids : list of str
        IBM Runtime jobs submitted.
    """

    def __init__(self, kind: str, options, n_qubits: int):
        if kind not in ESTIMATORS:
            raise ValueError(f"estimator must be one of {ESTIMATORS}, got {kind!r}")
        self.kind = kind
        self.opts = options
        self.calls = 0
        self.shots = 0
        self.job_ids: list[str] = []
        self.notes: list[str] = []
        self.rng = np.random.default_rng(options.seed)
        self._isa: dict[int, tuple] = {}
        self._mode = None
        self.target = None
        if kind == "ibm":
            self.target = ibm.resolve_backend(
                options.ibm_backend, n_qubits, options.channel, options.instance
            )
            self.local = options.ibm_backend is not None and options.ibm_backend.startswith("fake_")
            self._mode = ibm.open_mode(options.mode, self.target)
            if self._mode.note:
                self.notes.append(self._mode.note)
            from qiskit_ibm_runtime.executor_estimator import Estimator

            self._runtime_options = ibm.runtime_options(options, self.local)
            self._estimator = Estimator(mode=self._mode.target, options=self._runtime_options)
        elif kind == "aer":
            from qiskit_aer.primitives import EstimatorV2

            backend_options = {"method": "statevector"}
            if options.noise_model is not None:
                from qiskit_aer.noise import NoiseModel

                self.target = ibm.fake_backend(options.noise_model)
                ibm.check_width(self.target, n_qubits)
                backend_options = {
                    "method": "density_matrix",
                    "noise_model": NoiseModel.from_backend(self.target),
                }
            self._estimator = EstimatorV2(options={"backend_options": backend_options})
        elif kind == "statevector":
            from qiskit_aer.primitives import EstimatorV2

            self._estimator = EstimatorV2(options={"backend_options": {"method": "statevector"}})
        else:
            from qiskit.primitives import StatevectorEstimator

            self._estimator = StatevectorEstimator()

    @property
    def device(self) -> str:
        if self.kind == "ibm":
            return self.target.name
        return f"aer:{self.opts.noise_model}" if self.target is not None else "cpu"

    @property
    def exact(self) -> bool:
        return self.kind in ("statevector", "qiskit_statevector")

    def isa(self, circuit):
        """The circuit transpiled for the target device (the circuit itself without a target)."""
        if self.target is None:
            return circuit
        key = id(circuit)
        if key not in self._isa:
            from qiskit.transpiler import generate_preset_pass_manager

            pm = generate_preset_pass_manager(
                optimization_level=self.opts.optimization_level,
                backend=self.target,
                seed_transpiler=self.opts.seed,
            )
            self._isa[key] = (circuit, pm.run(circuit))
        return self._isa[key][1]

    def run(self, circuit, observables: list[SparsePauliOp], values, purpose: str = "energy"):
        """Estimates of ``observables`` on each row of ``values`` (rows, n_params): (rows, K) arrays."""
        values = np.atleast_2d(np.asarray(values, dtype=float))
        rows = len(values)
        isa = self.isa(circuit)
        if self.target is not None:
            observables = [op.apply_layout(isa.layout) for op in observables]
        self.calls += 1
        params = values[:, None, :]
        if self.exact:
            res = self._estimator.run([(isa, observables, params)], precision=0.0).result()[0]
            return np.asarray(res.data.evs, dtype=float), np.zeros((rows, len(observables)))
        bases = len(SparsePauliOp.sum(observables).group_commuting(qubit_wise=True))
        self.shots += self.opts.shots * rows * bases
        if self.kind == "aer":
            squares = [(op @ op).simplify() for op in observables]
            res = self._estimator.run([(isa, observables + squares, params)], precision=0.0).result()[0]
            evs = np.asarray(res.data.evs, dtype=float)
            k = len(observables)
            mean, var = evs[:, :k], np.maximum(evs[:, k:] - evs[:, :k] ** 2, 0.0)
            std = np.sqrt(var / self.opts.shots)
            return mean + std * self.rng.standard_normal(mean.shape), std
        return self._run_ibm(isa, observables, params, purpose)

    def _run_ibm(self, isa, observables, params, purpose):
        job = self._estimator.run([(isa, observables, params)])
        job_id = job.job_id()
        self.job_ids.append(job_id)
        folder = self.opts.record_dir
        records.write_record(
            folder,
            job_id,
            backend=self.target.name,
            circuit=isa,
            observables=observables,
            parameter_values=params[:, 0, :],
            info={
                "purpose": purpose,
                "mode": self._mode.name,
                "mode_note": self._mode.note,
                "local": self.local,
                "channel": self.opts.channel,
                "instance": self.opts.instance,
                "options": self._runtime_options,
                "isa_depth": isa.depth(),
                "isa_two_qubit_gates": two_qubit_count(isa),
            },
        )
        try:
            result = job.result()[0]
        except Exception as err:
            records.save_result(folder, job_id, np.array([]), np.array([]), status="ERROR")
            raise RuntimeError(ibm.scrub(f"IBM Runtime job {job_id} failed: {err}")) from None
        evs = np.asarray(result.data.evs, dtype=float).reshape(len(params), len(observables))
        stds = np.asarray(result.data.stds, dtype=float).reshape(evs.shape)
        records.save_result(folder, job_id, evs, stds, metadata={"shots": self.opts.shots})
        return evs, stds

    def info(self, circuit=None) -> dict:
        """Facts for ``Solution.info``: estimator, device, calls, shots, ISA depth and 2-qubit gates."""
        out = {
            "estimator": self.kind,
            "device": self.device,
            "estimator_calls": self.calls,
            "shots_total": self.shots,
            "shots_per_row": None if self.exact else self.opts.shots,
        }
        if self.target is not None and circuit is not None:
            isa = self.isa(circuit)
            out.update(
                isa_depth=isa.depth(), isa_two_qubit_gates=two_qubit_count(isa), target=self.target.name
            )
        if self.kind == "ibm":
            out.update(
                mode=self._mode.name, job_ids=list(self.job_ids), runtime_options=self._runtime_options
            )
        if self.notes:
            out["notes"] = list(self.notes)
        return out

    def close(self) -> None:
        if self._mode is not None:
            self._mode.close()
