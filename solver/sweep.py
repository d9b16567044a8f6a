"""Parameter sweeps: run the full product of ``--param`` values, one run directory per point.

    solver sweep CASE --param KEY=V1,V2,... [--param KEY2=...] [--set KEY=VALUE] -o DIR

Layout of DIR::

    sweep.json                  the sweep definition (case, params, common overrides, points)
    summary.csv                 one row per point: point, dir, swept values, status, metrics
    figures/sweep_<metric>.png  --metric against the first swept key
    p000_thickness=4e-09/       a normal run directory (see solver.io.output) per point,
    p001_thickness=8e-09/       plus stdout.txt (the point's own terminal output)

Two ways to run the points:

* the sweep on one process (the usual case): each point is a subprocess
  ``mpiexec -n NP solver run CASE --set ... -o POINTDIR``, up to ``--jobs`` at a time;
* the sweep under ``mpirun -n K``: the points run one after the other, in-process, each on all
  K ranks (``run_case`` on COMM_WORLD).

Resume: a point whose metrics.json says ``completed`` for the same resolved case is skipped; one
left ``interrupted`` with a checkpoint is continued (``solver run --restart``); anything else
is run again from scratch. So rerunning a killed sweep's command finishes it.

Every point's case is validated before any point starts: a bad value stops the sweep with a
CaseError that names the ``--param``.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import itertools
import json
import logging
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from solver.errors import CaseError, SolverError
from solver.io.output import MARKER

log = logging.getLogger("solver.sweep")

EXIT_INTERRUPTED = 75  # as solver.run: stopped by a signal, rerun the same command
DEFAULT_METRIC = "max_von_mises_Pa"
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
_MAX_NAME = 100


class SweepFailed(SolverError):
    """One or more points did not complete (the others did)."""

    exit_code = 3


class SweepInterrupted(SolverError):
    """The sweep was stopped by SIGTERM/SIGINT; rerunning the same command resumes it."""

    exit_code = EXIT_INTERRUPTED


# ---------------------------------------------------------------------------------------------
# pure helpers: parsing, product, names


def key_parts(key: str) -> list[str]:
    """``a.b[0].c`` (or ``a.b.0.c``) -> ['a', 'b', '0', 'c'] (as ``apply_overrides``)."""
    return [p for p in re.split(r"\.|\[(\d+)\]", key.strip()) if p]


def normalize_key(key: str) -> str:
    """Canonical spelling of a key path, as CaseError messages write it: ``a.b[0].c``."""
    out = ""
    for p in key_parts(key):
        out += f"[{p}]" if p.isdigit() else ("." if out else "") + p
    return out


def parse_scalar(text: str) -> Any:
    """A value as YAML reads it, except that YAML 1.1 leaves ``1e6`` (no dot) a string: here
    every plain number is a number."""
    try:
        v = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(v, str) and _NUMBER.fullmatch(v.strip()):
        return float(v)
    return v


def canonical(value: Any) -> str:
    """Stable text for a value (directory names, tables): shortest round-trip float repr."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


@dataclass(frozen=True)
class Param:
    key: str  # normalized key path
    texts: tuple[str, ...]  # the values as written (passed on as --set KEY=TEXT)
    values: tuple[Any, ...]  # the values as parsed

    @property
    def arg(self) -> str:
        return f"{self.key}={','.join(self.texts)}"


def parse_param(text: str) -> Param:
    """``KEY=V1,V2,...`` -> Param; CaseError for a malformed one."""
    if "=" not in text:
        raise CaseError(f"--param {text}: expected KEY=V1,V2,..., e.g. "
                        "geometry.coatings[0].thickness=4e-9,8e-9")
    key, vals = text.split("=", 1)
    if not key_parts(key):
        raise CaseError(f"--param {text}: empty key; expected KEY=V1,V2,...")
    if not vals.strip():
        raise CaseError(f"--param {text}: no values; expected KEY=V1,V2,...")
    texts = tuple(v.strip() for v in vals.split(","))
    if any(not t for t in texts):
        raise CaseError(f"--param {text}: empty value in the list (two commas, or a comma at "
                        "an end); lists inside values are not supported")
    values = tuple(parse_scalar(t) for t in texts)
    seen: dict[str, str] = {}
    for t, v in zip(texts, values, strict=True):
        c = canonical(v)
        if c in seen:
            raise CaseError(f"--param {text}: value {t} given twice (as {seen[c]})")
        seen[c] = t
    return Param(normalize_key(key), texts, values)


