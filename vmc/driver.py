"""The optimisation loop: NetKet ``VMC_SR`` with schedules, checkpoints and a divergence guard.

One iteration samples ``n_samples`` configurations exactly, computes the
local energies and the natural-gradient (SR) update with
``netket.driver.VMC_SR`` (minSR / NTK form when the parameters outnumber the
samples, as NetKet chooses), and applies it with ``optax.sgd``.

* Schedules: the learning rate follows a cosine decay from
  ``learning_rate`` to ``learning_rate * lr_final_fraction``; the diagonal
  shift decays geometrically from ``diag_shift`` to ``diag_shift_final``.
* Checkpoints: every ``checkpoint_every`` iterations the parameters, the
  optimiser state, the SPRING momentum buffer, the sampler's RNG key, the
  step count, the learning-rate scale and the history so far are written to
  ``checkpoint_dir/checkpoint.msgpack`` (atomically). A run started with the
  same options and an existing checkpoint resumes from it and follows the
  same trajectory as an uninterrupted run.
* Jacobian mode: ``"real"`` when the wave function stays real during the whole run (the phase
  head is exactly zero, as under an exact sign rule, and the Hamiltonian's matrix elements are
  real): the phase parameters then get exactly zero updates, the real-mode update is the same and
  NetKet skips the imaginary half of the Jacobian (a 2x smaller minSR kernel, 4x cheaper).
* Jacobian chunks: on CPU the per-sample Jacobian of the SR update is computed in chunks of
  samples whose backward-pass intermediates fit a core's L2 cache (:func:`jacobian_chunk_size`;
  chain L=40, 512 samples: 0.43 s instead of 1.17 s per SR solve), unless ``chunk_size`` is set.
* Compilation: with ``MANYBODY_COMPILATION_CACHE`` set, XLA executables are cached on disk
  (:func:`enable_compilation_cache`), so a new process re-uses the compilation of the same
  network shape; off by default (see there).
* Guard: a non-finite energy, variance or update, or an energy more than
  ``10`` standard errors plus ``5 %`` above the best seen so far, rolls the
  state back to the last good snapshot and halves the learning rate (at most
  ``MAX_ROLLBACKS`` times, then ``RuntimeError``).
"""

from __future__ import annotations

import math
import os
import time
from functools import partial
from pathlib import Path

import flax.serialization
import jax
import jax.numpy as jnp
import netket as nk
import netket.jax as nkjax
import netket.stats as nkstats
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
from netket._src.ngd.sr_srt_common import _prepare_input
from netket.utils import struct

from manybody.io import atomic_write
from manybody.vmc.operators import (
    CACHE_FLOATS,
    _local_precision,
    batch_local_values,
    equal_chunks,
    network_positions,
    pass_dtype,
)
from manybody.vmc.phase import amplitude_of
from manybody.vmc.symmetric import SymmetricAR, group_order

__all__ = [
    "optimize",
    "sr_driver",
    "SR",
    "distinct_size",
    "distinct_rows",
    "weighted_local_energies",
    "ROW_BUCKETS",
    "JACOBIAN_DTYPE",
    "jacobian_chunk_size",
    "enable_compilation_cache",
    "CHECKPOINT_FILE",
    "MAX_ROLLBACKS",
]

CHECKPOINT_FILE = "checkpoint.msgpack"
MAX_ROLLBACKS = 5
DENSE_JACOBIAN_BYTES = 2**30
"""Largest explicit SR Jacobian (bytes, in its precision and Jacobian mode) of the minSR step;
beyond it the NTK is built on the fly (NetKet's lazy form, in the network's precision). Measured
on the 4x4 torus (d_model 32, 2048 samples, one thread): 4 CPU s per step with the explicit
float32 Jacobian (215 MB), 19.5 s on the fly."""
_HISTORY_KEYS = ("energy", "energy_error", "variance", "learning_rate", "diag_shift")


