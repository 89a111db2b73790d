"""The spin-1/2 Heisenberg family: XXZ, J1-J2, fields, Dzyaloshinskii-Moriya."""

from __future__ import annotations

import numpy as np

from manybody.constraints import LinearConstraint
from manybody.families import correlation_vs_distance, structure_factor
from manybody.model import Model, check_lattice, observable
from manybody.observables import Observable
from manybody.operators import of, spin, spin_dot
from manybody.signs import SignStructure
from manybody.symmetries import QubitSymmetry
from manybody.validation import check_real

__all__ = ["Heisenberg", "total_sz_constraint", "bipartition"]

# Ground-state energies (J = 1, S = sigma/2), keyed by (lattice dict, J2, Delta).
_REFERENCES = {
    # Open chains: Lanczos for L = 20; two-site DMRG converged in the bond dimension for L = 100
    # (chi 512, discarded weight < 1e-12; TeNPy and quimb agree to 1e-10, benchmarks/dmrg_heisenberg.py).
    ('{"kind": "chain", "L": 20, "pbc": false}', 0.0, 1.0): -8.682473334398976,
    ('{"kind": "chain", "L": 100, "pbc": false}', 0.0, 1.0): -44.1277398932959,
    # Exact diagonalisation, 4x4 periodic (Schulz, Ziman, Poilblanc, J. Phys. I 6, 675 (1996)).
    ('{"kind": "square", "Lx": 4, "Ly": 4, "pbc": true}', 0.0, 1.0): -11.22848320842887,
    ('{"kind": "square", "Lx": 4, "Ly": 4, "pbc": true}', 0.5, 1.0): -8.457923351394856,
}


def total_sz_constraint(n_spins: int, sz: float) -> LinearConstraint:
    """``sum_i S^z_i = sz`` as a bit constraint: ``sum_i b_i = n/2 - sz``."""
    n_down = n_spins / 2 - sz
    if abs(n_down - round(n_down)) > 1e-9 or not 0 <= round(n_down) <= n_spins:
        raise ValueError(
            f"sz={sz} is not a sector of {n_spins} spins-1/2: allowed values are "
            f"-{n_spins / 2}, -{n_spins / 2 - 1}, ..., {n_spins / 2}"
        )
    return LinearConstraint("total_sz", tuple(range(n_spins)), (1.0,) * n_spins, round(n_down))


def bipartition(lattice) -> np.ndarray | None:
    """Sublattice signs (+1/-1) of a bipartite nearest-neighbour graph, else None."""
    n = lattice.n_sites
    adj = [[] for _ in range(n)]
    for i, j in lattice.bonds(1):
        adj[i].append(j)
        adj[j].append(i)
    sign = np.zeros(n, dtype=int)
    for start in range(n):
        if sign[start]:
            continue
        sign[start] = 1
        stack = [start]
        while stack:
            i = stack.pop()
            for j in adj[i]:
                if sign[j] == 0:
                    sign[j] = -sign[i]
                    stack.append(j)
                elif sign[j] == sign[i]:
                    return None
    return sign


