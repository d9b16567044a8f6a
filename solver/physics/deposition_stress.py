"""M4: stress-coupled electrodeposition: the mechanics of the deposit and its coating.

The metal phase of the phase-field model (order parameter xi, 1 = metal) grows under a
coating. Deposition inserts metal at the metal/coating interface: in a fixed (Eulerian)
mesh this is an eigenstrain that turns every newly deposited layer into a displacement jump
across the interface, pushing the coating out and the metal in:

    eps* = (xi - xi_ref) e (x) e,       e = the growth direction (+y in 2D, +z in 3D)

so that int eps*_yy dy across the interface equals the local deposited thickness minus the
reference's. ``xi_ref`` is the stress-free configuration: the initial surface (a coating
formed on the rough surface, seed 001) or a flat surface at the initial mean height (a
confining layer that is stress-free when flat, Monroe & Newman 2005). A uniform (flat)
advance under a coating whose outer face is free is stress-free: only the part of the
deposit that differs from place to place strains the coating. The insertion is along e, not
the local normal: the model is exact to first order in the surface slope (the linear
stability analysis below), an approximation for steep bumps.

Moduli follow the phase: lambda(xi) = h lambda_metal + (1 - h) lambda_bg, the same for mu,
h = h(xi) of the phase-field model, lambda_bg the cell's own material (coating, electrolyte;
in the metal region the material the metal grows into).

Coupling to the kinetics: the hydrostatic stress sigma_h = tr(sigma)/3 shifts the
overpotential in the Butler-Volmer bracket,

    eta~ -> eta~ - s,       s = Omega sigma_h / (R T),

i.e. the molar work Omega sigma_h of inserting an atom of molar volume Omega against the
mean stress (the hydrostatic term of the stress-dependent electrochemical potential of
Monroe & Newman, J. Electrochem. Soc. 152 (2005) A396; their deviatoric and surface-tension
terms are not included). Sign convention: tension (sigma_h > 0) makes eta~ more negative and
speeds deposition, compression (sigma_h < 0) slows it; in Butler-Volmer form the cathodic
and anodic exponents are shifted by -alpha s and (1 - alpha) s. The stress is evaluated
pointwise inside the diffuse interface, where h'(xi) != 0.

Only UFL and numpy here: problems/stress_deposition.py solves. ``linear_growth_rate`` is the
sharp-interface dispersion relation of the linearised model (derivation in
docs/stress_deposition.md), the reference of the verification tests.
"""

from __future__ import annotations

import math

import numpy as np

import solver.compat  # noqa: F401
import ufl

from solver.physics import elasticity as el
from solver.physics.electrodeposition import GAS_CONSTANT, h


def lame(E: float, nu: float) -> tuple[float, float]:
    """(lambda, mu) of an isotropic material (3D constants; plane strain uses them as is)."""
    return E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))


def phase_moduli(xi, metal: tuple, background: tuple):
    """(lambda(xi), mu(xi)) = h(xi) metal + (1 - h(xi)) background; the background pair may
    be cell-wise fields (DG0 Functions)."""
    hx = h(xi)
    return (hx * metal[0] + (1 - hx) * background[0],
            hx * metal[1] + (1 - hx) * background[1])


