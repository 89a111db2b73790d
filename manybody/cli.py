"""The ``manybody`` command line: run sweeps, inspect results, tables, plots, IBM jobs.

::

    manybody run SWEEP.toml [--out DIR] [--workers N] [--scheduler tcp://host:8786]
                            [--dry-run] [--retry-failed] [--no-progress]
    manybody status RESULTS/ [--failed]
    manybody table RESULTS/ [--format text|csv] [--output FILE] [--average AXIS]
    manybody plot RESULTS/ [--x AXIS] [--y energy,OBS,...] [--output FILE.png|pdf] [--average AXIS]
    manybody plot RESULTS/ --family spin_correlations [--output FILE]
    (a sweep with [evolve]: `table` shows the values at the final time, `plot` without
    --x draws the quantities against time, one curve per point)
    manybody ibm list|status JOB_ID|fetch JOB_ID
    manybody --version

Every failure is one line on stderr and a non-zero exit status (2: bad input
or a problem with the files, 1: anything else); ``--debug`` (before the
command) shows the traceback instead. Importing this module is fast: every
command imports what it needs when it runs (backend libraries only when a
point actually runs, in the workers).
"""

from __future__ import annotations

import argparse
import functools
import sys
import warnings

__all__ = ["main", "build_parser"]


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("manybody")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def _workers(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0 (0: in this process), got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manybody", description="Batched ground-state jobs for manybody.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"manybody {_version()}")
    debug = "show the traceback of an error"
    parser.add_argument("--debug", action="store_true", help=debug)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser = functools.partial(sub.add_parser, allow_abbrev=False)

    p = sub.add_parser("run", help="run the pending points of a sweep file")
    p.add_argument("sweep", help="the sweep file (TOML)")
    p.add_argument("--out", help="results folder (default: the sweep's output, else results/<name>)")
    p.add_argument("--workers", type=_workers, help="local worker processes (0: in this process)")
    p.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--dry-run", action="store_true", help="validate and list the points, run nothing")
    p.add_argument("--retry-failed", action="store_true", help="run the points recorded as failed again")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")

    p = sub.add_parser("status", help="count done, failed and pending points of a results folder")
    p.add_argument("results")
    p.add_argument("--failed", action="store_true", help="print the traceback of each failed point")

    p = sub.add_parser("table", help="print the results as a table")
    p.add_argument("results")
    p.add_argument("--format", choices=["text", "csv"], default="text")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p.add_argument("--done-only", action="store_true", help="only the finished points")
    p.add_argument(
        "--average", metavar="AXIS", help="average over a grid axis (disorder seeds): mean, sem, n"
    )

    p = sub.add_parser(
        "plot", help="plot energy and observables against a grid axis (evolution sweeps: against time)"
    )
    p.add_argument("results")
    p.add_argument(
        "--x",
        help="grid axis on the horizontal axis (default: the first varying one; evolution sweeps: "
        "time, while --x AXIS plots the final-time values)",
    )
    p.add_argument("--y", help="comma-separated quantities (default: energy and scalar observables)")
    p.add_argument("--output", "-o", help="figure file, .png or .pdf (default: RESULTS/plot.png)")
    p.add_argument("--average", metavar="AXIS", help="average over a grid axis (disorder seeds)")
    p.add_argument(
        "--family", metavar="NAME", help="plot this observable family (vs r, q, link) of every point"
    )

    p = sub.add_parser("ibm", help="recorded IBM Quantum hardware jobs")
    ibm = p.add_subparsers(dest="ibm_command", required=True, metavar="ACTION")
    ibm.add_parser = functools.partial(ibm.add_parser, allow_abbrev=False)
    folder = "record folder (default: $MANYBODY_IBM_JOBS or ~/.manybody/ibm_jobs)"
    q = ibm.add_parser("list", help="list recorded jobs")
    q.add_argument("--folder", help=folder)
    for name, text in (("status", "status of a recorded job"), ("fetch", "fetch a recorded job's result")):
        q = ibm.add_parser(name, help=text)
        q.add_argument("job_id")
        q.add_argument("--folder", help=folder)
    q.add_argument("--no-wait", action="store_true", help="do not wait for an unfinished job")
    for command in [*sub.choices.values(), *ibm.choices.values()]:  # --debug after the command too
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug)
    return parser


def _run(args) -> int:
    from manybody.jobs import Store, load_sweep, run_sweep
    from manybody.jobs.execute import make_tasks, output_folder

    sweep = load_sweep(args.sweep)
    if args.dry_run:
        store = Store(args.out or output_folder(sweep))
        tasks = make_tasks(sweep.points, sweep.groups)
        print(
            f"{sweep.name}: {len(sweep.points)} points in {len(tasks)} tasks, model {sweep.model['name']!r}, "
            f"results in {store.root}"
        )
        if sweep.evolve:
            times = sweep.evolve["times"]
            print(
                f"  evolve from {sweep.evolve['initial']!r}: {len(times)} times in [{times[0]:g}, {times[-1]:g}]"
            )
        for label, spec in sweep.backends.items():
            if spec["warm_start"]:
                print(f"  {label}: warm start along {spec['warm_start']} (those points run in order)")
        for p in sweep.points:
            params = ", ".join(f"{k}={v}" for k, v in p.params.items())
            print(f"  {p.id}  {p.label:<10} {store.state(p.id):<8} {params}")
        return 0
    report = run_sweep(
        sweep,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        retry_failed=args.retry_failed,
        progress=not args.no_progress,
    )
    print(report)
    failed = Store(report.out).status()["failed"]
    if failed:
        print(f"{len(failed)} failed point(s): see `manybody status {report.out} --failed`")
    return 1 if failed else 0


