"""The Fermi-Hubbard model on any lattice."""

from __future__ import annotations

import json

from manybody.constraints import LinearConstraint
from manybody.families import correlation_vs_distance
from manybody.model import Model, check_lattice, observable
from manybody.observables import Observable, ObservableFamily
from manybody.operators import of
from manybody.signs import SignStructure
from manybody.validation import check_int, check_real

__all__ = ["Hubbard", "mode"]

# Ground-state energies at t = 1, U = 4, mu = 0, half filling n_up = n_down = L/2
# (open chains; exact diagonalisation, reproduced by the exact backend in the tests).
_REFERENCES = {
    '{"kind": "chain", "L": 8, "pbc": false}': -4.235806999129688,
    '{"kind": "chain", "L": 10, "pbc": false}': -5.380618820415,
}


def mode(site: int, spin: int) -> int:
    """Fermion mode (= qubit) of ``site`` and ``spin`` (0 = up, 1 = down): ``2 * site + spin``."""
    return 2 * site + spin


def _number(site: int, spin: int):
    q = mode(site, spin)
    return of().FermionOperator(((q, 1), (q, 0)))


class Hubbard(Model):
    r"""Fermi-Hubbard model.

    .. math::

        H = -t \sum_{\langle ij \rangle, \sigma} (c^\dagger_{i\sigma} c_{j\sigma}
              + c^\dagger_{j\sigma} c_{i\sigma})
            + U \sum_i n_{i\uparrow} n_{i\downarrow} - \mu \sum_i (n_{i\uparrow} + n_{i\downarrow})

    Conventions
    -----------
    * Fermion mode (= qubit) of site ``i`` and spin ``s``: ``2 i + s``, with
      ``s = 0`` for up and ``1`` for down (as OpenFermion's ``up_index`` /
      ``down_index``); each site's two modes are adjacent in ``qubit_order``.
    * The Hamiltonian is a ``FermionOperator``; backends use its Jordan-Wigner
      form, so hopping across a periodic boundary carries the correct
      fermionic sign (the Z string over the intermediate modes).
    * Bonds are the lattice's nearest-neighbour bonds (a periodic chain of
      two sites has one bond). ``t > 0`` with the minus sign above is the
      usual hopping; energies in the units of t and U.

    Parameters
    ----------
    lattice : Lattice
        Any lattice (Chain, Square, ..., Graph).
    t, U, mu : float
        Hopping, on-site interaction, chemical potential.
    n_up, n_down : int, optional
        Particles of each spin (the sector). Default: half filling,
        ``n_up = n_down = N / 2`` (N must then be even).
    """

    name = "hubbard"

    def __init__(self, lattice, t=1.0, U=4.0, mu=0.0, n_up=None, n_down=None):
        lattice = check_lattice(lattice)
        n = lattice.n_sites
        fill = {}
        for label, value in (("n_up", n_up), ("n_down", n_down)):
            if value is None:
                if n % 2:
                    raise ValueError(
                        f"half filling needs an even number of sites, the lattice has {n}: give "
                        f"{label} explicitly (an integer in 0..{n})"
                    )
                value = n // 2
            value = check_int(label, value, minimum=0)
            if value > n:
                raise ValueError(f"{label} must be in 0..{n} (the number of sites), got {value}")
            fill[label] = value
        self._set_params(
            lattice=lattice,
            t=check_real("t", t),
            U=check_real("U", U),
            mu=check_real("mu", mu),
            **fill,
        )

    @property
    def n_qubits(self) -> int:
        return 2 * self.lattice.n_sites

    @property
    def qubits_per_site(self) -> int:
        return 2

    def sign_structures(self) -> list[SignStructure]:
        """On a chain: the sign of reordering the modes ``2 i + s`` into all-up-then-all-down.

        In the block order the open chain with ``t > 0`` (and the periodic chain
        with odd ``n_up`` and ``n_down``) is stoquastic, so its ground state is
        positive there (Perron-Frobenius) and this sign is exact; the pairs are
        (down at site i, up at site j > i). On a periodic chain with an even
        filling only the boundary hopping has the other sign: the structure is
        approximate but still recommended for ``t > 0``.
        """
        from manybody.lattice import Chain

        if not isinstance(self.lattice, Chain):
            return []
        p, n = self.params, self.lattice.n_sites
        pairs = tuple(sorted((mode(i, 1), mode(j, 0)) for i in range(n) for j in range(i + 1, n)))
        exact = p["t"] > 0 and (not self.lattice.pbc or (p["n_up"] % 2 == 1 and p["n_down"] % 2 == 1))
        return [SignStructure("hubbard_chain", pairs=pairs, exact=exact, recommended=p["t"] > 0)]

    @property
    def constraints(self) -> list:
        n = self.lattice.n_sites
        return [
            LinearConstraint("n_up", tuple(mode(i, 0) for i in range(n)), (1.0,) * n, self.params["n_up"]),
            LinearConstraint(
                "n_down", tuple(mode(i, 1) for i in range(n)), (1.0,) * n, self.params["n_down"]
            ),
        ]

    @property
    def reference_energy(self) -> float | None:
        p = self.params
        n = self.lattice.n_sites
        if (p["t"], p["U"], p["mu"]) != (1.0, 4.0, 0.0) or not p["n_up"] == p["n_down"] == n // 2:
            return None
        return _REFERENCES.get(json.dumps(self.lattice.to_dict()))

    def build_hamiltonian(self):
        p = self.params
        FermionOperator = of().FermionOperator
        H = FermionOperator()
        for i, j in self.lattice.bonds(1):
            for s in (0, 1):
                a, b = mode(i, s), mode(j, s)
                H += FermionOperator(((a, 1), (b, 0)), -p["t"]) + FermionOperator(((b, 1), (a, 0)), -p["t"])
        for i in range(self.lattice.n_sites):
            if p["U"]:
                H += _number(i, 0) * _number(i, 1) * p["U"]
            if p["mu"]:
                H += (_number(i, 0) + _number(i, 1)) * (-p["mu"])
        return H

    @observable("double_occupancy", default=True)
    def _double_occupancy(self):
        n = self.lattice.n_sites
        op = sum((_number(i, 0) * _number(i, 1) for i in range(n)), of().FermionOperator()) * (1.0 / n)
        return Observable("double_occupancy", op, "D = (1/N) sum_i <n_i,up n_i,down>")

    @observable("density")
    def _density(self):
        n = self.lattice.n_sites
        ops = tuple(_number(i, 0) + _number(i, 1) for i in range(n))
        return ObservableFamily("density", "site", list(range(n)), ops, "<n_i> = <n_i,up + n_i,down>")

    @observable("spin_correlations", default=True)
    def _spin_correlations(self):
        def sz(i):
            return (_number(i, 0) - _number(i, 1)) * 0.5

        return correlation_vs_distance(
            "spin_correlations",
            self.lattice,
            lambda i, j: sz(i) * sz(j),
            "<S^z_i S^z_j>, S^z = (n_up - n_down)/2, averaged over pairs at distance r",
        )

    @observable("charge_correlations", default=True)
    def _charge_correlations(self):
        def dens(i):
            return _number(i, 0) + _number(i, 1)

        return correlation_vs_distance(
            "charge_correlations",
            self.lattice,
            lambda i, j: dens(i) * dens(j),
            "<n_i n_j> (density-density), averaged over pairs at distance r",
        )
