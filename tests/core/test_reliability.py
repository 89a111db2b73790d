"""Bad input and damaged files in the core API: clear errors naming what is wrong, and
non-finite numbers that survive a save. Energies are checked against closed forms."""

import json
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from openfermion import QubitOperator

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg
from manybody.result import ResultLoadError


@pytest.fixture(scope="module")
def two_site():
    """The two-site Heisenberg chain: singlet energy -3/4 J, in the S^z = 0 sector."""
    return mb.solve(Heisenberg(Chain(2), J=1.0), backend="exact")


def test_two_site_reference(two_site):
    assert two_site.energy == pytest.approx(-0.75, abs=1e-12)


def test_non_finite_values_round_trip_through_save_and_load(two_site, tmp_path):
    res = mb.Result.load(two_site.save(tmp_path / "a"))
    res.variance = float("nan")
    res.energy_error = float("inf")
    res.info["ratio"] = float("-inf")
    res.info["amplitude"] = 0.5 - 0.5j
    res.observables["ratio"] = mb.Estimate(np.array([1.0, np.nan]), np.array([0.0, np.inf]), axis_name="r")
    again = mb.Result.load(res.save(tmp_path / "b"))
    assert np.isnan(again.variance) and again.energy_error == np.inf and again.info["ratio"] == -np.inf
    assert again.info["amplitude"] == 0.5 - 0.5j
    est = again.observables["ratio"]
    assert est.mean[0] == 1.0 and np.isnan(est.mean[1]) and est.error[1] == np.inf
    assert again.energy_per_site == pytest.approx(-0.375, abs=1e-12)
    assert "variance=nan" in repr(again) and "nan" in again.summary()


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda f: (f / "result.json").write_text("[1, 2]"), "result.json holds a list, not a result"),
        (lambda f: (f / "result.json").write_text('{"energy": -0.7'), "not valid JSON"),
        (lambda f: _drop_key(f, "energy"), r"missing keys \['energy'\]"),
        (lambda f: _set_key(f, "energy", "low"), "energy is 'low', not a number"),
        (lambda f: _set_key(f, "observables", {"x": 3}), "malformed observables"),
        (lambda f: _set_key(f, "format_version", 99), "unsupported result format 99"),
        (lambda f: (f / "history.npz").write_bytes(b"garbage"), "history.npz does not load"),
        (lambda f: (f / "history.npz").unlink(), "history.npz is missing"),
    ],
)
def test_damaged_saved_result_names_its_folder(two_site, tmp_path, damage, message):
    folder = two_site.save(tmp_path / "res")
    damage(folder)
    with pytest.raises(ResultLoadError, match=message) as info:
        mb.Result.load(folder)
    assert str(info.value).startswith(f"cannot load the result in {folder}: ")


def _drop_key(folder, key):
    data = json.loads((folder / "result.json").read_text())
    del data[key]
    (folder / "result.json").write_text(json.dumps(data))


def _set_key(folder, key, value):
    data = json.loads((folder / "result.json").read_text())
    data[key] = value
    (folder / "result.json").write_text(json.dumps(data))


def test_saved_result_is_group_readable(two_site, tmp_path):
    folder = two_site.save(tmp_path / "res")
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755
    for path in folder.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o755 if path.is_dir() else 0o644), path


def test_provenance_records_the_commit_and_the_dirty_flag(two_site, tmp_path):
    from manybody.provenance import git_commit, git_dirty

    again = mb.Result.load(two_site.save(tmp_path / "res"))
    assert again.git_commit == git_commit() and again.git_dirty == git_dirty()
    if again.git_commit is not None:  # a checkout: the flag says whether tracked files changed
        changed = subprocess.run(
            ["git", "-C", str(Path(mb.__file__).parent), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        assert again.git_dirty is bool(changed.strip())


def test_huge_or_non_finite_couplings_are_refused_up_front():
    with pytest.raises(ValueError, match=r"J = 1e\+308 is too large in magnitude: at most 1e\+15"):
        Heisenberg(Chain(4), J=1e308)
    with pytest.raises(ValueError, match="J2 must be a finite real number, got nan"):
        Heisenberg(Chain(4), J2=float("nan"))
    assert Heisenberg(Chain(4), J=1e15).params["J"] == 1e15  # the bound itself is allowed


def test_observable_outside_the_model_or_with_nan_is_refused():
    model = Heisenberg(Chain(4))
    with pytest.raises(
        ValueError, match=r"observable 'far' acts on qubit 9, but model 'heisenberg' has 4 qubits"
    ):
        mb.solve(model, backend="exact", observables=[mb.Observable("far", QubitOperator("Z9"))])
    with pytest.raises(ValueError, match="observable 'bad' has non-finite coefficients"):
        mb.Observable("bad", QubitOperator("Z1", float("nan")))


def test_unknown_observable_lists_the_names_and_all(two_site):
    with pytest.raises(ValueError, match=r"allowed: \[.*'spin_correlations'.*\], or \"all\" for every one"):
        mb.solve(Heisenberg(Chain(4)), backend="exact", observables=["spin_correlation"])
    with pytest.raises(
        KeyError, match=r"no observable 'spin_correlation'.*available: \[.*'spin_correlations'"
    ):
        two_site.observables["spin_correlation"]


def test_estimate_repr_shows_the_values_of_small_families():
    est = mb.Estimate(np.array([0.25, -0.5]), np.array([0.0, 0.01]), axis_name="r")
    assert repr(est) == "Estimate(r: [0.25, -0.5] +/- [0, 0.01])"
    assert repr(mb.Estimate(np.array([1.0, 2.0]), np.zeros(2), axis_name="r")) == "Estimate(r: [1, 2])"
    long = repr(mb.Estimate(np.arange(20.0), np.zeros(20), axis_name="q"))
    assert long == "Estimate(q: [0, 1, 2, 3, 4, 5, 6, 7, ... (20 values)])"


def test_cli_messages(tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "manybody.cli", *args], capture_output=True, text=True)

    out = cli("--version")
    assert out.returncode == 0 and out.stdout.startswith("manybody ")
    out = cli("run", "x.toml", "--wokers", "2")  # a typo: run's usage, not the top-level one
    assert out.returncode == 2 and out.stderr.startswith("usage: manybody run ")
    assert "manybody run: error: unrecognized arguments: --wokers 2" in out.stderr
    out = cli("run", "x.toml", "--worker", "0")  # no abbreviations
    assert out.returncode == 2 and "unrecognized arguments: --worker 0" in out.stderr
    out = cli("status", str(tmp_path / "nothing"))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "no index.json" in out.stderr
    out = cli("status", str(tmp_path / "nothing"), "--debug")
    assert out.returncode != 0 and "Traceback" in out.stderr
