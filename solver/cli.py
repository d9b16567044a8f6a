"""The ``solver`` command (also ``python -m solver``).

    solver check CASE [--set KEY=VALUE ...]          validate only, no mesh, no solve
    solver run CASE -o DIR [--set KEY=VALUE ...]     run (under mpirun for parallel)
    solver materials                                 list the material library

Exit codes: 0 success, 2 invalid case or command line, 3 solver failure (last good state
checkpointed), 75 stopped by SIGTERM/SIGINT after a checkpoint (rerun with --restart),
1 other errors.
Errors are one line on stderr (rank 0); ``--traceback`` shows the Python traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

EPILOG = """examples:
  solver check cases/quick.yaml
  mpirun -n 4 solver run cases/quick.yaml -o runs/quick
  solver run cases/quick.yaml --set geometry.coatings[0].thickness=8e-9 -o runs/t8nm
"""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="solver", description="Coupled mechano-electrochemical FE solver for coated "
        "Li/Na metal anodes (DOLFINx). Case files are YAML in SI units.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from solver import __version__

    p.add_argument("--version", action="version", version=f"solver {__version__}")
    p.add_argument("--traceback", action="store_true",
                   help="show the Python traceback of an error (for bug reports)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def common(sp, optional_case=False):
        sp.add_argument("case", type=Path, nargs="?" if optional_case else None,
                        help="case file (YAML, SI units)")
        sp.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE",
                        help="override a case value by its dotted key, e.g. "
                        "geometry.metal.thickness=2e-6 or geometry.coatings[0].thickness=8e-9 "
                        "(repeatable; validated like the file)")

    c = sub.add_parser("check", help="validate a case file (no mesh, no solve)",
                       description="Validate a case file and its overrides: schema, units, "
                       "materials, boundary names and geometry, without building a mesh.")
    common(c)
    r = sub.add_parser("run", help="run a case and write the output directory",
                       description="Run a case. Writes case.yaml, versions.json, log.txt, "
                       "fields/*.bp (ParaView), history.csv, metrics.json (last, atomically) "
                       "and figures/*.png into the output directory. Parallel: "
                       "mpirun -n N solver run ...",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    common(r, optional_case=True)
    r.add_argument("-o", "--output", type=Path, default=None,
                   help="output directory (default: runs/<case name>)")
    r.add_argument("--restart", type=Path, default=None, metavar="DIR",
                   help="continue the run in DIR from its last checkpoint (its case.yaml is "
                   "used; any number of ranks; --set may change stepping.*, checkpoint.* and "
                   "output.* only, e.g. a larger stepping.end). Exit code 75 means a run was "
                   "stopped by SIGTERM/SIGINT after writing a checkpoint: rerun with --restart")
    r.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    r.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    sw = sub.add_parser(
        "sweep", help="run a case over the product of parameter values",
        description="Run CASE once per point of the full product of the --param values, "
        "one run\ndirectory per point (DIR/p000_<key>=<value>_...). Every point is validated "
        "before any\nstarts. Writes DIR/sweep.json (the definition), DIR/summary.csv (point, "
        "dir, swept\nvalues, status, every scalar metric) and DIR/figures/sweep_<metric>.png."
        "\n\nRerunning the same command resumes: completed points are skipped, interrupted "
        "ones\ncontinue from their checkpoint, the others run again from the start.\n\n"
        "Points run as `mpiexec -n NP solver run` subprocesses, --jobs at a time; under\n"
        "`mpirun -n K solver sweep ...` they run one after the other on all K ranks.\n"
        "Exit code 3 if a point did not complete, 75 if the sweep was stopped by a signal.",
        epilog="examples:\n  solver sweep cases/quick.yaml -o runs/sweep \\\n"
        "      --param geometry.coatings[0].thickness=4e-9,8e-9,12e-9,20e-9 --jobs 2\n"
        "  mpirun -n 4 solver sweep cases/quick.yaml -o runs/p --param "
        "physics.elasticity.boundary_conditions[3].value=1e6,2e6\n",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    common(sw)
    sw.add_argument("--param", dest="params", action="append", default=[],
                    metavar="KEY=V1,V2,...",
                    help="a swept case value and its comma-separated values, each read as a "
                    "YAML scalar (repeatable: the sweep is the product; lists inside values "
                    "are not supported)")
    sw.add_argument("-o", "--output", type=Path, required=True, metavar="DIR",
                    help="sweep directory (one run directory per point inside)")
    sw.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                    help="points run concurrently (default 1; must be 1 under mpirun)")
    sw.add_argument("--np", type=int, default=1, metavar="NP",
                    help="MPI ranks per point (default 1; not under mpirun, where each point "
                    "uses all the sweep's ranks)")
    sw.add_argument("--metric", default="max_von_mises_Pa",
                    help="metrics.json key plotted against the first --param "
                    "(default max_von_mises_Pa)")
    sw.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sw.add_argument("--no-figures", action="store_true",
                    help="skip the points' own PNG figures (the sweep figure is still made)")
    sub.add_parser("materials", help="list the material library with sources",
                   description="List the built-in material library (values and sources).")
    return p


def _cmd_check(args, comm) -> int:
    from solver.config import load_case

    case = load_case(args.case, args.overrides)
    if comm.rank == 0:
        print(f"{args.case}: ok ({case.name}, {case.dimension}D, "
              f"{case.geometry.kind} geometry)")
    return 0


def _cmd_run(args, comm) -> int:
    from solver.config import load_case
    from solver.io import log as runlog
    from solver.run import run_case

    from solver.errors import CaseError
    from solver.run import load_restart_case, run_finished

    if args.restart is not None:
        if args.case is not None:
            raise CaseError("--restart: give only the run directory; the case is that of the "
                            "original run (its case.yaml)")
        if args.output is not None and args.output.resolve() != args.restart.resolve():
            raise CaseError("--restart: a restarted run continues in its own directory; "
                            "drop -o")
        case = load_restart_case(args.restart, args.overrides)
        outdir = args.restart
        if run_finished(outdir) and not args.overrides:
            if comm.rank == 0:
                print(f"{outdir}: already completed; nothing to continue")
            return 0
    elif args.case is None:
        raise CaseError("run: give a case file (solver run CASE -o DIR) or --restart DIR")
    else:
        case = load_case(args.case, args.overrides)
        outdir = args.output or Path("runs") / case.name
    if args.no_figures:
        case.output.figures = False
    if args.restart is None:
        from solver.io.output import check_new_run_dir

        check_new_run_dir(outdir, comm)
    runlog.setup(comm.rank, comm.size, args.verbose)
    if comm.rank == 0:
        outdir.mkdir(parents=True, exist_ok=True)
        if args.restart is None:
            (outdir / "log.txt").unlink(missing_ok=True)
        runlog.add_logfile(outdir / "log.txt")
    import logging

    what = f"--restart {outdir}" if args.restart else f"{args.case} -> {outdir}"
    logging.getLogger("solver").info(f"solver run {what} on {comm.size} rank(s)")
    try:
        run_case(case, outdir, comm, restart=args.restart is not None)
    finally:
        runlog.close()
    if comm.rank == 0:
        print(f"results: {outdir}")
    return 0


def _cmd_sweep(args, comm) -> int:
    from solver.io import log as runlog
    from solver.sweep import Sweep, parse_params, run_sweep

    params = parse_params(args.params, args.overrides)
    runlog.setup(comm.rank, comm.size, args.verbose)
    try:
        run_sweep(Sweep(case=args.case, params=params, outdir=args.output,
                        overrides=list(args.overrides), jobs=args.jobs, np=args.np,
                        metric=args.metric, no_figures=args.no_figures,
                        verbose=args.verbose), comm)
    finally:
        runlog.close()
    return 0


def _cmd_materials(args, comm) -> int:
    from solver.materials import load_library

    if comm.rank == 0:
        for name, m in load_library().items():
            e = f"E={m.youngs_modulus:.3g} Pa" if m.youngs_modulus else "anisotropic"
            print(f"{name:16s} {e:18s} {m.description if hasattr(m, 'description') else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    import solver.compat  # noqa: F401  (before mpi4py/dolfinx)
    from mpi4py import MPI

    from solver.errors import SolverError

    comm = MPI.COMM_WORLD
    cmd = {"check": _cmd_check, "run": _cmd_run, "materials": _cmd_materials,
           "sweep": _cmd_sweep}[args.command]
    try:
        return cmd(args, comm)
    except SolverError as e:
        # Raised identically on every rank (validation and solver decisions are collective).
        if args.traceback:
            raise
        if comm.rank == 0:
            print(f"error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:  # outside the run loop (which checkpoints on signals)
        print(f"error: [rank {comm.rank}] interrupted", file=sys.stderr)
        if comm.size > 1:
            comm.Abort(130)
        return 130
    except Exception as e:  # a bug or an environment problem: one line, then stop all ranks
        if args.traceback:
            import traceback

            traceback.print_exc()
        print(f"error: [rank {comm.rank}] internal error {type(e).__name__}: {e} "
              "(rerun with --traceback and report it)", file=sys.stderr)
        sys.stderr.flush()
        if comm.size > 1:
            comm.Abort(1)
        return 1