def film_fraction(X: np.ndarray, xi: np.ndarray, front: np.ndarray, thickness: float,
                  width: float, pairs: int = 4_000_000) -> np.ndarray:
    """Where a film of ``thickness`` riding on the metal is: 1 inside it, 0 beyond it.

    X: (n, gdim) points with phase values xi; front: (m, gdim) points on the xi = 1/2 line.
    On the metal side (xi >= 1/2) the fraction is 1; on the other side it is
    (1 - tanh((d - thickness)/width))/2 with d the distance to the nearest front point, so
    the film's outer face is smeared over ``width`` and follows the front as it moves. No
    front: 1 in the metal, 0 elsewhere. Points further than thickness + 8 width above the
    highest front point are 0 without a distance computation. Cost: (points near the front)
    x (front points), in blocks of at most ``pairs`` distances (brute force: fine for 2D
    fronts of up to ~1e4 points; a 3D front would want a spatial search tree)."""
    X, xi = np.asarray(X), np.asarray(xi)
    out = (xi >= 0.5).astype(float)
    if len(front) == 0:
        return out
    a = X.shape[1] - 1
    near = np.nonzero((xi < 0.5) & (X[:, a] <= front[:, a].max() + thickness + 8 * width))[0]
    chunk = max(1, pairs // len(front))
    for k in range(0, len(near), chunk):
        idx = near[k: k + chunk]
        d2 = ((X[idx, None, :] - front[None, :, :]) ** 2).sum(axis=2).min(axis=1)
        out[idx] = 0.5 * (1 - np.tanh((np.sqrt(d2) - thickness) / width))
    return out


def growth_eigenstrain(xi, xi_ref, dim: int):
    """eps* = (xi - xi_ref) e (x) e as a 3x3 tensor, e = the growth direction (last axis)."""
    d = xi - xi_ref
    a = dim - 1
    return ufl.as_tensor([[d if (i == a and j == a) else 0 for j in range(3)]
                          for i in range(3)])


def stress(u, lmbda, mu, eps_star, dim: int):
    """sigma = lambda tr(eps - eps*) I + 2 mu (eps - eps*) (3x3, plane strain in 2D)."""
    return el.stress_isotropic(el.strain(u, dim) - eps_star, lmbda, mu)


def bilinear_form(du, v, lmbda, mu, dim: int, dx):
    return ufl.inner(el.stress_isotropic(el.strain(du, dim), lmbda, mu),
                     el.strain(v, dim)) * dx


def eigenstrain_load(v, lmbda, mu, eps_star, dim: int, dx):
    return ufl.inner(el.stress_isotropic(eps_star, lmbda, mu), el.strain(v, dim)) * dx


def bv_shift(sigma, molar_volume: float, T: float):
    """s = Omega sigma_h / (R T), dimensionless (positive in tension)."""
    return (molar_volume / (GAS_CONSTANT * T)) * el.hydrostatic(sigma)


# --------------------------------------------------------------------------- analysis
def interface_response(G1: float, nu1: float, G2: float, nu2: float) -> tuple[float, float]:
    """Two bonded half-spaces in plane strain, metal (G1, nu1) below, coating (G2, nu2)
    above, with a normal displacement jump [u_y] = delta cos(k x) across y = 0 (tangential
    displacement and tractions continuous). Returns (sigma_yy, eps_xx) at the interface per
    unit delta k, both continuous across it (Airy / Papkovich solution, decaying as
    exp(-k |y|); derived symbolically, see docs/stress_deposition.md). Identical materials:
    sigma_yy = -G delta k / (2 (1 - nu)), eps_xx = -(1 - 2 nu) delta k / (4 (1 - nu))."""
    D = (4 * G1**2 * nu2 - 3 * G1**2 - 16 * G1 * G2 * nu1 * nu2 + 12 * G1 * G2 * nu1
         + 12 * G1 * G2 * nu2 - 10 * G1 * G2 + 4 * G2**2 * nu1 - 3 * G2**2)
    syy = 4 * G1 * G2 * (G1 * (1 - nu2) + G2 * (1 - nu1)) / D
    exx = 2 * G1 * G2 * (4 * nu1 * nu2 - 3 * nu1 - 3 * nu2 + 2) / D
    return syy, exx


def band_hydrostatic(G1, nu1, G2, nu2, n: int = 2001) -> float:
    """h'(xi)-weighted mean of sigma_h across the diffuse interface, per unit delta k.

    Inside a band thin compared with the wavelength, sigma_yy and eps_xx keep their
    interface values while the moduli follow h(xi); plane strain with an eigenstrain along
    y gives sigma_h = (3 lam + 2 mu) / (3 (lam + 2 mu)) (sigma_yy + 2 mu eps_xx) at each
    point. The reaction term weights the band by h'(xi) d(xi) = dh, so the mean is the
    integral over h in [0, 1] (trapezoid rule, n points)."""
    syy, exx = interface_response(G1, nu1, G2, nu2)
    l1, m1 = lame(2 * G1 * (1 + nu1), nu1)
    l2, m2 = lame(2 * G2 * (1 + nu2), nu2)
    hh = np.linspace(0.0, 1.0, n)
    lam, mu = hh * l1 + (1 - hh) * l2, hh * m1 + (1 - hh) * m2
    f = (3 * lam + 2 * mu) / (3 * (lam + 2 * mu)) * (syy + 2 * mu * exx)
    return float(np.sum((f[1:] + f[:-1]) / 2) / (n - 1))


def mode_hydrostatic(k: float, ell: float, metal: tuple[float, float],
                     coating: tuple[float, float], cells: int = 4000,
                     depth: float | None = None) -> float:
    """Semi-analytic <sigma_h> per unit amplitude for the *diffuse* interface.

    The linearised problem of a perturbation xi = X(y - a cos(k x)), X(y) = 1/(1 +
    exp(y/ell)) the flat profile: the eigenstrain is eps*_yy = -a X'(y) cos(k x) (the flat
    state is stress-free, so the moduli's own perturbation does not enter at first order),
    the moduli follow h(X(y)). With u = (U(y) sin kx, V(y) cos kx) plane-strain equilibrium
    reduces to a two-field problem in y, solved here with P2 elements on
    [-depth, depth] (default 6 pi / k, U = V = 0 at the ends; the solution decays like
    exp(-k |y|)). Returns int h'(X) (-X') sigma_h dy / a, the projection that enters the
    interface velocity (the solvability condition of the travelling profile). As k ell ->
    0 it tends to ``band_hydrostatic`` * k (checked in the tests)."""
    import basix.ufl
    import dolfinx
    import dolfinx.fem.petsc
    from mpi4py import MPI

    from solver.numerics import petsc_options as popts

    depth = depth or 6 * math.pi / k
    mesh = dolfinx.mesh.create_interval(MPI.COMM_SELF, cells, [-depth, depth])
    x = mesh.geometry.x  # grade: cells of ~ell/40 across the band
    s = x[:, 0] / depth
    b = 8.0
    x[:, 0] = depth * np.sinh(b * s) / math.sinh(b)
    P2 = basix.ufl.element("Lagrange", "interval", 2)
    W = dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element([P2, P2]))
    (U, V), (P, Q) = ufl.TrialFunctions(W), ufl.TestFunctions(W)
    y = ufl.SpatialCoordinate(mesh)[0]
    X = 1 / (1 + ufl.exp(y / ell))
    dX = -X * (1 - X) / ell
    hX = h(X)
    l1, m1 = lame(2 * metal[0] * (1 + metal[1]), metal[1])
    l2, m2 = lame(2 * coating[0] * (1 + coating[1]), coating[1])
    lam, mu = hX * l1 + (1 - hX) * l2, hX * m1 + (1 - hX) * m2
    E = -dX
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 8})

    def d(f):
        return f.dx(0)

    a = ((lam + 2 * mu) * (k * U * k * P + d(V) * d(Q)) + lam * (k * U * d(Q) + d(V) * k * P)
         + mu * (d(U) - k * V) * (d(P) - k * Q)) * dx
    L = ((lam + 2 * mu) * E * d(Q) + lam * E * k * P) * dx
    fdim = 0
    ends = dolfinx.mesh.locate_entities_boundary(mesh, fdim, lambda x: np.full(x.shape[1], True))
    bcs = [dolfinx.fem.dirichletbc(0.0, dolfinx.fem.locate_dofs_topological(W.sub(i), fdim,
                                                                           ends), W.sub(i))
           for i in (0, 1)]
    prob = dolfinx.fem.petsc.LinearProblem(a, L, bcs=bcs, petsc_options=popts.DIRECT,
                                           petsc_options_prefix="mode_hydrostatic_")
    w = prob.solve()
    Uh, Vh = ufl.split(w)
    sh = (3 * lam + 2 * mu) * (k * Uh + d(Vh) - E) / 3
    val = dolfinx.fem.assemble_scalar(dolfinx.fem.form(30 * X**2 * (1 - X) ** 2 * E * sh * dx))
    for obj in (prob.solver, prob.A, prob.b, prob.x):
        obj.destroy()
    popts.clear("mode_hydrostatic_", popts.DIRECT)
    return float(val)


