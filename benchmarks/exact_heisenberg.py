"""Exact diagonalisation speed: manybody's exact backend vs NetKet's sparse ED.

Both build the periodic Heisenberg chain in the S^z = 0 sector and find the
ground state with ARPACK (``scipy.sparse.linalg.eigsh``), so the comparison is
of the sector construction and matrix assembly. Run::

    python benchmarks/exact_heisenberg.py [--sizes 16 20 24] [--json out.json]

Not a test: figures depend on the machine. Energies of both codes are checked
against each other to 1e-9.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import scipy.sparse.linalg as spla


def manybody_ed(L: int) -> tuple[float, float]:
    import manybody as mb
    from manybody.lattice import Chain
    from manybody.models import Heisenberg

    mb.get_backend("exact")  # imports outside the timed region
    start = time.perf_counter()
    res = mb.solve(Heisenberg(Chain(L, pbc=True)), backend="exact", observables=[])
    return res.energy, time.perf_counter() - start


def netket_ed(L: int) -> tuple[float, float]:
    import netket as nk  # imported outside the timed region

    start = time.perf_counter()
    graph = nk.graph.Chain(L, pbc=True)
    hilbert = nk.hilbert.Spin(0.5, N=L, total_sz=0)
    # NetKet's Heisenberg uses Pauli matrices: divide by 4 for S = sigma/2.
    H = nk.operator.Heisenberg(hilbert, graph).to_sparse() / 4
    v0 = np.random.default_rng(0).standard_normal(H.shape[0])
    e = spla.eigsh(H, k=1, which="SA", v0=v0, return_eigenvectors=False)[0]
    return float(e), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 20, 24])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    rows = []
    for L in args.sizes:
        e_mb, t_mb = manybody_ed(L)
        e_nk, t_nk = netket_ed(L)
        assert abs(e_mb - e_nk) < 1e-9, (e_mb, e_nk)
        rows.append({"L": L, "energy": e_mb, "manybody_s": t_mb, "netket_s": t_nk, "ratio": t_mb / t_nk})
        print(
            f"L={L:3d}  E={e_mb:.12f}  manybody {t_mb:7.2f} s  netket {t_nk:7.2f} s  ratio {t_mb / t_nk:5.2f}"
        )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    print(f"peak memory {rss:.2f} GB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "peak_rss_gb": rss}, f, indent=1)


if __name__ == "__main__":
    main()
