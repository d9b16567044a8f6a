"""Layered geometry: metal slab with a perturbed top, conformal coatings, optional electrolyte.

Construction (gmsh OpenCASCADE kernel, scaled units, rank 0):

1. one rectangle (2D) / box (3D) for the whole domain; without electrolyte it reaches above
   the outermost coating and the part above is removed afterwards;
2. every interface -- the metal surface and the outer surface of each coating -- as a spline
   curve (2D) or an interpolating cubic B-spline surface (3D, `bspline.py`) through samples
   of the analytic height field
   (`Surface.offset`: the exact normal offset of the metal surface by the cumulative coating
   thickness). Interfaces extend 2 % of the width beyond the side walls (the perturbations are
   analytic and continue outside the domain), so the side walls cut the layers vertically and
   the thickness stays exact along the normal everywhere inside the domain;
3. ``occ.fragment`` splits the box; pieces outside it are removed; volumes are classified by a
   point inside each layer, boundaries by adjacency (interfaces) or bounding box (outer walls).

A predelaminated segment (2D: |x - center| < length/2 measured along x; 3D: the part of the
interface above the disc of diameter ``length`` around (cx, cy)) of the metal/first-coating
interface is a separate curve/surface with exact end points; it is tagged "predelaminated"
and the rest of that interface "interface_metal_<coating>".
"""

from __future__ import annotations

import gmsh
import numpy as np

from solver.geometry.base import Geometry
from solver.geometry.bspline import interpolating_poles
from solver.geometry.gmshio import (
    add_groups,
    bounding_box,
    graded_size_field,
    mesh_with_gmsh,
    reference_length,
    set_mesh_options,
    upward,
)
from solver.geometry.surface import Surface
from solver.geometry.validate import EXTEND
from solver.geometry.voronoi import cells_2d

MAX_SPLINE_POINTS_2D = 4000
MAX_SPLINE_POINTS_3D = 80  # per direction


def build_layered(case, comm) -> Geometry:
    g, dim = case.geometry, case.dimension
    surf = Surface(g, dim)
    layers = [g.metal.thickness] + [c.thickness for c in g.coatings]
    if g.electrolyte is not None:
        layers.append(g.electrolyte.thickness)
    scale = reference_length(min(layers))
    data, info = mesh_with_gmsh(comm, dim, scale, g.mesh.geometry_order,
                                lambda: _LayeredModel(case, surf, scale).build())
    material = {"metal": g.metal.material} | {c.name: c.material for c in g.coatings}
    thickness = {c.name: c.thickness for c in g.coatings}
    orientation = {}
    if g.electrolyte is not None:
        thickness["electrolyte"] = g.electrolyte.thickness
        if g.electrolyte.grains is None:
            material["electrolyte"] = g.electrolyte.material
        else:
            angles = grain_orientations(g.electrolyte.grains)
            for name, tag in info["regions"].items():
                if name.startswith("grain_"):
                    material[name] = g.electrolyte.material
                    orientation[tag] = angles[int(name[6:])]
    total = sum(c.thickness for c in g.coatings)

    def top(P):
        P = np.asarray(P, dtype=float).reshape(len(P), -1)
        if P.shape[1] == 1:  # 2D: lateral x only
            P = np.column_stack([P, np.zeros(len(P))])
        return surf.offset(total, P)
    return Geometry(mesh=data.mesh, cell_tags=data.cell_tags, facet_tags=data.facet_tags,
                    regions=info["regions"], boundaries=info["boundaries"],
                    region_material=material, layer_thickness=thickness,
                    surface_height=surf.height, orientation=orientation,
                    coating_top_height=top if g.coatings else None)


def electrolyte_grain_seeds(case) -> np.ndarray:
    """The electrolyte's grain seeds (n_grains x 2, metres): uniform in the box from the
    lowest point of the outer coating (or metal) surface to the top, from
    numpy.random.default_rng(seed), kept only above that surface, drawn until there are
    n_grains (deterministic for a given seed)."""
    g = case.geometry
    grains = g.electrolyte.grains
    if grains.seeds is not None:  # given (checked to lie in the electrolyte)
        return np.array(grains.seeds, dtype=float)
    surf = Surface(g, case.dimension)
    total = sum(c.thickness for c in g.coatings)
    xs = np.linspace(0.0, g.width, 2001)
    floor = surf.offset(total, np.stack([xs, np.zeros_like(xs)], axis=1))
    lo = float(floor.min())
    hi = g.metal.thickness + total + g.electrolyte.thickness
    rng = np.random.default_rng(grains.seed)
    out = []
    while len(out) < grains.n_grains:
        p = rng.uniform(size=2) * [g.width, hi - lo] + [0.0, lo]
        if p[1] > np.interp(p[0], xs, floor):
            out.append(p)
    return np.array(out)


