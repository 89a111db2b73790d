"""VMC benchmark: the masked transformer (with and without KV cache) against NetKet's ARNNDense and an
RBM + Metropolis, on the same model and sample count; then accuracy in a fixed wall-clock budget.

Figures (JSON, to compare across machines; runs unchanged on GPU):

* ``throughput``: per network, samples per second (``MCState.sample`` after compilation) and
  seconds per ``VMC_SR`` iteration (sampling + local energies + SR update, with the vmc
  backend's SR/minSR choice for every network), for the Heisenberg chain L=20 and the 4x4
  periodic square lattice;
* ``accuracy``: ``manybody.solve(backend="vmc")`` with as many iterations as fit the budget
  (estimated from the measured s/iteration), relative error against the reference energies.

Usage::

    python benchmarks/vmc_transformer.py --budget 120 --n-samples 512 --out vmc_bench.json
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import netket as nk
import numpy as np
import optax

import manybody as mb
from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.vmc import make_vstate, to_pauli_strings
from manybody.vmc.backend import VMCOptions, device_name
from manybody.vmc.driver import sr_driver

MODELS = {
    "chain_L20": lambda: Heisenberg(Chain(20)),
    "square_4x4": lambda: Heisenberg(Square(4, 4, pbc=True)),
}


def _timed(fn, repeats: int) -> float:
    jax.block_until_ready(fn())  # compile
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / repeats


def _vstates(model, n_samples: int, opts: VMCOptions, seed: int = 0) -> dict:
    config = {
        "n_qubits": model.n_qubits,
        "d_model": opts.d_model,
        "n_heads": opts.n_heads,
        "n_layers": opts.n_layers,
    }
    hilbert = nk.hilbert.Qubit(model.n_qubits)
    out = {
        "transformer_kv_cache": make_vstate(model, {**config, "use_cache": True}, n_samples, seed),
        "transformer_no_cache": make_vstate(model, {**config, "use_cache": False}, n_samples, seed),
        "netket_ARNNDense": nk.vqs.MCState(
            nk.sampler.ARDirectSampler(hilbert),
            nk.models.ARNNDense(hilbert=hilbert, layers=2, features=opts.d_model),
            n_samples=n_samples,
            seed=seed,
        ),
    }
    graph = nk.graph.Graph(edges=[tuple(map(int, b)) for b in model.lattice.bonds(1)])
    sampler = nk.sampler.MetropolisExchange(hilbert, graph=graph, n_chains=16)
    out["rbm_metropolis_exchange"] = nk.vqs.MCState(
        sampler,
        nk.models.RBM(alpha=2, param_dtype=complex),
        n_samples=n_samples,
        n_discard_per_chain=16,
        seed=seed,
    )
    return out


def throughput(model, n_samples: int, repeats: int) -> dict:
    opts = VMCOptions()
    hamiltonian = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits)
    out = {}
    for name, vs in _vstates(model, n_samples, opts).items():
        t_sample = _timed(lambda vs=vs: (vs.reset(), vs.samples)[1], repeats)
        driver = sr_driver(vs, hamiltonian, optax.sgd(0.005), diag_shift=1e-2)

        def step(driver=driver):
            driver.reset_step()
            stats, dp = driver.compute_loss_and_update()
            driver.update_parameters(dp)
            return dp

        out[name] = {
            "n_parameters": int(vs.n_parameters),
            "samples_per_second": n_samples / t_sample,
            "seconds_per_iteration": _timed(step, repeats),
            "sr_mode": "minSR" if driver.use_ntk else "SR",
            "ntk_on_the_fly": driver.on_the_fly,
        }
        print(name, out[name], flush=True)
    return out


def accuracy(model, n_samples: int, budget: float, seconds_per_iteration: float) -> dict:
    n_iter = max(1, int(budget / seconds_per_iteration))
    start = time.perf_counter()
    res = mb.solve(
        model, backend="vmc", n_iter=n_iter, n_samples=n_samples, progress=False, observables=[], seed=0
    )
    return {
        "n_iter": n_iter,
        "wall_time": time.perf_counter() - start,
        "energy": res.energy,
        "energy_error": res.energy_error,
        "reference_energy": res.reference_energy,
        "relative_error": res.relative_error,
        "v_score": res.v_score,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds per accuracy run")
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--out", default="vmc_transformer.json")
    args = parser.parse_args(argv)
    report = {
        "device": device_name(),
        "jax_devices": [str(d) for d in jax.devices()],
        "versions": {"netket": nk.__version__, "jax": jax.__version__},
        "n_samples": args.n_samples,
        "budget_seconds": args.budget,
        "models": {},
    }
    for name in args.models:
        model = MODELS[name]()
        entry = {"throughput": throughput(model, args.n_samples, args.repeats)}
        spi = entry["throughput"]["transformer_kv_cache"]["seconds_per_iteration"]
        entry["accuracy"] = accuracy(model, args.n_samples, args.budget, spi)
        print(name, entry["accuracy"], flush=True)
        report["models"][name] = entry
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, default=lambda x: float(np.asarray(x)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
