"""M6: deposition-driven cracking: phase-field electrodeposition coupled to phase-field fracture.

``physics.electrodeposition`` with ``cracking`` plus ``physics.fracture`` (seed 003: Na
deposited into a brittle solid electrolyte acts as a wedge). The two problems are M3's
``ElectrodepositionRun`` and M5's ``FractureProblem``; this module only couples them:

* the deposit loads the solid: an eigenstrain, growth_strain (xi - xi0) e (x) e (insertion
  along the growth direction e, as M4: a uniform advance under a free surface is stress-free,
  only the non-uniform deposit loads the solid) or growth_strain (xi - xi0) I (volumetric),
  and the deposit is a second, intact phase in the fracture energy, h(xi) psi_metal +
  (1 - h(xi)) (g(d) psi+ + psi-): the damage degrades the solid's share only;
* the crack carries ions: in the non-metal phase D -> D + d (D_crack - D) and
  sigma -> sigma + d (sigma_crack - sigma), d the damage;
* optionally (``intact_mobility`` m0 < 1) the metal needs room: its front advances into
  intact breakable solid at m0 times its rate, into cracked solid at the full rate
  (m0 + (1 - m0) d; 1 in the unbreakable regions);
* stress feeds back into the kinetics (``stress_feedback``): the degraded hydrostatic stress
  shifts the Butler-Volmer overpotential by Omega sigma_h / RT as in M4 (compression at the
  deposit slows it; a crack that releases the stress lets it go on).

Per time step, staggered to a tolerance: the fracture problem (alternate minimisation, from
the state at the start of the step, so irreversibility refers to the last accepted step)
with the current xi, then one Newton solve of (xi, c, phi) with the new damage and stress,
until the xi that went in and the xi that came out differ by less than the tolerance (the
fixed point accelerated by Anderson mixing of xi); a last fracture solve makes the damage
belong to the accepted xi. Failures are cut back by the common stepper. With
``coupling: monolithic`` the Newton solve carries the displacement too
(``_FractureMechanics``), so that only the damage is staggered.
"""

from __future__ import annotations

import logging
import math

import numpy as np

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import ufl
from mpi4py import MPI

from solver.errors import ConvergenceError
from solver.numerics.anderson import Anderson, clip_mixed
from solver.numerics.parallel import n_global_dofs
from solver.physics import bcs as mech_bcs
from solver.physics import deposition_stress as ds
from solver.physics import elasticity as el
from solver.problems.electrodeposition import region_field
from solver.problems.electrodeposition_case import ElectrodepositionRun
from solver.problems.fracture import FractureProblem

log = logging.getLogger("solver.problems.deposition_fracture")
ANDERSON_DEPTH = 5  # mixing depth of the coupling loop (xi)


class _FractureMechanics:
    """The fracture problem's displacement as the fourth field of M3's Newton (the
    ``mechanics`` hook of ElectrodepositionProblem; M6 with coupling: monolithic). Its
    residual is the fracture problem's internal force, int sigma(u, d, xi) : eps(v) dx with
    the degraded stress d psi_el / d eps, the damage held at the last iterate and the moduli
    and deposit eigenstrain of the live xi (the fracture forms with u -> scale w and xi_m ->
    xi). Unknown w = u / scale (scale: the model's length scale), residual scaled by
    1 / (E_ref scale^(d-1)). Displacement conditions only (checks.py)."""

    def __init__(self, frac, xi_m, params, molar_volume):
        mesh = frac.mesh
        self.frac, self.xi_m, self.T = frac, xi_m, params.T
        self.molar_volume = molar_volume  # None: no stress feedback
        self.scale = float(params.nondimensional().length_scale)
        self._factor = 1.0 / (max(frac._moduli()) * self.scale ** (frac.dim - 1))
        self.element = basix.ufl.element("Lagrange", mesh.basix_cell(), frac.cfg.degree,
                                         shape=(frac.dim,))
        self.held = []

    def build(self, V, xi, w, v):
        fr = self.frac
        sigma = ufl.replace(fr.stress, {fr.u: self.scale * w, self.xi_m: xi})
        # (no subdomain data: one form may hold only one kind, and M3's dx has none)
        dx = ufl.Measure("dx", domain=fr.mesh,
                         metadata={"quadrature_degree": 2 * fr.cfg.degree})
        F = self._factor * ufl.inner(sigma, el.strain(v, fr.dim)) * dx
        self.held = mech_bcs.build(V, fr.geo, fr.cfg.boundary_conditions,
                                   "physics.fracture.boundary_conditions")
        self.update(fr.amplitude(fr.t))
        shift = (ds.bv_shift(sigma, self.molar_volume, self.T)
                 if self.molar_volume is not None else None)
        return F, shift, [d for bc in self.held for d in bc.dirichlet]

    def update(self, load_factor: float) -> None:
        """Prescribed displacements at the load factor, in units of scale."""
        for bc in self.held:
            bc.update(load_factor / self.scale)


