"""Sweeps with an ``[evolve]`` table: every point is a real-time evolution.

References: ``manybody.evolve`` called directly on the same model, initial state and
times (the stored series must equal it: 1e-12 for exact, whose run is deterministic),
and the exact evolution for the MPS (TDVP without truncation at L = 6: 1e-6).
"""

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

import manybody as mb
from manybody.backends import _REGISTRY, backend_spec, register_backend
from manybody.cli import main
from manybody.evolution import Evolution
from manybody.exact import ExactBackend
from manybody.jobs import Store, parse_sweep, sweep_table
from manybody.lattice import Chain
from manybody.models import Heisenberg

TIMES = [0.0, 0.25, 0.5, 1.0]
OBSERVABLES = ["staggered_magnetization_sq", "spin_correlations"]
DMRG = backend_spec("dmrg").evolve_options is not None
BACKENDS = "[backends.exact]\n" + ("[backends.dmrg]\ndt = 0.25\n" if DMRG else "")


def evolve_sweep(
    write_sweep, evolve='initial = "neel"\ntimes = {start = 0.0, stop = 1.0, num = 3}', L=6, head=""
):
    """A Heisenberg chain over J = 0.5, 1 with the ``[evolve]`` table ``evolve`` (no backends yet)."""
    return write_sweep(
        f"""
        {head}
        observables = {OBSERVABLES}
        [model]
        name = "heisenberg"
        lattice = {{kind = "chain", L = {L}, pbc = false}}
        [grid]
        J = [0.5, 1.0]
        [evolve]
        {evolve}
        """
    )


def append(path, text):
    path.write_text(path.read_text() + text)
    return path


def test_evolve_sweep_series_equal_direct_evolve_table_plot_rerun(write_sweep, tmp_path, capsys):
    sweep = append(evolve_sweep(write_sweep, f'initial = "neel"\ntimes = {TIMES}'), BACKENDS)
    out = tmp_path / "res"
    n = 4 if DMRG else 2
    # in this process (the spawned workers of test_run.py run the same run_task)
    assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    assert f"{n} run: {n} succeeded, 0 failed" in capsys.readouterr().out

    store = Store(out)
    exact_series = {}
    for p in store.points():
        assert store.state(p.id) == "done"
        assert sorted(f.name for f in store.result_dir(p.id).iterdir()) == ["evolution.json", "series.npz"]
        ev = store.load(p.id)
        assert isinstance(ev, Evolution) and ev.info["sweep_point"]["id"] == p.id
        option, value = ("dt", 0.25) if p.backend == "dmrg" else ("entropy", True)
        assert ev.options[option] == value  # the evolution options of the sweep file
        model = Heisenberg(Chain(6), J=p.params["J"])
        options = {"dt": 0.25} if p.backend == "dmrg" else {}
        ref = mb.evolve(model, "neel", TIMES, backend=p.backend, observables=OBSERVABLES, **options)
        tol = 1e-12 if p.backend == "exact" else 1e-10  # the same computation: equal up to rounding
        np.testing.assert_array_equal(ev.times, TIMES)
        np.testing.assert_allclose(ev.energy.mean, ref.energy.mean, rtol=0, atol=tol)
        for name in OBSERVABLES:
            np.testing.assert_allclose(
                ev.observables[name].mean, ref.observables[name].mean, rtol=0, atol=tol
            )
        np.testing.assert_allclose(ev.loschmidt_echo, ref.loschmidt_echo, rtol=0, atol=tol)
        np.testing.assert_allclose(ev.entropy, ref.entropy, rtol=0, atol=tol)
        if p.backend == "exact":
            exact_series[p.params["J"]] = ev
    for p in store.points():  # the MPS series against exact (independent reference)
        if p.backend == "dmrg":
            ev, ref = store.load(p.id), exact_series[p.params["J"]]
            for name in OBSERVABLES:
                np.testing.assert_allclose(ev.observables[name].mean, ref.observables[name].mean, atol=1e-6)
            np.testing.assert_allclose(ev.energy.mean, ref.energy.mean, atol=1e-6)

    assert main(["status", str(out)]) == 0
    assert f"{n} done, 0 failed, 0 pending" in capsys.readouterr().out
    assert main(["table", str(out), "--format", "csv"]) == 0
    captured = capsys.readouterr()
    assert "values at the final time t_final = 1" in captured.err
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert len(rows) == n
    for row in rows:
        ev = store.load(row["id"])
        assert float(row["t_final"]) == 1.0 and row["status"] == "done"
        assert float(row["energy"]) == pytest.approx(ev.energy.mean[-1], abs=1e-12)
        assert float(row["staggered_magnetization_sq"]) == pytest.approx(
            ev.observables["staggered_magnetization_sq"].mean[-1], abs=1e-12
        )
        assert float(row["loschmidt_echo"]) == pytest.approx(ev.loschmidt_echo[-1], abs=1e-12)
        assert "spin_correlations" not in row  # a family: not a column

    figures = {"vs_time": [], "final": ["--x", "J"], "family": ["--family", "spin_correlations"]}
    for name, extra in figures.items():
        path = tmp_path / f"{name}.png"
        assert main(["plot", str(out), "-o", str(path), *extra]) == 0
        assert capsys.readouterr().out.strip() == str(path)
        assert path.stat().st_size > 10_000
    assert main(["plot", str(out), "--y", "energy,loschmidt_echo", "-o", str(tmp_path / "two.png")]) == 0
    assert main(["plot", str(out), "--y", "nonsense"]) == 2
    assert "unknown quantity ['nonsense']" in capsys.readouterr().err

    mtimes = {p.id: (store.result_dir(p.id) / "series.npz").stat().st_mtime_ns for p in store.points()}
    assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    assert f"{n} skipped (already done or failed), 0 run" in capsys.readouterr().out
    assert {
        p.id: (store.result_dir(p.id) / "series.npz").stat().st_mtime_ns for p in store.points()
    } == mtimes