def parse_params(texts: list[str], overrides: list[str] | None = None) -> list[Param]:
    """All --param options: at least one, no key twice, none also given with --set."""
    if not texts:
        raise CaseError("sweep: give at least one --param KEY=V1,V2,...")
    params = [parse_param(t) for t in texts]
    keys: dict[str, str] = {}
    for p, t in zip(params, texts, strict=True):
        if p.key in keys:
            raise CaseError(f"--param {t}: key {p.key} is already swept by --param {keys[p.key]};"
                            " give each key once with all its values")
        keys[p.key] = t
    for ov in overrides or []:
        k = normalize_key(ov.split("=", 1)[0]) if "=" in ov else None
        if k in keys:
            raise CaseError(f"--set {ov}: {k} is also swept by --param {keys[k]}; drop one")
    return params


def labels(params: list[Param]) -> list[str]:
    """Short names for the swept keys in directory names: the last key component, or as many
    trailing components as make it unique (``metal.thickness`` vs ``coatings.0.thickness``)."""
    parts = [key_parts(p.key) for p in params]
    out = []
    for i, pp in enumerate(parts):
        n = 1
        while n < len(pp):
            tail = pp[-n:]
            clash = any(o[-n:] == tail for j, o in enumerate(parts) if j != i)
            if not clash and not tail[0].isdigit():
                break
            n += 1
        out.append(".".join(pp[-n:]))
    return out


def sanitize(text: str) -> str:
    """Filesystem-safe on Linux, macOS and Windows: letters, digits and ``._=+-``."""
    s = _UNSAFE.sub("_", text).strip("._")
    return s or "_"


@dataclass
class Point:
    index: int
    name: str  # directory name inside the sweep directory
    values: dict[str, Any]  # key -> parsed value
    overrides: list[str]  # the point's own --set KEY=TEXT
    # filled in while running
    action: str = ""  # skip | restart | fresh
    reason: str = ""
    status: str = "pending"
    error: str = ""
    wall_s: float | None = None
    metrics: dict = field(default_factory=dict)


def point_name(index: int, n_points: int, params: list[Param], values: tuple) -> str:
    """``p003_thickness=8e-09_value=2000000.0``: deterministic, sanitized, <= 100 chars."""
    width = max(3, len(str(n_points - 1)))
    body = "_".join(f"{lab}={canonical(v)}" for lab, v in zip(labels(params), values,
                                                              strict=True))
    name = sanitize(f"p{index:0{width}d}_{body}")
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1(name.encode()).hexdigest()[:8]
        name = name[: _MAX_NAME - 9].rstrip("._") + "_" + digest
    return name


def expand(params: list[Param]) -> list[Point]:
    """The full product; the last --param varies fastest."""
    combos = list(itertools.product(*[range(len(p.values)) for p in params]))
    points = []
    for i, idx in enumerate(combos):
        values = tuple(p.values[k] for p, k in zip(params, idx, strict=True))
        points.append(Point(
            index=i, name=point_name(i, len(combos), params, values),
            values={p.key: v for p, v in zip(params, values, strict=True)},
            overrides=[f"{p.key}={p.texts[k]}" for p, k in zip(params, idx, strict=True)]))
    return points


# ---------------------------------------------------------------------------------------------
# validation and resume decisions


