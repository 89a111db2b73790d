"""Learned signs: the autoregressive amplitude times a trainable phase factor of modulus 1.

A learned sign wraps the transformer (:class:`~manybody.vmc.network.ARTransformer`) as

    psi(b) = psi_AR(b) exp(i theta(b)),

with a real trainable ``theta``. The factor is a pure phase, so ``|psi|^2`` is the transformer's
normalised distribution and sampling stays exact (the sampler only calls the transformer's
conditionals). :class:`PhaseAR` is the common wrapper; two phases are implemented:

* ``sign_rule="jastrow"`` (:class:`JastrowPhaseAR`): a two-body phase
  ``theta(b) = pi (sum_q c_q b_q + sum_{p<q} W_pq b_p b_q)`` with real trainable ``c`` (n,) and
  ``W`` (n, n) (upper triangle used). The family contains every declared fixed rule (Marshall:
  ``c`` = 1 on sublattice A; the Hubbard-chain reordering sign: ``W`` = 1 on its pairs);
  ``c`` and ``W`` start from a declared (approximate) structure when the model has one, plus a
  small random part (``JASTROW_INIT_SCALE``): the energy gradient along the phases vanishes at
  real amplitudes.
* ``sign_rule="slater"``: the phase of a Slater determinant with trainable complex orbitals
  (:mod:`manybody.vmc.slater`).

Measured (100 iterations, defaults, ``benchmarks/vmc_signs.py``): started from a good structure
the two-body phase keeps it (J1-J2 2x3 from Marshall 1.1e-5, fixed Marshall 8.0e-6), but it learns
fermion signs from scratch only partly (relative error against none: SYK(12) 4.9e-2 vs 0.16, open
2x4 Hubbard 0.52 vs 0.75, SYK(8) 0.52 vs 0.37), so ``sign_rule="auto"`` never selects it.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import netket as nk
import numpy as np

__all__ = ["PhaseAR", "JastrowPhaseAR", "JASTROW_INIT_SCALE", "shifted_init"]

JASTROW_INIT_SCALE = 0.05
"""Std of the random part of the initial ``c`` and ``W`` (units of pi)."""


def shifted_init(base, scale: float, dtype):
    """A Flax initialiser: the array ``base`` (None: zeros) plus normal noise of std ``scale``."""

    def init(key, shape, dtype=dtype):
        start = np.zeros(shape) if base is None else np.asarray(base, dtype=float)
        return jnp.asarray(start, dtype) + scale * nn.initializers.normal(1.0)(key, shape, dtype)

    return init


class PhaseAR(nk.models.AbstractARNN):
    """``amplitude`` (an AbstractARNN) times ``exp(i theta(b))``; subclasses define ``_phase``.

    Sampling (``conditional``), the conditionals and the orders are the amplitude's. When the
    amplitude has ``log_psi_flipped`` (prefix reuse in the local energies), so does the wrapper:
    the phase of the flipped configurations is added to the amplitude's values.

    Attributes
    ----------
    amplitude : AbstractARNN
        Samples and gives the modulus (and its own phase, if any).
    """

    amplitude: nn.Module = None
    machine_pow: int = 2

    @property
    def order(self):
        """The amplitude's sampling order (read by the local-energy kernel)."""
        return self.amplitude.order

    def _phase(self, bits):
        """``theta`` (batch,) of configurations ``bits`` (batch, n) in qubit layout."""
        raise NotImplementedError

    def conditionals_log_psi(self, inputs):
        return self.amplitude.conditionals_log_psi(inputs)

    def conditional(self, inputs, index):
        return self.amplitude.conditional(inputs, index)

    def reorder(self, inputs, axis: int = 0):
        return self.amplitude.reorder(inputs, axis)

    def inverse_reorder(self, inputs, axis: int = 0):
        return self.amplitude.inverse_reorder(inputs, axis)

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