def linear_growth_rate(k: float, params, metal: tuple[float, float],
                       coating: tuple[float, float], molar_volume: float,
                       eta: float = 0.0, c: float = 1.0, sharp: bool = False) -> float:
    """Growth rate (1/s) of a small perturbation a cos(k x) of a flat interface between a
    metal half-space (G, nu) = ``metal`` and a coating half-space ``coating``, for the
    linearised model with fast transport (c, phi uniform) and the flat stress-free
    reference:

        r(k) = -L_sigma kappa0 k^2 + 6 l L_eta B'(eta~) (Omega / RT) <sigma_h> / a

    capillarity (Allen-Cahn motion by curvature) plus the stress shift of the reaction
    (l = sqrt(kappa0/(2W)), B(eta~) = exp((1-alpha) eta~) - c exp(-alpha eta~), the planar
    front speed being v = -6 l L_eta B). eta: overpotential in V; c: c/c0. Isotropic
    gradient energy (delta = 0). <sigma_h>: from ``mode_hydrostatic`` (the diffuse
    interface, semi-analytic), or with sharp=True the k l -> 0 limit ``band_hydrostatic``
    (which overestimates the stress term by about 1.2 k l: the eigenstrain spread over the
    band acts from a distance)."""
    p = params
    f = 1.0 / p.thermal_voltage
    x = (eta - p.E_eq) * f
    dB = (1 - p.alpha) * math.exp((1 - p.alpha) * x) + p.alpha * c * math.exp(-p.alpha * x)
    ell = p.interface_width
    if sharp:
        sh = band_hydrostatic(metal[0], metal[1], coating[0], coating[1]) * k
    else:
        sh = mode_hydrostatic(k, ell, metal, coating)
    return (-p.L_sigma * p.kappa0 * k**2
            + 6 * ell * p.L_eta * dB * molar_volume / (GAS_CONSTANT * p.T) * sh)