def validate(case_path: Path, common: list[str], params: list[Param], points: list[Point],
             no_figures: bool = False) -> dict[str, dict]:
    """Validate every point's case (before anything runs); return point name -> resolved case
    (as written to its case.yaml). CaseError names the --param (or the point) at fault."""
    from solver.config.loader import apply_overrides, parse_case, read_yaml

    base = read_yaml(case_path)  # a missing or malformed file: as for `solver run`
    try:  # the case file with the common --set: its own errors are not the --param's fault
        parse_case(apply_overrides(copy.deepcopy(base), common), source=str(case_path))
    except CaseError as e:
        if not any(_blames(str(e), p.key) for p in params):
            raise
    resolved, errors = {}, []
    for pt in points:
        try:
            data = apply_overrides(copy.deepcopy(base), [*common, *pt.overrides])
            case = parse_case(data, source=str(case_path))
        except CaseError as e:
            errors.append(_blame(str(e), params, pt))
            continue
        if no_figures:
            case.output.figures = False
        resolved[pt.name] = case.model_dump(mode="json")
    if errors:
        unique = list(dict.fromkeys(errors))  # a bad value is in several points
        more = f" (and {len(unique) - 1} more problem(s))" if len(unique) > 1 else ""
        raise CaseError(unique[0] + more)
    return resolved


def _blames(msg: str, key: str) -> bool:
    return msg.startswith(f"--set {key}:") or any(msg.startswith(key + c) for c in ":.[")


def _blame(msg: str, params: list[Param], pt: Point) -> str:
    for p, ov in zip(params, pt.overrides, strict=True):
        text = ov.split("=", 1)[1]
        if msg.startswith(f"--set {p.key}:"):  # a key path that does not fit the case
            return f"--param {p.key}={text}: {msg[len(f'--set {p.key}:'):].strip()}"
        if _blames(msg, p.key):
            return f"--param {p.key}={text}: {msg}"
    where = " ".join(f"--param {ov}" for ov in pt.overrides)
    return f"sweep point {pt.name} ({where}): {msg}"


def _same_case(pointdir: Path, expected: dict | None) -> bool:
    from solver.config.loader import parse_case

    if expected is None:
        return True
    try:
        stored = yaml.safe_load((pointdir / "case.yaml").read_text())
        return parse_case(stored).model_dump(mode="json") == expected
    except Exception:  # missing, unreadable or no longer valid: not the same case
        return False


def read_metrics(pointdir: Path) -> dict | None:
    try:
        m = json.loads((Path(pointdir) / "metrics.json").read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) else None


def point_action(pointdir: Path, expected_case: dict | None = None) -> tuple[str, str]:
    """What to do with a point directory: ('skip' | 'restart' | 'fresh', why).

    skip: metrics.json status "completed" (and the same resolved case, when given);
    restart: status "interrupted", or killed hard (no metrics.json), with a checkpoint to
    continue from; fresh: anything else."""
    pointdir = Path(pointdir)
    if not pointdir.exists():
        return "fresh", "new"
    from solver.io import checkpoint

    m = read_metrics(pointdir)
    status = m.get("status") if m is not None else None
    has_checkpoint = checkpoint.latest(pointdir / "checkpoint") is not None
    if m is None and not has_checkpoint:
        return "fresh", "no metrics.json" if any(pointdir.iterdir()) else "new"
    # a hard kill (kill -9, node failure) leaves no metrics.json but its checkpoints
    killed = status is None or status == "running"
    if (status in ("completed", "interrupted") or killed) and not _same_case(pointdir,
                                                                             expected_case):
        return "fresh", f"{status or 'killed'} with a different case (case file or --set changed)"
    if status == "completed":
        return "skip", "completed"
    if status == "interrupted" or killed:
        if has_checkpoint:
            return "restart", f"{status or 'killed'}, continuing from its checkpoint"
        return "fresh", f"{status or 'killed'} without a checkpoint"
    return "fresh", f"status {status}"


# ---------------------------------------------------------------------------------------------
# the sweep


@dataclass
class Sweep:
    case: Path
    params: list[Param]
    outdir: Path
    overrides: list[str] = field(default_factory=list)
    jobs: int = 1
    np: int = 1
    metric: str = DEFAULT_METRIC
    no_figures: bool = False
    verbose: bool = False
    points: list[Point] = field(default_factory=list)

    def definition(self) -> dict:
        return {"case": str(self.case), "overrides": list(self.overrides),
                "params": [{"key": p.key, "values": list(p.values), "texts": list(p.texts)}
                           for p in self.params],
                "jobs": self.jobs, "np": self.np, "metric": self.metric,
                "no_figures": self.no_figures,
                "points": [{"point": pt.index, "dir": pt.name, "values": pt.values,
                            "overrides": pt.overrides} for pt in self.points]}


