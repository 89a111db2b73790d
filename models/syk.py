"""The Sachdev-Ye-Kitaev model (q = 4) with Gaussian random couplings."""

from __future__ import annotations

import itertools
import math

import numpy as np

from manybody.constraints import ParityConstraint
from manybody.model import Model, observable
from manybody.observables import Observable, ObservableFamily
from manybody.operators import of
from manybody.validation import check_int, check_real

__all__ = ["SYK", "syk_couplings"]


def syk_couplings(n_majoranas: int, J: float, seed: int) -> np.ndarray:
    """Couplings ``J_ijkl``, ``i < j < k < l``, in ``itertools.combinations`` order.

    ``J_ijkl = sqrt(3! J^2 / N^3) * z`` with ``z`` the standard normals drawn in
    one call ``numpy.random.default_rng(seed).standard_normal(C(N, 4))``.
    """
    sigma = math.sqrt(6.0 * J**2 / n_majoranas**3)
    return sigma * np.random.default_rng(seed).standard_normal(math.comb(n_majoranas, 4))


class SYK(Model):
    r"""The SYK model of ``N`` Majorana fermions with all-to-all quartic couplings.

    .. math::

        H = \sum_{i<j<k<l} J_{ijkl}\, \chi_i \chi_j \chi_k \chi_l, \qquad
        \{\chi_i, \chi_j\} = \delta_{ij}, \qquad
        \overline{J_{ijkl}^2} = \frac{3!\, J^2}{N^3}

    (Maldacena and Stanford, Phys. Rev. D 94, 106002 (2016); the large-N
    ground energy is about ``-0.04 J N``). In OpenFermion's normalisation
    ``{gamma_i, gamma_j} = 2 delta_ij``, ``chi = gamma / sqrt(2)``, so each
    term is ``J_ijkl / 4 * gamma_i gamma_j gamma_k gamma_l``. Majoranas ``2q``
    and ``2q + 1`` sit on qubit ``q`` (Jordan-Wigner, see
    :mod:`manybody.operators`): ``N / 2`` qubits.

    Each product of four distinct ``chi`` squares to ``1/16`` and distinct
    products are trace-orthogonal, so ``Tr(H^2) / 2^(N/2) = sum J_ijkl^2 / 16``.

    Parameters
    ----------
    n_majoranas : int
        ``N``, even and >= 4.
    J : float
        Coupling scale (>= 0).
    seed : int
        Seed of the couplings (see :func:`syk_couplings` for the drawing order).
    couplings : list of float, optional
        Explicit ``J_ijkl`` in ``itertools.combinations(range(N), 4)`` order;
        they take precedence over ``seed`` (``to_dict`` stores them, so a model
        rebuilt from its dict has exactly the same Hamiltonian).
    parity : 0, 1 or None
        Fermion-parity sector ``prod_q Z_q = (-1)^parity``; ``None`` for both.
    """

    name = "syk"

    def __init__(self, n_majoranas, J=1.0, seed=0, couplings=None, parity=0):
        n = check_int("n_majoranas", n_majoranas, minimum=4)
        if n % 2:
            raise ValueError(f"n_majoranas must be even (N Majoranas make N/2 qubits), got {n}")
        J = check_real("J", J, low=0.0)
        seed = check_int("seed", seed, minimum=0)
        if couplings is None:
            couplings = syk_couplings(n, J, seed)
        else:
            couplings = np.asarray(couplings, dtype=float)
            if couplings.shape != (math.comb(n, 4),) or not np.all(np.isfinite(couplings)):
                raise ValueError(
                    f"couplings must be {math.comb(n, 4)} finite numbers (one per i<j<k<l), "
                    f"got shape {couplings.shape}"
                )
        if parity not in (0, 1, None):
            raise ValueError(f"parity must be 0, 1 or None, got {parity!r}")
        self._set_params(n_majoranas=n, J=J, seed=seed, couplings=couplings, parity=parity)

    @property
    def n_qubits(self) -> int:
        return self.params["n_majoranas"] // 2

    @property
    def n_sites(self) -> int:
        """Energies per site are per Majorana, ``E / N``."""
        return self.params["n_majoranas"]

    @property
    def constraints(self) -> list:
        parity = self.params["parity"]
        if parity is None:
            return []
        return [ParityConstraint("fermion_parity", tuple(range(self.n_qubits)), parity)]

    def build_hamiltonian(self):
        MajoranaOperator = of().MajoranaOperator
        H = MajoranaOperator()
        quartets = itertools.combinations(range(self.params["n_majoranas"]), 4)
        for quartet, c in zip(quartets, self.params["couplings"]):
            H += MajoranaOperator(quartet, float(c) / 4)
        return H

    @observable("fermion_parity")
    def _parity(self):
        op = of().QubitOperator(tuple((q, "Z") for q in range(self.n_qubits)), 1.0)
        return Observable("fermion_parity", op, "<(-1)^F> = <prod_q Z_q>")

    @observable("occupations")
    def _occupations(self):
        FermionOperator = of().FermionOperator
        ops = tuple(FermionOperator(((q, 1), (q, 0))) for q in range(self.n_qubits))
        return ObservableFamily(
            "occupations",
            "mode",
            list(range(self.n_qubits)),
            ops,
            "<c^dag_q c_q>, c_q = (gamma_2q + i gamma_2q+1)/2",
        )
