"""Quasi-static load stepping: the one loop every quasi-static physics runs through.

A problem exposes ``solve(factor) -> dict`` (iteration counts) and may raise
ConvergenceError. The stepper walks the load factor from 1/n to 1 and calls
``on_step(step, factor, info, wall_s)`` after each converged step. (Adaptive steps,
cut-backs and checkpoints come with the run-lifecycle work and plug in here.)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("solver.stepping")


@dataclass
class StepResult:
    n_steps: int
    final_factor: float


class QuasiStaticStepper:
    def __init__(self, n_steps: int):
        if n_steps < 1:
            raise ValueError("n_steps must be >= 1")
        self.n_steps = n_steps

    def factors(self) -> list[float]:
        return [(i + 1) / self.n_steps for i in range(self.n_steps)]

    def run(self, problem, on_step: Callable[[int, float, dict, float], None]) -> StepResult:
        t_start = time.perf_counter()
        factor = 0.0
        for step, factor in enumerate(self.factors(), start=1):
            t0 = time.perf_counter()
            info = problem.solve(factor)
            wall = time.perf_counter() - t0
            log.info(
                f"step {step:4d}/{self.n_steps}  load {factor:7.4f}  "
                f"newton {info.get('newton_iterations', 0):2d}  "
                f"linear {info.get('linear_iterations', 0):4d}  "
                f"{wall:7.3f} s  (total {time.perf_counter() - t_start:7.2f} s)"
            )
            on_step(step, factor, info, wall)
        return StepResult(self.n_steps, factor)
