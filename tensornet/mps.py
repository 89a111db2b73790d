"""Matrix product states: storage, canonical form, expectation values, entropies.

An MPS is kept as a list of numpy arrays ``A[p]`` of shape ``(chi_left, 2,
chi_right)`` (``chi = 1`` at the ends), in MPS site order; MPS site ``p``
holds qubit ``order[p]`` and physical index ``b = 0`` is ``Z = +1`` (the
qubit convention of :mod:`manybody.operators`).

Expectation values use the right-canonical form ``B[p]`` (normalised) and,
for each bond, the left environment ``rho[p] = X[p]^T conj(X[p])`` obtained by
a sweep of SVDs (``psi = U_p X[p] B[p] ... B[L-1]`` with ``U_p`` isometric).
The same sweep gives the Schmidt values, hence the entanglement entropy.

Pauli strings are evaluated by a depth-first walk over a trie of the strings
written from their first site: strings that share a start and a prefix (all
``<P_i Q_j>`` for fixed ``i, P``; Jordan-Wigner strings) share the transfer
matrix products, so all two-point functions of an ``L``-site chain cost
``O(L^2 chi^3)`` in total.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "MPSState",
    "pauli_expectations",
    "mpo_arrays",
    "mpo_expectation",
    "mpo_square_expectation",
    "product_superposition",
    "random_mps",
    "sector_configurations",
]

_REAL_PAULI = {
    "X": np.array([[0.0, 1.0], [1.0, 0.0]]),
    "Y": np.array([[0.0, 1.0], [-1.0, 0.0]]),  # i Y: real, so that a real MPS stays real
    "Z": np.array([[1.0, 0.0], [0.0, -1.0]]),
}


class MPSState:
    """An MPS of qubits, as stored by the DMRG backend.

    Parameters
    ----------
    arrays : list of ndarray
        ``(chi_left, 2, chi_right)`` tensors in MPS order (any gauge, any norm).
    order : array of int
        ``order[p]`` is the qubit at MPS site ``p``.
    right_canonical : bool
        The tensors are already right-canonical (``sum_{s,r} B[l,s,r] conj(B[l',s,r]) = delta``
        for every site but the first): the QR sweep of the canonical form is skipped.
    """

    def __init__(self, arrays, order, right_canonical: bool = False):
        self.arrays = [np.asarray(a) for a in arrays]
        self.order = np.asarray(order, dtype=int)
        if len(self.arrays) != len(self.order):
            raise ValueError(f"{len(self.arrays)} MPS tensors for {len(self.order)} qubits")
        self.position = np.empty_like(self.order)
        self.position[self.order] = np.arange(len(self.order))
        self._canonical = None
        self._right_canonical = right_canonical

    @property
    def n_qubits(self) -> int:
        return len(self.arrays)

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimension between MPS sites ``p`` and ``p + 1``."""
        return [a.shape[2] for a in self.arrays[:-1]]

    def __repr__(self) -> str:
        return f"MPSState(n_qubits={self.n_qubits}, max_bond={max(self.bond_dims, default=1)})"

    # -- quimb interop ----------------------------------------------------------------

    @classmethod
    def from_quimb(cls, mps, order) -> MPSState:
        """From a quimb ``MatrixProductState`` (open boundaries)."""
        L = mps.L
        arrays = []
        for p in range(L):
            inds = ([mps.bond(p - 1, p)] if p > 0 else []) + [mps.site_ind(p)]
            inds += [mps.bond(p, p + 1)] if p < L - 1 else []
            a = np.asarray(mps[p].transpose(*inds).data)
            arrays.append(a.reshape((1,) * (p == 0) + a.shape + (1,) * (p == L - 1)))
        return cls(arrays, order)

    def to_quimb(self, dtype=None):
        """A quimb ``MatrixProductState`` with the same tensors."""
        import quimb.tensor as qtn

        arrays = [a if dtype is None else a.astype(dtype) for a in self.arrays]
        arrays[0] = arrays[0][0]
        arrays[-1] = arrays[-1][..., 0]
        return qtn.MatrixProductState(arrays, shape="lpr")

    # -- canonical form ---------------------------------------------------------------

    def _canonicalize(self):
        """Right-canonical normalised tensors, left environments and Schmidt values."""
        if self._canonical is not None:
            return self._canonical
        B = [a.copy() for a in self.arrays]
        for p in range(len(B) - 1, 0, -1) if not self._right_canonical else ():
            l, d, r = B[p].shape
            q, rr = np.linalg.qr(B[p].reshape(l, d * r).conj().T)
            B[p] = q.conj().T.reshape(-1, d, r)
            B[p - 1] = np.tensordot(B[p - 1], rr.conj().T, axes=(2, 0))
        norm = np.linalg.norm(B[0])
        if not norm > 0:
            raise ValueError("the MPS has zero norm")
        B[0] = B[0] / norm
        X = np.ones((1, 1), dtype=B[0].dtype)
        rhos, schmidt = [], []
        for p in range(len(B)):
            rhos.append(X.T @ X.conj())
            if p == len(B) - 1:
                break
            m = np.tensordot(X, B[p], axes=(1, 0))
            _, s, vh = np.linalg.svd(m.reshape(-1, m.shape[2]), full_matrices=False)
            schmidt.append(s / np.linalg.norm(s))
            X = s[:, None] * vh
        self._canonical = (B, rhos, schmidt)
        return self._canonical

    def schmidt_values(self) -> list[np.ndarray]:
        """Normalised Schmidt values of each bond ``p | p + 1`` (MPS order)."""
        return self._canonicalize()[2]

    def entanglement_entropy(self) -> np.ndarray:
        """Von Neumann entropy (nats) of each cut between MPS sites ``p`` and ``p + 1``."""
        out = []
        for s in self.schmidt_values():
            w = s[s > 0] ** 2
            out.append(float(-np.sum(w * np.log(w))))
        return np.array(out)

    # -- persistence ------------------------------------------------------------------

    def save(self, folder: Path) -> None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {f"site_{p}": a for p, a in enumerate(self.arrays)}
        np.savez(folder / "mps.npz", order=self.order, **tensors)

    @classmethod
    def load(cls, folder: Path) -> MPSState:
        path = Path(folder) / "mps.npz"
        if not path.is_file():
            raise FileNotFoundError(f"no saved MPS at {path}")
        with np.load(path, allow_pickle=False) as f:
            order = f["order"]
            return cls([f[f"site_{p}"] for p in range(len(order))], order)


def pauli_expectations(state: MPSState, strings) -> np.ndarray:
    """``<psi|P|psi>`` for Pauli strings ``P`` (normalised state).

    Parameters
    ----------
    state : MPSState
    strings : sequence of tuples ``((qubit, 'X'|'Y'|'Z'), ...)``
        OpenFermion term keys; ``()`` is the identity.

    Returns
    -------
    ndarray of complex
    """
    B, rhos, _ = state._canonicalize()
    out = np.ones(len(strings), dtype=complex)
    tries: dict[int, dict] = {}
    for k, term in enumerate(strings):
        if not term:
            continue
        letters = {int(state.position[q]): p for q, p in term}
        out[k] = (-1j) ** sum(p == "Y" for p in letters.values())  # Y = -i (iY)
        start, stop = min(letters), max(letters)
        node = tries.setdefault(start, {})
        for p in range(start, stop + 1):
            node = node.setdefault(letters.get(p, "I"), {})
        node.setdefault(None, []).append(k)
    for start, root in tries.items():
        stack = [(start, rhos[start], root)]
        while stack:
            p, env, node = stack.pop()
            t0 = np.tensordot(env, B[p], axes=(0, 0))  # (bra, s, right)
            for letter, child in node.items():
                if letter is None:
                    continue
                t = t0 if letter == "I" else np.einsum("ts,bsc->btc", _REAL_PAULI[letter], t0)
                if None in child:  # right-canonical B: the right environment is the identity
                    out[child[None]] *= np.vdot(B[p], t)
                if len(child) > (None in child):
                    stack.append((p + 1, np.tensordot(t, B[p].conj(), axes=([0, 1], [0, 1])), child))
    return out


def mpo_arrays(mpo) -> list[np.ndarray]:
    """A quimb MPO as arrays ``W[p]`` of shape ``(D_left, D_right, out, in)``."""
    L = mpo.L
    out = []
    for p in range(L):
        inds = ([mpo.bond(p - 1, p)] if p > 0 else []) + ([mpo.bond(p, p + 1)] if p < L - 1 else [])
        a = np.asarray(mpo[p].transpose(*inds, mpo.upper_ind(p), mpo.lower_ind(p)).data)
        if p == 0:
            a = a[None]
        if p == L - 1:
            a = a[:, None]
        out.append(a)
    return out


def mpo_expectation(state: MPSState, W) -> complex:
    """``<psi|W|psi>`` for MPO arrays ``W`` (normalised state)."""
    B = state._canonicalize()[0]
    env = np.ones((1, 1, 1))
    for b, w in zip(B, W):
        t = np.tensordot(env, b, axes=(0, 0))  # (w, bra, s, c)
        t = np.tensordot(t, w, axes=([0, 2], [0, 3]))  # (bra, c, w', t)
        env = np.tensordot(t, b.conj(), axes=([0, 3], [0, 1]))  # (c, w', e)
    return complex(env.ravel()[0])


def mpo_square_expectation(state: MPSState, W) -> complex:
    """``<psi|W W|psi>`` for MPO arrays ``W`` (normalised state)."""
    B = state._canonicalize()[0]
    env = np.ones((1, 1, 1, 1))
    for b, w in zip(B, W):
        t = np.tensordot(env, b, axes=(0, 0))  # (w1, w2, bra, s, c)
        t = np.tensordot(t, w, axes=([0, 3], [0, 3]))  # (w2, bra, c, w1', u)
        t = np.tensordot(t, w, axes=([0, 4], [0, 3]))  # (bra, c, w1', w2', t)
        env = np.tensordot(t, b.conj(), axes=([0, 4], [0, 1]))  # (c, w1', w2', e)
    return complex(env.ravel()[0])


def product_superposition(configs, coeffs, dtype=float) -> list[np.ndarray]:
    """MPS arrays of ``sum_j coeffs[j] |configs[j]>`` (bits in MPS order), bond dim ``len(configs)``."""
    configs = np.asarray(configs, dtype=int)
    k, L = configs.shape
    arrays = []
    for p in range(L):
        a = np.zeros((1 if p == 0 else k, 2, 1 if p == L - 1 else k), dtype=dtype)
        for j in range(k):
            left = 0 if p == 0 else j
            right = 0 if p == L - 1 else j
            a[left, configs[j, p], right] += coeffs[j] if p == 0 else 1.0
        arrays.append(a)
    return arrays


def random_mps(L: int, chi: int, rng, dtype=float) -> list[np.ndarray]:
    """MPS arrays with Gaussian entries, bond dimension ``min(chi, 2^p, 2^(L-p))``."""
    dims = [1] + [min(chi, 2 ** min(p, L - p)) for p in range(1, L)] + [1]
    arrays = []
    for p in range(L):
        shape = (dims[p], 2, dims[p + 1])
        a = rng.standard_normal(shape)
        if np.dtype(dtype).kind == "c":
            a = a + 1j * rng.standard_normal(shape)
        arrays.append(a.astype(dtype) / np.sqrt(2 * dims[p]))
    return arrays


def sector_configurations(constraints, order, n_configs: int, rng, max_steps: int = 200_000, prefer=None):
    """Bit configurations (in MPS order) satisfying every constraint.

    A depth-first search over the MPS sites, pruned by the reachable range of
    each linear constraint and the parity of each parity constraint. The first
    configuration tries bit 0 first, the second bit 1 first, the others random
    bits: the first two reach the sectors of the empty / zero-field
    configurations, which random ones may miss when a conserved quantity that
    is not a declared constraint (a winding number of a gauge field on a
    torus) splits the constrained space. Returns an array ``(n_found, L)``,
    possibly with fewer than ``n_configs`` rows (none if the search exceeds
    ``max_steps``). ``prefer(p, bits)``, if given, returns the bit to try first at
    site ``p`` for the first configuration (``bits[:p]`` already set).
    """
    from manybody.constraints import ParityConstraint

    L = len(order)
    position = np.empty(L, dtype=int)
    position[np.asarray(order)] = np.arange(L)
    touching = [[] for _ in range(L)]
    nc = len(constraints)
    target = np.zeros(nc)
    parity = np.zeros(nc, dtype=bool)
    rem_min = np.zeros((nc, L + 1))
    rem_max = np.zeros((nc, L + 1))
    for c, con in enumerate(constraints):
        if isinstance(con, ParityConstraint):
            parity[c] = True
            target[c] = con.parity
            pairs = [(q, 1.0) for q in con.qubits]
        else:
            target[c] = con.value
            pairs = list(zip(con.qubits, con.weights))
        for q, w in pairs:
            p = position[q]
            touching[p].append((c, w))
            if parity[c]:
                rem_max[c, : p + 1] += 1
            else:
                rem_min[c, : p + 1] += min(w, 0.0)
                rem_max[c, : p + 1] += max(w, 0.0)

    def feasible(p, partial):
        for c, _ in touching[p]:
            if parity[c]:
                if rem_max[c, p + 1] == 0 and int(round(partial[c])) % 2 != target[c]:
                    return False
            elif (
                not partial[c] + rem_min[c, p + 1] - 1e-9
                <= target[c]
                <= partial[c] + rem_max[c, p + 1] + 1e-9
            ):
                return False
        return True

    def fresh(attempt, p, bits):  # bits to try, last first: 0 first, then 1 first, then random
        if attempt == 0:
            return [1, 0] if prefer is None or prefer(p, bits) == 0 else [0, 1]
        return [0, 1] if attempt == 1 else list(rng.permutation(2))

    found, steps = [], 0
    for attempt in range(n_configs):
        bits = np.zeros(L, dtype=int)
        partial = np.zeros(nc)
        choices = [None] * L
        p = 0
        while 0 <= p < L and steps < max_steps:
            steps += 1
            if choices[p] is None:
                choices[p] = fresh(attempt, p, bits)
            if not choices[p]:
                choices[p] = None
                p -= 1
                for c, w in touching[p] if p >= 0 else []:
                    partial[c] -= w * bits[p]
                continue
            bits[p] = choices[p].pop()
            for c, w in touching[p]:
                partial[c] += w * bits[p]
            if feasible(p, partial):
                p += 1
            else:
                for c, w in touching[p]:
                    partial[c] -= w * bits[p]
        if p != L:
            break
        found.append(bits.copy())
    return np.array(found, dtype=int).reshape(-1, L)
