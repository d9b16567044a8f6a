"""The stepping loop's control logic, on a scripted fake problem (no finite elements).

What: solver.coupling.stepping.Stepper.
Against: hand-computed step sequences: dt growth after easy steps up to dt_max, cut-back
and state restore after failures and too-large changes, the final step landing exactly on
`end`, the stop condition, failure below dt_min with the on_failure hook called first.
"""

from __future__ import annotations

import numpy as np
import pytest

from mpi4py import MPI

from solver.config.schema import Debug, Stepping
from solver.coupling.stepping import Clock, Stepper
from solver.errors import ConvergenceError


class _Arr:
    def __init__(self):
        self.array = np.zeros(3)


class _Fn:
    def __init__(self):
        self.x = _Arr()


class FakeProblem:
    """solve(t) sets the state to t; `plan(t, dt)` decides (newton its, change) or failure."""

    def __init__(self, plan):
        self.u = _Fn()
        self.plan = plan
        self.calls = []

    def state(self):
        return {"u": self.u}

    def solve(self, t):
        dt = t - self.u.x.array[0]
        self.calls.append((round(t, 12), round(dt, 12)))
        self.u.x.array[:] = t
        its, change = self.plan(t, dt)
        if its is None:
            raise ConvergenceError("diverged", field="u", reason=-3)
        return {"newton_iterations": its, "linear_iterations": 1, "change": change}


def _run(cfg, plan, debug=None, **kw):
    p = FakeProblem(plan)
    seen = []

    def on_step(si):
        seen.append((si.step, round(si.t, 12), round(si.dt, 12), si.attempts))
        assert p.u.x.array[0] == pytest.approx(si.t)  # state is the accepted one
        return {"m": si.t}

    clock, reason = Stepper(cfg, MPI.COMM_SELF, debug).run(p, Clock(0, 0.0, cfg.dt0), on_step,
                                                           **kw)
    p.reason = reason
    return clock, seen, p


def test_growth_to_dt_max_and_exact_end():
    """Easy steps grow dt by 2 up to dt_max = 0.4; the last step is shortened to hit 1.0."""
    cfg = Stepping(end=1.0, dt=0.1, dt_max=0.4, growth=2.0)
    clock, seen, p = _run(cfg, lambda t, dt: (1, 0.0))
    assert [s[2] for s in seen] == [0.1, 0.2, 0.4, 0.3]
    assert clock.t == pytest.approx(1.0) and clock.step == 4 and p.reason == "end"


def test_no_growth_after_hard_steps():
    """Steps needing more than easy_iterations Newton iterations keep dt."""
    cfg = Stepping(end=1.0, dt=0.25, dt_max=1.0, growth=2.0, easy_iterations=3)
    _, seen, _ = _run(cfg, lambda t, dt: (5, 0.0))
    assert [s[2] for s in seen] == [0.25] * 4


def test_cutback_restores_state_and_retries():
    """A failure at t > 0.5 with dt > 0.1 is retried with halved dt from the restored state."""
    cfg = Stepping(end=1.0, dt=0.25, cutback=0.5)
    plan = lambda t, dt: (None, 0) if (t > 0.5 and dt > 0.1) else (1, 0.0)  # noqa: E731
    clock, seen, p = _run(cfg, plan)
    assert seen[:2] == [(1, 0.25, 0.25, 1), (2, 0.5, 0.25, 1)]
    assert seen[2] == (3, 0.5625, 0.0625, 3)  # 0.25 -> 0.125 -> 0.0625
    assert clock.t == pytest.approx(1.0)


def test_max_change_rejects_large_steps():
    """A step whose reported change (here 2 dt) exceeds max_change=0.3 is cut back."""
    cfg = Stepping(end=0.6, dt=0.6, max_change=0.3)
    _, seen, _ = _run(cfg, lambda t, dt: (1, 2 * dt))
    assert all(2 * s[2] <= 0.3 + 1e-12 for s in seen)
    assert seen[0][3] == 3  # 0.6 and 0.3 rejected, 0.15 accepted


def test_failure_below_dt_min_calls_hook_then_raises():
    """Always failing: dt halves down to dt_min, on_failure gets the last good clock."""
    cfg = Stepping(end=1.0, dt=0.5, dt_min=0.1)
    hooked = []
    plan = lambda t, dt: (None, 0) if t > 0.5 else (1, 0.0)  # noqa: E731
    with pytest.raises(ConvergenceError, match="dt_min"):
        _run(cfg, plan, on_failure=lambda c: hooked.append((c.step, c.t)))
    assert hooked == [(1, 0.5)]


def test_stop_condition_and_injected_failure():
    """stop: {metric: m, above: 0.45} ends after t=0.5; an injected failure at step 1 is
    retried once with dt/2."""
    cfg = Stepping(end=1.0, dt=0.25, stop={"metric": "m", "above": 0.45})
    debug = Debug(inject_failure={"step": 1, "attempts": 1})
    clock, seen, p = _run(cfg, lambda t, dt: (1, 0.0), debug=debug)
    assert seen[0] == (1, 0.125, 0.125, 2)
    assert clock.t == pytest.approx(0.5) and p.reason == "stop_condition"


def test_max_steps_reported():
    """Reaching max_steps before end says so (the run is then not 'completed')."""
    cfg = Stepping(end=1.0, dt=0.25, max_steps=2)
    clock, _, p = _run(cfg, lambda t, dt: (1, 0.0))
    assert clock.step == 2 and clock.t == pytest.approx(0.5) and p.reason == "max_steps"


def test_failed_factorisation_does_not_poison_the_next_solve():
    """A Newton solve whose LU factorisation fails (a zero pivot: F(u) = u^2 - 1 started at
    u = 0, J = 2u = 0) is reported as a failure (reason <= 0), and the next solve from a
    good start (u = 2) converges to u = 1. Against: without
    numerics.petsc_options.reset_preconditioner, MUMPS keeps its failed state and that
    second solve stops with a PETSc error (INFOG(1) = -3), so no time-step cut-back could
    ever recover from a singular Jacobian."""
    import solver.compat  # noqa: F401
    import dolfinx
    import dolfinx.fem.petsc
    import ufl

    from solver.numerics import petsc_options as popts

    mesh = dolfinx.mesh.create_unit_interval(MPI.COMM_WORLD, 4)
    V = dolfinx.fem.functionspace(mesh, ("DG", 0))
    u, v = dolfinx.fem.Function(V), ufl.TestFunction(V)
    opts = {**popts.DIRECT, "snes_type": "newtonls", "snes_linesearch_type": "basic",
            "snes_max_it": 20, "snes_rtol": 1e-12, "snes_atol": 1e-12}
    problem = dolfinx.fem.petsc.NonlinearProblem((u * u - 1) * v * ufl.dx, u,
                                                 petsc_options_prefix="recover_test_",
                                                 petsc_options=opts)
    reason, _, _ = popts.solve_nonlinear(problem)
    assert reason <= 0
    u.x.array[:] = 2.0
    reason, its, _ = popts.solve_nonlinear(problem)
    assert reason > 0 and its > 2
    assert np.allclose(u.x.array, 1.0)
    popts.destroy_nonlinear(problem, "recover_test_", opts)
