"""Run a case end to end: validate, mesh, step, write the output contract; and restart."""

from __future__ import annotations

import logging
import time
from pathlib import Path


import solver.compat  # noqa: F401
from mpi4py import MPI

from solver.compat import versions
from solver.config import Case, parse_case
from solver.config.loader import apply_overrides, read_yaml
from solver.coupling.stepping import Clock, Interrupted, SignalTrap, Stepper
from solver.errors import CaseError, ConvergenceError, SolverError
from solver.geometry import build_geometry
from solver.io import checkpoint
from solver.io.fields import FieldWriter
from solver.io.output import RunDirectory
from solver.materials import load_library, resolve_materials
from solver.problems import build_problem

log = logging.getLogger("solver.run")

HISTORY = ["step", "time", "dt", "newton_iterations", "linear_iterations", "attempts",
           "wall_time_s"]  # + the problem's history_columns()
EXIT_INTERRUPTED = 75  # EX_TEMPFAIL: stopped by a signal, restartable


class RunInterrupted(SolverError):
    exit_code = EXIT_INTERRUPTED


class RunIncomplete(SolverError):
    exit_code = 3


# Run controls that a restart may change (--restart DIR --set stepping.max_steps=...);
# everything else (geometry, materials, physics) must stay what the checkpoint was made with.
RESTART_MUTABLE = ("stepping", "checkpoint", "output")


def load_restart_case(outdir: Path, overrides: list[str] | None = None) -> Case:
    outdir = Path(outdir)
    if not (outdir / "case.yaml").exists():
        raise CaseError(f"--restart {outdir}: no case.yaml there; give the output directory "
                        "of an earlier run")
    if not checkpoint.candidates(outdir / "checkpoint"):
        raise CaseError(f"--restart {outdir}: no checkpoint to restart from; run the case "
                        "from the start")
    data = read_yaml(outdir / "case.yaml")
    data.pop("debug", None)  # testing aids (injected failures, signals) act once, not again
    for ov in overrides or []:
        if ov.split("=", 1)[0].split(".", 1)[0].split("[", 1)[0] not in RESTART_MUTABLE:
            raise CaseError(f"--set {ov}: a restart may change only "
                            f"{', '.join(k + '.*' for k in RESTART_MUTABLE)}; the rest is "
                            "what the checkpoint was computed with")
    return parse_case(apply_overrides(data, overrides or []), source=str(outdir / "case.yaml"))


def run_finished(outdir: Path) -> bool:
    """The run in ``outdir`` completed (its newest checkpoint is marked finished)."""
    try:
        import json

        m = json.loads((Path(outdir) / "metrics.json").read_text())
        cands = checkpoint.candidates(Path(outdir) / "checkpoint")
        return m.get("status") == "completed" and bool(cands) and bool(
            checkpoint.read_state(cands[0]).get("finished"))
    except (OSError, ValueError, SolverError):
        return False


