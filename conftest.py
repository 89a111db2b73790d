"""One share of the cores per test process: BLAS/OpenMP threads of ``pytest -n N`` workers.

``pytest -n 2`` on the 2-core CI machine runs two worker processes, and each would otherwise start
a BLAS (OpenBLAS) and OpenMP (Aer) thread per core: four busy threads on two cores, whose
spin-waiting costs more CPU than the threads gain (tests/tensornet and tests/models at load 6:
114.6 s wall, 108.7 s CPU unpinned against 43.6 s and 38.5 s with one thread per process). Each
worker gets ``cores // workers`` threads (at least 1): the environment variables reach the
libraries loaded later (SciPy's own OpenBLAS, the notebooks' kernels, which inherit them);
threadpoolctl caps the BLAS already loaded (NumPy's, imported by a plugin before this file).
Variables set by the user are kept; a single process (plain ``pytest``) is not capped.

One on-disk XLA compilation cache per test session (``MANYBODY_COMPILATION_CACHE``, see
``manybody.vmc.driver.enable_compilation_cache``): a fresh temporary folder, made by the process
that imports this file first (``pytest`` itself, before it starts the xdist workers), which the
workers and the notebooks' kernels inherit through the environment; it is removed when that
process exits, so nothing is left in the repository or the home folder. The vmc tests and
notebooks compile the same kernels again in every worker, every notebook kernel and, after
``tests/conftest.py`` releases the compiled code, every test module: those compilations of at
least 0.2 s are then read back from the cache. A cache the user chose (``MANYBODY_COMPILATION_CACHE``
or ``JAX_COMPILATION_CACHE_DIR`` set, ``MANYBODY_COMPILATION_CACHE=0`` for none) is kept.

XLA, too, gets one thread per worker (``intra_op_parallelism_threads=1``, no multi-threaded Eigen)
and compiles without LLVM's optimisation passes (``--xla_backend_optimization_level=0``): the
vmc tests' networks are tiny, so their time is compilation, and LLVM's passes were half of it (the
SYK prefix-energy test: 19.1 s of compilation at the default level, 8.8 s at level 0). The passes
change how fast the machine code runs, not what it computes (no fast-math at either level; XLA's
own HLO optimisations are the same); only the default suite gets it (:func:`pytest_configure`).
The default suite on 2 cores, otherwise idle: 1240 s wall, 2321 s CPU without these flags, 623 s
and 1136 s with them. Flags the user set in ``XLA_FLAGS`` are kept.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

if "MANYBODY_COMPILATION_CACHE" not in os.environ and "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="manybody-test-xla-")
    os.environ["MANYBODY_COMPILATION_CACHE"] = _CACHE
    atexit.register(shutil.rmtree, _CACHE, ignore_errors=True)


def _add_xla_flags(*flags: str) -> None:
    """Append ``flags`` to ``XLA_FLAGS``, except those the user already set (by name)."""
    current = os.environ.get("XLA_FLAGS", "")
    new = [flag for flag in flags if flag.split("=")[0] not in current]
    os.environ["XLA_FLAGS"] = " ".join([current, *new]).strip()


def pytest_configure(config):
    """LLVM's optimisation passes off for the default suite (``-m 'not slow'``) only: the slow
    tests train real networks, whose run time those passes cut by about 3x (a 4x4 torus SR
    iteration at d_model 32: 0.9 s at the default level, 3 s at level 0)."""
    if (config.getoption("markexpr") or "").replace(" ", "") == "notslow":
        _add_xla_flags("--xla_backend_optimization_level=0")


_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))

if _WORKERS > 1:
    _THREADS = max(1, (os.cpu_count() or 1) // _WORKERS)
    for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_name, str(_THREADS))
    if _THREADS == 1:
        _add_xla_flags("--xla_cpu_multi_thread_eigen=false", "intra_op_parallelism_threads=1")
    from threadpoolctl import threadpool_limits

    threadpool_limits(int(os.environ["OPENBLAS_NUM_THREADS"]))
