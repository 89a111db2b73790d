"""One adapter in front of every estimator the VQE uses.

``EstimatorAdapter(kind, options, n_qubits)`` runs ``(circuit, observables,
parameter rows)`` as a single call and returns ``evs, stds`` of shape
(rows, observables). The estimators, one class each in ``ENGINES``:

``"statevector"``
    Exact values from the compiled numpy statevector simulation
    (:mod:`manybody.circuits.statevector`), with adjoint gradients
    (``stds = 0``).
``"qiskit_statevector"``
    The same from Qiskit's reference ``StatevectorEstimator`` (a
    cross-check; gradients by the parameter-shift rule).
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
from manybody.circuits.statevector import CompiledCircuit, PauliOperator

__all__ = ["ENGINES", "EstimatorAdapter", "two_qubit_count"]


def two_qubit_count(circuit) -> int:
    """Number of gates acting on two or more qubits (barriers and measurements excluded)."""
    return sum(
        1
        for inst in circuit.data
        if len(inst.qubits) >= 2 and inst.operation.name not in ("barrier", "measure")
    )


class _Cache:
    """Objects built once per circuit or operator (keyed by identity; the key object is kept alive)."""

    def __init__(self, build):
        self._build = build
        self._items: dict[int, tuple] = {}

    def __call__(self, obj):
        key = id(obj)
        if key not in self._items:
            self._items[key] = (obj, self._build(obj))
        return self._items[key][1]


class _Engine:
    """An estimator: ``evaluate(pubs, purpose)`` with ``pubs`` a list of ``(isa, observables, params)``,
    ``params`` (rows, 1, n_angles); returns one ``(evs, stds)`` pair of (rows, K) arrays per PUB."""

    exact = False
    target = None  # the device or fake backend whose ISA the circuit is transpiled to

    def __init__(self, options, n_qubits: int):
        self.opts = options

    def evaluate(self, pubs, purpose: str) -> list[tuple[np.ndarray, np.ndarray]]:
        raise NotImplementedError

    def info(self) -> dict:
        return {}

    def close(self) -> None:
        pass


class _CompiledStatevector(_Engine):
    exact = True

    def __init__(self, options, n_qubits: int):
        super().__init__(options, n_qubits)
        self.compiled = _Cache(CompiledCircuit)
        self.operator = _Cache(PauliOperator)

    def evaluate(self, pubs, purpose):
        out = []
        for isa, observables, params in pubs:
            sim = self.compiled(isa)
            states = np.stack([sim.state(row) for row in params[:, 0, :]])
            evs = np.stack([self.operator(op).expectation(states) for op in observables], axis=1)
            out.append((evs, np.zeros_like(evs)))
        return out

    def value_and_gradient(self, isa, observable, phi) -> tuple[float, np.ndarray]:
        return self.compiled(isa).value_and_gradient(phi, self.operator(observable))


class _QiskitStatevector(_Engine):
    exact = True

    def __init__(self, options, n_qubits: int):
        super().__init__(options, n_qubits)
        from qiskit.primitives import StatevectorEstimator

        self._estimator = StatevectorEstimator()

    def evaluate(self, pubs, purpose):
        results = self._estimator.run(pubs, precision=0.0).result()
        return [(evs := np.asarray(r.data.evs, dtype=float), np.zeros_like(evs)) for r in results]


class _AerShots(_Engine):
    def __init__(self, options, n_qubits: int):
        super().__init__(options, n_qubits)
        from qiskit_aer.primitives import EstimatorV2

        backend_options = {"method": "statevector"}
        if options.noise_model is not None:
            from qiskit_aer.noise import NoiseModel

            self.target = ibm.fake_backend(options.noise_model)  # width checked by the backend's check_model
            backend_options = {
                "method": "density_matrix",
                "noise_model": NoiseModel.from_backend(self.target),
            }
        self._estimator = EstimatorV2(options={"backend_options": backend_options})
        self.rng = np.random.default_rng(options.seed)

    def evaluate(self, pubs, purpose):
        squared = [(isa, obs + [(op @ op).simplify() for op in obs], params) for isa, obs, params in pubs]
        out = []
        for (_, obs, _), res in zip(pubs, self._estimator.run(squared, precision=0.0).result()):
            evs = np.asarray(res.data.evs, dtype=float)
            k = len(obs)
            mean, var = evs[:, :k], np.maximum(evs[:, k:] - evs[:, :k] ** 2, 0.0)
            std = np.sqrt(var / self.opts.shots)
            out.append((mean + std * self.rng.standard_normal(mean.shape), std))
        return out


class _IBMRuntime(_Engine):
    def __init__(self, options, n_qubits: int):
        super().__init__(options, n_qubits)
        from qiskit_ibm_runtime.executor_estimator import Estimator

        self.target = ibm.resolve_backend(options.ibm_backend, n_qubits, options.channel, options.instance)
        self.local = options.ibm_backend is not None and options.ibm_backend.startswith("fake_")
        self._mode = ibm.open_mode(options.mode, self.target)
        self._runtime_options = ibm.runtime_options(options, self.local)
        self._estimator = Estimator(mode=self._mode.target, options=self._runtime_options)
        self.job_ids: list[str] = []

    def evaluate(self, pubs, purpose):
        """One runtime job for all ``pubs``, recorded before its result is awaited."""
        job = self._estimator.run(pubs)
        job_id = job.job_id()
        self.job_ids.append(job_id)
        folder = self.opts.record_dir
        isas = [isa for isa, _, _ in pubs]

        def per_pub(items):  # a one-PUB job is recorded without the PUB axis
            return items[0] if len(pubs) == 1 else items

        records.write_record(
            folder,
            job_id,
            backend=self.target.name,
            circuit=per_pub(isas),
            observables=per_pub([obs for _, obs, _ in pubs]),
            parameter_values=per_pub(np.stack([params[:, 0, :] for _, _, params in pubs])),
            info={
                "purpose": purpose,
                "mode": self._mode.name,
                "mode_note": self._mode.note,
                "local": self.local,
                "channel": self.opts.channel,
                "instance": self.opts.instance,
                "options": self._runtime_options,
                "isa_depth": per_pub([isa.depth() for isa in isas]),
                "isa_two_qubit_gates": per_pub([two_qubit_count(isa) for isa in isas]),
            },
        )
        try:
            results = job.result()
        except Exception as err:
            records.save_result(folder, job_id, np.array([]), np.array([]), status="ERROR")
            raise RuntimeError(ibm.scrub(f"IBM Runtime job {job_id} failed: {err}")) from None
        out = []
        for (_, obs, params), res in zip(pubs, results):
            evs = np.asarray(res.data.evs, dtype=float).reshape(len(params), len(obs))
            out.append((evs, np.asarray(res.data.stds, dtype=float).reshape(evs.shape)))
        evs, stds = (per_pub(np.stack([pair[k] for pair in out])) for k in (0, 1))
        records.save_result(folder, job_id, evs, stds, metadata={"shots": self.opts.shots})
        return out

    def info(self) -> dict:
        out = {
            "mode": self._mode.name,
            "job_ids": list(self.job_ids),
            "runtime_options": self._runtime_options,
        }
        if self._mode.note:
            out["notes"] = [self._mode.note]
        return out

    def close(self) -> None:
        self._mode.close()


ENGINES = {
    "statevector": _CompiledStatevector,
    "qiskit_statevector": _QiskitStatevector,
    "aer": _AerShots,
    "ibm": _IBMRuntime,
}


class EstimatorAdapter:
    """Evaluate observables on parameter rows of a circuit with the chosen estimator.

    Parameters
    ----------
    kind : str
        A key of ``ENGINES``.
    options : VQEOptions
        Reads ``shots, seed, noise_model, ibm_backend, channel, instance, mode,
        optimization_level, record_dir`` and the resilience options.
    n_qubits : int
        Width of the model (checked against the device).

    Attributes
    ----------
    calls : int
        Estimator calls (one PUB each; an adjoint energy-and-gradient is one call).
    shots : int
        Shots spent (shots x parameter rows x measurement bases).
    """

    def __init__(self, kind: str, options, n_qubits: int):
        self.kind = kind
        self.opts = options
        self.calls = 0
        self.shots = 0
        self.engine = ENGINES[kind](options, n_qubits)
        self._isa = _Cache(self._transpile)

    @property
    def device(self) -> str:
        if self.kind == "ibm":
            return self.target.name
        return f"aer:{self.opts.noise_model}" if self.target is not None else "cpu"

    @property
    def target(self):
        return self.engine.target

    @property
    def exact(self) -> bool:
        return self.engine.exact

    @property
    def job_ids(self) -> list[str]:
        return getattr(self.engine, "job_ids", [])

    @property
    def has_gradient(self) -> bool:
        """Whether the estimator gives the energy and the whole gradient directly (adjoint method)."""
        return hasattr(self.engine, "value_and_gradient")

    def _transpile(self, circuit):
        from qiskit.transpiler import generate_preset_pass_manager

        pm = generate_preset_pass_manager(
            optimization_level=self.opts.optimization_level,
            backend=self.target,
            seed_transpiler=self.opts.seed,
        )
        return pm.run(circuit)

    def isa(self, circuit):
        """The circuit transpiled for the target device (the circuit itself without a target)."""
        return circuit if self.target is None else self._isa(circuit)

    def run(self, circuit, observables: list[SparsePauliOp], values, purpose: str = "energy"):
        """Estimates of ``observables`` on each row of ``values`` (rows, n_params): (rows, K) arrays."""
        return self.run_pubs([(circuit, observables, values)], purpose)[0]

    def run_pubs(self, pubs, purpose: str = "energy") -> list[tuple[np.ndarray, np.ndarray]]:
        """Several ``(circuit, observables, values)`` PUBs as one estimator call (IBM: one job).

        Returns one ``(evs, stds)`` pair of (rows, K) arrays per PUB, in order.
        """
        prepared = []
        for circuit, observables, values in pubs:
            values = np.atleast_2d(np.asarray(values, dtype=float))
            isa = self.isa(circuit)
            if self.target is not None:
                observables = [op.apply_layout(isa.layout) for op in observables]
            if not self.exact:
                bases = len(SparsePauliOp.sum(observables).group_commuting(qubit_wise=True))
                self.shots += self.opts.shots * len(values) * bases
            prepared.append((isa, list(observables), values[:, None, :]))
        self.calls += 1
        return self.engine.evaluate(prepared, purpose)

    def value_and_gradient(self, circuit, observable: SparsePauliOp, values) -> tuple[float, np.ndarray]:
        """``<observable>`` and its gradient along the circuit's parameters (exact estimators only)."""
        self.calls += 1
        return self.engine.value_and_gradient(circuit, observable, np.asarray(values, dtype=float))

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
        out.update(self.engine.info())
        return out

    def close(self) -> None:
        self.engine.close()
