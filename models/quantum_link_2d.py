"""The pure-gauge U(1) quantum link model on the square lattice."""

from __future__ import annotations

from manybody.constraints import LinearConstraint
from manybody.model import observable
from manybody.models.gauge import (
    LinkModel,
    check_gauge_square,
    electric_field_family,
    sigma_minus,
    sigma_plus,
)
from manybody.observables import Observable
from manybody.operators import of
from manybody.validation import check_real

__all__ = ["QuantumLink2D"]


class QuantumLink2D(LinkModel):
    r"""U(1) quantum link model with spin-1/2 links on the square lattice (no matter).

    .. math::

        H = -J \sum_p (U_p + U_p^\dagger) + \lambda \sum_p (U_p + U_p^\dagger)^2,
        \qquad U_p = U_{l_1} U_{l_2} U_{l_3}^\dagger U_{l_4}^\dagger,

    with ``U_l = S^+_l``, ``E_l = S^z_l`` on every link, oriented along +x and
    +y (``Square.links``), and ``l_1 .. l_4`` the bottom, right, top and left
    links of the plaquette (counter-clockwise, ``Square.plaquettes``), so
    ``U_p`` flips a clockwise-circulating flux into a counter-clockwise one.
    ``(U_p + U_p^dag)^2`` is the projector on flippable plaquettes (the
    Rokhsar-Kivelson term). At ``lam = J > 0`` the Hamiltonian is a sum of
    positive semi-definite terms with a zero-energy ground state
    (``reference_energy = 0``). See Banerjee et al., J. Stat. Mech. (2013)
    P12010, and Wiese, Ann. Phys. 525, 777 (2013).

    The spin basis is the electric basis: qubit ``l`` is link ``l``, bit 0 for
    ``E = +1/2``, bit 1 for ``E = -1/2`` (``S^+ = |0><1|``). Gauss's law
    ``G_v = sum_{l at v} s_l E_l = g_v`` (divergence: ``s = +1`` for links
    leaving ``v``, ``-1`` for links entering it) is one
    :class:`~manybody.constraints.LinearConstraint` per vertex whose weighted
    bit sum minus its value equals ``G_v - g_v``.

    Parameters
    ----------
    Lx, Ly : int
        Vertices along x and y (>= 3 along periodic directions, >= 2 open).
    J, lam : float
        Plaquette and Rokhsar-Kivelson couplings.
    pbc : bool or (bool, bool)
        Periodic boundaries (default: a torus).
    charges : list of float, optional
        Background charges ``g_v`` per vertex (default 0). ``g_v`` must be
        reachable with spin-1/2 links (``|g_v| <= d_v/2`` and ``g_v - d_v/2``
        an integer for a vertex with ``d_v`` links: open edges, with three
        links, need half-integer charges) and sum to zero.
    """

    name = "quantum_link_2d"

    def __init__(self, Lx, Ly, J=1.0, lam=0.0, pbc=True, charges=None):
        pbc = tuple(pbc) if isinstance(pbc, (list, tuple)) else pbc
        self.lattice = check_gauge_square(Lx, Ly, pbc)
        n_v = self.lattice.n_sites
        if charges is None:
            charges = [0.0] * n_v
        if len(charges) != n_v:
            raise ValueError(f"charges must have one value per vertex ({n_v}), got {len(charges)}")
        charges = [check_real(f"charges[{v}]", g) for v, g in enumerate(charges)]
        for v, (g, links) in enumerate(zip(charges, self.lattice.vertex_links)):
            d = len(links)
            if abs(g) > d / 2 + 1e-9 or abs((g - d / 2) - round(g - d / 2)) > 1e-9:
                raise ValueError(
                    f"charges[{v}] = {g} cannot be reached by the {d} spin-1/2 links at vertex {v}: "
                    f"allowed values are {[k - d / 2 for k in range(d + 1)]}"
                    + ("; open edges need half-integer charges, or use pbc=True" if d % 2 else "")
                )
        if abs(sum(charges)) > 1e-9:
            raise ValueError(f"charges must sum to zero (sum_v G_v = 0 identically), got {sum(charges)}")
        self._set_params(
            Lx=self.lattice.Lx,
            Ly=self.lattice.Ly,
            J=check_real("J", J),
            lam=check_real("lam", lam),
            pbc=pbc,
            charges=charges,
        )

    @property
    def constraints(self) -> list:
        out = []
        for v, (g, links) in enumerate(zip(self.params["charges"], self.lattice.vertex_links)):
            links = sorted(links)
            # G_v = sum_l s_l (1/2 - b_l)  =>  sum_l (-s_l) b_l = g_v - sum_l s_l / 2
            value = g - sum(s for _, s in links) / 2
            out.append(
                LinearConstraint(
                    f"gauss[{v}]", [l for l, _ in links], [-s for _, s in links], value, local=True
                )
            )
        return out

    @property
    def reference_energy(self) -> float | None:
        p = self.params
        return 0.0 if p["lam"] == p["J"] and p["J"] > 0 else None

    def _flip(self, p):
        """``U_p + U_p^dag`` for the plaquette ``p`` (four ``(link, sign)``)."""
        U = of().QubitOperator(())
        for l, s in p:
            U = U * (sigma_plus(l) if s > 0 else sigma_minus(l))
        return U + of().hermitian_conjugated(U)

    def build_hamiltonian(self):
        J, lam = self.params["J"], self.params["lam"]
        H = of().QubitOperator()
        for p in self.lattice.plaquettes:
            flip = self._flip(p)
            H += flip * (-J)
            if lam:
                H += flip * flip * lam
        return H

    def _plaquette_average(self, power: int):
        plaq = self.lattice.plaquettes
        op = of().QubitOperator()
        for p in plaq:
            flip = self._flip(p)
            op += flip if power == 1 else flip * flip
        return op * (1.0 / len(plaq))

    @observable("plaquette", default=True)
    def _plaquette(self):
        return Observable("plaquette", self._plaquette_average(1), "(1/N_p) sum_p <U_p + U_p^dag>")

    @observable("flippability", default=True)
    def _flippability(self):
        return Observable(
            "flippability",
            self._plaquette_average(2),
            "(1/N_p) sum_p <(U_p + U_p^dag)^2>: the fraction of flippable plaquettes",
        )

    @observable("electric_field", default=True)
    def _electric_field(self):
        return electric_field_family(
            "electric_field",
            range(self.n_qubits),
            self.lattice.links,
            0.5,
            "<E_l> = <S^z_l> per link, axis = (tail, head)",
        )
