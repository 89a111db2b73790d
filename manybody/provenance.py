"""Provenance recorded with every result: package versions, git commit, device."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

__all__ = ["package_versions", "git_commit"]

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


def git_commit() -> str | None:
    """The commit of the manybody source tree, if it is a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None
