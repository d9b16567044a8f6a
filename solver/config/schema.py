"""Case-file schema (pydantic v2). SI units throughout: m, s, Pa, V, mol/m^3.

Every model forbids unknown keys. Range checks that need more than one value (a layer
thinner than the mesh can resolve, a bump outside the domain) live in `Case`'s validators so
that `solver check` catches them before any mesh is built.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False, frozen=False)


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("must be a finite number")
    return v


Length = Annotated[float, Field(gt=0.0, lt=1.0, description="metres")]
Finite = Annotated[float, Field(allow_inf_nan=False)]


# --------------------------------------------------------------------------- geometry
class Bump(Strict):
    """Hemispherical (``shape: spherical``) or Gaussian bump on the metal surface.

    2D: ``center`` is [x]; 3D: [x, y]. ``height`` > 0 is a protrusion, < 0 a pit."""

    type: Literal["bump"]
    center: list[Finite] = Field(min_length=1, max_length=2)
    radius: Length
    height: Finite
    shape: Literal["gaussian", "spherical"] = "gaussian"


class Sinusoid(Strict):
    """amplitude * cos(2 pi x / wavelength + phase) (3D: times cos(2 pi y / wavelength_y))."""

    type: Literal["sinusoid"]
    amplitude: Finite
    wavelength: Length
    wavelength_y: Length | None = None
    phase: Finite = 0.0


class RandomRoughness(Strict):
    """Seeded smooth random surface: Fourier modes with Gaussian spectrum."""

    type: Literal["random"]
    rms: Annotated[float, Field(gt=0.0, lt=1.0)]
    correlation_length: Length
    seed: int = 0


Perturbation = Annotated[Bump | Sinusoid | RandomRoughness, Field(discriminator="type")]


class Metal(Strict):
    material: str = "Li"
    thickness: Length
    perturbations: list[Perturbation] = []


class Layer(Strict):
    """A conformal coating layer; layers are listed from the metal outwards."""

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_]*$")
    material: str
    thickness: Length


class ElectrolyteGrains(Strict):
    """A polycrystalline electrolyte (2D): Voronoi grains "grain_<i>" with a random c-axis
    angle each (for anisotropic stiffness and weak crystal planes) and "grain_boundaries"."""

    n_grains: Annotated[int, Field(ge=1, le=2000)]
    seed: int = 0
    # c-axis angle of each grain (rad, counter-clockwise from x; n_grains values), instead
    # of the random ones: e.g. a textured electrolyte, or one grain of a chosen orientation
    orientations: list[Finite] | None = None
    # Voronoi seed points [x, y] (m, y from the metal's bottom; n_grains points), instead of
    # the random ones: e.g. a bicrystal whose boundary lies where a crack will reach it
    seeds: list[Annotated[list[Finite], Field(min_length=2, max_length=2)]] | None = None

    @model_validator(mode="after")
    def _one_angle_per_grain(self):
        if self.orientations is not None and len(self.orientations) != self.n_grains:
            raise ValueError(f"orientations: {len(self.orientations)} angles for "
                             f"n_grains = {self.n_grains}; give one c-axis angle (rad) per "
                             "grain")
        if self.seeds is not None and len(self.seeds) != self.n_grains:
            raise ValueError(f"seeds: {len(self.seeds)} points for n_grains = "
                             f"{self.n_grains}; give one [x, y] (m) per grain")
        return self


class Electrolyte(Strict):
    material: str
    thickness: Length
    grains: ElectrolyteGrains | None = None


class Predelamination(Strict):
    """A segment of the metal/first-coating interface that is already debonded.

    2D: centred at ``center`` (x) with total ``length``; 3D: a disc of diameter ``length``
    centred at ``center`` = [x, y]."""

    center: list[Finite] = Field(min_length=1, max_length=2)
    length: Length


class MeshAdapt(Strict):
    """Front-following refinement (phase-field electrodeposition alone): Gmsh meshes the
    interface band at interface_size * 2**levels, and the base cells that the xi interface
    crosses, plus ``layers`` rings of neighbours, are refined ``levels`` times by bisection
    (back to interface_size there); the mesh is adapted again whenever the front comes
    within one ring of the refined region's edge (docs/electrodeposition.md, "Adaptive
    mesh")."""

    levels: Annotated[int, Field(ge=1, le=4)] = 2
    layers: Annotated[int, Field(ge=1, le=20)] = 3
    # a cell is on the interface when its xi values reach above threshold and below
    # 1 - threshold
    threshold: Annotated[float, Field(gt=0.0, lt=0.5)] = 0.01


