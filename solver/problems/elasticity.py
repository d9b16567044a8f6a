"""Quasi-static multi-material elasticity problem (M1) built from a case and a geometry."""

from __future__ import annotations

from functools import cached_property

import numpy as np

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import ufl
from petsc4py import PETSc

from solver.materials import stiffness
from solver.numerics import petsc_options
from solver.numerics.linear import LinearSolver
from solver.numerics.parallel import assemble_scalar, n_global_dofs
from solver.physics import bcs as mech_bcs
from solver.physics import elasticity as el
from solver.postprocess import interface_samples, region_extremum


def constitutive_data(geo, materials) -> dict[int, dict]:
    """Per cell tag: {"lame": (lambda, mu)} for isotropic untextured regions, else
    {"voigt": 6x6} in the global frame (rotated by the grain's orientation)."""
    any_aniso = any(materials[m].is_anisotropic for m in geo.region_material.values())
    out = {}
    for region, tag in geo.regions.items():
        mat = materials[geo.region_material[region]]
        if not any_aniso:
            out[tag] = {"lame": mat.lame()}
            continue
        C = mat.voigt()
        ori = geo.orientation.get(tag)
        if ori is not None and mat.is_anisotropic:
            if geo.dim == 2:
                C = stiffness.voigt_2d_plane_strain_rotated(C, float(ori))
            else:
                C = stiffness.rotate_voigt(C, stiffness.rotation_euler_bunge(*ori))
        out[tag] = {"voigt": C}
    return out


def _tensor(e) -> np.ndarray:
    if e.value is not None:
        return e.value * np.eye(3)
    t = np.zeros((3, 3))
    a = np.asarray(e.tensor, dtype=float)
    t[: a.shape[0], : a.shape[1]] = a
    return t


def eigenstrain_tensors(cfg_list, geo) -> dict[int, np.ndarray]:
    """Per-region constant eigenstrains (entries without a ``profile``), summed by tag."""
    out: dict[int, np.ndarray] = {}
    for e in cfg_list:
        if e.profile is None:
            tag = geo.regions[e.region]
            out[tag] = out.get(tag, np.zeros((3, 3))) + _tensor(e)
    return out


def eigenstrain_expression(cfg_list, geo):
    """The case's eigenstrain at load factor 1 (3x3 UFL), or None without one: a DG0 field
    for the uniform entries plus, for each entry with a ``profile``, its tensor on its
    region times the Gaussian exp(-|x_lat - center|^2 / radius^2) of the lateral
    coordinates (x in 2D; x, y in 3D): e.g. a deposit growing under a coating at one
    site."""
    mesh = geo.mesh
    tensors = eigenstrain_tensors(cfg_list, geo)
    expr = el.eigenstrain_field(mesh, geo.cell_tags, tensors) if tensors else None
    x = ufl.SpatialCoordinate(mesh)
    for e in cfg_list:
        if e.profile is None:
            continue
        field = el.eigenstrain_field(mesh, geo.cell_tags, {geo.regions[e.region]: _tensor(e)})
        c, r = e.profile.center, e.profile.radius
        r2 = sum((x[i] - c[i]) ** 2 for i in range(len(c)))
        term = ufl.exp(-r2 / r**2) * field
        expr = term if expr is None else expr + term
    return expr


