"""Checkpoints that restart on any number of ranks (PETSc HDF5 viewer, parallel I/O).

Why not io4dolfinx/adios4dolfinx: their parallel back-ends need ADIOS2 or h5py built with
MPI, which PyPI does not provide (and PyPI's adios2 breaks the DOLFINx wheel's own). PETSc's
HDF5 viewer, part of the DOLFINx wheel, writes and reads distributed vectors in parallel.

Layout: the mesh is not stored; it is regenerated from the resolved case, deterministically
(Gmsh on rank 0, the same input cell order whatever the number of ranks). A function is
stored "cell-wise": row ``original_cell_index * n + j`` holds the j-th value of that cell's
dofs (n = dofs per cell x block size). Any partition can read back its cells' rows, so N->M
restart works. (A refined, front-following mesh numbers its cells by their sorted vertex
coordinates instead, ``cell_keys``: its input indices depend on the partition.) The cell
midpoints are stored the same way and checked on reading, so a mesh that differs from the
one written (another Gmsh version, a changed case) is refused.

Atomicity: each checkpoint is written into ``checkpoint/.tmp-<step>/`` and renamed to
``checkpoint/step-<step>/``; then ``checkpoint/latest`` (a one-line file) is replaced
atomically. A kill at any moment leaves the previous checkpoint usable. Older checkpoints
beyond ``keep`` are removed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI
from petsc4py import PETSc

from solver.errors import SolverError

FIELDS_FILE = "fields.h5"
STATE_FILE = "state.json"


class CheckpointError(SolverError):
    exit_code = 2


def _cell_layout(V: dolfinx.fem.FunctionSpace):
    mesh = V.mesh
    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    n_local = n_owned + mesh.topology.index_map(tdim).num_ghosts
    dofs = V.dofmap.list[:n_local]  # (cells, dofs per cell), blocked
    bs = V.dofmap.bs
    return dofs, bs, cell_keys(mesh)[:n_local], n_owned


def cell_keys(mesh) -> np.ndarray:
    """Each local cell's row key: its input index, or for a mesh marked
    ``keyed_by_vertices`` (a refined mesh, whose input indices depend on the partition) its
    rank in the global order of the cells' sorted vertex coordinates, which is the same for
    any partition (bitwise: refinement computes a new vertex from the same two parents)."""
    if not getattr(mesh, "keyed_by_vertices", False):
        n = mesh.topology.index_map(mesh.topology.dim).size_local + \
            mesh.topology.index_map(mesh.topology.dim).num_ghosts
        return np.asarray(mesh.topology.original_cell_index[:n], dtype=np.int64)
    keys = getattr(mesh, "_vertex_keys", None)
    if keys is None:
        keys = mesh._vertex_keys = _vertex_order(mesh)
    return keys


def _vertex_order(mesh) -> np.ndarray:
    tdim = mesh.topology.dim
    imap = mesh.topology.index_map(tdim)
    if imap.num_ghosts:
        raise ValueError("vertex-keyed checkpoints need a mesh without ghost cells")
    cells = np.arange(imap.size_local, dtype=np.int32)
    geom = dolfinx.mesh.entities_to_geometry(mesh, tdim, cells)
    X = mesh.geometry.x[geom]  # (cells, vertices, 3)
    # the vertices of each cell in lexicographic order, flattened: the cell's key
    order = np.lexsort((X[:, :, 2], X[:, :, 1], X[:, :, 0]), axis=-1) if len(X) else \
        np.zeros((0, X.shape[1]), dtype=np.int64)
    K = np.take_along_axis(X, order[:, :, None], axis=1).reshape(len(X), -1)
    comm = mesh.comm
    parts = comm.gather(K, root=0)
    if comm.rank == 0:
        allk = np.vstack(parts)
        rank = np.empty(len(allk), dtype=np.int64)
        rank[np.lexsort(allk.T[::-1])] = np.arange(len(allk), dtype=np.int64)
        bounds = np.cumsum([0] + [len(p) for p in parts])
        chunks = [rank[bounds[i]:bounds[i + 1]] for i in range(comm.size)]
    else:
        chunks = None
    return comm.scatter(chunks, root=0)


def _rows(orig: np.ndarray, width: int) -> np.ndarray:
    return (orig[:, None] * width + np.arange(width)[None, :]).astype(PETSc.IntType).ravel()


def _write_cellwise(viewer, name: str, values: np.ndarray, orig: np.ndarray, n_global: int,
                    comm) -> None:
    """values: (owned cells, width) rows for this rank's owned cells."""
    width = values.shape[1] if values.ndim == 2 else 1
    v = PETSc.Vec().createMPI(n_global * width, comm=comm)
    v.setName(name)
    v.setValues(_rows(orig, width), np.ascontiguousarray(values, dtype=PETSc.ScalarType).ravel())
    v.assemble()
    v.view(viewer)
    v.destroy()


