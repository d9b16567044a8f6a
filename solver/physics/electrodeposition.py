"""M3: nonlinear phase-field electrodeposition (Chen et al., J. Power Sources 300 (2015) 376).

Unknowns: order parameter xi (1 = metal, 0 = electrolyte), cation concentration c and
electric potential phi. Strong form (SI, c in mol/m^3):

    d(xi)/dt = -L_s [g'(xi) - div(kappa(theta) grad xi)]
               - L_e h'(xi) [exp((1-a) nF eta/RT) - (c/c0) exp(-a nF eta/RT)]
    dc/dt    = div[D_eff (grad c + c nF/RT grad phi)] - c_s d(xi)/dt
    div(s_eff grad phi) = n F c_s d(xi)/dt

g = W xi^2 (1-xi)^2, h = xi^3 (6 xi^2 - 15 xi + 10), D_eff = D_s h + D_l (1-h),
s_eff = s_s h + s_l (1-h), kappa(theta) = kappa0 (1 + delta cos(omega (theta - theta0))),
theta the angle of grad xi. Overpotential eta = phi - E_eq: phi is the potential measured
from the bulk electrolyte (0 V at the far electrolyte boundary, the metal held at E_applied);
eta < 0 deposits metal. docs/electrodeposition.md has the conventions and parameter sources.

``formulation="grand_potential"`` (Hong & Viswanathan 2018's MOOSE model) replaces the
unknown c by the cation chemical potential mu (mu~ = mu/RT from the bulk electrolyte):

    c_l(mu) = c0 / (theta + (1 - theta) exp(-mu~))        lattice gas, theta = c0/c_max
    c_m(mu) = c_s (1 + s) / (1 + s exp(-mu~))               the metal's lattice gas
    c+ = (1 - h) c_l(mu),   c_tot = h c_m(mu) + c+
    d(c_tot)/dt = div[D_eff c+ grad(mu~ + nF phi/RT)]      (written conservatively)

and the Butler-Volmer bracket uses c+/c0. c+ > 0 by construction; the total lithium
(ions + metal) is conserved by the discrete equation (section 7 of the docs).

The forms are written in dimensionless variables (see ``DimensionlessGroups``):
xi, c~ = c/c0, phi~ = phi nF/RT, x~ = x/l0, t~ = t/t0. Meshes stay in metres (the case
contract); gradients and the measure are rescaled inside ``residual``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import ufl

FARADAY = 96485.33212  # C/mol
GAS_CONSTANT = 8.314462618  # J/(mol K)

_REGION_KEYS = ("D_solid", "D_liquid", "sigma_solid", "sigma_liquid")
FORMULATIONS = ("chen", "grand_potential")
# The stress shift s = Omega sigma_h/RT enters the Butler-Volmer exponents as
# CAP tanh(s/CAP): s itself below ~10 (relative change < 1.4 %), bounded by 50 (exp(25) per
# exponent) where a stiff solid electrolyte sends |sigma_h| past ~5 GPa and exp(s) would
# overflow (NaN residual); the kinetics there are already off by e^-12 or more.
BV_SHIFT_CAP = 50.0


# --------------------------------------------------------------------------- parameters
@dataclass(frozen=True)
class ElectrodepositionParameters:
    """SI inputs of the model. ``length_scale`` and ``time_scale`` are numerical reference
    scales (l0, t0) of the non-dimensionalisation, not physics."""

    kappa0: float  # gradient energy coefficient, J/m
    W: float  # double-well barrier height, J/m^3
    L_sigma: float  # interface mobility, m^3/(J s)
    L_eta: float  # reaction (Butler-Volmer) rate constant, 1/s
    D_solid: float  # cation diffusivity in the metal phase, m^2/s
    D_liquid: float  # cation diffusivity in the electrolyte, m^2/s
    sigma_solid: float  # conductivity of the metal phase, S/m
    sigma_liquid: float  # conductivity of the electrolyte, S/m
    c_s: float  # site density of the metal (moles of metal per m^3), mol/m^3
    c0: float  # bulk (reference) cation concentration, mol/m^3
    n: int = 1  # charge number
    alpha: float = 0.5  # charge-transfer coefficient
    T: float = 300.0  # temperature, K
    delta: float = 0.0  # anisotropy strength
    omega: int = 4  # anisotropy mode (integer: cos(omega theta) must be 2 pi periodic)
    theta0: float = 0.0  # crystal orientation: angle of the fastest-growth direction, rad
    E_applied: float = -0.45  # potential of the metal electrode vs the bulk electrolyte, V
    E_eq: float = 0.0  # equilibrium potential in eta = phi - E_eq, V
    length_scale: float = 1.0e-6  # l0, m
    time_scale: float = 1.0  # t0, s
    # "chen": unknown c (Chen 2015); "grand_potential": unknown mu (Hong 2018)
    formulation: str = "chen"
    # grand potential only: c0 / c_max of the electrolyte's lattice gas (Hong's el = 2.631
    # gives 1/(1 + e^2.631) = 0.0672, i.e. c_l <= 14.9 c0) and the metal's lattice-gas
    # parameter s ~ d(c_metal/c_s)/d(mu~) at mu~ = 0 (Hong's es = -13.8: s = e^-13.8)
    liquid_site_fraction: float = 1.0 / (1.0 + math.exp(2.631))
    solid_susceptibility: float = math.exp(-13.8)

    def __post_init__(self):
        positive = ("kappa0", "W", "L_sigma", "L_eta", "D_liquid", "sigma_solid",
                    "sigma_liquid", "c_s", "c0", "T", "length_scale", "time_scale")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"electrodeposition parameter {name} must be > 0, "
                                 f"got {getattr(self, name)}")
        if not self.D_solid >= 0:
            raise ValueError(f"electrodeposition parameter D_solid must be >= 0, "
                             f"got {self.D_solid}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"electrodeposition parameter alpha must be in (0, 1), "
                             f"got {self.alpha}")
        if not (isinstance(self.n, int) and self.n >= 1):
            raise ValueError(f"electrodeposition parameter n must be a positive integer, "
                             f"got {self.n}")
        if not (isinstance(self.omega, int) and self.omega >= 0):
            raise ValueError("electrodeposition parameter omega must be a non-negative "
                             f"integer (cos(omega theta) must be 2 pi periodic), got {self.omega}")
        if not 0 <= self.delta < 1:
            raise ValueError(f"electrodeposition parameter delta must be in [0, 1), "
                             f"got {self.delta}")
        if self.formulation not in FORMULATIONS:
            raise ValueError(f"electrodeposition formulation must be one of {FORMULATIONS}, "
                             f"got {self.formulation!r}")
        if not 0 <= self.liquid_site_fraction < 1:
            raise ValueError("electrodeposition parameter liquid_site_fraction must be in "
                             f"[0, 1), got {self.liquid_site_fraction}")
        if not 0 < self.solid_susceptibility <= 0.1:
            raise ValueError("electrodeposition parameter solid_susceptibility must be in "
                             f"(0, 0.1], got {self.solid_susceptibility}")

    @classmethod
    def from_hong2018(cls, **overrides) -> ElectrodepositionParameters:
        """Hong & Viswanathan, ACS Energy Lett. 3 (2018) 1737, converted to SI.

        Their input is normalised with length 1 um, time 1 s and an energy density E0 that
        the input file does not state; E0 = 2.5e6 J/m^3 makes their L_sigma = 6.25 equal to
        Chen et al.'s 2.5e-6 m^3/(J s). Only L_sigma*W and L_sigma*kappa0 enter the dynamics,
        and they do not depend on E0. See docs/electrodeposition.md for every conversion."""
        um, E0 = 1.0e-6, 2.5e6
        values = dict(
            kappa0=0.3 * E0 * um**2,  # 7.5e-7 J/m
            W=2.4 * E0,  # 6.0e6 J/m^3
            L_sigma=6.25 / E0,  # 2.5e-6 m^3/(J s)
            L_eta=1.0e-3,  # 1/s
            D_solid=7.5e-13,  # Chen et al. 2015 (Hong's input: 0)
            D_liquid=3.18e-10,  # 317.9 um^2/s
            sigma_solid=1.0e6,
            sigma_liquid=1.19,
            c_s=7.64e4,
            c0=1.0e3,
            n=1,
            alpha=0.5,
            T=300.0,  # nF/RT = 38.68 1/V (Hong: 38.69)
            delta=0.0,  # Hong's published input is isotropic
            omega=4,
            E_applied=-0.45,
            E_eq=0.0,
        )
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes) -> ElectrodepositionParameters:
        return dataclasses.replace(self, **changes)

    @property
    def thermal_voltage(self) -> float:
        """RT/(nF), V."""
        return GAS_CONSTANT * self.T / (self.n * FARADAY)

    @property
    def interface_width(self) -> float:
        """l = sqrt(kappa0 / (2 W)), m: the flat equilibrium profile is
        xi = 1/(1 + exp(x/l)) = (1 - tanh(x/(2 l)))/2 (isotropic, along the normal)."""
        return (self.kappa0 / (2.0 * self.W)) ** 0.5

    @property
    def interfacial_energy(self) -> float:
        """gamma = sqrt(2 kappa0 W)/6, J/m^2 (depends on the energy scale; see docs)."""
        return (2.0 * self.kappa0 * self.W) ** 0.5 / 6.0

    def nondimensional(self) -> DimensionlessGroups:
        l0, t0, c0 = self.length_scale, self.time_scale, self.c0
        VT = self.thermal_voltage
        s_ref = self.sigma_liquid
        return DimensionlessGroups(
            length_scale=l0, time_scale=t0, concentration_scale=c0, potential_scale=VT,
            conductivity_scale=s_ref,
            A_W=t0 * self.L_sigma * self.W,
            A_kappa=t0 * self.L_sigma * self.kappa0 / l0**2,
            A_eta=t0 * self.L_eta,
            D_solid=self.D_solid * t0 / l0**2,
            D_liquid=self.D_liquid * t0 / l0**2,
            sigma_solid=self.sigma_solid / s_ref,
            sigma_liquid=self.sigma_liquid / s_ref,
            site_ratio=self.c_s / c0,
            Pi=self.n * FARADAY * self.c_s * l0**2 / (t0 * s_ref * VT),
            alpha=self.alpha, delta=self.delta, omega=self.omega, theta0=self.theta0,
            eta_offset=self.E_eq / VT,
            phi_applied=self.E_applied / VT,
            formulation=self.formulation,
            liquid_site_fraction=self.liquid_site_fraction,
            solid_susceptibility=self.solid_susceptibility,
        )


@dataclass(frozen=True)
class DimensionlessGroups:
    """Reference scales and the groups of the dimensionless system (tilde variables)

        d(xi)/dt = -A_W g~'(xi) + A_kappa div(k(theta) grad xi)
                   - A_eta h'(xi) BV(c, phi - eta_offset)
        dc/dt    = div[D (grad c + c grad phi)] - site_ratio d(xi)/dt
        div(sigma grad phi) = Pi d(xi)/dt

    with g~ = xi^2 (1-xi)^2, k = 1 + delta cos(omega (theta - theta0)),
    BV(c, eta) = exp((1-alpha) eta) - c exp(-alpha eta),
    D = D_SI t0/l0^2, sigma = sigma_SI/sigma_ref (sigma_ref = electrolyte conductivity),
    Pi = nF c_s l0^2/(t0 sigma_ref RT/nF)."""

    length_scale: float  # l0, m
    time_scale: float  # t0, s
    concentration_scale: float  # c0, mol/m^3
    potential_scale: float  # RT/(nF), V
    conductivity_scale: float  # sigma_ref, S/m
    A_W: float
    A_kappa: float
    A_eta: float
    D_solid: float
    D_liquid: float
    sigma_solid: float
    sigma_liquid: float
    site_ratio: float
    Pi: float
    alpha: float
    delta: float
    omega: int
    theta0: float
    eta_offset: float
    phi_applied: float
    formulation: str = "chen"
    liquid_site_fraction: float = 0.0
    solid_susceptibility: float = 1.0e-6

    # SI -> dimensionless (works on floats and UFL expressions)
    def diffusivity(self, D):
        return D * (self.time_scale / self.length_scale**2)

    def conductivity(self, sigma):
        return sigma * (1.0 / self.conductivity_scale)

    def potential(self, phi):
        return phi * (1.0 / self.potential_scale)

    def concentration(self, c):
        return c * (1.0 / self.concentration_scale)

    def time(self, t):
        return t * (1.0 / self.time_scale)


# --------------------------------------------------------------------------- functions
def g(xi, W=1.0):
    """Double well W xi^2 (1 - xi)^2 (minima at 0 and 1)."""
    return W * xi**2 * (1 - xi) ** 2


def dg(xi, W=1.0):
    """g'(xi) = 2 W xi (1 - xi) (1 - 2 xi)."""
    return 2 * W * xi * (1 - xi) * (1 - 2 * xi)


