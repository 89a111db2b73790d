"""The public API: solve, options, errors, Result persistence, light imports."""

import json
import subprocess
import sys

import numpy as np
import pytest

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg, from_dict
from manybody.operators import hermitian_part_error, of, spin, to_qubit_operator


def test_light_import():
    """Importing the core and the model layer loads no backend library (fast CLI start)."""
    code = (
        "import sys, manybody, manybody.models, manybody.lattice\n"
        "m = manybody.models.Heisenberg(manybody.lattice.Chain(4)); m.to_dict()\n"
        "heavy = [k for k in ('jax', 'netket', 'quimb', 'qiskit', 'openfermion', 'flax') if k in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_spin_algebra():
    """[S^x, S^y] = i S^z and S.S = 3/4 on one site (S = sigma/2)."""
    sx, sy, sz = (spin(a, 0) for a in "xyz")
    comm = sx * sy - sy * sx
    assert (comm - 1j * sz).induced_norm() < 1e-14
    s2 = sx * sx + sy * sy + sz * sz
    assert (s2 - of().QubitOperator((), 0.75)).induced_norm() < 1e-14


def test_fermion_hopping_is_hermitian_after_jordan_wigner():
    FermionOperator = of().FermionOperator
    hop = FermionOperator("0^ 3") + FermionOperator("3^ 0")
    qop = to_qubit_operator(hop)
    assert hermitian_part_error(qop) == 0.0
    assert ((1, "Z"), (2, "Z")) == tuple(p for p in next(iter(qop.terms)) if p[1] == "Z")
    assert hermitian_part_error(to_qubit_operator(FermionOperator("0^ 1"))) > 0


def test_model_round_trip():
    for model in (
        Heisenberg(Chain(6), J2=0.3, Delta=0.5, h=0.1),
        Heisenberg(Square(3, 2, pbc=(True, False)), D=(0.1, 0.2, 0.3), sz=None),
        Heisenberg(Chain(3), fields=[0.1, 0.2, 0.3]),
    ):
        data = json.loads(json.dumps(model.to_dict()))
        assert from_dict(data) == model
        assert from_dict(data).qubit_hamiltonian == model.qubit_hamiltonian


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda: mb.solve(Heisenberg(Chain(4)), backend="lanczos"), ValueError, "unknown backend 'lanczos'"),
        (lambda: mb.solve(Heisenberg(Chain(4)), n_state=2), ValueError, r"unknown option\(s\) \['n_state'\]"),
        (lambda: mb.solve(Heisenberg(Chain(4)), n_states=0), ValueError, "n_states must be an integer >= 1"),
        (
            lambda: mb.solve(Heisenberg(Chain(4)), observables="bogus"),
            ValueError,
            "unknown observable 'bogus'",
        ),
        (lambda: mb.solve("heisenberg"), TypeError, "model must be a manybody Model"),
        (lambda: Heisenberg(Chain(4), sz=3), ValueError, "sz=3.0 is not a sector of 4 spins"),
        (lambda: Heisenberg(Chain(5), sz=0), ValueError, "sz=0.0 is not a sector"),
        (lambda: Heisenberg(Chain(4), J=float("nan")), ValueError, "J must be a finite real number"),
        (lambda: Heisenberg(Chain(4), Delta="1"), ValueError, "Delta must be a finite real number"),
        (lambda: Heisenberg(Chain(4), fields=[1.0]), ValueError, "fields must have one value per site"),
        (lambda: Heisenberg(Chain(4), D=(1.0, 0.0, 0.0)), ValueError, "use sz=None"),
        (
            lambda: Heisenberg(Chain(5, pbc=True)).observable("staggered_magnetization_sq"),
            ValueError,
            "staggered_magnetization_sq' is not defined for",
        ),
        (lambda: from_dict({"model": "nope"}), ValueError, "unknown model 'nope'"),
        (
            lambda: from_dict({"model": "heisenberg", "lattice": {"kind": "chain", "L": 4}, "K": 1}),
            ValueError,
            "K",
        ),
        (lambda: mb.solve(Heisenberg(Chain(32))), ValueError, "at most 30 qubits"),
    ],
)
def test_bad_input_is_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_result_save_load_round_trip(tmp_path):
    model = Heisenberg(Chain(8), J2=0.2)
    res = mb.solve(model, backend="exact", n_states=2)
    path = res.save(tmp_path / "run1")
    back = mb.Result.load(path)
    assert back.energy == res.energy and back.variance == res.variance
    assert back.model == model.to_dict() and back.options == res.options
    assert back.info["energies"] == res.info["energies"]
    assert back.versions["numpy"] == np.__version__
    for name, est in res.observables.items():
        assert np.array_equal(back.observables[name].mean, est.mean)
        assert np.array_equal(back.observables[name].axis, est.axis)
    # The state reloads: new observables are evaluated after load, as on the live result.
    new = back.expect(["structure_factor"])["structure_factor"]
    assert np.allclose(new.mean, res.expect("structure_factor")["structure_factor"].mean, atol=1e-12)
    # Saving again over the same folder replaces it whole.
    back.save(path)
    assert mb.Result.load(path).energy == res.energy
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run1"]


def test_result_quantities():
    res = mb.solve(Heisenberg(Chain(10)), observables=[])
    assert res.energy_per_site == pytest.approx(res.energy / 10)
    assert res.e_inf == 0.0  # Tr(S_i . S_j) = 0
    assert abs(res.variance) < 1e-10 and res.v_score < 1e-10  # an exact eigenstate has zero variance
    assert "heisenberg" in res.summary()


def test_load_missing_result(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved result"):
        mb.Result.load(tmp_path / "nothing")


def test_custom_observable_object():
    model = Heisenberg(Chain(4))
    obs = mb.Observable("sz0sz3", spin("z", 0) * spin("z", 3))
    res = mb.solve(model, observables=[obs])
    assert res.observables["sz0sz3"].mean < 0  # antiferromagnetic correlation at odd distance
    with pytest.raises(ValueError, match="not Hermitian"):
        mb.Observable("bad", of().QubitOperator("X0 Y1", 1j))