class ElasticityProblem:
    prefix = "elasticity_"

    def __init__(self, case, geo, materials, extra_eigenstrain=None):
        cfg = case.physics.elasticity
        self.cfg, self.geo, self.materials = cfg, geo, materials
        mesh, dim = geo.mesh, geo.dim
        self.dim = dim
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", cfg.degree, (dim,)))
        self.u = dolfinx.fem.Function(self.V, name="displacement")
        self.law = el.material_field(mesh, geo.cell_tags, constitutive_data(geo, materials))
        self.factor = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
        eps0 = eigenstrain_expression(cfg.eigenstrain, geo)
        self.eps0 = ufl.as_tensor(np.zeros((3, 3)).tolist())
        if eps0 is not None:
            self.eps0 = self.factor * eps0
        if extra_eigenstrain is not None:
            self.eps0 = self.eps0 + extra_eigenstrain
        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=geo.cell_tags)
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=geo.facet_tags)
        self.bcs = mech_bcs.build(self.V, geo, cfg.boundary_conditions)
        du, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = el.bilinear_form(du, v, self.law, dim, self.dx)
        L = ufl.inner(dolfinx.fem.Constant(mesh, np.zeros(dim)), v) * self.dx
        if eps0 is not None or extra_eigenstrain is not None:
            L += el.eigenstrain_load(v, self.law, self.eps0, dim, self.dx)
        for bc in self.bcs:
            term = bc.form(v, self.ds)
            if term is not None:
                L += term
        opts = petsc_options.linear_solver(cfg.solver)
        self.dirichlet = [d for bc in self.bcs for d in bc.dirichlet]
        self.linear = LinearSolver(a, L, self.u, self.dirichlet, self.prefix, opts,
                                   near_nullspace=cfg.solver.type == "iterative",
                                   options_key="physics.elasticity.solver.petsc_options")
        self.sigma_expr = el.stress(self.u, self.law, self.eps0, dim)

    # Post-processing spaces and forms are built on first use (not part of a solve's cost).
    # Stress is discontinuous, degree k-1 (exact for affine P_k).
    @cached_property
    def S(self) -> dolfinx.fem.FunctionSpace:
        mesh = self.geo.mesh
        return dolfinx.fem.functionspace(
            mesh, basix.ufl.element("DG", mesh.basix_cell(), max(self.cfg.degree - 1, 0),
                                    shape=(3, 3)))

    @cached_property
    def Q(self) -> dolfinx.fem.FunctionSpace:
        return dolfinx.fem.functionspace(self.geo.mesh, ("DG", max(self.cfg.degree - 1, 0)))

    @cached_property
    def energy_form(self) -> dolfinx.fem.Form:
        return dolfinx.fem.form(el.stored_energy(self.u, self.law, self.eps0, self.dim, self.dx))

    @property
    def n_dofs(self) -> int:
        return n_global_dofs(self.V)

    def state(self) -> dict[str, dolfinx.fem.Function]:
        """What a checkpoint stores and a cut-back restores."""
        return {"displacement": self.u}

    def set_time(self, factor: float) -> None:
        """Set loads and eigenstrains to load factor ``factor`` (also used after a restart)."""
        self.factor.value = factor
        for bc in self.bcs:
            bc.update(factor)

    def solve(self, factor: float) -> dict:
        """One load step at ``factor`` (loads and eigenstrains scale linearly)."""
        self.set_time(factor)
        its = self.linear.solve()
        return {"newton_iterations": 1, "linear_iterations": its}

    # ------------------------------------------------------------------ post-processing
    @cached_property
    def _stress_outputs(self):
        """(function, expression) pairs, built once: sigma, von Mises, hydrostatic."""
        pairs = []
        for name, V, expr in (("stress", self.S, self.sigma_expr),
                              ("von_mises", self.Q, el.von_mises(self.sigma_expr)),
                              ("hydrostatic_stress", self.Q, el.hydrostatic(self.sigma_expr))):
            pairs.append((dolfinx.fem.Function(V, name=name),
                          dolfinx.fem.Expression(expr, V.element.interpolation_points)))
        return pairs

    def stress_fields(self) -> list[dolfinx.fem.Function]:
        """sigma (3x3), von Mises and hydrostatic stress as DG functions, updated to the
        current displacement (the same Function objects on every call)."""
        for fn, expr in self._stress_outputs:
            fn.interpolate(expr)
        return [fn for fn, _ in self._stress_outputs]

    def metrics(self) -> dict:
        out = {
            "strain_energy_J": assemble_scalar(self.energy_form),
            "max_von_mises_Pa": region_extremum(el.von_mises(self.sigma_expr), self.Q,
                                                self.geo, None),
        }
        for region in self.geo.regions:
            if region.startswith("grain_"):
                continue
            out[f"max_von_mises_Pa_{region}"] = region_extremum(
                el.von_mises(self.sigma_expr), self.Q, self.geo, region)
        return out

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        return (f"elasticity: P{self.cfg.degree}, {self.n_dofs} dofs, "
                f"{self.cfg.solver.type} solver")

    def history_columns(self) -> list[str]:
        return ["strain_energy_J", "max_von_mises_Pa"]

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        """VTX files, one per element family: updated in place by update_outputs()."""
        return {"displacement": [self.u], "stress": self.stress_fields()}

    def update_outputs(self) -> None:
        self.stress_fields()

    def finish(self, out, draw: bool) -> dict:
        from solver.problems import elasticity_output

        return elasticity_output.finish(self, out, draw)

    def interface_profile(self, stress_fn: dolfinx.fem.Function):
        """Stress at the metal / first-coating interface (pre-delaminated part included),
        sampled on both sides: {side region: rows [x, y(, z), 9 stress components]} on
        rank 0 (None elsewhere); None when there is no coating."""
        coatings = [r for r in self.geo.regions
                    if r not in ("metal", "electrolyte") and not r.startswith("grain_")]
        if "metal" not in self.geo.regions or not coatings:
            return None
        first = coatings[0]
        names = [f"interface_metal_{first}", "predelaminated"]
        return {side: interface_samples(stress_fn, self.geo, names, side)
                for side in ("metal", first)}

    def destroy(self) -> None:
        self.linear.destroy()