class RefinementBox(Strict):
    """Element size ``size`` inside the box [x0, x1] x [y0, y1] (e.g. a crack band)."""

    box: list[Finite] = Field(min_length=4, max_length=4)
    size: Length


class MeshSize(Strict):
    elements_through_thinnest_layer: Annotated[int, Field(ge=1, le=64)] = 4
    max_size: Length | None = None  # default: width / 20
    growth_rate: Annotated[float, Field(gt=1.0, le=3.0)] = 1.3
    geometry_order: Literal[1, 2] = 1
    # layered: cell size at the interfaces (default: thinnest layer / elements, capped by a
    # quarter of the surface features) and the distance from them over which it is kept
    # (default: half the thinnest layer) before the grading starts; e.g. a band where
    # dendrites will grow, resolved at a quarter of the phase-field interface width
    interface_size: Length | None = None
    interface_band: Annotated[float, Field(ge=0.0, lt=1.0, allow_inf_nan=False)] | None = None
    adapt: MeshAdapt | None = None
    # layered, 2D: element size `size` in boxes [x0, x1, y0, y1] (y from the metal's bottom),
    # e.g. the band where a crack and the deposit in it will run; graded to the rest
    refine: list[RefinementBox] = []


class LayeredGeometry(Strict):
    """Metal slab, perturbed top surface, conformal coatings, optional electrolyte."""

    kind: Literal["layered"] = "layered"
    width: Length
    depth: Length | None = None  # 3D only (y extent)
    metal: Metal
    coatings: list[Layer] = []
    electrolyte: Electrolyte | None = None
    predelamination: Predelamination | None = None
    mesh: MeshSize = MeshSize()


class PolycrystalGeometry(Strict):
    """Slab of Voronoi grains (ceramic electrolyte) with a per-grain orientation angle."""

    kind: Literal["polycrystal"]
    width: Length
    height: Length
    depth: Length | None = None
    material: str
    n_grains: Annotated[int, Field(ge=1, le=5000)]
    seed: int = 0
    grain_boundary_width: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    mesh: MeshSize = MeshSize()


class Notch(Strict):
    """A straight slit of zero width (two faces) from the ``side`` edge at height ``y``."""

    length: Length
    y: Length  # height above the bottom edge
    side: Literal["left", "right"] = "left"


class PlateGeometry(Strict):
    """Rectangular plate (2D), one material, optional edge notch (fracture specimens:
    single-edge notched tension/shear, bars). Region 'plate'; boundaries bottom, top, left,
    right and 'notch' (both faces of the slit)."""

    kind: Literal["plate"]
    width: Length
    height: Length
    material: str
    notch: Notch | None = None
    refine: list[RefinementBox] = []
    mesh: MeshSize = MeshSize()


Geometry = Annotated[LayeredGeometry | PolycrystalGeometry | PlateGeometry,
                     Field(discriminator="kind")]


