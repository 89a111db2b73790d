"""Shared test fixtures: one small instance of every model.

A test that takes the argument ``small_model`` runs once per model family, on an
instance small enough for exact diagonalisation in milliseconds (at most 12
qubits), at the model's default parameters where they are small enough. The fixture
``openfermion_matrix`` gives OpenFermion's dense matrix of a qubit operator in
manybody's basis order: the independent reference of the compilers.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

SMALL_MODELS = {
    "heisenberg": lambda: _models().Heisenberg(_lattice().Chain(6)),
    "heisenberg_j1j2_square": lambda: _models().Heisenberg(_lattice().Square(2, 3), J2=0.5),
    "hubbard": lambda: _models().Hubbard(_lattice().Chain(4), U=4.0),
    "syk": lambda: _models().SYK(8, seed=1),
    "schwinger": lambda: _models().Schwinger(4),
    "quantum_link_1d": lambda: _models().QuantumLink1D(4),
    "quantum_link_2d": lambda: _models().QuantumLink2D(3, 2, pbc=False, charges=[0, 0.5, 0, 0, -0.5, 0]),
    "z2gauge": lambda: _models().Z2Gauge(2, 3, pbc=False),
}


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_code():
    """Drop JAX's compiled functions after each test module.

    The suite compiles thousands of kernels in one process; their memory mappings would
    otherwise reach the kernel's cap (``vm.max_map_count``), where XLA crashes.
    """
    yield
    if "jax" in sys.modules:
        from manybody.vmc.compiled import release_compiled_code

        release_compiled_code(0.0)


def _models():
    import manybody.models

    return manybody.models


def _lattice():
    import manybody.lattice

    return manybody.lattice


def pytest_generate_tests(metafunc):
    if "small_model" in metafunc.fixturenames:
        names = list(SMALL_MODELS)
        metafunc.parametrize("small_model", [SMALL_MODELS[n]() for n in names], ids=names)


def _openfermion_matrix(qop, n_qubits: int) -> np.ndarray:
    """OpenFermion's own dense matrix of a qubit operator, in manybody's basis order.

    OpenFermion makes qubit 0 the most significant bit; manybody (like Qiskit) the least
    significant, so the index bits are reversed.
    """
    from openfermion import get_sparse_operator

    dense = get_sparse_operator(qop, n_qubits=n_qubits).toarray()
    rev = np.array([int(format(s, f"0{n_qubits}b")[::-1], 2) for s in range(2**n_qubits)])
    return dense[np.ix_(rev, rev)]


@pytest.fixture
def openfermion_matrix():
    """``openfermion_matrix(qop, n_qubits)``: the independent dense reference of a qubit operator."""
    return _openfermion_matrix
