"""M5 problem: phase-field fracture by alternate minimisation (docs/fracture.md).

Per load step (load factor t): with the damage d fixed, minimise the energy over u (one
linear solve without a split, semi-smooth Newton with one); with u fixed, minimise over d
subject to d_old <= d <= 1 (``irreversibility: bounds``: PETSc SNES VI, the lower bound
updated in place) or with the history field H = max(H_old, psi+) in place of psi+
(``history``: a linear solve for AT2; AT1 keeps the bounds 0 <= d <= 1). Repeat until
max |d_k - d_(k-1)| < tolerance, then solve u once more, so the reported state is in
equilibrium with the reported damage. Both sub-problems keep their forms, matrices and
solvers for the whole run (MUMPS by default; any PETSc options under fracture_u_ /
fracture_d_).

Quadrature: degree 2p for P_p everywhere (exact for P1; for P2 it under-integrates the
degree-6 g(d) psi+ slightly); the history field lives in the quadrature space of that rule,
so H is stored exactly where the damage residual uses it.
"""

from __future__ import annotations

import csv
import logging
from functools import cached_property

import numpy as np

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import ufl
from mpi4py import MPI
from petsc4py import PETSc

from solver.errors import CaseError, ConvergenceError
from solver.numerics import petsc_options as popts
from solver.numerics.anderson import Anderson
from solver.numerics.parallel import assemble_scalar, n_global_dofs
from solver.physics import bcs as mech_bcs
from solver.physics import elasticity as el
from solver.physics import fracture as fr
from solver.physics.electrodeposition import h as h_phase
from solver.problems.elasticity import constitutive_data, eigenstrain_expression

log = logging.getLogger("solver.problems.fracture")

# Displacement: LU (MUMPS) per solve. With ksp_type cg (physics.fracture.solver.displacement)
# the factors are reused as a preconditioner while they work (refreshed when CG needs more
# than REFRESH_ITS iterations): it pays where factorising costs much more than a
# triangular solve (large 3D meshes), not at benchmark sizes (docs/fracture.md).
REFRESH_ITS = 12
PREDICT_MAX = 0.2  # largest predicted damage change per step (beyond: no predictor)
STALL_ITS = 50  # Anderson is dropped for the rest of a step after this many its without progress
# (the displacement system is symmetric: the Hessian of the energy, Dirichlet conditions
# applied symmetrically; MUMPS's LDL^T factorises it ~30% faster than LU)
DIRECT_U = {**popts.DIRECT, "pc_type": "cholesky", "ksp_rtol": 1e-10, "ksp_atol": 1e-30,
            "ksp_max_it": 200}
# Damage: the operator (Gc/l + 2 psi+) M + Gc l K is symmetric positive definite and, with
# h < l, well conditioned: CG + SOR solves it (and the VI's reduced systems) without
# factorising.
ITERATIVE_D = {"ksp_type": "cg", "pc_type": "sor", "ksp_rtol": 1e-10, "ksp_atol": 1e-30,
               "ksp_max_it": 2000}
# Explicit: a later problem under the same prefix must not inherit a lag left in the
# options database by _lag (with a direct solver it would never refactorise).
NO_LAG = {"snes_lag_preconditioner": 1, "snes_lag_preconditioner_persists": "false"}
LINEAR = {"snes_type": "ksponly", **DIRECT_U, **NO_LAG}
NEWTON = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-9,
    "snes_atol": 1e-13,
    "snes_stol": 0.0,
    "snes_max_it": 25,
    "snes_error_if_not_converged": False,
    **DIRECT_U,
    **NO_LAG,
}
VI = {  # the damage energy is quadratic in d: full Newton steps, no line search
    "snes_type": "vinewtonrsls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-9,
    "snes_atol": 1e-13,
    "snes_stol": 0.0,
    "snes_max_it": 50,
    "snes_error_if_not_converged": False,
    **ITERATIVE_D,
}
# PF-CZM: omega(d) is rational, so the damage energy is neither quadratic nor convex in d
# (on the softening branch its Hessian can be indefinite, where CG fails): LU (MUMPS) for
# the reduced systems, more Newton steps. (A backtracking line search stalls where the
# crack first localises: measured on the 1D bar of tests/test_fracture.py.)
VI_NONQUADRATIC = {"snes_max_it": 100, **popts.DIRECT}
# crack onset metrics: the load factor where max_damage first reaches these values
# (interpolated linearly between accepted steps): the strength is reached somewhere / a
# (nearly) traction-free crack exists
ONSET = {"damage_onset_load_factor": 1e-3, "crack_load_factor": 0.95}
SPECTRAL_REG = 1e-9  # strain: regularises coincident principal strains (physics/fracture.py)
RANKINE_REG = 1e-3  # Pa: regularises coincident principal stresses (Rankine driving force)
# (residuals are dimensionless, O(1) entries at O(1) strain; round-off floor ~1e-14)
MONOLITHIC = {
    "snes_type": "vinewtonrsls",
    "snes_linesearch_type": "basic",
    "snes_rtol": 1e-10,
    "snes_atol": 1e-12,
    "snes_stol": 0.0,
    "snes_max_it": 20,
    "snes_error_if_not_converged": False,
    **popts.DIRECT,
}


