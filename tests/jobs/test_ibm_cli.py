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


def test_ibm_status_without_an_account_is_one_short_line(tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("QISKIT_IBM")}
    env["HOME"] = str(tmp_path)  # no saved account either
    cmd = [
        sys.executable,
        "-m",
        "manybody.cli",
        "ibm",
        "status",
        "job-xyz",
        "--folder",
        str(tmp_path / "rec"),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and len(out.stderr) < 200, out.stderr
    assert out.stderr.startswith(
        "manybody ibm: no IBM Quantum account to ask about job 'job-xyz': set QISKIT_IBM_TOKEN"
    )
