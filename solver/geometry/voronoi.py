"""Voronoi cells clipped to a rectangle (2D) or a box (3D), by half-space clipping (numpy).

Each cell starts as the whole domain and is clipped by the perpendicular-bisector half-spaces
of the other seeds, nearest first; once a seed is farther than twice the cell's reach, no
later bisector can cut the cell any more.
"""

from __future__ import annotations

import numpy as np


def _clip(poly: np.ndarray, normal: np.ndarray, c: float) -> np.ndarray:
    """Part of the convex polygon (m, d) with normal . x <= c (d = 2 or 3). Edge/plane
    intersections are computed from the lexicographically ordered end points, so the two
    faces sharing an edge get bit-identical points."""
    s = poly @ normal - c
    out = []
    m = len(poly)
    for k in range(m):
        a, b, sa, sb = poly[k], poly[(k + 1) % m], s[k], s[(k + 1) % m]
        if sa <= 0:
            out.append(a)
        if (sa < 0 < sb) or (sb < 0 < sa):
            if tuple(b) < tuple(a):
                a, b, sa, sb = b, a, sb, sa
            out.append(a + (b - a) * (sa / (sa - sb)))
    return np.array(out).reshape(-1, poly.shape[1])


def _drop_repeats(poly: np.ndarray, eps: float) -> np.ndarray:
    keep = np.linalg.norm(poly - np.roll(poly, 1, axis=0), axis=1) > eps
    return poly[keep]


def _neighbours(seeds: np.ndarray, i: int):
    d = np.linalg.norm(seeds - seeds[i], axis=1)
    for j in np.argsort(d)[1:]:
        n = seeds[j] - seeds[i]
        yield d[j], n, n @ (0.5 * (seeds[i] + seeds[j]))


def cells_2d(seeds: np.ndarray, width: float, height: float) -> list[np.ndarray]:
    """Polygons (m, 2), counter-clockwise, one per seed."""
    rect = np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])
    eps = 1e-9 * max(width, height)
    cells = []
    for i, p in enumerate(seeds):
        poly = rect
        for dist, n, c in _neighbours(seeds, i):
            if dist > 2.0 * np.max(np.linalg.norm(poly - p, axis=1)):
                break
            poly = _clip(poly, n, c)
        cells.append(_drop_repeats(poly, eps))
    return cells


def _box_faces(size: np.ndarray) -> list[np.ndarray]:
    W, D, H = size
    v = np.array([[x, y, z] for z in (0, H) for y in (0, D) for x in (0, W)], dtype=float)
    quads = [(0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5)]
    return [v[list(q)] for q in quads]


def _cap(points: list[np.ndarray], normal: np.ndarray, eps: float) -> np.ndarray | None:
    """Convex polygon through the points lying in a cutting plane, ordered by angle."""
    if len(points) < 3:
        return None
    P = np.array(points)
    uniq = [P[0]]
    for q in P[1:]:
        if min(np.linalg.norm(q - u) for u in uniq) > eps:
            uniq.append(q)
    if len(uniq) < 3:
        return None
    P = np.array(uniq)
    n = normal / np.linalg.norm(normal)
    e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    c = P.mean(axis=0)
    return P[np.argsort(np.arctan2((P - c) @ e2, (P - c) @ e1))]


def cells_3d(seeds: np.ndarray, size: np.ndarray) -> list[list[np.ndarray]]:
    """Convex polyhedra, each a list of planar polygon faces (m, 3), one per seed."""
    size = np.asarray(size, float)
    eps = 1e-9 * size.max()
    cells = []
    for i, p in enumerate(seeds):
        faces = _box_faces(size)
        for dist, n, c in _neighbours(seeds, i):
            reach = max(np.max(np.linalg.norm(f - p, axis=1)) for f in faces)
            if dist > 2.0 * reach:
                break
            tol = eps * np.linalg.norm(n)
            new, on_plane = [], []
            for f in faces:
                s = f @ n - c
                if np.all(s <= tol):
                    new.append(f)
                    on_plane += [q for q, sq in zip(f, s, strict=True) if abs(sq) <= tol]
                    continue
                g = _drop_repeats(_clip(f, n, c), eps)
                if len(g) >= 3:
                    new.append(g)
                on_plane += [q for q in g if abs(q @ n - c) <= tol]
            cap = _cap(on_plane, n, eps)
            if cap is not None and not any(_same_face(cap, f, eps) for f in new):
                new.append(cap)
            faces = new
        cells.append(faces)
    return cells


def _same_face(a: np.ndarray, b: np.ndarray, eps: float) -> bool:
    if len(a) != len(b):
        return False
    return all(np.min(np.linalg.norm(b - q, axis=1)) <= eps for q in a)