def h(xi):
    """Interpolation xi^3 (6 xi^2 - 15 xi + 10): h(0) = 0, h(1) = 1, h'(0) = h'(1) = 0."""
    return xi**3 * (6 * xi**2 - 15 * xi + 10)


def dh(xi):
    """h'(xi) = 30 xi^2 (1 - xi)^2."""
    return 30 * xi**2 * (1 - xi) ** 2


def equilibrium_profile(distance, ell):
    """xi of the flat equilibrium interface, 1 / (1 + exp(distance / ell)) (numpy; distance
    signed along the growth direction, positive in the electrolyte)."""
    import numpy as np

    return 1.0 / (1.0 + np.exp(np.clip(np.asarray(distance) / ell, -200, 200)))


def interp(hval, a_solid, a_liquid):
    """Phase interpolation a_solid h + a_liquid (1 - h) of a property, with hval = h(xi).
    Either phase's value may be a (d x d) tensor (an anisotropic grain's diffusivity or
    conductivity); a scalar on the other side then stands for that multiple of I."""
    if ufl.shape(a_solid) != ufl.shape(a_liquid):
        d = max(ufl.shape(a_solid), ufl.shape(a_liquid))[0]
        I = ufl.Identity(d)
        a_solid = a_solid * I if ufl.shape(a_solid) == () else a_solid
        a_liquid = a_liquid * I if ufl.shape(a_liquid) == () else a_liquid
    return a_solid * hval + a_liquid * (1 - hval)


