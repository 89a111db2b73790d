"""VMC benchmark: seconds per SR iteration of the masked transformer against NetKet's ARNNDense and an
RBM + Metropolis on the same model and sample count, and the fixed cost of ``mb.solve``.

Figures (JSON, to compare across machines; runs unchanged on GPU):

* ``throughput``: per model (Heisenberg chains L=8, 20, 40 and the 4x4 torus) and network, seconds
  per ``VMC_SR`` iteration (sampling + local energies + SR/minSR update with the vmc backend's
  choices) and samples per second. The networks are measured interleaved, ``repeats`` times each,
  and the minimum is reported (the least disturbed by other load on the machine):

  - ``transformer``: the network ``mb.solve(backend="vmc")`` builds (default size, ``sign_rule="auto"``),
    with the backend's Hamiltonian (:class:`manybody.vmc.operators.PauliSum`: prefix-reusing local
    energies, network passes in ``LOCAL_DTYPE``), Jacobian mode and precision (``JACOBIAN_DTYPE``) and, on a sector smaller than the sample count (chain L=8: 70
    configurations), the step on the distinct samples (:class:`manybody.vmc.driver.SR`);
  - ``transformer_before``: the same network with NetKet's ``PauliStrings`` kernel (every connected
    configuration through the whole network) and NetKet's default (complex) Jacobian mode, i.e. the
    code path before prefix reuse and the real mode;
  - ``transformer_patch``: the ``transformer`` with tokens of ``--patch`` qubits (default 4: a
    token per row of the 4x4 torus), everything else the same;
  - ``netket_ARNNDense`` (2 layers, ``d_model`` features) and ``rbm_metropolis_exchange`` (alpha 2,
    complex parameters), with NetKet's ``PauliStrings`` and NetKet's Jacobian chunking (none).

  Wall seconds (minimum and median) and CPU seconds of this process (minimum) are recorded: on a
  shared machine the CPU time is the steadier measure of cost.

* ``startup``: ``mb.solve(Heisenberg(Chain(8)), backend="vmc", n_iter=5)`` (defaults, default
  observables) in a fresh process and again in the same process, without the opt-in persistent
  compilation cache (``default``, as users get it) and with it (``MANYBODY_COMPILATION_CACHE``),
  empty then filled: wall time, time from the call to the end of the first iteration, CPU
  seconds of the process over the same span, and time after the last iteration (final
  evaluation on ``n_eval_samples`` and observables). ``--startup-only`` re-measures these and
  replaces them in an existing ``--out`` file.

``--one-thread`` runs XLA's CPU backend on one thread (set before JAX is imported): on a loaded
machine the CPU seconds of its multi-threaded pool include the spinning of waiting threads, up
to 2x the work; on one thread they count the work of both codes alike.

Usage::

    python benchmarks/vmc_transformer.py --n-samples 512 --out benchmarks/results/vmc_transformer_cpu2.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

if "--one-thread" in sys.argv:  # before JAX reads XLA_FLAGS
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    )

import jax
import netket as nk
import numpy as np
import optax

from manybody.lattice import Chain, Square
from manybody.models import Heisenberg
from manybody.vmc import make_vstate, to_pauli_strings
from manybody.vmc.backend import device_name
from manybody.vmc.driver import JACOBIAN_DTYPE, sr_driver
from manybody.vmc.operators import LOCAL_DTYPE
from manybody.vmc.options import VMCOptions
from manybody.vmc.signs import sign_rule

MODELS = {
    "chain_L8": lambda: Heisenberg(Chain(8)),
    "chain_L20": lambda: Heisenberg(Chain(20)),
    "square_4x4": lambda: Heisenberg(Square(4, 4, pbc=True)),
    "chain_L40": lambda: Heisenberg(Chain(40)),
}

_STARTUP = """
import json, time
start_import = time.perf_counter()
import manybody as mb
from manybody.lattice import Chain
from manybody.models import Heisenberg
from manybody.vmc.driver import SR
imports = time.perf_counter() - start_import
marks = []
step = SR.compute_loss_and_update
def timed_step(self):
    out = step(self)
    marks.append((time.perf_counter(), time.process_time()))
    return out
