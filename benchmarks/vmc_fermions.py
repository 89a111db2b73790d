"""Fermions in VMC: Jordan-Wigner ``PauliStrings`` (what the vmc backend uses) against NetKet's
``FermionOperator2nd`` for the Hubbard chain, side by side on the same configurations.

Both act on occupation bits with mode ``2 i + s`` (site i, spin s) and the same Jordan-Wigner
ordering, so they must be the same matrix (checked on the full Hilbert space of L=4 before any
timing). Measured per operator: connected elements per configuration (each costs one network
evaluation in the local energy) and the time of ``get_conn_padded`` on a batch of in-sector
configurations, for the numba and the JAX implementations. Output: JSON.

With ``--vmc CASE`` it instead runs ``mb.solve(model, backend="vmc", ...)`` on a Hubbard cluster
(options as JSON, e.g. ``'{"sign_rule": "hartree_fock"}'``) and sums the trained network exactly
over the particle-number sector: the relative energy error of the network itself, of its modulus
with the exact ground state's phase and of the exact modulus with its phase (which part limits),
and the fidelity; with the learning curve, CPU seconds and the load average. Rows of the same
case, options and seed are replaced in the JSON, others kept. ``--every K`` adds the network
summed exactly every K iterations of the training; ``--probe`` the noise of the SR update at the
trained state: the update of 512 and 2048 exact samples (the solve's step) against the update
from exact sums over the sector (:func:`update_noise`).

Usage::

    python benchmarks/vmc_fermions.py --sizes 8 16 32 --batch 4096 --out vmc_fermions.json
    python benchmarks/vmc_fermions.py --vmc hubbard_2x4_open --options '{"sign_rule": "hartree_fock"}' \
        --out results/vmc_fermions_2x4.json
    python benchmarks/vmc_fermions.py --vmc hubbard_2x4_open --every 100 --probe --out results/vmc_fermions_2x4.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import jax
import netket as nk
import numpy as np
import optax
import scipy.sparse.linalg as sla
from jax.flatten_util import ravel_pytree
from netket._src.driver.vmc_sr import cholesky_with_fallback

import manybody as mb
from manybody.exact import sector_hamiltonian
from manybody.lattice import Chain, Square
from manybody.models import Hubbard
from manybody.vmc import driver as driver_module
from manybody.vmc import to_pauli_strings
from manybody.vmc.backend import device_name, make_vstate
from manybody.vmc.operators import LOCAL_DTYPE

VMC_CASES = {
    "hubbard_2x4_open": lambda: Hubbard(Square(4, 2, pbc=False), U=4.0),
    "hubbard_2x4_open_rungs": lambda: Hubbard(Square(2, 4, pbc=False), U=4.0),
    "hubbard_ring_8": lambda: Hubbard(Chain(8, pbc=True), U=4.0),
}
"""Open 2x4 cluster in the lattice's snake order along the 4-site rows (``Square(4, 2)``), the same
cluster with its sites numbered along the 2-site rows (``Square(2, 4)``: the sampling order goes
rung by rung), and the periodic L=8 chain; U=4, half filling."""


PROBE = {"samples": (512, 2048), "repeats": 5, "steps": (0.005, 0.02, 0.05), "diag_shift": 1e-4}
"""The update-noise probe of ``--probe`` (:func:`update_noise`): the defaults' final diagonal shift,
their final, a middle and their initial learning rate."""


def _commit() -> str:
    """The checked-out commit of the repository (short hash; "" outside git)."""
    folder = Path(__file__).resolve().parent
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True)
    return done.stdout.strip()


def operators(model) -> dict:
    """The model's Hamiltonian as PauliStrings (Qubit space) and FermionOperator2nd (spinless modes)."""
    n = model.n_qubits
    fermion_op = model.hamiltonian
    terms = list(fermion_op.terms)
    weights = [complex(fermion_op.terms[t]).real for t in terms]
    fermions = nk.hilbert.SpinOrbitalFermions(n)
    return {
        "pauli_strings": to_pauli_strings(model.qubit_hamiltonian, n),
        "fermion_operator_2nd": nk.operator.FermionOperator2nd(fermions, terms=terms, weights=weights),
    }