class DepositionFractureProblem:
    def __init__(self, case, geo, materials):
        cfg = case.physics.electrodeposition
        ck = self.cracking = cfg.cracking
        self.case, self.geo, self.comm = case, geo, geo.mesh.comm
        mesh = self.mesh = geo.mesh
        self.tdim = mesh.topology.dim
        params, ell, kwargs = ElectrodepositionRun.case_arguments(case, geo, materials)
        metal = materials[case.geometry.metal.material]

        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self.xi0 = dolfinx.fem.Function(V1, name="xi_initial")
        self.xi0.interpolate(kwargs["xi0"])
        self.xi_m = dolfinx.fem.Function(V1, name="xi_mechanics")
        self.xi_m.x.array[:] = self.xi0.x.array
        if ck.growth == "insertion":
            eps_star = ck.growth_strain * ds.growth_eigenstrain(self.xi_m, self.xi0, self.tdim)
        else:
            eps_star = ck.growth_strain * (self.xi_m - self.xi0) * ufl.Identity(3)
        self.frac = FractureProblem(case, geo, materials, extra_eigenstrain=eps_star,
                                    phase=(self.xi_m, metal.lame()))

        # transport along the cracks: base D and sigma per region, raised by the damage
        d = self.frac.d
        rc = dict(kwargs.pop("region_coefficients") or {})
        coefficients = {}
        for key, crack in (("D_liquid", ck.crack_diffusivity),
                           ("sigma_liquid", ck.crack_conductivity)):
            base = region_field(mesh, geo.cell_tags, getattr(params, key), rc.get(key, {}))
            if base.ufl_shape:  # anisotropic grains: the crack conducts isotropically
                crack = crack * ufl.Identity(self.tdim)
            coefficients[key] = base + d * (crack - base)
        self.transport = coefficients  # the damage-dependent D and sigma (SI), UFL
        # the front's mobility: m0 in intact breakable solid, 1 where it is cracked and in
        # the unbreakable regions (the metal itself: nothing to make room in)
        m0 = ck.intact_mobility
        mobility = None
        if m0 < 1.0:
            solid = region_field(mesh, geo.cell_tags, 1.0, {
                tag: 0.0 for r, tag in geo.regions.items()
                if r in case.physics.fracture.unbreakable})
            mobility = 1.0 - solid * (1.0 - m0) * (1.0 - d)
        self._mech = None
        if ck.coupling == "monolithic":
            self._mech = _FractureMechanics(self.frac, self.xi_m, params, metal.molar_volume
                                            if ck.stress_feedback else None)
            self.ed = ElectrodepositionRun(mesh, params, mechanics=self._mech,
                                           region_coefficients=coefficients,
                                           mobility=mobility, **kwargs)
        else:
            shift = (ds.bv_shift(self.frac.stress, metal.molar_volume, params.T)
                     if ck.stress_feedback else None)
            self.ed = ElectrodepositionRun(mesh, params, bv_shift=shift,
                                           region_coefficients=coefficients,
                                           mobility=mobility, **kwargs)
        self.ed.attach(case, geo, ell)
        self.iterations = 0
        self.axis = self.tdim - 1
        self._Xd = self.frac.Vd.tabulate_dof_coordinates()[:, self.axis]

    # ------------------------------------------------------------------ stepping interface
    @property
    def n_dofs(self) -> int:
        if self._mech is not None:  # u is a field of the phase-field problem
            return self.ed.n_dofs + n_global_dofs(self.frac.Vd)
        return self.ed.n_dofs + self.frac.n_dofs

    def state(self) -> dict[str, dolfinx.fem.Function]:
        return {**self.ed.state(), **self.frac.state()}

    def scalar_state(self) -> dict:
        return self.frac.scalar_state()

    def restore_scalar_state(self, s: dict) -> None:
        self.frac.restore_scalar_state(s)

    def set_time(self, t: float) -> None:
        self.ed.set_time(t)
        self.frac.set_time(t)
        self.ed.xi_into(self.xi_m)
        if self._mech is not None:
            self._mech.update(self.frac.amplitude(t))

    def _fracture(self, t: float, start: dict) -> int:
        self.frac.restore(start)
        return self.frac.solve(t)["newton_iterations"]

    def solve(self, t: float) -> dict:
        """The fixed point xi = G(xi) (fracture with xi, then Newton for (xi, c, phi)) to
        max |G(xi) - xi| < tolerance, accelerated by Anderson mixing of xi."""
        ed, fr = self.ed, self.frac
        if self._mech is not None:  # monolithic: the Newton's displacement conditions
            self._mech.update(fr.amplitude(t))
        ed.begin_step(t)
        start = fr.snapshot()
        n = self.xi_m.function_space.dofmap.index_map.size_local
        acc = Anderson(self.comm, ANDERSON_DEPTH)
        self.ed.xi_into(self.xi_m)
        staggered = newton = linear = k = 0
        dxi = math.inf
        try:
            while k < self.cracking.max_iterations:
                k += 1
                x_in = self.xi_m.x.array[:n].copy()
                staggered += self._fracture(t, start)
                info = ed.newton(t)
                newton = max(newton, info["newton_iterations"])
                linear += info["linear_iterations"]
                g = ed.xi_values()[:n]
                dxi = self.comm.allreduce(float(np.max(np.abs(g - x_in), initial=0.0)),
                                          op=MPI.MAX)
                if dxi < self.cracking.tolerance:
                    break
                self.xi_m.x.array[:n] = clip_mixed(acc.update(x_in, g.copy()), g)
                self.xi_m.x.scatter_forward()
            if not dxi < self.cracking.tolerance:
                raise ConvergenceError(
                    f"deposition-fracture coupling: max |xi_k - xi_(k-1)| = {dxi:.2e} after "
                    f"{k} iterations at t={t:.6g} s (tolerance {self.cracking.tolerance:g})",
                    field="deposition_fracture", reason=-1)
            self.ed.xi_into(self.xi_m)
            staggered += self._fracture(t, start)
        except ConvergenceError:
            ed.reject_step()
            fr.restore(start)
            self.ed.xi_into(self.xi_m)
            raise
        self.iterations = k
        # newton_iterations: the most one Newton solve of the loop took (the stepper grows dt
        # after easy steps); the loop's length is coupling_iterations
        return {"newton_iterations": newton, "linear_iterations": linear,
                "change": info["change"], "coupling_iterations": k,
                "staggered_iterations": staggered}

    # ------------------------------------------------------------------ metrics
    def crack_tip(self) -> float:
        """Largest coordinate along the growth direction where d >= 1/2 (NaN: no crack)."""
        n = self.frac._n_owned_d
        own = self.frac.d.x.array[:n] >= 0.5
        top = float(self._Xd[:n][own].max()) if own.any() else -math.inf
        top = self.comm.allreduce(top, op=MPI.MAX)
        return top if math.isfinite(top) else math.nan

    def metrics(self) -> dict:
        out = {**self.frac.metrics(), **self.ed.metrics()}
        out["dendrite_tip_m"] = out["interface_height_max_m"]
        out["crack_tip_m"] = self.crack_tip()
        out["coupling_iterations"] = self.iterations
        return out

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        ck = self.cracking
        return (f"{self.ed.describe()}; {self.frac.describe()}; coupling: growth strain "
                f"{ck.growth_strain:g}, crack D {ck.crack_diffusivity:g} m^2/s, stress "
                f"feedback {'on' if ck.stress_feedback else 'off'}")

    def history_columns(self) -> list[str]:
        from solver.config.checks import DEPOSITION_FRACTURE_METRICS

        return (self.ed.history_columns() + self.frac.history_columns()
                + DEPOSITION_FRACTURE_METRICS)

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        return {**self.ed.output_groups(), **self.frac.output_groups()}

    def update_outputs(self) -> None:
        self.ed.update_outputs()
        self.frac.update_outputs()

    def after_step(self, si, out) -> None:
        self.ed.after_step(si, out)

    def finish(self, out, draw: bool) -> dict:
        extra = dict(self.ed.finish(out, draw) or {})
        extra.update(self.frac.finish(out, draw) or {})
        if draw and out.rank0:
            from solver.io import figures
            from solver.problems.fracture import _read_history

            rows = _read_history(out.path / "history.csv")
            if rows:
                t = np.array([float(r["time"]) for r in rows])
                series = {name: (t, np.array([float(r[col] or "nan") for r in rows]))
                          for name, col in (("dendrite tip", "dendrite_tip_m"),
                                            ("crack tip", "crack_tip_m"))}
                try:
                    figures.plot_profile(out.figures / "tips.png", series, "time (s)",
                                         "height (um)", "dendrite and crack tips", yscale=1e6)
                except Exception as e:  # never lose results for a figure
                    log.error(f"figures could not be drawn ({type(e).__name__}: {e})")
        return extra

    def destroy(self) -> None:
        self.ed.destroy()
        self.frac.destroy()

