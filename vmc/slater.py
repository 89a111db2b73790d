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
``reverse_jordan_wigner``, :func:`fermion_terms`), one block per conserved particle number (the
lowest ``n_s`` eigenvectors of ``h`` restricted to that species' modes: at U = 0 the exact
ground state), plus noise of std ``SLATER_INIT_SCALE``. That noise is needed: the one-body
orbitals sit in a poor basin of the phase's energy landscape (open 2x4 Hubbard at U=4, the phase
alone optimised on the exact ground-state modulus with L-BFGS, relative error of the energy:
0.114 from the one-body orbitals plus noise 0.01; 1.9e-3 to 2.5e-3 from noise 0.1, 0.3 or 1, or
random orbitals, 8 of 8 starts; periodic chain L=8: 0.119 from noise 0.01, from noise >= 0.1
either 9e-6 to 1.1e-4 in 6 of 10 starts or a second basin at 0.12).

``sign_rule="hartree_fock"`` is the same factor with fixed orbitals: those of generalized
(spin-mixing) Hartree-Fock (:func:`hartree_fock`; two species of equal particle numbers on
equally many modes, e.g. the Hubbard model with ``n_up = n_down``, and two-body terms), a
self-consistent field started from a Neel order in the plane perpendicular to the conserved spin
axis (milliseconds on 16 modes). Such a determinant mixes the sectors; its amplitudes on the
sector carry nearly the whole ground-state sign. Measured on the exact ground-state modulus
(relative error of the energy with the determinant's phase): open 2x4 Hubbard at U=4, half
filling: 3.3e-3 from Hartree-Fock against 0.135 from the one-body orbitals; periodic chain L=8:
6.7e-6 against 0.47. It stays fixed because training it did not keep it: from these orbitals
plus noise 1e-3 (and a zero phase head), the open 2x4 defaults ended at 3.8e-2 with the phase at
5.3e-2 on the exact modulus; with noise 0 nothing trained (the energy stayed at its start); noise
0.01 already moves the start to 2.1e-2 to 3.0e-2 and 0.1 to 0.49 to 0.63 (the sector amplitudes
of the determinant are small on many configurations, whose phases the noise turns).

It needs a fixed total particle number: charge constraints with unit weights on disjoint qubits covering every qubit (:func:`species`).

Measured in VMC (seed 0, defaults otherwise, relative error of the energy): open 2x3 Hubbard at
U=4, half filling, 60 iterations: 3.0e-2 against 0.69 without a sign; open 2x4, 100 iterations:
6.5e-2 against 0.75 without and 0.52 with the two-body phase; open 2x4 with the default 400
iterations: 4.5e-2 (noise 0.01), 3.6e-2 (noise 0.1); with the wide defaults (d_model 32, 1000
iterations) 3.2e-2, limited by the noise of the 512-sample SR update (``benchmarks/README.md``). The fixed
Hartree-Fock sign with the defaults:
open 2x4 5.6e-2 (the phase stays at 3.3e-3, the modulus gives 5.8e-2 with the exact phase),
periodic L=8 6.3e-3 / 9.9e-3, seeds 0 / 1, with SPRING momentum 0.9 at step 0.02 (the Slater phase,
plain SR at 0.05: 8.7e-3 / 7.2e-3): the
modulus limits both, so "auto" keeps the Slater phase (``benchmarks/vmc_signs.py``,
``benchmarks/README.md``).
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
    "fermion_terms",
    "one_body_orbitals",
    "hartree_fock",
    "uses_hartree_fock",
    "det_phase",
]

SLATER_INIT_SCALE = 0.1
"""Std of the noise added to the real and imaginary parts of the one-body orbitals."""

HF_MAX_ITER = 500
"""Largest number of self-consistent-field steps of :func:`hartree_fock`."""


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


def fermion_terms(problem):
    """The one- and two-body parts of the Hamiltonian as a fermion operator, modes = qubits.

    Read back from the Jordan-Wigner qubit Hamiltonian (OpenFermion's ``reverse_jordan_wigner``,
    normal ordered): ``H = sum_pq h_pq c^dag_p c_q + sum w c^dag_p c^dag_q c_r c_s + ...``.

    Returns
    -------
    h : ndarray (n, n), complex
        The quadratic terms.
    two : tuple of ndarrays ``(p, q, r, s, w)``
        One entry per normal-ordered quartic term ``w c^dag_p c^dag_q c_r c_s``.
    """
    import openfermion

    n = problem.n_qubits
    fermion = openfermion.normal_ordered(openfermion.reverse_jordan_wigner(problem.hamiltonian, n))
    h = np.zeros((n, n), dtype=complex)
    quartic = []
    for term, coeff in fermion.terms.items():
        if len(term) == 2:
            h[term[0][0], term[1][0]] += coeff
        elif len(term) == 4:
            quartic.append((*(mode for mode, _ in term), coeff))
    p, q, r, s, w = (np.array(column) for column in zip(*quartic)) if quartic else [np.zeros(0, int)] * 5
    return h, (p, q, r, s, w)


def one_body_orbitals(problem) -> np.ndarray:
    """Orbitals (n_qubits, N): per species (:func:`species`), the lowest eigenvectors of ``h`` on its modes."""
    h, _ = fermion_terms(problem)
    columns = []
    for qubits, count in species(problem):
        q = np.asarray(qubits)
        _, vectors = np.linalg.eigh(h[np.ix_(q, q)])
        block = np.zeros((problem.n_qubits, count), dtype=complex)
        block[q] = vectors[:, :count]
        columns.append(block)
    return np.concatenate(columns, axis=1)


