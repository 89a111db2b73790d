"""The U(1) quantum link model in one dimension, with staggered fermions."""

from __future__ import annotations

from manybody.constraints import LinearConstraint
from manybody.model import Model, observable
from manybody.models.gauge import bit, electric_field_family, gauss_violation, relabel, sigma_plus
from manybody.observables import Observable, ObservableFamily
from manybody.operators import of, to_qubit_operator
from manybody.validation import check_int, check_real

__all__ = ["QuantumLink1D"]


class QuantumLink1D(Model):
    r"""U(1) quantum link model with staggered fermions and spin-1/2 links (1D).

    Banerjee, Dalmonte, Müller, Rico, Stebler, Wiese, Zoller, Phys. Rev. Lett.
    109, 175302 (2012):

    .. math::

        H = -t \sum_x \left(\psi^\dagger_x U_{x,x+1} \psi_{x+1} + \mathrm{h.c.}\right)
            + m \sum_x (-1)^x \psi^\dagger_x \psi_x ,
        \qquad U_{x,x+1} = S^+_{x,x+1},\quad E_{x,x+1} = S^z_{x,x+1},

    with Gauss's law :math:`G_x = Q_x - (E_{x,x+1} - E_{x-1,x}) = 0`, staggered
    charge :math:`Q_x = \psi^\dagger_x \psi_x - [1 - (-1)^x]/2` (an occupied even
    site is a particle, an empty odd site an antiparticle). The electric energy
    :math:`(g^2/2) \sum E^2 = g^2 / 8` per link is a constant for spin-1/2 links
    and is omitted. Sites are numbered from ``x = 0`` (even).

    Qubits (the 1D order is interleaved): matter site ``x`` is qubit ``2x``
    (bit = occupation), link ``(x, x+1)`` is qubit ``2x + 1`` with bit 0 for
    ``E = +1/2`` and bit 1 for ``E = -1/2`` (so ``S^+ = |0><1|``); on a ring
    the link ``(N-1, 0)`` is qubit ``2N - 1``. The basis is already the
    electric basis, so each ``G_x`` is a
    :class:`~manybody.constraints.LinearConstraint` whose weighted bit sum
    minus its value equals ``G_x``. Fermions are Jordan-Wigner encoded over
    the matter qubits only (the links are bosonic), so the ring's boundary hop
    carries the fermionic sign ``(-1)^(N_f - 1)``.

    Parameters
    ----------
    n_sites : int
        Matter sites ``N >= 2`` (even on a ring).
    t, m : float
        Gauge-matter hopping and staggered mass.
    pbc : bool
        Ring (``N`` links) instead of an open chain (``N - 1`` links).
    boundary_fields : (float, float) or None
        Open chains only: the fixed electric fields ``(E_{-1,0}, E_{N-1,N})``
        (each +1/2 or -1/2) entering Gauss's law at the two ends. Without them
        Gauss's law at an end site (``Q_0 = E_{0,1}``, an integer against a
        half-integer) has no solution. The default ``(-0.5, -0.5)`` is the
        neutral sector whose bare vacuum has ``E = -1/2`` on every link.
    """

    name = "quantum_link_1d"

    def __init__(self, n_sites, t=1.0, m=0.0, pbc=False, boundary_fields=(-0.5, -0.5)):
        n = check_int("n_sites", n_sites, minimum=2)
        if not isinstance(pbc, bool):
            raise ValueError(f"pbc must be True or False, got {pbc!r}")
        if pbc:
            if n % 2:
                raise ValueError(f"n_sites must be even on a ring (staggered fermions), got {n}")
            if boundary_fields is not None:
                raise ValueError(
                    "boundary_fields apply to open chains only: use boundary_fields=None with pbc=True"
                )
        else:
            if boundary_fields is None:
                raise ValueError(
                    "an open chain of spin-1/2 links needs fixed boundary_fields=(E_left, E_right), "
                    "each +0.5 or -0.5: otherwise Gauss's law at the ends has no solution"
                )
            if len(boundary_fields) != 2 or any(e not in (0.5, -0.5) for e in boundary_fields):
                raise ValueError(
                    f"boundary_fields must be two values in (+0.5, -0.5), got {boundary_fields!r}"
                )
            boundary_fields = tuple(float(e) for e in boundary_fields)
        self._set_params(
            n_sites=n, t=check_real("t", t), m=check_real("m", m), pbc=pbc, boundary_fields=boundary_fields
        )

    @property
    def n_qubits(self) -> int:
        n = self.params["n_sites"]
        return 2 * n if self.params["pbc"] else 2 * n - 1

    @property
    def n_sites(self) -> int:
        return self.params["n_sites"]

    @property
    def links(self) -> list[tuple[int, int]]:
        """Links ``(x, x + 1 mod N)``; link ``k`` is qubit ``2k + 1``."""
        n = self.params["n_sites"]
        return [(x, (x + 1) % n) for x in range(n if self.params["pbc"] else n - 1)]

    @property
    def constraints(self) -> list:
        n, pbc = self.params["n_sites"], self.params["pbc"]
        left, right = self.params["boundary_fields"] or (None, None)
        out = []
        for x in range(n):
            odd = x % 2
            qubits, weights, value = [2 * x], [1.0], float(odd)
            if pbc or x < n - 1:  # right link (x, x+1): -E_r = b_r - 1/2
                qubits.append(2 * x + 1)
                weights.append(1.0)
            else:
                value += right - 0.5
            if pbc or x > 0:  # left link (x-1, x): +E_l = 1/2 - b_l
                qubits.append((2 * x - 1) % (2 * n))
                weights.append(-1.0)
            else:
                value += 0.5 - left
            out.append(LinearConstraint(f"gauss[{x}]", qubits, weights, value, local=True))
        return out

    def build_hamiltonian(self):
        n, t, m = self.params["n_sites"], self.params["t"], self.params["m"]
        FermionOperator = of().FermionOperator
        to_matter = {x: 2 * x for x in range(n)}
        H = of().QubitOperator()
        for k, (x, y) in enumerate(self.links):
            hop = relabel(to_qubit_operator(FermionOperator(((x, 1), (y, 0)))), to_matter)
            term = hop * sigma_plus(2 * k + 1) * (-t)
            H += term + of().hermitian_conjugated(term)
        if m:
            for x in range(n):
                H += bit(2 * x) * (m * (-1) ** x)
        return H

    @observable("electric_field", default=True)
    def _electric_field(self):
        return electric_field_family(
            "electric_field",
            [2 * k + 1 for k in range(len(self.links))],
            self.links,
            0.5,
            "<E_{x,x+1}> = <S^z> per link, axis = (x, x+1)",
        )

    @observable("gauss_violation", default=True)
    def _gauss_violation(self):
        return gauss_violation(self.constraints)

    def _charge(self, x):
        return bit(2 * x) - of().QubitOperator((), float(x % 2))

    @observable("particle_density", default=True)
    def _particle_density(self):
        n = self.params["n_sites"]
        op = of().QubitOperator()
        for x in range(n):
            op += self._charge(x) * ((-1) ** x / n)
        return Observable(
            "particle_density", op, "(1/N) sum_x |Q_x|: particles (even sites) plus antiparticles (odd)"
        )

    @observable("charge")
    def _charge_family(self):
        n = self.params["n_sites"]
        ops = tuple(self._charge(x) for x in range(n))
        return ObservableFamily("charge", "site", list(range(n)), ops, "<Q_x> = <n_x> - (1 - (-1)^x)/2")
