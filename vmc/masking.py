"""Exact masking of autoregressive conditionals by a constraint automaton.

The network samples the qubits one at a time in the model's 1D order
(``model.qubit_order``). A prefix of sampled bits must never lead to a dead
end: several overlapping constraints (two particle numbers, Gauss's law at
every vertex) can each be satisfiable on their own while no completion
satisfies all of them. Interval checks per constraint are therefore not
enough; instead we build a finite automaton once, in numpy, before any
training:

* the *state* after ``t`` sampled qubits is the tuple of partial sums of the
  constraints that are open at ``t`` (some but not all of their qubits
  sampled); constraints close when their last qubit is sampled and must then
  hold exactly;
* a forward pass enumerates the reachable states step by step, a backward
  pass keeps those from which the end (all constraints satisfied) is
  reachable.

``transitions[t, s, b]`` is the index of the state after sampling bit ``b``
at step ``t`` from state ``s``, or ``-1`` if no completion satisfies every
constraint. Guarantee: a prefix has non-zero probability under the masked
network if and only if it extends to a configuration satisfying every
constraint, so the sampler never reaches a dead end and the total weight
outside the sector is exactly zero. The number of automaton states is the
number of distinct open partial sums; it stays small when the 1D order
resolves each constraint soon after it starts (Luo et al., Phys. Rev.
Research 5, 013216 (2023): order the links so that each vertex constraint is
closed when its last link is sampled). Orders that leave too many constraints
open at once exceed ``max_states`` and raise ``ValueError``.
"""

from __future__ import annotations

import numpy as np

from manybody.constraints import LinearConstraint, ParityConstraint

__all__ = ["ConstraintAutomaton", "DEFAULT_MAX_STATES"]

DEFAULT_MAX_STATES = 20000
_DIGITS = 9


