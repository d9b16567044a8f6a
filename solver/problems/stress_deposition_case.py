"""M4 from a case file: ``physics.electrodeposition.mechanics`` on a layered geometry.

The phase-field part is M3's (``ElectrodepositionRun.case_arguments``); the mechanics uses
the metal material's (E, nu) and molar volume for the metal phase and, for the non-metal
phase, each region's own material; in the metal region, the material the metal grows into
(the first coating, or the electrolyte). Supports come from
``physics.electrodeposition.mechanics.boundary_conditions`` (the elasticity conditions).
Outputs on top of M3's: displacement and stress fields, ``interface_stress.csv`` (the stress
along the xi = 1/2 line, seed 001 Fig. 4f's A-B profile), figures of the hydrostatic stress
and of the stress along the interface, and the coatings' largest von Mises stress.
"""

from __future__ import annotations

import logging

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import ufl
from mpi4py import MPI

from solver.io import figures
from solver.numerics import petsc_options as popts
from solver.physics import bcs as mech_bcs
from solver.physics import elasticity as el
from solver.physics.electrodeposition import h
from solver.postprocess import region_extremum
from solver.problems.electrodeposition import gather_interface_rows
from solver.problems.electrodeposition_case import ElectrodepositionRun
from solver.problems.stress_deposition import StressDepositionProblem, flat_reference

log = logging.getLogger("solver.problems.stress_deposition")
KEY = "physics.electrodeposition.mechanics"