CACHE_MAX_BYTES = 2 * 1024**3
"""Size bound of the on-disk compilation cache (JAX evicts the least recently used entries)."""


def enable_compilation_cache() -> str | None:
    """Cache XLA executables on disk when ``MANYBODY_COMPILATION_CACHE`` asks for it (opt-in).

    ``MANYBODY_COMPILATION_CACHE`` is a folder, or ``1`` for ``$XDG_CACHE_HOME/manybody/jax``
    (``~/.cache/manybody/jax``); a cache directory the user configured for JAX itself
    (``JAX_COMPILATION_CACHE_DIR``) is left as it is. Returns the directory in use (None: off).
    Compilations of at least 0.2 s are written (JAX's default of 1 s skips most kernels of a
    small network); the cache is bounded (``CACHE_MAX_BYTES``, least recently used entries
    evicted), which makes JAX lock the folder around reads and writes, so that processes
    sharing it never read a half-written entry.

    Off by default (it writes up to ``CACHE_MAX_BYTES`` under the home folder): a fresh process
    then compiles its kernels again (about 15 s of CPU before the first iteration). The crash that
    once pointed at the cache was the process reaching ``vm.max_map_count``
    (:mod:`manybody.vmc.compiled`).
    """
    configured = jax.config.jax_compilation_cache_dir or os.environ.get("JAX_COMPILATION_CACHE_DIR")
    if configured:
        return configured
    choice = os.environ.get("MANYBODY_COMPILATION_CACHE", "").strip()
    if choice in ("", "0"):
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = root / "manybody" / "jax" if choice == "1" else Path(choice)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    return str(folder)


enable_compilation_cache()


def _schedules(opts):
    lr_final = opts.learning_rate * opts.lr_final_fraction
    lr = optax.cosine_decay_schedule(
        opts.learning_rate, max(opts.n_iter, 1), alpha=lr_final / opts.learning_rate
    )
    ratio = opts.diag_shift_final / opts.diag_shift

    def diag_shift(step):
        frac = jnp.minimum(step / max(opts.n_iter, 1), 1.0)
        return opts.diag_shift * ratio**frac

    return lr, diag_shift


def _optimizer(lr_schedule, scale: float):
    return optax.sgd(lambda step: scale * lr_schedule(step))


def _key_data(key):
    return jax.random.key_data(key) if jnp.issubdtype(key.dtype, jax.dtypes.prng_key) else key


def _snapshot(driver, lr_scale: float, history: dict) -> dict:
    vs = driver.state
    return {
        "params": flax.serialization.to_state_dict(vs.parameters),
        "optimizer": flax.serialization.to_state_dict(driver._optimizer_state),
        "old_updates": flax.serialization.to_state_dict(driver._old_updates),
        "sampler_key": np.asarray(_key_data(vs.sampler_state.key)),
        "step": driver.step_count,
        "lr_scale": lr_scale,
        "history": {k: np.asarray(v, dtype=float) for k, v in history.items()},
    }


def _restore(driver, snap: dict, lr_schedule) -> tuple[float, dict]:
    vs = driver.state
    vs.parameters = flax.serialization.from_state_dict(vs.parameters, snap["params"])
    driver.optimizer = _optimizer(lr_schedule, float(snap["lr_scale"]))
    driver._optimizer_state = flax.serialization.from_state_dict(driver._optimizer_state, snap["optimizer"])
    driver._old_updates = flax.serialization.from_state_dict(driver._old_updates, snap["old_updates"])
    old = vs.sampler_state.key
    key = jnp.asarray(snap["sampler_key"], dtype=jnp.uint32)
    if jnp.issubdtype(old.dtype, jax.dtypes.prng_key):
        key = jax.random.wrap_key_data(key, impl=jax.random.key_impl(old))
    vs.sampler_state = vs.sampler_state.replace(key=key)
    vs.reset()
    driver._step_count = int(snap["step"])
    history = {k: list(np.asarray(snap["history"].get(k, []), dtype=float)) for k in _HISTORY_KEYS}
    return float(snap["lr_scale"]), history