class FractureProblem:
    prefix_u = "fracture_u_"
    prefix_d = "fracture_d_"
    prefix_m = "fracture_m_"

    def __init__(self, case, geo, materials, extra_eigenstrain=None, phase=None):
        """extra_eigenstrain: a 3x3 UFL eigenstrain added to the case's (M6: the deposit's
        wedge strain, not scaled by the load factor). phase: (xi, (lambda, mu)) makes the
        moduli follow a phase field, h(xi) (lambda, mu) + (1 - h(xi)) (the cell's), for
        isotropic materials (M6: the deposited metal replaces the electrolyte)."""
        cfg = self.cfg = case.physics.fracture
        self.geo, self.materials = geo, materials
        mesh, dim = geo.mesh, geo.dim
        self.mesh, self.dim, self.comm = mesh, dim, mesh.comm
        self.model, self.split, self.l = cfg.model, cfg.split, cfg.length_scale
        self.k = cfg.residual_stiffness
        self.amplitude = mech_bcs.LoadPath(cfg.load_path)
        deg = cfg.degree
        q = 2 * deg
        self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", deg, (dim,)))
        self.Vd = dolfinx.fem.functionspace(mesh, ("Lagrange", deg))
        self.u = dolfinx.fem.Function(self.V, name="displacement")
        self.d = dolfinx.fem.Function(self.Vd, name="damage")
        self.history = cfg.irreversibility == "history"
        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=geo.cell_tags,
                              metadata={"quadrature_degree": q})
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=geo.facet_tags)

        # ---- material data
        self.law = el.material_field(mesh, geo.cell_tags, constitutive_data(geo, materials))
        self.phase = None  # (h(xi), the metal's law): the deposit is a second, intact phase
        if phase is not None:
            if self.law.anisotropic:
                raise ValueError("a phase-dependent stiffness needs isotropic materials")
            xi, (lm, mm) = phase
            self.phase = (h_phase(xi), el.ElasticMaterialField(lmbda=lm, mu=mm))
        gc, self.A = self._toughness()
        self.g = fr.Degradation(self.model, self.k, self._a1() if self.model == "PFCZM"
                                else None, cfg.softening or "linear")
        self.factor = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
        eps0 = eigenstrain_expression(cfg.eigenstrain, geo)
        self.eps0 = ufl.as_tensor(np.zeros((3, 3)).tolist())
        if eps0 is not None:
            self.eps0 = self.factor * eps0
        if extra_eigenstrain is not None:
            self.eps0 = self.eps0 + extra_eigenstrain
        key = "physics.fracture.boundary_conditions"
        self.bcs = mech_bcs.build(self.V, geo, cfg.boundary_conditions, key)
        self.dirichlet_u = [d for bc in self.bcs for d in bc.dirichlet]
        self.dirichlet_d = self._unbreakable()

        # ---- energies (forms written once; residuals and Jacobians derived from them)
        u, d = self.u, self.d
        self.eps = el.strain(u, dim) - self.eps0
        reg = SPECTRAL_REG if self.split == "spectral" else 0.0
        self.psi_pos, _ = fr.split_energy(self.eps, self.law, self.split, dim, reg)
        if cfg.driving_force == "rankine":  # with the history field (checks.py)
            self.psi_pos = fr.rankine_driving(self.eps, self.law, dim, RANKINE_REG)
        if self.phase is not None:  # only the solid's share of the cell drives its damage
            self.psi_pos = (1 - self.phase[0]) * self.psi_pos
        self.psi_el = self._energy_density(self.eps, reg)
        if self.history:
            Qe = basix.ufl.quadrature_element(mesh.basix_cell(), value_shape=(), degree=q)
            self.VH = dolfinx.fem.functionspace(mesh, Qe)
            self.H = dolfinx.fem.Function(self.VH, name="history")
            self._psi_expr = dolfinx.fem.Expression(self.psi_pos,
                                                    self.VH.element.interpolation_points)
            driving = self.H
        else:
            driving = self.psi_pos
        self.gamma = fr.crack_density(d, self.l, self.model, self.A)
        self.gamma_iso = fr.crack_density(d, self.l, self.model)  # a length, for the metric
        E_ref = max(self._moduli())
        area = assemble_scalar(dolfinx.fem.form(
            dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0)) * self.dx))
        gc_ref = max(v for r, v in ((r, gc[t]) for r, t in geo.regions.items())
                     if r not in cfg.unbreakable)
        # dimensionless residuals: energies per (E area) and per (Gc area / l)
        s_u = 1.0 / (E_ref * area)
        s_d = self.l / (gc_ref * area)
        v, du = ufl.TestFunction(self.V), ufl.TrialFunction(self.V)
        p, dd = ufl.TestFunction(self.Vd), ufl.TrialFunction(self.Vd)
        work = 0
        for bc in self.bcs:
            term = bc.form(u, self.ds)
            if term is not None:
                work += term
        self.F_int = ufl.derivative(self.psi_el * self.dx, u, v)  # internal forces (N)
        F_u = s_u * (self.F_int - (ufl.derivative(work, u, v) if work else 0))
        Pi_d = fr.damage_energy_density(d, driving, self.Gc, self.l, self.model, self.g,
                                        self.A) * self.dx
        F_d = s_d * ufl.derivative(Pi_d, d, p)
        linear_u = self.split == "none"
        # AT2 with a history field: the damage problem is linear and needs no bounds; AT1
        # and PF-CZM (w'(0) > 0) keep 0 <= d <= 1; initial cracks need their lower bound
        bounded = not self.history or self.model != "AT2" or bool(cfg.initial_cracks)
        self._opts_u = popts.merge(LINEAR if linear_u else NEWTON, cfg.solver.displacement)
        vi = VI if self.model != "PFCZM" else {**VI, **VI_NONQUADRATIC}
        self._opts_d = popts.merge(vi if bounded else {"snes_type": "ksponly", **ITERATIVE_D,
                                                       **NO_LAG}, cfg.solver.damage)
        self._pu = dolfinx.fem.petsc.NonlinearProblem(
            F_u, u, bcs=self.dirichlet_u, J=ufl.derivative(F_u, u, du),
            petsc_options_prefix=self.prefix_u)
        popts.configure(self._pu.solver, self.prefix_u, self._opts_u,
                        "physics.fracture.solver.displacement")
        self._pd = dolfinx.fem.petsc.NonlinearProblem(
            F_d, d, bcs=self.dirichlet_d, J=ufl.derivative(F_d, d, dd),
            petsc_options_prefix=self.prefix_d)
        popts.configure(self._pd.solver, self.prefix_d, self._opts_d,
                        "physics.fracture.solver.damage")
        self.bounded = bounded
        if bounded:
            self._lb = self.d.x.petsc_vec.duplicate()
            self._ub = self.d.x.petsc_vec.duplicate()
            self._lb.set(0.0)
            self._ub.set(1.0)
            self._pd.solver.setVariableBounds(self._lb, self._ub)
        self._pm = None
        if cfg.monolithic:
            self._monolithic_setup(F_u, F_d)
        self.t = 0.0
        self.peak = 0.0
        self.onset = {k: float("nan") for k in ONSET}
        self._last = (0.0, 0.0)  # (load factor, max damage) of the last reported state
        self._refresh: dict[str, bool] = {}
        self.d_prev = dolfinx.fem.Function(self.Vd, name="damage_previous")
        self.da_last = 0.0
        self._reaction = self._reaction_setup()
        self._check_resolution()
        self._initial_cracks()

    @cached_property
    def stress(self):
        """The degraded stress d psi_el / d eps (3x3 UFL), e.g. for a kinetics coupling."""
        e = ufl.variable(self.eps)
        reg = SPECTRAL_REG if self.split == "spectral" else 0.0
        return ufl.diff(self._energy_density(e, reg), e)

    def _energy_density(self, eps, reg: float):
        """The elastic energy density: g(d) psi+ + psi- of the cell's material, or with a
        phase field (M6) h(xi) psi_metal + (1 - h(xi)) (g(d) psi+ + psi-): the damage
        degrades the solid only, the deposit is intact metal, even inside a crack (a
        deposit that fills a crack wedges it open; fr.two_phase_energy_density)."""
        if self.phase is None:
            return fr.elastic_energy_density(eps, self.d, self.law, self.split, self.dim,
                                             self.g, reg)
        hx, metal = self.phase
        return fr.two_phase_energy_density(eps, self.d, self.law, metal, hx, self.split,
                                           self.dim, self.g, reg)

    def snapshot(self) -> dict:
        """Everything a step changes (fields, history, predictor and peak state), so that a
        coupling loop can re-solve the same step from its start."""
        snap = {k: f.x.array.copy() for k, f in self.state().items()}
        snap["_scalars"] = (self.t, self.da_last, self.peak)
        return snap

    def restore(self, snap: dict) -> None:
        for k, f in self.state().items():
            f.x.array[:] = snap[k]
        self.t, self.da_last, self.peak = snap["_scalars"]
        self.set_time(self.t)

    # ------------------------------------------------------------------ set-up helpers
    def _moduli(self) -> list[float]:
        out = []
        for r in self.geo.regions:
            m = self.materials[self.geo.region_material[r]]
            out.append(m.youngs_modulus if m.youngs_modulus is not None
                       else float(np.abs(m.voigt()).max()))
        return out

    def _toughness(self):
        """Cell-wise Gc (DG0, ``self.Gc``) and the structural tensor A (DG0, or None when
        every cell is isotropic). Grains of a material with ``fracture_toughness_plane``
        (and an orientation) get Gc_plane and A = weak_plane_tensor(c-axis, Gc/Gc_plane)
        (``weak_planes``); cells next to a grain-boundary facet get the material's
        ``fracture_toughness_grain_boundary`` (if lower) and A = I (``grain_boundaries``).
        Returns ({tag: Gc}, A)."""
        from solver.materials import stiffness

        cfg, geo, dim = self.cfg, self.geo, self.dim
        gc, tensors, aniso = {}, {}, False
        for r, tag in geo.regions.items():
            mat = self.materials[geo.region_material[r]]
            gc[tag] = 1.0 if r in cfg.unbreakable else mat.fracture_toughness
            tensors[tag] = np.eye(dim)
            ori = geo.orientation.get(tag)
            if (cfg.weak_planes and r not in cfg.unbreakable and ori is not None
                    and mat.fracture_toughness_plane is not None):
                ratio = mat.fracture_toughness / mat.fracture_toughness_plane
                tensors[tag] = fr.weak_plane_tensor(stiffness.c_axis(ori, dim), ratio)
                gc[tag] = mat.fracture_toughness_plane
                aniso = True
        self.Gc = el._cellwise(self.mesh, geo.cell_tags, (), gc, "fracture_toughness")
        A = el._cellwise(self.mesh, geo.cell_tags, (dim, dim), tensors, "toughness_tensor")
        if cfg.grain_boundaries and "grain_boundaries" in geo.boundaries:
            cells = self._cells_next_to(geo.facet_tags.find(geo.boundaries["grain_boundaries"]))
            V0 = self.Gc.function_space
            dofs = V0.dofmap.list[cells, 0]
            tag_of = dict(zip(geo.cell_tags.indices, geo.cell_tags.values, strict=True))
            region_of = {t: n for n, t in geo.regions.items()}
            for c, dof in zip(cells, dofs, strict=True):
                r = region_of[int(tag_of[int(c)])]
                gb = self.materials[geo.region_material[r]].fracture_toughness_grain_boundary
                if gb is not None and r not in cfg.unbreakable and gb < self.Gc.x.array[dof]:
                    self.Gc.x.array[dof] = gb
                    A.x.array.reshape(-1, dim * dim)[dof] = np.eye(dim).ravel()
            self.Gc.x.scatter_forward()
            A.x.scatter_forward()
        return gc, (A if aniso else None)

    def _a1(self):
        """PF-CZM: a1 = 4 E Gc / (pi l ft^2) per cell (UFL), with the cell's Gc (after the
        weak-plane and grain-boundary overrides), the material's Young's modulus and
        fracture_strength (fracture_strength_plane in weak-plane grains, when given)."""
        cfg, geo = self.cfg, self.geo
        E, ft = {}, {}
        for r, tag in geo.regions.items():
            mat = self.materials[geo.region_material[r]]
            if r in cfg.unbreakable:  # d = 0 there: any positive numbers
                E[tag], ft[tag] = 1.0, 1.0
                continue
            E[tag] = mat.youngs_modulus
            ft[tag] = mat.fracture_strength
            if (cfg.weak_planes and geo.orientation.get(tag) is not None
                    and mat.fracture_strength_plane is not None):
                ft[tag] = mat.fracture_strength_plane
        E_c = el._cellwise(self.mesh, geo.cell_tags, (), E, "youngs_modulus")
        ft_c = el._cellwise(self.mesh, geo.cell_tags, (), ft, "fracture_strength")
        return fr.pfczm_a1(E_c, self.Gc, ft_c, self.l)

    def _cells_next_to(self, facets: np.ndarray) -> np.ndarray:
        """Local cells (owned and ghost) with a facet among ``facets``."""
        tdim = self.dim
        self.mesh.topology.create_connectivity(tdim - 1, tdim)
        f2c = self.mesh.topology.connectivity(tdim - 1, tdim)
        if not len(facets):
            return np.zeros(0, dtype=np.int32)
        return np.unique(np.concatenate([f2c.links(f) for f in facets])).astype(np.int32)

    def _unbreakable(self) -> list:
        """d = 0 on every node of the unbreakable regions' cells."""
        if not self.cfg.unbreakable:
            return []
        mask = mech_bcs.nodes_of_regions(self.Vd, self.geo, self.cfg.unbreakable)
        dofs = np.flatnonzero(mask).astype(np.int32)
        return [dolfinx.fem.dirichletbc(PETSc.ScalarType(0.0), dofs, self.Vd)]

    def _initial_cracks(self) -> None:
        """physics.fracture.initial_cracks: d = max(d, d0) with d0 the model's optimal profile
        (``fr.optimal_profile``) of the distance to the segment minus half the band width
        (default two smallest cells), zero in the unbreakable regions; d0 is also the lower
        bound of the damage (with the history field: for the whole run; with bounds it is
        part of the damage the bound follows). A checkpoint's restored damage replaces d
        after this. The isotropic profile: exact for a crack along weak planes (n = m)."""
        cracks = self.cfg.initial_cracks
        if not cracks:
            return
        X = self.Vd.tabulate_dof_coordinates()[:, :2]
        d0 = np.zeros(len(X))
        for i, c in enumerate(cracks):
            band = c.width if c.width is not None else 2.0 * self.h_min
            r = fr.segment_distance(X, c.start, c.end)
            di = fr.optimal_profile(np.maximum(r - band / 2, 0.0), self.l, self.model)
            hit = self.comm.allreduce(int(np.count_nonzero(di[: self._n_owned_d] > 0.5)),
                                      op=MPI.SUM)
            if not hit:
                raise CaseError(f"physics.fracture.initial_cracks[{i}]: no mesh node lies "
                                f"within the crack (start {c.start}, end {c.end}, band "
                                f"{band:.3g} m); put the segment inside the domain")
            np.maximum(d0, di, out=d0)
        if self.cfg.unbreakable:
            d0[mech_bcs.nodes_of_regions(self.Vd, self.geo, self.cfg.unbreakable)] = 0.0
        np.maximum(self.d.x.array, d0, out=self.d.x.array)
        self.d.x.scatter_forward()
        self.d_prev.x.array[:] = self.d.x.array
        self._lb.array[:] = d0[: self._n_owned_d]

    def _check_resolution(self) -> None:
        tdim = self.dim
        n = self.mesh.topology.index_map(tdim).size_local
        h = self.mesh.h(tdim, np.arange(n, dtype=np.int32))
        hmin = self.comm.allreduce(float(h.min(initial=np.inf)), op=MPI.MIN)
        self.h_min = hmin
        if hmin > self.l / 2:
            log.warning(f"fracture: the smallest cell ({hmin:.3g} m) is larger than half the "
                        f"length scale l = {self.l:.3g} m; the crack is under-resolved "
                        "(refine the mesh where it runs, e.g. geometry.refine)")

    def _reaction_setup(self):
        """Internal force on the first non-zero displacement condition, per prescribed
        component (physics/bcs.reaction_forms)."""
        return mech_bcs.reaction_forms(self.cfg.boundary_conditions,
                                       [(self.bcs, self.F_int, self.V)], self.comm)

    # ------------------------------------------------------------------ stepping interface
    @property
    def n_dofs(self) -> int:
        return n_global_dofs(self.V) + n_global_dofs(self.Vd)

    def state(self) -> dict[str, dolfinx.fem.Function]:
        out = {"displacement": self.u, "damage": self.d, "damage_previous": self.d_prev}
        if self.history:
            out["history"] = self.H
        return out

    def scalar_state(self) -> dict:
        return {"peak_load_N": self.peak, "load_increment": self.da_last,
                "last_load_factor": self._last[0], "last_max_damage": self._last[1],
                **self.onset}

    def restore_scalar_state(self, s: dict) -> None:
        self.peak = float(s.get("peak_load_N", 0.0))
        self.da_last = float(s.get("load_increment", 0.0))
        # (a checkpoint from before these metrics: start from the restored state)
        own = self.d.x.array[: self._n_owned_d]
        dmax = self.comm.allreduce(float(own.max(initial=0.0)), op=MPI.MAX)
        self._last = (float(s.get("last_load_factor", self.amplitude(self.t))),
                      float(s.get("last_max_damage", dmax)))
        self.onset = {k: float(s.get(k, float("nan"))) for k in ONSET}

    def set_time(self, t: float) -> None:
        a = self.amplitude(t)
        self.factor.value = a
        for bc in self.bcs:
            bc.update(a)
        self.t = float(t)

    def _lag(self, prob, what: str) -> None:
        """Make the SNES rebuild its preconditioner at the next Jacobian and keep it after
        that (lag -2, persistent: PETSc turns it into -1 once rebuilt)."""
        prefix = self.prefix_u if what == "displacement" else self.prefix_d
        db = PETSc.Options()
        db.setValue(prefix + "snes_lag_preconditioner", -2)
        db.setValue(prefix + "snes_lag_preconditioner_persists", "true")
        prob.solver.setFromOptions()

    def _snes(self, prob, what: str) -> tuple[int, int]:
        """Solve one sub-problem; with a Krylov method, its LU preconditioner is reused
        until the Krylov iterations exceed REFRESH_ITS (or a solve fails: then it is
        retried once with fresh factors)."""
        ksp = prob.solver.getKSP()
        # reuse needs a Krylov method and a fixed system (a VI solves reduced systems whose
        # size changes with the active set)
        krylov = (ksp.getType() != "preonly" and ksp.getPC().getType() in ("lu", "cholesky")
                  and not prob.solver.getType().startswith("vi"))
        refresh = self._refresh.get(what, True) or not krylov
        fn = self.u if what == "displacement" else self.d
        start = fn.x.array.copy() if krylov else None
        for _attempt in (0, 1):
            if krylov and refresh:
                self._lag(prob, what)
            reason, newton, lin = popts.solve_nonlinear(prob)
            if reason > 0 or refresh:
                break
            fn.x.array[:] = start  # stale factors failed: once more with fresh ones
            refresh = True
        if reason <= 0:
            raise ConvergenceError(
                f"fracture {what} solve failed (SNESConvergedReason {reason}"
                f"{popts.reason_name(reason)}) at load factor {self.amplitude(self.t):.6g}",
                field=what, reason=reason)
        self._refresh[what] = krylov and lin > REFRESH_ITS * max(newton, 1)
        return newton, lin

    def solve(self, t: float) -> dict:
        t_prev = self.t
        self.set_time(t)
        d_old = self.d.x.array.copy()
        if self.bounded and not self.history:  # irreversibility: d >= d at the last step
            self._lb.array[:] = self.d.x.petsc_vec.array_r
        H_old = self.H.x.array.copy() if self.history else None
        lin = 0
        n = self._n_owned_d
        acc = Anderson(self.comm, self.cfg.anderson_depth) if self.cfg.anderson_depth else None
        lo = self._lb.array_r if self.bounded else np.zeros(n)
        da = self.amplitude(t) - self.amplitude(t_prev)
        self._predict(da, lo)
        try:
            lin += self._snes(self._pu, "displacement")[1]
            k, best, k_best = 0, np.inf, 0
            while True:
                if self.history:
                    self.H.interpolate(self._psi_expr)
                    np.maximum(self.H.x.array, H_old, out=self.H.x.array)
                d_in = self.d.x.array[:n].copy()
                lin += self._snes(self._pd, "damage")[1]
                k += 1
                g = self.d.x.array[:n]
                diff = np.abs(g - d_in)
                change = self.comm.allreduce(float(diff.max(initial=0.0)), op=MPI.MAX)
                if change < self.cfg.tolerance:
                    lin += self._snes(self._pu, "displacement")[1]
                    if self.history:  # H_(n+1) = max(H_n, psi+(u_(n+1))), final u included
                        self.H.interpolate(self._psi_expr)
                        np.maximum(self.H.x.array, H_old, out=self.H.x.array)
                    break
                if k == self.cfg.max_iterations:
                    raise ConvergenceError(
                        f"fracture: alternate minimisation not converged in {k} iterations "
                        f"(max |d change| {change:.3g} >= tolerance "
                        f"{self.cfg.tolerance:g}) at load factor {self.amplitude(t):.6g}; "
                        "raise physics.fracture.max_iterations or take smaller load steps",
                        field="damage")
                if change < best:
                    best, k_best = change, k
                elif acc is not None and k - k_best > STALL_ITS:
                    acc = None  # the mixing stalls: plain alternate minimisation from here
                    log.debug(f"fracture: Anderson stalled at {k} iterations; plain from here")
                if acc is not None:  # accelerated next input, kept within the bounds
                    self.d.x.array[:n] = np.clip(acc.update(d_in, g.copy()), lo, 1.0)
                    self.d.x.scatter_forward()
                lin += self._snes(self._pu, "displacement")[1]
        except ConvergenceError:
            self.d.x.array[:] = d_old
            if self.history:
                self.H.x.array[:] = H_old
            self.set_time(t_prev)
            raise
        self.iterations = k
        if self._pm is not None:
            lin += self._monolithic()
        self.d_prev.x.array[:] = d_old  # (d, d_prev) and da_last: the predictor's state
        self.da_last = da
        return {"newton_iterations": k, "linear_iterations": lin,
                "change": None}

    def _monolithic_setup(self, F_u, F_d) -> None:
        """Newton on (u, d) together (VI: d within [d_old, 1], u free), blocked MUMPS."""
        u, d = self.u, self.d
        F = [F_u, F_d]
        J = [[ufl.derivative(Fi, w) for w in (u, d)] for Fi in F]
        self._opts_m = popts.merge(MONOLITHIC, self.cfg.solver.monolithic)
        self._pm = dolfinx.fem.petsc.NonlinearProblem(
            F, [u, d], bcs=self.dirichlet_u + self.dirichlet_d, J=J, kind="mpi",
            petsc_options_prefix=self.prefix_m)
        popts.configure(self._pm.solver, self.prefix_m, self._opts_m,
                        "physics.fracture.solver.monolithic")
        self._mlb, self._mub = self._pm.x.duplicate(), self._pm.x.duplicate()
        self._m_lo = [dolfinx.fem.Function(self.V), dolfinx.fem.Function(self.Vd)]
        self._m_hi = [dolfinx.fem.Function(self.V), dolfinx.fem.Function(self.Vd)]
        self._m_lo[0].x.array[:] = PETSc.NINFINITY
        self._m_hi[0].x.array[:] = PETSc.INFINITY
        self._m_hi[1].x.array[:] = 1.0
        dolfinx.fem.petsc.assign(self._m_hi, self._mub)  # constant; the lower bound is not

    def _monolithic(self) -> int:
        """Polish the alternate-minimisation answer with a monolithic Newton to the SNES
        tolerances of fracture_m_; if Newton fails (the energy is not convex in (u, d)),
        the alternate-minimisation answer is kept and a warning logged. Returns the
        linear iterations."""
        n = self._n_owned_d
        self._m_lo[1].x.array[:n] = self._lb.array_r
        dolfinx.fem.petsc.assign(self._m_lo, self._mlb)
        self._pm.solver.setVariableBounds(self._mlb, self._mub)
        keep = (self.u.x.array.copy(), self.d.x.array.copy())
        reason, self.monolithic_iterations, lin = popts.solve_nonlinear(self._pm)
        if reason <= 0:
            self.u.x.array[:], self.d.x.array[:] = keep
            log.warning(f"fracture: monolithic Newton did not converge (reason {reason}) at "
                        f"load factor {self.amplitude(self.t):.6g}; keeping the alternate-"
                        "minimisation state")
            self.monolithic_iterations = -1
        return lin

    def _predict(self, da: float, lo: np.ndarray) -> None:
        """Linear predictor of the damage: d + (d - d_prev) da / da_last in the load factor
        a (within the bounds), used while loading continues (da, da_last > 0) and the last
        increment was smooth (max change < PREDICT_MAX): it starts the alternate
        minimisation close to the answer in the stable regime. d_prev is checkpointed and
        restored on cut-back with d, so a restart predicts as the uninterrupted run."""
        if not self.cfg.predictor or not (da > 0 and self.da_last > 0):
            return
        n = self._n_owned_d
        step = (self.d.x.array[:n] - self.d_prev.x.array[:n]) * (da / self.da_last)
        if self.comm.allreduce(float(np.abs(step).max(initial=0.0)), op=MPI.MAX) \
                >= PREDICT_MAX:
            return
        self.d.x.array[:n] = np.clip(self.d.x.array[:n] + step, lo, 1.0)
        self.d.x.scatter_forward()

    @cached_property
    def _n_owned_d(self) -> int:
        return self.Vd.dofmap.index_map.size_local

    # ------------------------------------------------------------------ metrics
    @cached_property
    def _forms(self):
        return {
            "crack": dolfinx.fem.form(self.gamma_iso * self.dx),
            "dissipated": dolfinx.fem.form(self.Gc * self.gamma * self.dx),
            "energy": dolfinx.fem.form(self.psi_el * self.dx),
        }

    def metrics(self) -> dict:
        f = self._forms
        own = self.d.x.array[: self._n_owned_d]
        out = {
            "load_factor": self.amplitude(self.t),
            "crack_length_m": assemble_scalar(f["crack"]),
            "dissipated_energy_J": assemble_scalar(f["dissipated"]),
            "strain_energy_J": assemble_scalar(f["energy"]),
            "max_damage": self.comm.allreduce(float(own.max(initial=0.0)), op=MPI.MAX),
            "staggered_iterations": getattr(self, "iterations", 0),
        }
        a, dmax = out["load_factor"], out["max_damage"]
        a0, d0 = self._last
        for key, level in ONSET.items():
            if np.isnan(self.onset[key]) and dmax >= level:
                self.onset[key] = a0 + (a - a0) * (level - d0) / (dmax - d0) \
                    if d0 < level else a
        self._last = (a, dmax)
        out.update(self.onset)
        if self.dim == 3:
            out["crack_area_m2"] = out.pop("crack_length_m")
        if self._reaction is not None:
            main, value, forms = self._reaction
            for comp, form in forms.items():
                out[f"reaction_force_{'xyz'[comp]}_N"] = assemble_scalar(form)
            out["reaction_force_N"] = out[f"reaction_force_{'xyz'[main]}_N"]
            out["applied_displacement_m"] = self.amplitude(self.t) * value
            self.peak = max(self.peak, abs(out["reaction_force_N"]))
            out["peak_load_N"] = self.peak
        return out

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        return (f"fracture: {self.model}, split {self.split}, driving force "
                f"{self.cfg.driving_force}, l = {self.l:.4g} m, "
                f"{self.cfg.irreversibility}, P{self.cfg.degree}, {self.n_dofs} dofs "
                f"(smallest cell {self.h_min:.3g} m = l / {self.l / self.h_min:.3g})")

    def history_columns(self) -> list[str]:
        cols = ["load_factor", "staggered_iterations", "reaction_force_N",
                "applied_displacement_m", "peak_load_N",
                "crack_area_m2" if self.dim == 3 else "crack_length_m",
                "dissipated_energy_J", "strain_energy_J", "max_damage", *ONSET]
        if self._reaction is None:
            cols = [c for c in cols if c not in ("reaction_force_N", "applied_displacement_m",
                                                 "peak_load_N")]
        else:
            cols += [f"reaction_force_{'xyz'[c]}_N" for c in self._reaction[2]]
        return cols

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        return {"displacement": [self.u], "damage": [self.d]}

    def update_outputs(self) -> None:
        pass

    def finish(self, out, draw: bool) -> dict:
        if draw:
            self._figures(out)
        return {}

    def _figures(self, out) -> None:
        from solver.io import figures

        mesh = self.mesh
        n = mesh.topology.index_map(self.dim).size_local
        # cell value: mean of the damage at the cell's nodes
        cells = self.Vd.dofmap.list[:n]
        dcell = self.d.x.array[cells].mean(axis=1)
        grid = figures.gather_grid(mesh, {"damage": dcell})
        # zoom (right panel) on the most damaged cell, 30 l wide, when there is damage
        mids = dolfinx.mesh.compute_midpoints(mesh, self.dim, np.arange(n, dtype=np.int32))
        i = int(np.argmax(dcell)) if n else 0
        best = max(self.comm.allgather((float(dcell[i]) if n else -1.0,
                                        mids[i].tolist() if n else [0.0, 0.0, 0.0])))
        zoom = best[1] if best[0] > 0.1 and self.dim == 2 else None
        if out.rank0:
            figures.plot_cell_field(grid, "damage", out.figures / "damage.png", "damage",
                                    cmap="inferno", zoom_center=zoom,
                                    zoom_width=30 * self.l if zoom is not None else None)
            rows = _read_history(out.path / "history.csv")
            if rows and "reaction_force_N" in rows[0]:
                x = np.array([float(r["applied_displacement_m"]) for r in rows])
                y = np.array([float(r["reaction_force_N"]) for r in rows])
                figures.plot_profile(out.figures / "load_displacement.png",
                                     {"reaction": (x, y)}, "applied displacement (mm)",
                                     "reaction force (kN/mm)" if self.dim == 2 else
                                     "reaction force (kN)", "load-displacement",
                                     xscale=1e3, yscale=1e-6 if self.dim == 2 else 1e-3)

    def destroy(self) -> None:
        lag = {"snes_lag_preconditioner": 0, "snes_lag_preconditioner_persists": 0}
        popts.destroy_nonlinear(self._pu, self.prefix_u, {**self._opts_u, **lag})
        popts.destroy_nonlinear(self._pd, self.prefix_d, {**self._opts_d, **lag})
        if self._pm is not None:
            popts.destroy_nonlinear(self._pm, self.prefix_m, self._opts_m)
            self._mlb.destroy()
            self._mub.destroy()
        if self.bounded:
            self._lb.destroy()
            self._ub.destroy()


def _read_history(path) -> list[dict]:
    try:
        with open(path, newline="") as fh:
            return list(csv.DictReader(fh))
    except OSError:
        return []