# --------------------------------------------------------------------------- materials
class MaterialOverride(Strict):
    """Any library field may be overridden per case; new materials need E and nu (or C)."""

    youngs_modulus: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    poisson_ratio: Annotated[float, Field(gt=-1.0, lt=0.5)] | None = None
    stiffness_voigt: list[list[Finite]] | None = None  # 6x6, Pa, crystal frame
    molar_volume: Annotated[float, Field(gt=0.0)] | None = None
    density: Annotated[float, Field(gt=0.0)] | None = None  # kg/m^3
    fracture_toughness: Annotated[float, Field(gt=0.0)] | None = None  # Gc, J/m^2
    fracture_toughness_plane: Annotated[float, Field(gt=0.0)] | None = None  # weak planes
    fracture_toughness_grain_boundary: Annotated[float, Field(gt=0.0)] | None = None
    fracture_strength: Annotated[float, Field(gt=0.0)] | None = None  # Pa
    fracture_strength_plane: Annotated[float, Field(gt=0.0)] | None = None  # Pa
    cation_diffusivity: Annotated[float, Field(gt=0.0)] | None = None
    cation_diffusivity_plane: Annotated[float, Field(gt=0.0)] | None = None  # along planes
    ionic_conductivity: Annotated[float, Field(gt=0.0)] | None = None
    ionic_conductivity_plane: Annotated[float, Field(gt=0.0)] | None = None  # along planes
    electronic_conductivity: Annotated[float, Field(gt=0.0)] | None = None
    source: str | None = None
    description: str | None = None
    notes: str | None = None

    @field_validator("youngs_modulus")
    @classmethod
    def _modulus_units(cls, v):
        if v is not None and v < 1e5:
            raise ValueError(
                f"{v:g} Pa is not a solid's modulus; SI wants pascals (e.g. 4.9e9 for 4.9 GPa)"
            )
        return v


# --------------------------------------------------------------------------- elasticity
class EigenstrainProfile(Strict):
    """Gaussian lateral profile exp(-|x - center|^2 / radius^2): 2D ``center`` [x], 3D
    [x, y]."""

    center: list[Finite] = Field(min_length=1, max_length=2)
    radius: Length


class Eigenstrain(Strict):
    """Stress-free strain of a region: isotropic ``value`` (e* I) or a full ``tensor``,
    uniform or with a Gaussian lateral ``profile`` (a local deposit or volume change)."""

    region: str
    value: Finite | None = None
    tensor: list[list[Finite]] | None = None
    profile: EigenstrainProfile | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.value is None) == (self.tensor is None):
            raise ValueError("give exactly one of 'value' (isotropic) or 'tensor'")
        if self.value is not None and abs(self.value) > 0.5:
            raise ValueError(f"value {self.value:g} is not a small strain (|e*| <= 0.5)")
        return self


class _OnBoundary(Strict):
    """``region`` (optional) restricts a condition to the boundary facets of that region,
    e.g. the left end of one arm of a double cantilever beam."""

    boundary: str
    region: str | None = None


class Clamped(_OnBoundary):
    type: Literal["clamped"]


class Roller(_OnBoundary):
    """Zero normal displacement on a flat boundary (left/right/bottom/top/front/back)."""

    type: Literal["roller"]


class Displacement(_OnBoundary):
    """Prescribed displacement components (m); ``null`` leaves a component free."""

    type: Literal["displacement"]
    value: list[Finite | None] = Field(min_length=2, max_length=3)


class Traction(_OnBoundary):
    type: Literal["traction"]
    value: list[Finite] = Field(min_length=2, max_length=3)  # Pa


class Pressure(_OnBoundary):
    """Pressure p (Pa) acting against the outward normal: t = -p n."""

    type: Literal["pressure"]
    value: Finite


BoundaryCondition = Annotated[
    Clamped | Roller | Displacement | Traction | Pressure, Field(discriminator="type")
]


class LinearSolver(Strict):
    type: Literal["iterative", "direct"] = "iterative"
    rtol: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-10
    max_iterations: Annotated[int, Field(ge=1)] = 500
    petsc_options: dict[str, str | int | float | bool | None] = {}


class Elasticity(Strict):
    degree: Literal[1, 2, 3] = 2
    eigenstrain: list[Eigenstrain] = []
    boundary_conditions: list[BoundaryCondition] = Field(min_length=1)
    solver: LinearSolver = LinearSolver()


class Anisotropy(Strict):
    """kappa(theta) = kappa0 (1 + strength cos(mode (theta - angle)))."""

    strength: Annotated[float, Field(ge=0.0, lt=1.0)] = 0.0
    mode: Annotated[int, Field(ge=1, le=12)] = 4
    angle: Finite = 0.0  # rad


