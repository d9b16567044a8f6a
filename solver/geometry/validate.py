"""`check_geometry`: every geometry check that needs no mesh (pure numpy, no gmsh).

Each failure raises GeometryError with a one-line message that starts with the key path.
"""

from __future__ import annotations

import numpy as np

from solver.errors import GeometryError
from solver.geometry.surface import Surface

RESOLVABLE = 1e-6  # thinnest layer, as a fraction of the width
MIN_METAL = 0.05  # the surface must stay above this fraction of the metal thickness
EXTEND = 0.02  # interfaces are built this fraction of the width beyond the side walls


def lateral_samples(surf: Surface, margin: float) -> np.ndarray:
    """Lateral points (n, 2) covering the domain plus `margin` on every side."""
    w = surf.width
    feat = min(surf.feature_length(), w)
    if surf.dim == 2:
        n = int(np.clip((w + 2 * margin) / (feat / 20), 2001, 200001))
        x = np.linspace(-margin, w + margin, n)
        return np.stack([x, np.zeros(n)], axis=1)
    d = surf.depth
    feat = min(feat, d)
    nx = int(np.clip((w + 2 * margin) / (feat / 12), 101, 401))
    ny = int(np.clip((d + 2 * margin) / (feat / 12), 101, 401))
    X, Y = np.meshgrid(np.linspace(-margin, w + margin, nx), np.linspace(-margin, d + margin, ny))
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def _where(P: np.ndarray, dim: int) -> str:
    return f"x={P[0]:.4g}" if dim == 2 else f"(x, y)=({P[0]:.4g}, {P[1]:.4g})"


def check_geometry(case) -> None:
    g = case.geometry
    if g.kind == "polycrystal":
        _check_polycrystal(case)
    elif g.kind == "plate":
        _check_plate(case)
    else:
        _check_layered(case)


def _check_polycrystal(case) -> None:
    g = case.geometry
    if g.grain_boundary_width > 0:
        raise GeometryError("geometry.grain_boundary_width: grain boundaries of finite width "
                            "are not supported yet; use 0 (sharp boundaries)")


def _check_plate(case) -> None:
    g = case.geometry
    if case.dimension != 2:
        raise GeometryError("geometry.kind: plate is two-dimensional; set dimension: 2")
    if g.notch is not None:
        n = g.notch
        if not n.length < g.width:
            raise GeometryError(f"geometry.notch.length: {n.length:g} m does not leave a "
                                f"ligament in the {g.width:g} m wide plate; shorten the notch")
        if not n.y < g.height:
            raise GeometryError(f"geometry.notch.y: {n.y:g} m is not inside the plate (height "
                                f"{g.height:g} m); put the notch between bottom and top")
    hmax = g.mesh.max_size if g.mesh.max_size is not None else g.width / 20
    _check_boxes(g.refine, "geometry.refine", g.width, g.height, hmax, "plate")


def _check_boxes(boxes, key0: str, width: float, height: float, hmax: float,
                 what: str) -> None:
    """Refinement boxes [x0, x1, y0, y1] overlap the domain and refine."""
    for i, r in enumerate(boxes):
        x0, x1, y0, y1 = r.box
        key = f"{key0}[{i}]"
        if not (x1 > x0 and y1 > y0):
            raise GeometryError(f"{key}.box: expected [x0, x1, y0, y1] with x1 > x0 and "
                                f"y1 > y0, got {r.box}")
        if x1 <= 0 or x0 >= width or y1 <= 0 or y0 >= height:
            raise GeometryError(f"{key}.box: {r.box} does not overlap the {what} "
                                f"[0, {width:g}] x [0, {height:g}] m")
        if r.size > hmax:
            raise GeometryError(f"{key}.size: {r.size:g} m is coarser than the mesh "
                                f"elsewhere ({hmax:g} m, geometry.mesh.max_size); refine means "
                                "smaller")
        n_est = (min(x1, width) - max(x0, 0)) * (min(y1, height) - max(y0, 0)) / r.size ** 2
        if n_est > 2e7:
            raise GeometryError(f"{key}.size: {r.size:g} m in that box means ~{n_est:.2g} "
                                "triangles; coarsen it or shrink the box")


