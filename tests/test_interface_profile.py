"""The cation concentration along the interface (seed 000 Fig. 4d's quantity).

What: ElectrodepositionProblem.interface_concentration (points of the xi = 1/2 line with c
interpolated along the same cell edges) and the run outputs interface_concentration.csv /
interface_concentration_early.csv.
Against: exactness for fields that are linear in space (P1 interpolation along an edge is
exact for them): a tilted planar xi profile and c = a + b x + d y give points on the
analytic line and c = a + b x + d y there to 1e-12; the seed 000 quick case writes both
files, one row per point across the whole width, on the initial surface.
Runs on 1 or 2 ranks (the unit test).
"""

from __future__ import annotations

import numpy as np
import pytest

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI

from solver.physics import electrodeposition as ed
from solver.problems.electrodeposition import ElectrodepositionProblem


def test_profile_exact_for_linear_fields():
    """xi = 1/2 - (y - y0(x)) / w with y0 = 0.5 + 0.1 x (linear, so every crossing lies on
    the line y = y0(x)) and Chen's c~ = 1 + 0.3 x - 0.2 y: each returned point satisfies
    y = y0(x) and c = c0 (1 + 0.3 x - 0.2 y) (x, y in um) to 1e-12 relative; the points
    span the width (0 to 1 um) on 1 or 2 ranks together."""
    comm = MPI.COMM_WORLD
    um = 1e-6
    mesh = dolfinx.mesh.create_unit_square(comm, 24, 24)
    mesh.geometry.x[:] *= um
    p = ed.ElectrodepositionParameters.from_hong2018()

    def xi0(x):
        return 0.5 - (x[1] / um - (0.5 + 0.1 * x[0] / um)) / 0.5

    prob = ElectrodepositionProblem(mesh, p, xi0=xi0, prefix="iprof_")
    V, dofs = prob.W.sub(1).collapse()
    X = V.tabulate_dof_coordinates()
    prob.u.x.array[np.asarray(dofs).reshape(-1)] = 1 + 0.3 * X[:, 0] / um - 0.2 * X[:, 1] / um
    rows = prob.interface_concentration()
    prob.destroy()
    x, y, c = rows[:, 0] / um, rows[:, 1] / um, rows[:, 2]
    assert np.allclose(y, 0.5 + 0.1 * x, rtol=0, atol=1e-12)
    assert np.allclose(c, p.c0 * (1 + 0.3 * x - 0.2 * y), rtol=1e-12)
    lo = comm.allreduce(float(x.min()) if len(x) else np.inf, op=MPI.MIN)
    hi = comm.allreduce(float(x.max()) if len(x) else -np.inf, op=MPI.MAX)
    assert lo == pytest.approx(0.0, abs=1e-12) and hi == pytest.approx(1.0, rel=1e-12)
    assert comm.allreduce(len(x), op=MPI.SUM) >= 24


@pytest.mark.serial
def test_run_writes_early_and_final_profiles(tmp_path):
    """cases/seed000_lialox_quick.yaml (two steps): interface_concentration_early.csv
    (after step 1) and interface_concentration.csv (final) hold one row per crossing, x
    sorted over the 8 um width, the points between the flat surface (2 um) and the bump
    tops (2.25 um) plus the interface's motion, positive concentrations."""
    import subprocess

    from conftest import ROOT, clean_env, solver_cmd

    r = subprocess.run(solver_cmd("run", "cases/seed000_lialox_quick.yaml", "-o",
                                  str(tmp_path), "--no-figures", "--set",
                                  "stepping.max_steps=2"),
                       capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=600)
    assert r.returncode == 3, r.stdout + r.stderr  # max_steps before the end: exit 3
    for name in ("interface_concentration_early.csv", "interface_concentration.csv"):
        d = np.loadtxt(tmp_path / name, delimiter=",", skiprows=1)
        assert d.shape[1] == 3 and len(d) > 50, name
        assert np.all(np.diff(d[:, 0]) >= 0)
        assert d[0, 0] < 0.1e-6 and d[-1, 0] > 7.9e-6
        assert np.all((d[:, 1] > 1.95e-6) & (d[:, 1] < 2.35e-6))
        assert np.all(d[:, 2] > 0)