def hartree_fock(problem, max_iter: int = HF_MAX_ITER, tol: float = 1e-10):
    """Generalized (spin-mixing) Hartree-Fock of a problem with two balanced species.

    Self-consistent field on the one-body density matrix ``rho_ab = <c^dag_a c_b>`` of a Slater
    determinant of ``N`` (the total particle number) orbitals that may mix the species: the Fock
    matrix is ``F = dE/drho`` of the Wick energy ``E(rho) = sum h_ab rho_ab + sum w (rho_ps rho_qr
    - rho_pr rho_qs)``; each step occupies the lowest ``N`` eigenvectors of ``F`` and mixes the new
    density half-and-half with the old. Terms beyond two-body are left out. The start is the
    ground state of ``h`` plus a staggered field ``-g s_k (c^dag_{a_k} c_{b_k} + h.c.)`` that
    couples the k-th mode of one species with the k-th of the other (for the Hubbard model: the
    two spins of site k), ``s_k = +-1`` alternating on the graph of ``h`` (a two-colouring by
    breadth-first search) and ``g`` the largest two-body coefficient: a Neel order of spins in
    the plane perpendicular to the conserved axis. The real SCF keeps the order in that plane.
    Projected on the sector, such a determinant (open 2x4 Hubbard at U=4: 35 % of its weight
    there) gives the ground-state sign to 3.3e-3 on the exact modulus, the same energy's collinear
    solution along the conserved axis (all of its weight in the sector) only to 0.158 (periodic
    chain L=8: 6.7e-6 against 0.47).

    Returns
    -------
    orbitals : ndarray (n_qubits, N), complex
        Orthonormal occupied orbitals (columns) in qubit order.
    energy : float
        The Hartree-Fock energy ``E(rho)`` (of the determinant, not projected on the sector).
    converged : bool
        Whether the density changed by less than ``tol`` (largest entry) within ``max_iter`` steps
        (if not, the last step's orbitals are returned).
    """
    (qubits_a, count_a), (qubits_b, count_b) = species(problem)
    h, (p, q, r, s, w) = fermion_terms(problem)
    n_particles = count_a + count_b

    def energy_and_fock(rho):
        energy = np.sum(h * rho) + np.sum(w * (rho[p, s] * rho[q, r] - rho[p, r] * rho[q, s]))
        fock = h.copy()
        for rows, cols, values in ((p, s, w * rho[q, r]), (q, r, w * rho[p, s])):
            np.add.at(fock, (rows, cols), values)
        for rows, cols, values in ((p, r, w * rho[q, s]), (q, s, w * rho[p, r])):
            np.add.at(fock, (rows, cols), -values)
        return energy.real, fock

    def occupied(fock):
        _, vectors = np.linalg.eigh(fock)
        return vectors[:, :n_particles]

    field = np.zeros_like(h)
    for a, b, sign in zip(qubits_a, qubits_b, _two_colouring(h[np.ix_(qubits_a, qubits_a)])):
        field[a, b] = field[b, a] = -sign * np.abs(w).max()
    orbitals = occupied(h + field)
    rho = orbitals.conj() @ orbitals.T
    converged = False
    for _ in range(max_iter):
        orbitals = occupied(energy_and_fock(rho)[1])
        new = orbitals.conj() @ orbitals.T
        converged = np.abs(new - rho).max() < tol
        if converged:
            break
        rho = (rho + new) / 2
    return orbitals, energy_and_fock(orbitals.conj() @ orbitals.T)[0], bool(converged)


def _two_colouring(adjacency) -> np.ndarray:
    """Signs +-1 that alternate along the nonzero off-diagonal entries of ``adjacency`` (breadth-first;
    on a graph that is not bipartite some neighbours share a sign)."""
    n = len(adjacency)
    colour = np.zeros(n, dtype=int)
    seen = np.zeros(n, dtype=bool)
    for root in range(n):
        if seen[root]:
            continue
        seen[root], queue = True, [root]
        while queue:
            i = queue.pop(0)
            for j in np.flatnonzero(adjacency[i]):
                if not seen[j]:
                    seen[j], colour[j] = True, 1 - colour[i]
                    queue.append(j)
    return 1 - 2 * colour


def uses_hartree_fock(problem) -> bool:
    """Whether :func:`hartree_fock` applies (``sign_rule="hartree_fock"``): two species with equal
    particle numbers on equally many modes, and two-body terms."""
    blocks = species(problem)
    if blocks is None or len(blocks) != 2:
        return False
    (qubits_a, count_a), (qubits_b, count_b) = blocks
    return count_a == count_b and len(qubits_a) == len(qubits_b) and len(fermion_terms(problem)[1][4]) > 0


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
        Initial (complex) orbitals in qubit order; ``N`` is the particle number.
    init_scale : float
        Std of the noise added to the real and imaginary parts of the initial orbitals.
    trainable : bool
        False: the orbitals are ``orbitals0`` (no noise), constants rather than parameters (the
        fixed Hartree-Fock sign).
    """

    orbitals0: nk.utils.HashableArray = None
    init_scale: float = SLATER_INIT_SCALE
    trainable: bool = True

    def setup(self):
        dtype = self.amplitude.param_dtype
        base = np.asarray(self.orbitals0, dtype=complex)
        if not self.trainable:
            # float64 constants, also in a float32 network (operators.LOCAL_DTYPE): rounded to
            # float32 they turn the phase of the many nearly singular sector determinants (test_signs)
            self.re, self.im = jnp.asarray(base.real, jnp.float64), jnp.asarray(base.imag, jnp.float64)
            return
        self.re = self.param(
            "orbitals_real", shifted_init(base.real, self.init_scale, dtype), base.shape, dtype
        )
        self.im = self.param(
            "orbitals_imag", shifted_init(base.imag, self.init_scale, dtype), base.shape, dtype
        )

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
