"""Fermions in VMC: Jordan-Wigner ``PauliStrings`` (what the vmc backend uses) against NetKet's
``FermionOperator2nd`` for the Hubbard chain, side by side on the same configurations.

Both act on occupation bits with mode ``2 i + s`` (site i, spin s) and the same Jordan-Wigner
ordering, so they must be the same matrix (checked on the full Hilbert space of L=4 before any
timing). Measured per operator: connected elements per configuration (each costs one network
evaluation in the local energy) and the time of ``get_conn_padded`` on a batch of in-sector
configurations, for the numba and the JAX implementations. Output: JSON.

Usage::

    python benchmarks/vmc_fermions.py --sizes 8 16 32 --batch 4096 --out vmc_fermions.json
"""

from __future__ import annotations

import argparse
import json
import time

import jax
import netket as nk
import numpy as np

from manybody.lattice import Chain
from manybody.models import Hubbard
from manybody.vmc import to_pauli_strings
from manybody.vmc.backend import device_name


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--batch", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="vmc_fermions.json")
    args = parser.parse_args(argv)
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
