"""A decoder-only autoregressive transformer wave function (NetKet ``AbstractARNN``).

For qubits sampled in the order ``order`` (the model's ``qubit_order``), the
amplitude factorises into conditionals

    psi(b) = prod_t sqrt(p(b_t | b_<t)) exp(i phi(b_t | b_<t)),

so ``|psi|^2`` is normalised and can be sampled exactly
(:class:`~manybody.vmc.sampler.TokenSampler`, or NetKet's ``ARDirectSampler``). The network
reads the shifted sequence ``(BOS, b_0, ..., b_{N-2})`` (in sampling order): a learned embedding of the
local state plus a learned positional embedding, ``n_layers`` pre-LayerNorm
blocks of causal multi-head self-attention and a GELU MLP, then two heads:
log-probability logits and phases (so amplitudes are complex).

With ``patch = p > 1`` a token is ``p`` consecutive qubits of the sampling order (one of
``2^p`` classes): the network reads ``N / p`` tokens and gives each token's ``2^p``-way
conditional, ``psi(b) = prod_t sqrt(p(c_t | c_<t)) exp(i phi(c_t | c_<t))``, and exact sampling
draws a token at a time (``token_conditional``; NetKet's qubit-wise sampler gets the marginals of
the token's conditional from ``conditional``). Fewer, richer positions:
cheaper passes and, on 2D lattices, a closer modulus (``benchmarks/vmc_j1j2.py``).

Constraints are enforced by masking the conditionals with a
:class:`~manybody.vmc.masking.ConstraintAutomaton`: a bit that leaves no valid
completion gets probability exactly 0 and the remaining bits are
renormalised, so only configurations in the sector are ever sampled and
``|psi|^2`` sums to 1 over the sector.

``token_conditional(x, t)`` keeps a key/value cache per layer, so direct
sampling costs one layer pass per token (``use_cache=False`` recomputes the
full forward pass at every token, for benchmarks and tests).
"""

from __future__ import annotations

import functools
import os
import re

import flax.linen as nn
import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

__all__ = [
    "ARTransformer",
    "MASKED_LOGP",
    "PHASE_INIT_SCALE",
    "initial_variables",
    "patch_classes",
    "first_token",
]

MASKED_LOGP = -1.0e5
"""Log-probability given to a masked bit: exp(MASKED_LOGP) is exactly 0 in float64 and float32."""

PHASE_INIT_SCALE = 0.1
"""Default std of the phase head's initial weights (used when no exact sign rule applies).
Measured (relative error of the energy, seed 0): Hubbard chain L=4, U=4 without a sign rule,
150 iterations: 0.67 from a zero phase head, 0.14 with 0.1, 0.03-0.16 with 0.5 (network sizes
differ), 0.44 with 1.5; QuantumLink1D(6, m=0.5), 80 iterations: 2e-5 (zero), 1.4e-6 (0.1), 4e-2 (0.5)."""


def patch_classes(patch: int) -> np.ndarray:
    """The bits (2^patch, patch) of each token class: class ``c`` has bit ``j`` = ``(c >> j) & 1``."""
    return (np.arange(2**patch)[:, None] >> np.arange(patch)) & 1


def first_token(start: int, patch: int) -> int:
    """The first token whose output a flip at sampling position ``start - 1`` or later changes
    (tokens of ``patch`` qubits)."""
    return (start - 1) // patch + 1