class ConstraintAutomaton:
    """The feasibility automaton of ``constraints`` along ``order``.

    Parameters
    ----------
    n_qubits : int
    constraints : list of LinearConstraint / ParityConstraint
    order : sequence of int
        The qubits in sampling order (a permutation of ``range(n_qubits)``).
    max_states : int
        Largest number of automaton states allowed at one step.

    Attributes
    ----------
    transitions : ndarray of int32, shape (n_qubits, n_states, 2)
        Next state index, or -1 for a prefix with no valid completion.
    n_states : ndarray of int
        Number of live states before each step (``n_states[0] == 1``).
    """

    def __init__(self, n_qubits: int, constraints, order, max_states: int = DEFAULT_MAX_STATES):
        order = np.asarray(order, dtype=int)
        if sorted(order.tolist()) != list(range(n_qubits)):
            raise ValueError(f"order must be a permutation of range({n_qubits}), got {order.tolist()}")
        self.n_qubits = n_qubits
        self.constraints = list(constraints)
        position = np.empty(n_qubits, dtype=int)
        position[order] = np.arange(n_qubits)
        # coeffs[t]: list of (constraint index, weight) touched by the qubit sampled at step t
        coeffs = [[] for _ in range(n_qubits)]
        first, last, modulus, target = [], [], [], []
        for k, c in enumerate(self.constraints):
            if isinstance(c, ParityConstraint):
                weights, mod, value = (1.0,) * len(c.qubits), 2, float(c.parity)
            elif isinstance(c, LinearConstraint):
                weights, mod, value = c.weights, None, c.value
            else:
                raise ValueError(
                    f"constraint {getattr(c, 'name', c)!r} of type {type(c).__name__} cannot be enforced "
                    "by the VMC network; allowed: LinearConstraint, ParityConstraint"
                )
            steps = [int(position[q]) for q in c.qubits]
            if not steps:
                if (mod is None and abs(value) > 1e-9) or (mod == 2 and value % 2):
                    raise ValueError(f"constraint {c.name!r} on no qubits can never hold")
                first.append(n_qubits)
                last.append(-1)
            else:
                first.append(min(steps))
                last.append(max(steps))
            modulus.append(mod)
            target.append(value)
            for s, w in zip(steps, weights):
                coeffs[s].append((k, float(w)))
        # remaining[t][k]: (min, max) of constraint k's sum over qubits sampled at steps >= t
        self._coeffs, self._last, self._modulus, self._target = coeffs, last, modulus, target
        self._ranges = self._remaining_ranges(coeffs, len(self.constraints))
        layers = self._forward(max_states)
        self._backward(layers)

    @staticmethod
    def _remaining_ranges(coeffs, n_constraints):
        lo = np.zeros((len(coeffs) + 1, n_constraints))
        hi = np.zeros((len(coeffs) + 1, n_constraints))
        for t in range(len(coeffs) - 1, -1, -1):
            lo[t], hi[t] = lo[t + 1], hi[t + 1]
            for k, w in coeffs[t]:
                lo[t, k] += min(w, 0.0)
                hi[t, k] += max(w, 0.0)
        return lo, hi

    def _step(self, state: tuple, t: int, bit: int):
        """The state after sampling ``bit`` at step ``t``, or None if a constraint is violated."""
        sums = dict(state)
        if bit:
            for k, w in self._coeffs[t]:
                sums[k] = round(sums.get(k, 0.0) + w, _DIGITS)
                if self._modulus[k]:
                    sums[k] %= self._modulus[k]
        else:
            for k, _ in self._coeffs[t]:
                sums.setdefault(k, 0.0)
        lo, hi = self._ranges
        out = []
        for k, v in sums.items():
            if self._modulus[k]:
                if self._last[k] == t and abs(v - self._target[k]) > 1e-9:
                    return None
            elif not lo[t + 1, k] - 1e-9 <= self._target[k] - v <= hi[t + 1, k] + 1e-9:
                return None
            if self._last[k] > t:
                out.append((k, v))
        return tuple(sorted(out))

    def _forward(self, max_states):
        layers = [{(): None}]
        for t in range(self.n_qubits):
            nxt = {}
            for state in layers[t]:
                for bit in (0, 1):
                    new = self._step(state, t, bit)
                    if new is not None:
                        nxt.setdefault(new, None)
            if len(nxt) > max_states:
                raise ValueError(
                    f"the constraints {[c.name for c in self.constraints]} leave more than {max_states} "
                    f"distinct partial sums open after {t + 1} qubits of the model's qubit_order: the "
                    "network cannot enforce them exactly (reorder the qubits so constraints close early)"
                )
            if not nxt:
                raise ValueError(
                    f"the constraints {[c.name for c in self.constraints]} admit no configuration: "
                    "the sector is empty"
                )
            layers.append(nxt)
        return layers

    def _backward(self, layers):
        alive = [None] * (self.n_qubits + 1)
        alive[-1] = {state: 0 for state in layers[-1]}
        table = []
        for t in range(self.n_qubits - 1, -1, -1):
            rows, index = [], {}
            for state in layers[t]:
                row = []
                for bit in (0, 1):
                    new = self._step(state, t, bit)
                    row.append(alive[t + 1].get(new, -1) if new is not None else -1)
                if max(row) >= 0:
                    index[state] = len(rows)
                    rows.append(row)
            if not rows:
                raise ValueError(
                    f"the constraints {[c.name for c in self.constraints]} admit no configuration: "
                    "the sector is empty"
                )
            alive[t] = index
            table.append(np.asarray(rows, dtype=np.int32))
        table.reverse()
        self.n_states = np.array([len(rows) for rows in table])
        width = int(self.n_states.max())
        self.transitions = np.full((self.n_qubits, width, 2), -1, dtype=np.int32)
        for t, rows in enumerate(table):
            self.transitions[t, : len(rows)] = rows

    def allowed(self, bits_ordered: np.ndarray) -> np.ndarray:
        """``(batch, n_qubits, 2)`` masks of the allowed bits given each prefix (numpy reference)."""
        bits_ordered = np.asarray(bits_ordered, dtype=int)
        state = np.zeros(len(bits_ordered), dtype=int)
        out = np.zeros((*bits_ordered.shape, 2), dtype=bool)
        for t in range(self.n_qubits):
            live = state >= 0
            row = self.transitions[t, np.maximum(state, 0)]
            out[:, t] = np.where(live[:, None], row >= 0, True)
            state = np.where(live, row[np.arange(len(state)), bits_ordered[:, t]], -1)
        return out