def _check_perturbations(case) -> None:
    g, dim = case.geometry, case.dimension
    extent = [("x", g.width)] + ([("y", g.depth)] if dim == 3 else [])
    for i, p in enumerate(g.metal.perturbations):
        key = f"geometry.metal.perturbations[{i}]"
        if p.type == "bump":
            if len(p.center) != dim - 1:
                want = "[x]" if dim == 2 else "[x, y]"
                raise GeometryError(f"{key}.center: expected {dim - 1} coordinate(s) {want} in "
                                    f"{dim}D, got {len(p.center)}")
            for c, (name, ext) in zip(p.center, extent, strict=True):
                if not 0.0 <= c <= ext:
                    raise GeometryError(f"{key}.center: {name}={c:g} is outside the domain "
                                        f"[0, {ext:g}] m; move the bump inside")
            if p.shape == "spherical" and abs(p.height) > p.radius:
                raise GeometryError(f"{key}.height: |{p.height:g}| m exceeds the radius "
                                    f"{p.radius:g} m; a spherical cap cannot be taller than its "
                                    "sphere's radius (use a larger radius or shape: gaussian)")
        if p.type == "sinusoid" and dim == 2 and p.wavelength_y is not None:
            raise GeometryError(f"{key}.wavelength_y: only for dimension 3; remove it")


def _check_layered(case) -> None:
    g, dim = case.geometry, case.dimension
    _check_perturbations(case)
    thinnest = RESOLVABLE * g.width
    layers = [(f"geometry.coatings[{i}].thickness", c.thickness) for i, c in enumerate(g.coatings)]
    if g.electrolyte is not None:
        layers.append(("geometry.electrolyte.thickness", g.electrolyte.thickness))
    for key, t in layers:
        if t < thinnest:
            raise GeometryError(f"{key}: {t:g} m is thinner than the mesh can resolve; the "
                                f"thinnest resolvable layer is {thinnest:g} m (1e-6 x width)")

    surf = Surface(g, dim)
    total = sum(c.thickness for c in g.coatings)
    if g.mesh.refine:
        if dim != 2:
            raise GeometryError("geometry.mesh.refine: boxes are [x0, x1, y0, y1] in 2D; in "
                                "3D use geometry.mesh.interface_size / interface_band")
        if g.mesh.adapt is not None:
            raise GeometryError("geometry.mesh.refine: not with geometry.mesh.adapt (the "
                                "adaptive mesh refines where the front runs); drop one")
        height = g.metal.thickness + total + (g.electrolyte.thickness if g.electrolyte
                                              else 0.0)
        hmax = g.mesh.max_size if g.mesh.max_size is not None else g.width / 20
        _check_boxes(g.mesh.refine, "geometry.mesh.refine", g.width, height, hmax,
                     "layered domain")
    P = lateral_samples(surf, EXTEND * g.width + total)
    inside = (P[:, 0] >= 0) & (P[:, 0] <= g.width)
    if dim == 3:
        inside &= (P[:, 1] >= 0) & (P[:, 1] <= g.depth)
    f = surf.eval(P)[0]
    i = int(np.argmin(np.where(inside, f, np.inf)))
    floor = MIN_METAL * g.metal.thickness
    if f[i] <= floor:
        raise GeometryError(f"geometry.metal.perturbations: the metal surface dips to "
                            f"z={f[i]:.4g} m at {_where(P[i], dim)}, below 5% of the metal "
                            f"thickness ({floor:g} m); reduce the perturbations or thicken "
                            "geometry.metal")
    if g.electrolyte is not None:
        top = g.metal.thickness + total + g.electrolyte.thickness
        _check_grain_seeds(g, surf, total, top)
        i = int(np.argmax(np.where(inside, f, -np.inf)))
        reach = f[i] + total
        if reach >= top - MIN_METAL * g.electrolyte.thickness:
            raise GeometryError(f"geometry.metal.perturbations: the surface plus coatings "
                                f"reach z={reach:.4g} m at {_where(P[i], dim)}, at or within 5% "
                                f"of the electrolyte thickness of its top (z={top:.4g} m); "
                                "reduce the perturbations or thicken geometry.electrolyte")
    if g.coatings and not surf.flat:
        kmax, at = surf.max_concave_curvature(P)
        cum = 0.0
        for i, c in enumerate(g.coatings):
            cum += c.thickness
            if kmax > 0 and cum * kmax >= 1.0:
                raise GeometryError(
                    f"geometry.coatings[{i}].thickness: the coatings reach {cum:g} m above the "
                    f"metal, not less than the {1 / kmax:.3g} m radius of curvature of a "
                    f"valley of the surface at {_where(at, dim)}; the conformal layer would "
                    "fold onto itself (thin the coatings or smooth the surface)")
        _check_offset_unfolds(surf, P, g, dim)
    _check_predelamination(case)


