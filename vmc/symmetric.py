"""A wave function symmetrised over a group of qubit symmetries, sampled exactly.

For a group ``G`` of symmetries ``g`` of the Hamiltonian and the sector
(:mod:`manybody.symmetries`: ``(g b)_q = b_{pi_g(q)} XOR f_g``) and an autoregressive network
``psi`` (the transformer, with its sign rule or learned phase):

    psi_G(b) = sqrt( (1/|G|) sum_g |psi(g b)|^2 ) exp(i arg psi(b)).

``|psi_G|^2`` is the mixture of the distributions ``|psi(g b)|^2``, so it is normalised and
sampled exactly: draw ``b`` from the network, then apply an element of ``G`` drawn uniformly
(:meth:`SymmetricAR.random_images`, used by :class:`~manybody.vmc.sampler.TokenSampler`). Its
modulus is invariant under ``G``, as the modulus of every eigenstate in a one-dimensional
representation of ``G`` is; the phase is the network's own (Marshall's sign and the phase head,
or a learned phase), so the characters need not be known. This is the symmetrisation of
autoregressive models by a random symmetry of the samples (Reh, Schmitt and Gärttner,
Phys. Rev. B 107, 195115 (2023)).

Each amplitude costs ``|G|`` network passes. The local energies keep the prefix reuse: for a
Hamiltonian invariant under ``G`` the flip masks of ``H`` map onto themselves, so the copies
``g (b ^ m) = g b ^ g(m)`` are the flipped copies of ``g b`` that one batched
``log_psi_flipped`` call over the ``|G|`` images evaluates; for other operators each image is
evaluated with its own masks. The training's kernel
(:func:`~manybody.vmc.operators.pair_local_values`) evaluates only the pairs ``(b, m)`` with a
non-zero matrix element, as ``(g b, g(m))`` on every image, and combines them
(:meth:`SymmetricAR.combine`): half the passes of the Heisenberg model's flip-flops.

Measured (``benchmarks/README.md``, *Symmetries*; 0.11 defaults otherwise, seed 0): the 6x6
Heisenberg torus with the 4 rotations 1.07e-3 per site above the QMC energy (3.7e-3 without)
in 2.9x the CPU; the J1-J2 4x4 torus at J2 = 0.5 with rotations and the spin flip (8 elements)
5.73e-3 summed exactly over the sector (1.83e-2 without) in 1.9x the CPU; with the reflections
too (16 elements) 5.57e-3 in 1.5x the CPU of 8.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import netket as nk
import numpy as np

from manybody.symmetries import check_symmetry, symmetry_group
from manybody.vmc.phase import WrapperAR

__all__ = ["SymmetricAR", "group_order", "symmetry_generators"]


def group_order(model) -> int:
    """The number of network passes per amplitude: ``|G|`` of a :class:`SymmetricAR`, else 1."""
    return len(np.asarray(model.permutations)) if isinstance(model, SymmetricAR) else 1


class SymmetricAR(WrapperAR):
    """``amplitude`` symmetrised over a group of qubit symmetries (see the module docstring).

    Attributes
    ----------
    amplitude : AbstractARNN
        The autoregressive network (``ARTransformer`` or a learned-phase wrapper) that samples.
    permutations : HashableArray of int, shape (G, n)
        Element ``k`` maps ``b`` to ``b[permutations[k]] ^ flips[k]`` (qubit layout); the
        identity first; closed under composition (:func:`manybody.symmetries.symmetry_group`).
    flips : HashableArray of int, shape (G,)
    """

    permutations: nk.utils.HashableArray = None
    flips: nk.utils.HashableArray = None

    def images(self, bits):
        """``g b`` for every element: (G * batch, n), element-major."""
        perms, flips = np.asarray(self.permutations), np.asarray(self.flips)
        images = jnp.asarray(bits, dtype=jnp.int32)[:, perms] ^ flips[None, :, None]  # (batch, G, n)
        return jnp.swapaxes(images, 0, 1).reshape(-1, bits.shape[-1])

    @staticmethod
    def combine(log_psi):
        """``log psi_G`` from the network's ``log psi`` (G, ...) of the images (identity first)."""
        log_mean = jax.nn.logsumexp(2 * log_psi.real, axis=0) - np.log(log_psi.shape[0])
        return 0.5 * log_mean + 1j * log_psi[0].imag

    def __call__(self, inputs):
        if inputs.ndim == 1:
            inputs = inputs[None]
        size = len(np.asarray(self.permutations))
        return self.combine(self.amplitude(self.images(inputs)).reshape(size, -1))

    def random_images(self, inputs, key):
        """``g b`` for an element ``g`` drawn uniformly for each row of ``inputs`` (batch, n): samples
        of ``|psi|^2`` become samples of ``|psi_G|^2``."""
        perms, flips = jnp.asarray(np.asarray(self.permutations)), jnp.asarray(np.asarray(self.flips))
        k = jax.random.randint(key, (inputs.shape[0],), 0, perms.shape[0])
        images = jnp.take_along_axis(inputs, perms[k], axis=1)
        return images ^ flips[k][:, None].astype(inputs.dtype)

    def _mask_images(self, masks):
        """The masks (M, n, sampling order) of each element (G, M, n): ``g(m)`` with
        ``g (b ^ m) = g b ^ g(m)`` (flips cancel)."""
        order = np.asarray(self.order)
        qubit = np.zeros_like(masks)
        qubit[:, order] = masks  # sampling position p holds qubit order[p]
        return np.stack([qubit[:, perm][:, order] for perm in np.asarray(self.permutations)])

    def mask_columns(self, masks) -> np.ndarray | None:
        """``index`` (G, M) with ``g(masks[j]) = masks[index[g, j]]`` (masks (M, n) in sampling
        order, static), or None when the set of masks is not invariant under the group."""
        masks = np.asarray(masks, dtype=np.int32)
        column = {m.tobytes(): j for j, m in enumerate(masks)}
        mapped = self._mask_images(masks)
        if not all(m.tobytes() in column for m in mapped.reshape(-1, masks.shape[1])):
            return None
        return np.array([[column[m.tobytes()] for m in element] for element in mapped])

    def log_psi_flipped(self, inputs, groups):
        """``log psi_G`` of ``inputs`` (batch, n) and of the copies with the ``groups``' masks
        flipped (the amplitude's ``log_psi_flipped`` convention: masks in sampling order)."""
        inputs = jnp.asarray(inputs, dtype=jnp.int32)
        size, batch = len(np.asarray(self.permutations)), inputs.shape[0]
        masks = np.concatenate([m for _, m in groups]).astype(np.int32)
        index = self.mask_columns(masks)
        if index is not None:
            # an invariant operator: the images' copies are the images' own flipped copies
            log_psi, log_flipped = self.amplitude.log_psi_flipped(self.images(inputs), groups)
            log_flipped = log_flipped.reshape(size, batch, -1)
            log_flipped = jnp.take_along_axis(log_flipped, jnp.asarray(index)[:, None, :], axis=2)
            return self.combine(log_psi.reshape(size, batch)), self.combine(log_flipped)
        images = self.images(inputs).reshape(size, batch, -1)
        mapped = self._mask_images(masks)
        values, flipped = [], []
        bounds = np.cumsum([0] + [len(m) for _, m in groups])
        for k, element in enumerate(mapped):
            own = tuple(
                (int(element[a:b].argmax(axis=1).min()) + 1, element[a:b])
                for a, b in zip(bounds[:-1], bounds[1:])
            )
            value, copies = self.amplitude.log_psi_flipped(images[k], own)
            values.append(value)
            flipped.append(copies)
        return self.combine(jnp.stack(values)), self.combine(jnp.stack(flipped))


def symmetry_generators(problem, option) -> list:
    """The declared symmetries (``QubitSymmetry``) the ``symmetry`` option names: none for
    ``"none"``, every declared one that leaves the Hamiltonian and the sector invariant for
    ``"all"``, else the named ones (``ValueError`` listing the declared names for an unknown
    one, or naming one that is not a symmetry of this model)."""
    if option == "none":
        return []
    if option == "all":
        generators = []
        for candidate in problem.symmetries:
            try:
                check_symmetry(problem, candidate)
            except ValueError:
                continue
            generators.append(candidate)
    else:
        generators = [problem.symmetry(name) for name in option]
    symmetry_group(problem, generators)  # checks them and the group's order
    return generators
