"""M5: variational phase-field fracture (AT1 / AT2) with energy splits.

Total energy of a displacement u and a damage field d in [0, 1] (Bourdin, Francfort & Marigo
2000; Pham, Amor, Marigo & Maurini 2011):

    E(u, d) = int g(d) psi+(eps) + psi-(eps) dx                 (stored elastic energy)
            + int Gc / c_w (w(d) / l + l |grad d|^2) dx          (crack surface energy)

    g(d) = (1 - k) omega(d) + k           degradation, k = residual stiffness
    AT1: w(d) = d,   c_w = 8/3, omega = (1 - d)^2   elastic until sqrt(3 Gc E / (8 l))
    AT2: w(d) = d^2, c_w = 2,   omega = (1 - d)^2   damages at once; peak (3/16) sqrt(3 Gc E / l)
    PFCZM (Wu 2017, the phase-field cohesive zone model): w(d) = 2 d - d^2, c_w = pi,
         omega = (1 - d)^p / ((1 - d)^p + a1 d (1 + a2 d + a2 a3 d^2)),
         a1 = 4 E Gc / (pi l ft^2): elastic until the strength ft for every l, and a
         localised crack obeys a traction-separation law set by (p, a2, a3) (``SOFTENING``),
         e.g. linear softening to zero traction at the opening w_c = 2 Gc / ft. The
         regularisation length l no longer sets the strength (it does for AT1/AT2).

(Wu, J. Mech. Phys. Solids 103 (2017) 72; Wu & Nguyen, JMPS 119 (2018) 20.)

eps = eps(u) - eps0 is the elastic strain (3x3; plane-strain embedding in 2D, so an
eigenstrain's out-of-plane part is exact). The split decides which part of the energy the
damage degrades:

- ``none``: psi+ = psi (isotropic or anisotropic stiffness), psi- = 0;
- ``volumetric_deviatoric`` (Amor, Marigo & Maurini 2009): psi+ = K/2 <tr eps>+^2 +
  mu dev(eps):dev(eps), psi- = K/2 <tr eps>-^2 (K = lambda + 2 mu / 3): compression does not
  crack;
- ``spectral`` (Miehe, Welschinger & Hofacker 2010): psi+- = lambda/2 <tr eps>+-^2 +
  mu sum_i <e_i>+-^2 with the principal strains e_i, in closed form (2D: the in-plane
  eigenvalues plus eps_zz; 3D: the trigonometric formula), regularised where eigenvalues
  coincide (their derivatives are singular there).

<x>+ = (x + |x|)/2 and <x>- = (x - |x|)/2; both energies are C1 in eps, so Newton on the
displacement problem is a semi-smooth Newton. The forms below are functionals; residuals
and Jacobians are derived from them with ufl.derivative, once, by the problem.
"""

from __future__ import annotations

import math

import solver.compat  # noqa: F401
import ufl

MODELS = {"AT1": 8.0 / 3.0, "AT2": 2.0, "PFCZM": math.pi}  # c_w
SPLITS = ("none", "volumetric_deviatoric", "spectral")
# PF-CZM softening laws: (p, a2, a3) of omega(d) (Wu 2017, Table 1): linear and
# exponential traction-separation laws, and Cornelissen et al. (1986)'s concrete curve
SOFTENING = {
    "linear": (2.0, -0.5, 0.0),
    "exponential": (2.5, 2.0 ** (5.0 / 3.0) - 3.0, 0.0),
    "cornelissen": (2.0, 1.3868, 0.6567),
}


def c_w(model: str) -> float:
    return MODELS[model]


def w(d, model: str):
    if model == "PFCZM":
        return 2 * d - d * d
    return d if model == "AT1" else d * d


def pfczm_a1(E, Gc, ft, length):
    """a1 = 4 E Gc / (pi l ft^2) = 4 l_ch / (pi l), l_ch = E Gc / ft^2 (Irwin's length);
    numbers or UFL expressions."""
    return 4 * E * Gc / (math.pi * length * ft * ft)