def run_case(case: Case, outdir: Path, comm: MPI.Comm = MPI.COMM_WORLD,
             restart: bool = False) -> dict:
    """Run ``case`` into ``outdir`` (or continue it from its last checkpoint).

    SolverErrors are raised identically on every rank, so their clean-up is collective. Any
    other exception may have happened on one rank only: then no collective is attempted
    (it would deadlock); rank 0 records what it knows and the CLI aborts all ranks."""
    t0 = time.perf_counter()
    out = RunDirectory(outdir, comm, fresh=not restart)
    out.write_case(case.model_dump(mode="json"))  # on restart: with any new run controls
    out.write_json("versions.json", {**versions(), "n_ranks": comm.size})
    metrics = {"status": "running", "case": case.name, "n_ranks": comm.size}
    collective = True
    try:
        with SignalTrap() as trap:  # from the start: a signal during set-up stops cleanly
            result, stop = _solve(case, out, comm, restart, trap)
        metrics.update(result)
        metrics["status"] = "completed" if stop != "max_steps" else "incomplete"
    except Interrupted as e:
        metrics.update(status="interrupted", error=f"stopped by {e}")
        cmd = f"solver run --restart {outdir}"
        log.warning(f"stopped by {e} after step {e.step}; checkpoint written. "
                    f"Continue with: {cmd}")
        raise RunInterrupted(f"stopped by {e} after step {e.step}; continue with: {cmd}") \
            from None
    except ConvergenceError as e:
        metrics.update(status="failed", error=str(e))
        raise ConvergenceError(f"{e} (last good state kept in {outdir}/checkpoint)",
                               field=e.field, reason=e.reason) from None
    except SolverError as e:
        metrics.update(status="failed", error=str(e))
        raise
    except BaseException as e:  # possibly on this rank only: no collectives from here
        collective = False
        status = "interrupted" if isinstance(e, KeyboardInterrupt) else "failed"
        metrics.update(status=status, error=f"{type(e).__name__}: {e}",
                       wall_time_s=time.perf_counter() - t0)
        if comm.rank == 0:
            try:
                out.write_json_here("metrics.json", metrics)
            except OSError:
                pass
        raise
    finally:
        if collective:
            metrics["wall_time_s"] = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
            out.write_metrics(metrics)
    if metrics["status"] == "incomplete":
        raise RunIncomplete(f"stopped at stepping.max_steps={case.stepping.max_steps} at "
                            f"t={metrics['final_time_s']:.6g} before end="
                            f"{case.stepping.end:g}; continue with: solver run --restart "
                            f"{outdir} --set stepping.max_steps=<more>")
    log.info(f"done in {metrics['wall_time_s']:.2f} s; results in {outdir}")
    return metrics