def run_sweep(sw: Sweep, comm) -> list[Point]:
    """Validate, run (or skip/continue) every point, write summary.csv and the figure.

    Raises SweepInterrupted (exit 75) when stopped by a signal, SweepFailed (exit 3) when a
    point did not complete; summary and table are written in every case."""
    if sw.jobs < 1:
        raise CaseError(f"--jobs {sw.jobs}: must be >= 1")
    if sw.np < 1:
        raise CaseError(f"--np {sw.np}: must be >= 1")
    parallel = comm.size > 1
    if parallel and sw.jobs != 1:
        raise CaseError(f"--jobs {sw.jobs}: under mpirun the points run one after the other "
                        f"on all {comm.size} ranks; drop --jobs, or start the sweep without "
                        "mpirun to run points concurrently (--jobs N --np NP)")
    if parallel and sw.np != 1:
        raise CaseError(f"--np {sw.np}: under mpirun each point runs on the sweep's "
                        f"{comm.size} ranks; drop --np")
    sw.points = expand(sw.params)
    resolved = validate(sw.case, sw.overrides, sw.params, sw.points, sw.no_figures)

    rank0 = comm.rank == 0
    if rank0:
        sw.outdir.mkdir(parents=True, exist_ok=True)
        _note_changed_definition(sw)
        _write_json_atomic(sw.outdir / "sweep.json", sw.definition())
    comm.barrier()
    decisions = [point_action(sw.outdir / pt.name, resolved[pt.name]) for pt in sw.points] \
        if rank0 else None
    decisions = comm.bcast(decisions, root=0)
    for pt, (action, reason) in zip(sw.points, decisions, strict=True):
        pt.action, pt.reason = action, reason
    shape = " x ".join(str(len(p.values)) for p in sw.params)
    todo = [pt for pt in sw.points if pt.action != "skip"]
    how = (f"in-process on {comm.size} ranks, one point at a time" if parallel else
           f"{sw.jobs} job(s) of {sw.np} rank(s)")
    log.info(f"sweep {sw.case}: {len(sw.points)} point(s) ({shape}) -> {sw.outdir}; "
             f"{len(sw.points) - len(todo)} already completed, {len(todo)} to run ({how})")
    for pt in sw.points:
        if pt.action == "skip":
            pt.status = "completed"
            log.info(f"  {pt.name}: skipped (completed)")

    interrupted = False
    try:
        if parallel:
            interrupted = _run_in_process(sw, todo, comm)
        else:
            interrupted = _run_subprocesses(sw, todo)
    finally:  # also after an error in the sweep itself: report what is on disk (rank 0 only)
        if rank0:
            for pt in sw.points:
                if pt.status != "pending":  # not started: what is on disk is not this sweep's
                    pt.metrics = read_metrics(sw.outdir / pt.name) or {}
            write_summary(sw.outdir / "summary.csv", sw.params, sw.points)
            plot_metric(sw.outdir / "figures", sw.params, sw.points, sw.metric)
            _print_table(sw)
    comm.barrier()

    failed = [pt for pt in sw.points if pt.status != "completed"]
    n_ran = sum(pt.action == "fresh" and pt.status != "pending" for pt in sw.points)
    n_restarted = sum(pt.action == "restart" and pt.status != "pending" for pt in sw.points)
    n_skipped = sum(pt.action == "skip" for pt in sw.points)
    if rank0:
        print(f"sweep: {len(sw.points)} point(s): {n_ran} ran, {n_restarted} restarted, "
              f"{n_skipped} skipped, {len(failed)} not completed; "
              f"summary: {sw.outdir / 'summary.csv'}")
        sys.stdout.flush()
    if interrupted:
        raise SweepInterrupted(f"sweep stopped by a signal; {len(failed)} point(s) not "
                               "completed; rerun the same command to resume")
    if failed:
        names = ", ".join(f"{pt.name} ({pt.status})" for pt in failed)
        raise SweepFailed(f"{len(failed)} of {len(sw.points)} sweep point(s) did not "
                          f"complete: {names}; see their stdout.txt / log.txt, then rerun the "
                          "same command (completed points are skipped)")
    return sw.points