def grain_orientations(grains) -> list[float]:
    """One c-axis angle per grain: the case's ``orientations`` when given, else uniform in
    [0, pi) from a generator seeded with seed + 1 (independent of the seed points)."""
    if grains.orientations is not None:
        return [float(a) for a in grains.orientations]
    rng = np.random.default_rng(grains.seed + 1)
    return [float(a) for a in rng.uniform(0.0, np.pi, size=grains.n_grains)]


def mesh_sizes(case, surf: Surface) -> tuple[float, float, float, float]:
    """(h0, d0, hmax, hmin) in metres: size h0 within d0 of the interfaces, graded up to hmax;
    hmin = thinnest layer / elements_through_thinnest_layer. ``mesh.interface_size`` and
    ``mesh.interface_band`` set h0 (= hmin) and d0 directly."""
    g = case.geometry
    m = g.mesh
    layers = [g.metal.thickness] + [c.thickness for c in g.coatings]
    if g.electrolyte is not None:
        layers.append(g.electrolyte.thickness)
    thinnest = min(layers)
    hmin = thinnest / m.elements_through_thinnest_layer
    h0 = min(hmin, surf.feature_length() / 4)
    if m.interface_size is not None:
        h0 = hmin = m.interface_size
    # a max_size below the layers' default size holds when interface_size sets the size at
    # the interfaces (before session 27 the default raised max_size)
    hmax = max(m.max_size if m.max_size is not None else g.width / 20, h0)
    if m.adapt is not None:  # the base mesh: refined back to h0 where the front runs
        h0 = hmin = min(h0 * 2 ** m.adapt.levels, hmax)
    # every point of the thinnest layer lies within thinnest/2 of an interface: keep h <= hmin
    d0 = max(0.0, thinnest / 2 - (hmin - h0) / (m.growth_rate - 1.0))
    if m.interface_band is not None:
        d0 = m.interface_band
    return h0, d0, hmax, hmin


