"""The J1-J2 4x4 torus at J2 = 0.5: is the sign or the modulus what limits vmc?

Everything is summed exactly over the S^z = 0 sector (12870 configurations) against the exact
ground state ``psi0`` (``manybody.exact``):

* ``marshall``: the weight ``sum |psi0|^2`` of the configurations where Marshall's sign is wrong,
  the energy of ``|psi0|`` times Marshall's sign, and of the best modulus for Marshall's sign
  (L-BFGS on ``log |psi|`` over the whole sector from ``|psi0|``, exact energy and gradient: an
  upper bound of what a perfect modulus can do with this sign; ``|psi0|`` is not that modulus),
  and the energy of ``|psi0|`` times the sign of one power-method step ``-sign(H psi)`` from it;
* ``capacity``: the best energy of ``|psi0| exp(i theta)`` with ``theta`` a learned phase family
  (the ``phase`` of :class:`manybody.vmc.phase.JastrowPhaseAR` / ``LocalPhaseAR``), minimised on
  the exact energy (L-BFGS, exact gradient) from the declared Marshall structure plus noise and
  from random starts: what each ``sign_rule`` could reach with a perfect modulus and optimiser;
* ``modulus``: the capacity of the transformer's modulus: maximum likelihood on exact samples of
  ``|psi0|^2`` (Adam, batches of 1024, cosine step from 3e-3), then the energy of its modulus
  with the exact sign and with Marshall's, and the fidelity of the moduli;
* ``warm_sign``: vmc with ``sign_rule="local"`` warm-started (``warm_start``, a prepared state
  folder) from a fresh transformer (phase head zero) whose local phase tables are the ``capacity``
  optimum from Marshall (2.8e-3 on ``|psi0|``): does a good sign let SR train a good modulus?
* ``vmc``: ``mb.solve(model, backend="vmc", sign_rule=...)`` (defaults otherwise), and the trained
  network split into its modulus and its phase: the energy of the network, of its modulus with the
  exact sign, of the exact modulus with its phase, of its modulus with Marshall's sign, and the
  fidelity with ``psi0``.
* ``lanczos``: one Lanczos step (:func:`manybody.vmc.lanczos.lanczos_step`) on saved vmc Results
  (``--results``; ``--keep`` saves those of the ``vmc`` part): the estimate on the network's exact
  samples against the energy of ``psi + alpha H psi`` summed over the sector at the estimated
  ``alpha``, and the best step from the exact moments.

Relative errors against ``E0``; CPU seconds of this process and the load average next to them.
Output: JSON (``--out``; rows of the same part, rule and seed are replaced) and lines on stdout.

Usage::

    python benchmarks/vmc_j1j2.py --parts marshall capacity --out results/vmc_j1j2_cpu2.json
    python benchmarks/vmc_j1j2.py --parts vmc --rules auto local --out results/vmc_j1j2_cpu2.json
    python benchmarks/vmc_j1j2.py --parts modulus --vmc '{"d_model": 32, "n_heads": 4}' --out results/vmc_j1j2_cpu2.json
    python benchmarks/vmc_j1j2.py --parts vmc --rules auto --vmc '{"symmetry": "rotation+spin_flip"}' --keep /tmp/keep
    python benchmarks/vmc_j1j2.py --parts lanczos --results /tmp/keep/auto_seed0 --out results/vmc_j1j2_cpu2.json
    python benchmarks/vmc_j1j2.py --parts warm_sign --vmc '{"n_iter": 400}' --out results/vmc_j1j2_cpu2.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import scipy.optimize
import scipy.sparse.linalg

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Square
from manybody.models import Heisenberg
from manybody.provenance import git_commit, git_dirty


def exact_ground_state(model):
    """``(H, bits, psi0, E0)`` on the constrained sector: bits (N, n) with qubit q in column q."""
    h, basis = sector_hamiltonian(model)
    energies, vectors = scipy.sparse.linalg.eigsh(h, k=1, which="SA", tol=1e-12)
    return h, basis.bits(), vectors[:, 0], float(energies[0])


def energy(h, z) -> float:
    return float(np.real(np.vdot(z, h @ z)) / np.vdot(z, z).real)


def best_modulus(h, sign, start, max_iter: int = 3000) -> np.ndarray:
    """The modulus ``exp(u)`` minimising the energy of ``exp(u) sign`` (L-BFGS from ``start``), normalised."""

    def fun(u):
        z = np.exp(u) * sign
        hz, norm = h @ z, z @ z
        e = z @ hz / norm
        return e, 2 * (hz - e * z) * z / norm

    res = scipy.optimize.minimize(
        fun, np.log(start), jac=True, method="L-BFGS-B", options={"maxiter": max_iter}
    )
    z = np.exp(res.x)
    return z / np.linalg.norm(z)


def marshall_part(model, h, bits, psi0, e0) -> dict:
    marshall = model.problem.sign_structure("marshall").sign(bits)
    psi0 = psi0 * np.sign(np.sum(psi0 * marshall))
    wrong = np.sign(psi0) != marshall
    cpu = time.process_time()
    adapted = best_modulus(h, marshall, np.abs(psi0))
    cpu = time.process_time() - cpu
    step_sign = -np.sign(h @ (adapted * marshall))

    def rel(z):
        return (energy(h, z) - e0) / abs(e0)

    return {
        "best_modulus_marshall_relative_error": rel(adapted * marshall),
        "best_modulus_marshall_fidelity": float((adapted @ np.abs(psi0)) ** 2),
        "best_modulus_marshall_cpu_seconds": cpu,
        "best_modulus_exact_sign_relative_error": rel(adapted * np.sign(psi0)),
        "exact_modulus_power_step_sign_relative_error": rel(np.abs(psi0) * step_sign),
        "load_average": os.getloadavg()[0],
        "wrong_sign_weight": float(np.sum(psi0[wrong] ** 2)),
        "wrong_sign_configurations": int(wrong.sum()),
        "sector_dimension": len(psi0),
        "exact_modulus_marshall_relative_error": (energy(h, np.abs(psi0) * marshall) - e0) / abs(e0),
        "exact_modulus_no_sign_relative_error": (energy(h, np.abs(psi0)) - e0) / abs(e0),
    }


def phase_family(model, rule: str):
    """``(theta(params, bits), initial params)`` of the learned phase ``rule`` started at Marshall."""
    import jax.numpy as jnp

    from manybody.vmc.backend import build_network

    problem = model.problem
    marshall = problem.sign_structure("marshall")
    config = {"d_model": 8, "n_heads": 2, "n_layers": 1, "n_qubits": model.n_qubits}
    net = build_network(model, {**config, "sign_rule": marshall.to_dict(), "phase": rule})
    bits0 = jnp.zeros((1, model.n_qubits), dtype=jnp.int32)
    params = net.clone(init_scale=0.0).init(__import__("jax").random.PRNGKey(0), bits0)["params"]
    start = {k: v for k, v in params.items() if k.startswith("phase_")}

    def theta(p, bits):
        return net.apply({"params": {**params, **p}}, bits, method=lambda m, b: m._phase(b))

    return theta, start


def best_phase(model, h, bits, psi0, rule: str, seed: int, from_marshall: bool, scale: float, max_iter: int):
    """L-BFGS minimum of the exact energy of ``|psi0| exp(i theta)`` over the phase family ``rule``
    from Marshall (or zero) plus noise of std ``scale``: ``(scipy result, unravel to phase params)``."""
    import jax
    import jax.numpy as jnp
    from jax.flatten_util import ravel_pytree

    theta, start = phase_family(model, rule)
    modulus = np.abs(psi0)
    b = jnp.asarray(bits, dtype=jnp.int32)
    flat0, unravel = ravel_pytree(start)
    f = jax.jit(lambda x, bits: theta(unravel(x), bits))

    def fun(x):
        th, vjp = jax.vjp(lambda y: f(y, b), jnp.asarray(x))
        z = modulus * np.exp(1j * np.asarray(th))
        hz = h @ z
        grad_theta = 2 * np.imag(np.conj(z) * hz)  # d<z|H|z>/d theta_k at |z_k| fixed
        return float(np.real(np.vdot(z, hz))), np.asarray(vjp(jnp.asarray(grad_theta))[0])

    rng = np.random.default_rng(seed)
    x0 = (np.asarray(flat0) if from_marshall else 0.0) + scale * rng.standard_normal(flat0.size)
    res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    return res, unravel


def capacity_part(model, h, bits, psi0, e0, rule: str, starts: dict, max_iter: int) -> list[dict]:
    """Minimise the exact energy of ``|psi0| exp(i theta)`` over the phase family ``rule``."""
    rows = []
    for label, (seed, from_marshall, scale) in starts.items():
        cpu = time.process_time()
        res, _ = best_phase(model, h, bits, psi0, rule, seed, from_marshall, scale, max_iter)
        row = {
            "part": "capacity",
            "sign_rule": rule,
            "start": label,
            "seed": seed,
            "n_parameters": int(res.x.size),
            "relative_error": (res.fun - e0) / abs(e0),
            "iterations": int(res.nit),
            "cpu_seconds": time.process_time() - cpu,
            "load_average": os.getloadavg()[0],
        }
        print(
            f"capacity {rule:8s} {label:22s} rel {row['relative_error']:.3e}  ({row['n_parameters']} "
            f"parameters, {res.nit} L-BFGS it., {row['cpu_seconds']:.0f} s CPU)",
            flush=True,
        )
        rows.append(row)
    return rows


def network_vector(model, state, bits) -> np.ndarray:
    """The trained network's amplitudes on ``bits`` (scaled to a largest modulus of 1)."""
    import jax.numpy as jnp

    from manybody.vmc.backend import make_vstate

    vs = make_vstate(model, state.config, 32, 0, params=state.params)
    log_psi = np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32)))
    return np.exp(log_psi - log_psi.real.max())