class Noise(Strict):
    """Random perturbation of the xi equation at the interface: rate amplitude * h'(xi) * r,
    r uniform in [-1/2, 1/2], hashed from position, time and seed (rank-independent),
    optionally normalised in time (correlation_time) and space (correlation_length)."""

    amplitude: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0  # 1/s
    seed: int = 0
    # s: scale r by sqrt(correlation_time / dt) each step, so the accumulated noise is a
    # Wiener process with the statistics of steps of this length, whatever dt the stepper
    # takes; None: one draw per step at the amplitude (Hong's MOOSE convention, whose
    # effect grows with dt)
    correlation_time: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    # m: scale r at each vertex by sqrt(ell^d / A_i) (A_i its share of the mesh), so the
    # noise is white in space with a strength that does not depend on the mesh; None: one
    # draw per vertex at the amplitude (weaker, in effect, on a finer mesh)
    correlation_length: Length | None = None


class NonlinearSolver(Strict):
    petsc_options: dict[str, str | int | float | bool | None] = {}


class DepositionSolver(NonlinearSolver):
    """direct: MUMPS LU per Newton step (small problems); fieldsplit: GMRES with a
    multiplicative field split (xi, c or mu, phi), GAMG on each field (large problems:
    its iteration count does not grow with the mesh; docs/electrodeposition.md, section 7)."""

    linear: Literal["direct", "fieldsplit"] = "direct"
    # keep 0 <= xi <= 1 as a variational inequality (PETSc SNES VI, vinewtonrsls; the
    # other fields free); direct solver only (docs/electrodeposition.md, "Bounds")
    bounds: bool = False


class MovingFilm(Strict):
    """A coating that rides on the growing metal: within ``thickness`` (normal distance) of
    the xi = 1/2 line, on its non-metal side, the non-metal phase has the moduli of
    ``material`` instead of its region's. Mechanics only (the ions cross it with the
    region's transport). For nm films, which a fixed coating region cannot hold once the
    metal has grown by more than their thickness (docs/stress_deposition.md, section 8)."""

    material: str
    thickness: Length


class DepositionMechanics(Strict):
    """M4: stress in the deposit and its coating, fed back into the kinetics.

    The deposit is an eigenstrain (xi - xi_ref) along the growth direction, the moduli follow
    the phase (metal where xi = 1, the cell's own material elsewhere), and the hydrostatic
    stress shifts the Butler-Volmer overpotential by Omega sigma_h / RT (Omega: the metal's
    molar_volume). Coupled per time step by staggered iterations to ``tolerance`` on
    max |G(xi) - xi| (G: elasticity at xi, then Newton for (xi, c, phi)), the iterates
    mixed by Anderson acceleration of depth ``anderson_depth`` (0: plain iteration)."""

    reference: Literal["initial", "flat"] = "initial"  # stress-free configuration
    degree: Literal[1, 2] = 2
    tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-6
    max_iterations: Annotated[int, Field(ge=1, le=200)] = 20
    anderson_depth: Annotated[int, Field(ge=0, le=20)] = 5
    # staggered: the fixed point above; monolithic: u is a fourth field of the phase-field
    # Newton (one solve per step, direct solver; tolerance, max_iterations, anderson_depth
    # and solver then apply only to the elasticity solve of the start and restart states)
    coupling: Literal["staggered", "monolithic"] = "staggered"
    boundary_conditions: list[BoundaryCondition] = Field(min_length=1)
    solver: LinearSolver = LinearSolver(type="direct")
    film: MovingFilm | None = None


