"""Quickstart: one model, solved by every backend, read through one interface.

Run with ``python examples/quickstart.py`` (about a minute on a laptop CPU).
"""

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg

# H = J sum_<ij> S_i . S_j on an open 10-site chain, S = sigma/2, J = 1.
model = Heisenberg(Chain(10), J=1.0)

exact = mb.solve(model, backend="exact")
print(exact.summary())
print()
print(f"{'backend':>8} {'energy':>16} {'error':>9} {'rel. err':>9}  <S_0.S_1>")
for backend, options in [
    ("exact", {}),
]:
    res = exact if backend == "exact" else mb.solve(model, backend=backend, **options)
    nn = res.observables["spin_correlations"].mean[0]
    rel = abs(res.energy - exact.energy) / abs(exact.energy)
    print(f"{backend:>8} {res.energy:16.10f} {res.energy_error:9.2e} {rel:9.2e}  {nn:.6f}")