def lanczos_part(model, h, bits, psi0, e0, folder: Path, n_samples: int | None) -> dict:
    """One Lanczos step on a saved vmc Result: the estimate of ``lanczos_step`` (on exact samples)
    against the energy of ``psi + alpha H psi`` summed over the sector at the estimated alpha, and
    the best step from the exact moments."""
    from manybody.vmc.lanczos import _krylov, lanczos_step

    res = mb.Result.load(folder)
    load, cpu = os.getloadavg()[0], time.process_time()
    step = lanczos_step(res, n_samples)
    cpu = time.process_time() - cpu
    psi = network_vector(model, res.state, bits)
    psi /= np.linalg.norm(psi)
    hpsi = h @ psi
    h2psi = h @ hpsi
    moments = np.real([np.vdot(psi, hpsi), np.vdot(hpsi, hpsi), np.vdot(hpsi, h2psi), np.vdot(h2psi, h2psi)])
    best = float(_krylov(moments)[0])

    def rel(x):
        return (x - e0) / abs(e0)

    row = {
        "part": "lanczos",
        "result": folder.name,
        "options": {k: res.options.get(k) for k in ("symmetry", "n_samples", "n_iter", "sign_rule")},
        "resolved": res.info.get("resolved"),
        "lanczos_samples": n_samples,
        "seed": res.seed,
        "step": step.to_dict(),
        "estimate_relative_error": rel(step.energy),
        "estimate_error_relative": step.energy_error / abs(e0),
        "summed_network": rel(moments[0]),
        "summed_at_estimated_alpha": rel(energy(h, psi + step.alpha * hpsi)),
        "summed_best_step": rel(best),
        "cpu_seconds": cpu,
        "load_average": [load, os.getloadavg()[0]],
    }
    print(
        f"lanczos {folder.name}: network {row['summed_network']:.2e} -> step estimate "
        f"{row['estimate_relative_error']:.2e} +- {row['estimate_error_relative']:.1e} (summed at its alpha "
        f"{row['summed_at_estimated_alpha']:.2e}, best {row['summed_best_step']:.2e}), "
        f"{step.n_samples} samples, {step.n_connected} configurations, {cpu:.0f} s CPU, load {load:.1f}",
        flush=True,
    )
    return row


