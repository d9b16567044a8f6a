"""The one stepping loop every physics runs through (quasi-static load or transient time).

A problem exposes
    solve(t) -> {"newton_iterations": int, "linear_iterations": int, "change"?: float}
        (a step of several nonlinear solves, a coupling loop or galvanostatic control,
        reports the most Newton iterations one of them took: that judges an easy step)
        (may raise
        ConvergenceError; for quasi-static problems t is the load factor)
    set_time(t)   (loads at t without solving: used after a restart)
    state() -> {name: dolfinx Function}   (what a checkpoint stores and a cut-back restores)

The stepper
- adapts dt: a failed solve (or one whose reported ``change`` exceeds max_change)
  restores the last good state and retries with dt * cutback
  until dt < dt_min (then ConvergenceError, after the caller's ``on_failure`` hook has
  checkpointed the last good state); an easy step (<= easy_iterations Newton iterations)
  grows dt by ``growth`` up to dt_max;
- calls ``on_step`` after every accepted step (history, fields, checkpoints);
- stops at ``end``, after ``max_steps``, when ``stop`` says so, or when a SIGTERM/SIGINT
  arrived on any rank (agreed collectively after each step, so all ranks stop together).
"""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from mpi4py import MPI

from solver.errors import ConvergenceError

log = logging.getLogger("solver.stepping")


@dataclass
class Clock:
    step: int = 0
    t: float = 0.0
    dt: float = 1.0


@dataclass
class StepInfo:
    step: int
    t: float
    dt: float
    newton_iterations: int
    linear_iterations: int
    attempts: int
    wall_time_s: float
    extra: dict = field(default_factory=dict)


class Interrupted(Exception):
    """A termination signal arrived; the state after ``step`` is consistent."""

    def __init__(self, signum: int, clock: Clock):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.clock = clock
        self.step = clock.step


class SignalTrap:
    """Record SIGTERM/SIGINT instead of dying mid-step (what Slurm sends at time-out)."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self):
        self.received: int = 0
        self._old = {}

    def __enter__(self):
        for s in self.SIGNALS:
            try:
                self._old[s] = signal.signal(s, self._handler)
            except ValueError:  # not the main thread
                pass
        return self

    def arm(self) -> None:
        """Install the handlers again (the Gmsh library installs its own while meshing)."""
        for s in self._old:
            signal.signal(s, self._handler)

    def _handler(self, signum, frame):
        self.received = int(signum)

    def __exit__(self, *exc):
        for s, h in self._old.items():
            signal.signal(s, h)
        return False


class Stepper:
    def __init__(self, cfg, comm, debug=None):
        self.cfg = cfg
        self.comm = comm
        self.debug = debug
        self._injected: dict[int, int] = {}

    def _inject(self, step: int) -> None:
        inj = self.debug.inject_failure if self.debug is not None else None
        if inj is None or inj.step != step:
            return
        n = self._injected.get(step, 0)
        if inj.attempts < 0 or n < inj.attempts:
            self._injected[step] = n + 1
            raise ConvergenceError(f"injected failure (debug.inject_failure) at step {step}",
                                   field="injected")

    def run(self, problem, clock: Clock, on_step: Callable[[StepInfo], dict],
            on_failure: Callable[[Clock], None] | None = None,
            trap: SignalTrap | None = None) -> tuple[Clock, str]:
        """Step until done; returns the final clock and why it stopped: "end",
        "stop_condition" or "max_steps"."""
        cfg = self.cfg
        end, eps = cfg.end, 1e-12 * cfg.end
        dt = min(clock.dt, cfg.dt_hi)
        t_run = time.perf_counter()
        reason = "end"
        while clock.t < end - eps:
            if clock.step >= cfg.max_steps:
                reason = "max_steps"
                break
            step = clock.step + 1
            dt = min(dt, end - clock.t)
            saved = {k: f.x.array.copy() for k, f in problem.state().items()}
            attempts, t0 = 0, time.perf_counter()
            while True:
                attempts += 1
                try:
                    self._inject(step)
                    info = problem.solve(clock.t + dt)
                    change = info.get("change")
                    if cfg.max_change is not None and change is not None \
                            and change > cfg.max_change:
                        raise ConvergenceError(f"change {change:.3g} exceeds stepping."
                                               f"max_change {cfg.max_change:.3g}",
                                               field="change")
                    break
                except ConvergenceError as e:
                    for k, f in problem.state().items():
                        f.x.array[:] = saved[k]
                    new_dt = dt * cfg.cutback
                    if new_dt < cfg.dt_lo * (1 - 1e-12) or not e.recoverable:
                        if on_failure is not None:
                            on_failure(clock)
                        why = (f"no convergence down to dt={dt:.3g} (dt_min {cfg.dt_lo:.3g})"
                               if e.recoverable else "a smaller step cannot help")
                        raise ConvergenceError(f"step {step} at t={clock.t:.6g}: {e}; {why}",
                                               field=e.field, reason=e.reason,
                                               recoverable=False) from None
                    log.warning(f"step {step}: {e}; cutting dt {dt:.4g} -> {new_dt:.4g}")
                    dt = new_dt
            clock = Clock(step, clock.t + dt, dt)
            wall = time.perf_counter() - t0
            si = StepInfo(step, clock.t, dt, int(info.get("newton_iterations", 0)),
                          int(info.get("linear_iterations", 0)), attempts, wall)
            log.info(f"step {step:5d}  t {clock.t:11.5g}  dt {dt:9.3g}  "
                     f"newton {si.newton_iterations:2d}  linear {si.linear_iterations:4d}  "
                     f"{wall:7.3f} s  (run {time.perf_counter() - t_run:8.2f} s)")
            if self.comm.rank == 0:
                _progress(clock.t / end)
            metrics = on_step(si)
            if si.newton_iterations <= cfg.easy_iterations:
                dt = min(dt * cfg.growth, cfg.dt_hi)
            clock.dt = dt
            if cfg.stop is not None and _stop(cfg.stop, metrics):
                log.info(f"stop condition met: {cfg.stop.metric} = "
                         f"{metrics.get(cfg.stop.metric)!r}")
                reason = "stop_condition"
                break
            self._debug_signals(step)
            sig = self.comm.allreduce(trap.received if trap else 0, op=MPI.MAX)
            if sig and clock.t < end - eps:  # at the end there is nothing left to resume
                raise Interrupted(sig, clock)
        if self.comm.rank == 0:
            _progress(None)
        return clock, reason

    def _debug_signals(self, step: int) -> None:
        d = self.debug
        if d is None:
            return
        if d.abort_after_step == step:
            import os

            self.comm.barrier()
            os._exit(137)
        if d.signal_after_step == step:
            import os

            os.kill(os.getpid(), signal.SIGTERM)


def _stop(cond, metrics: dict) -> bool:
    v = metrics.get(cond.metric)
    if v is None:
        return False
    return (cond.above is not None and v > cond.above) or (
        cond.below is not None and v < cond.below)



def _progress(frac: float | None) -> None:
    """A progress bar on stderr when attached to a terminal (rank 0's log has the lines)."""
    if not sys.stderr.isatty() or not logging.getLogger("solver").isEnabledFor(logging.INFO):
        return
    if frac is None:
        sys.stderr.write("\n")
        return
    n = int(40 * min(max(frac, 0.0), 1.0))
    sys.stderr.write(f"\r[{'#' * n}{'.' * (40 - n)}] {100 * frac:5.1f} %")
    sys.stderr.flush()