class DepositionCracking(Strict):
    """M6: the deposit as a wedge in a brittle electrolyte or coating (``physics.fracture``
    holds the fracture model). The deposit carries an eigenstrain (``growth``) and the
    metal's moduli; damage d raises the cation diffusivity and the ionic
    conductivity of the non-metal phase towards the crack values, D + d (D_crack - D); the
    degraded hydrostatic stress shifts the Butler-Volmer overpotential by Omega sigma_h / RT
    (``stress_feedback``). Coupled per time step by staggered iterations to ``tolerance`` on
    max |xi_k - xi_(k-1)|."""

    # insertion: eps* = growth_strain (xi - xi0) e (x) e (the deposited thickness pushes
    # the solid out along the growth direction e, as M4; 1 = all of it); volumetric:
    # eps* = growth_strain (xi - xi0) I
    growth: Literal["insertion", "volumetric"] = "insertion"
    growth_strain: Annotated[float, Field(gt=0.0, le=1.0)]
    crack_diffusivity: Annotated[float, Field(gt=0.0, lt=1.0)]  # m^2/s
    crack_conductivity: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # S/m
    stress_feedback: bool = True
    # the metal needs room in a dense solid: its front advances into intact solid at this
    # fraction of its rate and at the full rate where the solid is cracked, m = m0 + (1 - m0) d
    # (1: off, the metal grows into the solid as into a liquid; docs/fracture.md, "M6")
    intact_mobility: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    tolerance: Annotated[float, Field(gt=0.0, lt=1.0)] = 1e-4
    max_iterations: Annotated[int, Field(ge=1, le=200)] = 20
    # staggered: fracture (alternate minimisation) with xi, then M3's Newton, to tolerance
    # on xi; monolithic: u a fourth field of M3's Newton (with the damage of the last
    # iterate), alternating with the damage solve to physics.fracture.tolerance on d
    coupling: Literal["staggered", "monolithic"] = "staggered"


class Electrodeposition(Strict):
    """M3: phase-field electrodeposition (Chen et al. 2015), Hong & Viswanathan 2018 set.

    The metal is region 'metal' (xi = 1), everything above is electrolyte or coating
    (xi = 0) with the coating materials' cation_diffusivity and ionic_conductivity. The
    electrode (bottom) is held at applied_potential (potentiostatic), or at the potential
    that carries applied_current_density (galvanostatic, A/m^2 of electrode, > 0 plating),
    the electrolyte top at c = c0, phi = 0."""

    parameters: Literal["hong2018"] = "hong2018"
    # chen: unknowns (xi, c, phi), Chen et al. 2015; grand_potential: (xi, mu, phi), Hong &
    # Viswanathan 2018's MOOSE model (cation concentration positive by construction)
    formulation: Literal["chen", "grand_potential"] = "chen"
    applied_potential: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)] | None \
        = None  # V
    # galvanostatic control: A/m^2 of electrode (> 0 plating, < 0 stripping); the electrode
    # potential is solved for every step to current_tolerance (relative)
    applied_current_density: Annotated[float, Field(ge=-1e7, le=1e7,
                                                    allow_inf_nan=False)] | None = None
    current_tolerance: Annotated[float, Field(gt=0.0, le=0.1)] = 1.0e-4
    equilibrium_potential: Annotated[float, Field(ge=-5.0, le=5.0, allow_inf_nan=False)] = 0.0
    anisotropy: Anisotropy = Anisotropy()
    noise: Noise = Noise()
    overrides: dict[str, float] = {}  # any ElectrodepositionParameters field, SI units
    # oriented electrolyte grains of a material with cation_diffusivity_plane /
    # ionic_conductivity_plane conduct along their planes (normal to the c-axis) with those
    # values and across them with cation_diffusivity / ionic_conductivity (a tensor per grain)
    conduction_planes: bool = True
    solver: DepositionSolver = DepositionSolver()
    mechanics: DepositionMechanics | None = None  # M4 (stress-coupled deposition)
    cracking: DepositionCracking | None = None  # M6 (with physics.fracture)

    @model_validator(mode="after")
    def _one_control(self):
        if (self.applied_potential is None) == (self.applied_current_density is None):
            raise ValueError("give exactly one of applied_potential (V, potentiostatic) or "
                             "applied_current_density (A/m^2, galvanostatic)")
        return self


