"""Interpolating cubic B-spline surfaces z(x, y) for gmsh's ``occ.addBSplineSurface``.

The parameters are the coordinates themselves (u = x, v = y): the x (y) coordinates of the
control points are the Greville abscissae of the knot vector, which makes x(u) = u exactly, and
the heights of the control points solve the tensor-product interpolation problem, so the
surface passes exactly through every sampled point (x_i, y_j, z_ij). A single cubic patch is
much cheaper for OpenCASCADE's booleans and for meshing than a lofted surface.
"""

from __future__ import annotations

import numpy as np

DEGREE = 3


def knots(u: np.ndarray) -> np.ndarray:
    """Clamped cubic knot vector for data at parameters u (n >= 4): the interior data
    parameters except the second and the second last ("not-a-knot")."""
    u = np.asarray(u, float)
    return np.concatenate([[u[0]] * 4, u[2:-2], [u[-1]] * 4])


def basis(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Matrix B[i, j] = N_j(x_i) of the cubic B-spline basis of knot vector t."""
    x = np.asarray(x, float)
    n = len(t) - DEGREE - 1
    # degree 0
    B = np.zeros((len(x), len(t) - 1))
    for j in range(len(t) - 1):
        if t[j] < t[j + 1]:
            B[:, j] = (x >= t[j]) & (x < t[j + 1])
    last = np.nonzero(t[:-1] < t[1:])[0][-1]
    B[x >= t[-1], last] = 1.0
    for p in range(1, DEGREE + 1):
        Bn = np.zeros((len(x), len(t) - 1 - p))
        for j in range(len(t) - 1 - p):
            d1, d2 = t[j + p] - t[j], t[j + p + 1] - t[j + 1]
            if d1 > 0:
                Bn[:, j] += (x - t[j]) / d1 * B[:, j]
            if d2 > 0:
                Bn[:, j] += (t[j + p + 1] - x) / d2 * B[:, j + 1]
        B = Bn
    return B[:, :n]


def greville(t: np.ndarray) -> np.ndarray:
    n = len(t) - DEGREE - 1
    return np.array([t[j + 1 : j + DEGREE + 1].mean() for j in range(n)])


def interpolating_poles(xs: np.ndarray, ys: np.ndarray, Z: np.ndarray):
    """Control net (px (nx,), py (ny,), Pz (ny, nx)) and the distinct knots / multiplicities
    in u and v of the cubic surface through the points (xs[i], ys[j], Z[j, i])."""
    tu, tv = knots(xs), knots(ys)
    Bu, Bv = basis(tu, xs), basis(tv, ys)
    Pz = np.linalg.solve(Bv, np.linalg.solve(Bu, Z.T).T)
    return greville(tu), greville(tv), Pz, _compress(tu), _compress(tv)


def _compress(t: np.ndarray) -> tuple[list[float], list[int]]:
    vals, counts = np.unique(t, return_counts=True)
    return [float(v) for v in vals], [int(c) for c in counts]