class Degradation:
    """g(d) = (1 - k) omega(d) + k. AT1/AT2: omega = (1 - d)^2. PFCZM: the rational
    omega(d) of Wu (2017) with ``a1`` (a number or a cell-wise UFL coefficient) and the
    ``softening`` law's (p, a2, a3)."""

    def __init__(self, model: str, k: float, a1=None, softening: str = "linear"):
        if model == "PFCZM" and a1 is None:
            raise ValueError("the PFCZM degradation needs a1 = 4 E Gc / (pi l ft^2)")
        self.model, self.k, self.a1 = model, k, a1
        self.p, self.a2, self.a3 = SOFTENING[softening]

    def omega(self, d):
        if self.model != "PFCZM":
            return (1 - d) ** 2
        # (1 - d) clipped at 0: P2 damage can exceed 1 between nodes (non-integer p)
        n = (ufl.max_value(1 - d, 0.0) if isinstance(d, ufl.core.expr.Expr)
             else max(1 - d, 0.0)) ** self.p
        # Q(d) = a1 d + a1 a2 d^2 + a1 a2 a3 d^3 (Wu 2017)
        return n / (n + self.a1 * d * (1 + self.a2 * d * (1 + self.a3 * d)))

    def __call__(self, d):
        return (1 - self.k) * self.omega(d) + self.k




def crack_density(d, length, model: str, A=None):
    """gamma(d, grad d) (1/m): the regularised crack length (2D) / area (3D) per unit area
    (volume); int gamma dx is the crack length of a fully developed crack, up to the mesh
    correction. ``A`` (optional, symmetric positive definite) is a structural tensor for
    direction-dependent toughness: grad d . A grad d replaces |grad d|^2, so a crack with unit
    normal n costs Gc sqrt(n . A n) (the optimal 1D profile's energy)."""
    g = ufl.grad(d)
    grad2 = ufl.dot(g, g) if A is None else ufl.dot(g, ufl.dot(A, g))
    return (w(d, model) / length + length * grad2) / c_w(model)


def weak_plane_tensor(m, ratio: float):
    """Structural tensor of a crystal whose planes with unit normal ``m`` (numpy) are
    ``ratio`` = Gc / Gc_plane times weaker than the other directions: with toughness
    Gc_plane, A = m m + ratio^2 (I - m m) gives Gc_plane for cracks along the planes
    (n = m) and ratio * Gc_plane = Gc across them (n normal to m); in between,
    Gc_plane sqrt(cos^2 + ratio^2 sin^2) of the angle between n and m."""
    import numpy as np

    m = np.asarray(m, dtype=float)
    m = m / np.linalg.norm(m)
    P = np.outer(m, m)
    return P + ratio**2 * (np.eye(len(m)) - P)


def optimal_profile(s, length: float, model: str):
    """The damage of the optimal 1D crack profile at distance ``s`` >= 0 (numpy) from a
    fully developed crack, the minimiser of int w(d)/l + l d'^2 with d(0) = 1 (equipartition
    l d' = -sqrt(w(d))): AT1 (1 - s/(2l))^2 on s < 2l, AT2 exp(-s/l), PFCZM (w = 2d - d^2)
    1 - sin(s/l) on s < pi l / 2; each has energy 1/2 per side (c_w normalises it)."""
    import numpy as np

    x = np.asarray(s, dtype=float) / length
    if model == "AT1":
        return np.where(x < 2.0, (1.0 - np.minimum(x, 2.0) / 2.0) ** 2, 0.0)
    if model == "AT2":
        return np.exp(-x)
    return np.where(x < math.pi / 2, 1.0 - np.sin(np.minimum(x, math.pi / 2)), 0.0)


def segment_distance(points, a, b):
    """Distance of points (N, 2) to the segment a-b (numpy)."""
    import numpy as np

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ab = b - a
    t = np.clip(((points - a) @ ab) / (ab @ ab), 0.0, 1.0)
    return np.linalg.norm(points - (a + t[:, None] * ab), axis=1)


def pos(x):
    return 0.5 * (x + abs(x))


def neg(x):
    return 0.5 * (x - abs(x))