class CohesiveLaw(Strict):
    """Bilinear mixed-mode traction-separation law (docs/cohesive.md), SI units."""

    stiffness: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # Pa/m (penalty)
    strength_normal: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # Pa
    strength_shear: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # Pa
    toughness_normal: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # G_Ic, J/m^2
    toughness_shear: Annotated[float, Field(gt=0.0, allow_inf_nan=False)]  # G_IIc, J/m^2
    bk_exponent: Annotated[float, Field(gt=0.0, le=10.0)] = 2.0  # Benzeggagh-Kenane eta
    # damage relaxation time in units of the load factor (0: none); see docs/cohesive.md
    viscosity: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0
    source: str = ""

    @model_validator(mode="after")
    def _separations(self):
        for mode in ("normal", "shear"):
            s, g = getattr(self, f"strength_{mode}"), getattr(self, f"toughness_{mode}")
            if 2 * g / s <= s / self.stiffness:
                raise ValueError(
                    f"{mode}: final separation 2 G/strength = {2 * g / s:.3g} m is not beyond "
                    f"the onset strength/stiffness = {s / self.stiffness:.3g} m; raise "
                    "stiffness or toughness_" + mode + ", or lower strength_" + mode)
        return self


class InterfacePressure(Strict):
    """Pressure on both faces of the predelaminated segment, opening it: ``value`` (Pa),
    or ``overpotential`` (V) converted by sigma V_m = F dphi with the metal's molar volume."""

    value: Annotated[float, Field(ge=0.0, le=1e11, allow_inf_nan=False)] | None = None
    overpotential: Annotated[float, Field(ge=0.0, le=5.0, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.value is None) == (self.overpotential is None):
            raise ValueError("give exactly one of 'value' (Pa) or 'overpotential' (V)")
        return self


class Cohesive(Strict):
    """M2: elasticity with displacement jumps on cohesive interfaces (docs/cohesive.md).

    Loads (boundary values, pressure, eigenstrain) are scaled by the load factor
    ``load_path(t)``: piecewise linear through the [t, factor] points (default factor = t),
    so a path can unload and reload."""

    degree: Literal[1, 2] = 2
    interfaces: list[str] | None = None  # default: the metal / first-coating interface
    law: CohesiveLaw
    pressure: InterfacePressure | None = None
    eigenstrain: list[Eigenstrain] = []
    boundary_conditions: list[BoundaryCondition] = Field(min_length=1)
    load_path: list[Annotated[list[Finite], Field(min_length=2, max_length=2)]] | None = None
    solver: NonlinearSolver = NonlinearSolver()

    @field_validator("load_path")
    @classmethod
    def _increasing(cls, v):
        if v is not None:
            ts = [p[0] for p in v]
            if len(v) < 2 or any(b <= a for a, b in zip(ts[:-1], ts[1:], strict=True)):
                raise ValueError("give at least two [t, factor] points with increasing t")
        return v


class FractureSolver(Strict):
    """PETSc options of the two sub-problems and the optional monolithic Newton (prefixes
    fracture_u_, fracture_d_, fracture_m_)."""

    displacement: dict[str, str | int | float | bool | None] = {}
    damage: dict[str, str | int | float | bool | None] = {}
    monolithic: dict[str, str | int | float | bool | None] = {}


class InitialCrack(Strict):
    """A pre-existing crack (2D): the segment from ``start`` to ``end`` (m) is fully damaged
    over the band ``width`` (default: two smallest cells) and the model's optimal damage
    profile runs off it (docs/fracture.md, "Initial cracks"); irreversibility keeps it."""

    start: list[Finite] = Field(min_length=2, max_length=2)
    end: list[Finite] = Field(min_length=2, max_length=2)
    width: Length | None = None  # m, the d = 1 band's full width

    @model_validator(mode="after")
    def _length(self):
        if math.hypot(self.end[0] - self.start[0], self.end[1] - self.start[1]) <= 0:
            raise ValueError("start and end are the same point; give a segment")
        return self


class Fracture(Strict):
    """M5: phase-field fracture (docs/fracture.md). Toughness per region from the materials'
    fracture_toughness (J/m^2). Loads scale with the load factor as in cohesive."""

    # PFCZM: Wu's phase-field cohesive zone model (strength from the materials'
    # fracture_strength, independent of l; traction-separation law ``softening``)
    model: Literal["AT1", "AT2", "PFCZM"] = "AT2"
    softening: Literal["linear", "exponential", "cornelissen"] | None = None  # PFCZM only
    split: Literal["none", "volumetric_deviatoric", "spectral"] = "none"
    # what drives the damage: the (split) elastic energy psi+, or Wu's Rankine-type
    # <sigma1>^2 / (2 E) of the effective stress (needs irreversibility: history, split: none)
    driving_force: Literal["energy", "rankine"] = "energy"
    length_scale: Length  # l, m
    irreversibility: Literal["bounds", "history"] = "bounds"
    residual_stiffness: Annotated[float, Field(ge=0.0, le=1e-2)] = 1e-6
    degree: Literal[1, 2] = 1
    # alternate minimisation: stop when max |d_k - d_(k-1)| < tolerance
    tolerance: Annotated[float, Field(gt=0.0, le=0.1)] = 1e-4
    max_iterations: Annotated[int, Field(ge=1, le=100000)] = 2000
    # Anderson acceleration of the alternate minimisation (history depth; 0: plain)
    anderson_depth: Annotated[int, Field(ge=0, le=50)] = 5
    # start each load step from the damage extrapolated from the last step's increment
    predictor: bool = True
    # after the alternate minimisation, a monolithic Newton on (u, d) (bounds only)
    monolithic: bool = False
    # regions whose damage stays zero (e.g. a ductile metal under a brittle coating)
    unbreakable: list[str] = []
    # oriented grains of a material with fracture_toughness_plane: weaker along the planes
    weak_planes: bool = True
    # cells next to grain-boundary facets take fracture_toughness_grain_boundary
    grain_boundaries: bool = True
    eigenstrain: list[Eigenstrain] = []
    # pre-existing cracks (2D segments), e.g. in place of a geometric notch
    initial_cracks: list[InitialCrack] = []
    boundary_conditions: list[BoundaryCondition] = Field(min_length=1)
    load_path: list[Annotated[list[Finite], Field(min_length=2, max_length=2)]] | None = None
    solver: FractureSolver = FractureSolver()

    _increasing = field_validator("load_path")(Cohesive._increasing.__func__)


PHYSICS = ("elasticity", "electrodeposition", "cohesive", "fracture")


class Physics(Strict):
    """One physics per case, or the M6 pair electrodeposition (with ``cracking``) +
    fracture."""

    elasticity: Elasticity | None = None
    electrodeposition: Electrodeposition | None = None
    cohesive: Cohesive | None = None
    fracture: Fracture | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in PHYSICS if getattr(self, k) is not None]
        cracking = self.electrodeposition is not None and \
            self.electrodeposition.cracking is not None
        if given == ["electrodeposition", "fracture"] and cracking:
            if self.electrodeposition.mechanics is not None:
                raise ValueError("electrodeposition: give either mechanics (M4, elastic "
                                 "coating) or cracking (M6, with physics.fracture), not both")
            return self
        if cracking:
            raise ValueError("electrodeposition.cracking couples deposition to "
                             "physics.fracture; add a fracture section (length_scale, "
                             "boundary_conditions, ...)")
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(repr(p) for p in PHYSICS)} "
                             f"(got {', '.join(given) or 'none'}); coupled physics are not "
                             "available yet")
        return self

    @property
    def name(self) -> str:
        return next(k for k in PHYSICS if getattr(self, k) is not None)