def decomposition(model, state, h, bits, psi0, e0) -> dict:
    """The trained network's energy split into modulus and phase, all summed over the sector."""
    psi = network_vector(model, state, bits)
    modulus, phase = np.abs(psi), np.exp(1j * np.angle(psi))
    marshall = model.problem.sign_structure("marshall").sign(bits)

    def rel(z):
        return (energy(h, z) - e0) / abs(e0)

    return {
        "network": rel(psi),
        "network_modulus_exact_sign": rel(modulus * np.sign(psi0)),
        "exact_modulus_network_phase": rel(np.abs(psi0) * phase),
        "network_modulus_marshall": rel(modulus * marshall),
        "fidelity": float(abs(np.vdot(psi0, psi)) ** 2 / np.vdot(psi, psi).real),
    }


def modulus_part(model, h, bits, psi0, e0, options: dict, steps: int, seed: int) -> dict:
    """Fit the transformer's ``|psi|^2`` to ``|psi0|^2`` by maximum likelihood on exact samples."""
    import jax
    import jax.numpy as jnp
    import netket as nk
    import optax

    from manybody.vmc.backend import build_network, initial_variables

    config = {"n_qubits": model.n_qubits, "n_layers": 2, **options, "sign_rule": None, "phase": None}
    net = build_network(model, config)
    params = initial_variables(net, seed, nk.sampler.ARDirectSampler(net.hilbert).dtype)["params"]
    opt = optax.adam(optax.cosine_decay_schedule(3e-3, steps, 0.03))
    state = opt.init(params)

    @jax.jit
    def step(p, s, batch):
        loss, grad = jax.value_and_grad(lambda q: -jnp.mean(2 * net.apply({"params": q}, batch).real))(p)
        updates, s = opt.update(grad, s, p)
        return optax.apply_updates(p, updates), s

    rng = np.random.default_rng(seed)
    weight = np.abs(psi0) ** 2 / np.sum(np.abs(psi0) ** 2)
    load, cpu = os.getloadavg()[0], time.process_time()
    for _ in range(steps):
        params, state = step(params, state, bits[rng.choice(len(bits), size=1024, p=weight)])
    cpu = time.process_time() - cpu
    modulus = np.exp(np.asarray(net.apply({"params": params}, jnp.asarray(bits))).real)
    marshall = model.problem.sign_structure("marshall").sign(bits)
    nonzero = weight > 0
    row = {
        "part": "modulus",
        "options": options,
        "seed": seed,
        "steps": steps,
        "kl": float(np.sum(weight[nonzero] * np.log(weight[nonzero] / modulus[nonzero] ** 2))),
        "modulus_exact_sign_relative_error": (energy(h, modulus * np.sign(psi0)) - e0) / abs(e0),
        "modulus_marshall_relative_error": (energy(h, modulus * marshall) - e0) / abs(e0),
        "modulus_fidelity": float((modulus @ np.abs(psi0)) ** 2 / (modulus @ modulus)),
        "cpu_seconds": cpu,
        "load_average": [load, os.getloadavg()[0]],
    }
    print(json.dumps(row), flush=True)
    return row


