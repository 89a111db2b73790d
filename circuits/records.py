"""On-disk records of IBM Runtime estimator jobs: list, check and retrieve them later.

Every job the ``"ibm"`` estimator submits is written to
``<folder>/<job_id>/``::

    record.json   job id, backend, channel, instance, mode, purpose, created (UTC),
                  runtime options, observables (Pauli labels and coefficients,
                  already laid out on the device qubits), status, local/remote,
                  ``n_pubs`` for a job of several PUBs
    circuit.qpy   the ISA circuit(s) (QPY), one per PUB
    arrays.npz    parameter values, and once known the estimates (evs, stds)

A job of one PUB (an optimisation step) stores its arrays as (rows, ...); a job of
several PUBs (all times of one Trotter evolution) stores a list of observables per
PUB and arrays with a leading PUB axis, (n_pubs, rows, ...).

so another process (``manybody ibm list/status/fetch``) can find a job and
its result. The folder defaults to ``$MANYBODY_IBM_JOBS`` or
``~/.manybody/ibm_jobs``. Jobs of fake (local) backends finish at submission
and their results are stored at once; remote results are fetched from the
service by job id and then cached in the record. No credential is stored.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import numpy as np

from manybody.circuits.ibm import IBMAccountError, get_service, scrub
from manybody.io import atomic_write, dump_json, load_json

__all__ = [
    "JobNotFoundError",
    "JobRecord",
    "default_folder",
    "write_record",
    "save_result",
    "load_record",
    "list_jobs",
    "job_status",
    "fetch",
]


class JobNotFoundError(LookupError):
    """No record and no job with this id."""


def default_folder() -> Path:
    """``$MANYBODY_IBM_JOBS`` or ``~/.manybody/ibm_jobs``."""
    return Path(os.environ.get("MANYBODY_IBM_JOBS") or Path.home() / ".manybody" / "ibm_jobs")


@dataclass
class JobRecord:
    """A recorded estimator job: its PUBs (circuit, observables, parameter rows) and estimates.

    Attributes
    ----------
    job_id, backend, status : str
    info : dict
        Everything in ``record.json`` (mode, purpose, options, created, ...).
    circuit : QuantumCircuit or list of QuantumCircuit
        The ISA circuit as submitted (a list, one per PUB, when ``n_pubs`` is set).
    observables : list of SparsePauliOp (or one such list per PUB)
        Laid out on the device qubits.
    parameter_values : ndarray (B, P), or (n_pubs, B, P)
    evs, stds : ndarray (B, K), or (n_pubs, B, K), or None
        The estimates, once the job is done and fetched.
    n_pubs : int or None
        None for a job of one PUB, else the number of PUBs (the arrays' leading axis).
    """

    job_id: str
    backend: str
    status: str
    info: dict
    circuit: object = None
    observables: list = field(default_factory=list)
    parameter_values: np.ndarray | None = None
    evs: np.ndarray | None = None
    stds: np.ndarray | None = None
    n_pubs: int | None = None


def _folder(folder) -> Path:
    return Path(folder) if folder is not None else default_folder()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def write_record(
    folder, job_id: str, *, backend: str, circuit, observables, parameter_values, info: dict
) -> Path:
    """Record a submitted job (see the module docstring); returns its folder.

    ``circuit`` is one circuit (a job of one PUB) or a list of circuits (one PUB each; then
    ``observables`` is a list per PUB and ``parameter_values`` has a leading PUB axis).
    """
    from qiskit import qpy

    path = _folder(folder) / job_id
    path.mkdir(parents=True, exist_ok=True)
    buffer = BytesIO()
    qpy.dump(circuit, buffer)
    atomic_write(path / "circuit.qpy", buffer.getvalue())
    _write_npz(path / "arrays.npz", parameter_values=np.asarray(parameter_values, dtype=float))
    several = isinstance(circuit, (list, tuple))
    data = {
        "job_id": job_id,
        "backend": backend,
        "status": "SUBMITTED",
        "created": _now(),
        "observables": [_labels(ops) for ops in observables] if several else _labels(observables),
        **({"n_pubs": len(circuit)} if several else {}),
        **info,
    }
    _write_json(path / "record.json", data)
    return path


def _labels(observables) -> list:
    return [[[label, float(np.real(c))] for label, c in op.to_list()] for op in observables]


def _write_npz(path: Path, **arrays) -> None:
    buffer = BytesIO()
    np.savez(buffer, **arrays)
    atomic_write(path, buffer.getvalue())


def _write_json(path: Path, data: dict) -> None:
    atomic_write(path, scrub(dump_json(data, lossy=True)))


def save_result(folder, job_id: str, evs, stds, status: str = "DONE", metadata: dict | None = None) -> None:
    """Store a finished job's estimates in its record."""
    path = _folder(folder) / job_id
    with np.load(path / "arrays.npz", allow_pickle=False) as a:
        params = a["parameter_values"]
    _write_npz(path / "arrays.npz", parameter_values=params, evs=np.asarray(evs), stds=np.asarray(stds))
    data = load_json(path / "record.json")
    data.update(status=status, finished=_now(), result_metadata=metadata or {})
    _write_json(path / "record.json", data)


def load_record(job_id: str, folder=None) -> JobRecord:
    """The stored record of ``job_id`` (``JobNotFoundError`` if there is none)."""
    from qiskit import qpy
    from qiskit.quantum_info import SparsePauliOp

    path = _folder(folder) / str(job_id)
    if not (path / "record.json").is_file():
        raise JobNotFoundError(f"no record of job {job_id!r} in {_folder(folder)}")
    data = load_json(path / "record.json")
    with open(path / "circuit.qpy", "rb") as f:
        circuits = qpy.load(f)
    with np.load(path / "arrays.npz", allow_pickle=False) as a:
        arrays = {k: a[k] for k in a.files}
    n_pubs = data.get("n_pubs")

    def operators(labels):
        return [SparsePauliOp.from_list(terms) for terms in labels]

    return JobRecord(
        job_id=data["job_id"],
        backend=data["backend"],
        status=data["status"],
        info=data,
        circuit=circuits[0] if n_pubs is None else circuits,
        observables=operators(data["observables"])
        if n_pubs is None
        else [operators(labels) for labels in data["observables"]],
        parameter_values=arrays["parameter_values"],
        evs=arrays.get("evs"),
        stds=arrays.get("stds"),
        n_pubs=n_pubs,
    )


def list_jobs(folder=None) -> list[dict]:
    """One summary dict per recorded job, oldest first.

    Keys: ``job_id, backend, status, created, purpose, mode, local, folder``.
    """
    root = _folder(folder)
    rows = []
    for rec in sorted(root.glob("*/record.json")) if root.is_dir() else []:
        data = load_json(rec)
        rows.append(
            {
                "job_id": data["job_id"],
                "backend": data["backend"],
                "status": data["status"],
                "created": data["created"],
                "purpose": data.get("purpose"),
                "mode": data.get("mode"),
                "local": data.get("local", False),
                "folder": str(rec.parent),
            }
        )
    return sorted(rows, key=lambda r: r["created"])


def _remote_job(job_id: str, data: dict | None, folder=None):
    try:
        service = get_service((data or {}).get("channel"), (data or {}).get("instance"))
    except IBMAccountError as err:
        if data is not None:
            raise
        raise JobNotFoundError(
            f"no record of job {job_id!r} in {_folder(folder)}, and no IBM Quantum account to look it up ({err})"
        ) from None
    try:
        return service.job(job_id)
    except Exception as err:
        raise JobNotFoundError(
            scrub(f"IBM Quantum has no job {job_id!r} ({type(err).__name__}: {err})")
        ) from None


def _record_data(job_id: str, folder) -> dict | None:
    path = _folder(folder) / str(job_id) / "record.json"
    return load_json(path) if path.is_file() else None


def job_status(job_id: str, folder=None) -> str:
    """``"DONE"``, ``"QUEUED"``, ``"RUNNING"``, ``"ERROR"``, ``"CANCELLED"``, ...

    Recorded local jobs answer from the record; remote ones ask the service
    (an unrecorded id is looked up on the service too).

    Raises
    ------
    JobNotFoundError
        If neither the record folder nor the service knows the id.
    """
    data = _record_data(job_id, folder)
    if data is not None and (data.get("local") or data["status"] == "DONE"):
        return data["status"]
    status = _remote_job(job_id, data, folder).status()
    return getattr(status, "name", str(status))


def fetch(job_id: str, folder=None, wait: bool = True) -> JobRecord:
    """The record of ``job_id`` with its estimates, fetching them from IBM Quantum if needed.

    A remote job's result is stored in its record once retrieved. With
    ``wait=False`` an unfinished job is returned with ``evs = None``.

    Raises
    ------
    JobNotFoundError
        If neither the record folder nor the service knows the id.
    """
    data = _record_data(job_id, folder)
    if data is None:
        _remote_job(job_id, None, folder)  # raises JobNotFoundError for an unknown id
        raise JobNotFoundError(
            f"job {job_id!r} exists on IBM Quantum but was not submitted by manybody (no record in "
            f"{_folder(folder)}); retrieve it with QiskitRuntimeService().job({job_id!r})"
        )
    if data["status"] != "DONE" and not data.get("local"):
        job = _remote_job(job_id, data)
        status = getattr(job.status(), "name", str(job.status()))
        if wait or status == "DONE":
            results = list(job.result())
            if data.get("n_pubs") is None:
                evs, stds, metadata = results[0].data.evs, results[0].data.stds, dict(results[0].metadata)
            else:
                evs, stds = (np.stack([getattr(r.data, k) for r in results]) for k in ("evs", "stds"))
                metadata = {"pubs": [dict(r.metadata) for r in results]}
            save_result(folder, job_id, evs, stds, metadata=metadata)
        elif status in ("ERROR", "CANCELLED"):
            save_result(folder, job_id, np.array([]), np.array([]), status=status)
    return load_record(job_id, folder)