class StopCondition(Strict):
    """Stop the run early when a metric crosses a threshold (checked after every step)."""

    metric: str
    above: Finite | None = None
    below: Finite | None = None

    @model_validator(mode="after")
    def _one_of(self):
        if (self.above is None) == (self.below is None):
            raise ValueError("give exactly one of 'above' or 'below'")
        return self


class Stepping(Strict):
    """Time (transient physics, s) or load-factor (quasi-static physics) stepping.

    Quasi-static loads and eigenstrains are scaled by the load factor t in (0, end]. A step
    whose solve fails is retried with dt * cutback until dt < dt_min; after a step solved
    in at most ``easy_iterations`` Newton iterations dt grows by ``growth`` up to dt_max."""

    end: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] = 1.0
    dt: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None  # default end
    dt_min: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None  # dt/64
    dt_max: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None  # dt
    growth: Annotated[float, Field(ge=1.0, le=10.0)] = 1.0
    cutback: Annotated[float, Field(gt=0.0, lt=1.0)] = 0.5
    easy_iterations: Annotated[int, Field(ge=1)] = 4
    # reject and cut a step whose reported change (a problem's own dimensionless measure,
    # e.g. max |d xi| for phase fields) exceeds this; None: no limit
    max_change: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = None
    max_steps: Annotated[int, Field(ge=1)] = 100000
    stop: StopCondition | None = None

    @model_validator(mode="after")
    def _consistent(self):
        dt = self.dt if self.dt is not None else self.end
        if dt > self.end:
            raise ValueError(f"dt: {dt:g} is larger than end ({self.end:g})")
        if self.dt_min is not None and self.dt_min > dt:
            raise ValueError(f"dt_min: {self.dt_min:g} is larger than dt ({dt:g})")
        if self.dt_max is not None and self.dt_max < dt:
            raise ValueError(f"dt_max: {self.dt_max:g} is smaller than dt ({dt:g})")
        return self

    @property
    def dt0(self) -> float:
        return self.dt if self.dt is not None else self.end

    @property
    def dt_lo(self) -> float:
        return self.dt_min if self.dt_min is not None else self.dt0 / 64

    @property
    def dt_hi(self) -> float:
        return self.dt_max if self.dt_max is not None else self.dt0


