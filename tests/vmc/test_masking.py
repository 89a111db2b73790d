"""The constraint automaton is exact: it accepts a configuration iff every constraint holds,
and never leads a prefix into a dead end (checked by brute-force enumeration)."""

from __future__ import annotations

import numpy as np
import pytest

from manybody.constraints import LinearConstraint, ParityConstraint
from manybody.vmc.masking import ConstraintAutomaton

NAMES = [
    "heisenberg_sz",
    "hubbard_numbers",
    "quantum_link_gauss",
    "z2_gauss",
    "syk_parity",
    "toy_overlapping",
    "toy_overlapping_permuted",
]


@pytest.mark.parametrize("name", NAMES)
def test_automaton_accepts_exactly_the_sector(name, make_model, helpers):
    model = make_model(name)
    all_bits, satisfied = helpers["all_bits"], helpers["satisfied"]
    order = np.asarray(model.qubit_order)
    aut = ConstraintAutomaton(model.n_qubits, model.constraints, order)
    bits = all_bits(model.n_qubits)
    allowed = aut.allowed(bits[:, order])
    taken = np.take_along_axis(allowed, bits[:, order][..., None], axis=2)[..., 0]
    accepted = taken.all(axis=1)
    np.testing.assert_array_equal(accepted, satisfied(model, bits))
    # no dead end: along every accepted prefix at least one bit stays allowed
    prefix_ok = np.cumprod(taken, axis=1).astype(bool)
    live = np.concatenate([np.ones((len(bits), 1), bool), prefix_ok[:, :-1]], axis=1)
    assert allowed[live].any(axis=-1).all()


def test_jointly_impossible_constraints_raise():
    # each constraint alone is satisfiable, together they are not
    cons = [LinearConstraint("two", (0, 1), (1, 1), 2), ParityConstraint("even", (1,), 0)]
    with pytest.raises(ValueError, match="admit no configuration"):
        ConstraintAutomaton(2, cons, [0, 1])


def test_too_many_open_states_raise():
    # 12 parity constraints all left open by the order: 2^k distinct partial sums
    cons = [ParityConstraint(f"p{k}", (k, k + 12), 0) for k in range(12)]
    with pytest.raises(ValueError, match="cannot enforce"):
        ConstraintAutomaton(24, cons, np.arange(24), max_states=100)


def test_unknown_constraint_type_raises():
    with pytest.raises(ValueError, match="LinearConstraint, ParityConstraint"):
        ConstraintAutomaton(2, ["sum == 1"], [0, 1])


def test_bad_order_raises():
    with pytest.raises(ValueError, match="permutation"):
        ConstraintAutomaton(3, [], [0, 0, 1])