def warm_sign_state(model, h, bits, psi0, e0, seed: int, options: dict, max_iter: int, folder: Path) -> float:
    """Write to ``folder/state`` a fresh network (``sign_rule="local"`` from Marshall, sizes of
    ``options``, phase head zero) with the capacity optimum of the local tables; return the
    relative error of ``|psi0|`` times that phase."""
    import flax.serialization
    import jax
    import netket as nk

    from manybody.vmc.backend import build_network, initial_variables

    res, unravel = best_phase(
        model, h, bits, psi0, "local", 0, True, CAPACITY_STARTS["marshall+noise 0.03"][2], max_iter
    )
    marshall = model.problem.sign_structure("marshall")
    config = {
        "n_qubits": model.n_qubits,
        "d_model": options["d_model"],
        "n_heads": options["n_heads"],
        "n_layers": options["n_layers"],
        "dtype": "float64",
        "sign_rule": marshall.to_dict(),
        "phase": "local",
    }
    net = build_network(model, config)
    params = initial_variables(net, seed, nk.sampler.ARDirectSampler(net.hilbert).dtype)["params"]
    params = flax.serialization.to_state_dict(params)
    params.update(unravel(res.x))
    head = params["amplitude"]["phase_head"]
    params["amplitude"]["phase_head"] = jax.tree_util.tree_map(np.zeros_like, head)
    (folder / "state").mkdir(parents=True, exist_ok=True)
    (folder / "state" / "network.json").write_text(json.dumps(config))
    (folder / "state" / "params.msgpack").write_bytes(flax.serialization.msgpack_serialize(params))
    return (res.fun - e0) / abs(e0)


