"""The perturbed metal surface z = f(x[, y]) and its conformal offsets (numpy, SI metres).

Perturbations (added to the flat top z = metal.thickness):

* Gaussian bump: ``height * exp(-r^2 / (2 radius^2))`` -- ``radius`` is the standard deviation.
* Spherical bump: a cap of a sphere of radius ``radius`` and height ``|height| <= radius``
  (``height < 0``: a spherical pit), joined to the flat surface by a concave (pit: convex)
  circular fillet of radius ``radius / 4`` so that the surface has a continuous slope and a
  finite curvature everywhere (a sharp rim would make every conformal coating self-intersect).
  The footprint therefore extends slightly beyond the cap's own base radius.
* Sinusoid: ``amplitude * cos(2 pi x / wavelength + phase)``, in 3D times
  ``cos(2 pi y / wavelength_y)`` when ``wavelength_y`` is given (else independent of y).
* Random roughness: a sum of Fourier modes that are periodic in the domain (wave numbers
  2 pi m / width, 2 pi n / depth), amplitudes from a Gaussian spectrum (Gaussian height
  correlation of length ``correlation_length``) with random weights and phases drawn from
  ``numpy.random.default_rng(seed)``, scaled so that the rms over the domain is exactly ``rms``.

r is measured from the bump centre along x (2D) or in the (x, y) plane (3D). Every
perturbation is an analytic function defined beyond the domain too, which is how the
coatings are continued up to and across the side boundaries (see :meth:`Surface.offset`).

A coating interface at total thickness t above the metal is the exact normal offset of the
metal surface: the point s + t n(s) for every surface point s, n the unit upward normal.
:meth:`Surface.offset` returns it as a height field by solving s + t n_xy(s) = (x[, y]) with
Newton's method; that map is one-to-one as long as t is smaller than the smallest radius of
curvature of the concave (valley) parts of the surface, which `check_geometry` enforces.
"""

from __future__ import annotations

import numpy as np

FILLET = 0.25  # fillet radius of spherical bumps, as a fraction of the sphere radius


# ----------------------------------------------------------------- radial bump profiles
class _Gaussian:
    def __init__(self, height: float, radius: float):
        self.h, self.s = height, radius
        self.reach = 6.0 * radius

    def __call__(self, r):
        """p(r), p'(r), p'(r)/r, p''(r)"""
        e = self.h * np.exp(-(r**2) / (2 * self.s**2))
        q = -e / self.s**2
        return e, q * r, q, q + e * r**2 / self.s**4


class _Spherical:
    """Spherical cap (sphere radius R, height h) with a tangent fillet of radius rf."""

    def __init__(self, height: float, radius: float):
        self.sign = 1.0 if height >= 0 else -1.0
        self.R, self.h, self.rf = radius, abs(height), FILLET * radius
        R, h, rf = self.R, self.h, self.rf
        self.zc = h - R  # sphere centre height
        # fillet circle centre (c, rf), externally tangent to the sphere and to z = 0
        self.c = np.sqrt((R + rf) ** 2 - (rf - self.zc) ** 2)
        self.rt = self.c * R / (R + rf)  # radius where sphere and fillet meet
        self.reach = self.c

    def __call__(self, r):
        R, rf, c = self.R, self.rf, self.c
        cap = r < self.rt
        fil = (r >= self.rt) & (r < c)
        p = np.zeros_like(r)
        dp_r = np.zeros_like(r)  # p'/r (finite at r = 0)
        d2p = np.zeros_like(r)
        w = np.sqrt(np.maximum(R**2 - r**2, (1e-9 * R) ** 2))
        p = np.where(cap, w + self.zc, p)
        dp_r = np.where(cap, -1.0 / w, dp_r)
        d2p = np.where(cap, -(R**2) / w**3, d2p)
        u = np.sqrt(np.maximum(rf**2 - (r - c) ** 2, (1e-9 * rf) ** 2))
        p = np.where(fil, rf - u, p)
        dp = np.where(fil, (r - c) / u, dp_r * r)
        dp_r = np.where(fil, dp / np.maximum(r, 1e-300), dp_r)
        d2p = np.where(fil, rf**2 / u**3, d2p)
        s = self.sign
        return s * p, s * dp, s * dp_r, s * d2p