def _solve(case: Case, out: RunDirectory, comm, restart: bool, trap) -> tuple[dict, str]:
    materials = resolve_materials({k: v.model_dump(exclude_none=True)
                                   for k, v in case.materials.items()}, load_library())
    t = time.perf_counter()
    geo = build_geometry(case, comm)
    trap.arm()  # Gmsh replaces signal handlers while meshing
    n_cells = comm.allreduce(geo.mesh.topology.index_map(geo.dim).size_local, op=MPI.SUM)
    log.info(f"mesh: {n_cells} cells, {len(geo.regions)} regions "
             f"({time.perf_counter() - t:.2f} s)")
    problem = build_problem(case, geo, materials)
    log.info(problem.describe())
    clock = Clock(0, 0.0, case.stepping.dt0)
    ckdir = out.path / "checkpoint"
    fingerprint = case_fingerprint(case)
    segment = ""
    if restart:
        st, path = checkpoint.read_latest(ckdir, problem.state, comm,
                                          prepare=getattr(problem, "prepare_restart", None))
        if st.get("case_fingerprint") not in (None, fingerprint):
            raise CaseError(f"--restart {out.path}: case.yaml differs from the case the "
                            "checkpoint was written with; restore it or start a new run")
        clock = Clock(st["step"], st["t"], st["dt"])
        problem.set_time(clock.t)
        if hasattr(problem, "restore_scalar_state"):
            problem.restore_scalar_state(st.get("scalars", {}))
        out.truncate_history(clock.step)
        segment = f".restart-{clock.step}"
        log.info(f"restarted from {path} (written on {st['written_on_ranks']} ranks): "
                 f"step {clock.step}, t {clock.t:.6g}, dt {clock.dt:.4g}")
    else:
        out.start_history(HISTORY + problem.history_columns())
    adapts = hasattr(problem, "adapt_mesh")

    def open_writers(suffix: str) -> list:
        # VTX cannot append: a restarted run (or a new adapted mesh) continues the series
        # in new segment files
        return [FieldWriter(out.fields, comm, {name + suffix: fns})
                for name, fns in problem.output_groups().items()]

    writers = []
    mesh_seen = getattr(problem, "mesh_version", 0)
    if case.output.fields:
        writers = open_writers(segment)
        if not restart:
            _write_regions(getattr(problem, "geo", geo), out)
    ck = case.checkpoint
    last: dict = {}
    last_ck = {"step": -1, "wall": time.perf_counter()}

    def write_checkpoint(c: Clock, finished: bool = False):
        if last_ck["step"] == c.step and not finished:
            return
        checkpoint.write(ckdir, c.step, problem.state(),
                         {"t": c.t, "dt": c.dt, "finished": finished,
                          "case_fingerprint": fingerprint,
                          "scalars": getattr(problem, "scalar_state", dict)()},
                         comm, keep=ck.keep)
        last_ck.update(step=c.step, wall=time.perf_counter())

    def on_step(si):
        nonlocal last, writers, mesh_seen
        last = problem.metrics()
        out.append_history({"step": si.step, "time": si.t, "dt": si.dt,
                            "newton_iterations": si.newton_iterations,
                            "linear_iterations": si.linear_iterations,
                            "attempts": si.attempts, "wall_time_s": si.wall_time_s, **last})
        if hasattr(problem, "after_step"):
            problem.after_step(si, out)
        if writers:
            problem.update_outputs()  # the functions the writers hold
            for w in writers:
                w.write(si.t)
        # a front-following mesh adapts before any checkpoint of this step is written, so
        # every checkpoint holds the mesh the run continues on (not after the last step)
        if adapts and si.t < case.stepping.end - 1e-12 * max(1.0, case.stepping.end) \
                and problem.adapt_mesh():
            if writers and problem.mesh_version != mesh_seen:
                for w in writers:
                    w.close()
                writers = open_writers(f"{segment}.mesh-{si.step}")
            mesh_seen = problem.mesh_version
        due = (ck.every_steps and si.step % ck.every_steps == 0) or (
            ck.every_seconds and comm.allreduce(
                time.perf_counter() - last_ck["wall"] >= ck.every_seconds, op=MPI.LOR))
        if due:
            write_checkpoint(Clock(si.step, si.t, si.dt))
        return last

    try:
        if comm.allreduce(trap.received, op=MPI.MAX):  # a signal during set-up
            write_checkpoint(clock)
            raise Interrupted(comm.allreduce(trap.received, op=MPI.MAX), clock)
        stepper = Stepper(case.stepping, comm, case.debug)
        try:
            clock, stop = stepper.run(problem, clock, on_step, on_failure=write_checkpoint,
                                      trap=trap)
        except Interrupted as e:
            write_checkpoint(e.clock)
            raise
    finally:
        for w in writers:
            w.close()
    if stop == "max_steps":
        log.warning(f"stepping.max_steps={case.stepping.max_steps} reached at t={clock.t:.6g} "
                    f"before end={case.stepping.end:g}")
    write_checkpoint(clock, finished=stop != "max_steps")
    if not last:  # restarted at the end: recompute the final metrics from the state
        last = problem.metrics()
    extra = problem.finish(out, draw=case.output.figures)
    if getattr(problem, "_adapt", None) is not None:  # the last adapted mesh's cells
        n_cells = comm.allreduce(problem.mesh.topology.index_map(geo.dim).size_local,
                                 op=MPI.SUM)
    metrics = {"n_dofs": problem.n_dofs, "n_cells": n_cells, "n_steps": clock.step,
               "final_time_s": clock.t, "stop_reason": stop, **last, **extra}
    problem.destroy()
    return metrics, stop


def case_fingerprint(case: Case) -> str:
    """Hash of the resolved case without run controls and testing aids (what a restart
    must match). Keys at their default values are left out, so that a new option (added
    with a default that keeps the old behaviour) does not lock out older checkpoints."""
    import hashlib
    import json

    d = fingerprint_data(case)
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def fingerprint_data(case: Case) -> dict:
    """What ``case_fingerprint`` hashes: the case as JSON data without its default-valued
    keys, run controls and testing aids."""
    d = case.model_dump(mode="json", exclude_defaults=True)
    for k in ("debug", *RESTART_MUTABLE):
        d.pop(k, None)
    return d


def _write_regions(geo, out: RunDirectory) -> None:
    """Region ids (DG0) for ParaView, with the region names in a side file."""
    import dolfinx

    V0 = dolfinx.fem.functionspace(geo.mesh, ("DG", 0))
    reg = dolfinx.fem.Function(V0, name="region")
    reg.x.array[V0.dofmap.list[geo.cell_tags.indices, 0]] = geo.cell_tags.values
    reg.x.scatter_forward()
    w = FieldWriter(out.fields, geo.mesh.comm, {"regions": [reg]})
    w.write(0.0)
    w.close()
    out.write_json("fields/regions.json", geo.regions)