def _check_grain_seeds(g, surf: Surface, total: float, top: float) -> None:
    """Given electrolyte grain seeds lie between the outer surface and the top."""
    grains = g.electrolyte.grains
    if grains is None or grains.seeds is None:
        return
    S = np.array(grains.seeds, dtype=float)
    floor = surf.offset(total, np.stack([S[:, 0], np.zeros(len(S))], axis=1))
    for i, (x, y) in enumerate(S):
        if not (0.0 <= x <= g.width and floor[i] < y < top):
            raise GeometryError(
                f"geometry.electrolyte.grains.seeds[{i}]: [{x:g}, {y:g}] m is not in the "
                f"electrolyte (x in [0, {g.width:g}], y between the surface, {floor[i]:.4g} m "
                f"there, and the top, {top:g} m); move the point")


def _check_offset_unfolds(surf: Surface, P: np.ndarray, g, dim: int) -> None:
    """The top of each coating (the normal offset of the metal surface) must not fold over
    itself globally: normals from a bump's flank and from the flat beside it cross within
    the coating thickness even where every valley is gentler than the local curvature check
    asks (Gmsh then cannot build the layer), and close to the curvature limit the offset's
    Newton solve stops converging. 2D: the offset's lateral position s - t g / w must
    increase with s; 2D and 3D: the offset must be computable at every sample point."""
    cum = 0.0
    for i, c in enumerate(g.coatings):
        cum += c.thickness
        folded, at = False, None
        if dim == 2:
            _, grad, _ = surf.eval(P)
            w = np.sqrt(1.0 + (grad**2).sum(axis=1))
            bad = np.flatnonzero(np.diff(P[:, 0] - cum * grad[:, 0] / w) <= 0)
            if bad.size:
                folded, at = True, P[bad[0]]
        if not folded:
            for j in range(0, len(P), 4096):  # the heights Gmsh will ask for
                try:
                    surf.offset(cum, P[j:j + 4096])
                except RuntimeError:
                    folded = True
                    break
        if folded:
            where = f" near {_where(at, dim)}" if at is not None else ""
            raise GeometryError(
                f"geometry.coatings[{i}].thickness: the coatings reach {cum:g} m above the "
                f"metal, and their top face (the normal offset of the surface) folds, or nearly "
                f"folds, over itself{where}: the perturbations are too narrow for this "
                "thickness (thin the coatings, or widen or lower the perturbations)")


def _check_predelamination(case) -> None:
    g, dim = case.geometry, case.dimension
    pd = g.predelamination
    if pd is None:
        return
    key = "geometry.predelamination"
    if not g.coatings:
        raise GeometryError(f"{key}: needs at least one coating (it is a debonded part of the "
                            "metal/first-coating interface); add geometry.coatings or remove it")
    if len(pd.center) != dim - 1:
        want = "[x]" if dim == 2 else "[x, y]"
        raise GeometryError(f"{key}.center: expected {dim - 1} coordinate(s) {want} in {dim}D, "
                            f"got {len(pd.center)}")
    half = pd.length / 2
    if dim == 2:  # a segment may run into one side wall (a symmetry plane), not both
        c = pd.center[0]
        lo, hi = max(c - half, 0.0), min(c + half, g.width)
        if not hi > lo or (lo == 0.0 and hi == g.width):
            raise GeometryError(f"{key}: the debonded segment x in [{c - half:g}, {c + half:g}] "
                                f"m must overlap the interface (x in [0, {g.width:g}] m) and "
                                "leave part of it bonded; move its center or shorten its length")
        for b in (lo, hi):
            if 0.0 < b < g.width and min(b, g.width - b) < 1e-3 * g.width:
                raise GeometryError(f"{key}: an end of the debonded segment (x = {b:g} m) is "
                                    "within 0.1% of the width from a side wall; put the end on "
                                    "the wall (center - length/2 <= 0) or further from it")
        return
    for c, (name, ext) in zip(pd.center, [("x", g.width), ("y", g.depth)], strict=False):
        if not (c - half > 0.0 and c + half < ext):
            raise GeometryError(f"{key}: the debonded {'segment' if dim == 2 else 'disc'} "
                                f"{name} in [{c - half:g}, {c + half:g}] m is not strictly "
                                f"inside the interface ({name} in [0, {ext:g}] m); move "
                                "its center or shorten its length")