def check_same_matrix() -> float:
    ops = operators(Hubbard(Chain(4), U=4.0))
    a, b = (op.to_sparse() for op in ops.values())
    return float(abs(a - b).max())


def in_sector_configurations(model, batch: int, seed: int = 0) -> np.ndarray:
    """Random configurations with n_up and n_down particles (qubit q in column q)."""
    rng = np.random.default_rng(seed)
    n_sites = model.lattice.n_sites
    x = np.zeros((batch, model.n_qubits), dtype=np.int8)
    for spin, count in ((0, model.params["n_up"]), (1, model.params["n_down"])):
        for row in x:
            row[2 * rng.permutation(n_sites)[:count] + spin] = 1
    return x


def _timed(fn, repeats: int) -> float:
    jax.block_until_ready(fn())
    start = time.perf_counter()
    for _ in range(repeats):
        jax.block_until_ready(fn())
    return (time.perf_counter() - start) / repeats


def measure(L: int, batch: int, repeats: int) -> dict:
    model = Hubbard(Chain(L), U=4.0)
    x = in_sector_configurations(model, batch)
    out = {}
    for name, op in operators(model).items():
        for impl, o in (("numba", op), ("jax", op.to_jax_operator())):
            xs = x if impl == "numba" else jax.numpy.asarray(x, dtype=jax.numpy.int8)
            xp, mels = o.get_conn_padded(xs)
            nonzero = np.count_nonzero(np.asarray(mels), axis=-1)
            out[f"{name}_{impl}"] = {
                "max_conn_size": int(np.asarray(mels).shape[-1]),
                "mean_nonzero_connections": float(nonzero.mean()),
                "seconds_get_conn_padded": _timed(lambda o=o, xs=xs: o.get_conn_padded(xs)[1], repeats),
            }
            print(L, name, impl, out[f"{name}_{impl}"], flush=True)
    return out


def sector_ground_state(model):
    """The sector Hamiltonian (sparse), its configurations (bits, qubit q in column q), the exact
    ground-state energy and vector."""
    h, basis = sector_hamiltonian(model)
    values, vectors = sla.eigsh(h, k=1, which="SA")
    return h, np.asarray(basis.bits()), values[0], vectors[:, 0]


def decomposition(exact, psi) -> dict:
    """Relative energy errors of the amplitudes ``psi`` on the sector (``exact``: :func:`sector_ground_state`).

    Of ``psi`` itself (``network``), of ``|psi| exp(i arg psi0)`` (its modulus with the exact
    phase) and of ``|psi0| exp(i arg psi)`` (its phase on the exact modulus), and the fidelity
    ``|<psi0|psi>|^2 / <psi|psi>``.
    """
    h, _, e0, psi0 = exact

    def error(x):
        return float((np.vdot(x, h @ x).real / np.vdot(x, x).real - e0) / abs(e0))

    return {
        "network": error(psi),
        "modulus_with_exact_phase": error(np.abs(psi) * np.exp(1j * np.angle(psi0))),
        "phase_with_exact_modulus": error(np.abs(psi0) * np.exp(1j * np.angle(psi))),
        "fidelity": float(abs(np.vdot(psi0, psi)) ** 2 / np.vdot(psi, psi).real),
        "sector_dimension": int(len(psi0)),
    }


def exact_decomposition(model, state, exact=None) -> dict:
    """The trained network summed exactly over the sector against the exact ground state (:func:`decomposition`)."""
    exact = exact or sector_ground_state(model)
    vstate = make_vstate(model, state.config, 32, state.seed, params=state.params)
    return decomposition(exact, np.exp(np.asarray(vstate.log_value(jax.numpy.asarray(exact[1])))))