def principal_strains(eps, dim: int, reg: float):
    """Eigenvalues of the symmetric 3x3 strain (list of 3 UFL scalars).

    2D (plane strain embedding: no xz, yz components): those of the in-plane block, m +- r
    with r = sqrt(((exx - eyy)/2)^2 + exy^2 + reg^2), and eps_zz. 3D: q + 2 p cos(phi + 2 pi
    k / 3) with q = tr/3, p = sqrt(|dev|^2 / 6 + reg^2), phi = acos(det(dev / p) / 2) / 3, the
    argument of acos clipped to +-(1 - 1e-10). ``reg`` (a strain) regularises coincident
    eigenvalues; it shifts them by O(reg^2 / r)."""
    if dim == 2:
        m = 0.5 * (eps[0, 0] + eps[1, 1])
        r = ufl.sqrt((0.5 * (eps[0, 0] - eps[1, 1])) ** 2 + eps[0, 1] ** 2 + reg**2)
        return [m + r, m - r, eps[2, 2]]
    q = ufl.tr(eps) / 3
    dev = eps - q * ufl.Identity(3)
    p = ufl.sqrt(ufl.inner(dev, dev) / 6 + reg**2)
    arg = ufl.det(dev / p) / 2
    lim = 1 - 1e-10
    arg = ufl.max_value(ufl.min_value(arg, lim), -lim)
    phi = ufl.acos(arg) / 3
    e1 = q + 2 * p * ufl.cos(phi)
    e3 = q + 2 * p * ufl.cos(phi + 2 * math.pi / 3)
    return [e1, 3 * q - e1 - e3, e3]


def split_energy(eps, law, split: str, dim: int, reg: float = 0.0):
    """(psi+, psi-) of the elastic strain ``eps`` for an ElasticMaterialField ``law``."""
    if split == "none":
        return 0.5 * ufl.inner(law.stress(eps), eps), 0
    if law.anisotropic:
        raise ValueError("energy splits need isotropic materials")
    lmbda, mu = law.lmbda, law.mu
    tr = ufl.tr(eps)
    if split == "volumetric_deviatoric":
        K = lmbda + 2 * mu / 3
        dev = eps - tr / 3 * ufl.Identity(3)
        return (0.5 * K * pos(tr) ** 2 + mu * ufl.inner(dev, dev), 0.5 * K * neg(tr) ** 2)
    if split == "spectral":
        e = principal_strains(eps, dim, reg)
        return (0.5 * lmbda * pos(tr) ** 2 + mu * sum(pos(ei) ** 2 for ei in e),
                0.5 * lmbda * neg(tr) ** 2 + mu * sum(neg(ei) ** 2 for ei in e))
    raise ValueError(f"unknown split {split!r}")


def rankine_driving(eps, law, dim: int, reg: float = 0.0):
    """Wu (2017)'s crack driving force Y = <sigma1>+^2 / (2 E) of the effective (undamaged)
    stress C : eps, sigma1 its largest principal value (2D plane strain: the in-plane pair
    and sigma_zz), E = mu (3 lambda + 2 mu) / (lambda + mu). Used in place of psi+ with a
    history field (it is not the derivative of an energy): a PF-CZM crack then starts
    where sigma1 reaches ft, in any stress state, and compression never drives it."""
    if law.anisotropic:
        raise ValueError("the Rankine driving force needs isotropic materials")
    lm, mu = law.lmbda, law.mu
    E = mu * (3 * lm + 2 * mu) / (lm + mu)
    s1 = principal_strains(law.stress(eps), dim, reg)  # eigenvalues of any symmetric 3x3
    top = ufl.max_value(ufl.max_value(s1[0], s1[1]), s1[2])
    return pos(top) ** 2 / (2 * E)


def elastic_energy_density(eps, d, law, split: str, dim: int, g: Degradation,
                           reg: float = 0.0):
    """g(d) psi+ + psi-."""
    psi_p, psi_n = split_energy(eps, law, split, dim, reg)
    return g(d) * psi_p + psi_n


