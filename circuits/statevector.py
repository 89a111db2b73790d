"""A compiled statevector simulation of parametrised circuits, with adjoint gradients.

The exact estimator of the VQE (``estimator="statevector"``). A circuit in
parameter-shift form (:func:`manybody.circuits.gradient.shift_form`: basis
gates, one angle ``phi_g`` per rotation gate) is compiled once into a list of
numpy operations on the state vector; every later evaluation only runs them.

Conventions
-----------
The state is a complex vector of length ``2^n`` indexed by
``sum_q b_q 2^q`` (Qiskit's little-endian order). A fixed k-qubit gate with
matrix ``M`` (from Qiskit's ``Gate.to_matrix``) is stored as its *monomial*
terms ``M = sum_x D_x X^x`` (``D_x`` diagonal), so that
``(M psi)[i] = sum_x D_x[i] psi[i ^ x]``: one term for a permutation or a
phase gate (``cx``, ``x``, ``s``, ...), two for ``h``. A rotation
``exp(-i phi P / 2)`` with ``P`` a Pauli string (``rx ... rzx``) is applied as
``cos(phi/2) psi - i sin(phi/2) P psi``.

Gradients use the adjoint method (Jones and Gacon, arXiv:2009.02823): with
``psi_g`` the state after rotation ``g`` and ``lambda_g`` the back-propagated
``H psi``, ``dE/dphi_g = Im <lambda_g| P_g |psi_g>``, so the energy and all
``G`` angle derivatives cost one forward and one backward sweep, where the
parameter-shift rule needs ``2 G + 1`` circuit simulations. Both give the
same numbers to rounding (tested).
"""

from __future__ import annotations

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterExpression
from qiskit.quantum_info import SparsePauliOp, Statevector

from manybody.pauli import PauliGroups

__all__ = ["CompiledCircuit", "PauliOperator"]

_MEMORY_BUDGET = 2**28  # bytes of cached diagonal vectors per operator or circuit


def _bit_index(n: int) -> np.ndarray:
    return np.arange(2**n, dtype=np.int64)


class PauliOperator:
    """A ``SparsePauliOp`` applied to state vectors with the core Pauli kernel (:mod:`manybody.pauli`).

    ``P |s> = c i^{n_Y} (-1)^{popcount(s & zy)} |s ^ xy>``, so
    ``(O psi)[i] = sum_xy a_xy(i ^ xy) psi[i ^ xy]`` with ``a_xy(s)`` the summed amplitudes of the
    terms that flip ``xy`` (``PauliGroups.amplitudes``); the vectors ``a_xy`` are cached while
    they fit in ``_MEMORY_BUDGET`` bytes.
    """

    def __init__(self, op: SparsePauliOp):
        self.n = op.num_qubits
        terms: dict[tuple, complex] = {}
        for label, qubits, c in op.to_sparse_list():
            term = tuple(sorted(zip(qubits, label)))
            terms[term] = terms.get(term, 0.0) + complex(c)
        self._groups = list(PauliGroups(terms).groups.items())
        self._index = _bit_index(self.n)
        self._amplitudes = None
        if len(self._groups) * 16 * 2**self.n <= _MEMORY_BUDGET:
            self._amplitudes = [PauliGroups.amplitudes(self._index, group) for _, group in self._groups]

    def apply(self, psi: np.ndarray) -> np.ndarray:
        """``O psi`` for a state (2^n,) or a stack of states (..., 2^n)."""
        out = np.zeros_like(psi, dtype=complex)
        for k, (xy, group) in enumerate(self._groups):
            a = (
                self._amplitudes[k]
                if self._amplitudes is not None
                else PauliGroups.amplitudes(self._index, group)
            )
            v = a * psi
            out += v if xy == 0 else v[..., self._index ^ xy]
        return out

    def expectation(self, psi: np.ndarray) -> np.ndarray:
        """``Re <psi| O |psi>`` (the real part of a Hermitian operator's value) per state."""
        return np.real(np.sum(psi.conj() * self.apply(psi), axis=-1))