class StressDepositionRun(StressDepositionProblem):
    @classmethod
    def from_case(cls, case, geo, materials) -> StressDepositionRun:
        cfg = case.physics.electrodeposition
        mech = cfg.mechanics
        params, ell, kwargs = ElectrodepositionRun.case_arguments(case, geo, materials)
        g = case.geometry
        mesh = geo.mesh
        metal = materials[g.metal.material]
        first = g.coatings[0].material if g.coatings else g.electrolyte.material
        V0 = dolfinx.fem.functionspace(mesh, ("DG", 0))
        lam, mu = dolfinx.fem.Function(V0, name="lambda_bg"), dolfinx.fem.Function(V0)
        for region, tag in geo.regions.items():
            name = first if region == "metal" else geo.region_material[region]
            cells = geo.cell_tags.find(tag)
            lam.x.array[cells], mu.x.array[cells] = materials[name].lame()
        lam.x.scatter_forward()
        mu.x.scatter_forward()

        held: list = []
        dsm = ufl.Measure("ds", domain=mesh, subdomain_data=geo.facet_tags)

        def dirichlet(V):
            held[:] = mech_bcs.build(V, geo, mech.boundary_conditions,
                                     f"{KEY}.boundary_conditions")
            for bc in held:
                bc.update(1.0)
            return [d for bc in held for d in bc.dirichlet]

        def load(v):
            terms = [t for t in (bc.form(v, dsm) for bc in held) if t is not None]
            return sum(terms[1:], terms[0]) if terms else None

        axis = geo.dim - 1
        if mech.reference == "flat":
            X = mesh.geometry.x
            lo = mesh.comm.allreduce(float(X[:, 0].min()) if len(X) else np.inf, op=MPI.MIN)
            hi = mesh.comm.allreduce(float(X[:, 0].max()) if len(X) else -np.inf, op=MPI.MAX)
            xs = np.linspace(lo, hi, 2001)
            h = geo.surface_height
            mean = float(np.mean(h(xs) if geo.dim == 2 else h(xs, 0 * xs)))
            reference = flat_reference(mean, ell, axis)
        else:
            reference = "initial"
        film = None
        if mech.film is not None:
            fm = materials[mech.film.material]
            film = ((fm.youngs_modulus, fm.poisson_ratio), mech.film.thickness)
        prob = cls(mesh, params, metal_elastic=(metal.youngs_modulus, metal.poisson_ratio),
                   background_lame=(lam, mu), molar_volume=metal.molar_volume,
                   mech_dirichlet=dirichlet, mech_load=load, reference=reference,
                   degree=mech.degree, tolerance=mech.tolerance,
                   max_iterations=mech.max_iterations, anderson_depth=mech.anderson_depth,
                   mech_options=popts.linear_solver(mech.solver),
                   ed_class=ElectrodepositionRun, film=film, coupling=mech.coupling,
                   **kwargs)
        prob.ed.attach(case, geo, ell)
        prob.geo, prob.case = geo, case
        prob.coatings = [c.name for c in g.coatings]
        return prob

    # ------------------------------------------------------------------ metrics
    def metrics(self) -> dict:
        out = super().metrics()
        Q = self._points_space()
        vm = el.von_mises(self.sigma)
        for region in self.coatings:
            out[f"max_von_mises_Pa_{region}"] = region_extremum(vm, Q, self.geo, region)
        if self.film is not None:
            # where the film is the non-metal phase's material and the phase mostly non-metal
            out["max_von_mises_Pa_film"] = region_extremum(
                vm, Q, self.geo, None, where=self.film_chi * (1 - h(self.xi_m)))
        return out

    def _points_space(self):
        if not hasattr(self, "_Q"):
            deg = max(self.degree - 1, 0)
            self._Q = dolfinx.fem.functionspace(self.mesh, ("DG", deg))
        return self._Q

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        E, nu = self.metal_elastic
        return (self.ed.describe() + f"; mechanics: P{self.degree}"
                f" displacement, metal E = {E:.3g} Pa, nu = {nu:g}, Omega = "
                f"{self.molar_volume:.3g} m^3/mol, coupling tolerance {self.tolerance:g}"
                + (f"; film {self.film[0]:.3g} m thick riding on the metal"
                   if self.film is not None else ""))

    def history_columns(self) -> list[str]:
        from solver.config.checks import FILM_METRICS, STRESS_DEPOSITION_METRICS

        return self.ed.history_columns() + STRESS_DEPOSITION_METRICS + [
            f"max_von_mises_Pa_{r}" for r in self.coatings] + (
            FILM_METRICS if self.film is not None else [])

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        groups = dict(self.ed.output_groups())
        if not hasattr(self, "_stress_out"):
            Q = self._points_space()
            self._stress_out = []
            for name, expr in (("hydrostatic_stress", el.hydrostatic(self.sigma)),
                               ("von_mises", el.von_mises(self.sigma))):
                self._stress_out.append((dolfinx.fem.Function(Q, name=name),
                                         dolfinx.fem.Expression(
                                             expr, Q.element.interpolation_points)))
            self.update_outputs()
        groups["displacement"] = [self.u_mech]
        if self.film is not None:
            groups["film"] = [self.film_chi]
        groups["stress"] = [f for f, _ in self._stress_out]
        return groups

    def update_outputs(self) -> None:
        self.ed.update_outputs()
        for f, e in getattr(self, "_stress_out", []):
            f.interpolate(e)

    def after_step(self, si, out) -> None:
        self.ed.after_step(si, out)

    def finish(self, out, draw: bool) -> dict:
        extra = self.ed.finish(out, draw) or {}
        P, sh, snn = self.interface_stress()
        # a crossing on an edge shared by two cells comes twice (one value per cell):
        # one row per point, the mean of its cells' values
        data = gather_interface_rows(
            self.comm, np.column_stack([P, sh, snn]) if len(P) else
            np.zeros((0, P.shape[1] + 2)), self.tdim)
        axes = ["x_m", "y_m", "z_m"][: self.tdim]
        header = axes + ["hydrostatic_stress_Pa", "normal_stress_Pa"]
        out.write_csv("interface_stress.csv", header, data if data is not None else [])
        if draw:
            self.output_groups()
            self.update_outputs()
            V0 = dolfinx.fem.functionspace(self.mesh, ("DG", 0))
            g = dolfinx.fem.Function(V0)
            g.interpolate(dolfinx.fem.Expression(el.hydrostatic(self.sigma),
                                                 V0.element.interpolation_points))
            n = self.mesh.topology.index_map(self.tdim).size_local
            grid = figures.gather_grid(self.mesh, {"hydrostatic_stress": g.x.array[:n].copy()})
            if self.comm.rank == 0:
                try:
                    figures.plot_cell_field(grid, "hydrostatic_stress",
                                            out.figures / "hydrostatic_stress.png",
                                            "hydrostatic stress (Pa)", cmap="coolwarm")
                    if self.tdim == 2 and len(data):
                        figures.plot_profile(
                            out.figures / "interface_stress.png",
                            {"hydrostatic": (data[:, 0], data[:, 2]),
                             "normal (growth direction)": (data[:, 0], data[:, 3])},
                            "x (um)", "stress on the xi = 1/2 line (MPa)",
                            "stress along the interface", xscale=1e6, yscale=1e-6)
                except Exception as e:  # never lose results for a figure
                    log.error(f"figures could not be drawn ({type(e).__name__}: {e})")
            self.comm.barrier()
        return extra