class Heisenberg(Model):
    r"""Spin-1/2 Heisenberg model with XXZ anisotropy, J2, fields and DM terms.

    .. math::

        H = J \sum_{\langle ij \rangle} (S^x_i S^x_j + S^y_i S^y_j + \Delta S^z_i S^z_j)
            + J_2 \sum_{\langle\langle ij \rangle\rangle} \mathbf S_i \cdot \mathbf S_j
            + \sum_{\langle ij \rangle} \mathbf D \cdot (\mathbf S_i \times \mathbf S_j)
            - \sum_i (h + h_i) S^z_i

    with :math:`\mathbf S = \boldsymbol\sigma / 2` (eigenvalues of
    :math:`S^z` are :math:`\pm 1/2`), energies in the units of the couplings,
    and bonds :math:`\langle ij \rangle` ordered :math:`i < j`. ``J > 0`` is
    antiferromagnetic.

    Parameters
    ----------
    lattice : Lattice
        Any lattice; nearest bonds carry J and D, next-nearest bonds J2.
    J, J2, Delta, h : float
        Couplings and the uniform field along z.
    D : float or (float, float, float)
        Dzyaloshinskii-Moriya vector on nearest bonds; a float means ``(0, 0, D)``.
        In-plane components break S^z conservation and need ``sz=None``.
    fields : list of float, optional
        Site-dependent fields ``h_i`` along z (length ``n_sites``).
    sz : float, "auto" or None
        Total S^z sector. ``"auto"`` (default): 0 for even N, 1/2 for odd N.
        ``None``: no constraint (the full Hilbert space).
    """

    name = "heisenberg"

    def __init__(self, lattice, J=1.0, J2=0.0, Delta=1.0, h=0.0, D=0.0, fields=None, sz="auto"):
        lattice = check_lattice(lattice)
        n = lattice.n_sites
        if np.ndim(D) == 0:
            D = (0.0, 0.0, check_real("D", D))
        if len(D) != 3:
            raise ValueError(f"D must be a float or 3 floats (Dx, Dy, Dz), got {D!r}")
        D = tuple(check_real(f"D[{k}]", d) for k, d in enumerate(D))
        if fields is not None:
            if len(fields) != n:
                raise ValueError(f"fields must have one value per site ({n}), got {len(fields)}")
            fields = [check_real(f"fields[{i}]", f) for i, f in enumerate(fields)]
        if isinstance(sz, str):
            if sz != "auto":
                raise ValueError(f"sz must be a number, 'auto' or None, got {sz!r}")
            sz = 0.0 if n % 2 == 0 else 0.5
        if sz is not None:
            sz = check_real("sz", sz)
            if D[0] or D[1]:
                raise ValueError("in-plane DM components (D[0], D[1]) break S^z conservation: use sz=None")
        self._set_params(
            lattice=lattice,
            J=check_real("J", J),
            J2=check_real("J2", J2),
            Delta=check_real("Delta", Delta),
            h=check_real("h", h),
            D=D,
            fields=fields,
            sz=sz,
        )

    @property
    def n_qubits(self) -> int:
        return self.lattice.n_sites

    @property
    def constraints(self) -> list:
        sz = self.params["sz"]
        return [] if sz is None else [total_sz_constraint(self.n_qubits, sz)]

    @property
    def reference_energy(self) -> float | None:
        import json

        p = self.params
        if p["J"] != 1.0 or p["h"] or any(p["D"]) or p["fields"] or p["sz"] not in (0.0, None):
            return None
        key = (json.dumps(self.lattice.to_dict()), p["J2"], p["Delta"])
        return _REFERENCES.get(key)

    def named_states(self) -> dict:
        """``"neel"``: spin down (bit 1) on the sublattice of site 1, on a bipartite lattice
        whose Neel state lies in the ``sz`` sector."""
        sublattice = bipartition(self.lattice)
        if sublattice is None:
            return {}
        bits = (sublattice != sublattice[0]).astype(np.int8)
        if any(not c.satisfied(bits) for c in self.constraints):
            return {}
        return {"neel": bits}

    def sign_structures(self) -> list[SignStructure]:
        """Marshall's rule ``(-1)^(spins down on sublattice A)`` on a bipartite lattice.

        Exact for ``J > 0`` without DM terms when every ``J2`` bond is ferromagnetic
        within one sublattice (or there is no ``J2``): the off-diagonal terms are then
        all negative after the rotation (Marshall, Proc. R. Soc. A 232, 109 (1955);
        any ``Delta`` and any field along z). Recommended also for a frustrating
        ``0 < J2 <= J/2``, the usual starting sign of J1-J2 variational studies (on the
        2x3 open cluster at ``J2 = 0.5`` it is still exact; on the 4x4 torus at
        ``J2 = 0.5`` 1.3 % of the ground-state weight has the other sign).
        """
        sublattice = bipartition(self.lattice)
        if sublattice is None:
            return []
        p = self.params
        unfrustrated = p["J2"] == 0 or (
            p["J2"] < 0 and all(sublattice[i] == sublattice[j] for i, j in self.lattice.bonds(2))
        )
        base = p["J"] > 0 and not any(p["D"])
        exact = base and unfrustrated
        recommended = exact or (base and 0 < p["J2"] <= 0.5 * p["J"])
        linear = tuple(int(s > 0) for s in sublattice)
        return [SignStructure("marshall", linear=linear, exact=exact, recommended=recommended)]

    def symmetries(self) -> list[QubitSymmetry]:
        """The lattice's symmetries (one qubit per site: translations, rotation, reflection) and
        ``"spin_flip"`` (every spin reversed, ``prod_i sigma^x_i``), as candidates: fields, DM terms
        or an ``sz != 0`` sector break some of them, which the backend's check finds."""
        n = self.n_qubits
        out = [QubitSymmetry(name, perm) for name, perm in self.lattice.site_symmetries().items()]
        return [*out, QubitSymmetry("spin_flip", range(n), flip=True)]

    def build_hamiltonian(self):
        p = self.params
        QubitOperator = of().QubitOperator
        H = QubitOperator()
        for i, j in self.lattice.bonds(1):
            H += spin_dot(i, j, (p["J"], p["J"], p["J"] * p["Delta"]))
            H += _dm(i, j, p["D"])
        if p["J2"]:
            for i, j in self.lattice.bonds(2):
                H += spin_dot(i, j, (p["J2"],) * 3)
        fields = p["fields"] or [0.0] * self.n_qubits
        for i, hi in enumerate(fields):
            if p["h"] + hi:
                H += spin("z", i) * (-(p["h"] + hi))
        return H

    @observable("magnetization_z")
    def _magnetization_z(self):
        n = self.n_qubits
        op = sum((spin("z", i) for i in range(1, n)), spin("z", 0)) * (1.0 / n)
        return Observable("magnetization_z", op, "m_z = (1/N) sum_i S^z_i")

    @observable(
        "staggered_magnetization_sq", default=True, applies=lambda m: bipartition(m.lattice) is not None
    )
    def _staggered_sq(self):
        sign = bipartition(self.lattice)
        if sign is None:
            raise ValueError(f"staggered magnetization needs a bipartite lattice, not {self.lattice!r}")
        n = self.n_qubits
        op = of().QubitOperator()
        for i in range(n):
            for j in range(n):
                op += spin_dot(i, j) * (sign[i] * sign[j] / n**2)
        return Observable(
            "staggered_magnetization_sq",
            op,
            "m_s^2 = (1/N^2) sum_ij eps_i eps_j <S_i . S_j>, eps = +-1 on the two sublattices",
        )

    @observable("sz_correlations")
    def _sz_corr(self):
        return correlation_vs_distance(
            "sz_correlations",
            self.lattice,
            lambda i, j: spin_dot(i, j, (0.0, 0.0, 1.0)),
            "<S^z_i S^z_j> averaged over pairs at distance r",
        )

    @observable("spin_correlations", default=True)
    def _spin_corr(self):
        return correlation_vs_distance(
            "spin_correlations", self.lattice, spin_dot, "<S_i . S_j> averaged over pairs at distance r"
        )

    @observable("structure_factor")
    def _structure_factor(self):
        return structure_factor(
            "structure_factor",
            self.lattice,
            spin_dot,
            "S(q) = (1/N) sum_ij exp(i q.(r_i - r_j)) <S_i . S_j>",
        )


def _dm(i, j, D):
    """``D . (S_i x S_j)`` with S = sigma/2."""
    QubitOperator = of().QubitOperator
    op = QubitOperator()
    for d, (a, b) in zip(D, (("Y", "Z"), ("Z", "X"), ("X", "Y"))):
        if d:
            op += QubitOperator(f"{a}{i} {b}{j}", d / 4) - QubitOperator(f"{b}{i} {a}{j}", d / 4)
    return op