def _fourier_modes(rough, width: float, depth: float | None):
    """Wave numbers kx (M+1,), ky (N,) and complex amplitudes A (M+1, N) of a seeded random
    roughness f = Re sum A_mn exp(i (kx_m x + ky_n y)) (2D: ky = [0])."""
    rng = np.random.default_rng(rough.seed)
    lc = rough.correlation_length
    kmax = np.sqrt(4.0 * np.log(1e6)) / lc  # spectrum below 1e-6 of its peak beyond
    mx = int(np.clip(np.ceil(kmax * width / (2 * np.pi)), 1, 200 if depth is None else 40))
    my = 0 if depth is None else int(np.clip(np.ceil(kmax * depth / (2 * np.pi)), 1, 40))
    kx = 2 * np.pi * np.arange(0, mx + 1) / width
    ky = np.zeros(1) if depth is None else 2 * np.pi * np.arange(-my, my + 1) / depth
    mm, nn = np.meshgrid(np.arange(0, mx + 1), np.arange(0, len(ky)), indexing="ij")
    kk = np.hypot(kx[mm], ky[nn])
    keep = ((mm > 0) | ((mm == 0) & (nn > my))) & (kk <= max(kmax, kx[1]))
    spec = np.exp(-kk[keep] ** 2 * lc**2 / 8.0)  # sqrt of exp(-k^2 lc^2 / 4)
    n = int(keep.sum())
    amp = spec * np.abs(rng.normal(size=n) + 1j * rng.normal(size=n))
    amp *= rough.rms / np.sqrt(0.5 * np.sum(amp**2))  # mean of cos^2 over a period is 1/2
    A = np.zeros(kk.shape, dtype=complex)
    A[keep] = amp * np.exp(1j * rng.uniform(0.0, 2 * np.pi, size=n))
    return kx, ky, A


