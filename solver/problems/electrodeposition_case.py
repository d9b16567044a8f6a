"""M3 from a case file: the phase-field problem on a layered coating geometry.

Maps the case onto ElectrodepositionProblem: the metal region's surface (Geometry's
surface_height) is the initial xi = 1/2 line with the equilibrium profile
xi = 1 / (1 + exp(d / l)), l = sqrt(kappa0 / (2 W)); coating regions get their material's
cation diffusivity and ionic conductivity (the electrolyte phase's values there); the
electrode ("bottom") is held at the applied potential and the electrolyte top ("top") at
c = c0, phi = 0.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI

from solver.geometry.adapt import FrontRefinement
from solver.io import figures
from solver.materials import stiffness
from solver.physics.electrodeposition import (ElectrodepositionParameters,
                                              conduction_plane_tensor, equilibrium_profile,
                                              planar_overpotential)
from solver.numerics.parallel import assemble_scalar
from solver.problems.electrodeposition import ElectrodepositionProblem, gather_interface_rows

log = logging.getLogger("solver.problems.electrodeposition")


@dataclass
class _Adapt:
    """The front-following mesh's state: its refiner, the marked base cells (owned +
    ghost), each fine cell's base cell, and the resolved materials (to rebuild)."""

    refiner: FrontRefinement
    marked: np.ndarray
    parent: np.ndarray
    materials: dict
    h_band: float = 0.0  # the base mesh's cell size in its band (m)
    warned: bool = False  # the front left the base mesh's band
    warned_fast: bool = False  # the front outran the margin within a step