def flux(coefficient, gradient):
    """coefficient . gradient: a scalar or a (d x d) tensor coefficient (D, sigma) times a
    gradient."""
    if ufl.shape(coefficient) == ():
        return coefficient * gradient
    return ufl.dot(coefficient, gradient)


def conduction_plane_tensor(c_axis, along_planes: float, across_planes: float):
    """Transport tensor of a layered crystal that conducts along its planes (normal to the
    unit c-axis a): K = along (I - a a) + across a a (numpy, d x d); e.g. Na+ in
    beta''-alumina, whose conduction planes are normal to the c-axis."""
    import numpy as np

    a = np.asarray(c_axis, dtype=float)
    a = a / np.linalg.norm(a)
    P = np.outer(a, a)
    return along_planes * (np.eye(len(a)) - P) + across_planes * P


def _chebyshev(k: int, x):
    """T_k(x), so that cos(k theta) = T_k(cos theta)."""
    t_prev, t = 1.0, x
    if k == 0:
        return 1.0
    for _ in range(k - 1):
        t_prev, t = t, 2 * x * t - t_prev
    return t


def kappa_aniso(grad_xi, kappa0, delta, omega: int, theta0: float = 0.0, eps: float = 1e-6):
    """kappa0 (1 + delta cos(omega (theta - theta0))), theta the angle of grad xi in the
    x-y plane (3D: of its x-y projection).

    cos(omega phi) is evaluated as the Chebyshev polynomial T_omega(cos phi) with
    cos phi = (grad xi . e_theta0) / sqrt(|grad xi|^2 + eps^2): no atan2, finite and
    differentiable at grad xi = 0 (where it returns kappa0 (1 + delta T_omega(0))). The
    eps (in the units of grad_xi) changes kappa only where |grad xi| ~ eps, i.e. in the
    bulk phases, where the term kappa grad xi vanishes anyway."""
    if isinstance(delta, int | float) and delta == 0:
        return kappa0
    gx = grad_xi[0]
    gy = grad_xi[1] if ufl.shape(grad_xi)[0] > 1 else 0.0
    c0, s0 = math.cos(theta0), math.sin(theta0)
    norm = ufl.sqrt(gx**2 + gy**2 + eps**2)
    cos_phi = (c0 * gx + s0 * gy) / norm
    return kappa0 * (1 + delta * _chebyshev(int(omega), cos_phi))