def vmc_part(
    model, h, bits, psi0, e0, rule: str, seed: int, options: dict, warm_start=None, keep=None
) -> dict:
    load, cpu, wall = os.getloadavg()[0], time.process_time(), time.perf_counter()
    extra = {} if warm_start is None else {"warm_start": str(warm_start)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mb.solve(
            model,
            backend="vmc",
            sign_rule=rule,
            seed=seed,
            progress=False,
            observables=[],
            **options,
            **extra,
        )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if keep is not None:
        res.save(Path(keep) / f"{rule}_seed{seed}")
    row = {
        "part": "vmc" if warm_start is None else "warm_sign",
        "sign_rule": rule,
        "resolved_sign_rule": res.info["sign_rule"],
        "options": options,
        "resolved": res.info.get("resolved"),
        "seed": seed,
        "n_parameters": res.info["n_parameters"],
        "energy": res.energy,
        "energy_error": res.energy_error,
        "relative_error": abs(res.energy - e0) / abs(e0),
        "v_score": res.v_score,
        "rollbacks": res.info.get("rollbacks"),
        "summed": decomposition(model, res.state, h, bits, psi0, e0),
        "cpu_seconds": cpu,
        "wall_seconds": wall,
        "load_average": [load, os.getloadavg()[0]],
    }
    s = row["summed"]
    print(
        f"vmc {rule:8s} estimate {row['relative_error']:.2e}, summed {s['network']:.2e} (modulus x exact sign "
        f"{s['network_modulus_exact_sign']:.2e}, exact modulus x phase {s['exact_modulus_network_phase']:.2e}, "
        f"fidelity {s['fidelity']:.3f})  {cpu:.0f} s CPU, {wall:.0f} s wall, load {load:.1f}-"
        f"{row['load_average'][1]:.1f}",
        flush=True,
    )
    return row


CAPACITY_STARTS = {
    # label: (seed, start from Marshall, std of the noise added in parameter units)
    "marshall+noise 0.03": (0, True, 0.03),
    "marshall+noise 0.03 b": (1, True, 0.03),
    "random (std 0.5)": (2, False, 0.5),
}


def save(out: Path, rows: list[dict], provenance: dict) -> None:
    """Write ``rows`` into ``out``, replacing rows of the same part, rule, start and seed."""
    key = ("part", "sign_rule", "start", "seed", "options", "result", "lanczos_samples")
    data = json.loads(out.read_text()) if out.is_file() else {}

    def ident(r):
        return json.dumps([r.get(k) for k in key], sort_keys=True)

    new = {ident(r) for r in rows}
    kept = [r for r in data.get("rows", []) if ident(r) not in new]
    data.update(cpu_count=os.cpu_count(), rows=kept + [{**r, **provenance} for r in rows])
    out.write_text(json.dumps(data, indent=1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["marshall", "capacity"],
        choices=["marshall", "capacity", "modulus", "warm_sign", "vmc", "lanczos"],
    )
    parser.add_argument("--rules", nargs="+", default=["auto", "jastrow", "local"], help="sign_rule values")
    parser.add_argument("--vmc", default="{}", help="further vmc options as JSON")
    parser.add_argument("--max-iter", type=int, default=3000, help="L-BFGS iterations of the capacity part")
    parser.add_argument("--modulus-steps", type=int, default=4000, help="Adam steps of the modulus part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file (under benchmarks/ if relative)")
    parser.add_argument(
        "--keep", default=None, help="folder to save the trained vmc Results in (RULE_seedSEED)"
    )
    parser.add_argument("--results", nargs="+", default=[], help="saved vmc Result folders (lanczos part)")
    parser.add_argument("--lanczos-samples", type=int, default=None, help="samples of the lanczos part")
    args = parser.parse_args()
    provenance = {"commit": git_commit(), "dirty": git_dirty()}
    model = Heisenberg(Square(4, 4, pbc=True), J2=0.5)
    h, bits, psi0, e0 = exact_ground_state(model)
    rows = []
    if "marshall" in args.parts:
        row = {"part": "marshall", "exact_energy": e0, **marshall_part(model, h, bits, psi0, e0)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    if "capacity" in args.parts:
        for rule in ("jastrow", "local"):
            rows += capacity_part(model, h, bits, psi0, e0, rule, CAPACITY_STARTS, args.max_iter)
    if "modulus" in args.parts:
        options = {"d_model": 16, "n_heads": 2, **json.loads(args.vmc)}
        rows.append(modulus_part(model, h, bits, psi0, e0, options, args.modulus_steps, args.seed))
    if "warm_sign" in args.parts:
        import tempfile

        options = {"d_model": 16, "n_heads": 2, "n_layers": 2, **json.loads(args.vmc)}
        with tempfile.TemporaryDirectory() as tmp:
            start = warm_sign_state(model, h, bits, psi0, e0, args.seed, options, args.max_iter, Path(tmp))
            print(f"warm_sign: local phase start {start:.2e} on |psi0|", flush=True)
            sizes = ("d_model", "n_heads", "n_layers")  # read from the state ("resolved" shows the auto ones)
            row = vmc_part(
                model,
                h,
                bits,
                psi0,
                e0,
                "local",
                args.seed,
                {k: v for k, v in options.items() if k not in sizes},
                warm_start=tmp,
            )
        rows.append({**row, "start_relative_error": start, "sizes": {k: options.get(k) for k in sizes}})
    if "vmc" in args.parts:
        for rule in args.rules:
            rows.append(
                vmc_part(model, h, bits, psi0, e0, rule, args.seed, json.loads(args.vmc), keep=args.keep)
            )
    if "lanczos" in args.parts:
        for folder in args.results:
            rows.append(lanczos_part(model, h, bits, psi0, e0, Path(folder), args.lanczos_samples))
    if args.out:
        out = Path(args.out)
        out = out if out.is_absolute() else Path(__file__).parent / out
        out.parent.mkdir(parents=True, exist_ok=True)
        save(out, rows, provenance)


if __name__ == "__main__":
    main()
