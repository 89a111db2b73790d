"""A learned fermion sign: the phase of a Slater determinant with trainable complex orbitals.

``sign_rule="slater"`` multiplies the autoregressive amplitude by the phase of

    D(b) = det Phi[occ(b), :],

where ``occ(b)`` are the occupied qubits (fermion modes) of ``b`` in increasing order and
``Phi`` (n_qubits, N) are ``N`` orbitals with trainable real and imaginary parts. In the
Jordan-Wigner convention of :mod:`manybody.operators` (``c_q`` carries the Z string of the
qubits ``< q``), the basis state ``|b>`` is ``c^dag_{i_1} ... c^dag_{i_N} |0>`` with
``i_1 < ... < i_N``, so ``D(b)`` is exactly the amplitude of the Slater determinant
``prod_k (sum_q Phi_qk c^dag_q) |0>``: its sign carries every fermionic reordering sign of the
mapping. The factor ``D / |D|`` has modulus 1, so ``|psi|^2`` stays the transformer's normalised
distribution (exact sampling). A complex ``Phi`` lets the phase move continuously (the sign of a
real determinant has no gradient).

The orbitals start at the ground-state orbitals of the one-body part of the Hamiltonian
(``sum_pq h_pq c^dag_p c_q``, read back from the qubit Hamiltonian with OpenFermion's
``reverse_jordan_wigner``), one block per conserved particle number (e.g. ``n_up``,
``n_down``: the lowest ``n_s`` eigenvectors of ``h`` restricted to that species' modes), plus
noise of std ``SLATER_INIT_SCALE`` in the real and imaginary parts. The noise is needed: the
one-body orbitals themselves sit in a poor basin of the phase's energy landscape. Measured on
the exact ground-state modulus (the determinant's phase alone optimised with L-BFGS, relative
error of the energy): open 2x4 Hubbard at U=4, from the one-body orbitals plus noise 0.01:
0.114; plus noise 0.1, 0.3 or 1, or random orbitals: 1.9e-3 to 2.5e-3 (8 of 8 starts); periodic
chain L=8 (degenerate one-body Fermi level): 0.119 from noise 0.01, from noise >= 0.1 or random
orbitals either 9e-6 to 1.1e-4 (6 of 10 starts) or a second basin at 0.12.

It needs a fixed total particle number: charge constraints with unit weights on disjoint qubits covering every qubit (:func:`species`).

Measured in VMC (seed 0, defaults otherwise, relative error of the energy): open 2x3 Hubbard at
U=4, half filling, 60 iterations: 3.0e-2 against 0.69 without a sign; open 2x4, 100 iterations:
6.5e-2 against 0.75 without and 0.52 with the two-body phase; open 2x4 with the default 400
iterations: 4.5e-2 (noise 0.01), 3.6e-2 (noise 0.1) (``benchmarks/vmc_signs.py``, README).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from manybody.vmc.phase import PhaseAR, shifted_init

__all__ = [
    "SlaterPhaseAR",
    "SLATER_INIT_SCALE",
    "species",
    "one_body_matrix",
    "initial_orbitals",
    "det_phase",
]

SLATER_INIT_SCALE = 0.1
"""Std of the noise added to the real and imaginary parts of the initial orbitals."""


def species(problem) -> list[tuple[tuple[int, ...], int]] | None:
    """The conserved particle numbers of ``problem``: ``[(qubits, count), ...]``, or None.

    A particle number is a charge constraint with unit weights and an integer value; they must
    sit on disjoint qubits that together cover every qubit (a fixed total particle number).
    """
    blocks = [
        (c.qubits, int(round(c.value)))
        for c in problem.charges
        if all(w == 1.0 for w in c.weights) and float(c.value).is_integer()
    ]
    covered = sorted(q for qubits, _ in blocks for q in qubits)
    if not blocks or covered != list(range(problem.n_qubits)):
        return None
    return blocks


def one_body_matrix(problem) -> np.ndarray:
    """``h`` (n, n), real part of the quadratic terms ``h_pq c^dag_p c_q`` of the Hamiltonian.

    Read back from the Jordan-Wigner qubit Hamiltonian (``reverse_jordan_wigner``, normal
    ordered); mode ``q`` is qubit ``q``.
    """
    import openfermion

    fermion = openfermion.normal_ordered(
        openfermion.reverse_jordan_wigner(problem.hamiltonian, problem.n_qubits)
    )
    h = np.zeros((problem.n_qubits, problem.n_qubits))
    for term, coeff in fermion.terms.items():
        if len(term) == 2 and term[0][1] == 1 and term[1][1] == 0:
            h[term[0][0], term[1][0]] += np.real(coeff)
    return h


def initial_orbitals(problem) -> np.ndarray:
    """Orbitals (n_qubits, N): per species (:func:`species`), the lowest eigenvectors of ``h`` on its modes."""
    h = one_body_matrix(problem)
    columns = []
    for qubits, count in species(problem):
        q = np.asarray(qubits)
        _, vectors = np.linalg.eigh(h[np.ix_(q, q)])
        block = np.zeros((problem.n_qubits, count))
        block[q] = vectors[:, :count]
        columns.append(block)
    return np.concatenate(columns, axis=1)


def det_phase(matrices):
    """``det(m) / |det(m)|`` (0 for a singular ``m``) of a batch (batch, N, N) of complex matrices.

    Gaussian elimination with partial pivoting in plain ``jax.numpy`` operations (a scan over the
    N columns). With ``jnp.linalg.slogdet`` (a LAPACK call) two 16-qubit Hubbard runs hung in the
    XLA CPU runtime (every thread idle) while 8-qubit ones ran; the cause was not isolated.
    """
    n = matrices.shape[-1]
    rows = jnp.arange(n)

    def eliminate(carry, k):
        a, phase = carry
        pivot_row = jnp.argmax(jnp.where(rows >= k, jnp.abs(a[:, :, k]), -1.0), axis=-1)
        row_k = a[:, k, :]
        row_p = jnp.take_along_axis(a, pivot_row[:, None, None], axis=1)[:, 0, :]
        swapped = (pivot_row != k)[:, None, None]
        a = jnp.where(swapped & (rows[None, :, None] == pivot_row[:, None, None]), row_k[:, None, :], a)
        a = a.at[:, k, :].set(row_p)
        pivot = a[:, k, k]
        safe = jnp.where(pivot == 0, 1.0, pivot)
        phase = jnp.where(swapped[:, 0, 0], -phase, phase) * jnp.where(pivot == 0, 0.0, safe / jnp.abs(safe))
        factors = jnp.where(rows > k, a[:, :, k] / safe[:, None], 0.0)
        return (a - factors[:, :, None] * a[:, k, None, :], phase), None

    start = (matrices, jnp.ones_like(matrices[:, 0, 0]))  # derived from the input: sharded like it
    (_, phase), _ = jax.lax.scan(eliminate, start, rows)
    return phase


class SlaterPhaseAR(PhaseAR):
    """``amplitude`` times ``D(b) / |D(b)|``, ``D(b) = det Phi[occ(b)]`` (see the module docstring).

    Attributes
    ----------
    orbitals0 : HashableArray, shape (n_qubits, N)
        Initial (real) orbitals in qubit order; ``N`` is the particle number.
    init_scale : float
        Std of the noise added to the real and imaginary parts of the initial orbitals.
    """

    orbitals0: nk.utils.HashableArray = None
    init_scale: float = SLATER_INIT_SCALE

    def setup(self):
        dtype = self.amplitude.param_dtype
        base = np.asarray(self.orbitals0, dtype=float)
        self.re = self.param("orbitals_real", shifted_init(base, self.init_scale, dtype), base.shape, dtype)
        self.im = self.param("orbitals_imag", shifted_init(None, self.init_scale, dtype), base.shape, dtype)

    def _phase(self, bits):
        bits = jnp.asarray(bits, dtype=jnp.int32)
        n_particles = self.re.shape[1]
        # occupied modes in increasing order: a stable sort puts the ones (key 0) first
        occupied = jnp.argsort(1 - bits, axis=-1, stable=True)[:, :n_particles]
        matrices = (self.re + 1j * self.im)[occupied]  # (batch, N, N)
        # configurations with another particle number (amplitude 0) get a regular matrix
        valid = bits.sum(axis=-1) == n_particles
        matrices = jnp.where(valid[:, None, None], matrices, jnp.eye(n_particles, dtype=matrices.dtype))
        return jnp.angle(det_phase(matrices))
