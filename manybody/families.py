"""Observable families shared by models: correlations against distance and
structure factors against momentum, built from a two-site operator.

``pair_op(i, j)`` returns the OpenFermion operator ``A_i B_j`` for sites
``i`` and ``j`` (e.g. ``S_i . S_j``); it must be symmetric in ``i, j`` for
the structure factor to be Hermitian.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from manybody.observables import ObservableFamily

__all__ = ["correlation_vs_distance", "structure_factor"]


def correlation_vs_distance(name, lattice, pair_op, description=""):
    """``C(r) = mean over pairs i < j at distance r of <A_i B_j>``.

    Distances are Euclidean (minimum image on periodic directions), rounded to
    1e-6. On open chains every pair at distance ``r`` is averaged, boundary
    pairs included.
    """
    dist = np.round(lattice.distances(), 6)
    groups: dict[float, list] = defaultdict(list)
    n = lattice.n_sites
    for i in range(n):
        for j in range(i + 1, n):
            groups[float(dist[i, j])].append((i, j))
    rs = sorted(groups)
    ops = []
    for r in rs:
        pairs = groups[r]
        op = sum((pair_op(i, j) for i, j in pairs[1:]), pair_op(*pairs[0]))
        ops.append(op * (1.0 / len(pairs)))
    return ObservableFamily(name, "r", np.array(rs), tuple(ops), description)


def structure_factor(name, lattice, pair_op, description=""):
    """``S(q) = (1/N) sum_{i,j} cos(q . (r_i - r_j)) <A_i B_j>`` on ``lattice.momenta()``.

    The diagonal ``i = j`` is included. Real positions are used (not the
    minimum image), so ``S(q)`` is the Fourier transform of the finite cluster.
    """
    n = lattice.n_sites
    coords = lattice.coords
    qs = lattice.momenta()
    pairs = {(i, j): pair_op(i, j) for i in range(n) for j in range(i, n)}
    ops = []
    for q in qs:
        phase = coords @ q
        op = None
        for (i, j), pij in pairs.items():
            w = (1.0 if i == j else 2.0) * np.cos(phase[i] - phase[j]) / n
            if abs(w) > 1e-14:
                op = pij * w if op is None else op + pij * w
        ops.append(op if op is not None else pairs[(0, 0)] * 0.0)
    return ObservableFamily(name, "q", qs, tuple(ops), description)