def butler_volmer(c, eta, alpha):
    """The Butler-Volmer bracket exp((1-alpha) eta) - c exp(-alpha eta) in dimensionless
    variables (c = c/c0, eta = overpotential nF/RT). Negative (deposition) for eta < 0,
    zero at eta = 0, c = 1. The phase-field equation multiplies it by h'(xi)."""
    return ufl.exp((1 - alpha) * eta) - c * ufl.exp(-alpha * eta)


def planar_current_density(params: ElectrodepositionParameters, eta: float) -> float:
    """Current density (A/m^2, > 0 plating) of a flat front at the uniform overpotential
    eta (V) in the fast-transport limit: i = n F c_s v with the travelling-wave speed
    v = -6 l L_eta B(eta), B(eta) = exp((1-a) f eta) - exp(-a f eta), f = nF/RT,
    l = sqrt(kappa0/(2W)) (derivation in docs/electrodeposition.md, section 6)."""
    f = 1.0 / params.thermal_voltage
    a = params.alpha
    B = math.exp((1 - a) * f * eta) - math.exp(-a * f * eta)
    return -params.n * FARADAY * params.c_s * 6 * params.interface_width * params.L_eta * B


def planar_overpotential(params: ElectrodepositionParameters, current_density: float) -> float:
    """The inverse of ``planar_current_density``: the overpotential (V) at which a flat front
    carries ``current_density`` (A/m^2, > 0 plating) with fast transport. A starting value
    for galvanostatic runs (the ohmic drop and transport limits come on top). Bisection on
    the monotone B (eta < 0 for plating)."""
    lo, hi = -5.0, 5.0  # V; i(-5 V) and i(5 V) bound every finite request in practice
    target = float(current_density)
    if not planar_current_density(params, hi) < target < planar_current_density(params, lo):
        raise ValueError(f"current density {target:g} A/m^2 is beyond the Butler-Volmer "
                         "range of +-5 V")
    for _ in range(200):  # i decreases with eta
        mid = 0.5 * (lo + hi)
        if planar_current_density(params, mid) > target:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-15:
            break
    return 0.5 * (lo + hi)