def _read_cellwise(viewer, name: str, orig: np.ndarray, width: int, n_global: int,
                   comm) -> np.ndarray:
    v = PETSc.Vec().createMPI(n_global * width, comm=comm)
    v.setName(name)
    try:
        v.load(viewer)
    except PETSc.Error:
        v.destroy()
        raise CheckpointError(f"checkpoint has no field '{name}' of the expected size; "
                              "it was written by another case or version") from None
    rows = _rows(orig, width)
    loc = PETSc.Vec().createSeq(len(rows), comm=PETSc.COMM_SELF)
    iset = PETSc.IS().createGeneral(rows, comm=PETSc.COMM_SELF)
    sc = PETSc.Scatter().create(v, iset, loc, None)
    sc.scatter(v, loc, addv=PETSc.InsertMode.INSERT, mode=PETSc.ScatterMode.FORWARD)
    out = loc.array.copy().reshape(len(orig), width)
    for o in (sc, iset, loc, v):
        o.destroy()
    return out


def _midpoints(mesh, n_local: int) -> np.ndarray:
    tdim = mesh.topology.dim
    return dolfinx.mesh.compute_midpoints(mesh, tdim, np.arange(n_local, dtype=np.int32))


def write(directory: Path, step: int, functions: dict[str, dolfinx.fem.Function],
          state: dict, comm: MPI.Comm, keep: int = 2) -> Path:
    """Write a checkpoint for ``step`` (collective); returns its directory."""
    root = Path(directory)
    tmp = root / f".tmp-{step}"
    final = root / f"step-{step:07d}"
    if comm.rank == 0:
        for stale in root.glob(".tmp-*"):  # left by a kill during an earlier write
            shutil.rmtree(stale, ignore_errors=True)
        tmp.mkdir(parents=True)
    comm.barrier()
    any_fn = next(iter(functions.values()))
    mesh = any_fn.function_space.mesh
    tdim = mesh.topology.dim
    n_global = mesh.topology.index_map(tdim).size_global
    viewer = PETSc.Viewer().createHDF5(str(tmp / FIELDS_FILE), "w", comm=comm)
    _, _, orig, n_owned = _cell_layout(any_fn.function_space)
    _write_cellwise(viewer, "cell_midpoints", _midpoints(mesh, n_owned), orig[:n_owned],
                    n_global, comm)
    layout = {}
    for name, fn in functions.items():
        dofs, bs, orig, n_owned = _cell_layout(fn.function_space)
        vals = fn.x.array.reshape(-1, bs)[dofs[:n_owned]].reshape(n_owned, -1)
        _write_cellwise(viewer, name, vals, orig[:n_owned], n_global, comm)
        layout[name] = int(vals.shape[1]) if n_owned else int(dofs.shape[1] * bs)
    viewer.destroy()
    comm.barrier()
    if comm.rank == 0:
        meta = {"step": step, "n_cells": n_global, "layout": layout, "written_on_ranks":
                comm.size, **state}
        with open(tmp / STATE_FILE, "w") as f:
            json.dump(meta, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        _atomic_write(root / "latest", final.name + "\n")
        old = sorted(p for p in root.glob("step-*") if p.is_dir())
        for p in old[:-keep]:
            shutil.rmtree(p, ignore_errors=True)
    comm.barrier()
    return final


def latest(directory: Path) -> Path | None:
    root = Path(directory)
    f = root / "latest"
    if not f.exists():
        return None
    p = root / f.read_text().strip()
    return p if (p / STATE_FILE).exists() else None


def candidates(directory: Path) -> list[Path]:
    """Complete checkpoints, newest first (``latest`` first when it is valid)."""
    root = Path(directory)
    found = sorted((p for p in root.glob("step-*") if (p / STATE_FILE).exists()),
                   reverse=True)
    first = latest(root)
    return ([first] if first else []) + [p for p in found if p != first]


def read_state(path: Path) -> dict:
    try:
        return json.loads((Path(path) / STATE_FILE).read_text())
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{path}: unreadable {STATE_FILE} ({e})") from None


def read_latest(directory: Path, functions, comm: MPI.Comm,
                prepare=None) -> tuple[dict, Path]:
    """Read the newest checkpoint that loads; fall back to older ones (a damaged newest
    checkpoint, e.g. a file system that lost the last write, still restarts).
    functions: {name: Function}, or a callable returning them, called after
    ``prepare(state)`` (e.g. rebuilding the adapted mesh the checkpoint was written on)."""
    log = logging.getLogger("solver.checkpoint")
    errors = []
    for path in candidates(directory):
        try:
            if prepare is not None:
                prepare(read_state(path))
            fns = functions() if callable(functions) else functions
            return read(path, fns, comm), path
        except CheckpointError as e:
            errors.append(str(e))
            log.warning(f"checkpoint {path.name} unusable ({e}); trying an older one")
    raise CheckpointError(f"{directory}: no usable checkpoint"
                          + (f" ({errors[0]})" if errors else ""))


def read(path: Path, functions: dict[str, dolfinx.fem.Function], comm: MPI.Comm,
         rtol: float = 1e-8) -> dict:
    """Load ``functions`` from checkpoint ``path`` (collective); returns the stored state."""
    state = read_state(path)
    any_fn = next(iter(functions.values()))
    mesh = any_fn.function_space.mesh
    tdim = mesh.topology.dim
    n_global = mesh.topology.index_map(tdim).size_global
    if state["n_cells"] != n_global:
        raise CheckpointError(f"{path}: written for a mesh of {state['n_cells']} cells, this "
                              f"case gives {n_global}; restart with the same case file")
    try:
        viewer = PETSc.Viewer().createHDF5(str(Path(path) / FIELDS_FILE), "r", comm=comm)
    except PETSc.Error:
        raise CheckpointError(f"{path}: cannot open {FIELDS_FILE}") from None
    dofs, bs, orig, _ = _cell_layout(any_fn.function_space)
    gdim = 3
    mids = _read_cellwise(viewer, "cell_midpoints", orig, gdim, n_global, comm)
    mine = _midpoints(mesh, len(orig))
    scale = float(comm.allreduce(np.ptp(mine, axis=0).max() if len(mine) else 0.0, op=MPI.MAX))
    bad = comm.allreduce(int(np.any(np.abs(mids - mine) > rtol * max(scale, 1e-300))),
                         op=MPI.SUM)
    if bad:
        viewer.destroy()
        raise CheckpointError(f"{path}: the regenerated mesh differs from the checkpoint's "
                              "(changed case, or another Gmsh version); cannot restart")
    for name, fn in functions.items():
        dofs, bs, orig, _ = _cell_layout(fn.function_space)
        width = dofs.shape[1] * bs
        if state["layout"].get(name) != width:
            viewer.destroy()
            raise CheckpointError(f"{path}: field '{name}' was written with another element; "
                                  "restart with the same case file")
        vals = _read_cellwise(viewer, name, orig, width, n_global, comm)
        fn.x.array.reshape(-1, bs)[dofs] = vals.reshape(len(orig), -1, bs)
        fn.x.scatter_forward()
    viewer.destroy()
    return state


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
