"""Quickstart: one model, solved by every backend, read through one interface.

Run with ``python examples/quickstart.py``. It prints one line per backend as
it finishes, then a table. Sizes are chosen so that the whole script takes
well under a minute on two idle CPU cores (see the README for the measured
time); most of the VMC time is the import and JIT compilation of JAX/NetKet,
and its 60 iterations of a small one-layer network reach a relative error
of a few 1e-4 (the defaults, 200 iterations of a two-layer network, go
further and take longer).
"""

import time

import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg

# H = J sum_<ij> S_i . S_j on an open 8-site chain, S = sigma/2, J = 1 (antiferromagnet).
model = Heisenberg(Chain(8), J=1.0)

runs = {
    "exact": {},
    "dmrg": {"bond_dims": [16, 32], "progress": False},
    "vqe": {"ansatz": "hva", "estimator": "statevector", "seed": 0},
    "vmc": {
        "n_iter": 60,
        "n_samples": 256,
        "n_eval_samples": 2048,
        "d_model": 8,
        "n_layers": 1,
        "seed": 0,
        "progress": False,
    },
}
start = time.perf_counter()
results = {}
for name, options in runs.items():
    t0 = time.perf_counter()
    print(f"{name:>5}: solving ...", end="", flush=True)
    results[name] = mb.solve(model, backend=name, **options)
    print(f" E = {results[name].energy:.8f} in {time.perf_counter() - t0:.1f} s", flush=True)

print()
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
print(f"\ntotal {time.perf_counter() - start:.0f} s")
