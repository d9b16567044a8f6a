"""Elasticity performance baseline (`make bench`).

1. Overhead: our ElasticityProblem (set-up + solve) against a minimal hand-written DOLFINx
   script of the same problem (same mesh, same DG0 Lame fields, same forms, same PETSc
   options and near-nullspace), best of 3 runs each, in one process.
2. GAMG iteration counts over three mesh refinements, P1 and P2.
3. Wall time of the whole `solver run` on 1 vs 2 ranks.

Prints a Markdown table; the figures go into docs/benchmarks.md by hand.
"""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.fem.petsc
import numpy as np
import ufl
from mpi4py import MPI
from petsc4py import PETSc

from solver.config import parse_case
from solver.geometry import build_geometry
from solver.materials import load_library, resolve_materials
from solver.numerics import petsc_options
from solver.numerics.linear import rigid_body_modes
from solver.problems.elasticity import ElasticityProblem, constitutive_data

ROOT = Path(__file__).resolve().parents[1]
BASE = yaml.safe_load((ROOT / "cases" / "quick.yaml").read_text())


def case_at(level: int, degree: int):
    d = copy.deepcopy(BASE)
    d["geometry"]["mesh"]["elements_through_thinnest_layer"] = 4 * 2**level
    d["geometry"]["mesh"]["max_size"] = 0.2e-6 / 2**level
    d["physics"]["elasticity"]["degree"] = degree
    d.pop("stepping", None)  # one step
    return parse_case(d)


def ours(case, geo, mats):
    t0 = time.perf_counter()
    p = ElasticityProblem(case, geo, mats)
    info = p.solve(1.0)
    t = time.perf_counter() - t0
    e = p.metrics()["strain_energy_J"]
    p.destroy()
    return t, info["linear_iterations"], e


def handwritten(case, geo, mats):
    """What a user would write by hand for the same problem."""
    t0 = time.perf_counter()
    mesh, ct, ft = geo.mesh, geo.cell_tags, geo.facet_tags
    k = case.physics.elasticity.degree
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", k, (2,)))
    Q = dolfinx.fem.functionspace(mesh, ("DG", 0))
    lam, mu, e0 = (dolfinx.fem.Function(Q) for _ in range(3))
    for tag, props in constitutive_data(geo, mats).items():
        cells = ct.find(tag)
        lam.x.array[cells], mu.x.array[cells] = props["lame"]
    e0.x.array[ct.find(geo.regions["sei"])] = 0.005
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)

    def eps(w):
        g = ufl.sym(ufl.grad(w))
        return ufl.as_tensor([[g[0, 0], g[0, 1], 0], [g[1, 0], g[1, 1], 0], [0, 0, 0]])

    def sig(e):
        return lam * ufl.tr(e) * ufl.Identity(3) + 2 * mu * e

    dx = ufl.dx(domain=mesh)
    ds = ufl.Measure("ds", domain=mesh, subdomain_data=ft)
    n = ufl.FacetNormal(mesh)
    a = ufl.inner(sig(eps(u)), eps(v)) * dx
    L = ufl.inner(sig(e0 * ufl.Identity(3)), eps(v)) * dx - 1e6 * ufl.dot(n, v) * ds(
        geo.boundaries["top"])
    bcs = []
    for name, comp in (("bottom", 1), ("left", 0), ("right", 0)):
        dofs = dolfinx.fem.locate_dofs_topological(V.sub(comp), 1,
                                                   ft.find(geo.boundaries[name]))
        bcs.append(dolfinx.fem.dirichletbc(0.0, dofs, V.sub(comp)))
    opts = {**petsc_options.ELASTICITY_ITERATIVE, "ksp_rtol": 1e-10, "ksp_max_it": 500}
    problem = dolfinx.fem.petsc.LinearProblem(a, L, bcs=bcs, petsc_options_prefix="hand_",
                                              petsc_options=opts)
    problem.A.setNearNullSpace(rigid_body_modes(V))
    uh = problem.solve()
    t = time.perf_counter() - t0
    its = problem.solver.getIterationNumber()
    return t, its, uh


def main():
    comm = MPI.COMM_WORLD
    mats = resolve_materials({}, load_library())
    print("## 1. Overhead against a hand-written script (quick case, P2, serial)\n")
    case = case_at(1, 2)
    geo = build_geometry(case, comm)
    ours(case, geo, mats), handwritten(case, geo, mats)  # JIT warm-up
    t_ours = min(ours(case, geo, mats)[0] for _ in range(3))
    t_hand = min(handwritten(case, geo, mats)[0] for _ in range(3))
    print("| ours (s) | hand-written (s) | ratio |\n|---|---|---|")
    print(f"| {t_ours:.3f} | {t_hand:.3f} | {t_ours / t_hand:.3f} |\n")
    print("## 2. GAMG (CG) iterations, rtol 1e-10, over mesh refinements\n")
    print("| level | degree | cells | dofs | iterations | solve+setup (s) |")
    print("|---|---|---|---|---|---|")
    for degree in (1, 2):
        for level in (0, 1, 2):
            c = case_at(level, degree)
            g = build_geometry(c, comm)
            t, its, _ = ours(c, g, mats)
            p = ElasticityProblem(c, g, mats)
            print(f"| {level} | P{degree} | {g.mesh.topology.index_map(2).size_global} | "
                  f"{p.n_dofs} | {its} | {t:.3f} |")
            p.destroy()
    print("\n## 3. `solver run cases/quick.yaml` (refined x2, P2), 1 vs 2 ranks\n")
    print("| ranks | total wall (s) | solve step (s) |\n|---|---|---|")
    venv = Path(sys.executable).parent
    for n in (1, 2):
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [str(venv / "mpiexec"), "-n", str(n), str(venv / "solver"), "run",
                   "cases/quick.yaml", "-o", tmp, "--no-figures",
                   "--set", "geometry.mesh.elements_through_thinnest_layer=16",
                   "--set", "geometry.mesh.max_size=5e-8", "--set", "stepping.dt=1.0"]
            subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
            m = json.loads((Path(tmp) / "metrics.json").read_text())
            with open(Path(tmp) / "history.csv") as f:
                step = float(next(csv.DictReader(f))["wall_time_s"])
            print(f"| {n} | {m['wall_time_s']:.2f} | {step:.3f} |")


if __name__ == "__main__":
    PETSc.Sys.pushErrorHandler("python")
    np.set_printoptions(precision=3)
    main()
