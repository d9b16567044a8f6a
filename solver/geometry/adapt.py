"""Front-following mesh refinement: refinements of one fixed base mesh.

The base mesh is the case's Gmsh mesh with its interface band at ``interface_size *
2**levels``. Where a phase-field interface runs, the base cells it crosses, plus ``layers``
rings of neighbours, are refined ``levels`` times by edge bisection (Plaza,
``dolfinx.mesh.refine``), which brings the cells there back to ``interface_size``. Every
adaptation starts again from the base mesh, so a region the front has left becomes coarse
again, and an adapted mesh is described completely by its set of marked base cells. That
set is stored by the cells' input indices (partition independent) in checkpoints, and a
restart, on any number of ranks, refines the regenerated base mesh with it again (the
fields are keyed by the refined cells' vertex coordinates, ``io.checkpoint.cell_keys``).

Refinement keeps children on their parent's rank (no redistribution), and the refined
meshes carry no ghost cells: the physics using it (M3 alone) integrates over cells only.
"""

from __future__ import annotations

import dataclasses

import numpy as np

import solver.compat  # noqa: F401  (must precede dolfinx)
import dolfinx
from mpi4py import MPI

from solver.geometry.base import Geometry


class FrontRefinement:
    """Marks, refines and describes the refined meshes of one base geometry."""

    def __init__(self, base: Geometry, levels: int, layers: int, threshold: float):
        if levels < 1 or layers < 1:
            raise ValueError("levels and layers must be >= 1")
        self.base, self.levels, self.layers = base, int(levels), int(layers)
        self.threshold = float(threshold)
        mesh = base.mesh
        self.tdim = tdim = mesh.topology.dim
        mesh.topology.create_entities(1)
        mesh.topology.create_connectivity(tdim, 1)
        imap = mesh.topology.index_map(tdim)
        self.n_owned = imap.size_local
        self.n_local = imap.size_local + imap.num_ghosts
        self.orig = np.asarray(mesh.topology.original_cell_index[: self.n_local],
                               dtype=np.int64)
        self._V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self._dofs = self._V1.dofmap.list[: self.n_local]
        self.comm = mesh.comm
        self._h = None  # base cells' longest edges (largest_cell)

    # ------------------------------------------------------------------ marking
    def dilate(self, marked: np.ndarray, layers: int) -> np.ndarray:
        """``marked`` (base cells, owned + ghost) grown by ``layers`` rings of cells that
        share a vertex, across ranks: the same set whatever the partition."""
        f = dolfinx.fem.Function(self._V1)
        out = np.asarray(marked, dtype=bool).copy()
        for _ in range(layers):
            f.x.array[:] = 0.0
            f.x.array[self._dofs[out].ravel()] = 1.0
            f.x.scatter_reverse(dolfinx.la.InsertMode.add)
            f.x.scatter_forward()
            out = (f.x.array[self._dofs] > 0.0).any(axis=1)
        return out

    def active_from_values(self, values: np.ndarray, parent: np.ndarray) -> np.ndarray:
        """Base cells holding a fine cell that the interface crosses. values: the order
        parameter at each fine cell's vertices (fine cells, vertices); parent: each fine
        cell's base cell (local index). A cell is crossed when its values span more than
        [threshold, 1 - threshold] partly: max > threshold and min < 1 - threshold."""
        act = (values.max(axis=1) > self.threshold) & (values.min(axis=1) < 1 - self.threshold)
        out = np.zeros(self.n_local, dtype=bool)
        out[parent[act]] = True
        return out

    def largest_cell(self, active: np.ndarray) -> float:
        """The longest edge among the ``active`` base cells (all ranks), m."""
        if self._h is None:
            self._h = self.base.mesh.h(self.tdim, np.arange(self.n_local, dtype=np.int32))
        h = self._h[np.asarray(active, dtype=bool)]
        return self.comm.allreduce(float(h.max(initial=0.0)), op=MPI.MAX)

    def marker(self, active: np.ndarray) -> np.ndarray:
        return self.dilate(active, self.layers)

    def update(self, active: np.ndarray, marked: np.ndarray) -> np.ndarray | None:
        """The new marker (the same on every rank) when the interface has come within one
        ring of base cells of the refined region's edge, or when the refined region is over
        1.5 times what the interface now needs (the front has left much of it); else
        None."""
        near = self.dilate(active, 1)
        want = self.marker(active)
        o = slice(0, self.n_owned)
        out, n_have, n_want = self.comm.allreduce(
            np.array([np.any(near[o] & ~marked[o]), marked[o].sum(), want[o].sum()],
                     dtype=np.int64), op=MPI.SUM)
        return want if out or n_have > 1.5 * max(n_want, 1) else None

    # ------------------------------------------------------------------ refining
    def refine(self, marked: np.ndarray) -> tuple[Geometry, np.ndarray]:
        """The base geometry refined ``levels`` times in the ``marked`` base cells (and what
        conformity adds around them), with its cell and facet tags; and each fine cell's
        base cell (local index)."""
        mesh, ct, ft = self.base.mesh, self.base.cell_tags, self.base.facet_tags
        tdim = self.tdim
        parent = np.arange(self.n_local, dtype=np.int32)
        cells_marked = np.asarray(marked, dtype=bool)
        for _ in range(self.levels):
            mesh.topology.create_entities(1)
            mesh.topology.create_connectivity(tdim, 1)
            c2e = mesh.topology.connectivity(tdim, 1)
            cells = np.flatnonzero(cells_marked).astype(np.int32)
            edges = np.unique(np.concatenate(
                [c2e.links(c) for c in cells] or [np.zeros(0, np.int32)])).astype(np.int32)
            mesh.topology.create_entities(tdim - 1)
            new, pc, pf = dolfinx.mesh.refine(
                mesh, edges, partitioner=None,
                option=dolfinx.mesh.RefinementOption.parent_cell_and_facet)
            # pc, pf are in the order the cells were created; the mesh's local cell lc is
            # created cell original_cell_index[lc] - (first owned global index)
            order = (np.asarray(new.topology.original_cell_index, dtype=np.int64)
                     - new.topology.index_map(tdim).local_range[0])
            if not np.array_equal(np.sort(order), np.arange(len(order))):
                raise RuntimeError("dolfinx.mesh.refine numbered the refined cells in an "
                                   "unexpected order (another DOLFINx version?)")
            nf = tdim + 1
            pc = np.asarray(pc, dtype=np.int32)[order]
            pf = np.asarray(pf, dtype=np.int8).reshape(-1, nf)[order]
            ct, ft = _transfer_tags(mesh, ct, ft, new, pc, pf)
            parent = parent[pc]
            cells_marked = marked[parent]
            mesh = new
        mesh.topology.create_connectivity(tdim - 1, tdim)
        mesh.keyed_by_vertices = True  # checkpoints key its cells by partition-free keys
        geo = dataclasses.replace(self.base, mesh=mesh, cell_tags=ct, facet_tags=ft)
        return geo, parent

    # ------------------------------------------------------------------ storage
    def marker_ids(self, marked: np.ndarray) -> list[int]:
        """The marked base cells' input indices, sorted, the same list on every rank."""
        mine = self.orig[: self.n_owned][marked[: self.n_owned]]
        return sorted(int(i) for part in self.comm.allgather(mine) for i in part)

    def marker_from_ids(self, ids) -> np.ndarray:
        return np.isin(self.orig, np.asarray(list(ids), dtype=np.int64))


