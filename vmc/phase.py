"""Learned signs: the autoregressive amplitude times a trainable phase factor of modulus 1.

A learned sign wraps the transformer (:class:`~manybody.vmc.network.ARTransformer`) as

    psi(b) = psi_AR(b) exp(i theta(b)),

with a real trainable ``theta``. The factor is a pure phase, so ``|psi|^2`` is the transformer's
normalised distribution and sampling stays exact (the sampler only calls the transformer's
conditionals). :class:`PhaseAR` is the common wrapper; three phases are implemented:

* ``sign_rule="jastrow"`` (:class:`JastrowPhaseAR`): a two-body phase
  ``theta(b) = pi (sum_q c_q b_q + sum_{p<q} W_pq b_p b_q)`` with real trainable ``c`` (n,) and
  ``W`` (n, n) (upper triangle used). The family contains every declared fixed rule (Marshall:
  ``c`` = 1 on sublattice A; the Hubbard-chain reordering sign: ``W`` = 1 on its pairs);
  ``c`` and ``W`` start from a declared (approximate) structure when the model has one, plus a
  small random part (``JASTROW_INIT_SCALE``): the energy gradient along the phases vanishes at
  real amplitudes.
* ``sign_rule="local"`` (:class:`LocalPhaseAR`): a sum of per-qubit tables over neighbourhoods,
  ``theta(b) = pi sum_q T_q[b_q, b_(N(q))]``, ``N(q)`` the qubits that share a Hamiltonian term with
  ``q`` (8 on the J1-J2 square lattice: a table of 512 entries per qubit). It contains every sign
  ``(-1)^(c.b)`` (Marshall's rule: ``T_q = c_q b_q``) and many-body corrections of it that the
  two-body phase lacks; it starts from a declared linear structure plus noise.
* ``sign_rule="slater"``: the phase of a Slater determinant with trainable complex orbitals
  (:mod:`manybody.vmc.slater`).

Measured (100 iterations, defaults, ``benchmarks/vmc_signs.py``): started from a good structure
the two-body phase keeps it (J1-J2 2x3 from Marshall 1.1e-5, fixed Marshall 8.0e-6), but it learns
fermion signs from scratch only partly (relative error against none: SYK(12) 4.9e-2 vs 0.16, open
2x4 Hubbard 0.52 vs 0.75, SYK(8) 0.52 vs 0.37), so ``sign_rule="auto"`` never selects it.
On the J1-J2 4x4 torus at J2 = 0.5 (``benchmarks/vmc_j1j2.py``, exact energies on the exact
modulus ``|psi0|``, L-BFGS): the best two-body phase is Marshall's sign itself (2.2e-2, from Marshall
and from random starts), the local phase reaches 2.8e-3 from Marshall plus noise (3.8e-3 from a
random start) in 3000 exact-gradient iterations; in vmc (400 SR iterations) neither moves the sign
away from Marshall's, so "auto" keeps the fixed Marshall rule there.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import netket as nk
import numpy as np

__all__ = [
    "WrapperAR",
    "PhaseAR",
    "JastrowPhaseAR",
    "LocalPhaseAR",
    "JASTROW_INIT_SCALE",
    "LOCAL_INIT_SCALE",
    "LOCAL_MAX_NEIGHBOURS",
    "neighbourhoods",
    "shifted_init",
    "amplitude_of",
    "with_amplitude",
]

JASTROW_INIT_SCALE = 0.05
"""Std of the random part of the initial ``c`` and ``W`` (units of pi)."""

LOCAL_INIT_SCALE = 0.03
"""Std of the random part of the initial tables of the local phase (units of pi; 0.1 rad): it
breaks the symmetry of a real start, where the energy gradient along every phase vanishes."""

LOCAL_MAX_NEIGHBOURS = 10
"""Most neighbours of a qubit the local phase accepts (a table of ``2^(k+1)`` entries per qubit)."""


def neighbourhoods(hamiltonian, n: int) -> list[list[int]]:
    """For each qubit, the other qubits that share a term of ``hamiltonian`` (a QubitOperator) with it (sorted)."""
    near = [set() for _ in range(n)]
    for term in hamiltonian.terms:
        qubits = [q for q, _ in term]
        for q in qubits:
            near[q].update(p for p in qubits if p != q)
    return [sorted(s) for s in near]


def shifted_init(base, scale: float, dtype):
    """A Flax initialiser: the array ``base`` (None: zeros) plus normal noise of std ``scale``."""

    def init(key, shape, dtype=dtype):
        start = np.zeros(shape) if base is None else np.asarray(base, dtype=float)
        return jnp.asarray(start, dtype) + scale * nn.initializers.normal(1.0)(key, shape, dtype)

    return init


class WrapperAR(nk.models.AbstractARNN):
    """A wave function built on an autoregressive network ``amplitude`` that samples for it.

    Sampling (``conditional``, ``token_conditional``), the conditionals and the orders are the
    amplitude's; subclasses define the amplitude they return (:class:`PhaseAR`,
    :class:`~manybody.vmc.symmetric.SymmetricAR`).

    Attributes
    ----------
    amplitude : AbstractARNN
        The network that samples (an ``ARTransformer`` or another wrapper of one).
    """

    amplitude: nn.Module = None
    machine_pow: int = 2

    @property
    def order(self):
        """The amplitude's sampling order (read by the local-energy kernel)."""
        return self.amplitude.order

    @property
    def patch(self):
        """The amplitude's qubits per token (read by the sampler)."""
        return self.amplitude.patch

    def conditionals_log_psi(self, inputs):
        return self.amplitude.conditionals_log_psi(inputs)

    def conditional(self, inputs, index):
        return self.amplitude.conditional(inputs, index)

    def token_conditional(self, inputs, t):
        return self.amplitude.token_conditional(inputs, t)

    def reorder(self, inputs, axis: int = 0):
        return self.amplitude.reorder(inputs, axis)

    def inverse_reorder(self, inputs, axis: int = 0):
        return self.amplitude.inverse_reorder(inputs, axis)