def _save(folder: Path, snap: dict) -> None:
    atomic_write(folder / CHECKPOINT_FILE, flax.serialization.msgpack_serialize(snap))


def _load(folder: Path) -> dict | None:
    path = folder / CHECKPOINT_FILE
    if not path.is_file():
        return None
    return flax.serialization.msgpack_restore(path.read_bytes())


def _is_bad(stats, dp, best: float) -> bool:
    energy, error, variance = float(np.real(stats.mean)), float(stats.error_of_mean), float(stats.variance)
    if not all(math.isfinite(v) for v in (energy, error, variance)):
        return True
    # on the host: jnp.isfinite would compile a kernel per parameter shape at the first iteration
    if not all(np.isfinite(np.asarray(x)).all() for x in jax.tree_util.tree_leaves(dp)):
        return True
    return math.isfinite(best) and energy > best + 10 * error + 0.05 * abs(best)


def jacobian_mode(vstate, hamiltonian) -> str | None:
    """``"real"`` if the wave function stays real during optimisation, else None (NetKet decides).

    True when the network's ``phase_head`` parameters are all exactly zero (the phase is then the
    fixed sign rule: every phase derivative vanishes, and with real matrix elements the local
    energies are real, so SR never moves the phase) and the Hamiltonian (a
    :class:`~manybody.vmc.operators.PauliSum`) has real matrix elements.
    """
    model, params = vstate.model, vstate.parameters
    while isinstance(model, SymmetricAR):  # its phase is its amplitude's
        model, params = model.amplitude, params["amplitude"]
    head = params.get("phase_head") if hasattr(params, "get") else None
    plan = getattr(hamiltonian, "plan", None)
    if head is None or plan is None or np.any(plan.coeffs.imag != 0):
        return None
    if any(np.any(np.asarray(x) != 0) for x in jax.tree_util.tree_leaves(head)):
        return None
    return "real"


