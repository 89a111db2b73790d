"""Sweep files: grid expansion, deterministic ids, and one clear error per bad file."""

from pathlib import Path

import pytest

from manybody.cli import main
from manybody.jobs import SweepError, load_sweep, parse_sweep, point_id
from manybody.lattice import Chain
from manybody.models import Heisenberg

BASE = """
[model]
name = "heisenberg"
lattice = {kind = "chain", L = 6, pbc = false}
"""


def test_product_zip_ranges_and_nested_axes(write_sweep):
    sweep = load_sweep(
        write_sweep(
            BASE
            + """
            [grid]
            J2 = {start = 0.0, stop = 0.3, num = 4}
            h = [0.0, 0.1, 0.2, 0.3]
            "lattice.L" = {start = 4, stop = 8, step = 2}
            zip = [["J2", "h"]]
            [backends.exact]
            [backends.exact2]
            backend = "exact"
            n_states = 2
            """
        )
    )
    assert sweep.axes["J2"] == [0.0, 0.1, 0.2, 0.3]
    assert sweep.axes["lattice.L"] == [4, 6]
    assert sweep.groups == [["J2", "h"], ["lattice.L"]]
    # 4 zipped (J2, h) values x 2 sizes x 2 backends
    assert len(sweep.points) == 16
    combos = {(p.params["J2"], p.params["h"], p.params["lattice.L"]) for p in sweep.points}
    assert combos == {(v, v, L) for v in (0.0, 0.1, 0.2, 0.3) for L in (4, 6)}
    p = sweep.points[-1]
    assert p.model == Heisenberg(Chain(6), J2=0.3, h=0.3).to_dict()
    assert p.backend == "exact" and p.label == "exact2" and p.options == {"n_states": 2}
    assert p.observables == Heisenberg(Chain(6)).default_observables
    assert len({q.id for q in sweep.points}) == 16


def test_ids_are_deterministic_and_canonical(write_sweep):
    a = load_sweep(write_sweep(BASE + "[grid]\nJ2 = [0, 1]\n[backends.exact]\n", "a.toml"))
    b = load_sweep(write_sweep(BASE + "[grid]\nJ2 = [0.0, 1.0]\n[backends.exact]\n", "b.toml"))
    assert [p.id for p in a.points] == [p.id for p in b.points]
    model = Heisenberg(Chain(6), J2=1.0).to_dict()
    assert a.points[1].id == point_id(model, "exact", {}, a.points[1].observables)
    assert point_id(model, "exact", {"n_states": 2}, []) != point_id(model, "exact", {}, [])


def test_single_point_without_grid():
    sweep = parse_sweep(
        {"model": {"name": "heisenberg", "lattice": {"kind": "chain", "L": 4}}, "backends": {"exact": {}}}
    )
    assert len(sweep.points) == 1 and sweep.points[0].params == {}


