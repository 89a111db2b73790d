"""Writing files safely and JSON that round-trips: the one place for both.

Atomic writes
-------------
:func:`atomic_write` writes a file to a temporary sibling, flushes and
``fsync``s it, renames it over the target (``os.replace``, atomic on POSIX)
and ``fsync``s the folder, so that after a crash or a ``SIGKILL`` the target
holds either its old or its new content, never a part. :func:`atomic_folder`
does the same for a whole folder (a saved ``Result``): everything is written
into a temporary sibling folder, every file in it is ``fsync``ed, and the
folder is renamed into place.

File modes
----------
Every file written here gets mode ``FILE_MODE = 0o644`` and every folder
``DIR_MODE = 0o755`` (readable by the group and others, writable by the
owner: results on a shared cluster filesystem can be read by collaborators),
whatever the process's umask. Temporary files and folders start private
(``mkstemp``/``mkdtemp``) and are given these modes before they are renamed
into place.

JSON
----
:func:`to_jsonable` turns numpy scalars and arrays, complex numbers, paths,
tuples, sets and dataclasses into JSON types. Non-finite floats are written
as the tokens ``NaN``, ``Infinity`` and ``-Infinity`` (what Python's ``json``
and pandas read and write; strict JSON parsers such as ``jq`` refuse them).
Complex numbers are written as ``{"__complex__": [re, im]}``. :func:`load_json`
reads both back (``nan`` stays ``nan``, complex stays complex) and names the
file in its error when the content is not valid JSON.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = [
    "FILE_MODE",
    "DIR_MODE",
    "atomic_write",
    "atomic_folder",
    "to_jsonable",
    "dump_json",
    "write_json",
    "load_json",
    "loads_json",
]

FILE_MODE = 0o644
DIR_MODE = 0o755
_COMPLEX = "__complex__"


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _make_folder(folder: Path) -> None:
    """Create ``folder`` and missing parents with ``DIR_MODE`` (existing ones are left alone)."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for f in reversed(missing):
        with contextlib.suppress(FileExistsError):
            f.mkdir()
            os.chmod(f, DIR_MODE)


def atomic_write(path, data: str | bytes) -> Path:
    """Write ``data`` to ``path`` atomically and durably (see the module docstring).

    Parameters
    ----------
    path : str or Path
        The target file; missing parent folders are created (mode ``DIR_MODE``).
    data : str or bytes
        The content; text is encoded as UTF-8.

    Returns
    -------
    Path
        ``path``, with mode ``FILE_MODE``.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode()
    elif not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be str or bytes, got {type(data).__name__}")
    _make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    _fsync_folder(path.parent)
    return path


@contextlib.contextmanager
def atomic_folder(path):
    """Build a folder in a temporary sibling and rename it to ``path`` when the block ends.

    ::

        with atomic_folder("out/run") as tmp:
            (tmp / "a.json").write_text(...)

    On success every file and folder inside is ``fsync``ed and given
    ``FILE_MODE`` / ``DIR_MODE``, an existing ``path`` is replaced, and the
    parent folder is ``fsync``ed. If the block raises, the temporary folder is
    removed and ``path`` is untouched. Temporary names start with a dot
    (``.<name>.*``), so that a cleaner can recognise leftovers of a killed process.
    """
    path = Path(path)
    _make_folder(path.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        for folder, dirs, files in os.walk(tmp):
            for name in files:
                fd = os.open(os.path.join(folder, name), os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.chmod(os.path.join(folder, name), FILE_MODE)
            for name in dirs:
                os.chmod(os.path.join(folder, name), DIR_MODE)
            _fsync_folder(Path(folder))
        os.chmod(tmp, DIR_MODE)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / "x")
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
        _fsync_folder(path.parent)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def to_jsonable(obj, *, lossy: bool = False, where: str = "value"):
    """``obj`` as JSON types (see the module docstring for the encoding).

    Parameters
    ----------
    obj :
        dicts (keys become strings), lists, tuples, sets (sorted), numpy
        scalars and arrays, bool/int/float/str/None, complex, ``Path``,
        dataclass instances.
    lossy : bool
        What to do with any other object: False (default) raises ``TypeError``
        naming where it is; True writes its ``repr`` (for free-form information
        such as a backend's ``info``, where a description is better than nothing).
    where : str
        The name used for ``obj`` in error messages.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, lossy=lossy, where=f"{where}[{k!r}]") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, lossy=lossy, where=f"{where}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v, lossy=lossy, where=where) for v in sorted(obj, key=repr)]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), lossy=lossy, where=where)
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item(), lossy=lossy, where=where)
    if isinstance(obj, complex):
        return {_COMPLEX: [obj.real, obj.imag]}
    if isinstance(obj, Path):
        return str(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_jsonable(
            {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}, lossy=lossy, where=where
        )
    if lossy:
        return repr(obj)
    raise TypeError(f"{where}: cannot write a {type(obj).__name__} as JSON ({obj!r:.80})")


def dump_json(obj, *, lossy: bool = False, indent: int | None = 1, sort_keys: bool = False) -> str:
    """JSON text of ``to_jsonable(obj, lossy=lossy)`` (non-finite floats as ``NaN``/``Infinity``)."""
    return json.dumps(to_jsonable(obj, lossy=lossy), indent=indent, sort_keys=sort_keys, allow_nan=True)


def write_json(path, obj, *, lossy: bool = False) -> Path:
    """``atomic_write(path, dump_json(obj))``."""
    return atomic_write(path, dump_json(obj, lossy=lossy))


def _decode(obj: dict):
    if len(obj) == 1 and _COMPLEX in obj:
        re, im = obj[_COMPLEX]
        return complex(re, im)
    return obj


def loads_json(text: str):
    """Parse JSON text written by :func:`dump_json` (complex numbers restored)."""
    return json.loads(text, object_hook=_decode)


def load_json(path):
    """Read a JSON file written by :func:`write_json`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        The file is not valid JSON (truncated, corrupted); the message names it.
    """
    path = Path(path)
    try:
        text = path.read_text()
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a JSON text file ({err})") from None
    try:
        return loads_json(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: not valid JSON (truncated or corrupted?): {err}") from None
