"""Energy and the whole parameter-shift gradient in one estimator call.

The ansatz is unrolled to gates whose angle enters as ``exp(-i phi P / 2)``
with ``P`` a Pauli string (``rx, ry, rz, rxx, ryy, rzz, rzx``). Each such
gate gets its own angle ``phi_g = sum_j A_gj theta_j + c_g`` (the ansatz
parameters ``theta`` enter linearly), so the exact two-term shift rule

    dE/dphi_g = [E(phi + pi/2 e_g) - E(phi - pi/2 e_g)] / 2,
    dE/dtheta = A^T dE/dphi,

needs ``1 + 2 G`` parameter rows, all sent as one PUB. This is exact on a
statevector and unbiased with shot noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ParameterExpression, ParameterVector

__all__ = ["ShiftCircuit", "shift_form"]

_SHIFTABLE = ("rx", "ry", "rz", "rxx", "ryy", "rzz", "rzx")
_BASIS = [*_SHIFTABLE, "cx", "cz", "h", "s", "sdg", "sx", "sxdg", "x", "y", "z", "swap", "id"]


@dataclass
class ShiftCircuit:
    """An ansatz rewritten with one angle per rotation gate.

    Attributes
    ----------
    circuit : QuantumCircuit
        Parameters ``phi[0..G-1]``, one per rotation gate.
    A : ndarray (G, P)
        ``phi = A @ theta + offset``.
    offset : ndarray (G,)
    """

    circuit: QuantumCircuit
    A: np.ndarray
    offset: np.ndarray

    @property
    def n_parameters(self) -> int:
        return self.A.shape[1]

    @property
    def n_gates(self) -> int:
        return self.A.shape[0]

    def angles(self, theta) -> np.ndarray:
        """Gate angles for ansatz parameters ``theta`` (..., P) -> (..., G)."""
        return np.asarray(theta, dtype=float) @ self.A.T + self.offset

    def gradient_rows(self, theta) -> np.ndarray:
        """Rows ``[phi, phi + pi/2 e_g ..., phi - pi/2 e_g ...]`` of shape (1 + 2G, G)."""
        phi = self.angles(theta)
        shifts = np.eye(self.n_gates) * (np.pi / 2)
        return np.vstack([phi[None], phi + shifts, phi - shifts])

    def gradient(self, values: np.ndarray) -> tuple[float, np.ndarray]:
        """Energy and gradient from the estimates on ``gradient_rows`` (length 1 + 2G)."""
        g = self.n_gates
        d_phi = (values[1 : 1 + g] - values[1 + g :]) / 2
        return float(values[0]), self.A.T @ d_phi


def shift_form(circuit: QuantumCircuit) -> ShiftCircuit:
    """Rewrite ``circuit`` (parameters ``theta`` in ``circuit.parameters`` order) for the shift rule.

    Raises
    ------
    ValueError
        If a parameter enters a gate other than a Pauli rotation, or non-linearly.
    """
    thetas = list(circuit.parameters)
    index = {p: k for k, p in enumerate(thetas)}
    flat = transpile(circuit, basis_gates=_BASIS, optimization_level=0)
    n_gates = sum(
        1 for inst in flat.data if any(isinstance(p, ParameterExpression) for p in inst.operation.params)
    )
    phi = ParameterVector("φ", n_gates)
    out = QuantumCircuit(*flat.qregs, *flat.cregs)
    A = np.zeros((n_gates, len(thetas)))
    offset = np.zeros(n_gates)
    g = 0
    for inst in flat.data:
        op = inst.operation
        params = [p for p in op.params if isinstance(p, ParameterExpression)]
        if not params:
            out.append(inst)
            continue
        if op.name not in _SHIFTABLE or len(op.params) != 1:
            raise ValueError(f"cannot apply the parameter-shift rule to a parametrized {op.name!r} gate")
        expr = op.params[0]
        for p in expr.parameters:
            coeff = expr.gradient(p)
            if isinstance(coeff, ParameterExpression):
                raise ValueError(f"gate {op.name!r} depends non-linearly on {p}: {expr}")
            A[g, index[p]] = float(np.real(coeff))
        offset[g] = float(np.real(complex(expr.bind({p: 0.0 for p in expr.parameters}))))
        new = op.to_mutable()
        new.params = [phi[g]]
        out.append(new, inst.qubits, inst.clbits)
        g += 1
    if not isinstance(flat.global_phase, ParameterExpression):
        out.global_phase = flat.global_phase
    return ShiftCircuit(out, A, offset)
