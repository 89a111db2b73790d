"""manybody.io: atomic writes, file modes, and JSON that round-trips non-finite and complex numbers."""

import dataclasses
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from manybody.io import (
    DIR_MODE,
    FILE_MODE,
    atomic_folder,
    atomic_write,
    dump_json,
    load_json,
    to_jsonable,
    write_json,
)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_json_round_trips_non_finite_complex_numpy_and_dataclasses(tmp_path):
    @dataclasses.dataclass
    class Opt:
        a: float = math.nan
        b: tuple = (1, 2)

    data = {
        "nan": float("nan"),
        "inf": np.float64(np.inf),
        "minus_inf": -math.inf,
        "z": 1.5 - 2j,
        "array": np.array([1.0, np.nan, np.inf]),
        "complex_array": np.array([1j, 2.0]),
        "int": np.int32(7),
        "path": Path("/a/b"),
        "opt": Opt(),
        3: "key",
    }
    back = load_json(write_json(tmp_path / "x.json", data))
    assert math.isnan(back["nan"]) and back["inf"] == math.inf and back["minus_inf"] == -math.inf
    assert back["z"] == 1.5 - 2j and isinstance(back["z"], complex)
    assert back["array"][0] == 1.0 and math.isnan(back["array"][1]) and back["array"][2] == math.inf
    assert back["complex_array"] == [1j, 2 + 0j]
    assert back["int"] == 7 and back["path"] == "/a/b" and back["3"] == "key"
    assert math.isnan(back["opt"]["a"]) and back["opt"]["b"] == [1, 2]
    # Python's own reader understands the file too (NaN/Infinity tokens)
    assert math.isnan(json.loads((tmp_path / "x.json").read_text())["nan"])


def test_unknown_objects_are_refused_unless_lossy():
    with pytest.raises(TypeError, match=r"options\['w'\].*object"):
        to_jsonable({"w": object()}, where="options")
    assert to_jsonable({"w": object()}, lossy=True)["w"].startswith("<object object")
    assert "NaN" in dump_json([float("nan")])


def test_load_json_names_the_file_of_a_truncated_json(tmp_path):
    path = tmp_path / "t.json"
    path.write_text('{"energy": 1.0, "x"')
    with pytest.raises(ValueError, match=r"t\.json: not valid JSON"):
        load_json(path)


def test_atomic_write_modes_and_no_leftovers(tmp_path):
    old = os.umask(0o077)  # a private umask does not make results unreadable to the group
    try:
        path = atomic_write(tmp_path / "new" / "deep" / "f.txt", "hello")
        atomic_write(path, b"bytes")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"bytes"
    assert mode(path) == FILE_MODE and mode(tmp_path / "new") == DIR_MODE
    assert mode(tmp_path / "new" / "deep") == DIR_MODE
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]
    with pytest.raises(TypeError, match="str or bytes"):
        atomic_write(path, 3)


def test_atomic_folder_replaces_or_leaves_untouched(tmp_path):
    target = tmp_path / "res"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("1")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("2")
    assert (target / "a.txt").read_text() == "1" and mode(target) == DIR_MODE
    assert mode(target / "sub") == DIR_MODE and mode(target / "sub" / "b.txt") == FILE_MODE
    with pytest.raises(RuntimeError), atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("half")
        raise RuntimeError("killed")
    assert (target / "a.txt").read_text() == "1"
    with atomic_folder(target) as tmp:
        (tmp / "c.txt").write_text("3")
    assert sorted(p.name for p in target.iterdir()) == ["c.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["res"]  # no temporary siblings left
