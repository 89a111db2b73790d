"""Exact autoregressive sampling a token at a time.

NetKet's ``ARDirectSampler`` draws one qubit per step from ``model.conditional``. A network whose
tokens are ``p`` qubits (:class:`~manybody.vmc.network.ARTransformer` with ``patch = p``) gives the
joint conditional of a token's ``2^p`` classes in one layer pass, so :class:`TokenSampler` draws a
whole token per step from ``model.token_conditional``: ``N / p`` passes instead of ``N``, the same
distribution. With ``p = 1`` it draws exactly what ``ARDirectSampler`` draws for the same key.
"""

from __future__ import annotations

from functools import partial

import flax
import jax
import jax.numpy as jnp
import netket as nk
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from .network import patch_classes

__all__ = ["TokenSampler"]


class TokenSampler(nk.sampler.ARDirectSampler):
    """Direct sampler of autoregressive models over tokens of ``model.patch`` qubits.

    The model must have ``patch`` (qubits per token), ``reorder`` (NetKet's sampling order) and
    ``token_conditional(x, t)``: the probabilities (batch, 2^patch) of the classes of token ``t``
    (the qubits at sampling positions ``t p .. t p + p - 1``; class ``c`` has bit ``j`` =
    ``(c >> j) & 1``) given the earlier tokens of ``x``, which may keep a ``"cache"`` collection.
    A model with ``random_images(x, key)`` (:class:`~manybody.vmc.symmetric.SymmetricAR`) has each
    sample replaced by its image under a random symmetry.
    """

    def _init_cache(self, model, σ, key):
        return model.init(key, σ, 0, method=model.token_conditional).get("cache")

    @partial(jax.jit, static_argnames=("model", "chain_length", "return_log_probabilities"))
    def _sample_chain(self, model, variables, state, chain_length, return_log_probabilities: bool = False):
        if "cache" in variables:
            variables, _ = flax.core.pop(variables, "cache")
        params = variables
        classes = jnp.asarray(patch_classes(model.patch), dtype=self.dtype)

        def step(carry, token):
            σ, cache, key, log_prob = carry
            t, positions = token
            new_key, key = jax.random.split(key)
            p, mutables = model.apply(
                {**params, "cache": cache} if cache else params,
                σ,
                t,
                method=model.token_conditional,
                mutable=["cache"],
            )
            chosen, prob = nk.jax.batch_choice(key, jnp.arange(classes.shape[0]), p, return_prob=True)
            if return_log_probabilities:
                log_prob = log_prob + jnp.log(prob)
            σ = σ.at[:, positions].set(classes[chosen])
            return (σ, mutables.get("cache"), new_key, log_prob), None

        new_key, key_init, key_scan = jax.random.split(state.key, 3)
        σ = jnp.zeros((self.n_batches * chain_length, self.hilbert.size), dtype=self.dtype)
        if nk.config.netket_sharding:
            σ = jax.lax.with_sharding_constraint(σ, NamedSharding(jax.sharding.get_abstract_mesh(), P("S")))
        cache = self._init_cache(model, σ, key_init)
        order = model.apply(params, jnp.arange(self.hilbert.size), method=model.reorder)
        tokens = (jnp.arange(self.hilbert.size // model.patch), order.reshape(-1, model.patch))
        log_prob = jnp.zeros((self.n_batches * chain_length,)) if return_log_probabilities else None
        (σ, _, _, log_prob), _ = jax.lax.scan(step, (σ, cache, key_scan, log_prob), tokens)
        if hasattr(model, "random_images"):  # a symmetrised network: a random symmetry of each sample
            key_images = jax.random.fold_in(key_scan, 1)
            σ = model.apply(params, σ, key_images, method=model.random_images)
            if return_log_probabilities:
                log_prob = 2 * model.apply(params, σ).real
        σ = σ.reshape((self.n_batches, chain_length, self.hilbert.size))
        new_state = state.replace(key=new_key)
        if return_log_probabilities:
            return (σ, log_prob.reshape((self.n_batches, chain_length))), new_state
        return σ, new_state