@contextmanager
def traced_training(exact, every: int, curve: list):
    """Within the block, every ``every``-th SR step of a vmc solve appends ``[iteration,
    decomposition]`` of the network summed exactly over the sector to ``curve`` (the driver's
    ``sr_driver`` wrapped: the training itself is unchanged)."""
    original = driver_module.sr_driver

    def sr_driver(*args, **kwargs):
        driver = original(*args, **kwargs)
        update = driver.update_parameters

        def update_parameters(dp):
            update(dp)
            step = driver.step_count + 1  # the loop counts the step after the update
            if step % every == 0:
                psi = np.exp(np.asarray(driver.state.log_value(jax.numpy.asarray(exact[1]))))
                curve.append([step, decomposition(exact, psi)])

        object.__setattr__(driver, "update_parameters", update_parameters)
        return driver

    driver_module.sr_driver = sr_driver
    try:
        yield curve
    finally:
        driver_module.sr_driver = original


def update_noise(model, state, exact, samples, repeats: int, steps, diag_shift: float) -> dict:
    """The SR update of the trained ``state`` from ``n`` exact samples (the driver's step, as in a
    solve) against the update from exact sums over the sector (every configuration a row weighted
    by ``|psi|^2``, exact local energies; the same minSR formula in float64), at a fixed
    ``diag_shift``: their cosine and norm ratio, and the relative energy error (summed exactly)
    after one step of each of the sizes ``steps``.
    """
    h, bits, _, _ = exact
    problem = model.problem
    vs = make_vstate(model, state.config, samples[0], state.seed, params=state.params)
    theta = vs.parameters
    x = jax.numpy.asarray(bits)

    def amplitudes(params):
        return np.exp(np.asarray(vs._apply_fun({"params": params, **vs.model_state}, x)))

    def after(dp):
        """The relative energy error after one step ``theta - lr dp`` for each ``lr`` in ``steps``."""
        moved = {lr: jax.tree_util.tree_map(lambda t, d, lr=lr: t - lr * d, theta, dp) for lr in steps}
        return {str(lr): decomposition(exact, amplitudes(params))["network"] for lr, params in moved.items()}

    psi = amplitudes(theta)
    prob = np.abs(psi) ** 2 / np.sum(np.abs(psi) ** 2)
    ham = to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert, LOCAL_DTYPE)
    mode = driver_module.jacobian_mode(vs, ham) or "complex"
    start = time.process_time()
    exact_dp, _, _ = driver_module._weighted_minsr(
        vs.model,
        None,
        jax.numpy.asarray(h @ psi / psi),
        theta,
        vs.model_state,
        x,
        jax.numpy.asarray(prob),
        diag_shift=diag_shift,
        solver_fn=cholesky_with_fallback,
        mode=mode,
        momentum=None,
        old_updates=None,
        chunk_size=driver_module.jacobian_chunk_size(vs, len(bits)),
    )
    exact_flat = np.asarray(ravel_pytree(exact_dp)[0])
    out = {
        "diag_shift": diag_shift,
        "exact_update_cpu_seconds": time.process_time() - start,
        "probability_of_the_top": {
            str(k): float(np.sort(prob)[::-1][:k].sum()) for k in (100, 300, 1000, 2000)
        },
        "start": decomposition(exact, psi)["network"],
        "after_exact_update": after(exact_dp),
        "samples": {},
    }
    for n in samples:
        vs.n_samples = n
        driver = driver_module.sr_driver(
            vs,
            ham,
            optax.sgd(0.0),
            diag_shift,
            None,
            problem.sector_dimension(),
            driver_module.JACOBIAN_DTYPE,
        )
        rows = []
        for _ in range(repeats):
            driver.reset_step()
            _, dp = driver.compute_loss_and_update()
            flat = np.asarray(ravel_pytree(dp)[0])
            norm = np.linalg.norm(flat) * np.linalg.norm(exact_flat)
            rows.append(
                {
                    "cosine": float(np.dot(flat, exact_flat) / norm),
                    "norm_ratio": float(np.linalg.norm(flat) / np.linalg.norm(exact_flat)),
                    "distinct_samples": len(
                        np.unique(np.asarray(vs.samples).reshape(-1, len(bits[0])), axis=0)
                    ),
                    "after_update": after(dp),
                }
            )
        out["samples"][str(n)] = rows
        print(n, json.dumps(rows), flush=True)
    return out