@pytest.mark.parametrize(
    "damage", ["flipped byte in series.npz", "truncated evolution.json", "no series.npz"]
)
def test_damaged_evolution_is_corrupt_and_recomputed(write_sweep, tmp_path, capsys, damage):
    sweep = append(evolve_sweep(write_sweep, L=4), "[backends.exact]\nentropy = false\n")
    out = tmp_path / "res"
    assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    store = Store(out)
    victim = store.points()[0]
    folder = store.result_dir(victim.id)
    good = store.load(victim.id)
    assert good.entropy is None  # the evolution option reached the backend
    if damage == "flipped byte in series.npz":
        data = bytearray((folder / "series.npz").read_bytes())
        with zipfile.ZipFile(folder / "series.npz") as z:
            data[z.start_dir - 1] ^= 0xFF  # the last byte of the last array
        (folder / "series.npz").write_bytes(bytes(data))
    elif damage == "truncated evolution.json":
        text = (folder / "evolution.json").read_text()
        (folder / "evolution.json").write_text(text[: len(text) // 2])
    else:
        (folder / "series.npz").unlink()
    assert store.state(victim.id) == "corrupt"
    capsys.readouterr()
    assert main(["status", str(out)]) == 0
    assert f"corrupt {victim.id}" in capsys.readouterr().out
    assert [r["status"] for r in sweep_table(out)] == ["corrupt", "done"]
    assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 0
    assert "1 skipped (already done or failed), 1 run: 1 succeeded" in capsys.readouterr().out
    again = store.load(victim.id)
    for name in OBSERVABLES:
        np.testing.assert_allclose(
            again.observables[name].mean, good.observables[name].mean, rtol=0, atol=1e-12
        )


class FailingEvolution(ExactBackend):
    """The exact backend, except that evolving a chain with J = 0.5 raises."""

    name = "failing_evolution"

    def evolve(self, model, initial, times, options):
        if model.to_dict()["J"] == 0.5:
            raise RuntimeError("no evolution at J = 0.5")
        yield from super().evolve(model, initial, times, options)


def test_failed_evolution_is_recorded_and_others_continue(write_sweep, tmp_path, capsys):
    register_backend(
        "failing_evolution",
        FailingEvolution,
        options="manybody.exact:ExactOptions",
        evolve_options="manybody.exact:ExactEvolveOptions",
    )
    try:
        sweep = append(evolve_sweep(write_sweep, L=4), "[backends.failing_evolution]\n")
        out = tmp_path / "res"
        assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 1
        assert "2 run: 1 succeeded, 1 failed" in capsys.readouterr().out
        store = Store(out)
        status = store.status()
        assert [p.params for p in status["failed"]] == [{"J": 0.5}]
        assert [p.params for p in status["done"]] == [{"J": 1.0}]
        record = store.failure(status["failed"][0].id)
        assert record["error"] == "RuntimeError: no evolution at J = 0.5" and record["cause"] == "error"
        assert main(["run", str(sweep), "--out", str(out), "--workers", "0", "--no-progress"]) == 1
        assert "2 skipped (already done or failed), 0 run" in capsys.readouterr().out
        assert [r["status"] for r in sweep_table(out)] == ["failed", "done"]
    finally:
        _REGISTRY.pop("failing_evolution")


def test_dry_run_of_the_example_names_the_evolution(capsys):
    example = Path(__file__).parents[2] / "examples" / "heisenberg_quench.toml"
    assert main(["run", str(example), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("heisenberg_quench: 6 points in 6 tasks")
    assert lines[1] == "  evolve from 'neel': 26 times in [0, 5]"
    assert sorted(line.split()[1] for line in lines[2:]) == ["dmrg"] * 3 + ["exact"] * 3


def sweep_dict(evolve, backends=None):
    data = {
        "model": {"name": "heisenberg", "lattice": {"kind": "chain", "L": 4, "pbc": False}},
        "grid": {"J": [1.0]},
        "backends": backends or {"exact": {}},
    }
    if evolve is not None:
        data["evolve"] = evolve
    return data


def test_point_ids_include_the_evolve_table():
    def ids(evolve):
        return [p.id for p in parse_sweep(sweep_dict(evolve)).points]

    base = ids({"initial": "neel", "times": [0.0, 0.5, 1.0]})
    assert ids({"initial": "neel", "times": {"start": 0, "stop": 1, "num": 3}}) == base  # the same times
    assert ids({"initial": "0101", "times": [0.0, 0.5, 1.0]}) != base  # another name of the Neel state
    assert ids({"initial": "neel", "times": [0.0, 0.5, 2.0]}) != base
    assert ids(None) != base  # the ground state of the same model


NEEL = 'initial = "neel"'
TIMES_OK = "times = [0.0, 1.0]"


@pytest.mark.parametrize(
    "evolve, backends, message",
    [
        (f"{NEEL}\n{TIMES_OK}\ntmax = 5", "[backends.exact]", "unknown key(s) ['tmax'] in [evolve]"),
        (NEEL, "[backends.exact]", "[evolve] times is missing"),
        (TIMES_OK, "[backends.exact]", "[evolve] initial is missing"),
        (f"initial = 5\n{TIMES_OK}", "[backends.exact]", "[evolve] initial must be a bit string"),
        (
            f'initial = "up"\n{TIMES_OK}',
            "[backends.exact]",
            "[evolve] initial: initial must be a bit string or list of 4 bits",
        ),
        (f'initial = "0000"\n{TIMES_OK}', "[backends.exact]", "violates the constraint 'total_sz'"),
        (
            f"{NEEL}\ntimes = [1.0, 0.5]",
            "[backends.exact]",
            "[evolve] times must be a non-empty, non-decreasing",
        ),
        (f"{NEEL}\ntimes = []", "[backends.exact]", "[evolve] times is empty"),
        (f"{NEEL}\ntimes = {{start = -1, stop = 1, num = 3}}", "[backends.exact]", ">= 0"),
        (
            f"{NEEL}\ntimes = {{start = 0, stop = 1, num = 3, dt = 1}}",
            "[backends.exact]",
            "[evolve] times (a range)",
        ),
        (
            f"{NEEL}\n{TIMES_OK}",
            "[backends.exact]\nn_states = 2",
            "[backends.exact]: unknown option(s) ['n_states']",
        ),
        (
            f"{NEEL}\n{TIMES_OK}",
            'plugins = ["@PROBE@"]\n[backends.probe]',
            "[backends.probe]: backend 'probe' does not evolve states",
        ),
        (
            f"{NEEL}\n{TIMES_OK}",
            '[backends.exact]\nwarm_start = "J"',
            "[backends.exact] warm_start: evolution points start from [evolve] initial",
        ),
    ],
)
def test_bad_evolve_tables_are_refused_naming_the_key(
    write_sweep, tmp_path, capsys, evolve, backends, message
):
    head, _, backends = backends.rpartition("\n[")  # top-level keys go before the tables
    sweep = evolve_sweep(write_sweep, evolve, L=4, head=head)
    append(sweep, "[" + backends.lstrip("[") + "\n")
    assert main(["run", str(sweep), "--out", str(tmp_path / "res"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"manybody run: error: {sweep}: ") and err.count("\n") == 1, err
    assert message in err, err
    assert not (tmp_path / "res").exists()
