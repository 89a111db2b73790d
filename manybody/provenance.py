"""Provenance recorded with every result: package versions, git commit, device."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["package_versions", "git_commit", "git_dirty"]

_PACKAGES = (
    "manybody",
    "numpy",
    "scipy",
    "openfermion",
    "jax",
    "netket",
    "flax",
    "optax",
    "quimb",
    "qiskit",
    "qiskit-aer",
    "qiskit-ibm-runtime",
)


def package_versions() -> dict[str, str]:
    """Versions of Python and the installed scientific packages."""
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _git(*args: str) -> str | None:
    """Output of ``git -C <source folder> args`` (None if git or the checkout is missing)."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "-C", str(here), *args], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout if out.returncode == 0 else None


def git_commit() -> str | None:
    """The commit of the manybody source tree, if it is a git checkout."""
    out = _git("rev-parse", "HEAD")
    return out.strip() or None if out is not None else None


def git_dirty() -> bool | None:
    """Whether tracked files of the source tree differ from ``git_commit()`` (uncommitted
    changes: the commit alone does not reproduce the run); None if not a git checkout."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else bool(out.strip())
