"""Collective operations in one place: every rank calls these, only rank 0 prints or writes."""

from __future__ import annotations

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import ufl
from mpi4py import MPI


def assemble_scalar(form: ufl.Form | dolfinx.fem.Form, comm: MPI.Comm | None = None) -> float:
    """Assemble a functional and sum it over all ranks."""
    f = form if isinstance(form, dolfinx.fem.Form) else dolfinx.fem.form(form)
    comm = comm or f.mesh.comm
    return float(comm.allreduce(dolfinx.fem.assemble_scalar(f), op=MPI.SUM))


def global_max(comm: MPI.Comm, values: np.ndarray, default: float = -np.inf) -> float:
    local = float(np.max(values)) if len(values) else default
    return float(comm.allreduce(local, op=MPI.MAX))


def gather_rows(comm: MPI.Comm, rows: np.ndarray, root: int = 0) -> np.ndarray | None:
    """Concatenate 2D arrays (same number of columns) from all ranks onto `root`."""
    parts = comm.gather(np.asarray(rows), root=root)
    if comm.rank != root:
        return None
    parts = [p for p in parts if p.size]
    return np.concatenate(parts, axis=0) if parts else np.zeros((0, rows.shape[1]))


def tagged_owned_cells(cell_tags: dolfinx.mesh.MeshTags, tag: int) -> np.ndarray:
    n = cell_tags.topology.index_map(cell_tags.dim).size_local
    cells = cell_tags.find(tag)
    return cells[cells < n]


def n_global_dofs(V: dolfinx.fem.FunctionSpace) -> int:
    return V.dofmap.index_map.size_global * V.dofmap.index_map_bs
