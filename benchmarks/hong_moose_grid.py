"""Hong's base case on Hong's own grid: does the flat front roughen faster when the
interface is resolved by one cell, as in his MOOSE input (`make hong-moose-grid`, NP=2)?

The model, parameters, potential (-0.45 V), domain (200 x 200 um), initial front
(1/2 (1 - tanh(2 (y - 20 um) / 1 um)), Hong's) and fixed step (0.02 s) are Hong's; the
mesh is his too: 200 x 200 bilinear quadrilaterals of 1 um, one cell across the interface
width sqrt(8 kappa / W) = 1 um (our cases use four). The noise is ours at his strength
(amplitude 0.04 1/s, correlation time 0.02 s, correlation length 0.72 um:
docs/electrodeposition.md, "Noise"). It steps through the solver's Stepper: a failed
step is halved (down to 0.02 / 16 s), then doubled back to 0.02 s.
Every 50 steps the front's relief (highest minus lowest xi = 1/2 point) is printed and
written to runs/hong_moose_grid/relief.csv; END (s, default 35) and N (cells per side,
default 200: 2N = 400 is 0.5 um) change the run. Compare with the relief column of the
resolved run (`solver run cases/hong2018.yaml`, history.csv).
"""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI

from solver.config.schema import Stepping
from solver.coupling.stepping import Clock, Stepper
from solver.errors import ConvergenceError
from solver.physics import electrodeposition as ed
from solver.problems.electrodeposition import ElectrodepositionProblem

ROOT = Path(__file__).resolve().parents[1]
UM = 1.0e-6


def main() -> None:
    n, end = int(os.environ.get("N", "200")), float(os.environ.get("END", "35"))
    comm = MPI.COMM_WORLD
    mesh = dolfinx.mesh.create_rectangle(comm, [[0.0, 0.0], [200 * UM, 200 * UM]], [n, n],
                                         cell_type=dolfinx.mesh.CellType.quadrilateral)
    p = ed.ElectrodepositionParameters.from_hong2018(formulation="grand_potential",
                                                     E_applied=-0.45)
    pr = ElectrodepositionProblem(
        mesh, p, xi0=lambda x: 0.5 * (1 - np.tanh((x[1] - 20 * UM) * 2 / UM)),
        electrolyte=lambda x: np.isclose(x[1], 200 * UM),
        metal=lambda x: np.isclose(x[1], 0.0), linear="fieldsplit",
        noise=(0.04, 2018, 0.02, 0.72e-6), petsc_options={"snes_rtol": 1.0e-8},
        prefix="hong_grid_")
    out = ROOT / "runs" / "hong_moose_grid"
    rows, t0 = [], time.perf_counter()

    def on_step(si) -> dict:
        if si.step % 50 == 0 or si.t >= end - 1e-9:
            m = pr.metrics()
            hi, lo = m["interface_height_max_m"], m["interface_height_min_m"]
            rows.append((si.t, hi, lo, hi - lo, time.perf_counter() - t0))
            if comm.rank == 0:
                print(f"t {si.t:7.3f} s  front {lo / UM:8.3f} .. {hi / UM:8.3f} um  relief "
                      f"{(hi - lo) * 1e9:9.1f} nm  steps {si.step}  wall "
                      f"{rows[-1][-1]:7.1f} s", flush=True)
        return {}

    cfg = Stepping(end=end, dt=0.02, dt_min=0.02 / 16, growth=2.0, easy_iterations=100)
    try:  # a step failing down to dt_min ends the run; what was measured is kept
        Stepper(cfg, comm).run(pr, Clock(0, 0.0, cfg.dt0), on_step)
    except ConvergenceError as e:
        if comm.rank == 0:
            print(f"stopped: {e}")
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "relief.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["time_s", "front_max_m", "front_min_m", "relief_m", "wall_s"])
            w.writerows(rows)
        print(f"-> {out / 'relief.csv'}")


if __name__ == "__main__":
    main()
