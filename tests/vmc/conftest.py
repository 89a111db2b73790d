"""Shared helpers of the VMC tests: small hand-made constrained models and enumeration."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.model import Model
from manybody.vmc import make_vstate


class ToyModel(Model):
    """A few qubits with a transverse-field Ising Hamiltonian and arbitrary constraints (unregistered)."""

    name = ""

    def __init__(self, n, constraints, order=None):
        self._n, self._constraints = n, list(constraints)
        self._order = np.arange(n) if order is None else np.asarray(order)
        self.params = {"n": n}

    @property
    def n_qubits(self):
        return self._n

    @property
    def constraints(self):
        return self._constraints

    @property
    def qubit_order(self):
        return self._order

    def build_hamiltonian(self):
        from openfermion import QubitOperator

        h = QubitOperator()
        for q in range(self._n - 1):
            h += QubitOperator(f"Z{q} Z{q + 1}", 1.0) + QubitOperator(f"X{q} X{q + 1}", 0.5)
        return h + QubitOperator(f"X0 X{self._n - 1}", 0.3) + QubitOperator("Z0", 0.2)


def all_bits(n: int) -> np.ndarray:
    """Every configuration of n bits, (2^n, n), qubit q = column q."""
    return np.array(list(itertools.product((0, 1), repeat=n)))[:, ::-1].copy()


def perturb(vs, seed, scale=0.5):
    """Shift every parameter of ``vs`` (in place) by ``scale`` times a standard normal.

    Drawn by NumPy: ``jax.random.normal`` compiled one kernel per parameter shape (about 20 per
    network, 0.3 s each, again in every test module after the compiled code is released).
    """
    rng = np.random.default_rng(seed)
    vs.parameters = jax.tree_util.tree_map(
        lambda x: jnp.asarray((np.asarray(x) + scale * rng.standard_normal(x.shape)).astype(x.dtype)),
        vs.parameters,
    )
    return vs


def perturbed_vstate(model, config, n_samples=64, seed=0, scale=0.5):
    """An MCState of ``model`` (the transformer ``config``, 2 heads unless given) with every parameter
    shifted by ``scale`` times a standard normal, so that the conditionals are far from uniform."""
    vs = make_vstate(model, {"n_qubits": model.n_qubits, "n_heads": 2, **config}, n_samples, seed)
    return perturb(vs, seed + 11, scale)


def satisfied(model, bits) -> np.ndarray:
    ok = np.ones(len(bits), dtype=bool)
    for c in model.constraints:
        ok &= c.satisfied(bits)
    return ok


OVERLAPPING = [
    # two linear constraints sharing qubits: interval feasibility of each is not joint feasibility
    LinearConstraint("a", (0, 1, 2, 3), (1, 1, 1, 1), 2),
    LinearConstraint("b", (2, 3, 4, 5), (1, 2, 1, 2), 3),
    ParityConstraint("p", (0, 5, 6), 1),
]


def _models():
    from manybody.lattice import Chain
    from manybody.models import SYK, Heisenberg, Hubbard, QuantumLink1D, Z2Gauge

    return {
        "heisenberg_sz": lambda: Heisenberg(Chain(8)),
        "hubbard_numbers": lambda: Hubbard(Chain(4)),
        "quantum_link_gauss": lambda: QuantumLink1D(6),
        "z2_gauss": lambda: Z2Gauge(3, 2, pbc=False),
        "syk_parity": lambda: SYK(12),
        "toy_overlapping": lambda: ToyModel(7, OVERLAPPING),
        "toy_overlapping_permuted": lambda: ToyModel(7, OVERLAPPING, order=[6, 2, 0, 5, 1, 4, 3]),
    }


CONSTRAINED_MODELS = list(_models())


@pytest.fixture
def make_model():
    """``make_model(name)`` for a name in ``CONSTRAINED_MODELS``."""
    return lambda name: _models()[name]()


@pytest.fixture
def helpers():
    return {
        "all_bits": all_bits,
        "satisfied": satisfied,
        "ToyModel": ToyModel,
        "perturbed_vstate": perturbed_vstate,
        "perturb": perturb,
    }
