"""Plate: a width x height rectangle (2D) of one material, optionally with an edge notch.

The notch is a slit of zero width from the left (or right) edge to ``notch.length`` at
height ``notch.y``: its two faces are distinct gmsh curves with their own nodes (built-in
kernel, the plate as two surfaces that share only the ligament beyond the notch tip), so the
mesh is cut open along the slit. This is the geometry of the single-edge notched tension and
shear specimens (Miehe et al. 2010) and, without a notch, of bars and strips.

Mesh size: ``mesh.max_size`` (default width/20) everywhere, and each ``refine`` box's size
inside that box (gmsh Box fields, minimum taken), with a transition of the box's size times
``1 / (growth_rate - 1)`` outside it.

Names: region "plate" (cell tag 1); boundaries "bottom", "top", "left", "right" and, with a
notch, "notch" (both faces of the slit).
"""

from __future__ import annotations

import gmsh

from solver.geometry.base import Geometry
from solver.geometry.gmshio import add_groups, box_fields, mesh_with_gmsh, reference_length


def plate_sizes(g) -> tuple[float, float]:
    """(hmin, hmax) in metres."""
    hmax = g.mesh.max_size if g.mesh.max_size is not None else g.width / 20
    hmin = min([r.size for r in g.refine] + [hmax])
    return hmin, hmax


def build_plate(case, comm) -> Geometry:
    g = case.geometry
    hmin, hmax = plate_sizes(g)
    scale = reference_length(min(g.width, g.height))

    def build() -> dict:
        return _model(g, scale, hmin, hmax)

    data, info = mesh_with_gmsh(comm, 2, scale, g.mesh.geometry_order, build)
    return Geometry(mesh=data.mesh, cell_tags=data.cell_tags, facet_tags=data.facet_tags,
                    regions=info["regions"], boundaries=info["boundaries"],
                    region_material={"plate": g.material})


def _model(g, scale: float, hmin: float, hmax: float) -> dict:
    geo = gmsh.model.geo
    W, H = g.width / scale, g.height / scale
    pt = lambda x, y: geo.addPoint(x, y, 0.0)  # noqa: E731
    groups: dict[str, list[int]] = {"bottom": [], "top": [], "left": [], "right": [],
                                    "notch": []}
    if g.notch is None:
        p = [pt(0, 0), pt(W, 0), pt(W, H), pt(0, H)]
        lines = [geo.addLine(p[i], p[(i + 1) % 4]) for i in range(4)]
        for name, ln in zip(("bottom", "right", "top", "left"), lines, strict=True):
            groups[name].append(ln)
        surfaces = [geo.addPlaneSurface([geo.addCurveLoop(lines)])]
    else:
        y0, a = g.notch.y / scale, g.notch.length / scale
        left = g.notch.side == "left"
        xe, xt, xo = (0.0, a, W) if left else (W, W - a, 0.0)  # notched edge, tip, other edge
        e_lo, e_hi = pt(xe, y0), pt(xe, y0)  # the two faces' ends on the notched edge
        tip, o_mid = pt(xt, y0), pt(xo, y0)
        b_e, b_o, t_o, t_e = pt(xe, 0), pt(xo, 0), pt(xo, H), pt(xe, H)
        ligament = geo.addLine(tip, o_mid)
        face_lo, face_hi = geo.addLine(e_lo, tip), geo.addLine(tip, e_hi)
        bottom, top = geo.addLine(b_e, b_o), geo.addLine(t_o, t_e)
        o_lo, o_hi = geo.addLine(b_o, o_mid), geo.addLine(o_mid, t_o)
        e_lo_l, e_hi_l = geo.addLine(e_lo, b_e), geo.addLine(t_e, e_hi)
        lower = [bottom, o_lo, -ligament, -face_lo, e_lo_l]
        upper = [ligament, o_hi, top, e_hi_l, -face_hi]
        if not left:  # keep the loops counter-clockwise (orientation only matters to gmsh)
            lower, upper = [-c for c in reversed(lower)], [-c for c in reversed(upper)]
        surfaces = [geo.addPlaneSurface([geo.addCurveLoop(lower)]),
                    geo.addPlaneSurface([geo.addCurveLoop(upper)])]
        groups["bottom"].append(bottom)
        groups["top"].append(top)
        groups["left" if left else "right"] += [e_lo_l, e_hi_l]
        groups["right" if left else "left"] += [o_lo, o_hi]
        groups["notch"] += [face_lo, face_hi]
    geo.synchronize()
    regions = add_groups(2, {"plate": surfaces})
    boundaries = add_groups(1, groups)
    # sizes: Box fields (scaled units), minimum with the default size
    f = gmsh.model.mesh.field
    fields = box_fields([tuple(v / scale for v in r.box) + (r.size / scale,) for r in g.refine],
                        hmax / scale, g.mesh.growth_rate)
    const = f.add("MathEval")
    f.setString(const, "F", repr(hmax / scale))
    fields.append(const)
    mn = f.add("Min")
    f.setNumbers(mn, "FieldsList", fields)
    f.setAsBackgroundMesh(mn)
    opt = gmsh.option.setNumber
    opt("Mesh.MeshSizeFromPoints", 0)
    opt("Mesh.MeshSizeFromCurvature", 0)
    opt("Mesh.MeshSizeExtendFromBoundary", 0)
    opt("Mesh.MeshSizeMin", 0.5 * hmin / scale)
    opt("Mesh.MeshSizeMax", hmax / scale)
    opt("Mesh.Algorithm", 6)
    return {"regions": regions, "boundaries": boundaries}