def liquid_concentration(mu, theta):
    """c_l/c0 of the electrolyte's lattice gas at dimensionless chemical potential mu~:
    1 / (theta + (1 - theta) exp(-mu~)), theta = c0/c_max. 1 at mu~ = 0, increasing,
    in (0, 1/theta); theta = 0 is the ideal-dilute exp(mu~). UFL or numpy."""
    exp = ufl.exp if isinstance(mu, ufl.core.expr.Expr) else _np_exp
    return 1 / (theta + (1 - theta) * exp(-mu))


def _np_exp(x):
    import numpy as np

    return np.exp(np.clip(x, -700.0, 700.0))


def cation_concentration(xi, second, groups: DimensionlessGroups):
    """c+/c0, the cations of the electrolyte phase, from the second unknown: c~ itself
    (Chen) or (1 - h) c_l(mu~)/c0 (grand potential). UFL or numpy."""
    if groups.formulation == "chen":
        return second
    return (1 - h(xi)) * liquid_concentration(second, groups.liquid_site_fraction)


def total_concentration(xi, second, groups: DimensionlessGroups):
    """Lithium per c0, ions and metal: c~ + (c_s/c0) xi (Chen; the c equation's sink is
    (c_s/c0) d(xi)/dt) or h c_s/c0 (1 + chi_s mu~) + c+/c0 (grand potential), the quantity
    the mass equation conserves."""
    if groups.formulation == "chen":
        return second + groups.site_ratio * xi
    return (h(xi) * solid_concentration(second, groups)
            + cation_concentration(xi, second, groups))


