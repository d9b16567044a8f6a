"""Elasticity outputs after the last step: interface stress profile and figures."""

from __future__ import annotations

import logging

import numpy as np

import solver.compat  # noqa: F401
import dolfinx

from solver.io import figures
from solver.io.output import RunDirectory
from solver.numerics.parallel import tagged_owned_cells
from solver.physics import elasticity as el

log = logging.getLogger("solver.problems.elasticity")


def finish(problem, out: RunDirectory, draw: bool) -> dict:
    """Write interface_stress.csv (and figures when ``draw``); returns extra metrics."""
    stress = problem.stress_fields()
    profile = _interface_profile(problem, stress[0], out)
    if draw:
        _figures(problem.geo, problem, profile, out)
    return profile.get("metrics", {})


def _interface_profile(problem, sigma_fn, out: RunDirectory) -> dict:
    prof = problem.interface_profile(sigma_fn)
    if prof is None:
        return {}
    gdim = problem.dim
    coords = ["x", "y", "z"][:gdim]
    header = coords + ["side", "sigma_xx_Pa", "sigma_yy_Pa", "sigma_zz_Pa", "sigma_xy_Pa",
                       "sigma_xz_Pa", "sigma_yz_Pa", "sigma_h_Pa"]
    rows, result = [], {}
    if out.rank0:
        for side, arr in prof.items():
            for r in arr:
                s = r[gdim:].reshape(3, 3)
                rows.append([*r[:gdim], side, s[0, 0], s[1, 1], s[2, 2], s[0, 1], s[0, 2],
                             s[1, 2], np.trace(s) / 3])
        rows.sort(key=lambda r: (r[0], r[gdim]))
        sh = np.array([r[-1] for r in rows]) if rows else np.zeros(1)
        result = {"interface_sigma_h_min_Pa": float(sh.min()),
                  "interface_sigma_h_max_Pa": float(sh.max())}
    out.write_csv("interface_stress.csv", header, rows)
    result = out.comm.bcast(result, root=0)
    return {"metrics": result, "rows": rows, "coords": coords}


def _figures(geo, problem, profile, out: RunDirectory) -> None:

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
        try:
            _plot(geo, grid, profile, zoom_c, zoom_w, out)
        except Exception as e:  # a figure must never cost the results (or hang other ranks)
            log.error(f"figures could not be drawn ({type(e).__name__}: {e}); the results "
                      "are complete without them")
    mesh.comm.barrier()


def _plot(geo, grid, profile, zoom_c, zoom_w, out: RunDirectory) -> None:
    """Rank 0 only."""
    figures.plot_cell_field(grid, "region", out.figures / "mesh_regions.png",
                            "region", zoom_c, zoom_w, cmap="tab10",
                            categorical=True, edges=False,
                            labels={t: n for n, t in geo.regions.items()}
                            if len(geo.regions) <= 12 else None)
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
