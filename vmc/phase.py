"""A learned sign: the autoregressive amplitude times a trainable two-body phase.

``sign_rule="jastrow"`` wraps the transformer (:class:`~manybody.vmc.network.ARTransformer`)
as

    psi(b) = psi_AR(b) exp(i pi (sum_q c_q b_q + sum_{p<q} W_pq b_p b_q)),

with real trainable ``c`` (n,) and ``W`` (n, n) (upper triangle used). The
factor is a pure phase, so ``|psi|^2`` is the transformer's normalised
distribution and sampling stays exact (the sampler only calls the
transformer's conditionals). The family contains every declared fixed rule
(Marshall: ``c`` = 1 on sublattice A; the Hubbard-chain reordering sign:
``W`` = 1 on its pairs) and interpolates between sign structures
continuously, so the optimiser can move between them; ``c`` and ``W`` start
from a declared (approximate) structure when the model has one, plus a small
random part (``JASTROW_INIT_SCALE``): the energy gradient along the phases
vanishes at real amplitudes.

Measured (100 iterations, defaults, ``benchmarks/vmc_signs.py``): started from a good structure it
keeps it (J1-J2 2x3 from Marshall 1.1e-5, fixed Marshall 8.0e-6), but it learns fermion signs from
scratch only partly (relative error against none: SYK(12) 4.9e-2 vs 0.16, open 2x4 Hubbard 0.52 vs
0.75, SYK(8) 0.52 vs 0.37), so ``sign_rule="auto"`` never selects it.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp
import netket as nk
import numpy as np

__all__ = ["JastrowPhaseAR", "JASTROW_INIT_SCALE"]

JASTROW_INIT_SCALE = 0.05
"""Std of the random part of the initial ``c`` and ``W`` (units of pi)."""


class JastrowPhaseAR(nk.models.AbstractARNN):
    """``amplitude`` (an AbstractARNN) times ``exp(i pi (c.b + sum_{p<q} W_pq b_p b_q))``.

    Attributes
    ----------
    amplitude : AbstractARNN
        Samples and gives the modulus (and its own phase, if any).
    linear0, pairs0 : HashableArray or None
        Initial ``c`` (n,) and ``W`` (n, n) in qubit order (a declared sign structure), else 0.
    """

    amplitude: nn.Module = None
    linear0: nk.utils.HashableArray | None = None
    pairs0: nk.utils.HashableArray | None = None
    init_scale: float = JASTROW_INIT_SCALE
    machine_pow: int = 2

    def setup(self):
        n = self.hilbert.size
        dtype = self.amplitude.param_dtype

        def start(value, shape):
            base = np.zeros(shape) if value is None else np.asarray(value, dtype=float)

            def init(key, shape, dtype=dtype):
                noise = self.init_scale * nn.initializers.normal(1.0)(key, shape, dtype)
                return jnp.asarray(base, dtype) + noise

            return init

        self.c = self.param("phase_linear", start(self.linear0, (n,)), (n,), dtype)
        self.w = self.param("phase_pairs", start(self.pairs0, (n, n)), (n, n), dtype)

    def _phase(self, inputs):
        bits = jnp.asarray(inputs, dtype=self.c.dtype)
        upper = jnp.triu(self.w, k=1)
        return jnp.pi * (bits @ self.c + jnp.einsum("bp,pq,bq->b", bits, upper, bits))

    def conditionals_log_psi(self, inputs):
        return self.amplitude.conditionals_log_psi(inputs)

    def conditional(self, inputs, index):
        return self.amplitude.conditional(inputs, index)

    def reorder(self, inputs, axis: int = 0):
        return self.amplitude.reorder(inputs, axis)

    def inverse_reorder(self, inputs, axis: int = 0):
        return self.amplitude.inverse_reorder(inputs, axis)

    def __call__(self, inputs):
        return self.amplitude(inputs) + 1j * self._phase(inputs)