def _note_changed_definition(sw: Sweep) -> None:
    try:
        old = json.loads((sw.outdir / "sweep.json").read_text())
    except (OSError, ValueError):
        return
    new = json.loads(json.dumps(sw.definition(), default=str))
    if {k: old.get(k) for k in ("case", "overrides", "params")} != \
            {k: new[k] for k in ("case", "overrides", "params")}:
        log.info(f"{sw.outdir / 'sweep.json'}: the sweep definition changed; points of the "
                 "earlier definition are left alone and not summarised")


def _solver_command(np: int) -> list[str]:
    """``mpiexec -n NP solver`` next to the running Python (the venv), with fall-backs."""
    bindir = Path(sys.executable).parent
    exe = bindir / "solver"
    solver = [str(exe)] if exe.exists() else [sys.executable, "-m", "solver"]
    mpiexec = bindir / "mpiexec"
    mpiexec = str(mpiexec) if mpiexec.exists() else shutil.which("mpiexec")
    if mpiexec is None:
        if np > 1:
            raise CaseError(f"--np {np}: no mpiexec next to {sys.executable} or on PATH")
        return solver
    return [mpiexec, "-n", str(np), *solver]


def _child_env() -> dict:
    """The environment without the MPI launcher's variables of this (singleton or mpiexec -n
    1) process, so that each point's own mpiexec starts a fresh MPI job."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("PMI_", "PMIX_", "MPI_", "HYDRA_", "OMPI_"))}


def point_command(sw: Sweep, pt: Point) -> list[str]:
    cmd = [*_solver_command(sw.np), "run"]
    pointdir = str(sw.outdir / pt.name)
    if pt.action == "restart":
        cmd += ["--restart", pointdir]
    else:
        cmd += [str(sw.case)]
        for ov in [*sw.overrides, *pt.overrides]:
            cmd += ["--set", ov]
        cmd += ["-o", pointdir]
    if sw.no_figures:
        cmd.append("--no-figures")
    if sw.verbose:
        cmd.append("-v")
    return cmd


def _run_subprocesses(sw: Sweep, todo: list[Point]) -> bool:
    """Up to ``jobs`` concurrent ``mpiexec -n NP solver run`` subprocesses. A SIGTERM/SIGINT
    is passed on to the running points (which checkpoint and exit 75) and no new point
    starts. Returns True when stopped by a signal."""
    from solver.coupling.stepping import SignalTrap

    cpus = os.cpu_count() or 1
    if min(sw.jobs, len(todo)) * sw.np > cpus:
        log.warning(f"--jobs {sw.jobs} x --np {sw.np} ranks > {cpus} CPU cores: the points "
                    "will compete for cores")
    pending = deque(todo)
    running: dict[subprocess.Popen, tuple[Point, float, Any]] = {}
    env = _child_env()
    n_total, n_started = len(todo), 0
    stopped = False
    with SignalTrap() as trap:
        try:
            while running or (pending and not stopped):
                while pending and len(running) < sw.jobs and not stopped and not trap.received:
                    pt = pending.popleft()
                    n_started += 1
                    pointdir = sw.outdir / pt.name
                    pointdir.mkdir(parents=True, exist_ok=True)
                    (pointdir / MARKER).touch()  # a run directory, though stdout.txt exists
                    if pt.action == "fresh":
                        (pointdir / "metrics.json").unlink(missing_ok=True)
                    cmd = point_command(sw, pt)
                    out = open(pointdir / "stdout.txt", "a" if pt.action == "restart" else "w")
                    out.write("$ " + " ".join(cmd) + "\n")
                    out.flush()
                    verb = "continuing" if pt.action == "restart" else "running"
                    log.info(f"[{n_started}/{n_total}] {pt.name}: {verb} ({pt.reason})")
                    log.debug("  " + " ".join(cmd))
                    # own session: a Ctrl-C reaches the sweep only, which passes it on once
                    p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
                    pt.status = "running"
                    running[p] = (pt, time.perf_counter(), out)
                if trap.received:  # pass each signal on to the running points once
                    log.warning(f"{signal.Signals(trap.received).name}: stopping the running "
                                "points after their current step; no new point starts")
                    trap.received, stopped = 0, True
                    for p in running:
                        _signal(p, signal.SIGTERM)
                time.sleep(0.05)
                for p in [p for p in running if p.poll() is not None]:
                    pt, t0, out = running.pop(p)
                    out.close()
                    _finish_subprocess(sw, pt, p.returncode, time.perf_counter() - t0)
        finally:
            for p, (_, _, out) in running.items():  # an error in the sweep itself
                _signal(p, signal.SIGTERM)
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                out.close()
    return stopped


def _signal(p: subprocess.Popen, sig: int) -> None:
    try:
        p.send_signal(sig)
    except ProcessLookupError:
        pass


def _finish_subprocess(sw: Sweep, pt: Point, rc: int, wall: float) -> None:
    pt.wall_s = wall
    m = read_metrics(sw.outdir / pt.name) or {}
    status = m.get("status")
    if rc == 0 and status == "completed":
        pt.status = "completed"
        log.info(f"  {pt.name}: completed in {wall:.1f} s")
        return
    pt.status = "interrupted" if rc == EXIT_INTERRUPTED else "failed"
    pt.error = str(m.get("error") or _last_error(sw.outdir / pt.name / "stdout.txt")
                   or f"exit code {rc}")
    log.warning(f"  {pt.name}: {pt.status} (exit code {rc}): {pt.error}")


def _last_error(path: Path) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errs = [ln for ln in lines if ln.startswith("error:")]
    return errs[-1][len("error:"):].strip() if errs else ""


def _run_in_process(sw: Sweep, todo: list[Point], comm) -> bool:
    """Under mpirun: each point on the whole communicator, one after the other."""
    from mpi4py import MPI

    from solver.config import load_case
    from solver.coupling.stepping import SignalTrap
    from solver.io import log as runlog
    from solver.run import RunInterrupted, load_restart_case, run_case

    with SignalTrap() as trap:
        for n, pt in enumerate(todo, 1):
            if comm.allreduce(trap.received, op=MPI.MAX):
                log.warning("signal received: stopping the sweep before the next point")
                return True
            pointdir = sw.outdir / pt.name
            restart = pt.action == "restart"
            if comm.rank == 0:
                pointdir.mkdir(parents=True, exist_ok=True)
                (pointdir / MARKER).touch()
                if not restart:
                    (pointdir / "log.txt").unlink(missing_ok=True)
                    (pointdir / "metrics.json").unlink(missing_ok=True)
                runlog.add_logfile(pointdir / "log.txt")
            verb = "continuing" if restart else "running"
            log.info(f"[{n}/{len(todo)}] {pt.name}: {verb} ({pt.reason}) on {comm.size} ranks")
            t0 = time.perf_counter()
            pt.status = "running"
            try:
                if restart:
                    case = load_restart_case(pointdir)
                else:
                    case = load_case(sw.case, [*sw.overrides, *pt.overrides])
                if sw.no_figures:
                    case.output.figures = False
                run_case(case, pointdir, comm, restart=restart)
                pt.status = "completed"
            except RunInterrupted as e:
                pt.status, pt.error = "interrupted", str(e)
                return True
            except SolverError as e:  # raised identically on every rank
                pt.status, pt.error = "failed", str(e)
                log.warning(f"  {pt.name}: failed: {e}")
            finally:
                pt.wall_s = time.perf_counter() - t0
                runlog.close()
            if pt.status == "completed":
                log.info(f"  {pt.name}: completed in {pt.wall_s:.1f} s")
    return False


# ---------------------------------------------------------------------------------------------
# outputs


def _write_json_atomic(path: Path, obj: dict) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _scalar(v) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def summary_rows(params: list[Param], points: list[Point]) -> tuple[list[str], list[list]]:
    """Columns: point, dir, each swept key, status, then the union of the points' scalar
    metrics (sorted by name)."""
    mkeys = sorted({k for pt in points for k, v in pt.metrics.items()
                    if _scalar(v) and k != "status"})
    header = ["point", "dir", *[p.key for p in params], "status", *mkeys]
    rows = []
    for pt in points:
        m = {**pt.metrics}
        if pt.error and not m.get("error"):
            m["error"] = pt.error
        row = [pt.index, pt.name, *[pt.values[p.key] for p in params], pt.status]
        row += [_cell(m.get(k)) for k in mkeys]
        rows.append(row)
    if any(pt.error for pt in points) and "error" not in mkeys:
        header.append("error")
        for row, pt in zip(rows, points, strict=True):
            row.append(pt.error)
    rows = [[_cell(v) for v in r] for r in rows]
    return header, rows


def _cell(v):
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def write_summary(path: Path, params: list[Param], points: list[Point]) -> None:
    header, rows = summary_rows(params, points)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    os.replace(tmp, path)


def use_log_x(xs: list[float]) -> bool:
    """Log x axis when every value is positive and they span more than a factor 10."""
    return bool(xs) and min(xs) > 0 and max(xs) / min(xs) > 10


def plot_metric(figdir: Path, params: list[Param], points: list[Point],
                metric: str) -> Path | None:
    """``figures/sweep_<metric>.png``: metric against the first swept key, one line per
    combination of the other keys. Completed points only; None when nothing to plot."""
    have = [pt for pt in points if pt.status == "completed"
            and isinstance(pt.metrics.get(metric), (int, float))
            and not isinstance(pt.metrics.get(metric), bool)]
    if not have:
        names = sorted({k for pt in points for k, v in pt.metrics.items()
                        if isinstance(v, (int, float)) and not isinstance(v, bool)})
        if any(pt.status == "completed" for pt in points):
            log.warning(f"--metric {metric}: no completed point has it; no figure. "
                        f"Metrics: {', '.join(names)}")
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, rest = params[0], params[1:]
    xs_all = list(first.values)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in xs_all)
    xpos = {canonical(v): (float(v) if numeric else i) for i, v in enumerate(xs_all)}
    groups: dict[tuple, list[Point]] = {}
    for pt in have:
        groups.setdefault(tuple(canonical(pt.values[p.key]) for p in rest), []).append(pt)
    fig, ax = plt.subplots(figsize=(7, 4.5))
    labs = labels(params)[1:]
    for pts in groups.values():
        pts.sort(key=lambda pt: xpos[canonical(pt.values[first.key])])
        x = [xpos[canonical(pt.values[first.key])] for pt in pts]
        y = [float(pt.metrics[metric]) for pt in pts]
        vals = [pts[0].values[p.key] for p in rest]
        label = ", ".join(f"{lab}={_short(v)}" for lab, v in zip(labs, vals, strict=True))
        ax.plot(x, y, "o-", label=label or None)
    if numeric and use_log_x([float(v) for v in xs_all]):
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(range(len(xs_all)), [_short(v) for v in xs_all])
    ax.set_xlabel(first.key)
    ax.set_ylabel(metric)
    ax.set_title(f"sweep: {metric} vs {labels(params)[0]}")
    ax.grid(True, alpha=0.3)
    if rest:
        ax.legend(fontsize=8)
    fig.tight_layout()
    figdir.mkdir(parents=True, exist_ok=True)
    path = figdir / f"sweep_{sanitize(metric)}.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def _short(v) -> str:
    return f"{v:.4g}" if isinstance(v, float) else canonical(v)


def _print_table(sw: Sweep) -> None:
    width = max(len(pt.name) for pt in sw.points)
    what = {"skip": "skipped", "restart": "restarted", "fresh": "ran"}
    print(f"{'point':{width}s}  {'action':9s}  {'status':11s}  {'wall_s':>7s}  {sw.metric}")
    for pt in sw.points:
        act = "not run" if pt.status == "pending" else what.get(pt.action, "")
        wall = f"{pt.wall_s:7.1f}" if pt.wall_s is not None else f"{'':7s}"
        val = pt.metrics.get(sw.metric) if pt.status == "completed" else None
        val = f"{val:.6g}" if isinstance(val, (int, float)) and math.isfinite(val) else ""
        err = f"  {pt.error}" if pt.status != "completed" and pt.error else ""
        print(f"{pt.name:{width}s}  {act:9s}  {pt.status:11s}  {wall}  {val}{err}")
    sys.stdout.flush()
