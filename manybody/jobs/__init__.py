"""Batched ground-state and real-time evolution jobs: sweep files, execution, the results store, tables and plots.

The Python mirror of the ``manybody`` command line::

    from manybody.jobs import load_sweep, run_sweep, sweep_table, plot_sweep

    sweep = load_sweep("examples/heisenberg_j1j2_chain.toml")   # validated, points expanded
    report = run_sweep(sweep, out="results/j1j2", workers=2)
    rows = sweep_table("results/j1j2")                           # list of dicts (pandas-ready)
    plot_sweep("results/j1j2", x="J2", output="j1j2.png")

Importing this package imports no backend library, Dask or matplotlib.
"""

from manybody.jobs.execute import RunReport, run_sweep
from manybody.jobs.plot import plot_evolution, plot_family, plot_sweep
from manybody.jobs.store import Store, StoreError
from manybody.jobs.sweep import (
    Point,
    RunOptions,
    Sweep,
    SweepError,
    SweepWarning,
    load_sweep,
    parse_sweep,
    point_id,
)
from manybody.jobs.table import average_rows, format_table, sweep_table

__all__ = [
    "load_sweep",
    "parse_sweep",
    "run_sweep",
    "sweep_table",
    "format_table",
    "average_rows",
    "plot_sweep",
    "plot_family",
    "plot_evolution",
    "Sweep",
    "Point",
    "RunOptions",
    "RunReport",
    "SweepError",
    "SweepWarning",
    "Store",
    "StoreError",
    "point_id",
]
