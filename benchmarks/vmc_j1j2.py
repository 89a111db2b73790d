"""The J1-J2 4x4 torus at J2 = 0.5: is the sign or the modulus what limits vmc?

Everything is summed exactly over the S^z = 0 sector (12870 configurations) against the exact
ground state ``psi0`` (``manybody.exact``):

* ``marshall``: the weight ``sum |psi0|^2`` of the configurations where Marshall's sign is wrong,
  and the energy of ``|psi0|`` times Marshall's sign (the best a perfect modulus can do with it);
* ``capacity``: the best energy of ``|psi0| exp(i theta)`` with ``theta`` a learned phase family
  (the ``phase`` of :class:`manybody.vmc.phase.JastrowPhaseAR` / ``LocalPhaseAR``), minimised on
  the exact energy (L-BFGS, exact gradient) from the declared Marshall structure plus noise and
  from random starts: what each ``sign_rule`` could reach with a perfect modulus and optimiser;
* ``vmc``: ``mb.solve(model, backend="vmc", sign_rule=...)`` (defaults otherwise), and the trained
  network split into its modulus and its phase: the energy of the network, of its modulus with the
  exact sign, of the exact modulus with its phase, of its modulus with Marshall's sign, and the
  fidelity with ``psi0``.

Relative errors against ``E0``; CPU seconds of this process and the load average next to them.
Output: JSON (``--out``; rows of the same part, rule and seed are replaced) and lines on stdout.

Usage::

    python benchmarks/vmc_j1j2.py --parts marshall capacity --out results/vmc_j1j2_cpu2.json
    python benchmarks/vmc_j1j2.py --parts vmc --rules auto local --out results/vmc_j1j2_cpu2.json
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


def marshall_part(model, h, bits, psi0, e0) -> dict:
    marshall = model.problem.sign_structure("marshall").sign(bits)
    psi0 = psi0 * np.sign(np.sum(psi0 * marshall))
    wrong = np.sign(psi0) != marshall
    return {
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


def capacity_part(model, h, bits, psi0, e0, rule: str, starts: dict, max_iter: int) -> list[dict]:
    """Minimise the exact energy of ``|psi0| exp(i theta)`` over the phase family ``rule``."""
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

    rows = []
    for label, (seed, from_marshall, scale) in starts.items():
        rng = np.random.default_rng(seed)
        x0 = (np.asarray(flat0) if from_marshall else 0.0) + scale * rng.standard_normal(flat0.size)
        cpu = time.process_time()
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
        row = {
            "part": "capacity",
            "sign_rule": rule,
            "start": label,
            "seed": seed,
            "n_parameters": int(flat0.size),
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


def decomposition(model, state, h, bits, psi0, e0) -> dict:
    """The trained network's energy split into modulus and phase, all summed over the sector."""
    import jax.numpy as jnp

    from manybody.vmc.backend import make_vstate

    vs = make_vstate(model, state.config, 32, 0, params=state.params)
    log_psi = np.asarray(vs.log_value(jnp.asarray(bits, dtype=jnp.int32)))
    psi = np.exp(log_psi - log_psi.real.max())
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


def vmc_part(model, h, bits, psi0, e0, rule: str, seed: int, options: dict) -> dict:
    load, cpu, wall = os.getloadavg()[0], time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mb.solve(
            model, backend="vmc", sign_rule=rule, seed=seed, progress=False, observables=[], **options
        )
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    row = {
        "part": "vmc",
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
    key = ("part", "sign_rule", "start", "seed", "options")
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
        "--parts", nargs="+", default=["marshall", "capacity"], choices=["marshall", "capacity", "vmc"]
    )
    parser.add_argument("--rules", nargs="+", default=["auto", "jastrow", "local"], help="sign_rule values")
    parser.add_argument("--vmc", default="{}", help="further vmc options as JSON")
    parser.add_argument("--max-iter", type=int, default=3000, help="L-BFGS iterations of the capacity part")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="JSON file (under benchmarks/ if relative)")
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
    if "vmc" in args.parts:
        for rule in args.rules:
            rows.append(vmc_part(model, h, bits, psi0, e0, rule, args.seed, json.loads(args.vmc)))
    if args.out:
        out = Path(args.out)
        out = out if out.is_absolute() else Path(__file__).parent / out
        out.parent.mkdir(parents=True, exist_ok=True)
        save(out, rows, provenance)


if __name__ == "__main__":
    main()
