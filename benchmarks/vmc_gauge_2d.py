"""VMC on 2D lattice gauge theories with 40 links against converged DMRG, Gauss's law exactly kept.

The gauge-invariant autoregressive transformer (Luo et al., Phys. Rev. Research 5, 013216 (2023)):
the vmc backend samples the links in ``model.qubit_order`` with every conditional masked by the
Gauss-law automaton (:mod:`manybody.vmc.masking`), so every sample is physical and the Gauss-law
violation is exactly 0. Cases (open 5x5 lattices of vertices: 40 links, beyond exact
diagonalisation of the full 2^40 space; open boundaries have no winding sectors, which DMRG would
not target):

* ``z2_5x5``: :class:`~manybody.models.Z2Gauge` (toric code in a field) at ``J = 1, h = 0.5``,
  on the confined side of the transition at ``h / J ~ 0.33`` (3D Ising point of the dual
  transverse-field Ising model);
* ``qlm_5x5``: :class:`~manybody.models.QuantumLink2D` (U(1) spin-1/2 links) at ``J = 1,
  lam = 0``; the boundary vertices with three links need half-integer background charges
  (``+-1/2``, alternating around the boundary; 0 elsewhere).

For every case, in one process: the dmrg backend (``--dmrg`` bond dimensions, one BLAS thread;
the Gauss laws kept by an in-sector start and the penalty), then the same run with the largest
bond dimension dropped (its distance to the first measures DMRG's convergence), then the vmc backend with the
options given (``--vmc``; none: the defaults, whose resolved sizes are recorded). The reference
of the relative errors is the first DMRG energy. Rows record CPU and wall seconds, the load
average, the DMRG variance and discarded weight and the ``gauss_violation`` observable
(``sum_v <(G_v - g_v)^2>``) of both backends. Output: one JSON row per solve appended to
``--out`` (``benchmarks/vmc_2d.py`` writes the rows).

Usage::

    python benchmarks/vmc_gauge_2d.py --cases z2_5x5 --out results/vmc_gauge_2d_cpu2.json
"""

from __future__ import annotations

import argparse
import json

from vmc_2d import append_rows, solve_row

from manybody.models import QuantumLink2D, Z2Gauge
from manybody.provenance import git_commit, git_dirty


def boundary_charges(L: int) -> list[float]:
    """Background charges of the open ``L x L`` quantum link model: ``+1/2, -1/2, ...`` on the
    three-link boundary vertices in the order of a walk around the boundary (an even number,
    4 (L - 2), so they sum to zero), 0 on the corners and inside. Vertex ``x + L y``."""
    walk = (
        [(x, 0) for x in range(L)]
        + [(L - 1, y) for y in range(1, L)]
        + [(x, L - 1) for x in range(L - 2, -1, -1)]
        + [(0, y) for y in range(L - 2, 0, -1)]
    )
    edge = [x + L * y for x, y in walk if (x in (0, L - 1)) != (y in (0, L - 1))]
    charges = [0.0] * (L * L)
    for k, v in enumerate(edge):
        charges[v] = 0.5 if k % 2 == 0 else -0.5
    return charges


CASES = {
    "z2_5x5": lambda: Z2Gauge(5, 5, J=1.0, h=0.5, pbc=False),
    "qlm_5x5": lambda: QuantumLink2D(5, 5, J=1.0, lam=0.0, pbc=False, charges=boundary_charges(5)),
}

OBSERVABLES = ("gauss_violation",)


def run(case: str, vmc_options: dict, bond_dims: list[int], seed: int) -> list[dict]:
    model = CASES[case]()
    dmrg = dict(bond_dims=bond_dims, seed=seed, blas_threads=1, progress=False)
    res, row = solve_row(case, model, "dmrg", dmrg, float("nan"), OBSERVABLES)
    reference = res.energy
    row.update(
        reference=reference, relative_error=0.0, energy_per_sweep=[float(e) for e in res.history["energy"]]
    )
    rows = [row]
    smaller = dict(dmrg, bond_dims=bond_dims[:-1])
    rows.append(solve_row(case, model, "dmrg", smaller, reference, OBSERVABLES)[1])
    vmc = dict(seed=seed, progress=False, **vmc_options)
    rows.append(solve_row(case, model, "vmc", vmc, reference, OBSERVABLES)[1])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--vmc", default="{}", help="vmc options as JSON (default: the defaults)")
    parser.add_argument("--dmrg", type=int, nargs="+", default=[16, 32, 64, 128, 256], help="dmrg bond_dims")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file to append to (under benchmarks/ if relative)")
    args = parser.parse_args()
    provenance = dict(commit=git_commit(), dirty=git_dirty())  # of the code this process runs
    for case in args.cases:
        rows = run(case, json.loads(args.vmc), args.dmrg, args.seed)
        if args.out:
            append_rows(args.out, rows, provenance)


if __name__ == "__main__":
    main()
