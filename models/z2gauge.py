"""The 2D Z2 lattice gauge theory (toric code in a transverse field)."""

from __future__ import annotations

from manybody.constraints import ParityConstraint
from manybody.model import observable
from manybody.models.gauge import LinkModel, check_gauge_square, electric_field_family
from manybody.observables import Observable
from manybody.operators import of
from manybody.validation import check_real

__all__ = ["Z2Gauge"]


class Z2Gauge(LinkModel):
    r"""Z2 lattice gauge theory on the square lattice: the toric code in a field.

    Stated in the usual (magnetic) basis, with one qubit per link,

    .. math::

        H = -J \sum_p \prod_{l \in p} Z_l - h \sum_l X_l, \qquad
        G_v = \prod_{l \ni v} X_l = 1 .

    The model is **written in the electric basis**, i.e. after a Hadamard on
    every link (``X <-> Z``), so that Gauss's law is diagonal:

    .. math::

        H = -J \sum_p \prod_{l \in p} X_l - h \sum_l Z_l, \qquad
        G_v = \prod_{l \ni v} Z_l = g_v ,

    one :class:`~manybody.constraints.ParityConstraint` per vertex
    (``g_v = +1`` everywhere, or ``-1`` on the vertices listed in ``charges``).
    Bit ``b_l = 1`` (``Z_l = -1``) is an electric string on link ``l``. Qubits
    are the links in the order of ``Square.links``. Exact limits: ``h = 0``
    gives ``E_0 = -J n_plaquettes`` (``J > 0``), ``J = 0`` gives
    ``E_0 = -h n_links`` (``h > 0``, no static charges).

    Parameters
    ----------
    Lx, Ly : int
        Vertices along x and y (>= 2; >= 3 along periodic directions).
    J, h : float
        Plaquette coupling and transverse (electric) field.
    pbc : bool or (bool, bool)
        Periodic boundaries (default: a torus).
    charges : list of int, optional
        Vertices carrying a static Z2 charge (``g_v = -1``). Their number must
        be even, since ``prod_v G_v = 1`` identically.
    """

    name = "z2_gauge"

    def __init__(self, Lx, Ly, J=1.0, h=1.0, pbc=True, charges=None):
        pbc = tuple(pbc) if isinstance(pbc, (list, tuple)) else pbc
        self.lattice = check_gauge_square(Lx, Ly, pbc)
        charges = sorted({int(v) for v in charges}) if charges else []
        if any(not 0 <= v < self.lattice.n_sites for v in charges):
            raise ValueError(
                f"charges must be vertex indices in 0..{self.lattice.n_sites - 1}, got {charges}"
            )
        if len(charges) % 2:
            raise ValueError(
                f"charges must list an even number of vertices (prod_v G_v = 1 on any lattice), got {charges}"
            )
        self._set_params(
            Lx=self.lattice.Lx,
            Ly=self.lattice.Ly,
            J=check_real("J", J),
            h=check_real("h", h),
            pbc=pbc,
            charges=charges,
        )

    @property
    def constraints(self) -> list:
        charged = set(self.params["charges"])
        return [
            ParityConstraint(f"gauss[{v}]", tuple(sorted(l for l, _ in links)), int(v in charged), local=True)
            for v, links in enumerate(self.lattice.vertex_links)
        ]

    @property
    def reference_energy(self) -> float | None:
        p = self.params
        if p["h"] == 0 and p["J"] >= 0:
            return -p["J"] * len(self.lattice.plaquettes)
        if p["J"] == 0 and p["h"] >= 0 and not p["charges"]:
            return -p["h"] * self.n_qubits
        return None

    def _plaquette_op(self, p):
        return of().QubitOperator(tuple(sorted((l, "X") for l, _ in p)), 1.0)

    def build_hamiltonian(self):
        QubitOperator = of().QubitOperator
        J, h = self.params["J"], self.params["h"]
        H = QubitOperator()
        for p in self.lattice.plaquettes:
            H += self._plaquette_op(p) * (-J)
        for l in range(self.n_qubits):
            H += QubitOperator(f"Z{l}", -h)
        return H

    @observable("plaquette", default=True)
    def _plaquette(self):
        plaq = self.lattice.plaquettes
        op = sum((self._plaquette_op(p) for p in plaq), of().QubitOperator()) * (1.0 / len(plaq))
        return Observable(
            "plaquette", op, "(1/N_p) sum_p <prod_{l in p} X_l> (electric basis; prod Z in the magnetic one)"
        )

    @observable("electric_field", default=True)
    def _electric_field(self):
        return electric_field_family(
            "electric_field",
            range(self.n_qubits),
            self.lattice.links,
            1.0,
            "<Z_l> per link (electric basis; X_l in the magnetic one), axis = (tail, head)",
        )