def jacobian_chunk_size(vstate, n_rows: int | None = None) -> int | None:
    """Samples per chunk of the SR Jacobian: the state's ``chunk_size`` if set, else on CPU the
    largest divisor of ``n_rows`` (default ``n_samples``) that keeps the per-sample backward pass
    (``4 x 4 d_model`` floats per position, i.e. token, layer and element of a symmetrised
    network's group) within ``CACHE_FLOATS``; None (one pass)
    on accelerators."""
    if vstate.chunk_size is not None or jax.default_backend() != "cpu":
        return vstate.chunk_size
    net = amplitude_of(vstate.model)
    per_sample = (
        network_positions(vstate.model, vstate.hilbert.size)
        * group_order(vstate.model)
        * 16
        * getattr(net, "d_model", 16)
        * getattr(net, "n_layers", 2)
    )
    # NetKet's on-the-fly NTK needs equal chunks
    return equal_chunks(CACHE_FLOATS // per_sample, n_rows or vstate.n_samples, strict=True)


def distinct_rows(samples: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of ``samples`` (n, N), padded to ``size`` rows (NumPy, on the host).

    Returns ``rows`` (size, N), ``counts`` (size,) and ``inverse`` (n,) with
    ``rows[inverse] == samples``; padding rows are copies of ``samples[0]`` with count 0. ``size``
    must be at least the number of distinct rows (e.g. the dimension of the sampled sector).
    Host arrays, not a jitted ``jnp.unique``: a sort kernel less to compile before the first
    iteration, and the final evaluation's batches (host arrays too) then hit the same compiled
    local energies (a device array carries a sharding that is part of the compilation key).
    """
    rows, inverse, counts = np.unique(samples, axis=0, return_inverse=True, return_counts=True)
    pad = size - len(rows)
    if pad < 0:
        raise ValueError(f"size={size} is below the {len(rows)} distinct rows of the samples")
    rows = np.concatenate([rows, np.repeat(samples[:1], pad, axis=0)])
    return rows, np.concatenate([counts, np.zeros(pad, dtype=counts.dtype)]), inverse.reshape(-1)


def weighted_local_energies(vstate, plan, distinct: int | None, bucket: int | None = None):
    """The Jacobian rows of one SR/TDVP step, their weights, their local energies and the statistics.

    Parameters
    ----------
    vstate : MCState
        Its current samples are used.
    plan : FlipPlan
        The Hamiltonian's (:class:`~manybody.vmc.operators.PauliSum` ``.plan``).
    distinct : int or None
        None: every sample is a row of weight ``1/n``; else the distinct samples padded to
        ``distinct`` rows (:func:`distinct_rows`), each weighted by its count over ``n``.
    bucket : int, optional
        With ``distinct`` None: the distinct samples padded to the next multiple of ``bucket``
        rows when that is fewer than ``n`` (one compiled shape per multiple), else every sample.

    Returns
    -------
    rows (R, N), weights (R,), local energies of the rows (R,) and NetKet's statistics of the
    local energies of all ``n`` samples (in their chain layout).
    """
    samples = np.asarray(vstate.samples).reshape(-1, vstate.hilbert.size)
    n = len(samples)
    # local energies of the distinct samples only, padded to one compiled shape
    unique, counts, inverse = distinct_rows(samples, distinct or n)
    n_distinct = int(np.count_nonzero(counts))
    local = batch_local_values(vstate, plan, unique, n_distinct)[:, 0]
    stats = nkstats.statistics(local[inverse].reshape(vstate.samples.shape[:-1]))
    if distinct is not None:
        size = distinct
    elif bucket:
        size = -(-n_distinct // bucket) * bucket  # the next multiple of bucket
    else:
        size = n
    if size >= n and distinct is None:
        return samples, np.full(n, 1.0 / n), local[inverse], stats
    return unique[:size], counts[:size] / n, local[:size], stats


JACOBIAN_DTYPE = "float32"
"""Precision of the SR Jacobian and of the minSR kernel ``X X^T`` of a float64 ``ARTransformer``
(bare or in a learned-phase wrapper) in :func:`optimize` (the shifted kernel is solved in
float64; parameters, sampling and the update stay float64). Measured on the 4x4 torus (d_model
32, 512 samples, one thread): the minSR step 0.50 -> 0.26 CPU s (Jacobian 0.25 -> 0.18, kernel
and solve 0.22 -> 0.10); after 60 iterations at ``diag_shift`` 1e-4 the update is within 0.8 %
of float64 (cosine 0.99997)."""

ROW_BUCKETS = 8
"""The distinct samples of a large sector are padded to a multiple of ``n_samples / ROW_BUCKETS``
rows (:func:`sr_driver`): at most this many compiled shapes of the SR step."""


def distinct_size(sector_dimension: int | None, n_samples: int, n_parameters: int) -> int | None:
    """Rows of the distinct-sample evaluation (:class:`SR`), or None when it would not pay.

    ``n_samples`` exact samples of a state on a sector of ``sector_dimension`` configurations
    hold at most that many distinct ones: below ``n_samples`` (and below ``n_parameters``, the
    minSR form) the local energies, Jacobian and NTK are computed on the distinct samples padded
    to ``sector_dimension`` rows (one compiled shape).
    """
    if sector_dimension is None or sector_dimension >= min(n_samples, n_parameters):
        return None
    return int(sector_dimension)


@partial(jax.jit, static_argnames=("model", "jacobian_dtype", "solver_fn", "mode", "chunk_size"))
def _weighted_minsr(
    model,
    jacobian_dtype,
    local_energies,
    parameters,
    model_state,
    samples,
    mass,
    *,
    diag_shift,
    solver_fn,
    mode,
    momentum,
    old_updates,
    chunk_size,
):
    """NetKet's minSR update with a probability ``mass`` per row (NetKet's ``srt`` takes none).

    ``X = sqrt(mass) (O - <O>)``, ``dv = 2 sqrt(mass) (E - <E>)``: the same ``X^T X`` and
    ``X^T dv`` as the unweighted rows of the samples with their repetitions, hence the same
    update ``X^T (X X^T + lambda)^-1 dv = (X^T X + lambda)^-1 X^T dv`` (SPRING included).
    With ``jacobian_dtype`` (e.g. float32) the Jacobian ``X`` and the kernel ``X X^T`` of a
    float64 ``ARTransformer`` (bare or wrapped) are computed in that precision; the shifted
    kernel is solved in float64.
    """
    flat, unravel = ravel_pytree(parameters)
    model, variables = _local_precision(model, {"params": parameters, **model_state}, jacobian_dtype)
    # the mass in the Jacobian's precision, else it promotes the centred Jacobian to its own
    mass = mass.astype(jnp.finfo(jax.tree_util.tree_leaves(variables["params"])[0].dtype).dtype)
    jacobians = nkjax.jacobian(
        model.apply,
        variables["params"],
        samples,
        {k: v for k, v in variables.items() if k != "params"},
        mode=mode,
        dense=True,
        chunk_size=chunk_size,
    )
    # centred here by a contraction: NetKet's centring (x - sum(pdf x)) of a chunked float32
    # complex-mode Jacobian came out wrong on CPU at d_model 32 (jax 0.10.2, NetKet 3.23: the
    # imaginary rows got the real rows' mean; tests/vmc/test_sr_update.py)
    jacobians = jacobians - jnp.einsum("i,i...->...", mass, jacobians)[None]
    o_l, dv = _prepare_input(jacobians, local_energies, mode=mode, scaling_factor=mass)
    if old_updates is None and momentum is not None:
        old_updates = jnp.zeros(jacobians.shape[-1], dtype=jacobians.dtype)
    if o_l.dtype != dv.dtype:
        solver_fn = partial(_solve_in, dv.dtype, solver_fn)
    updates, old_updates, info = _minsr_update(
        o_l, dv, diag_shift, solver_fn, momentum, old_updates, mode == "complex" and jnp.iscomplexobj(flat)
    )
    return unravel(updates.astype(flat.dtype)), old_updates, info


def _minsr_update(o_l, dv, diag_shift, solver_fn, momentum, old_updates, complex_parameters):
    """NetKet's minSR update (``netket._src.ngd.srt._compute_srt_update``) from ``O_L`` (rows,
    parameters) and ``dv``: ``O_L^T (O_L O_L^T + diag_shift)^-1 dv``, with SPRING ``momentum``.

    Two changes that matter on CPU (4x4 torus, 1024 rows, 26212 float32 parameters, one thread):
    the kernel from its lower-triangular blocks (:func:`gram`: 0.79 -> 0.57 s) and the update as
    ``aus @ O_L`` (0.02 s) instead of ``O_L.T @ aus`` (0.19 s: XLA copied the transpose). The
    sharding constraints of NetKet's version are left to XLA (sample-sharded ``O_L``).
    """
    if momentum is not None:
        dv = dv - momentum * (o_l @ old_updates)
    kernel = gram(o_l)
    aus = solver_fn(kernel + diag_shift * jnp.eye(kernel.shape[0], dtype=kernel.dtype), dv)
    aus, info = aus if isinstance(aus, tuple) else (aus, None)
    updates = aus @ o_l
    if momentum is not None:
        updates = updates + momentum * old_updates
        old_updates = updates
    if complex_parameters:  # NetKet's complex mode stacks the real and imaginary parts
        half = updates.shape[-1] // 2
        updates = updates[:half] + 1j * updates[half:]
    return updates, old_updates, info or {}


GRAM_BLOCK = 128
"""Rows per block of :func:`gram` on CPU."""


def gram(x):
    """``x @ x.T`` (real ``x``, shape (n, p)). On CPU, for ``n`` a multiple of ``GRAM_BLOCK`` and
    at least 4 blocks, from the products of the blocks of rows on and below the diagonal (the
    others are their transposes): ``k (k + 1) / 2`` of the ``k^2`` products. Measured at 26212
    float32 columns, one thread, interleaved (minimum CPU s): 512 rows 0.173 -> 0.160, 768 rows
    0.412 -> 0.319, 1024 rows 0.792 -> 0.570; no gain at 384 rows."""
    n, b = x.shape[0], GRAM_BLOCK
    if jax.default_backend() != "cpu" or n % b or n < 4 * b:
        return x @ x.T
    blocks = x.reshape(n // b, b, x.shape[1])
    lower = {(i, j): blocks[i] @ blocks[j].T for i in range(n // b) for j in range(i + 1)}
    return jnp.block(
        [[lower[i, j] if j <= i else lower[j, i].T for j in range(n // b)] for i in range(n // b)]
    )


def _solve_in(dtype, solver_fn, matrix, vector):
    """``solver_fn`` on ``matrix`` cast to ``dtype``; the solution in ``matrix``'s precision."""
    out = solver_fn(matrix.astype(dtype), vector)
    solution, info = out if isinstance(out, tuple) else (out, None)
    return solution.astype(matrix.dtype), info