# ----------------------------------------------------------------------------- surface
class Surface:
    """z = f(x) (2D) or f(x, y) (3D) of a layered geometry, with gradient and Hessian."""

    def __init__(self, geometry, dim: int):
        g = geometry
        self.dim = dim
        self.z0 = g.metal.thickness
        self.width = g.width
        self.depth = g.depth if dim == 3 else None
        self._terms = []
        for p in g.metal.perturbations:
            if p.type == "bump":
                prof = (_Gaussian if p.shape == "gaussian" else _Spherical)(p.height, p.radius)
                c = np.zeros(2)
                c[: len(p.center)] = p.center
                self._terms.append(("bump", prof, c))
            elif p.type == "sinusoid":
                ky = 0.0 if (dim == 2 or p.wavelength_y is None) else 2 * np.pi / p.wavelength_y
                self._terms.append(("sin", p.amplitude, 2 * np.pi / p.wavelength, ky, p.phase))
            else:
                kx, ky, A = _fourier_modes(p, g.width, self.depth)
                self._terms.append(("fourier", kx, ky, A, p.correlation_length))

    @property
    def flat(self) -> bool:
        return not self._terms

    def feature_length(self) -> float:
        """Smallest lateral length scale of the perturbations (inf when flat)."""
        out = np.inf
        for t in self._terms:
            if t[0] == "bump":
                prof = t[1]
                out = min(out, prof.s if isinstance(prof, _Gaussian) else prof.rf)
            elif t[0] == "sin":
                k = max(t[2], t[3])
                out = min(out, 2 * np.pi / k / 4)
            else:
                out = min(out, t[4] / 2)
        return out

    # -- evaluation: points P of shape (n, 2) holding (x, y); y ignored in 2D
    def eval(self, P: np.ndarray):
        """f, grad f (n, 2), Hessian (n, 2, 2) at lateral points P (n, 2)."""
        P = np.asarray(P, dtype=float)
        n = len(P)
        modes = sum(t[3].size for t in self._terms if t[0] == "fourier")
        chunk = max(1, 1_000_000 // max(modes, 1))
        if n > chunk:  # bound the (points x modes) work arrays
            parts = [self.eval(P[i : i + chunk]) for i in range(0, n, chunk)]
            return tuple(np.concatenate(a) for a in zip(*parts, strict=True))
        f = np.full(n, self.z0)
        gr = np.zeros((n, 2))
        H = np.zeros((n, 2, 2))
        for t in self._terms:
            if t[0] == "bump":
                prof, c = t[1], t[2]
                d = P - c
                if self.dim == 2:
                    d[:, 1] = 0.0
                r = np.linalg.norm(d, axis=1)
                p, dp, dp_r, d2p = prof(r)
                f += p
                gr += dp_r[:, None] * d
                rr = np.where(r > 0, r, 1.0)
                e = d / rr[:, None]
                ee = e[:, :, None] * e[:, None, :]
                eye = np.eye(2) if self.dim == 3 else np.diag([1.0, 0.0])
                H += d2p[:, None, None] * ee + dp_r[:, None, None] * (eye - ee)
                at0 = r == 0
                H[at0] = d2p[at0, None, None] * eye
            elif t[0] == "sin":
                a, kx, ky, ph = t[1:]
                cx, sx = np.cos(kx * P[:, 0] + ph), np.sin(kx * P[:, 0] + ph)
                cy, sy = np.cos(ky * P[:, 1]), np.sin(ky * P[:, 1])
                f += a * cx * cy
                gr[:, 0] += -a * kx * sx * cy
                gr[:, 1] += -a * ky * cx * sy
                H[:, 0, 0] += -a * kx**2 * cx * cy
                H[:, 1, 1] += -a * ky**2 * cx * cy
                H[:, 0, 1] += a * kx * ky * sx * sy
                H[:, 1, 0] += a * kx * ky * sx * sy
            else:
                kx, ky, A = t[1:4]
                X, Y = kx[:, None], ky[None, :]
                # f, f_x, f_y, f_xx, f_xy, f_yy as Re sum(W_mn e^{i kx_m x} e^{i ky_n y})
                W = np.concatenate([A, 1j * X * A, 1j * Y * A, -X * X * A, -X * Y * A,
                                    -Y * Y * A], axis=1)
                Ex, Ey = np.exp(1j * np.outer(P[:, 0], kx)), np.exp(1j * np.outer(P[:, 1], ky))
                v = np.real(np.einsum("njk,nk->nj", (Ex @ W).reshape(n, 6, len(ky)), Ey))
                f += v[:, 0]
                gr += v[:, 1:3]
                H[:, 0, 0] += v[:, 3]
                H[:, 0, 1] += v[:, 4]
                H[:, 1, 0] += v[:, 4]
                H[:, 1, 1] += v[:, 5]
        if self.dim == 2:
            gr[:, 1] = 0.0
            H[:, 1, :] = 0.0
            H[:, :, 1] = 0.0
        return f, gr, H

    def height(self, x, y=None) -> np.ndarray:
        """z = f(x[, y]) in metres, shaped like x."""
        x = np.asarray(x, dtype=float)
        y = np.zeros_like(x) if y is None else np.broadcast_to(np.asarray(y, float), x.shape)
        f = self.eval(np.stack([x.ravel(), y.ravel()], axis=1))[0]
        return f.reshape(x.shape)

    def max_concave_curvature(self, P: np.ndarray) -> tuple[float, np.ndarray]:
        """Largest principal curvature of the valleys (centre of curvature above the surface)
        over the points P, and the point where it occurs."""
        _, g, H = self.eval(P)
        w = np.sqrt(1.0 + (g**2).sum(axis=1))
        if self.dim == 2:
            k = H[:, 0, 0] / w**3
        else:
            G = np.eye(2)[None] + g[:, :, None] * g[:, None, :]
            S = np.linalg.solve(G, H / w[:, None, None])
            tr, det = S[:, 0, 0] + S[:, 1, 1], np.linalg.det(S)
            k = 0.5 * tr + np.sqrt(np.maximum(0.25 * tr**2 - det, 0.0))
        i = int(np.argmax(k))
        return float(k[i]), P[i]

    def offset(self, t: float, P: np.ndarray) -> np.ndarray:
        """Height of the normal offset at distance t above the lateral points P (n, 2)."""
        P = np.asarray(P, dtype=float)
        f, g, _ = self.eval(P)
        if t == 0.0 or self.flat:
            return f + t
        d = self.dim - 1
        s = P.copy()
        scale = max(self.width, t)
        for _ in range(100):
            f, g, H = self.eval(s)
            w = np.sqrt(1.0 + (g**2).sum(axis=1))
            res = (s - P - t * g / w[:, None])[:, :d]
            if np.max(np.abs(res)) < 1e-13 * scale:
                break
            # d n_xy / ds = -(1/w) (I - g g^T / w^2) H
            proj = np.eye(2)[None] - g[:, :, None] * g[:, None, :] / (w**2)[:, None, None]
            J = np.eye(2)[None] - t * (proj @ H) / w[:, None, None]
            J = J[:, :d, :d]
            step = np.linalg.solve(J, res[:, :, None])[:, :, 0]
            # damp steps larger than the thickness (far from the solution)
            big = np.maximum(1.0, np.linalg.norm(step, axis=1) / max(t, 1e-300))
            s[:, :d] -= step / big[:, None]
        else:  # pragma: no cover - prevented by check_geometry's curvature and offset checks
            raise RuntimeError(f"offset of the metal surface by {t:g} m did not converge")
        f, g, _ = self.eval(s)
        return f + t / np.sqrt(1.0 + (g**2).sum(axis=1))
