"""``manybody ibm list/status/fetch`` on job records written by manybody.circuits.records (offline)."""

import numpy as np
import pytest

from manybody.cli import main

records = pytest.importorskip("manybody.circuits.records")


def test_ibm_list_status_fetch_of_a_recorded_local_job(tmp_path, capsys):
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    obs = [SparsePauliOp.from_list([("ZZ", 1.0)]), SparsePauliOp.from_list([("XX", 0.5)])]
    records.write_record(
        tmp_path, "job-abc", backend="fake_manila", circuit=qc, observables=obs,
        parameter_values=np.zeros((1, 0)), info={"local": True, "mode": "job", "purpose": "energy"},
    )  # fmt: skip
    records.save_result(tmp_path, "job-abc", evs=[[0.98, 0.49]], stds=[[0.01, 0.02]])

    assert main(["ibm", "list", "--folder", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:3] == ["job_id", "backend", "status"]
    assert lines[2].split()[:3] == ["job-abc", "fake_manila", "DONE"]

    assert main(["ibm", "status", "job-abc", "--folder", str(tmp_path)]) == 0
    assert capsys.readouterr().out.strip() == "job-abc: DONE"

    assert main(["ibm", "fetch", "job-abc", "--folder", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "job job-abc on fake_manila: DONE",
        "  observable 0: 0.98 +/- 0.01",
        "  observable 1: 0.49 +/- 0.02",
    ]

    assert main(["ibm", "status", "job-unknown", "--folder", str(tmp_path)]) != 0
