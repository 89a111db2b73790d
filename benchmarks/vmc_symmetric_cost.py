"""What a symmetrised network costs per SR iteration, and what the pair kernel saves on it.

The J1-J2 4x4 torus at J2 = 0.5 with the ground-state defaults (``d_model`` 32, 4 heads, 2 layers,
tokens of 4 qubits, Marshall's sign and a random phase head), a random network (every sample
distinct: the start of a run, where an iteration costs most) and ``--samples`` exact samples, for
each ``symmetry`` (group order 1, 4, 8, 16). Per part, CPU seconds of this process, the minimum
of ``--repeats`` after a warm-up call:

* ``sample``: drawing the samples (a random symmetry of each network sample);
* ``local_pairs``: the training's local energies (``batch_local_values``: the non-zero matrix
  elements only, every pair on every image of a symmetrised network; passes in float32);
* ``local_all_masks``: the same local energies from every flip mask of every sample
  (``local_values_jit``, the kernel symmetrised networks used before 0.12.1);
* ``minsr``: the Jacobian (float32), kernel and solve of one minSR update.

The two local-energy kernels are checked against each other (largest difference printed).
Output: JSON (``--out``) and lines on stdout.

Usage::

    python benchmarks/vmc_symmetric_cost.py --out results/vmc_symmetric_cost_cpu2.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import jax
import netket as nk
import numpy as np

from manybody.lattice import Square
from manybody.models import Heisenberg
from manybody.provenance import git_commit, git_dirty
from manybody.vmc import make_vstate
from manybody.vmc import operators as ops
from manybody.vmc.driver import JACOBIAN_DTYPE, _weighted_minsr, jacobian_chunk_size
from manybody.vmc.symmetric import group_order

SYMMETRIES = ["none", "rotation", "rotation+spin_flip", "rotation+reflection+spin_flip"]


def cpu_seconds(fun, repeats: int) -> float:
    """The least CPU time of ``repeats`` calls of ``fun`` after one warm-up call (compilation)."""
    fun()
    times = []
    for _ in range(repeats):
        start = time.process_time()
        fun()
        times.append(time.process_time() - start)
    return min(times)


def measure(symmetry: str, n_samples: int, repeats: int) -> dict:
    model = Heisenberg(Square(4, 4, pbc=True), J2=0.5)
    problem = model.problem
    names = None if symmetry == "none" else symmetry.split("+")
    config = dict(
        n_qubits=problem.n_qubits,
        d_model=32,
        n_heads=4,
        n_layers=2,
        patch=4,
        dtype="float64",
        sign_rule=problem.sign_structure("marshall").to_dict(),
        phase=None,
        symmetry=names,
    )
    vs = make_vstate(model, config, n_samples, 0)
    hamiltonian = ops.to_pauli_strings(problem.hamiltonian, problem.n_qubits, vs.hilbert, ops.LOCAL_DTYPE)
    plan = hamiltonian.plan

    def sample():
        vs.reset()
        jax.block_until_ready(vs.samples)

    row = {"symmetry": symmetry, "group_order": group_order(vs.model), "n_samples": n_samples}
    row["sample"] = cpu_seconds(sample, repeats)
    rows = np.asarray(vs.samples).reshape(-1, problem.n_qubits)
    values = {}

    def pairs():
        values["pairs"] = ops.batch_local_values(vs, plan, rows)[:, 0]

    def all_masks():
        values["all"] = np.asarray(ops.local_values_jit(vs.model, plan, vs.variables, rows, None))[:, 0]

    row["local_pairs"] = cpu_seconds(pairs, repeats)
    row["local_all_masks"] = cpu_seconds(all_masks, repeats)
    row["kernels_max_difference"] = float(np.abs(values["pairs"] - values["all"]).max())
    weights = np.full(len(rows), 1.0 / len(rows))
    chunk = jacobian_chunk_size(vs, len(rows))

    def minsr():
        update = _weighted_minsr(
            vs.model,
            JACOBIAN_DTYPE,
            values["pairs"],
            vs.parameters,
            vs.model_state,
            rows,
            weights,
            diag_shift=1e-3,
            solver_fn=nk.optimizer.solver.cholesky,
            mode="complex",
            momentum=None,
            old_updates=None,
            chunk_size=chunk,
        )
        jax.block_until_ready(update[0])

    row["minsr"] = cpu_seconds(minsr, repeats)
    return row


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symmetries", nargs="+", default=SYMMETRIES)
    parser.add_argument("--samples", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default=None, help="JSON file (under benchmarks/ if relative)")
    args = parser.parse_args()
    rows = []
    for symmetry in args.symmetries:
        row = measure(symmetry, args.samples, args.repeats)
        row.update(load_average=list(os.getloadavg()[:2]), commit=git_commit(), dirty=git_dirty())
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.out:
        out = Path(args.out)
        out = out if out.is_absolute() else Path(__file__).parent / out
        out.write_text(json.dumps({"device": jax.devices()[0].platform, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