class PhaseAR(WrapperAR):
    """``amplitude`` (an AbstractARNN) times ``exp(i theta(b))``; subclasses define ``_phase``.

    When the amplitude has ``log_psi_flipped`` (prefix reuse in the local energies), so does the
    wrapper: the phase of the flipped configurations is added to the amplitude's values.
    """

    def _phase(self, bits):
        """``theta`` (batch,) of configurations ``bits`` (batch, n) in qubit layout."""
        raise NotImplementedError

    def prefix_cache(self, inputs):
        """log psi of ``inputs`` and the amplitude's cache (see the amplitude's method)."""
        inputs = jnp.asarray(inputs, dtype=jnp.int32)
        log_psi, cache = self.amplitude.prefix_cache(inputs)
        return log_psi + 1j * self._phase(inputs), cache

    def log_psi_pairs(self, cache, rows, masks, start: int):
        """log psi of cached rows with bits flipped (see the amplitude's method)."""
        log_psi = self.amplitude.log_psi_pairs(cache, rows, masks, start)
        flipped = jnp.take(cache[0], rows, axis=0) ^ jnp.asarray(masks, dtype=jnp.int32)  # sampling order
        return log_psi + 1j * self._phase(self.amplitude.inverse_reorder(flipped, axis=1))

    def log_psi_flipped(self, inputs, groups):
        """``log psi`` of ``inputs`` and of copies with fixed bits flipped (see the amplitude's method)."""
        inputs = jnp.asarray(inputs, dtype=jnp.int32)
        log_psi, log_flipped = self.amplitude.log_psi_flipped(inputs, groups)
        masks = jnp.asarray(np.concatenate([m for _, m in groups]), dtype=jnp.int32)  # sampling order
        flips = self.amplitude.inverse_reorder(masks, axis=1)  # qubit layout
        batch, n = inputs.shape
        flipped = (inputs[:, None, :] ^ flips[None]).reshape(-1, n)
        theta = self._phase(flipped).reshape(batch, -1)
        return log_psi + 1j * self._phase(inputs), log_flipped + 1j * theta

    def __call__(self, inputs):
        return self.amplitude(inputs) + 1j * self._phase(inputs)


def amplitude_of(model):
    """The autoregressive network that samples: the innermost ``amplitude`` of wrappers
    (:class:`WrapperAR`: learned phases, symmetrisation), else ``model`` itself."""
    while isinstance(model, WrapperAR):
        model = model.amplitude
    return model


def with_amplitude(model, amplitude):
    """``model`` with its innermost amplitude (:func:`amplitude_of`) replaced by ``amplitude``."""
    if not isinstance(model, WrapperAR):
        return amplitude
    return model.clone(amplitude=with_amplitude(model.amplitude, amplitude))