def _transfer_tags(mesh, ct, ft, new, pc, pf):
    """Cell and facet tags of a refined mesh from its parent's (``transfer_meshtag`` does not
    take the ghosted base mesh): a child cell takes its parent cell's tag, a child facet the
    tag of the parent facet it lies on (``pf``: per child cell and local facet, the parent
    cell's local facet, or -1 for a facet inside the parent)."""
    tdim = mesh.topology.dim
    fdim = tdim - 1
    n_par = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    cell_tag = np.full(n_par, -1, dtype=np.int32)
    cell_tag[ct.indices] = ct.values
    n_new = new.topology.index_map(tdim).size_local + new.topology.index_map(tdim).num_ghosts
    vals = cell_tag[pc[:n_new]]
    keep = np.flatnonzero(vals >= 0).astype(np.int32)
    ct1 = dolfinx.mesh.meshtags(new, tdim, keep, vals[keep])
    mesh.topology.create_connectivity(tdim, fdim)
    n_fpar = mesh.topology.index_map(fdim).size_local + mesh.topology.index_map(fdim).num_ghosts
    facet_tag = np.full(n_fpar, -1, dtype=np.int32)
    facet_tag[ft.indices] = ft.values
    c2f_par = mesh.topology.connectivity(tdim, fdim)
    new.topology.create_entities(fdim)
    new.topology.create_connectivity(tdim, fdim)
    c2f = new.topology.connectivity(tdim, fdim)
    nf = tdim + 1
    child_f = c2f.array.reshape(-1, nf)[:n_new]
    par_f_local = pf[:n_new]
    par_f = c2f_par.array.reshape(-1, nf)
    rows, cols = np.nonzero(par_f_local >= 0)
    tags = facet_tag[par_f[pc[rows], par_f_local[rows, cols]]]
    sel = tags >= 0
    facets, idx = np.unique(child_f[rows[sel], cols[sel]], return_index=True)
    ft1 = dolfinx.mesh.meshtags(new, fdim, facets.astype(np.int32),
                                tags[sel][idx].astype(np.int32))
    return ct1, ft1