class ElectrodepositionRun(ElectrodepositionProblem):
    @classmethod
    def from_case(cls, case, geo, materials) -> ElectrodepositionRun:
        adapt = case.geometry.mesh.adapt if case.geometry.kind == "layered" else None
        if adapt is None:
            return cls._on(case, geo, materials)
        # front-following mesh: refine the base mesh where the initial profile's front is
        refiner = FrontRefinement(geo, adapt.levels, adapt.layers, adapt.threshold)
        _, _, kwargs = cls.case_arguments(case, geo, materials)
        V = dolfinx.fem.functionspace(geo.mesh, ("Lagrange", 1))
        f = dolfinx.fem.Function(V)
        f.interpolate(kwargs["xi0"])
        values = f.x.array[V.dofmap.list[: refiner.n_local]]
        marked = refiner.marker(refiner.active_from_values(
            values, np.arange(refiner.n_local, dtype=np.int32)))
        fine, parent = refiner.refine(marked)
        prob = cls._on(case, fine, materials)
        # the base band's cell size: the front beyond twice it has left the band
        prob._adapt = _Adapt(refiner, marked, parent, materials,
                             case.geometry.mesh.interface_size * 2 ** adapt.levels)
        return prob

    @classmethod
    def _on(cls, case, geo, materials) -> ElectrodepositionRun:
        params, ell, kwargs = cls.case_arguments(case, geo, materials)
        prob = cls(geo.mesh, params, **kwargs)
        prob.attach(case, geo, ell)
        return prob

    def attach(self, case, geo, ell) -> None:
        self.geo, self.ell, self.case = geo, ell, case
        self._clearance_warned = False
        self._adapt = None
        self.mesh_version = 0  # +1 at every adaptation (the run opens new field files)

    # ------------------------------------------------------------------ adaptive mesh
    def adapt_mesh(self, marked: np.ndarray | None = None) -> bool:
        """Adapt the front-following mesh to the accepted state if the front has come near
        the edge of the refined region (``FrontRefinement.update``), or to the given
        base-cell marker; returns whether the mesh changed. Called between steps only: the
        state (u and the previous u_n) is carried over by P1 interpolation onto the new
        mesh, and the problem is rebuilt on it in place. The two meshes are refinements of
        one base mesh but not of each other (Plaza splits a cell differently when more of
        its edges are marked), so the interpolation is exact only where a cell is kept;
        the metal volume (the integral of xi) is then restored exactly by a correction
        proportional to xi (1 - xi), i.e. a tiny normal shift of the front."""
        ad = self._adapt
        if ad is None:
            return False
        R = ad.refiner
        t0 = time.perf_counter()
        if marked is None:
            n = self.mesh.topology.index_map(self.tdim).size_local
            values = self.u.x.array[self._xi_map][self._Vxi.dofmap.list[:n]]
            active = R.active_from_values(values, ad.parent)
            if not ad.warned_fast and self.comm.allreduce(
                    int(np.any(active[: R.n_owned] & ~ad.marked[: R.n_owned])), op=MPI.SUM):
                ad.warned_fast = True
                log.warning("electrodeposition: the front crossed the refined region's "
                            "margin within one step and reached unrefined cells; raise "
                            "geometry.mesh.adapt.layers (or lower stepping.dt_max)")
            marked = R.update(active, ad.marked)
            if marked is None:
                return False
            h = R.largest_cell(active)
            if h > 2.0 * ad.h_band and not ad.warned:
                ad.warned = True
                log.warning(f"electrodeposition: the front reached base cells of {h:.3g} m, "
                            f"over twice the band's {ad.h_band:.3g} m: it has left the base "
                            "mesh's band and is less resolved there; raise "
                            "geometry.mesh.interface_band")
        fine, parent = R.refine(marked)
        # the state as plain P1 functions on the old mesh, then the old problem freed
        # before the new one is built (freeing clears the PETSc options of the prefix the
        # two share: the new field split would lose its sub-solvers' options)
        V_old = self._Vxi
        old = []
        for src in (self.u, self.u_n):
            for i in range(3):
                f = dolfinx.fem.Function(V_old)
                f.x.array[:] = src.x.array[self.W.sub(i).collapse()[1]]
                old.append(f)
        volumes = (assemble_scalar(self._int_xi), assemble_scalar(self._int_xi_n))
        E = None if self._E is None else float(self._E.value)
        keep = {"t": self.t, "_t_n": self._t_n, "xi_initial": self.xi_initial,
                "_clearance_warned": self._clearance_warned,
                "mesh_version": self.mesh_version + 1}
        pending = self._pending is not None
        self.destroy()
        new = type(self)._on(self.case, fine, ad.materials)
        cells = np.arange(new.mesh.topology.index_map(new.tdim).size_local, dtype=np.int32)
        data = dolfinx.fem.create_interpolation_data(new._Vxi, V_old, cells)
        f_new = dolfinx.fem.Function(new._Vxi)
        maps = [new.W.sub(i).collapse()[1] for i in range(3)]
        for k, dst in enumerate((new.u, new.u_n)):
            for i in range(3):
                f_new.interpolate_nonmatching(old[3 * k + i], cells, data)
                f_new.x.scatter_forward()
                dst.x.array[maps[i]] = f_new.x.array
            dst.x.scatter_forward()
            new.restore_volume(dst, volumes[k], f_new)
        if E is not None:
            new._E.value = E
        self.__dict__ = new.__dict__  # new's PETSc callbacks see the same attributes
        self.__dict__.update(keep)
        self._pending = self.u.x.array.copy() if pending else None
        self._adapt = _Adapt(R, marked, parent, ad.materials, ad.h_band, ad.warned,
                             ad.warned_fast)
        log.info(f"mesh adapted: {self.n_dofs} dofs, "
                 f"{self.comm.allreduce(len(cells), op=MPI.SUM)} cells "
                 f"({time.perf_counter() - t0:.2f} s)")
        return True

    def restore_volume(self, u, volume: float, work) -> float:
        """Add c xi (1 - xi) to the xi of ``u`` (a state on this mesh) so that its integral
        is ``volume``; ``work``: a P1 function on this mesh. Returns the relative change
        corrected (logged when above 1e-6)."""
        xi = u.x.array[self._xi_map]
        form = dolfinx.fem.form(work * self.dx)
        work.x.array[:] = xi
        have = assemble_scalar(form)
        work.x.array[:] = xi * (1.0 - xi)
        weight = assemble_scalar(form)
        if weight <= 0.0:
            return 0.0
        u.x.array[self._xi_map] = xi + (volume - have) / weight * xi * (1.0 - xi)
        u.x.scatter_forward()
        rel = abs(volume - have) / max(abs(volume), 1e-300)
        if rel > 1e-6:
            log.info(f"adaptation: metal volume restored ({rel:.2g} relative)")
        return rel

    def scalar_state(self) -> dict:
        """What a checkpoint needs besides the fields: the adapted mesh's marked base cells
        (input indices), from which a restart rebuilds the same mesh."""
        if self._adapt is None:
            return {}
        return {"adapt_marked_cells": self._adapt.refiner.marker_ids(self._adapt.marked)}

    def prepare_restart(self, state: dict) -> None:
        """Before a checkpoint's fields are read: rebuild the adapted mesh it was written on."""
        ids = state.get("scalars", {}).get("adapt_marked_cells")
        if self._adapt is None or ids is None:
            return
        self.adapt_mesh(self._adapt.refiner.marker_from_ids(ids))

    def coating_clearance(self, pts, hit) -> float:
        """Smallest height of the coating stack's top face above the xi = 1/2 crossings
        (pts, hit of ``_crossings``), m, over all ranks (inf without crossings). The
        coating is a fixed region that the deposit grows into, meaningful while the front
        (1 um wide with Hong's parameters) stays well inside it (docs/electrodeposition.md,
        "Fixed coating")."""
        P = pts[hit]
        axis = self.tdim - 1
        gap = (self.geo.coating_top_height(P[:, :axis]) - P[:, axis]) if len(P) else []
        return self.comm.allreduce(float(np.min(gap)) if len(P) else math.inf, op=MPI.MIN)

    def _front_metrics(self, pts, hit) -> dict:
        out = {"n_dofs": self.n_dofs} if getattr(self, "_adapt", None) is not None else {}
        if getattr(self, "geo", None) is None or self.geo.coating_top_height is None:
            return out
        gap = self.coating_clearance(pts, hit)
        width = 4 * self.ell
        if gap < width and not self._clearance_warned:
            self._clearance_warned = True
            log.warning(f"electrodeposition: the deposit front is {gap:.3g} m below the "
                        f"top of the coatings, less than the interface width "
                        f"{width:.3g} m: the fixed-coating model is leaving its range "
                        "(stop earlier with stepping.stop: {metric: coating_clearance_m, "
                        "below: ...})")
        return {**out, "coating_clearance_m": gap if math.isfinite(gap) else math.nan}

    @staticmethod
    def case_arguments(case, geo, materials):
        """(parameters, interface width l, keyword arguments of ElectrodepositionProblem)
        for a case: the initial profile, the coating regions' D and sigma, the boundaries,
        solver options and noise."""
        cfg = case.physics.electrodeposition
        an = cfg.anisotropy
        params = ElectrodepositionParameters.from_hong2018(
            **cfg.overrides, E_applied=cfg.applied_potential or 0.0,
            E_eq=cfg.equilibrium_potential, delta=an.strength, omega=an.mode,
            theta0=an.angle, formulation=cfg.formulation)
        galvanostatic = {}
        if cfg.applied_current_density is not None:  # start at the flat front's potential
            i = cfg.applied_current_density
            params = params.replace(E_applied=params.E_eq + planar_overpotential(params, i))
            galvanostatic = dict(current=i, current_tolerance=cfg.current_tolerance)
        ell = math.sqrt(params.kappa0 / (2 * params.W))
        axis = geo.dim - 1
        height = geo.surface_height

        def xi0(x):
            h = height(x[0]) if geo.dim == 2 else height(x[0], x[1])
            return equilibrium_profile(x[axis] - h, ell)

        coat = {}
        for c in case.geometry.coatings:
            m = materials[c.material]
            tag = geo.regions[c.name]
            coat.setdefault("D_liquid", {})[tag] = m.cation_diffusivity
            coat.setdefault("sigma_liquid", {})[tag] = m.ionic_conductivity
        if case.geometry.electrolyte is not None:
            m = materials[case.geometry.electrolyte.material]
            tags = [t for r, t in geo.regions.items()
                    if r == "electrolyte" or r.startswith("grain_")]  # (its grains)
            for tag in tags:
                a = stiffness.c_axis(geo.orientation.get(tag), geo.dim)  # None: no grain
                for key, prop in (("D_liquid", "cation_diffusivity"),
                                  ("sigma_liquid", "ionic_conductivity")):
                    across, along = getattr(m, prop), getattr(m, prop + "_plane")
                    if along is not None and a is not None and cfg.conduction_planes:
                        coat.setdefault(key, {})[tag] = conduction_plane_tensor(
                            a, along, across)
                    elif across is not None:
                        coat.setdefault(key, {})[tag] = across
        kwargs = dict(xi0=xi0, cell_tags=geo.cell_tags, facet_tags=geo.facet_tags,
                      electrolyte=geo.boundaries["top"], metal=geo.boundaries["bottom"],
                      region_coefficients=coat or None,
                      petsc_options=cfg.solver.petsc_options, linear=cfg.solver.linear,
                      bounds=cfg.solver.bounds,
                      noise=(cfg.noise.amplitude, cfg.noise.seed, cfg.noise.correlation_time,
                             cfg.noise.correlation_length),
                      **galvanostatic)
        return params, ell, kwargs

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        _, hit = self._crossings()  # the owned cells that the xi = 1/2 line crosses
        cells = np.flatnonzero(hit.any(axis=1)).astype(np.int32)
        h = self.geo.mesh.h(self.tdim, cells)  # longest edges
        n = self.comm.allreduce(len(h), op=MPI.SUM)
        hmean = self.comm.allreduce(float(h.sum()), op=MPI.SUM) / max(n, 1)
        width = 4 * self.ell  # sqrt(8 kappa0 / W)
        if hmean > width / 4:
            log.warning(f"electrodeposition: cells on the initial interface are "
                        f"{hmean:.3g} m on average, coarser than a quarter of the interface width "
                        f"sqrt(8 kappa/W) = {width:.3g} m; refine geometry.mesh "
                        "(interface_size, or max_size and elements_through_thinnest_layer)")
        second = "c" if self.G.formulation == "chen" else "mu"
        return (f"electrodeposition ({self.G.formulation}): P1 (xi, {second}, phi), "
                f"{self.n_dofs} dofs, interface width {width:.3g} m ({width / hmean:.1f} "
                f"cells across), {self._control()}")

    def _control(self) -> str:
        i = self.case.physics.electrodeposition.applied_current_density
        return (f"E = {self.params.E_applied:g} V" if i is None
                else f"galvanostatic, i = {i:g} A/m^2")

    def history_columns(self) -> list[str]:
        coated = ["coating_clearance_m"] if self.geo.coating_top_height is not None else []
        if self._adapt is not None:  # the front-following mesh's size at each step
            coated.append("n_dofs")
        return ["interface_height_max_m", "interface_height_min_m", "roughness_m",
                "deposited_volume_m3", "reaction_current_A", "tip_velocity_m_s",
                "concentration_min_mol_m3",
                "concentration_max_mol_m3", "metal_occupancy_min",
                "electrode_potential_V"] + coated

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        if not hasattr(self, "_outs"):
            self._outs = []
            for i, name in enumerate(("xi", "concentration", "potential")):
                V, dofs = self.W.sub(i).collapse()
                f = dolfinx.fem.Function(V, name=name)
                self._outs.append((f, np.asarray(dofs, dtype=np.int32).reshape(-1)))
            self.update_outputs()
        return {"phase_field": [f for f, _ in self._outs]}

    def update_outputs(self) -> None:
        """Copy xi, c (mol/m^3) and phi (V) out of the mixed, scaled unknowns."""
        G = self.G
        (fx, dx), (fc, _), (fp, dp) = self._outs
        fx.x.array[:] = self.u.x.array[dx]
        fc.x.array[:] = self.concentration_values()  # same collapsed P1 layout
        fp.x.array[:] = self.u.x.array[dp] * G.potential_scale
        for f in (fx, fc, fp):
            f.x.scatter_forward()

    def interface_profile(self, out, name: str) -> None:
        """Write ``name`` (csv): the cation concentration along the xi = 1/2 line, one row
        per point (coordinates, c in mol/m^3), sorted along x; a point on an edge shared by
        two cells comes once."""
        data = gather_interface_rows(self.comm, self.interface_concentration(), self.tdim)
        header = ["x_m", "y_m", "z_m"][: self.tdim] + ["concentration_mol_m3"]
        out.write_csv(name, header, data if data is not None else [])

    def after_step(self, si, out) -> None:
        """After the first step of a run (not of a restart): the early concentration
        profile along the interface (seed 000 Fig. 4d), interface_concentration_early.csv."""
        if si.step == 1:
            self.interface_profile(out, "interface_concentration_early.csv")

    def finish(self, out, draw: bool) -> dict:
        self.interface_profile(out, "interface_concentration.csv")
        if draw and self.comm.rank == 0:
            self._draw_profiles(out)
        if draw:
            self.output_groups()
            self.update_outputs()
            V0 = dolfinx.fem.functionspace(self.mesh, ("DG", 0))
            n = self.mesh.topology.index_map(self.tdim).size_local
            data = {}
            for f, _ in self._outs[:2]:
                g = dolfinx.fem.Function(V0)
                g.interpolate(f)
                data[f.name] = g.x.array[:n].copy()
            grid = figures.gather_grid(self.mesh, data)
            if self.comm.rank == 0:
                try:
                    figures.plot_cell_field(grid, "xi", out.figures / "xi.png",
                                            "order parameter xi (1 = metal)")
                    figures.plot_cell_field(grid, "concentration",
                                            out.figures / "concentration.png",
                                            "cation concentration (mol/m^3)")
                except Exception as e:  # never lose results for a figure
                    log.error(f"figures could not be drawn ({type(e).__name__}: {e})")
            self.comm.barrier()
        return {}

    def _draw_profiles(self, out) -> None:
        """interface_concentration.png: the early and the final profile against x (rank 0)."""
        series = {}
        for label, name in (("after the first step", "interface_concentration_early.csv"),
                            ("final", "interface_concentration.csv")):
            path = out.path / name
            if path.exists():
                d = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
                if len(d):
                    series[label] = (d[:, 0], d[:, -1])
        if not series or self.tdim == 1:
            return
        try:
            figures.plot_profile(out.figures / "interface_concentration.png", series,
                                 "x (um)", "c at xi = 1/2 (mol/m^3)",
                                 "cation concentration along the interface", xscale=1e6)
        except Exception as e:  # never lose results for a figure
            log.error(f"figures could not be drawn ({type(e).__name__}: {e})")