class SR(nk.driver.VMC_SR):
    """NetKet ``VMC_SR`` (minSR form) with manybody's local energies, optionally on the distinct samples.

    With a :class:`~manybody.vmc.operators.PauliSum` Hamiltonian and the NTK (minSR) form, the
    local energies are those of the distinct samples
    (:func:`~manybody.vmc.operators.batch_local_values`, the executables the final evaluation
    reuses; :func:`weighted_local_energies`) and the update is NetKet's minSR update
    (:func:`_weighted_minsr`): on every sample with weight ``1/n``, or with ``distinct`` rows
    (:func:`distinct_size`) on the distinct samples padded to that many rows (copies of the
    first sample at zero weight), each row weighted by its count, the Jacobian and kernel included.
    The energy statistics use the local energies of all samples. Otherwise it is NetKet's step.
    """

    _distinct: int | None = struct.field(pytree_node=False, serialize=False, default=None)
    _bucket: int | None = struct.field(pytree_node=False, serialize=False, default=None)
    _jacobian_dtype: str | None = struct.field(pytree_node=False, serialize=False, default=None)

    def __init__(
        self,
        *args,
        distinct: int | None = None,
        bucket: int | None = None,
        jacobian_dtype: str | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self._distinct, self._bucket, self._jacobian_dtype = distinct, bucket, jacobian_dtype

    @property
    def distinct(self) -> int | None:
        """Rows of the distinct-sample step (None: every sample)."""
        return self._distinct

    def compute_loss_and_update(self):
        plan = getattr(self._ham, "plan", None)
        if plan is None or not self.use_ntk or (self.on_the_fly and self._distinct is None):
            return super().compute_loss_and_update()
        vs = self.state
        rows, mass, local, self._loss_stats = weighted_local_energies(vs, plan, self._distinct, self._bucket)
        chunk = self.chunk_size_bwd
        if self._distinct is None and len(rows) < vs.n_samples and chunk is not None:
            chunk = jacobian_chunk_size(vs, len(rows))
        diag_shift, momentum = self.diag_shift, self.momentum
        diag_shift = diag_shift(self.step_count) if callable(diag_shift) else diag_shift
        momentum = momentum(self.step_count) if callable(momentum) else momentum
        self._dp, self._old_updates, self.info = _weighted_minsr(
            vs.model,
            self._jacobian_dtype,
            local,
            vs.parameters,
            vs.model_state,
            rows,
            mass,
            diag_shift=diag_shift,
            solver_fn=self._linear_solver,
            mode=self.mode,
            momentum=momentum,
            old_updates=self._old_updates,
            chunk_size=chunk,
        )
        return self._loss_stats, self._dp


def sr_driver(
    vstate,
    hamiltonian,
    optimizer,
    diag_shift,
    momentum=None,
    sector_dimension=None,
    jacobian_dtype=None,
) -> nk.driver.VMC_SR:
    """:class:`SR` (NetKet ``VMC_SR``): minSR (NTK form) when the parameters outnumber the samples, else SR.

    The NTK is built from the explicit Jacobian (compiles ~3x faster, runs ~5x faster) unless that
    exceeds :data:`DENSE_JACOBIAN_BYTES` (samples x parameters, twice in NetKet's complex mode, in
    the Jacobian's precision), where the lazy (on-the-fly) form saves memory. The Jacobian mode is
    :func:`jacobian_mode`, the explicit Jacobian's chunks :func:`jacobian_chunk_size`. Given the
    ``sector_dimension`` of the sampled configurations, small sectors run on the distinct
    samples (:func:`distinct_size`); larger ones on the distinct samples padded to a multiple of
    ``n_samples / ROW_BUCKETS`` rows when that is fewer than ``n_samples`` (the Jacobian's rows
    and the kernel's side shrink with the repeated samples of a trained state; one compilation
    per multiple reached). ``jacobian_dtype`` (e.g. :data:`JACOBIAN_DTYPE`) is the precision of
    the explicit Jacobian and kernel of a float64 ``ARTransformer``, bare or wrapped (None: the
    network's own; the on-the-fly NTK and the non-NTK step are NetKet's, in the network's
    precision).
    """
    use_ntk = vstate.n_parameters > vstate.n_samples
    mode = jacobian_mode(vstate, hamiltonian)
    row_bytes = vstate.n_parameters * jnp.finfo(pass_dtype(vstate.model, jacobian_dtype)).bits // 8
    on_the_fly = (
        use_ntk and vstate.n_samples * (1 if mode == "real" else 2) * row_bytes > DENSE_JACOBIAN_BYTES
    )
    distinct = distinct_size(sector_dimension, vstate.n_samples, vstate.n_parameters)
    bucket = None
    if distinct is None and use_ntk and not on_the_fly and vstate.chunk_size is None:
        bucket = max(1, vstate.n_samples // ROW_BUCKETS)
    return SR(
        hamiltonian,
        optimizer,
        diag_shift=diag_shift,
        momentum=momentum,
        variational_state=vstate,
        use_ntk=use_ntk,
        on_the_fly=on_the_fly,
        mode=mode,
        # chunks of the explicit Jacobian; the on-the-fly NTK ran slower in chunks (ARNNDense, L=40)
        chunk_size_bwd=vstate.chunk_size if on_the_fly else jacobian_chunk_size(vstate, distinct),
        distinct=distinct,
        bucket=bucket,
        jacobian_dtype=jacobian_dtype,
    )


def optimize(
    vstate,
    hamiltonian,
    opts,
    *,
    progress_label: str = "vmc",
    fingerprint: str = "",
    sector_dimension: int | None = None,
) -> tuple[dict, dict]:
    """Minimise the energy of ``vstate`` in place.

    Parameters
    ----------
    vstate : netket.vqs.MCState
    hamiltonian : netket operator
    opts : VMCOptions
        Uses n_iter, learning_rate, lr_final_fraction, diag_shift, diag_shift_final, momentum,
        chunk_size, checkpoint_dir, checkpoint_every, progress.

    fingerprint : str
        Identifies the run (model, network, schedules); a checkpoint with another fingerprint is refused.
    sector_dimension : int, optional
        Configurations the state can sample: a sector smaller than ``n_samples`` runs on the
        distinct samples (:class:`SR`).

    Returns
    -------
    history : dict of str -> ndarray
        Per-iteration energy, energy_error, variance, learning_rate, diag_shift.
    info : dict
        ``sr_mode`` ("minSR" or "SR"), ``ntk_on_the_fly``, ``distinct_rows`` (None: every sample),
        ``rollbacks``, ``resumed_from``, ``iterations_per_second``.
    """
    lr_schedule, ds_schedule = _schedules(opts)
    driver = sr_driver(
        vstate,
        hamiltonian,
        _optimizer(lr_schedule, 1.0),
        ds_schedule,
        opts.momentum,
        sector_dimension,
        JACOBIAN_DTYPE,
    )
    use_ntk, on_the_fly = driver.use_ntk, driver.on_the_fly
    folder = Path(opts.checkpoint_dir) if opts.checkpoint_dir else None
    lr_scale, history = 1.0, {k: [] for k in _HISTORY_KEYS}
    saved = _load(folder) if folder else None
    resumed_from = None
    if saved is not None:
        if saved.get("fingerprint", "") != fingerprint:
            raise ValueError(
                f"checkpoint_dir {str(folder)!r} holds the checkpoint of a different run (model, network or "
                "schedule options differ): use a fresh checkpoint_dir"
            )
        lr_scale, history = _restore(driver, saved, lr_schedule)
        resumed_from = driver.step_count
    good = _snapshot(driver, lr_scale, history)
    best = min(history["energy"], default=math.inf)
    rollbacks = 0
    bar = None
    if opts.progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=opts.n_iter, initial=driver.step_count, desc=progress_label, dynamic_ncols=True)
    start, start_step = time.perf_counter(), driver.step_count
    while driver.step_count < opts.n_iter:
        step = driver.step_count
        driver.reset_step()
        stats, dp = driver.compute_loss_and_update()
        if _is_bad(stats, dp, best):
            rollbacks += 1
            if rollbacks > MAX_ROLLBACKS:
                raise RuntimeError(
                    f"VMC diverged {rollbacks} times (last at iteration {step}); lower learning_rate "
                    f"(now {opts.learning_rate * lr_scale:g}) or raise diag_shift / n_samples"
                )
            good["lr_scale"] = 0.5 * float(good["lr_scale"])
            lr_scale, history = _restore(driver, good, lr_schedule)
            best = min(history["energy"], default=math.inf)
            if bar is not None:
                bar.n = driver.step_count
                bar.write(
                    f"iteration {step}: divergence, rolled back to {driver.step_count}, lr x{lr_scale:g}"
                )
            continue
        driver.update_parameters(dp)
        driver._step_count += 1
        energy = float(np.real(stats.mean))
        best = min(best, energy)
        for key, value in zip(
            _HISTORY_KEYS,
            (energy, stats.error_of_mean, stats.variance, lr_scale * lr_schedule(step), ds_schedule(step)),
        ):
            history[key].append(float(value))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(
                E=f"{energy:.6f}", err=f"{float(stats.error_of_mean):.1e}", var=f"{float(stats.variance):.2e}"
            )
        if driver.step_count % opts.checkpoint_every == 0 or driver.step_count == opts.n_iter:
            good = _snapshot(driver, lr_scale, history)
            if folder:
                _save(folder, {**good, "fingerprint": fingerprint})
    if bar is not None:
        bar.close()
    elapsed = time.perf_counter() - start
    done = driver.step_count - start_step
    info = {
        "sr_mode": "minSR" if use_ntk else "SR",
        "jacobian_mode": str(driver.mode),
        "ntk_on_the_fly": on_the_fly,
        "distinct_rows": driver.distinct,
        "n_parameters": int(vstate.n_parameters),
        "rollbacks": rollbacks,
        "resumed_from": resumed_from,
        "final_learning_rate_scale": lr_scale,
        "iterations_per_second": done / elapsed if elapsed > 0 and done else None,
    }
    return {k: np.asarray(v, dtype=float) for k, v in history.items()}, info