def run_vmc(case: str, options: dict, seed: int, every: int | None = None, probe: dict | None = None) -> dict:
    """One vmc solve of ``case`` with ``options``; relative error, cost and the exact decomposition.

    With ``every``, the trained network summed exactly over the sector every ``every`` iterations
    (:func:`traced_training`); with ``probe`` (keyword arguments of :func:`update_noise`), the
    noise of the SR update at the trained state.
    """
    model = VMC_CASES[case]()
    exact_state = sector_ground_state(model)
    exact = mb.solve(model, backend="exact", observables=[]).energy
    curve = []
    start, cpu_start = time.perf_counter(), time.process_time()
    with warnings.catch_warnings(), traced_training(exact_state, every or 10**9, curve):
        warnings.simplefilter("ignore")
        res = mb.solve(model, backend="vmc", seed=seed, progress=False, observables=[], **options)
    cpu, wall = time.process_time() - cpu_start, time.perf_counter() - start
    energies = np.asarray(res.history["energy"])
    step = max(1, len(energies) // 20)
    row = {
        "case": case,
        "options": options,
        "seed": seed,
        "commit": _commit(),
        "resolved": res.info.get("resolved"),
        "sign_rule": res.info["sign_rule"],
        "energy": res.energy,
        "energy_error": res.energy_error,
        "exact": exact,
        "relative_error": abs(res.energy - exact) / abs(exact),
        "v_score": res.v_score,
        "exact_state_decomposition": exact_decomposition(model, res.state, exact_state),
        "learning_curve_relative_error": [
            [i, float(abs(energies[i] - exact) / abs(exact))] for i in range(0, len(energies), step)
        ],
        "seconds": wall,
        "cpu_seconds": cpu,
        "load_average": os.getloadavg()[0],
    }
    if every:
        row["exact_learning_curve"] = curve
    if probe:
        row["update_noise"] = update_noise(model, res.state, exact_state, **probe)
    print(json.dumps({k: row[k] for k in ("case", "options", "relative_error", "exact_state_decomposition")}))
    return row


def save_row(out: Path, row: dict) -> None:
    """Write ``row`` into the JSON file ``out``, replacing a row of the same case, options and seed."""
    data = json.loads(out.read_text()) if out.is_file() else {}
    key = (row["case"], json.dumps(row["options"], sort_keys=True), row["seed"])
    kept = [
        r
        for r in data.get("rows", [])
        if (r["case"], json.dumps(r["options"], sort_keys=True), r["seed"]) != key
    ]
    data.update(device=device_name(), cpu_count=os.cpu_count(), rows=kept + [row])
    out.write_text(json.dumps(data, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--out", default="vmc_fermions.json", help="JSON file (under benchmarks/ if relative)"
    )
    parser.add_argument("--vmc", choices=list(VMC_CASES), default=None, help="run vmc on this case instead")
    parser.add_argument("--options", default="{}", help="vmc options as JSON (with --vmc)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--every", type=int, default=None, help="exact sums every EVERY iterations (with --vmc)"
    )
    parser.add_argument(
        "--probe", action="store_true", help="noise of the SR update at the trained state (with --vmc)"
    )
    args = parser.parse_args(argv)
    if args.vmc:
        out = Path(args.out)
        out = out if out.is_absolute() else Path(__file__).parent / out
        probe = PROBE if args.probe else None
        save_row(out, run_vmc(args.vmc, json.loads(args.options), args.seed, args.every, probe))
        return
    difference = check_same_matrix()
    if difference > 1e-12:
        raise SystemExit(f"PauliStrings and FermionOperator2nd differ by {difference:g} on L=4")
    report = {
        "device": device_name(),
        "versions": {"netket": nk.__version__, "jax": jax.__version__},
        "batch": args.batch,
        "max_matrix_difference_L4": difference,
        "sizes": {str(L): measure(L, args.batch, args.repeats) for L in args.sizes},
    }
    with open(args.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
