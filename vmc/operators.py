"""Qubit operators on NetKet states: the Hamiltonian as ``PauliStrings`` and batched estimators.

The network's Hilbert space is ``netket.hilbert.Qubit(n)``: local state
``b_q in {0, 1}`` is the manybody bit of qubit ``q`` (``Z_q = (-1)^b_q``), and
NetKet's ``PauliStrings`` act with the same convention (character ``q`` of a
Pauli string acts on qubit ``q``), so no relabelling is needed.

Observables are evaluated many at a time: for a list of Hermitian
``QubitOperator`` s the distinct Pauli strings are grouped by flip mask
(which qubits an X or Y flips), the amplitude ratio ``psi(x ^ m) / psi(x)``
is computed once per mask and sample, and every operator's local estimator
is a linear combination of these ratios with signs

    <x| c P |x ^ m> = c i^{n_Y} (-1)^{popcount((x ^ m) & zy)}

(``zy`` the qubits with Z or Y), as in :mod:`manybody.exact.sector`.
"""

from __future__ import annotations

import jax.numpy as jnp
import netket as nk
import numpy as np

from manybody.observables import Estimate

__all__ = ["to_pauli_strings", "local_values", "estimates_from_local_values"]


def to_pauli_strings(qop, n_qubits: int, hilbert=None) -> nk.operator.PauliStrings:
    """A ``QubitOperator`` as NetKet ``PauliStrings`` on ``Qubit(n_qubits)``."""
    hilbert = hilbert if hilbert is not None else nk.hilbert.Qubit(n_qubits)
    strings, weights = [], []
    for term, c in qop.terms.items():
        chars = ["I"] * n_qubits
        for q, p in term:
            chars[q] = p
        strings.append("".join(chars))
        weights.append(complex(c))
    if not strings:
        strings, weights = ["I" * n_qubits], [0.0]
    weights = np.asarray(weights)
    if np.abs(weights.imag).max() == 0:
        weights = weights.real
    return nk.operator.PauliStrings(hilbert, strings, weights)


def _term_tables(operators, n_qubits):
    """Distinct flip masks, and per operator the (mask index, zy bits, coefficient) of each term."""
    masks, mask_index, tables = [], {}, []
    for op in operators:
        rows = []
        for term, c in op.terms.items():
            flip = np.zeros(n_qubits, dtype=np.int8)
            zy = np.zeros(n_qubits, dtype=np.int8)
            n_y = 0
            for q, p in term:
                flip[q] |= p in "XY"
                zy[q] |= p in "ZY"
                n_y += p == "Y"
            key = flip.tobytes()
            if key not in mask_index:
                mask_index[key] = len(masks)
                masks.append(flip)
            rows.append((mask_index[key], zy, complex(c) * 1j**n_y))
        tables.append(rows)
    return np.array(masks, dtype=np.int8).reshape(-1, n_qubits), tables


def local_values(log_value, samples: np.ndarray, operators: list) -> np.ndarray:
    """Local estimators ``O_loc(x) = sum_x' <x|O|x'> psi(x') / psi(x)``, shape (n_ops, n_samples).

    Parameters
    ----------
    log_value : callable
        ``configs (batch, n) -> log psi`` (e.g. ``MCState.log_value``).
    samples : ndarray (n_samples, n_qubits)
        Bits in qubit order.
    operators : list of QubitOperator
    """
    samples = np.asarray(samples).astype(np.int8)
    n_samples, n_qubits = samples.shape
    masks, tables = _term_tables(operators, n_qubits)
    log_x = np.asarray(log_value(jnp.asarray(samples)))
    ratios = np.ones((len(masks), n_samples), dtype=complex)
    flipping = [m for m in range(len(masks)) if masks[m].any()]
    if flipping:
        # one evaluation of every flipped configuration (a single compiled shape; NetKet chunks it)
        flipped = (samples[None] ^ masks[flipping][:, None]).reshape(-1, n_qubits)
        log_y = np.asarray(log_value(jnp.asarray(flipped))).reshape(len(flipping), n_samples)
        ratios[flipping] = np.exp(log_y - log_x[None])
    out = np.zeros((len(operators), n_samples), dtype=complex)
    for k, rows in enumerate(tables):
        for m, zy, coeff in rows:
            parity = ((samples ^ masks[m]) @ zy.astype(np.int64)) & 1
            out[k] += coeff * (1 - 2 * parity) * ratios[m]
    return out


def estimates_from_local_values(values: np.ndarray) -> list[Estimate]:
    """Mean, standard error and variance of each row of exact (uncorrelated) samples."""
    n = values.shape[1]
    out = []
    for row in values:
        var = float(np.var(row.real))
        out.append(
            Estimate(mean=float(np.mean(row.real)), error=float(np.sqrt(var / n)), variance=var, n_samples=n)
        )
    return out
