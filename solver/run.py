"""Run a case end to end: validate, mesh, solve step by step, write the output contract."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np

import solver.compat  # noqa: F401
from mpi4py import MPI

from solver.compat import versions
from solver.config import Case
from solver.coupling.stepping import QuasiStaticStepper
from solver.errors import SolverError
from solver.geometry import build_geometry
from solver.io import figures
from solver.io.fields import FieldWriter
from solver.io.output import RunDirectory
from solver.materials import load_library, resolve_materials
from solver.numerics.parallel import tagged_owned_cells
from solver.physics import elasticity as el
from solver.problems.elasticity import ElasticityProblem

log = logging.getLogger("solver.run")

HISTORY = ["step", "load_factor", "newton_iterations", "linear_iterations", "wall_time_s",
           "strain_energy_J", "max_von_mises_Pa"]


def run_case(case: Case, outdir: Path, comm: MPI.Comm = MPI.COMM_WORLD) -> dict:
    """Run ``case`` into ``outdir``; returns the metrics (same on every rank)."""
    t0 = time.perf_counter()
    out = RunDirectory(outdir, comm)
    out.write_case(case.model_dump(mode="json"))
    out.write_json("versions.json", {**versions(), "n_ranks": comm.size})
    metrics = {"status": "running", "case": case.name, "n_ranks": comm.size}
    try:
        metrics.update(_solve(case, out, comm))
        metrics["status"] = "completed"
    except SolverError as e:
        metrics.update(status="failed", error=str(e))
        raise
    finally:
        metrics["wall_time_s"] = comm.allreduce(time.perf_counter() - t0, op=MPI.MAX)
        out.write_metrics(metrics)
    log.info(f"done in {metrics['wall_time_s']:.2f} s; results in {outdir}")
    return metrics


def _solve(case: Case, out: RunDirectory, comm) -> dict:
    materials = resolve_materials({k: v.model_dump(exclude_none=True)
                                   for k, v in case.materials.items()}, load_library())
    t = time.perf_counter()
    geo = build_geometry(case, comm)
    n_cells = comm.allreduce(geo.mesh.topology.index_map(geo.dim).size_local, op=MPI.SUM)
    log.info(f"mesh: {n_cells} cells, {len(geo.regions)} regions "
             f"({time.perf_counter() - t:.2f} s)")
    problem = ElasticityProblem(case, geo, materials)
    log.info(f"elasticity: P{case.physics.elasticity.degree}, {problem.n_dofs} dofs, "
             f"{case.physics.elasticity.solver.type} solver")
    out.start_history(HISTORY)
    writer = None
    stress = problem.stress_fields()
    if case.output.fields:
        writer = FieldWriter(out.fields, comm, {"displacement": [problem.u]})
        stress_writer = FieldWriter(out.fields, comm, {"stress": stress})
    last: dict = {}

    def on_step(step, factor, info, wall):
        nonlocal stress, last
        last = problem.metrics()
        out.append_history({"step": step, "load_factor": factor, "wall_time_s": wall,
                            **info, **last})
        if writer is not None:
            for f_new, f_old in zip(problem.stress_fields(), stress, strict=True):
                f_old.x.array[:] = f_new.x.array
            writer.write(factor)
            stress_writer.write(factor)

    result = QuasiStaticStepper(case.loading.steps).run(problem, on_step)
    if writer is not None:
        writer.close()
        stress_writer.close()
        _write_regions(geo, out)
    stress = problem.stress_fields()
    profile = _interface_profile(problem, stress[0], out)
    if case.output.figures:
        _figures(geo, problem, stress, profile, out)
    metrics = {"n_dofs": problem.n_dofs, "n_cells": n_cells, "n_steps": result.n_steps,
               "final_time_s": 0.0, "final_load_factor": result.final_factor, **last}
    metrics.update(profile.get("metrics", {}))
    problem.destroy()
    return metrics


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


def _interface_profile(problem, sigma_fn, out: RunDirectory) -> dict:
    prof = problem.interface_profile(sigma_fn)
    if prof is None:
        return {}
    gdim = problem.dim
    coords = ["x", "y", "z"][:gdim]
    header = coords + ["side", "sigma_xx_Pa", "sigma_yy_Pa", "sigma_zz_Pa", "sigma_xy_Pa",
                       "sigma_h_Pa"]
    rows, result = [], {}
    if out.rank0:
        for side, arr in prof.items():
            for r in arr:
                s = r[gdim:].reshape(3, 3)
                rows.append([*r[:gdim], side, s[0, 0], s[1, 1], s[2, 2], s[0, 1],
                             np.trace(s) / 3])
        rows.sort(key=lambda r: (r[0], r[gdim]))
        sh = np.array([r[-1] for r in rows]) if rows else np.zeros(1)
        result = {"interface_sigma_h_min_Pa": float(sh.min()),
                  "interface_sigma_h_max_Pa": float(sh.max())}
    out.write_csv("interface_stress.csv", header, rows)
    result = out.comm.bcast(result, root=0)
    return {"metrics": result, "rows": rows, "coords": coords}


def _figures(geo, problem, stress, profile, out: RunDirectory) -> None:
    import dolfinx

    mesh = geo.mesh
    n = mesh.topology.index_map(geo.dim).size_local
    region = np.zeros(n)
    for tag in geo.regions.values():
        region[tagged_owned_cells(geo.cell_tags, tag)] = tag
    V0 = dolfinx.fem.functionspace(mesh, ("DG", 0))
    vm0 = dolfinx.fem.Function(V0)
    vm0.interpolate(dolfinx.fem.Expression(el.von_mises(problem.sigma_expr),
                                           V0.element.interpolation_points))
    grid = figures.gather_grid(mesh, {"region": region, "von_mises_Pa": vm0.x.array[:n]})
    # zoom on the point of the metal surface where the interface stress peaks
    zoom_c, zoom_w = None, None
    if out.rank0 and profile.get("rows"):
        rows = profile["rows"]
        k = int(np.argmax([abs(r[-1]) for r in rows]))
        zoom_c = rows[k][: geo.dim]
        zoom_w = 15 * next(iter(geo.layer_thickness.values()))  # first coating
    if out.rank0:
        figures.plot_cell_field(grid, "region", out.figures / "mesh_regions.png",
                                "region tag", zoom_c, zoom_w, cmap="tab10",
                                categorical=True, edges=False)
        figures.plot_cell_field(grid, "von_mises_Pa", out.figures / "von_mises.png",
                                "von Mises stress (Pa)", zoom_c, zoom_w, cmap="inferno")
        rows = profile.get("rows") or []
        if rows:
            g = geo.dim
            series = {}
            for side in dict.fromkeys(r[g] for r in rows):
                sel = [r for r in rows if r[g] == side]
                series[f"{side} side"] = (np.array([r[0] for r in sel]),
                                          np.array([r[-1] for r in sel]))
            figures.plot_profile(out.figures / "interface_stress.png", series,
                                 "x (um)", "hydrostatic stress (MPa)",
                                 "metal / coating interface", xscale=1e6, yscale=1e-6)
    mesh.comm.barrier()
