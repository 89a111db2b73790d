"""Shared test fixtures: one small instance of every model.

A test that takes the argument ``small_model`` runs once per model family, on an
instance small enough for exact diagonalisation in milliseconds (at most 12
qubits), at the model's default parameters where they are small enough.
"""

from __future__ import annotations

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