def _status(args) -> int:
    from manybody.jobs import Store

    store = Store(args.results)
    status = store.status()
    total = sum(len(v) for v in status.values())
    counts = [f"{len(status[k])} {k}" for k in ("done", "failed", "pending")]
    if status["corrupt"]:
        counts.append(f"{len(status['corrupt'])} corrupt (rerun to recompute)")
    print(f"{store.root}: {total} points: " + ", ".join(counts))
    for p in status["corrupt"]:
        print(f"  corrupt {p.id} {p.label} {p.params}: {store.problem(p.id)}")
    for p in status["failed"]:
        record = store.failure(p.id) or {}
        print(f"  failed {p.id} {p.label} {p.params}: {record.get('error')}")
        if args.failed:
            print("    " + str(record.get("traceback", "")).rstrip().replace("\n", "\n    "))
    return 0


def _table(args) -> int:
    from manybody.jobs import Store, average_rows, format_table, sweep_table

    rows = sweep_table(args.results, include_unfinished=not args.done_only)
    evolve = Store(args.results).index().get("evolve")
    if evolve:
        print(
            f"manybody table: note: evolution points: values at the final time t_final = {evolve['times'][-1]:g} "
            f"(the time series: `manybody plot {args.results}`)",
            file=sys.stderr,
        )
    if args.average:
        rows = average_rows(rows, list(Store(args.results).index()["axes"]), args.average)
    text = format_table(rows, args.format)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def _plot(args) -> int:
    from manybody.jobs import plot_family, plot_sweep

    if args.family:
        print(plot_family(args.results, args.family, output=args.output))
        return 0
    y = [q.strip() for q in args.y.split(",")] if args.y else None
    print(plot_sweep(args.results, x=args.x, y=y, output=args.output, average=args.average))
    return 0


def _ibm(args) -> int:
    try:
        from manybody.circuits import ibm, records

        api = records.list_jobs, records.job_status, records.fetch, records.JobNotFoundError
        account_error = ibm.IBMAccountError
    except (ImportError, AttributeError) as err:
        print(f"manybody ibm: recorded hardware jobs are not available ({err})", file=sys.stderr)
        return 2
    list_jobs, job_status, fetch, not_found = api
    try:
        if args.ibm_command == "list":
            from manybody.jobs.table import format_table

            rows = list_jobs(args.folder)
            print(format_table(rows) if rows else "no recorded jobs", end="" if rows else "\n")
        elif args.ibm_command == "status":
            print(f"{args.job_id}: {job_status(args.job_id, args.folder)}")
        else:
            rec = fetch(args.job_id, args.folder, wait=not args.no_wait)
            print(f"job {rec.job_id} on {rec.backend}: {rec.status}")
            if rec.evs is not None and rec.evs.size:
                for k in range(rec.evs.shape[-1]):
                    evs, stds = rec.evs[..., k].ravel(), rec.stds[..., k].ravel()
                    values = ", ".join(f"{e:.6g} +/- {s:.2g}" for e, s in zip(evs, stds))
                    print(f"  observable {k}: {values}")
    except (not_found, account_error) as err:
        if args.debug:
            raise
        if isinstance(err, account_error) or isinstance(err.__context__, account_error):
            err = (
                f"no IBM Quantum account to ask about job {args.job_id!r}: set QISKIT_IBM_TOKEN "
                "or save an account (--debug shows the details; `manybody ibm list` shows recorded jobs)"
            )
        print(f"manybody ibm: {err}", file=sys.stderr)
        return 1
    return 0


def _subparser(parser: argparse.ArgumentParser, path: list[str]) -> argparse.ArgumentParser:
    """The parser of the (sub)command named by ``path``, e.g. ``["ibm", "status"]``."""
    for name in path:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or name not in actions[0].choices:
            break
        parser = actions[0].choices[name]
    return parser


def main(argv=None) -> int:
    """Entry point of the ``manybody`` console script; returns the exit code."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # reported by the command's own parser, with its usage
        path = [args.command] + ([args.ibm_command] if args.command == "ibm" else [])
        _subparser(parser, path).error(f"unrecognized arguments: {' '.join(extra)}")
    from manybody.jobs.sweep import SweepError

    command = {"run": _run, "status": _status, "table": _table, "plot": _plot, "ibm": _ibm}[args.command]
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning(args.command)
            return command(args)
    except KeyboardInterrupt:
        print(
            f"manybody {args.command}: interrupted (finished results are kept: rerun to continue)",
            file=sys.stderr,
        )
        return 130
    except Exception as err:  # noqa: BLE001 - one line per failure, the traceback on request
        if args.debug:
            raise
        expected = isinstance(err, (SweepError, OSError, ValueError, RuntimeError, LookupError))
        text = f"{err}" if expected else f"{type(err).__name__}: {err}"
        hint = "" if expected else " (unexpected: rerun with --debug for the traceback)"
        print(f"manybody {args.command}: error: {text}{hint}", file=sys.stderr)
        return 2 if expected else 1


def _show_warning(command: str):
    def show(message, category, filename, lineno, file=None, line=None):
        print(f"manybody {command}: warning: {message}", file=sys.stderr)

    return show


if __name__ == "__main__":
    sys.exit(main())