def patch_transitions(transitions: np.ndarray, patch: int) -> np.ndarray:
    """An automaton's transitions (N, S, 2) per token of ``patch`` qubits: (N / patch, S, 2^patch),
    the state after each class from each state at the token's start (-1: a bit of the class is
    forbidden)."""
    if patch == 1:
        return transitions
    classes, n_states = patch_classes(patch), transitions.shape[1]
    out = []
    for t in range(transitions.shape[0] // patch):
        state = np.broadcast_to(np.arange(n_states)[:, None], (n_states, 2**patch))
        for j in range(patch):
            nxt = transitions[t * patch + j][np.maximum(state, 0), classes[None, :, j]]
            state = np.where(state >= 0, nxt, -1)
        out.append(state)
    return np.stack(out).astype(np.int32)


def _split_heads(qkv, n_heads: int):
    """``(..., seq, 3 d_model)`` -> q, k, v, each ``(..., heads, seq, dh)``."""
    *lead, seq, width = qkv.shape
    x = qkv.reshape(*lead, seq, 3 * n_heads, width // (3 * n_heads))
    return jnp.split(jnp.swapaxes(x, -2, -3), 3, axis=-3)


def _merge_heads(att):
    """``(..., heads, seq, dh)`` -> ``(..., seq, d_model)``."""
    att = jnp.swapaxes(att, -2, -3)
    return att.reshape(*att.shape[:-2], att.shape[-2] * att.shape[-1])


class _Block(nn.Module):
    """Pre-LayerNorm causal self-attention + MLP block.

    Three ways to call it, all returning ``(h, (k, v))`` with keys and values in the layout
    ``(..., heads, seq, dh)``:

    * full causal pass: ``h`` of shape (batch, seq, d_model);
    * one position with the KV cache (``cache_index``, sampling): ``h`` of shape (batch, 1, d_model);
    * a suffix after a shared prefix (``prefix=(k, v)`` of shape (batch, heads, P, dh)): ``h`` of
      shape (batch, m, L, d_model) holds positions P .. P+L-1 of ``m`` configurations per batch
      row, which attend to the row's prefix keys and causally to their own suffix.
    """

    d_model: int
    n_heads: int
    length: int
    param_dtype: type = jnp.float64

    @nn.compact
    def __call__(self, h, cache_index=None, prefix=None):
        dh = self.d_model // self.n_heads
        dense = dict(param_dtype=self.param_dtype, dtype=self.param_dtype)
        x = nn.LayerNorm(param_dtype=self.param_dtype, name="ln_attn")(h)
        # heads before positions, (batch, heads, seq, dh): 1.7x faster attention on CPU than (b, s, h, dh)
        q, k, v = _split_heads(nn.Dense(3 * self.d_model, name="qkv", **dense)(x), self.n_heads)
        q = q / jnp.sqrt(dh).astype(q.dtype)
        if prefix is not None:
            k_pre, v_pre = prefix
            n_pre, n_new = k_pre.shape[-2], h.shape[-2]
            causal = jnp.tril(jnp.ones((n_new, n_new), dtype=bool))
            scores = jnp.concatenate(
                [
                    jnp.einsum("bmhsd,bhtd->bmhst", q, k_pre),
                    jnp.where(causal, jnp.einsum("bmhsd,bmhtd->bmhst", q, k), -jnp.inf),
                ],
                axis=-1,
            )
            weights = jax.nn.softmax(scores, axis=-1)
            att = jnp.einsum("bmhst,bhtd->bmhsd", weights[..., :n_pre], v_pre) + jnp.einsum(
                "bmhst,bmhtd->bmhsd", weights[..., n_pre:], v
            )
        else:
            if cache_index is None:
                causal = jnp.tril(jnp.ones((self.length, self.length), dtype=bool))[None, None]
            else:
                shape = (x.shape[0], self.n_heads, self.length, dh)
                ck = self.variable("cache", "k", jnp.zeros, shape, k.dtype)
                cv = self.variable("cache", "v", jnp.zeros, shape, v.dtype)
                zero = jnp.zeros((), jnp.int32)
                start = (zero, zero, jnp.asarray(cache_index, jnp.int32), zero)
                ck.value = jax.lax.dynamic_update_slice(ck.value, k, start)
                cv.value = jax.lax.dynamic_update_slice(cv.value, v, start)
                k, v = ck.value, cv.value
                causal = (jnp.arange(self.length) <= cache_index)[None, None, None, :]
            scores = jnp.where(causal, q @ k.swapaxes(-1, -2), -jnp.inf)
            att = jax.nn.softmax(scores, axis=-1) @ v
        h = h + nn.Dense(self.d_model, name="attn_out", **dense)(_merge_heads(att))
        x = nn.LayerNorm(param_dtype=self.param_dtype, name="ln_mlp")(h)
        x = nn.gelu(nn.Dense(4 * self.d_model, name="mlp_in", **dense)(x))
        return h + nn.Dense(self.d_model, name="mlp_out", **dense)(x), (k, v)


class ARTransformer(nk.models.AbstractARNN):
    """Autoregressive transformer over qubits (or tokens of ``patch`` qubits) with masked
    (constrained) conditionals.

    Attributes
    ----------
    hilbert : netket.hilbert.Qubit
        Local states 0, 1 are the bits ``b_q`` of the manybody convention.
    order : HashableArray of int, shape (N,)
        Qubits in sampling order.
    transitions : HashableArray of int32, shape (N, S, 2), optional
        ``ConstraintAutomaton.transitions`` (None: no constraint).
    sign_linear : HashableArray of int, shape (N,), optional
        Fixed sign rule, linear part ``c`` (sampling order): the amplitude gets the sign
        ``(-1)^(c.b + sum_{s<t} P_ts b_s b_t)`` (Marshall: ``c`` = sublattice A).
    sign_pairs : HashableArray of int, shape (N, N), optional
        Fixed sign rule, pair part ``P`` (sampling order, symmetric 0/1).
    phase_init_scale : float
        Standard deviation of the phase head's initial weights. Non-zero unless a sign rule
        gives the exact signs: for a real Hamiltonian the energy gradient along the phases
        vanishes at a state with real positive amplitudes, which would never learn its signs.
    d_model, n_heads, n_layers : int
        Width, attention heads and number of blocks.
    patch : int
        Qubits per token: token ``t`` is the qubits at sampling positions ``t p .. t p + p - 1``,
        its class ``sum_j b_{t p + j} 2^j`` (:func:`patch_classes`); must divide N. 1: a token
        per qubit.
    use_cache : bool
        Key/value cache in ``conditional`` (True) or a full forward pass per site (False).
    """

    order: nk.utils.HashableArray = None
    transitions: nk.utils.HashableArray | None = None
    sign_linear: nk.utils.HashableArray | None = None
    sign_pairs: nk.utils.HashableArray | None = None
    d_model: int = 32
    n_heads: int = 4
    n_layers: int = 2
    patch: int = 1
    use_cache: bool = True
    phase_init_scale: float = PHASE_INIT_SCALE
    param_dtype: type = jnp.float64
    machine_pow: int = 2

    def setup(self):
        n = self.hilbert.size
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} must be a multiple of n_heads={self.n_heads}")
        if self.patch < 1 or n % self.patch:
            raise ValueError(f"patch={self.patch} must be a positive divisor of the {n} qubits")
        classes = 2**self.patch
        self.embed = nn.Embed(classes + 1, self.d_model, param_dtype=self.param_dtype)
        self.position = self.param(
            "position", nn.initializers.normal(0.02, self.param_dtype), (n // self.patch, self.d_model)
        )
        self.blocks = [
            _Block(self.d_model, self.n_heads, n // self.patch, self.param_dtype, name=f"block_{i}")
            for i in range(self.n_layers)
        ]
        self.ln_out = nn.LayerNorm(param_dtype=self.param_dtype)
        dense = dict(param_dtype=self.param_dtype, dtype=self.param_dtype)
        self.logit_head = nn.Dense(classes, kernel_init=nn.initializers.zeros, **dense)
        self.phase_head = nn.Dense(
            classes, kernel_init=nn.initializers.normal(self.phase_init_scale), **dense
        )

    # -- orders ------------------------------------------------------------------

    def _order(self):
        return jnp.asarray(np.asarray(self.order), dtype=jnp.int32)

    def _inverse_order(self):
        return jnp.asarray(np.argsort(np.asarray(self.order)), dtype=jnp.int32)

    def reorder(self, inputs, axis: int = 0):
        return jnp.take(inputs, self._order(), axis=axis)

    def inverse_reorder(self, inputs, axis: int = 0):
        return jnp.take(inputs, self._inverse_order(), axis=axis)

    # -- tokens ------------------------------------------------------------------

    def _tokens(self, bits):
        """Token classes (..., N / patch) of ``bits`` (..., N) in sampling order."""
        grouped = bits.reshape(*bits.shape[:-1], -1, self.patch)
        return jnp.sum(grouped << jnp.arange(self.patch, dtype=grouped.dtype), axis=-1, dtype=grouped.dtype)

    def _shifted(self, tokens):
        """The network's inputs: ``(BOS, c_0, ..., c_{T-2})``, BOS being class ``2^patch``."""
        return jnp.concatenate([jnp.full_like(tokens[..., :1], 2**self.patch), tokens[..., :-1]], axis=-1)

    def _first_token(self, start: int) -> int:
        return first_token(start, self.patch)

    # -- pieces ------------------------------------------------------------------

    def _outputs(self, h):
        """Logits and phases, each (batch, seq, 2^patch), from the last hidden states."""
        h = self.ln_out(h)
        return self.logit_head(h), self.phase_head(h)

    def _masked_log_prob(self, logits, allowed):
        logits = jnp.where(allowed, logits, -jnp.inf)
        return jnp.where(allowed, jax.nn.log_softmax(logits, axis=-1), MASKED_LOGP)

    def _automaton(self):
        """The constraint automaton per token (:func:`patch_transitions`), None without constraint."""
        if self.transitions is None:
            return None
        return jnp.asarray(patch_transitions(np.asarray(self.transitions), self.patch))

    def _allowed(self, table, t, state):
        """Allowed classes (batch, 2^patch) of token ``t`` for automaton states ``state`` (batch,)."""
        if table is None:
            return jnp.ones((state.shape[0], 2**self.patch), dtype=bool)
        row = table[t][jnp.maximum(state, 0)]
        return jnp.where((state >= 0)[:, None], row >= 0, True)

    def _advance(self, table, t, state, token):
        if table is None:
            return state
        row = table[t][jnp.maximum(state, 0)]
        nxt = jnp.take_along_axis(row, token[:, None], axis=1)[:, 0]
        return jnp.where(state >= 0, nxt, -1)

    def _sign_angle(self, bits):
        """Angle (batch, N) of bit 1 under the fixed sign rule: pi * (c_t + sum_{s<t} P_ts b_s)."""
        angle = jnp.zeros(bits.shape, dtype=self.param_dtype)
        if self.sign_linear is not None:
            angle = angle + jnp.asarray(np.asarray(self.sign_linear), dtype=self.param_dtype)
        if self.sign_pairs is not None:
            earlier = np.tril(np.asarray(self.sign_pairs), k=-1)
            angle = angle + bits.astype(self.param_dtype) @ jnp.asarray(earlier.T, dtype=self.param_dtype)
        return jnp.pi * angle

    def _trunk(self, tokens, start: int = 0, prefix=None):
        """Head outputs (logits, phases) of positions ``start ..`` and each layer's keys/values.

        ``tokens`` (..., L) are the inputs of positions ``start .. start+L-1``; ``prefix`` is one
        ``(k, v)`` per layer for positions ``0 .. start-1`` (see :class:`_Block`).
        """
        h = self.embed(tokens) + self.position[start : start + tokens.shape[-1]]
        kv = []
        for i, block in enumerate(self.blocks):
            h, layer_kv = block(h, prefix=None if prefix is None else prefix[i])
            kv.append(layer_kv)
        return (*self._outputs(h), kv)

    def _log_amplitudes(self, tokens, logits, phase):
        """Log conditional amplitudes (batch, T, 2^patch) of every class of every token."""
        table = self._automaton()

        def step(state, t):
            return self._advance(table, t, state, tokens[:, t]), self._allowed(table, t, state)

        _, allowed = jax.lax.scan(step, jnp.zeros_like(tokens[:, 0]), jnp.arange(tokens.shape[1]))
        return 0.5 * self._masked_log_prob(logits, jnp.swapaxes(allowed, 0, 1)) + 1j * phase

    def _bit_log_marginals(self, log_p, patch_bits, j):
        """log P(bits of the token before ``j``, bit ``j`` = v) for v = 0, 1, shape (..., 2), from the
        log-probabilities ``log_p`` (..., 2^patch) of the token's classes and its bits (..., patch)."""
        classes = jnp.asarray(patch_classes(self.patch))
        before = jnp.arange(self.patch) < j
        agree = jnp.all((classes == patch_bits[..., None, :]) | ~before, axis=-1)
        bit_j = jnp.take(classes, j, axis=1)
        return jnp.stack(
            [jax.nn.logsumexp(jnp.where(agree & (bit_j == v), log_p, -jnp.inf), axis=-1) for v in (0, 1)],
            axis=-1,
        )

    def _qubit_conditionals(self, bits, amplitudes):
        """Log conditional amplitudes (batch, N, 2) of the qubits from those of the tokens: bit ``j``
        of a token gets the marginal of its classes given the token's earlier bits, and the
        token's phase goes to its last bit (which fixes the class)."""
        if self.patch == 1:
            return amplitudes
        p = self.patch
        grouped = bits.reshape(*bits.shape[:-1], -1, p)
        log_p = 2 * amplitudes.real
        out = []
        for j in range(p):
            joint = self._bit_log_marginals(log_p, grouped, j)
            cond = 0.5 * (joint - jax.nn.logsumexp(joint, axis=-1, keepdims=True))
            if j == p - 1:
                head = jnp.sum(
                    grouped[..., :-1] << jnp.arange(p - 1, dtype=grouped.dtype), axis=-1, dtype=grouped.dtype
                )
                classes = head[..., None] + jnp.array([0, 2 ** (p - 1)], dtype=head.dtype)
                cond = cond + 1j * jnp.take_along_axis(amplitudes.imag, classes, axis=-1)
            out.append(cond)
        return jnp.stack(out, axis=-2).reshape(*bits.shape, 2)

    def _log_psi_ordered(self, bits, logits, phase):
        """log psi (batch,) of ``bits`` (batch, N) in sampling order, from the head outputs."""
        tokens = self._tokens(bits)
        amplitudes = self._log_amplitudes(tokens, logits, phase)
        log_psi = jnp.take_along_axis(amplitudes, tokens[..., None], axis=-1)[..., 0].sum(axis=-1)
        if self.sign_linear is None and self.sign_pairs is None:
            return log_psi
        return log_psi + 1j * jnp.sum(bits * self._sign_angle(bits), axis=-1)

    # -- AbstractARNN interface ----------------------------------------------------

    def __call__(self, inputs):
        """log psi (batch,) of configurations (batch, N) in qubit layout."""
        if inputs.ndim == 1:
            inputs = inputs[None]
        return self.prefix_cache(inputs)[0]

    def conditionals_log_psi(self, inputs):
        """Log conditional amplitudes (batch, N, 2) in qubit (unordered) layout."""
        bits = self.reorder(jnp.asarray(inputs, dtype=jnp.int32), axis=1)
        tokens = self._tokens(bits)
        logits, phase, _ = self._trunk(self._shifted(tokens))
        cond = self._qubit_conditionals(bits, self._log_amplitudes(tokens, logits, phase))
        angle = self._sign_angle(bits)
        cond = cond + 1j * jnp.stack([jnp.zeros_like(angle), angle], axis=-1)
        return self.inverse_reorder(cond, axis=1)

    def _token_log_prob(self, bits, t):
        """log p (batch, 2^patch) of the classes of token ``t`` given the earlier tokens of ``bits``
        (batch, N, sampling order). With ``use_cache`` one layer pass at position ``t`` that
        writes its keys/values to the cache (the earlier positions must be cached), else a full
        pass."""
        p = self.patch
        tokens = self._tokens(bits)
        if self.use_cache:
            token = jnp.where(t == 0, 2**p, jnp.take(tokens, jnp.maximum(t - 1, 0), axis=1))
            h = self.embed(token)[:, None, :] + self.position[t][None, None, :]
            for block in self.blocks:  # idempotent: qubit-wise sampling rewrites a token's keys/values
                h, _ = block(h, cache_index=t)
            logits, _ = self._outputs(h[:, 0])
        else:
            logits = jnp.take(self._trunk(self._shifted(tokens))[0], t, axis=1)
        table = self._automaton()
        state = jax.lax.fori_loop(
            0, t, lambda s, st: self._advance(table, s, st, tokens[:, s]), jnp.zeros_like(tokens[:, 0])
        )
        return self._masked_log_prob(logits, self._allowed(table, t, state))

    def token_conditional(self, inputs, t):
        """Probabilities (batch, 2^patch) of the classes of token ``t`` given the earlier tokens of
        ``inputs`` (batch, N, qubit layout): one step of :class:`~manybody.vmc.sampler.TokenSampler`."""
        if inputs.ndim == 1:
            inputs = inputs[None]
        return jnp.exp(self._token_log_prob(self.reorder(jnp.asarray(inputs, dtype=jnp.int32), axis=1), t))

    def conditional(self, inputs, index):
        """Probabilities (batch, 2) of qubit ``index`` given the already sampled qubits (NetKet's
        qubit-by-qubit ``ARDirectSampler``): the marginals of its token's conditional."""
        if inputs.ndim == 1:
            inputs = inputs[None]
        p = self.patch
        bits = self.reorder(jnp.asarray(inputs, dtype=jnp.int32), axis=1)
        position = self._inverse_order()[index]
        t = position // p
        log_p = self._token_log_prob(bits, t)
        if p == 1:
            return jnp.exp(log_p)
        patch_bits = jax.lax.dynamic_slice_in_dim(bits, t * p, p, axis=1)
        return jax.nn.softmax(self._bit_log_marginals(log_p, patch_bits, position - t * p), axis=-1)

    # -- local estimators ------------------------------------------------------------

    def prefix_cache(self, inputs):
        """log psi (batch,) of configurations and what :meth:`log_psi_pairs` reuses of them.

        Returns
        -------
        log_psi : array (batch,)
        cache : tuple
            ``(bits, logits, phases, kv)``: the bits (batch, N) in sampling order, the head outputs
            (batch, T, 2^patch) of the T tokens and each layer's keys and values
            (batch, heads, T, dh).
        """
        bits = self.reorder(jnp.asarray(inputs, dtype=jnp.int32), axis=1)
        logits, phase, kv = self._trunk(self._shifted(self._tokens(bits)))
        return self._log_psi_ordered(bits, logits, phase), (bits, logits, phase, kv)

    def _log_psi_from(self, cache, flipped, start: int):
        """log psi (b, m) of ``flipped`` (b, m, N), sampling order, equal to row ``i`` of ``cache``
        (:meth:`prefix_cache`, batch b) before position ``start - 1``."""
        _, logits, phase, kv = cache
        b, m, n = flipped.shape
        n_tokens, classes = n // self.patch, logits.shape[-1]
        first = self._first_token(start)
        outputs = [jnp.broadcast_to(x[:, None, :first], (b, m, first, classes)) for x in (logits, phase)]
        if first < n_tokens:
            prefix = [(k[:, :, :first], v[:, :, :first]) for k, v in kv]
            tokens = self._tokens(flipped)[:, :, first - 1 : n_tokens - 1]
            new = self._trunk(tokens, first, prefix)[:2]
            outputs = [jnp.concatenate([a, c], axis=2) for a, c in zip(outputs, new)]
        logits_f, phase_f = (x.reshape(-1, n_tokens, classes) for x in outputs)
        return self._log_psi_ordered(flipped.reshape(-1, n), logits_f, phase_f).reshape(b, m)

    def log_psi_pairs(self, cache, rows, masks, start: int):
        """log psi (P,) of cached configurations ``rows`` (P,) with ``masks`` (P, N) flipped.

        ``cache`` is a :meth:`prefix_cache` output; ``masks`` are 0/1 in **sampling order** and
        flip no position before ``start - 1`` (static, ``1 <= start <= N``): only the tokens
        from the one holding position ``start - 1`` on are evaluated, on the keys and values of
        row ``rows[p]`` before them.
        """
        bits, logits, phase, kv = cache
        first = self._first_token(start)
        prefix = (
            bits,
            logits[:, :first],
            phase[:, :first],
            [(k[:, :, :first], v[:, :, :first]) for k, v in kv],
        )
        gathered = jax.tree_util.tree_map(lambda x: jnp.take(x, rows, axis=0), prefix)  # only what is reused
        flipped = gathered[0] ^ jnp.asarray(masks, dtype=jnp.int32)
        return self._log_psi_from(gathered, flipped[:, None, :], start)[:, 0]

    def log_psi_flipped(self, inputs, groups):
        """log psi of configurations and of copies with fixed sets of bits flipped.

        With causal attention a copy whose first flipped qubit (in sampling order) is ``k``
        shares every key, value and conditional before position ``k + 1`` with its
        configuration: one full pass over ``inputs`` gives those, and each copy is evaluated
        from position ``start >= k + 1`` on only (with tokens of several qubits: from the token
        after the one holding position ``start - 1``, whose conditional is reused).

        Parameters
        ----------
        inputs : array (batch, N)
            Configurations in qubit layout.
        groups : sequence of (int, ndarray)
            ``(start, masks)``: ``masks`` (m, N) int 0/1 in **sampling order**, each flipping no
            position before ``start - 1`` (``1 <= start <= N``); static (numpy).

        Returns
        -------
        log_psi : array (batch,)
        log_psi_flipped : array (batch, sum of m)
            The groups' copies in the order of ``groups``.
        """
        log_psi, cache = self.prefix_cache(inputs)
        bits = cache[0]
        flipped = [
            self._log_psi_from(cache, bits[:, None, :] ^ jnp.asarray(masks, dtype=jnp.int32)[None], start)
            for start, masks in groups
        ]
        return log_psi, jnp.concatenate(flipped, axis=1)


def _init_optimization_level() -> int:
    """The LLVM optimisation level of the compiled ``model.init``: 1, or a lower one set in
    ``XLA_FLAGS`` (``--xla_backend_optimization_level``)."""
    level = re.search(r"--xla_backend_optimization_level=(\d+)", os.environ.get("XLA_FLAGS", ""))
    return min(1, int(level.group(1))) if level else 1


@functools.cache
def _compiled_init():
    """``model.init`` compiled with less LLVM optimisation (:func:`_init_optimization_level`): it
    runs once, and on CPU its random number kernels compiled in 1.8 instead of 2.5 s at level 1
    with the parameters of the default level, bit for bit. At level 0 (the default test suite's
    ``XLA_FLAGS``) a small SYK network's compiled in 2.2 s instead of 3.2 s at level 1, its
    parameters 1 ulp (5.6e-16) apart; a fixed level 1 overrode the suite's 0."""

    def init(model, key, inputs):
        return model.init({"params": key}, inputs)

    return jax.jit(
        init,
        static_argnums=0,
        compiler_options={"xla_backend_optimization_level": _init_optimization_level()},
    )


def initial_variables(model, seed: int, dtype=jnp.int8):
    """The variables ``netket.vqs.MCState(sampler, model, seed=seed)`` initialises, in one compiled call.

    ``MCState`` runs ``model.init`` op by op, and each operation is compiled on its own (about 130
    small compilations, several seconds at the first solve of a process); here the whole
    initialisation is one jitted function. The dummy input is zeros (the parameters depend on its
    shape only; a random one compiled its own random-state kernel, 0.5 s). ``dtype`` is the
    sampler's dtype (the dummy input's).
    """
    return _compiled_init()(model, nk.jax.PRNGKey(seed), jnp.zeros((1, model.hilbert.size), dtype=dtype))