SR.compute_loss_and_update = timed_step
out = []
for _ in range(2):
    marks.clear()
    start, cpu = time.perf_counter(), time.process_time()
    res = mb.solve(Heisenberg(Chain(8)), backend="vmc", n_iter=5, progress=False)
    end = time.perf_counter()
    out.append({"wall": end - start, "to_first_iteration": marks[0][0] - start,
                "to_first_iteration_cpu": marks[0][1] - cpu, "after_iterations": end - marks[-1][0]})
out[0]["imports"] = imports
print("RESULT" + json.dumps(out))
"""


def _networks(model, n_samples: int, seed: int = 0, sizes: dict | None = None, patch: int = 4) -> dict:
    """name -> (MCState, Hamiltonian, Jacobian mode, None for NetKet's choice, or "solve" for
    everything ``mb.solve`` chooses: Jacobian mode, chunks, distinct samples on small sectors)."""
    # the sizes mb.solve picks, unless given
    opts, _ = VMCOptions(n_samples=n_samples, **(sizes or {})).resolved(model.problem)
    rule = sign_rule(model.problem, opts.sign_rule)
    config = {
        "n_qubits": model.n_qubits,
        "d_model": opts.d_model,
        "n_heads": opts.n_heads,
        "n_layers": opts.n_layers,
        "sign_rule": None if rule is None else rule.to_dict(),
    }
    fast = to_pauli_strings(model.qubit_hamiltonian, model.n_qubits, local_dtype=LOCAL_DTYPE)
    plain = nk.operator.PauliStrings(fast.hilbert, fast.operators, fast.weights)
    hilbert = fast.hilbert
    graph = nk.graph.Graph(edges=[tuple(map(int, b)) for b in model.lattice.bonds(1)])
    return {
        "transformer": (make_vstate(model, config, n_samples, seed), fast, "solve"),
        "transformer_patch": (make_vstate(model, {**config, "patch": patch}, n_samples, seed), fast, "solve"),
        "transformer_before": (make_vstate(model, config, n_samples, seed), plain, "complex"),
        "netket_ARNNDense": (
            nk.vqs.MCState(
                nk.sampler.ARDirectSampler(hilbert),
                nk.models.ARNNDense(hilbert=hilbert, layers=2, features=opts.d_model),
                n_samples=n_samples,
                seed=seed,
            ),
            plain,
            None,
        ),
        "rbm_metropolis_exchange": (
            nk.vqs.MCState(
                nk.sampler.MetropolisExchange(hilbert, graph=graph, n_chains=16),
                nk.models.RBM(alpha=2, param_dtype=complex),
                n_samples=n_samples,
                n_discard_per_chain=16,
                seed=seed,
            ),
            plain,
            None,
        ),
    }


def _seconds(fn) -> tuple[float, float]:
    """Wall and CPU seconds (all threads of this process) of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    jax.block_until_ready(fn())
    return time.perf_counter() - wall, time.process_time() - cpu


def throughput(model, n_samples: int, repeats: int, networks=None, sizes=None, patch: int = 4) -> dict:
    steps, samplers, out = {}, {}, {}
    for name, (vs, hamiltonian, mode) in _networks(model, n_samples, sizes=sizes, patch=patch).items():
        if networks is not None and name not in networks:
            continue
        solve = mode == "solve"  # mb.solve's choices: distinct rows, Jacobian precision
        driver = sr_driver(
            vs,
            hamiltonian,
            optax.sgd(0.005),
            diag_shift=1e-2,
            sector_dimension=model.problem.sector_dimension() if solve else None,
            jacobian_dtype=JACOBIAN_DTYPE if solve else None,
        )
        if mode not in (None, "solve"):
            driver.mode = mode
        if not name.startswith("transformer"):
            driver.chunk_size_bwd = None  # NetKet's default for NetKet's networks

        def step(driver=driver):
            driver.reset_step()
            _, dp = driver.compute_loss_and_update()
            driver.update_parameters(dp)
            return dp

        samplers[name] = lambda vs=vs: (vs.reset(), vs.samples)[1]
        steps[name] = step
        compile_time = _seconds(samplers[name])[0] + _seconds(step)[0]
        out[name] = {
            "n_parameters": int(vs.n_parameters),
            "sr_mode": "minSR" if driver.use_ntk else "SR",
            "jacobian_mode": str(driver.mode),
            "ntk_on_the_fly": driver.on_the_fly,
            "jacobian_chunk_size": driver.chunk_size_bwd,
            "distinct_rows": driver.distinct,
            "network": {k: v for k, v in vs.model.__dict__.items() if isinstance(v, (int, float, str))},
            "first_iteration_seconds": compile_time,
            "iteration_seconds": [],
            "iteration_cpu_seconds": [],
            "sample_seconds": [],
        }
    for _ in range(repeats):  # interleaved, so that load changes hit every network alike
        for name in steps:
            out[name]["sample_seconds"].append(_seconds(samplers[name])[0])
            wall, cpu = _seconds(steps[name])
            out[name]["iteration_seconds"].append(wall)
            out[name]["iteration_cpu_seconds"].append(cpu)
    for name, entry in out.items():
        entry["seconds_per_iteration"] = min(entry["iteration_seconds"])
        entry["cpu_seconds_per_iteration"] = min(entry["iteration_cpu_seconds"])
        entry["median_seconds_per_iteration"] = float(np.median(entry["iteration_seconds"]))
        entry["samples_per_second"] = n_samples / min(entry["sample_seconds"])
        print(
            model.name, model.n_qubits, name, {k: v for k, v in entry.items() if "seconds" in k}, flush=True
        )
    return out