class Checkpoint(Strict):
    """Periodic restart files (checkpoint/ in the output directory)."""

    every_steps: Annotated[int, Field(ge=0)] = 1  # 0: off
    every_seconds: Annotated[float, Field(ge=0.0)] = 0.0  # wall clock; 0: off
    keep: Annotated[int, Field(ge=1)] = 2


class FailureInjection(Strict):
    """Testing aid: make the solve of ``step`` fail ``attempts`` times (-1: always)."""

    step: Annotated[int, Field(ge=1)]
    attempts: Annotated[int, Field(ge=-1)] = 1


class Debug(Strict):
    """Testing aids for the run lifecycle (never needed for real runs)."""

    inject_failure: FailureInjection | None = None
    signal_after_step: Annotated[int, Field(ge=1)] | None = None  # SIGTERM to itself
    abort_after_step: Annotated[int, Field(ge=1)] | None = None  # hard exit, like kill -9


class Output(Strict):
    fields: bool = True
    figures: bool = True


class Case(Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    description: str = ""
    reproduces: str = ""  # which seed figure the case reproduces, and how well
    dimension: Literal[2, 3] = 2
    geometry: Geometry
    materials: dict[str, MaterialOverride] = {}
    physics: Physics
    stepping: Stepping = Stepping()
    checkpoint: Checkpoint = Checkpoint()
    output: Output = Output()
    debug: Debug = Debug()

    @field_validator("name")
    @classmethod
    def _not_dots(cls, v: str) -> str:
        if set(v) == {"."}:
            raise ValueError("a name of dots only would make runs/<name> an existing folder")
        return v

    @model_validator(mode="after")
    def _geometry_dimension(self):
        g = self.geometry
        if g.kind == "plate":
            if self.dimension != 2:
                raise ValueError("geometry.kind: a plate is two-dimensional; set dimension: 2")
            return self
        if self.dimension == 3 and g.depth is None:
            raise ValueError("geometry.depth: required in 3D (extent along y, in m)")
        if self.dimension == 2 and g.depth is not None:
            raise ValueError("geometry.depth: only for dimension 3; remove it")
        return self
