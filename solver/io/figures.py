"""Figures (PNG): meshes and cell fields with pyvista off-screen, profiles with matplotlib.

The distributed mesh is gathered to rank 0 (owned cells only) before plotting, so figures do
not depend on the number of ranks. Call every function on every rank.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.plot

log = logging.getLogger("solver.io.figures")


def gather_grid(mesh: dolfinx.mesh.Mesh, cell_data: dict[str, np.ndarray]):
    """Gather owned cells to rank 0 as a pyvista UnstructuredGrid (None elsewhere)."""
    tdim = mesh.topology.dim
    n_owned = mesh.topology.index_map(tdim).size_local
    cells = np.arange(n_owned, dtype=np.int32)
    topo, ctypes, x = dolfinx.plot.vtk_mesh(mesh, tdim, cells)
    data = {k: np.asarray(v)[:n_owned] for k, v in cell_data.items()}
    parts = mesh.comm.gather((topo, ctypes, x, data), root=0)
    if mesh.comm.rank != 0:
        return None
    import pyvista

    topos, types, xs, datas, offset = [], [], [], {k: [] for k in cell_data}, 0
    for t, ct, xx, d in parts:
        t = t.copy().reshape(-1)
        if len(t):
            # one cell type per mesh: rows [n, i0 .. i(n-1)]; shift the point indices only
            rows = t.reshape(-1, t[0] + 1)
            rows[:, 1:] += offset
        topos.append(t)
        types.append(ct)
        xs.append(xx)
        for k in cell_data:
            datas[k].append(d[k])
        offset += len(xx)
    grid = pyvista.UnstructuredGrid(np.concatenate(topos), np.concatenate(types),
                                    np.concatenate(xs))
    for k, v in datas.items():
        grid.cell_data[k] = np.concatenate(v)
    return grid


def _plotter(shape=(1, 1), size=(1400, 700)):
    import pyvista
    from vtkmodules.vtkCommonCore import vtkLogger, vtkObject

    # No display on clusters: render off screen and keep VTK's X11 warnings out of the log.
    vtkObject.GlobalWarningDisplayOff()
    vtkLogger.SetStderrVerbosity(vtkLogger.VERBOSITY_OFF)
    pyvista.OFF_SCREEN = True
    return pyvista.Plotter(off_screen=True, shape=shape, window_size=size)


def plot_cell_field(grid, name: str, path: Path, title: str, zoom_center=None,
                    zoom_width: float | None = None, cmap="viridis", categorical=False,
                    edges=False, labels: dict[int, str] | None = None) -> None:
    """Full view (left) and, when zoom_center is given, a zoom window (right). Rank 0."""
    two = zoom_center is not None and zoom_width is not None
    p = _plotter(shape=(1, 2) if two else (1, 1))
    bar = {"title": title, "vertical": False}
    extra = {}
    if labels:  # categorical field: name each value instead of numeric ticks
        extra = {"annotations": {float(k): v for k, v in labels.items()}}
        bar.update(n_labels=0)
    p.subplot(0, 0)
    p.add_mesh(grid, scalars=name, cmap=cmap, show_edges=edges, categories=categorical,
               scalar_bar_args=bar, **extra)
    p.view_xy() if _is2d(grid) else p.view_isometric()
    if two:
        p.subplot(0, 1)
        c = np.asarray(zoom_center, dtype=float)
        h = zoom_width / 2
        centres = np.asarray(grid.cell_centers().points)
        inside = np.all(np.abs(centres[:, :2] - c[:2]) < h, axis=1)
        clipped = grid.extract_cells(np.flatnonzero(inside)) if inside.any() else grid
        p.add_mesh(clipped, scalars=name, cmap=cmap, show_edges=True, categories=categorical,
                   scalar_bar_args={**bar, "title": title + " (zoom)"}, **extra)
        p.view_xy() if _is2d(grid) else p.view_isometric()
    p.screenshot(str(path))
    p.close()


def _is2d(grid) -> bool:
    b = grid.bounds
    return abs(b[5] - b[4]) <= 1e-12 * max(abs(b[1] - b[0]), 1e-300)


def plot_profile(path: Path, series: dict[str, tuple[np.ndarray, np.ndarray]], xlabel: str,
                 ylabel: str, title: str, xscale: float = 1.0, yscale: float = 1.0) -> None:
    """Line/marker plot of named (x, y) series; rank 0 only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for label, (x, y) in series.items():
        ax.plot(np.asarray(x) * xscale, np.asarray(y) * yscale, ".", ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
