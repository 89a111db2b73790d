"""Quickstart: one model, solved by every backend, read through one interface.

Run with ``python examples/quickstart.py`` (a few minutes on a laptop CPU,
most of it the VMC training and its JIT compilation).
"""

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg

# H = J sum_<ij> S_i . S_j on an open 8-site chain, S = sigma/2, J = 1 (antiferromagnet).
model = Heisenberg(Chain(8), J=1.0)

runs = {
    "exact": {},
    "dmrg": {"bond_dims": [16, 32], "progress": False},
    "vmc": {"n_iter": 150, "seed": 0, "progress": False},
    "vqe": {"ansatz": "hva", "estimator": "statevector", "seed": 0},
}
results = {name: mb.solve(model, backend=name, **options) for name, options in runs.items()}

print(results["exact"].summary())
print()
e0 = results["exact"].energy
print(f"{'backend':>8} {'energy':>15} {'std. error':>10} {'rel. error':>10} {'V-score':>9}  <S_0.S_1>")
for name, res in results.items():
    nn = res.observables["spin_correlations"]
    v = f"{res.v_score:9.1e}" if res.v_score is not None else f"{'-':>9}"
    print(
        f"{name:>8} {res.energy:15.10f} {res.energy_error:10.1e} {abs(res.energy - e0) / abs(e0):10.1e} {v}"
        f"  {nn.mean[0]:.5f} +/- {nn.error[0]:.1e}"
    )