BAD = {
    "unknown model": (
        '[model]\nname = "isingg"\n[backends.exact]\n',
        r"\[model\] name: unknown model 'isingg'",
    ),
    "unknown top key": (
        BASE + "[backends.exact]\n[grids]\nJ2 = [0.1]\n",
        r"unknown key\(s\) \['grids'\] in top level",
    ),
    "unknown model parameter": (
        BASE + "J3 = 1.0\n[backends.exact]\n",
        r"unknown key\(s\) \['J3'\] in \[model\]",
    ),
    "unknown grid axis": (
        BASE + "[grid]\nJ3 = [1.0]\n[backends.exact]\n",
        r"\[grid\] J3: 'J3' is not a parameter",
    ),
    "unknown backend": (BASE + "[backends.exactt]\n", r"\[backends.exactt\]: unknown backend 'exactt'"),
    "unknown backend option": (
        BASE + "[backends.exact]\nmax_bond = 3\n",
        r"\[backends.exact\]: unknown option",
    ),
    "unknown run key": (
        BASE + "[backends.exact]\n[run]\nworker = 2\n",
        r"unknown key\(s\) \['worker'\] in \[run\]",
    ),
    "empty axis": (BASE + "[grid]\nJ2 = []\n[backends.exact]\n", r"\[grid\] J2 is empty"),
    "empty range": (BASE + "[grid]\nJ2 = {start = 1, stop = 0}\n[backends.exact]\n", r"\[grid\] J2 is empty"),
    "grid without axes": (BASE + "[grid]\n[backends.exact]\n", r"\[grid\] has no axes"),
    "wrong type of parameter": (BASE + 'J2 = "big"\n[backends.exact]\n', r"J2 must be a finite real number"),
    "wrong type of axis": (BASE + "[grid]\nJ2 = 0.5\n[backends.exact]\n", r"\[grid\] J2 must be a list"),
    "wrong type of option": (
        BASE + "[backends.exact]\nn_states = 1.5\n",
        r"n_states must be an integer >= 1",
    ),
    "wrong type of run option": (
        BASE + '[backends.exact]\n[run]\nworkers = "two"\n',
        r"\[run\] workers must be",
    ),
    "wrong type of output": (
        BASE.replace("[model]", "output = 3\n[model]") + "[backends.exact]\n",
        r"output must be",
    ),
    "zip lengths": (
        BASE + '[grid]\nJ2 = [0, 1]\nh = [0]\nzip = [["J2", "h"]]\n[backends.exact]\n',
        r"zip: axes zipped together need equal lengths",
    ),
    "unknown observable": (
        'observables = ["magnetisation"]\n' + BASE + "[backends.exact]\n",
        r"unknown observable",
    ),
    "warm start unsupported": (
        BASE + "[grid]\nJ2 = [0, 1]\n[backends.exact]\nwarm_start = true\n",
        r"\[backends.exact\] warm_start: backend 'exact' does not start from a previous result",
    ),
    "shared checkpoint folder": (
        BASE + '[backends.vmc]\ncheckpoint_dir = "ckpt"\n',
        r"\[backends.vmc\] checkpoint_dir: a sweep gives each point its own",
    ),
    "too large for the backend": (
        BASE.replace("L = 6", "L = 40") + "[backends.exact]\n",
        r"at most \d+ qubits",
    ),
    "no backends": (BASE, r"missing \[backends\]"),
    "invalid toml": ("[model\n", r"not valid TOML"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_sweep_files_name_the_key(write_sweep, case):
    text, message = BAD[case]
    path = write_sweep(text)
    with pytest.raises(SweepError, match=message) as info:
        load_sweep(path)
    assert str(info.value).startswith(f"{path}: ")
    assert "\n" not in str(info.value)


def test_cli_reports_a_bad_file_in_one_line(write_sweep, capsys):
    path = write_sweep(BASE + "[grid]\nJ2 = []\n[backends.exact]\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"manybody run: error: {path}: [grid] J2 is empty: give at least one value"


EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.toml"))


def test_example_sweep_files_are_valid():
    assert len(EXAMPLES) >= 4
    for path in EXAMPLES:
        sweep = load_sweep(path)
        assert sweep.points and sweep.output == f"results/{path.stem}", path


def test_dry_run_lists_points_and_runs_nothing(write_sweep, tmp_path, capsys):
    path = write_sweep(BASE + '[grid]\nJ2 = [0.0, 0.5]\n"lattice.L" = [4, 6]\n[backends.exact]\n')
    out = tmp_path / "res"
    assert main(["run", str(path), "--out", str(out), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sweep: 4 points in 4 tasks, model 'heisenberg'")
    assert [line.split()[1:] for line in lines[1:]] == [
        ["exact", "pending", "J2=0.0,", "lattice.L=4"],
        ["exact", "pending", "J2=0.0,", "lattice.L=6"],
        ["exact", "pending", "J2=0.5,", "lattice.L=4"],
        ["exact", "pending", "J2=0.5,", "lattice.L=6"],
    ]
    assert not out.exists()


def test_cli_and_jobs_import_no_heavy_library():
    import subprocess
    import sys

    heavy = ["jax", "netket", "quimb", "qiskit", "openfermion", "dask", "distributed", "matplotlib", "tqdm"]
    code = f"import sys, manybody.cli, manybody.jobs; print([m for m in {heavy} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