def startup(cache: str | None = None) -> list[dict]:
    """Two ``mb.solve`` calls in a fresh process, with the persistent compilation cache in the
    folder ``cache`` (None: without the cache, the default)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("JAX_COMPILATION_CACHE_DIR", "MANYBODY_COMPILATION_CACHE")
    }
    if cache is not None:
        env["MANYBODY_COMPILATION_CACHE"] = cache
    run = subprocess.run(
        [sys.executable, "-c", _STARTUP], env=env, capture_output=True, text=True, check=True
    )
    line = next(x for x in run.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def _startup(with_cache: bool) -> dict:
    """Fresh-process timings without the compilation cache and, if asked, with an empty then filled one."""
    out = {"load_average_start": _load(), "default": startup()}
    if with_cache:
        with tempfile.TemporaryDirectory() as cache:
            out.update(empty_cache=startup(cache), filled_cache=startup(cache))
    out["load_average_end"] = _load()
    print("startup", out, flush=True)
    return out


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--networks", nargs="+", default=None, help="a subset of the networks (default: all)")
    parser.add_argument("--no-startup", action="store_true", help="skip the fresh-process solve timings")
    parser.add_argument(
        "--empty-cache",
        action="store_true",
        help="also time fresh processes with an empty, then filled cache",
    )
    parser.add_argument(
        "--startup-only", action="store_true", help="only the start-up timings, replaced in an existing --out"
    )
    parser.add_argument(
        "--d-model",
        type=int,
        default=None,
        help="network width for every model (default: 'auto'; also ARNNDense features)",
    )
    parser.add_argument("--n-heads", type=int, default=None, help="attention heads with --d-model")
    parser.add_argument("--patch", type=int, default=4, help="qubits per token of transformer_patch")
    parser.add_argument("--one-thread", action="store_true", help="XLA on one CPU thread (see above)")
    parser.add_argument("--out", default="vmc_transformer.json")
    args = parser.parse_args(argv)
    sizes = {k: v for k, v in (("d_model", args.d_model), ("n_heads", args.n_heads)) if v is not None}
    if args.startup_only:
        report = json.load(open(args.out)) if os.path.exists(args.out) else {}
        report["startup"] = _startup(args.empty_cache)
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
        print(f"wrote {args.out}")
        return
    report = {
        "device": device_name(),
        "jax_devices": [str(d) for d in jax.devices()],
        "versions": {"netket": nk.__version__, "jax": jax.__version__},
        "n_samples": args.n_samples,
        "one_thread": args.one_thread,
        "sizes": sizes or "auto",
        "patch": args.patch,
        "repeats": args.repeats,
        "load_average_start": _load(),
        "models": {},
    }
    for name in args.models:
        load = _load()
        report["models"][name] = {
            "throughput": throughput(
                MODELS[name](), args.n_samples, args.repeats, args.networks, sizes, args.patch
            ),
            "load_average": [load, _load()],
        }
    if not args.no_startup:
        report["startup"] = _startup(args.empty_cache)
    report["load_average_end"] = _load()
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1, default=lambda x: float(np.asarray(x)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
