"""Polycrystal: a width x height (x depth) block split into Voronoi grains, 2D and 3D.

Seeds and orientations come from ``numpy.random.default_rng(seed)``: first the n_grains seed
points (uniform in the block), then the orientations: 2D one angle about z per grain, uniform
in [0, pi); 3D uniformly random rotations as Bunge Euler angles (phi1, Phi, phi2) with
phi1, phi2 uniform in [0, 2 pi) and cos(Phi) uniform in [-1, 1]. The Voronoi cells
(`solver.geometry.voronoi`) are added to gmsh's built-in kernel bottom-up, with the vertices,
edges and faces that neighbouring cells share created once.

In 3D the vertical axis is z (height); y spans the depth.

Names: regions "grain_<i>" (cell tag i + 1, i = 0 .. n_grains - 1), boundaries "bottom",
"top", "left", "right" (3D also "front", "back") and "grain_boundaries" (every facet between
two grains). Geometry.orientation maps the cell tag i + 1 to grain i's orientation.
Grain boundaries of finite width are not supported yet (check_geometry rejects them).
"""

from __future__ import annotations

import gmsh
import numpy as np

from solver.geometry.base import Geometry
from solver.geometry.gmshio import (
    add_groups,
    bounding_box,
    mesh_with_gmsh,
    reference_length,
    upward,
)
from solver.geometry.voronoi import cells_2d, cells_3d


def block_size(g, dim: int) -> np.ndarray:
    """Extent along the mesh axes: 2D (width, height), 3D (width, depth, height)."""
    return np.array([g.width, g.height] if dim == 2 else [g.width, g.depth, g.height])


def seeds_and_orientations(g, dim: int) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(g.seed)
    seeds = rng.uniform(size=(g.n_grains, dim)) * block_size(g, dim)
    if dim == 2:
        return seeds, [float(a) for a in rng.uniform(0.0, np.pi, size=g.n_grains)]
    phi1 = rng.uniform(0.0, 2 * np.pi, size=g.n_grains)
    Phi = np.arccos(rng.uniform(-1.0, 1.0, size=g.n_grains))
    phi2 = rng.uniform(0.0, 2 * np.pi, size=g.n_grains)
    return seeds, [tuple(float(v) for v in e) for e in zip(phi1, Phi, phi2, strict=True)]


def build_polycrystal(case, comm) -> Geometry:
    g, dim = case.geometry, case.dimension
    size = block_size(g, dim)
    seeds, orient = seeds_and_orientations(g, dim)
    grain = (np.prod(size) / g.n_grains) ** (1.0 / dim)
    scale = reference_length(min(grain, size.min()))
    hmax = g.mesh.max_size or size.min() / (4.0 * g.n_grains ** (1.0 / dim))

    def build() -> dict:
        b = _Builder(1e-9 * size.max() / scale)
        if dim == 2:
            grains = [b.face(poly / scale) for poly in cells_2d(seeds, *size)]
        else:
            grains = [b.volume([f / scale for f in faces]) for faces in cells_3d(seeds, size)]
        gmsh.model.geo.synchronize()
        return _model(grains, dim, size / scale, hmax / scale)

    data, info = mesh_with_gmsh(comm, dim, scale, g.mesh.geometry_order, build)
    names = [f"grain_{i}" for i in range(g.n_grains)]
    return Geometry(mesh=data.mesh, cell_tags=data.cell_tags, facet_tags=data.facet_tags,
                    regions=info["regions"], boundaries=info["boundaries"],
                    region_material={n: g.material for n in names},
                    orientation={info["regions"][n]: o
                                 for n, o in zip(names, orient, strict=True)})


class _Builder:
    """Bottom-up gmsh model in the built-in kernel: vertices, edges and faces that cells share
    are created once (vertices merged within `eps`), so the grains are conforming without
    any boolean operation (OpenCASCADE's fragment is far too slow for thousands of grains)."""

    def __init__(self, eps: float):
        self.eps = eps
        self.buckets: dict[tuple, list[tuple[np.ndarray, int]]] = {}
        self.edges: dict[tuple[int, int], int] = {}
        self.faces: dict[tuple[int, ...], int] = {}

    def point(self, q: np.ndarray) -> int:
        key = tuple(np.floor(q / (4 * self.eps)).astype(int))
        for off in np.ndindex(*(3,) * len(q)):
            near = tuple(k + o - 1 for k, o in zip(key, off, strict=True))
            for v, t in self.buckets.get(near, []):
                if np.linalg.norm(v - q) <= self.eps:
                    return t
        t = gmsh.model.geo.addPoint(*q, *([0.0] * (3 - len(q))))
        self.buckets.setdefault(key, []).append((q, t))
        return t

    def face(self, poly: np.ndarray) -> int | None:
        ids = [self.point(q) for q in poly]
        ids = [a for a, b in zip(ids, ids[1:] + ids[:1], strict=True) if a != b]
        if len(ids) < 3:
            return None
        key = tuple(sorted(ids))
        if key in self.faces:
            return self.faces[key]
        loop = []
        for a, b in zip(ids, ids[1:] + ids[:1], strict=True):
            e = (min(a, b), max(a, b))
            if e not in self.edges:
                self.edges[e] = gmsh.model.geo.addLine(*e)
            loop.append(self.edges[e] if a < b else -self.edges[e])
        self.faces[key] = gmsh.model.geo.addPlaneSurface([gmsh.model.geo.addCurveLoop(loop)])
        return self.faces[key]

    def volume(self, faces: list[np.ndarray]) -> int:
        tags = [t for t in (self.face(f) for f in faces) if t is not None]
        return gmsh.model.geo.addVolume([gmsh.model.geo.addSurfaceLoop(tags)])


def _model(grains: list[int], dim: int, size: np.ndarray, hmax: float) -> dict:
    if None in grains or len(set(grains)) != len(grains):
        raise RuntimeError("a Voronoi cell degenerated while merging its vertices")
    tol = 1e-6 * size.max()
    sides = [("left", 0, 0.0), ("right", 0, size[0]), ("bottom", dim - 1, 0.0),
             ("top", dim - 1, size[dim - 1])]
    if dim == 3:
        sides += [("front", 1, 0.0), ("back", 1, size[1])]
    groups: dict[str, list[int]] = {n: [] for n, _, _ in sides}
    groups["grain_boundaries"] = []
    for _, t in gmsh.model.getEntities(dim - 1):
        if len(upward(dim - 1, t)) == 2:
            groups["grain_boundaries"].append(t)
            continue
        bb = bounding_box(dim - 1, t)
        side = [n for n, axis, at in sides if np.all(np.abs(bb[:, axis] - at) < tol)]
        if len(side) != 1:
            raise RuntimeError(f"cannot place outer facet {t} on one side of the block")
        groups[side[0]].append(t)
    regions = add_groups(dim, {f"grain_{i}": [t] for i, t in enumerate(grains)})
    boundaries = add_groups(dim - 1, groups)
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.MeshSizeMax", hmax)
    opt("Mesh.Algorithm", 6)
    opt("Mesh.Algorithm3D", 1)
    return {"regions": regions, "boundaries": boundaries}
