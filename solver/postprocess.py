"""Field post-processing shared by all problems: region extrema and interface profiles.

All functions are collective; results are global (identical on every rank) unless said.
"""

from __future__ import annotations

import numpy as np

import solver.compat  # noqa: F401
import dolfinx

from solver.numerics.parallel import gather_rows, global_max, tagged_owned_cells


def region_extremum(expr, V_points: dolfinx.fem.FunctionSpace, geo, region: str | None,
                    op=np.max, where=None) -> float:
    """max (or min) of a scalar UFL expression at the interpolation points of V_points'
    element over the owned cells of a region (all cells when region is None); with
    ``where`` (a scalar UFL expression), only at the points where it exceeds 1/2."""
    mesh = geo.mesh
    if region is None:
        cells = np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32)
    else:
        cells = tagged_owned_cells(geo.cell_tags, geo.regions[region])
    points = V_points.element.interpolation_points
    e = dolfinx.fem.Expression(expr, points)
    vals = np.ravel(e.eval(mesh, cells)) if len(cells) else np.zeros(0)
    if where is not None:
        w = dolfinx.fem.Expression(where, points)
        vals = vals[np.ravel(w.eval(mesh, cells)) > 0.5] if len(cells) else vals
    if op is np.max:
        return global_max(mesh.comm, np.ravel(vals))
    return -global_max(mesh.comm, -np.ravel(vals))


def interface_samples(fn: dolfinx.fem.Function, geo, interfaces: list[str],
                      side_region: str) -> np.ndarray | None:
    """Values of ``fn`` at the midpoints of the interface facets, taken from the cell on the
    ``side_region`` side. Returns rows [x, y(, z), values...] sorted by x on rank 0, None
    elsewhere. A facet is sampled by the rank that owns the adjacent cell, so every facet
    appears exactly once whatever the number of ranks."""
    mesh = geo.mesh
    tdim = mesh.topology.dim
    gdim = mesh.geometry.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    n_owned_cells = mesh.topology.index_map(tdim).size_local
    side_tag = geo.regions[side_region]
    facets = np.concatenate(
        [geo.facet_tags.find(geo.boundaries[n]) for n in interfaces if n in geo.boundaries]
    ) if interfaces else np.zeros(0, dtype=np.int32)
    cell_of = []
    fac = []
    ct = geo.cell_tags
    tag_of_cell = np.full(mesh.topology.index_map(tdim).size_local
                          + mesh.topology.index_map(tdim).num_ghosts, -1, dtype=np.int32)
    tag_of_cell[ct.indices] = ct.values
    for f in facets:
        for c in f2c.links(f):
            if c < n_owned_cells and tag_of_cell[c] == side_tag:
                cell_of.append(c)
                fac.append(f)
    ncomp = fn.function_space.value_size
    if fac:
        mid = dolfinx.mesh.compute_midpoints(mesh, tdim - 1, np.asarray(fac, dtype=np.int32))
        vals = fn.eval(mid, np.asarray(cell_of, dtype=np.int32)).reshape(len(fac), ncomp)
        rows = np.hstack([mid[:, :gdim], vals])
    else:
        rows = np.zeros((0, gdim + ncomp))
    allrows = gather_rows(mesh.comm, rows)
    if mesh.comm.rank != 0:
        return None
    return allrows[np.lexsort(allrows[:, :gdim][:, ::-1].T)] if len(allrows) else allrows