def solid_concentration(mu, groups: DimensionlessGroups):
    """c_metal/c0 of the metal's lattice gas (Hong 2018's solid grand potential):
    (c_s/c0) (1 + s) / (1 + s exp(-mu~)), s = solid_susceptibility (Hong: exp(-13.8)). It is
    c_s/c0 at mu~ = 0 and stays there within s until mu~ ~ ln s: only where the electrolyte
    cannot supply a fast-moving front does the deposit take fewer atoms per volume, instead
    of the cation concentration running to minus infinity in mu."""
    s = groups.solid_susceptibility
    exp = ufl.exp if isinstance(mu, ufl.core.expr.Expr) else _np_exp
    return groups.site_ratio * (1 + s) / (1 + s * exp(-mu))


def overpotential(phi, groups: DimensionlessGroups):
    """Dimensionless eta = phi~ - E_eq nF/RT."""
    return phi - groups.eta_offset


# --------------------------------------------------------------------------- forms
def function_space(mesh: dolfinx.mesh.Mesh, degree: int = 1,
                   extra=None) -> dolfinx.fem.FunctionSpace:
    """Mixed space (xi, c~, phi~), three Lagrange fields of the same degree, and ``extra``
    (a basix.ufl element, e.g. a monolithic M4's displacement) as a fourth field."""
    P = basix.ufl.element("Lagrange", mesh.basix_cell(), degree)
    fields = [P, P, P] + ([extra] if extra is not None else [])
    return dolfinx.fem.functionspace(mesh, basix.ufl.mixed_element(fields))


def _groups(params) -> DimensionlessGroups:
    return params if isinstance(params, DimensionlessGroups) else params.nondimensional()