class _Block:
    """Consecutive gates on at most two qubits, multiplied into one local matrix per evaluation.

    ``qubits`` are sorted; local index bit ``b`` is qubit ``qubits[b]``. ``items`` are fixed local
    matrices and rotations ``(angle, P)`` (``exp(-i phi P / 2)``, ``P`` a local Pauli matrix), in
    circuit order, with consecutive fixed matrices already multiplied.
    """

    def __init__(self, qubits: tuple[int, ...]):
        self.qubits = qubits
        self.items: list = []

    def add(self, matrix: np.ndarray, gate_qubits: list[int], angle: int | None) -> None:
        local = _embed(matrix, [self.qubits.index(q) for q in gate_qubits], len(self.qubits))
        if angle is None and self.items and isinstance(self.items[-1], np.ndarray):
            self.items[-1] = local @ self.items[-1]
        else:
            self.items.append(local if angle is None else (angle, local))

    def grow(self, qubits: tuple[int, ...]) -> None:
        """Widen to ``qubits`` (a superset), re-embedding the items."""
        pos = [qubits.index(q) for q in self.qubits]
        k = len(qubits)
        self.items = [
            _embed(it, pos, k) if isinstance(it, np.ndarray) else (it[0], _embed(it[1], pos, k))
            for it in self.items
        ]
        self.qubits = qubits

    def flips(self) -> list[int]:
        """Local X patterns ``x`` with ``B[i, i ^ x] != 0`` for the block's matrix ``B``.

        The entries of ``B`` are trigonometric polynomials of the block's angles, so an entry that
        vanishes at three random angle sets vanishes identically (with probability one); an
        ``exp(-i theta (a XX + b YY + c ZZ))`` unit, 8 gates with ``ry`` among them, keeps only
        the flips 0 and 3 (the structural support of its gates would be all four).
        """
        rng = np.random.default_rng(0)
        angles = {it[0] for it in self.items if not isinstance(it, np.ndarray)}
        rows = np.arange(2 ** len(self.qubits))
        support = set()
        for _ in range(3):
            u, _ = self.matrices({a: rng.uniform(-np.pi, np.pi) for a in angles})
            support |= {int(x) for x in rows if np.any(np.abs(u[rows, rows ^ x]) > 1e-12)}
        return sorted(support)

    def matrices(self, phi) -> tuple[np.ndarray, list]:
        """The block's matrix at angles ``phi`` and, per rotation, ``(angle, A^dagger P A)`` with ``A``
        the product of the items before it."""
        u = np.eye(2 ** len(self.qubits), dtype=complex)
        generators = []
        for it in self.items:
            if isinstance(it, np.ndarray):
                u = it @ u
            else:
                angle, p = it
                generators.append((angle, u.conj().T @ p @ u))
                half = phi[angle] / 2
                u = (np.cos(half) * u) - (1j * np.sin(half)) * (p @ u)
        return u, generators


def _embed(matrix: np.ndarray, positions: list[int], k: int) -> np.ndarray:
    """A gate matrix (gate qubit ``j`` = local bit ``positions[j]``) on ``k`` local qubits."""
    dim = 2**k
    out = np.zeros((dim, dim), dtype=complex)
    rest = [b for b in range(k) if b not in positions]
    for a in range(dim):
        for b in range(dim):
            if all((a >> r) & 1 == (b >> r) & 1 for r in rest):
                sa = sum(((a >> p) & 1) << j for j, p in enumerate(positions))
                sb = sum(((b >> p) & 1) << j for j, p in enumerate(positions))
                out[a, b] = matrix[sa, sb]
    return out


