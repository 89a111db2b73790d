"""The IBM Runtime path, offline: fake backends in local mode, job records, credentials, bad input."""

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

import manybody as mb
from manybody.circuits import IBMAccountError, JobNotFoundError, fetch, job_status, list_jobs, reevaluate
from manybody.circuits import ibm as ibm_mod
from manybody.circuits.records import load_record
from manybody.lattice import Chain
from manybody.models import Heisenberg

TOKEN = "tok-SECRET-0123456789abcdef"


@pytest.fixture
def no_account(monkeypatch, tmp_path):
    """No saved account (empty HOME) and no token in the environment."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for var in ("QISKIT_IBM_TOKEN", "QISKIT_IBM_INSTANCE", "QISKIT_IBM_CHANNEL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def dimer():
    """A 2-site Heisenberg model and its statevector VQE (the singlet, E = -3/4)."""
    model = Heisenberg(Chain(2))
    res = mb.solve(model, backend="vqe", reps=1, seed=1, observables=[])
    assert res.energy == pytest.approx(-0.75, abs=1e-10)
    return model, res


def test_optimisation_on_a_fake_device_is_recorded_and_retrievable(dimer, tmp_path, monkeypatch):
    """Transpile, lay out, submit (batch mode), record; list, status and fetch from another process."""
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)  # must never leak into records or results
    model, _ = dimer
    folder = tmp_path / "jobs"
    res = mb.solve(
        model,
        backend="vqe",
        observables=[],
        estimator="ibm",
        ibm_backend="fake_manila",
        shots=2000,
        seed=3,
        maxiter=3,
        reps=1,
        mode="batch",
        record_dir=str(folder),
    )
    info = res.info
    assert info["device"] == "fake_manila" and info["mode"] == "batch" and info["optimizer"] == "spsa"
    # SPSA: 1 calibration call + 1 per iteration + the final evaluation, one job each
    assert info["estimator_calls"] == 5 and len(info["job_ids"]) == 5
    assert info["shots_total"] > 0 and info["isa_two_qubit_gates"] > 0 and info["isa_depth"] > 0
    # noisy energy: within 15% of the exact -3/4 (readout mitigated, gate noise not), and variational within noise
    assert abs(res.energy + 0.75) < 0.15 * 0.75
    rows = list_jobs(folder)
    # every submitted job is recorded once (records created within the same second have no defined order)
    assert sorted(r["job_id"] for r in rows) == sorted(info["job_ids"])
    assert all(r["status"] == "DONE" and r["local"] and r["backend"] == "fake_manila" for r in rows)
    final = load_record(info["job_ids"][-1], folder)
    assert final.info["purpose"] == "final"
    assert final.circuit.num_qubits == 5  # ISA circuit on the device width
    assert set(final.circuit.count_ops()) <= set(ibm_mod.fake_backend("fake_manila").operation_names)
    assert all(op.num_qubits == 5 for op in final.observables)  # apply_layout on every observable
    assert final.evs[0, 0] == pytest.approx(res.energy, abs=1e-12)
    assert final.stds[0, 0] == pytest.approx(res.energy_error, abs=1e-12)
    # another process finds the job by id
    code = (
        "import sys, json; from manybody.circuits import fetch, job_status;"
        f"r = fetch(sys.argv[1], {str(folder)!r}); print(json.dumps([job_status(sys.argv[1], {str(folder)!r}),"
        " r.backend, r.evs.tolist()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, info["job_ids"][-1]],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    status, backend, evs = json.loads(out.stdout.strip().splitlines()[-1])
    assert status == "DONE" and backend == "fake_manila" and evs[0][0] == pytest.approx(res.energy, abs=1e-12)
    # the token appears in no record file and not in the result
    for path in folder.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
    res.save(tmp_path / "result")
    for path in (tmp_path / "result").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path


def test_reevaluate_on_device_with_mitigation_options(dimer, tmp_path):
    """'Simulate, then measure on the device': ZNE + twirling + DD passed through (session mode, local).

    Tolerance: 0.03 on E = -0.75 (ZNE removes most of the gate-noise bias seen without it)."""
    _, res = dimer
    folder = tmp_path / "jobs"
    dev = reevaluate(
        res,
        estimator="ibm",
        ibm_backend="fake_manila",
        shots=4000,
        seed=3,
        record_dir=str(folder),
        resilience_level=2,
        zne=True,
        zne_noise_factors=[1, 3, 5],
        twirling=True,
        dynamical_decoupling="XY4",
        measure_mitigation=True,
        mode="session",
        max_execution_time=300,
    )
    assert dev.info["n_iterations"] == 0 and dev.info["estimator_calls"] == 1
    assert dev.info["mode"] == "session"
    assert abs(dev.energy + 0.75) < 0.03
    # the energy job and the job of the default observables, both listed and recorded
    purposes = [load_record(job, folder).info["purpose"] for job in dev.info["job_ids"]]
    assert purposes == ["final", "expect"] and dev.observables
    opts = load_record(dev.info["job_ids"][0], folder).info["options"]
    assert opts["resilience_level"] == 2 and opts["max_execution_time"] == 300
    assert opts["resilience"] == {
        "measure_mitigation": True,
        "zne_mitigation": True,
        "zne": {"noise_factors": [1, 3, 5]},
    }
    assert opts["twirling"] == {"enable_gates": True, "enable_measure": True}
    assert opts["dynamical_decoupling"] == {"enable": True, "sequence_type": "XY4"}


def test_session_refused_falls_back_to_batch(monkeypatch):
    import qiskit_ibm_runtime

    class OpenPlanSession:
        def __init__(self, *args, **kwargs):
            raise qiskit_ibm_runtime.IBMRuntimeError(
                "You are not authorized to run a session when using the open plan."
            )

    monkeypatch.setattr(qiskit_ibm_runtime, "Session", OpenPlanSession)
    mode = ibm_mod.open_mode("session", ibm_mod.fake_backend("fake_manila"))
    try:
        assert mode.name == "batch" and "open plan" in mode.note.lower() and "batch mode" in mode.note
    finally:
        mode.close()


def test_more_qubits_than_the_backend_has():
    with pytest.raises(ValueError, match="needs 6 qubits but backend 'fake_manila' has only 5"):
        mb.solve(Heisenberg(Chain(6)), backend="vqe", estimator="ibm", ibm_backend="fake_manila")
    with pytest.raises(ValueError, match="needs 6 qubits"):
        mb.solve(Heisenberg(Chain(6)), backend="vqe", estimator="aer", noise_model="fake_manila")


def test_missing_credentials_give_a_clear_error(no_account):
    with pytest.raises(IBMAccountError, match="QISKIT_IBM_TOKEN") as err:
        mb.solve(Heisenberg(Chain(2)), backend="vqe", estimator="ibm", maxiter=1)
    assert err.value.__cause__ is None and err.value.__context__ is None  # no chained client traceback
    assert "save_account" in str(err.value)


def test_invalid_token_never_appears(no_account, monkeypatch, caplog):
    monkeypatch.setenv("QISKIT_IBM_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(IBMAccountError) as err:
        ibm_mod.get_service()
    assert TOKEN not in str(err.value) and TOKEN not in repr(err.value)
    assert TOKEN not in caplog.text


def test_unknown_job_id(no_account, tmp_path):
    with pytest.raises(JobNotFoundError, match="no record of job 'no-such-job'"):
        fetch("no-such-job", tmp_path)
    with pytest.raises(JobNotFoundError, match="no record of job 'no-such-job'"):
        job_status("no-such-job", tmp_path)
    assert list_jobs(tmp_path / "empty") == []


def test_aer_noise_model_uses_the_device_isa(dimer):
    model, res = dimer
    noisy = reevaluate(res, estimator="aer", noise_model="fake_manila", shots=4000, seed=5)
    assert noisy.info["target"] == "fake_manila" and noisy.info["isa_two_qubit_gates"] >= 1
    # the exact noisy value is biased above -0.75 by gate and readout noise, but not by much
    assert -0.75 - 5 * noisy.energy_error < noisy.energy < -0.6
    assert np.isfinite(noisy.energy_error) and noisy.energy_error > 0


def test_fetch_of_a_remote_job_of_several_pubs(tmp_path, monkeypatch):
    """A remote (not local) job of two PUBs: fetch asks the service once, stacks the PUB results
    along the leading axis and caches them in the record; a later fetch reads the record."""
    from types import SimpleNamespace

    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    from manybody.circuits import records

    circuits = [QuantumCircuit(2), QuantumCircuit(2)]
    circuits[1].x(0)
    obs = [[SparsePauliOp("ZI"), SparsePauliOp("IZ")], [SparsePauliOp("IZ"), SparsePauliOp("ZI")]]
    records.write_record(
        tmp_path, "job-two", backend="ibm_test", circuit=circuits, observables=obs,
        parameter_values=np.zeros((2, 1, 0)), info={"local": False, "purpose": "evolve"},
    )  # fmt: skip
    pending = load_record("job-two", tmp_path)
    assert pending.status == "SUBMITTED" and pending.n_pubs == 2 and pending.evs is None
    assert pending.observables[1][0] == SparsePauliOp("IZ") and pending.circuit[1].count_ops() == {"x": 1}
    calls = []

    class Job:
        def status(self):
            return SimpleNamespace(name="DONE")

        def result(self):
            calls.append(1)
            return [
                SimpleNamespace(data=SimpleNamespace(evs=np.array([[e, -e]]), stds=np.array([[0.01, 0.02]])), metadata={"k": e})
                for e in (0.9, -0.8)
            ]  # fmt: skip

    monkeypatch.setattr(records, "_remote_job", lambda job_id, data, folder=None: Job())
    done = fetch("job-two", tmp_path)
    assert done.status == "DONE" and done.evs.shape == (2, 1, 2)
    assert np.allclose(done.evs[:, 0, 0], [0.9, -0.8]) and np.allclose(done.stds[1, 0], [0.01, 0.02])
    assert done.info["result_metadata"] == {"pubs": [{"k": 0.9}, {"k": -0.8}]}
    assert np.allclose(fetch("job-two", tmp_path).evs, done.evs) and len(calls) == 1