def residual(xi, c, phi, xi_n, c_n, v_xi, v_c, v_phi, dt, params, dx,
             region_coefficients: dict | None = None, sources=None, mesh_unit: float = 1.0,
             bv_shift=None, mobility=None):
    """Monolithic backward-Euler residual F(xi, c, phi; v) of the dimensionless system.

    xi, c, phi: the unknowns at the new time (``ufl.split`` of the mixed Function), c and
    phi dimensionless (c/c0, phi nF/RT); with ``formulation="grand_potential"`` the second
    unknown c is mu~ = mu/RT instead, and its equation is the conservative
    (c_tot - c_tot_n)/dt + div(-D_eff c+ grad(mu~ + phi~)) = 0 (``total_concentration``,
    ``cation_concentration``); xi_n, c_n: the previous step's. dt: step in
    seconds (float or Constant). params: ElectrodepositionParameters or DimensionlessGroups.
    dx: the cell measure (carry the quadrature degree in its metadata).
    region_coefficients: optional SI fields (e.g. DG0 Functions built from the cell tags)
    that replace D_solid, D_liquid, sigma_solid or sigma_liquid per cell: coatings are
    regions whose "liquid" phase has its own cation diffusivity and conductivity. A field
    may be a (d x d) tensor: anisotropic transport (grains that conduct along their
    planes, ``conduction_plane_tensor``); the flux is then D . grad.
    sources: optional dimensionless volumetric sources (s_xi, s_c, s_phi) added to the
    right-hand sides of the three equations (manufactured solutions, noise).
    mesh_unit: metres per mesh coordinate unit (1 for the solver's meshes).
    bv_shift: optional dimensionless shift s of the overpotential in the Butler-Volmer
    bracket, eta~ -> eta~ - s (M4: s = Omega sigma_h / RT, see physics/deposition_stress.py;
    tension, s > 0, speeds deposition, compression slows it).
    mobility: optional positive dimensionless field m that scales the order parameter's
    whole rate, d xi/dt = m (the right-hand side at m = 1): the variational form
    (xi - xi_n)/(m dt) v + ... (M6: the metal advances into an intact solid electrolyte only
    at m0 << 1 and at m = 1 where it is cracked; the sinks of the c and phi equations keep
    the actual d xi/dt, so the charge balance is unchanged).

    Anisotropy: kappa(theta) enters as int kappa(theta) grad xi . grad v, the weak form of
    -div(kappa(theta) grad xi) (the common simplification; not the full variational
    derivative of the anisotropic gradient energy)."""
    G = _groups(params)
    rc = dict(region_coefficients or {})
    unknown = set(rc) - set(_REGION_KEYS)
    if unknown:
        raise ValueError(f"unknown region coefficient(s) {sorted(unknown)}; "
                         f"allowed: {list(_REGION_KEYS)}")

    domain = ufl.domain.extract_unique_domain(xi)
    tdim = domain.topological_dimension  # an attribute in UFL 2025 (a method before)
    tdim = tdim() if callable(tdim) else tdim
    s = G.length_scale / mesh_unit  # grad~ = s grad, dx~ = s^-d dx
    vol = s ** (-tdim)

    def grad(u):
        return s * ufl.grad(u)

    D_s = G.diffusivity(rc["D_solid"]) if "D_solid" in rc else G.D_solid
    D_l = G.diffusivity(rc["D_liquid"]) if "D_liquid" in rc else G.D_liquid
    sg_s = G.conductivity(rc["sigma_solid"]) if "sigma_solid" in rc else G.sigma_solid
    sg_l = G.conductivity(rc["sigma_liquid"]) if "sigma_liquid" in rc else G.sigma_liquid

    hx = h(xi)
    D_eff = interp(hx, D_s, D_l)
    sigma_eff = interp(hx, sg_s, sg_l)
    dt_nd = G.time(dt)
    xi_dot = (xi - xi_n) / dt_nd
    k_aniso = kappa_aniso(grad(xi), 1.0, G.delta, G.omega, G.theta0)
    eta = overpotential(phi, G)
    if bv_shift is not None:
        eta = eta - BV_SHIFT_CAP * ufl.tanh(bv_shift / BV_SHIFT_CAP)
    bv = butler_volmer(cation_concentration(xi, c, G), eta, G.alpha)

    F_xi = ((xi_dot if mobility is None else xi_dot / mobility) * v_xi
            + G.A_W * dg(xi) * v_xi
            + G.A_kappa * k_aniso * ufl.inner(grad(xi), grad(v_xi))
            + G.A_eta * dh(xi) * bv * v_xi)
    if G.formulation == "chen":
        F_c = ((c - c_n) / dt_nd * v_c
               + ufl.inner(flux(D_eff, grad(c) + c * grad(phi)), grad(v_c))
               + G.site_ratio * xi_dot * v_c)
    else:  # grand potential: c is mu~; flux D c+ grad(mu~ + phi~), conservative storage
        F_c = ((total_concentration(xi, c, G) - total_concentration(xi_n, c_n, G))
               / dt_nd * v_c
               + cation_concentration(xi, c, G)
               * ufl.inner(flux(D_eff, grad(c) + grad(phi)), grad(v_c)))
    F_phi = ufl.inner(flux(sigma_eff, grad(phi)), grad(v_phi)) + G.Pi * xi_dot * v_phi
    if sources is not None:
        s_xi, s_c, s_phi = sources
        F_xi -= s_xi * v_xi
        F_c -= s_c * v_c
        F_phi -= s_phi * v_phi
    return vol * (F_xi + F_c + F_phi) * dx