class JastrowPhaseAR(PhaseAR):
    """``amplitude`` times ``exp(i pi (c.b + sum_{p<q} W_pq b_p b_q))``.

    Attributes
    ----------
    linear0, pairs0 : HashableArray or None
        Initial ``c`` (n,) and ``W`` (n, n) in qubit order (a declared sign structure), else 0.
    init_scale : float
        Std of the random part of the initial ``c`` and ``W`` (units of pi).
    """

    linear0: nk.utils.HashableArray | None = None
    pairs0: nk.utils.HashableArray | None = None
    init_scale: float = JASTROW_INIT_SCALE

    def setup(self):
        n = self.hilbert.size
        dtype = self.amplitude.param_dtype
        self.c = self.param("phase_linear", shifted_init(self.linear0, self.init_scale, dtype), (n,), dtype)
        self.w = self.param("phase_pairs", shifted_init(self.pairs0, self.init_scale, dtype), (n, n), dtype)

    def _phase(self, bits):
        bits = jnp.asarray(bits, dtype=self.c.dtype)
        upper = jnp.triu(self.w, k=1)
        return jnp.pi * (bits @ self.c + jnp.einsum("bp,pq,bq->b", bits, upper, bits))


class LocalPhaseAR(PhaseAR):
    """``amplitude`` times ``exp(i pi sum_q T_q[code_q(b)])``, ``code_q(b) = sum_j b_(N_qj) 2^j``.

    Attributes
    ----------
    neighbours : HashableArray
        (n, k) qubits in qubit order: column 0 is the qubit itself, then its neighbours, padded by
        repeating the qubit (padding carries a zero weight in the code).
    weights : HashableArray
        (n, k) integer bit weights ``2^j`` of the code, 0 for padding.
    table0 : HashableArray or None
        Initial tables (n, 2^k) in units of pi (a declared structure), else 0.
    init_scale : float
        Std of the random part of the initial tables (units of pi).
    """

    neighbours: nk.utils.HashableArray = None
    weights: nk.utils.HashableArray = None
    table0: nk.utils.HashableArray | None = None
    init_scale: float = LOCAL_INIT_SCALE

    def setup(self):
        n, k = np.asarray(self.neighbours).shape
        dtype = self.amplitude.param_dtype
        self.table = self.param(
            "phase_tables", shifted_init(self.table0, self.init_scale, dtype), (n, 2**k), dtype
        )

    def _phase(self, bits):
        bits = jnp.asarray(bits, dtype=jnp.int32)
        codes = jnp.sum(
            bits[:, np.asarray(self.neighbours)] * np.asarray(self.weights), axis=-1
        )  # (batch, n)
        return jnp.pi * jnp.sum(
            jnp.take_along_axis(self.table[None], codes[..., None], axis=-1)[..., 0], axis=-1
        )

    @staticmethod
    def layout(hamiltonian, n: int, linear=None) -> dict:
        """``neighbours``, ``weights`` and ``table0`` (from the 0/1 vector ``linear``, if given).

        ``ValueError`` naming ``LOCAL_MAX_NEIGHBOURS`` when a qubit has more neighbours.
        """
        near = neighbourhoods(hamiltonian, n)
        k = 1 + max(len(s) for s in near)
        if k - 1 > LOCAL_MAX_NEIGHBOURS:
            raise ValueError(
                f"sign_rule='local': a qubit shares Hamiltonian terms with {k - 1} others, more than "
                f"LOCAL_MAX_NEIGHBOURS = {LOCAL_MAX_NEIGHBOURS} (tables of 2^(k+1) entries): use 'jastrow'"
            )
        neighbours = np.array([[q, *s] + [q] * (k - 1 - len(s)) for q, s in enumerate(near)])
        weights = np.array([[2**j if j <= len(s) else 0 for j in range(k)] for s in near])
        table0 = None
        if linear is not None:  # T_q[code] = c_q b_q, b_q the code's bit 0
            table0 = np.outer(np.asarray(linear, float), np.arange(2**k) % 2)
        hashable = nk.utils.HashableArray
        return dict(
            neighbours=hashable(neighbours),
            weights=hashable(weights),
            table0=None if table0 is None else hashable(table0),
        )
