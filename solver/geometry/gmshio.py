"""Running gmsh on rank 0, mesh-size fields, and handing the mesh to DOLFINx.

Gmsh works in scaled units (lengths divided by a reference length L, a power of ten chosen
so that the thinnest layer is O(1)-O(10) units): OpenCASCADE's absolute tolerance (~1e-7)
would otherwise swallow nanometre films. The DOLFINx mesh is scaled back to metres.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import gmsh
import numpy as np

import solver.compat  # noqa: F401  (must precede dolfinx)
import dolfinx.io.gmsh
import dolfinx.mesh
from mpi4py import MPI

from solver.errors import GeometryError


def reference_length(thinnest: float) -> float:
    """Power of ten L with 1 <= thinnest / L < 10."""
    return 10.0 ** math.floor(math.log10(thinnest) + 1e-9)


def mesh_with_gmsh(comm: MPI.Comm, dim: int, scale: float, order: int,
                   build: Callable[[], dict]):
    """Build (``build()``, rank 0 only, returns a picklable dict of names and tags) and mesh a
    gmsh model on rank 0, distribute it over ``comm`` and scale coordinates by ``scale``.

    Returns (MeshData, info) with ``info`` (the dict from ``build``) identical on every rank.
    The mesh has shared-facet ghosting, so interior-facet (dS) integrals over interfaces work
    on any number of ranks. Collective; a failure on rank 0 is raised as GeometryError on
    every rank."""
    info, err = None, None
    if comm.rank == 0:
        gmsh.initialize(readConfigFiles=False, interruptible=False)
    try:
        if comm.rank == 0:
            try:
                gmsh.option.setNumber("General.Terminal", 0)
                gmsh.model.add("geometry")
                info = build()
                gmsh.model.mesh.generate(dim)
                if order == 2:
                    gmsh.model.mesh.setOrder(2)
            except GeometryError as e:
                err = str(e)
            except Exception as e:  # gmsh raises plain Exceptions
                msg = " ".join(str(e).split()) or type(e).__name__
                err = (f"geometry: gmsh could not build or mesh the geometry ({msg}); "
                       "check the geometry parameters or coarsen geometry.mesh")
        err = comm.bcast(err, root=0)
        if err is not None:
            raise GeometryError(err)
        # shared-facet ghosting: interface (dS) integrals may cross process boundaries
        part = dolfinx.mesh.create_cell_partitioner(dolfinx.mesh.GhostMode.shared_facet, 2)
        data = dolfinx.io.gmsh.model_to_mesh(gmsh.model if comm.rank == 0 else None,
                                             comm, 0, gdim=dim, partitioner=part)
    finally:
        if comm.rank == 0:
            gmsh.finalize()
    info = comm.bcast(info, root=0)
    data.mesh.geometry.x[:] *= scale
    q, where = worst_cell_quality(data.mesh)
    if q < MIN_CELL_QUALITY:
        raise GeometryError(
            f"geometry: degenerate cells in the mesh (quality {q:.2g} near "
            f"{[round(v * 1e6, 4) for v in where]} um; the shipped cases have >= 0.015): two "
            "boundaries of the geometry meet within round-off without being merged; move "
            "the perturbations or the grain seeds slightly, and report the case")
    return data, info


# volume / longest edge^d: equilateral triangle 0.43, regular tetrahedron 0.12; the shipped
# cases >= 0.015, gmsh's 3D polycrystal slivers ~1e-5; a collapsed seam ~1e-11
MIN_CELL_QUALITY = 1e-8


def worst_cell_quality(mesh) -> tuple[float, list[float]]:
    """Smallest volume / (longest edge)^d over the simplex cells (all ranks) and the centre
    of that cell. A sliver (nearly zero volume: two nearly coincident curves or surfaces
    meshed apart) makes the finite-element systems singular; measured: 1.3e-11 on grain
    cells whose edge ran within 0.7 nm of a bump's flat flanks, where M3's Newton then
    stalled at residual ~10. Non-simplex meshes: (inf, [])."""
    tdim = mesh.topology.dim
    if mesh.topology.cell_type not in (dolfinx.mesh.CellType.interval,
                                       dolfinx.mesh.CellType.triangle,
                                       dolfinx.mesh.CellType.tetrahedron):
        return math.inf, []
    n = mesh.topology.index_map(tdim).size_local
    geo = mesh.geometry
    dofmap = geo.dofmaps[0] if hasattr(geo, "dofmaps") else geo.dofmap  # (DOLFINx < 0.11)
    P = geo.x[:, :tdim][dofmap[:n, : tdim + 1]]
    q, c = math.inf, None
    if n:
        E = P[:, 1:] - P[:, :1]
        vol = np.abs(np.linalg.det(E)) / math.factorial(tdim) if tdim > 1 else \
            np.abs(E[:, 0, 0])
        edges = np.stack([np.linalg.norm(P[:, i] - P[:, j], axis=1)
                          for i in range(tdim + 1) for j in range(i + 1, tdim + 1)], 1)
        ratio = vol / np.maximum(edges.max(axis=1), 1e-300) ** tdim
        k = int(np.argmin(ratio))
        q, c = float(ratio[k]), P[k].mean(axis=0).tolist()
    best = mesh.comm.allreduce((q, mesh.comm.rank), op=MPI.MINLOC)
    return best[0], mesh.comm.bcast(c, root=best[1])


def set_mesh_options(dim: int, hmin: float, hmax: float) -> None:
    """Sizes come from fields only; robust algorithms."""
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.MeshSizeMin", 0.5 * hmin)
    opt("Mesh.MeshSizeMax", hmax)
    opt("Mesh.Algorithm", 6)  # Frontal-Delaunay (2D, and surfaces of 3D models)
    opt("Mesh.Algorithm3D", 1)  # Delaunay
    opt("Mesh.ElementOrder", 1)
    opt("Mesh.SecondOrderLinear", 0)


def graded_size_field(entities: list[int], dim: int, h0: float, d0: float, growth: float,
                      hmax: float, length: float, boxes=()) -> int:
    """Background field: size h0 within distance d0 of the given curves (2D) / surfaces (3D),
    then growing linearly with distance at the rate of a geometric grading ``growth``
    (h = h0 + (growth - 1) (d - d0), i.e. neighbouring elements differ by ``growth``), capped
    at hmax. ``length`` is the longest extent of the entities (for the distance sampling).
    ``boxes``: (x0, x1, y0, y1, size) in model units, each a Box field of that size graded
    at the same rate outside it; the background is the smallest of all."""
    f = gmsh.model.mesh.field
    dist = f.add("Distance")
    if dim == 2:
        f.setNumbers(dist, "CurvesList", entities)
        f.setNumber(dist, "Sampling", int(np.clip(2 * length / h0, 100, 200000)))
    else:
        f.setNumbers(dist, "SurfacesList", entities)
        f.setNumber(dist, "Sampling", int(np.clip(2 * length / h0, 20, 600)))
    size = f.add("MathEval")
    f.setString(size, "F", f"Min({hmax!r}, {h0!r} + {growth - 1.0!r} * Max(0, F{dist} - {d0!r}))")
    fields = [size] + box_fields(boxes, hmax, growth)
    if len(fields) > 1:
        size = f.add("Min")
        f.setNumbers(size, "FieldsList", fields)
    f.setAsBackgroundMesh(size)
    return size


def box_fields(boxes, hmax: float, growth: float) -> list[int]:
    """One gmsh Box field per (x0, x1, y0, y1, size) (model units): ``size`` inside, hmax
    outside, over a transition of (hmax - size) / (growth - 1)."""
    f = gmsh.model.mesh.field
    tags = []
    for x0, x1, y0, y1, h in boxes:
        b = f.add("Box")
        for key, v in (("VIn", h), ("VOut", hmax), ("XMin", x0), ("XMax", x1), ("YMin", y0),
                       ("YMax", y1), ("Thickness", (hmax - h) / max(growth - 1.0, 0.05))):
            f.setNumber(b, key, v)
        tags.append(b)
    return tags


def bounding_box(dim: int, tag: int) -> np.ndarray:
    return np.array(gmsh.model.getBoundingBox(dim, tag)).reshape(2, 3)


def upward(dim: int, tag: int) -> list[int]:
    """Tags of the (dim+1)-entities that have this entity on their boundary."""
    return [int(t) for t in gmsh.model.getAdjacencies(dim, tag)[0]]


def add_groups(dim: int, groups: dict[str, list[int]], first_tag: int = 1) -> dict[str, int]:
    """One physical group per non-empty name; returns name -> physical tag."""
    out = {}
    tag = first_tag
    for name, ents in groups.items():
        if not ents:
            continue
        gmsh.model.addPhysicalGroup(dim, sorted(set(ents)), tag, name=name)
        out[name] = tag
        tag += 1
    return out