class _LayeredModel:
    """Builds the gmsh model (rank 0 only); all gmsh coordinates are in units of `scale`."""

    def __init__(self, case, surf: Surface, scale: float):
        g = case.geometry
        self.case, self.g, self.surf, self.L = case, g, surf, scale
        self.dim = case.dimension
        self.occ = gmsh.model.occ
        self.W = g.width / scale
        self.D = g.depth / scale if self.dim == 3 else None
        self.ext = EXTEND * self.W
        self.stack = ["metal"] + [c.name for c in g.coatings]
        if g.electrolyte is not None:
            self.stack.append("electrolyte")
        self.offsets = np.concatenate([[0.0], np.cumsum([c.thickness for c in g.coatings])])
        feat = surf.feature_length() / scale
        self.spacing = min(feat / 16, self.W / 32)

    # ------------------------------------------------------------------ heights
    def heights(self, k: int, x, y=None) -> np.ndarray:
        """Height (scaled) of interface k (k=0: metal surface) at scaled lateral points."""
        x = np.atleast_1d(np.asarray(x, float))
        y = np.zeros_like(x) if y is None else np.broadcast_to(np.asarray(y, float), x.shape)
        P = np.stack([x.ravel(), y.ravel()], axis=1) * self.L
        return (self.surf.offset(self.offsets[k], P) / self.L).reshape(x.shape)

    def _grid(self, lo: float, hi: float, nmax: int) -> np.ndarray:
        n = int(np.clip(np.ceil((hi - lo) / self.spacing), 3, nmax - 1)) + 1
        return np.linspace(lo, hi, n)

    # ------------------------------------------------------------------ interfaces
    def _curve(self, k: int, breaks: list[float]) -> list[int]:
        """2D interface k from x=-ext to W+ext as curves split at `breaks` (x values)."""
        occ = self.occ
        knots = [-self.ext, *breaks, self.W + self.ext]
        zk = self.heights(k, np.array(knots))
        ends = [occ.addPoint(x, z, 0) for x, z in zip(knots, zk, strict=True)]
        curves = []
        for a in range(len(knots) - 1):
            if self.surf.flat:
                curves.append(occ.addLine(ends[a], ends[a + 1]))
                continue
            npts = max(MAX_SPLINE_POINTS_2D // (len(knots) - 1), 8)
            xs = self._grid(knots[a], knots[a + 1], npts)[1:-1]
            zs = self.heights(k, xs)
            mid = [occ.addPoint(x, z, 0) for x, z in zip(xs, zs, strict=True)]
            curves.append(occ.addSpline([ends[a], *mid, ends[a + 1]]))
        return curves

    def _surface(self, k: int) -> int:
        """3D interface k over [-ext, W+ext] x [-ext, D+ext] (an interpolating cubic patch)."""
        occ, e = self.occ, self.ext
        if self.surf.flat:
            z = float(self.heights(k, [0.0])[0])
            return occ.addRectangle(-e, -e, z, self.W + 2 * e, self.D + 2 * e)
        xs = self._grid(-e, self.W + e, MAX_SPLINE_POINTS_3D)
        ys = self._grid(-e, self.D + e, MAX_SPLINE_POINTS_3D)
        Z = self.heights(k, *np.meshgrid(xs, ys))
        px, py, Pz, (ku, mu), (kv, mv) = interpolating_poles(xs, ys, Z)
        poles = [occ.addPoint(px[i], py[j], Pz[j, i]) for j in range(len(py))
                 for i in range(len(px))]
        face = occ.addBSplineSurface(poles, len(px), knotsU=ku, knotsV=kv,
                                     multiplicitiesU=mu, multiplicitiesV=mv)
        occ.remove([(0, p) for p in poles])
        return face

    def _split_disc(self, face: int) -> list[int]:
        """Split a 3D interface surface along the vertical cylinder over the predelaminated
        disc; returns the pieces of the surface."""
        occ = self.occ
        pd = self.g.predelamination
        cx, cy = (c / self.L for c in pd.center)
        r = pd.length / 2 / self.L
        th = np.linspace(0, 2 * np.pi, 64)
        z = self.heights(0, cx + r * np.cos(th), cy + r * np.sin(th))
        lo, hi = z.min() - 0.5 * r, z.max() + 0.5 * r
        circle = occ.addCircle(cx, cy, lo, r)
        cyl = [dt for dt in occ.extrude([(1, circle)], 0, 0, hi - lo) if dt[0] == 2]
        _, parts = occ.fragment([(2, face)], cyl)
        keep = parts[0]
        tool = [dt for p in parts[1:] for dt in p if dt not in keep]
        occ.remove(tool, recursive=True)
        return [t for _, t in keep]

    # ------------------------------------------------------------------ model
    def build(self) -> dict:
        occ, dim, g = self.occ, self.dim, self.g
        n_if = len(self.offsets)
        lat_mid = [self.W / 2] + ([self.D / 2] if dim == 3 else [])
        z_mid = [float(self.heights(k, *lat_mid)[0]) for k in range(n_if)]
        total = self.offsets[-1] / self.L
        if g.electrolyte is not None:
            ztop = (g.metal.thickness / self.L + total + g.electrolyte.thickness / self.L)
        else:  # a box above the outer coating; the part above it is removed
            xs = np.linspace(0, self.W, 2001 if dim == 2 else 201)
            lateral = (xs,) if dim == 2 else np.meshgrid(xs, np.linspace(0, self.D, 201))
            outer = self.heights(n_if - 1, *lateral)
            ztop = float(outer.max()) + max(total, 0.1 * g.metal.thickness / self.L)

        pd = g.predelamination
        tools = []
        for k in range(n_if):
            if dim == 2:
                breaks = []
                if k == 0 and pd is not None:
                    cx, half = pd.center[0] / self.L, pd.length / 2 / self.L
                    # a segment may run into a side wall (a symmetry plane): no break there
                    breaks = [b for b in (cx - half, cx + half) if 0.0 < b < self.W]
                tools += [(1, t) for t in self._curve(k, breaks)]
            else:
                face = self._surface(k)
                pieces = self._split_disc(face) if (k == 0 and pd is not None) else [face]
                tools += [(2, t) for t in pieces]
        if dim == 2:
            box = occ.addRectangle(0, 0, 0, self.W, ztop)
        else:
            box = occ.addBox(0, 0, 0, self.W, self.D, ztop)
        occ.fragment([(dim, box)], tools)
        occ.synchronize()

        # classify volumes with a point inside each layer (at the domain's lateral centre)
        bounds = [0.0, *z_mid, ztop]
        probes = [[*lat_mid, 0.5 * (bounds[i] + bounds[i + 1])] for i in range(n_if + 1)]
        if dim == 2:
            probes = [[p[0], p[1], 0.0] for p in probes]
        names = self.stack + (["void"] if g.electrolyte is None else [])
        region_of: dict[int, str] = {}
        for _, t in gmsh.model.getEntities(dim):
            hit = [n for n, p in zip(names, probes, strict=True) if gmsh.model.isInside(dim, t, p)]
            if len(hit) != 1:
                raise RuntimeError(f"could not classify the layer of entity {t} ({hit})")
            region_of[t] = hit[0]
        void = [(dim, t) for t, n in region_of.items() if n == "void"]
        if void:
            occ.remove(void)
            occ.synchronize()
        orphans = [(dim - 1, t) for _, t in gmsh.model.getEntities(dim - 1)
                   if not upward(dim - 1, t)]
        if orphans:
            occ.remove(orphans, recursive=True)
            occ.synchronize()
        region_of = {t: n for t, n in region_of.items() if n != "void"}
        if sorted(set(region_of.values()), key=self.stack.index) != self.stack:
            raise RuntimeError("a layer is missing after splitting the domain")
        self.grain_of: dict[int, int] = {}
        if g.electrolyte is not None and g.electrolyte.grains is not None:
            region_of = self._grains(region_of, ztop)
        return self._tag(region_of)

    def _grains(self, region_of: dict[int, str], ztop: float) -> dict[int, str]:
        """2D: split the electrolyte into the Voronoi cells of seeds drawn above the outer
        coating (``grains_and_orientations``); fragment the whole model with the cells so
        the grains are conforming with the layers; pieces outside the electrolyte are
        dropped. Sets self.grain_of {entity: grain index}; returns the new region_of."""
        occ = self.occ
        L = self.L
        seeds = electrolyte_grain_seeds(self.case) / L
        xs = np.linspace(0.0, self.W, 2001)
        k = len(self.offsets) - 1
        top = self.heights(k, xs)
        below = self.heights(k - 1, xs) if k > 0 else np.zeros_like(xs)
        # the cells start halfway into the layer under the electrolyte: a cell edge at the
        # lowest point of the surface would run within 3 pm - 0.7 nm of its flat parts, and
        # OCC meshed the two curves apart, with degenerate cells between them (measured on
        # m6_grains: 24 coincident vertex pairs, quality 1.3e-11). The pieces below the
        # surface are that layer's.
        lo = float(top.min()) - 0.5 * float((top - below).min())
        polys = []
        for poly in cells_2d(seeds - [0.0, lo], self.W, ztop - lo):
            pts = [occ.addPoint(x, y + lo, 0.0) for x, y in poly]
            lines = [occ.addLine(pts[i], pts[(i + 1) % len(pts)]) for i in range(len(pts))]
            polys.append(occ.addPlaneSurface([occ.addCurveLoop(lines)]))
        objects = sorted(region_of)
        _, children = occ.fragment([(2, t) for t in objects], [(2, t) for t in polys])
        occ.synchronize()
        parent: dict[int, str] = {}
        for t, kids in zip(objects, children[:len(objects)], strict=True):
            for _, k in kids:
                parent[k] = region_of[t]
        cell_of: dict[int, int] = {}
        for i, kids in enumerate(children[len(objects):]):
            for _, k in kids:
                cell_of.setdefault(k, i)
        outside = [(2, k) for k in cell_of if k not in parent]
        if outside:
            occ.remove(outside, recursive=True)
            occ.synchronize()
        new = {}
        for _, k in gmsh.model.getEntities(2):
            new[k] = parent[k]
            if parent[k] == "electrolyte":
                self.grain_of[k] = cell_of[k]
        return new

    def _tag(self, region_of: dict[int, str]) -> dict:
        dim, g = self.dim, self.g
        W = self.W
        tol = 1e-6 * W
        outer = ["bottom", "top", "left", "right"] + (["front", "back"] if dim == 3 else [])
        stack = self.stack
        inter = [f"interface_{a}_{b}" for a, b in zip(stack[:-1], stack[1:], strict=True)]
        groups: dict[str, list[int]] = {n: [] for n in outer + inter + ["predelaminated"]}
        if self.grain_of:
            groups["grain_boundaries"] = []
        vert = dim - 1
        for _, t in gmsh.model.getEntities(dim - 1):
            up = upward(dim - 1, t)
            if len(up) == 2 and all(v in self.grain_of for v in up):
                if self.grain_of[up[0]] != self.grain_of[up[1]]:
                    groups["grain_boundaries"].append(t)
                continue  # (two pieces of one grain: an internal facet, untagged)
            adj = sorted({stack.index(region_of[v]) for v in up})
            if len(adj) == 2:
                groups[f"interface_{stack[adj[0]]}_{stack[adj[1]]}"].append(t)
                continue
            if len(up) == 2:
                # two pieces of one layer (the grains' cells also cut the metal or a coating
                # where the surface rises above their lowest point): internal, untagged
                continue
            bb = bounding_box(dim - 1, t)
            if np.all(np.abs(bb[:, 0]) < tol):
                groups["left"].append(t)
            elif np.all(np.abs(bb[:, 0] - W) < tol):
                groups["right"].append(t)
            elif dim == 3 and np.all(np.abs(bb[:, 1]) < tol):
                groups["front"].append(t)
            elif dim == 3 and np.all(np.abs(bb[:, 1] - self.D) < tol):
                groups["back"].append(t)
            elif np.all(np.abs(bb[:, vert]) < tol):
                groups["bottom"].append(t)
            else:
                groups["top"].append(t)
        if g.predelamination is not None:
            # the debonded piece is the one piece of the metal/first-coating interface whose
            # boundary does not touch the side walls
            walls = [(dim - 1, t) for n in ("left", "right", "front", "back")
                     for t in groups.get(n, [])]
            on_wall = {t for _, t in gmsh.model.getBoundary(walls, combined=False,
                                                            oriented=False)}
            cx = g.predelamination.center[0] / self.L
            half = g.predelamination.length / 2 / self.L
            for t in list(groups[inter[0]]):
                if dim == 2:  # the piece whose middle lies in the segment (may touch a wall)
                    bb = bounding_box(dim - 1, t)
                    debonded = abs(0.5 * (bb[0, 0] + bb[1, 0]) - cx) < half
                else:  # the disc: the piece whose boundary does not touch the walls
                    ends = gmsh.model.getBoundary([(dim - 1, t)], combined=False,
                                                  oriented=False)
                    debonded = not on_wall & {e for _, e in ends}
                if debonded:
                    groups[inter[0]].remove(t)
                    groups["predelaminated"].append(t)
            outer.append("predelaminated")
        missing = [n for n in outer + inter if not groups[n]]
        if missing:
            raise RuntimeError(f"no boundary entities found for {', '.join(missing)}")

        names = {n: [t for t, r in region_of.items() if r == n] for n in stack}
        if self.grain_of:  # the electrolyte is its grains
            del names["electrolyte"]
            for t, i in sorted(self.grain_of.items()):
                names.setdefault(f"grain_{i}", []).append(t)
            if not groups["grain_boundaries"]:
                del groups["grain_boundaries"]
        regions = add_groups(dim, names)
        boundaries = add_groups(dim - 1, groups)
        self._sizes(groups)
        return {"regions": regions, "boundaries": boundaries}

    def _sizes(self, groups: dict[str, list[int]]) -> None:
        h0, d0, hmax, hmin = (v / self.L for v in mesh_sizes(self.case, self.surf))
        refine = [t for n, ts in groups.items()
                  if n.startswith("interface_") or n == "predelaminated" for t in ts]
        if self.g.electrolyte is None:
            refine += groups["top"]
        boxes = [tuple(v / self.L for v in r.box) + (r.size / self.L,)
                 for r in self.g.mesh.refine]
        set_mesh_options(self.dim, min([h0] + [b[-1] for b in boxes]), hmax)
        length = max(self.W, self.D or 0.0) * 1.5
        graded_size_field(refine, self.dim, h0, d0, self.g.mesh.growth_rate, hmax, length,
                          boxes)