def two_phase_energy_density(eps, d, solid, metal, hx, split: str, dim: int,
                             g: Degradation, reg: float = 0.0):
    """h psi_metal + (1 - h) (g(d) psi+ + psi-) for a metal phase of fraction h (M6's
    h(xi)) in a breakable solid: the damage degrades the solid's share only. With d = 0
    it equals the energy of the moduli h C_metal + (1 - h) C_solid (every split here is
    linear in lambda and mu)."""
    psi_metal = 0.5 * ufl.inner(metal.stress(eps), eps)
    return hx * psi_metal + (1 - hx) * elastic_energy_density(eps, d, solid, split, dim, g,
                                                              reg)


def damage_energy_density(d, driving, toughness, length, model: str, g: Degradation, A=None):
    """The d-dependent part of the energy density: g(d) psi+ + Gc gamma(d)."""
    return g(d) * driving + toughness * crack_density(d, length, model, A)


# ------------------------------------------------------------------ analytic references
def critical_stress(model: str, E: float, Gc: float, length: float) -> float:
    """Peak stress of the homogeneous 1D solution (uniaxial stress, no split)."""
    if model == "AT1":
        return math.sqrt(3 * Gc * E / (8 * length))
    return 3.0 / 16.0 * math.sqrt(3 * Gc * E / length)


def effective_toughness(model: str, Gc: float, length: float, h: float) -> float:
    """Gc of a fully developed crack on a mesh of size h (Bourdin et al. 2008): the band of
    d = 1 one element wide adds w(1) h / (c_w l): AT1 Gc (1 + 3h/(8l)), AT2 Gc (1 + h/(2l)),
    PFCZM Gc (1 + h/(pi l))."""
    return Gc * (1 + h / (c_w(model) * length))


def homogeneous_at2(strain: float, E: float, Gc: float, length: float, k: float = 0.0):
    """AT2 no-split homogeneous damage and stress at uniaxial strain ``strain``:
    d = E e^2 / (E e^2 + Gc / l) (k = 0), sigma = g(d) E e."""
    psi = 0.5 * E * strain**2
    d = (1 - k) * 2 * psi / ((1 - k) * 2 * psi + Gc / length)
    return d, ((1 - k) * (1 - d) ** 2 + k) * E * strain


def pfczm_homogeneous(strain: float, E: float, Gc: float, ft: float, length: float,
                      softening: str = "linear", d_min: float = 0.0):
    """PF-CZM homogeneous 1D state (uniaxial stress, no split, k = 0) at ``strain``: the
    damage d >= d_min minimising omega(d) E e^2 / 2 + Gc / (pi l) (2 d - d^2), found as the
    root of its derivative by bisection (the derivative is monotone on the branch used
    here); returns (d, sigma = omega(d) E e). Elastic (d = d_min) while the derivative at
    d_min is >= 0, i.e. up to sigma = ft from an undamaged state."""
    deg = Degradation("PFCZM", 0.0, pfczm_a1(E, Gc, ft, length), softening)
    Y = 0.5 * E * strain * strain
    c = Gc / (math.pi * length)

    def slope(d, h=1e-7):
        dw = (deg.omega(min(d + h, 1.0)) - deg.omega(max(d - h, 0.0))) / (
            min(d + h, 1.0) - max(d - h, 0.0))
        return dw * Y + c * (2 - 2 * d)

    if slope(d_min) >= 0:
        return d_min, deg.omega(d_min) * E * strain
    lo, hi = d_min, 1.0 - 1e-12
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    d = 0.5 * (lo + hi)
    return d, deg.omega(d) * E * strain


def pfczm_traction(opening: float, Gc: float, ft: float, softening: str = "linear"):
    """The traction-separation law a localised PF-CZM crack obeys as l -> 0 (Wu 2017):
    linear sigma = ft (1 - w / w_c), w_c = 2 Gc / ft; exponential ft exp(-ft w / Gc).
    Both enclose Gc. (Cornelissen's curve: not given in closed form here.)"""
    if softening == "linear":
        return max(ft * (1 - opening * ft / (2 * Gc)), 0.0)
    if softening == "exponential":
        return ft * math.exp(-ft * opening / Gc)
    raise ValueError(f"no closed-form traction-separation law for {softening!r}")