class CompiledCircuit:
    """A circuit compiled for repeated exact evaluation and adjoint gradients.

    Parameters
    ----------
    circuit : QuantumCircuit
        Gates with matrices (``Gate.to_matrix``) on at most two qubits;
        parametrised gates must be single-angle Pauli rotations
        (``rx, ry, rz, rxx, ryy, rzz, rzx``) whose angle is one circuit
        parameter (the parameter-shift form,
        :func:`manybody.circuits.gradient.shift_form`).
    simulate_prefix : bool
        Simulate the gates before the first parametrised one once, with Qiskit's
        ``Statevector``, into ``psi0`` (a state-preparation circuit). With False
        every gate is a block, so that the blocks alone are the circuit's unitary
        (a Trotter step applied to any state).

    Notes
    -----
    Angles are given in ``circuit.parameters`` order; the global phase is
    dropped. The rest of the circuit is cut into blocks of consecutive gates
    on at most two qubits (greedy fusion); an evaluation multiplies each
    block's gates into one 4 x 4 matrix ``B = sum_x D_x X^x`` and applies it as
    ``psi -> sum_x D_x[local bits] psi[i ^ x]`` over the flips ``x`` that ``B`` can
    have (:meth:`_Block.flips`), which for a Hamiltonian unit such as
    ``exp(-i theta (a XX + b YY + c ZZ))`` (8 gates) are two terms.
    """

    def __init__(self, circuit: QuantumCircuit, simulate_prefix: bool = True):
        self.n = circuit.num_qubits
        self.n_angles = circuit.num_parameters
        position = {p: k for k, p in enumerate(circuit.parameters)}
        qubit = {q: k for k, q in enumerate(circuit.qubits)}
        data = [inst for inst in circuit.data if inst.operation.name not in ("barrier", "id", "delay")]
        start = next((k for k, inst in enumerate(data) if inst.operation.is_parameterized()), len(data))
        start = start if simulate_prefix else 0
        prefix = QuantumCircuit(self.n)
        for inst in data[:start]:
            prefix.append(inst.operation, [qubit[q] for q in inst.qubits])
        self.psi0 = np.ascontiguousarray(Statevector(prefix).data, dtype=complex)
        self.blocks: list[_Block] = []
        last: dict[int, int] = {}  # qubit -> index of the last block acting on it
        for inst in data[start:]:
            op = inst.operation
            qubits = [qubit[q] for q in inst.qubits]
            if len(qubits) > 2:
                raise ValueError(f"gate {op.name!r} acts on {len(qubits)} qubits; decompose it first")
            angle = None
            if op.is_parameterized():
                (phi,) = op.params
                if not isinstance(phi, ParameterExpression) or phi not in position:
                    raise ValueError(f"gate {op.name!r}: the angle must be one circuit parameter, got {phi}")
                angle = position[phi]
                bound = op.to_mutable()
                bound.params = [np.pi]
                matrix = 1j * bound.to_matrix()  # exp(-i pi P / 2) = -i P
            else:
                matrix = op.to_matrix()
            touched = [last[q] for q in qubits if q in last]
            target = max(touched) if touched else None
            if target is not None:
                merged = tuple(sorted(set(self.blocks[target].qubits) | set(qubits)))
                if len(merged) > 2:
                    target = None
                elif merged != self.blocks[target].qubits:
                    self.blocks[target].grow(merged)
            if target is None:
                self.blocks.append(_Block(tuple(sorted(qubits))))
                target = len(self.blocks) - 1
            self.blocks[target].add(matrix, qubits, angle)
            for q in qubits:
                last[q] = target
        self._plans = [self._plan(block) for block in self.blocks]

    def _view(self, qubits: tuple[int, ...]) -> tuple[list[int], list[int]]:
        """Shape that splits the state into ``(rest, q_hi, rest, q_lo, rest)`` axes, and the local axes."""
        shape, axes = [], []
        previous = self.n
        for q in sorted(qubits, reverse=True):  # C order: the highest qubit is the slowest axis
            shape += [2 ** (previous - q - 1), 2]
            axes.append(len(shape) - 1)
            previous = q
        shape.append(2**previous)
        return shape, axes

    def _plan(self, block: _Block) -> tuple:
        """``(view shape, shape of a local diagonal, [(local x, flipping index)])`` of a block.

        A flip of local bits is a reversed axis of the view (no gather); a diagonal ``D_x`` over
        the local bits broadcasts against the view.
        """
        shape, axes = self._view(block.qubits)
        d_shape = [2 if k in axes else 1 for k in range(len(shape))]
        terms = []
        for x in block.flips():
            flipped = {axes[len(axes) - 1 - b] for b in range(len(axes)) if (x >> b) & 1}
            index = (
                Ellipsis,
                *(slice(None, None, -1) if k in flipped else slice(None) for k in range(len(shape))),
            )
            terms.append((x, index))
        return tuple(shape), tuple(d_shape), terms

    @staticmethod
    def _apply(u: np.ndarray, plan: tuple, psi: np.ndarray) -> np.ndarray:
        shape, d_shape, terms = plan
        v = psi.reshape(psi.shape[:-1] + shape)
        rows = np.arange(len(u))
        out = None
        for x, index in terms:
            t = u[rows, rows ^ x].reshape(d_shape) * v[index]
            if out is None:
                out = t
            else:
                out += t
        return out.reshape(psi.shape)

    def _check(self, phi) -> np.ndarray:
        phi = np.asarray(phi, dtype=float)
        if phi.shape != (self.n_angles,):
            raise ValueError(f"expected {self.n_angles} angles, got shape {phi.shape}")
        return phi

    def block_matrices(self, phi) -> list[np.ndarray]:
        """The fused blocks' matrices at angles ``phi`` (n_angles,), for :meth:`apply`."""
        phi = self._check(phi)
        return [block.matrices(phi)[0] for block in self.blocks]

    def apply(self, psi: np.ndarray, matrices: list[np.ndarray]) -> np.ndarray:
        """The circuit after its prefix (the blocks) applied to any state ``psi`` (..., 2^n).

        ``matrices`` come from :meth:`block_matrices`, so a circuit applied many times at the same
        angles (a Trotter step) multiplies its gates once. With ``simulate_prefix=False`` this is
        the whole circuit's unitary (global phase dropped).
        """
        if len(matrices) != len(self.blocks):
            raise ValueError(f"expected {len(self.blocks)} block matrices, got {len(matrices)}")
        for u, plan in zip(matrices, self._plans):
            psi = self._apply(u, plan, psi)
        return psi

    def state(self, phi) -> np.ndarray:
        """The state vector at angles ``phi`` (n_angles,)."""
        return self.apply(self.psi0, self.block_matrices(phi))

    def value_and_gradient(self, phi, operator: PauliOperator) -> tuple[float, np.ndarray]:
        """``<O>`` at ``phi`` and ``d<O>/dphi`` (adjoint method, see the module docstring).

        Per block with matrix ``B``, output state ``psi`` and back-propagated
        ``lambda``: ``dE/dphi_g = Im sum(B A_g^+ P_g A_g B^+ * R)`` with
        ``R[a, b] = sum_rest conj(lambda[a, rest]) psi[b, rest]`` (local
        indices), then ``psi, lambda <- B^+ psi, B^+ lambda``.
        """
        phi = self._check(phi)
        psi = self.psi0
        stored = []
        for block, plan in zip(self.blocks, self._plans):
            u, generators = block.matrices(phi)
            stored.append((u, generators))
            psi = self._apply(u, plan, psi)
        lam = operator.apply(psi)
        value = float(np.real(np.vdot(psi, lam)))
        grad = np.zeros(self.n_angles)
        pair = np.stack([psi, lam])
        for block, plan, (u, generators) in zip(
            reversed(self.blocks), reversed(self._plans), reversed(stored)
        ):
            if generators:
                r = self._cross_density(pair, block.qubits)
                for angle, g in generators:
                    grad[angle] += np.imag(np.sum((u @ g @ u.conj().T) * r))
            pair = self._apply(u.conj().T, plan, pair)
        return value, grad

    def _cross_density(self, pair: np.ndarray, qubits: tuple[int, ...]) -> np.ndarray:
        """``R[a, b] = sum_rest conj(lambda[a, rest]) psi[b, rest]`` over the block's local bits."""
        shape, axes = self._view(qubits)
        psi, lam = pair[0].reshape(shape), pair[1].conj().reshape(shape)
        rest = [k for k in range(len(shape)) if k not in axes]
        r = np.tensordot(lam, psi, axes=(rest, rest))  # axes (hi, lo) of lambda, then of psi
        d = 2 ** len(qubits)
        return r.reshape(d, d)
