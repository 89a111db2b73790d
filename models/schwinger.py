"""The lattice Schwinger model (1+1D QED) with the gauge field integrated out."""

from __future__ import annotations

import numpy as np

from manybody.constraints import LinearConstraint
from manybody.model import Model, observable
from manybody.models.gauge import gauss_violation
from manybody.observables import Observable, ObservableFamily
from manybody.operators import of
from manybody.validation import check_int, check_real

__all__ = ["Schwinger"]


def _n(site: int):
    return of().FermionOperator(((site, 1), (site, 0)))


class Schwinger(Model):
    r"""Lattice Schwinger model, Kogut-Susskind staggered fermions, open boundaries.

    The dimensionless Hamiltonian of Hamer, Weihong and Oitmaa, Phys. Rev. D 56,
    55 (1997), ``W = 2 H / (a g^2)``, on ``N`` sites ``n = 0 .. N-1``:

    .. math::

        W = x \sum_{n=0}^{N-2} (\phi^\dagger_n \phi_{n+1} + \phi^\dagger_{n+1} \phi_n)
            + \mu \sum_{n=0}^{N-1} (-1)^n \phi^\dagger_n \phi_n
            + \sum_{n=0}^{N-2} (L_n + \alpha)^2 ,

    with ``x = 1/(g a)^2``, ``mu = 2 m / (g^2 a)`` and ``alpha = theta / 2 pi``
    the background field. Hamer et al. write the hopping as
    ``-i x (phi^dag_n e^{i theta_n} phi_{n+1} - h.c.)``; with open boundaries
    the link phases are removed by a gauge transformation and the factor
    ``-i`` by ``phi_n -> i^n phi_n``, which leaves the spectrum unchanged.
    Gauss's law ``L_n - L_{n-1} = Q_n + q_n`` with the staggered charge
    ``Q_n = phi^dag_n phi_n - [1 - (-1)^n] / 2`` (an occupied even site is a
    particle, an empty odd site an antiparticle), static charges ``q_n`` and
    ``L_{-1} = 0`` is solved for the link fields,
    ``L_n = sum_{l <= n} (Q_l + q_l)``, giving the long-range electric term
    (no link qubits: ``N`` qubits). In spin language (Martinez et al., Nature
    534, 516 (2016), ``H = J W`` with ``w = x J``, ``J = g^2 a / 2``) with our
    convention ``phi^dag phi = (1 - Z)/2`` this is exactly (N even)
    ``W = (x/2) sum (X_n X_{n+1} + Y_n Y_{n+1}) - (mu/2) sum (-1)^n Z_n
    + sum (L_n + alpha)^2`` with ``L_n = sum_{l<=n} [(1 - Z_l)/2 - (l mod 2) + q_l]``.
    Energies are in units of ``g^2 a / 2``; ``W / N`` is the energy per site.

    The only Gauss-law generator left is the total charge
    ``sum_n Q_n = total_charge`` (the field beyond the last site), declared as a
    :class:`~manybody.constraints.LinearConstraint` on ``sum_n b_n``.

    Parameters
    ----------
    n_sites : int
        ``N``, even and >= 2.
    x, mu : float
        Hopping ``1/(g a)^2`` and staggered mass ``2 m / (g^2 a)``.
    alpha : float
        Background electric field ``theta / (2 pi)``.
    charges : list of float, optional
        Static external charges ``q_n`` per site (e.g. ``+1`` and ``-1`` at the
        ends of a string for string breaking). Default: none.
    total_charge : int
        Dynamical charge sector ``sum_n Q_n`` (default 0, neutral).
    """

    name = "schwinger"

    def __init__(self, n_sites, x=1.0, mu=0.5, alpha=0.0, charges=None, total_charge=0):
        n = check_int("n_sites", n_sites, minimum=2)
        if n % 2:
            raise ValueError(f"n_sites must be even (staggered fermions: N/2 unit cells), got {n}")
        if charges is not None:
            if len(charges) != n:
                raise ValueError(f"charges must have one value per site ({n}), got {len(charges)}")
            charges = [check_real(f"charges[{k}]", q) for k, q in enumerate(charges)]
        total_charge = check_int("total_charge", total_charge)
        if abs(total_charge) > n // 2:
            raise ValueError(f"total_charge must be in -{n // 2}..{n // 2} for {n} sites, got {total_charge}")
        self._set_params(
            n_sites=n,
            x=check_real("x", x),
            mu=check_real("mu", mu),
            alpha=check_real("alpha", alpha),
            charges=charges,
            total_charge=total_charge,
        )

    @property
    def n_qubits(self) -> int:
        return self.params["n_sites"]

    def named_states(self) -> dict:
        """``"vacuum"``: the bare (strong-coupling) vacuum, odd sites filled and even sites empty
        (every staggered charge ``Q_n = 0``); only in the neutral sector."""
        if self.params["total_charge"] != 0:
            return {}
        return {"vacuum": (np.arange(self.n_qubits) % 2).astype(np.int8)}

    @property
    def constraints(self) -> list:
        n = self.n_qubits
        # sum_n Q_n = sum_n b_n - N/2 (N/2 odd sites)
        value = self.params["total_charge"] + n // 2
        return [LinearConstraint("total_charge", tuple(range(n)), (1.0,) * n, value)]

    def _field_offsets(self) -> list[float]:
        """``c_n`` in ``L_n + alpha = c_n + sum_{l <= n} n_l`` for the links n = 0..N-2."""
        q = self.params["charges"] or [0.0] * self.n_qubits
        out, c = [], self.params["alpha"]
        for site in range(self.n_qubits - 1):
            c += q[site] - site % 2
            out.append(c)
        return out

    def _field(self, link: int):
        """``L_link + alpha`` as a FermionOperator."""
        op = of().FermionOperator((), self._field_offsets()[link])
        for site in range(link + 1):
            op += _n(site)
        return op

    def build_hamiltonian(self):
        p = self.params
        n = self.n_qubits
        FermionOperator = of().FermionOperator
        H = FermionOperator()
        for site in range(n - 1):
            H += FermionOperator(((site, 1), (site + 1, 0)), p["x"])
            H += FermionOperator(((site + 1, 1), (site, 0)), p["x"])
        for site in range(n):
            H += _n(site) * (p["mu"] * (-1) ** site)
        # sum_{k=0}^{N-2} (c_k + sum_{l<=k} n_l)^2, expanded with n_l^2 = n_l
        c = self._field_offsets()
        H += FermionOperator((), sum(ck**2 for ck in c))
        for l in range(n - 1):
            H += _n(l) * sum(2 * c[k] + 1 for k in range(l, n - 1))
            for m in range(l + 1, n - 1):
                H += _n(l) * _n(m) * (2.0 * (n - 1 - m))
        return H

    @observable("electric_field", default=True)
    def _electric_field(self):
        links = list(range(self.n_qubits - 1))
        ops = tuple(self._field(k) for k in links)
        return ObservableFamily(
            "electric_field", "link", links, ops, "<L_n + alpha> on the link (n, n+1), n = 0..N-2"
        )

    @observable("particle_density", default=True)
    def _particle_density(self):
        n = self.n_qubits
        op = of().FermionOperator()
        for site in range(n):
            op += (_n(site) - of().FermionOperator((), site % 2)) * ((-1) ** site / n)
        return Observable(
            "particle_density", op, "nu = (1/N) sum_n |Q_n|: particles (even sites) plus antiparticles (odd)"
        )

    @observable("charge")
    def _charge(self):
        n = self.n_qubits
        ops = tuple(_n(site) - of().FermionOperator((), site % 2) for site in range(n))
        return ObservableFamily("charge", "site", list(range(n)), ops, "<Q_n> = <n_n> - (1 - (-1)^n)/2")

    @observable("gauss_violation")
    def _gauss_violation(self):
        return gauss_violation(self.constraints)
