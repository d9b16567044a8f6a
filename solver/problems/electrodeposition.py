"""M3 problem: phase-field electrodeposition (Chen et al. 2015) as a steppable problem.

Wraps ``physics.electrodeposition.residual`` (monolithic backward Euler in xi, c~ = c/c0,
phi~ = phi nF/RT on a mixed P1^3 space) in a DOLFINx NonlinearProblem (SNES newtonls + MUMPS
under one options prefix). Boundaries (a facet tag of ``facet_tags`` or a marker x -> bool):
``electrolyte``: the fields in ``electrolyte_fields`` held at c = c0 and phi = 0 (reference);
``metal``: phi = E_applied, or (``current``, galvanostatic) phi = E(t), the electrode
potential that makes the reaction current n F c_s d/dt int xi equal the applied current
density times the electrode's area, found per step by a root search on E around the Newton
solve (``_galvanostatic``). Everything else is zero flux. Growth direction: +x in 1D, +y in
2D (+z in 3D). docs/electrodeposition.md, section 6, lists the metrics and their units.

Time levels: ``solve(t)`` steps from the last *accepted* state (u_n, time t_n) to t. A solve
that returned is accepted lazily: at the next ``solve``, if ``u`` still holds that solution
(the Stepper did not restore ``state()`` after, e.g., a too-large ``change``) it becomes
u_n; otherwise the restored state is taken as the last accepted one and its time kept.
"""

from __future__ import annotations

import dataclasses
import itertools
import math

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.fem.petsc
import ufl
from mpi4py import MPI
from petsc4py import PETSc

from solver.errors import ConvergenceError
from solver.numerics import petsc_options as popts
from solver.numerics.parallel import assemble_scalar, n_global_dofs
from solver.physics import electrodeposition as ed

DEFAULTS = popts.ELECTRODEPOSITION
MU_STEP = 4.0  # largest change of mu~ = mu/RT in one Newton iteration (grand potential)
# galvanostatic control: the most secant iterations on the electrode potential per solve,
# the largest potential change per iteration (in RT/nF: 8 ~ 0.2 V) and the number of
# halvings towards the last converged potential after a failed Newton solve
POTENTIAL_ITERATIONS, POTENTIAL_STEP, POTENTIAL_HALVINGS = 25, 8.0, 4
# groups passed to the form as Constants: one compiled kernel for every parameter set
_CONSTANT_GROUPS = ("A_W", "A_kappa", "A_eta", "D_solid", "D_liquid", "sigma_solid",
                    "sigma_liquid", "site_ratio", "Pi", "alpha", "eta_offset",
                    "liquid_site_fraction", "solid_susceptibility")


def crossings(V, xi: np.ndarray, values: np.ndarray | None = None):
    """Points where xi = 1/2 on the edges (vertex pairs) of this rank's owned cells, linear
    in the P1 values ``xi`` of V's local dofs: (cells, pairs, gdim) points and a
    (cells, pairs) mask of the edges that cross; with ``values`` (another P1 field's local
    dof values) also that field at the points, interpolated along the same edges."""
    mesh = V.mesh
    X = V.tabulate_dof_coordinates()[:, : mesh.geometry.dim]
    cells = V.dofmap.list[: mesh.topology.index_map(mesh.topology.dim).size_local]
    pts, hit, val = [], [], []
    for i, j in itertools.combinations(range(cells.shape[1]), 2):
        a, b = xi[cells[:, i]], xi[cells[:, j]]
        m = ((a - 0.5) * (b - 0.5) <= 0) & (a != b)
        s = np.where(m, (0.5 - a) / np.where(m, b - a, 1.0), 0.0)[:, None]
        pts.append(X[cells[:, i]] + s * (X[cells[:, j]] - X[cells[:, i]]))
        hit.append(m)
        if values is not None:
            va, vb = values[cells[:, i]], values[cells[:, j]]
            val.append(va + s[:, 0] * (vb - va))
    if values is not None:
        return np.stack(pts, 1), np.stack(hit, 1), np.stack(val, 1)
    return np.stack(pts, 1), np.stack(hit, 1)


def gather_interface_rows(comm, rows: np.ndarray, tdim: int):
    """Rows (coordinates..., values...) of interface points from every rank, on rank 0
    (None elsewhere): one row per point, sorted along x. A crossing on an edge shared by
    two cells comes once per cell; its rows are averaged."""
    rows = comm.gather(rows, root=0)
    if comm.rank != 0:
        return None
    data = np.vstack(rows)
    key = np.round(data[:, :tdim] / 1e-13).astype(np.int64)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    inv = inv.reshape(-1)
    summed = np.zeros((len(uniq), data.shape[1]))
    np.add.at(summed, inv, data)
    data = summed / np.bincount(inv)[:, None]
    return data[np.argsort(data[:, 0], kind="stable")]


def region_field(mesh, cell_tags, default: float, values: dict):
    """DG0 field of an SI coefficient: ``values`` {cell tag: value} on the tagged cells,
    ``default`` elsewhere. A value may be a (d x d) array (anisotropic transport): the
    field is then tensor-valued, with default * I on the other cells."""
    from solver.physics.elasticity import _cellwise

    d = mesh.topology.dim
    tensor = any(np.ndim(v) == 2 for v in values.values())
    shape = (d, d) if tensor else ()
    out = {}
    for tag, value in values.items():
        value = np.asarray(value, dtype=float)
        if tensor and value.ndim == 0:
            value = value * np.eye(d)
        if value.shape != shape:
            raise ValueError(f"region value of tag {tag}: shape {value.shape}, "
                             f"expected a scalar or {d} x {d}")
        out[tag] = value
    return _cellwise(mesh, cell_tags, shape, out, "region_coefficient",
                     default * np.eye(d) if tensor else default)


class ElectrodepositionProblem:
    def __init__(self, mesh, params: ed.ElectrodepositionParameters, *, xi0, cell_tags=None,
                 facet_tags=None, electrolyte=None, metal=None,
                 electrolyte_fields=("c", "phi"), phi0=None, region_coefficients=None,
                 petsc_options=None, prefix="electrodeposition_", quadrature_degree=4,
                 t0=0.0, noise: tuple | None = None, bv_shift=None,
                 linear: str = "direct", mechanics=None, mobility=None,
                 current: float | None = None, current_tolerance: float = 1.0e-6,
                 bounds: bool = False):
        """xi0(x), phi0(x) (V): callables on coordinates (3, N) in metres; without phi0
        the initial potential is the ohmic one (``_conduction``). region_coefficients:
        {key: SI field} as in ``residual``, or {key: {cell tag: SI value}} (DG0 from
        cell_tags, the parameter's value elsewhere). quadrature_degree: of every form.
        linear: "direct" (MUMPS) or "fieldsplit" (GMRES, field split with GAMG per field;
        large problems). mechanics: optional fourth field solved in the same Newton (a
        monolithic M4): an object with ``element`` (its basix.ufl element) and
        ``build(V, xi, w, v) -> (F, bv_shift, bcs)``, called with the field's sub-space, the
        live xi, the field and its test function; F is added to the residual, bv_shift
        replaces the argument of that name, bcs are the field's Dirichlet conditions.
        mobility: optional dimensionless UFL field scaling the rate of xi (``ed.residual``).
        current: galvanostatic control, the applied current density in A/m^2 of the
        ``metal`` boundary (> 0 plating, < 0 stripping); params.E_applied is then only the
        starting potential. Every step solves for the electrode potential too, until the
        step's reaction current is within ``current_tolerance`` (relative, or of the
        exchange-like scale n F c_s 6 l L_eta for a zero current) of the target.
        bounds: keep 0 <= xi <= 1 by a variational inequality (PETSc SNES VI,
        ``vinewtonrsls``; the other fields free); direct solver only."""
        self.mesh, self.params, self.prefix, self.comm = mesh, params, prefix, mesh.comm
        G = self.G = params.nondimensional()
        # the second unknown in the bulk electrolyte: c~ = 1 (Chen) or mu~ = 0 (grand pot.)
        self._bulk_value = 1.0 if G.formulation == "chen" else 0.0
        self.tdim = mesh.topology.dim
        if mechanics is not None and (bv_shift is not None or linear != "direct"):
            raise ValueError("a monolithic mechanics field takes the stress shift from its "
                             "own displacement and needs the direct solver")
        self.W = ed.function_space(mesh, extra=None if mechanics is None
                                   else mechanics.element)
        self.u = dolfinx.fem.Function(self.W, name="electrodeposition")
        self.u_n = dolfinx.fem.Function(self.W)
        self.dt = dolfinx.fem.Constant(mesh, 1.0)
        Gc = dataclasses.replace(G, **{k: dolfinx.fem.Constant(mesh, float(getattr(G, k)))
                                       for k in _CONSTANT_GROUPS})
        self._phi_data = []  # (value, facets) of the potential's Dirichlet conditions
        self._E = self._metal_dofs = None  # the electrode potential (Constant) and its dofs
        self._ohmic = None  # the ohmic potential's linear problem (_conduction)
        self.bcs = self._dirichlet(facet_tags, electrolyte, metal, electrolyte_fields)
        self.dx = ufl.Measure("dx", domain=mesh,
                              metadata={"quadrature_degree": quadrature_degree})
        rc = self._regions(region_coefficients, cell_tags)
        self.u.sub(0).interpolate(xi0)
        self.u.sub(1).interpolate(lambda x: np.full(x.shape[1], self._bulk_value))
        if phi0 is not None:
            self.u.sub(2).interpolate(lambda x: np.asarray(phi0(x)) / G.potential_scale)
        if phi0 is None or current is not None:
            self._conduction(Gc, rc, apply=phi0 is None)
        for bc in self.bcs:
            bc.set(self.u.x.array)
        self.u.x.scatter_forward()
        self.u_n.x.array[:] = self.u.x.array
        self.t = self._t_n = float(t0)
        self._pending = None

        fields, tests = ufl.split(self.u), ufl.TestFunctions(self.W)
        xi, c, phi = fields[:3]
        xi_n, c_n = ufl.split(self.u_n)[:2]
        F_mech = None
        if mechanics is not None:
            F_mech, bv_shift, mech_bcs = mechanics.build(self.W.sub(3), xi, fields[3],
                                                         tests[3])
            self.bcs += list(mech_bcs)
            for bc in mech_bcs:
                bc.set(self.u.x.array)
                bc.set(self.u_n.x.array)
        sources = None
        self._noise = None
        if noise is not None and noise[0] > 0:
            # Langevin-like perturbation of the xi equation, confined to the interface by
            # h'(xi): rate amplitude * h'(xi) * r(x, t), r uniform in [-1/2, 1/2]; with a
            # correlation time tau (noise[2]) r is scaled by sqrt(tau / dt) each step, so
            # the kicks accumulate as a Wiener process whatever the time steps; with a
            # correlation length ell (noise[3]) r is scaled at each vertex by
            # sqrt(ell^d / A_i), A_i = int phi_i dx, so the noise is white in space with a
            # strength that does not depend on the mesh
            Vr = self.W.sub(0).collapse()[0]
            amplitude, seed, tau, ell = (*noise, None, None)[:4]
            self._noise = (dolfinx.fem.Function(Vr), float(amplitude) * G.time_scale,
                           int(seed), Vr.tabulate_dof_coordinates(), tau,
                           None if ell is None else noise_space_weight(Vr, float(ell)))
            zero = dolfinx.fem.Constant(mesh, 0.0)
            sources = (self._noise[1] * ed.dh(xi) * self._noise[0], zero, zero)
        F = ed.residual(xi, c, phi, xi_n, c_n, *tests[:3], self.dt, Gc,
                        self.dx, region_coefficients=rc, sources=sources, bv_shift=bv_shift,
                        mobility=mobility)
        if F_mech is not None:
            F = F + F_mech
        self._problem = dolfinx.fem.petsc.NonlinearProblem(F, self.u, bcs=self.bcs,
                                                           petsc_options_prefix=prefix)
        self.snes = self._problem.solver
        names = ("xi", "c" if G.formulation == "chen" else "mu", "phi")
        if linear not in ("direct", "fieldsplit"):
            raise ValueError(f"linear must be 'direct' or 'fieldsplit', got {linear!r}")
        base = DEFAULTS if linear == "direct" else popts.electrodeposition_fieldsplit(names)
        if bounds:
            if linear != "direct":
                raise ValueError("bounds on xi (SNES VI) need the direct solver: the VI "
                                 "solves on the inactive dofs, which a field split's index "
                                 "sets do not describe")
            base = {**base, "snes_type": "vinewtonrsls"}
        self._options = popts.merge(base, petsc_options)
        if bounds and not str(self._options.get("snes_type", "")).startswith("vi"):
            raise ValueError(f"bounds on xi need a SNES VI type (vinewtonrsls or "
                             f"vinewtonssls), got snes_type {self._options['snes_type']!r}")
        popts.configure(self.snes, prefix, self._options,
                        "physics.electrodeposition.solver.petsc_options")
        if self._options.get("pc_type") == "fieldsplit":
            self._field_split(names)
        self._int_xi = dolfinx.fem.form(xi * self.dx)
        self._int_xi_n = dolfinx.fem.form(xi_n * self.dx)
        self.xi_initial = assemble_scalar(self._int_xi)
        self._Vxi, xi_map = self.W.sub(0).collapse()
        self._xi_map = np.asarray(xi_map, dtype=np.int32).reshape(-1)
        self._c_map = np.asarray(self.W.sub(1).collapse()[1], dtype=np.int32).reshape(-1)
        self._bounds = self._xi_bounds() if bounds else None
        self._current = None
        if current is not None:
            self._galvanostat(float(current), float(current_tolerance))
        if G.formulation != "chen":
            n_owned = self.W.dofmap.index_map.size_local * self.W.dofmap.index_map_bs
            self._mu_owned = self._c_map[self._c_map < n_owned]
            self.snes.setLineSearchPreCheck(self._limit_mu_step)

    def _galvanostat(self, density: float, tol: float) -> None:
        """Set up galvanostatic control: the applied density (A/m^2), the measure of the
        ``metal`` boundary (its area: m per unit depth in 2D, 1 in 1D) and the tolerance."""
        if self._E is None:
            raise ValueError("galvanostatic control (current) needs the metal boundary, "
                             "where the electrode potential is applied")
        if not (math.isfinite(density) and tol > 0):
            raise ValueError(f"current {density!r} must be finite and current_tolerance "
                             f"{tol!r} > 0")
        fdim = self.tdim - 1
        tags = dolfinx.mesh.meshtags(self.mesh, fdim, self._metal_facets,
                                     np.ones(len(self._metal_facets), dtype=np.int32))
        ds = ufl.Measure("ds", domain=self.mesh, subdomain_data=tags)
        one = dolfinx.fem.Constant(self.mesh, 1.0)
        area = assemble_scalar(dolfinx.fem.form(one * ds(1)))
        self._current = (density, area, tol)
        self._psi = None  # the potential's ohmic shape of the step (begin_step)

    def electrode_potential(self, u=None) -> float:
        """The metal's applied potential (V) held in ``u`` (default: the live solution),
        NaN without a metal boundary."""
        if self._metal_dofs is None:
            return math.nan
        arr = (self.u if u is None else u).x.array[self._metal_dofs]
        big = self.comm.allreduce(float(arr.max()) if len(arr) else -math.inf, op=MPI.MAX)
        return big * self.G.potential_scale if math.isfinite(big) else math.nan

    def _galvanostatic(self, t: float) -> dict:
        """One step under galvanostatic control: find the electrode potential E at which the
        step's reaction current I(E) = n F c_s (int xi - int xi_n) / dt equals the target,
        with a full Newton solve per iterate (each from the previous iterate's solution).
        I(E) falls monotonically with E. The residual is r(E) = asinh(I/I_s) -
        asinh(I_t/I_s), ~ ln I for |I| >> I_s. Each proposal is the model step: the E at
        which the flat fast-transport front (``ed.planar_current_density``), scaled to the
        measured current, carries the target; once iterates lie on both sides of the
        target, a proposal outside that bracket is replaced by regula falsi (Illinois).
        Changes are capped at POTENTIAL_STEP; a failed Newton solve halves the change back
        towards the last converged iterate; no convergence in POTENTIAL_ITERATIONS raises
        ConvergenceError (the Stepper then cuts dt)."""
        density, area, tol = self._current
        p, VT = self.params, self.G.potential_scale
        nFcs = p.n * ed.FARADAY * p.c_s
        target = density * area  # A (per unit depth in 2D)
        scale = nFcs * 6 * p.interface_width * p.L_eta * area  # current at |B| = 1, A
        dt = float(self.dt.value)
        int_n = assemble_scalar(self._int_xi_n)
        i_s = max(1e-2 * abs(target), 1e-3 * scale)
        allowed = tol * max(abs(target), 1e-3 * scale)

        def r(current):
            return math.asinh(current / i_s) - math.asinh(target / i_s)

        def model_step(E, current):
            """The flat-front model through the measured point, solved for the target."""
            planar = area * ed.planar_current_density(p, E * VT - p.E_eq)
            if not (planar != 0 and current / planar > 0):
                return None
            try:
                return (p.E_eq + ed.planar_overpotential(p, target * planar / current
                                                         / area)) / VT
            except ValueError:
                return None

        E = float(self._E.value)
        E_u = self.electrode_potential() / VT  # the potential that u holds
        psi, vmap = self._psi
        lo = hi = None  # (E, r) with r > 0 (current above the target) and r < 0
        kept = [None, 0]  # Illinois: the bracket end kept last and how often in a row
        good = None
        hardest = lin = halvings = 0
        for k in range(1, POTENTIAL_ITERATIONS + 1):
            self._E.value = E
            self.u.x.array[vmap] += (E - E_u) * psi  # start consistent with the new E
            E_u = E
            try:
                info = self._newton_once(t)
            except ConvergenceError:  # u is back at the accepted state
                E_u = self.electrode_potential() / VT
                if good is None or halvings >= POTENTIAL_HALVINGS:
                    raise
                halvings += 1
                E = 0.5 * (E + good[0])
                continue
            lin += info["linear_iterations"]
            hardest = max(hardest, info["newton_iterations"])
            current = nFcs * (assemble_scalar(self._int_xi) - int_n) / dt
            if abs(current - target) <= allowed:
                # newton_iterations: the most one Newton solve took (the stepper grows dt
                # after easy steps, as for the coupling loops); linear_iterations: all
                info.update(newton_iterations=hardest, linear_iterations=lin,
                            potential_iterations=k)
                return info
            good = (E, r(current))
            end = "lo" if good[1] > 0 else "hi"
            kept = [kept[0], kept[1] + 1] if kept[0] == end else [end, 1]
            if end == "lo":
                lo = good
            else:
                hi = good
            step = model_step(E, current)
            if lo is not None and hi is not None:
                a, b = sorted((lo[0], hi[0]))
                if step is None or not a < step < b:
                    rl, rh = lo[1], hi[1]  # halve the stale end's residual (Illinois)
                    if kept[1] >= 2:
                        rl, rh = (rl, 0.5 * rh) if kept[0] == "lo" else (0.5 * rl, rh)
                    step = lo[0] - rl * (hi[0] - lo[0]) / (rh - rl)
            elif step is None:  # Tafel slope: -alpha (plating) or -(1 - alpha)
                slope = -self.G.alpha if good[1] > 0 else -(1 - self.G.alpha)
                step = E - good[1] / slope
            E = E + max(-POTENTIAL_STEP, min(POTENTIAL_STEP, step - E))
        self.u.x.array[:] = self.u_n.x.array
        raise ConvergenceError(
            f"electrodeposition: galvanostatic control did not find the electrode potential "
            f"in {POTENTIAL_ITERATIONS} iterations at t={t:.6g} s, dt={dt:.3g} s (last "
            f"{good[0] * VT:.4g} V)", field="electrodeposition")

    def _xi_bounds(self) -> tuple[PETSc.Vec, PETSc.Vec]:
        """Lower and upper bound vectors of the VI: [0, 1] on the owned xi dofs, unbounded
        elsewhere; handed to the SNES (kept for the problem's lifetime)."""
        lb = self.u.x.petsc_vec.duplicate()
        ub = lb.duplicate()
        lb.set(PETSc.NINFINITY)
        ub.set(PETSc.INFINITY)
        n_owned = self.W.dofmap.index_map.size_local * self.W.dofmap.index_map_bs
        xi = self._xi_map[self._xi_map < n_owned]
        lb.array[xi] = 0.0
        ub.array[xi] = 1.0
        self.snes.setVariableBounds(lb, ub)
        self._f0 = math.inf
        self.snes.setConvergenceTest(self._vi_converged)
        return lb, ub

    def _vi_converged(self, snes, it, norms):
        """SNESConvergedDefault's tests (NaN, atol, rtol, stol, divergence tolerance,
        max_it) for the VI, whose own test ignores the step norm: at the residual's
        round-off floor (above rtol |F0| when rtol is tight) a stalled VI would otherwise
        iterate to max_it, where newtonls stops on |dx| < stol |x|."""
        xnorm, ynorm, fnorm = (float(v) for v in norms)
        rtol, atol, stol, max_it = snes.getTolerances()
        if it == 0:
            self._f0 = fnorm
        R = PETSc.SNES.ConvergedReason
        if not math.isfinite(fnorm):
            return R.DIVERGED_FUNCTION_NANORINF
        if fnorm < atol:
            return R.CONVERGED_FNORM_ABS
        if it > 0 and fnorm <= rtol * self._f0:
            return R.CONVERGED_FNORM_RELATIVE
        if it > 0 and ynorm < stol * xnorm:
            return R.CONVERGED_SNORM_RELATIVE
        divtol = snes.getDivergenceTolerance()
        if it > 0 and divtol > 0 and fnorm > divtol * self._f0:
            return R.DIVERGED_DTOL
        if it >= max_it:
            return R.DIVERGED_MAX_IT
        return R.ITERATING

    def _field_split(self, names) -> None:
        """Give a fieldsplit preconditioner the global dof index sets of the three fields
        (owned dofs of each sub-space; the mixed space is not blocked)."""
        im = self.W.dofmap.index_map
        n = im.size_local
        sets = []
        for i, name in enumerate(names):
            loc = np.asarray(self.W.sub(i).collapse()[1], dtype=np.int32).reshape(-1)
            glob = im.local_to_global(loc[loc < n]).astype(PETSc.IntType)
            sets.append((name, PETSc.IS().createGeneral(glob, comm=self.comm)))
        self.snes.getKSP().getPC().setFieldSplitIS(*sets)
        for _, s in sets:
            s.destroy()

    def _limit_mu_step(self, x, y):
        """Grand potential: scale the Newton direction so that no mu~ changes by more than
        MU_STEP per iteration (a damped Newton in the log-like variable; a full step can
        throw mu~ to -1e4, where exp underflows and the Jacobian turns singular)."""
        big = float(np.max(np.abs(y.array_r[self._mu_owned]), initial=0.0))
        big = self.comm.allreduce(big, op=MPI.MAX)
        if big > MU_STEP:
            y.scale(MU_STEP / big)

    # ------------------------------------------------------------------ set-up helpers
    def _dirichlet(self, facet_tags, electrolyte, metal, fields):
        fdim = self.tdim - 1
        self.mesh.topology.create_connectivity(fdim, self.tdim)

        def facets(spec):
            if isinstance(spec, int | np.integer):
                if facet_tags is None:
                    raise ValueError("a facet-tag boundary needs facet_tags")
                return facet_tags.find(int(spec))
            return dolfinx.mesh.locate_entities_boundary(self.mesh, fdim, spec)

        def bc(i, value, f):
            dofs = dolfinx.fem.locate_dofs_topological(self.W.sub(i), fdim, f)
            return dolfinx.fem.dirichletbc(dolfinx.fem.Constant(self.mesh, float(value)),
                                           dofs, self.W.sub(i))

        out = []
        if electrolyte is not None:
            f = facets(electrolyte)
            unknown = set(fields) - {"c", "phi"}
            if unknown:
                raise ValueError(f"electrolyte_fields: unknown {sorted(unknown)}")
            if "c" in fields:
                out.append(bc(1, self._bulk_value, f))
            if "phi" in fields:
                out.append(bc(2, 0.0, f))
                self._phi_data.append((0.0, f))
        if metal is not None:
            f = facets(metal)
            self._E = dolfinx.fem.Constant(self.mesh, float(self.G.phi_applied))
            self._metal_dofs = dolfinx.fem.locate_dofs_topological(self.W.sub(2), fdim, f)
            # galvanostatic control moves the Constant
            out.append(dolfinx.fem.dirichletbc(self._E, self._metal_dofs, self.W.sub(2)))
            self._phi_data.append((self.G.phi_applied, f))
            self._metal_facets = np.unique(f).astype(np.int32)
        return out

    def _conduction(self, Gc, rc, apply: bool = True):
        """Initial potential: div(sigma_eff(xi0) grad phi) = 0 with the Dirichlet data
        (0 without any), so that the first Newton solve starts near the ohmic state. The
        linear problem is kept for galvanostatic control (``_potential_shape``)."""
        V, vmap = self.W.sub(2).collapse()
        fdim = self.tdim - 1
        values = [dolfinx.fem.Constant(self.mesh, float(value)) for value, _ in self._phi_data]
        bcs = [dolfinx.fem.dirichletbc(g, dolfinx.fem.locate_dofs_topological(V, fdim, f), V)
               for g, (_, f) in zip(values, self._phi_data, strict=True)]
        if not bcs:
            return
        sg = ed.interp(ed.h(ufl.split(self.u)[0]),
                       Gc.conductivity(rc["sigma_solid"]) if "sigma_solid" in rc
                       else Gc.sigma_solid,
                       Gc.conductivity(rc["sigma_liquid"]) if "sigma_liquid" in rc
                       else Gc.sigma_liquid)
        p, q = ufl.TrialFunction(V), ufl.TestFunction(V)
        zero = dolfinx.fem.Constant(self.mesh, 0.0)
        lp = dolfinx.fem.petsc.LinearProblem(
            ufl.inner(ed.flux(sg, ufl.grad(p)), ufl.grad(q)) * self.dx, zero * q * self.dx,
            bcs=bcs,
            petsc_options_prefix=self.prefix + "conduction_", petsc_options=popts.DIRECT)
        self._ohmic = (lp, values, np.asarray(vmap, dtype=np.int32).reshape(-1))
        if apply:
            self.u.x.array[self._ohmic[2]] = lp.solve().x.array

    def _potential_shape(self) -> tuple[np.ndarray, np.ndarray]:
        """psi: how the ohmic potential of the accepted xi changes per unit change of the
        electrode potential (psi = 1 on the metal boundary, 0 on the other potential
        conditions), at the potential's dofs of u. Galvanostatic control adds dE psi to phi
        when it moves E, so that Newton starts consistent with the new boundary value (a
        bare jump of the boundary value gives a first residual dominated by the metal's
        conduction, and the relative tolerance then leaves the current inexact). Returns
        (psi, the potential's dofs in u)."""
        lp, values, vmap = self._ohmic
        for g in values:  # the metal's condition is the last one (_dirichlet)
            g.value = 1.0 if g is values[-1] else 0.0
        return lp.solve().x.array.copy(), vmap

    def _regions(self, rc, cell_tags):
        out = {}
        for key, val in (rc or {}).items():
            if not isinstance(val, dict):
                out[key] = val
                continue
            if cell_tags is None:
                raise ValueError(f"region_coefficients[{key!r}] by tag needs cell_tags")
            out[key] = region_field(self.mesh, cell_tags, getattr(self.params, key), val)
        return out

    # ------------------------------------------------------------------ stepping interface
    @property
    def n_dofs(self) -> int:
        return n_global_dofs(self.W)

    def state(self) -> dict[str, dolfinx.fem.Function]:
        return {"electrodeposition": self.u}

    def set_time(self, t: float) -> None:
        """Take the current ``u`` (e.g. read from a checkpoint) as the accepted state at t."""
        self.u_n.x.array[:] = self.u.x.array
        self.t = self._t_n = float(t)
        self._pending = None

    def _sync(self) -> None:
        if self._pending is None:
            return
        kept = int(np.array_equal(self.u.x.array, self._pending))
        if self.comm.allreduce(kept, op=MPI.MIN):
            self.u_n.x.array[:] = self.u.x.array
            self._t_n = self.t
        else:
            self.u.x.array[:] = self.u_n.x.array
            self.t = self._t_n
        self._pending = None

    def solve(self, t: float) -> dict:
        self.begin_step(t)
        return self.newton(t)

    def concentration_values(self) -> np.ndarray:
        """The cation concentration c+ (mol/m^3) at the local P1 dofs: c (Chen) or
        (1 - h(xi)) c_l(mu) (grand potential)."""
        G = self.G
        c = ed.cation_concentration(self.u.x.array[self._xi_map],
                                    self.u.x.array[self._c_map], G)
        return np.asarray(c) * G.concentration_scale

    def xi_values(self) -> np.ndarray:
        """The order parameter's local dof values (a copy), in the collapsed P1 layout."""
        return self.u.x.array[self._xi_map]

    def xi_into(self, f: dolfinx.fem.Function) -> None:
        """Copy xi into a P1 Function on the same mesh (a coupled problem's frozen copy)."""
        f.x.array[:] = self.u.x.array[self._xi_map]
        f.x.scatter_forward()

    def reject_step(self) -> None:
        """Back to the accepted state after a coupling loop gave up on the step."""
        self.u.x.array[:] = self.u_n.x.array
        self._pending = None

    def begin_step(self, t: float) -> float:
        """Accept the pending solution (if kept), set dt = t - t_accepted and the noise for
        time t, and start from the accepted state. Returns dt."""
        self._sync()
        dt = t - self._t_n
        if not dt > 0:
            raise ValueError(f"electrodeposition: time {t} is not after {self._t_n}")
        self.dt.value = dt
        if self._current is not None:  # start from the accepted electrode potential
            self._E.value = self.electrode_potential(self.u_n) / self.G.potential_scale
        if self._noise is not None:
            r, _, seed, X, tau, weight = self._noise
            r.x.array[:] = position_noise(X, seed, t) * (
                1.0 if tau is None else math.sqrt(float(tau) / dt))
            if weight is not None:
                r.x.array[:] *= weight
        self.u.x.array[:] = self.u_n.x.array
        if self._current is not None:  # once per step, for every solve of the step
            self._psi = self._potential_shape()
        return dt

    def newton(self, t: float) -> dict:
        """One Newton solve of the step begun by ``begin_step(t)``, from the current ``u``
        (a coupling loop calls it again with updated coefficients); under galvanostatic
        control, the search for the electrode potential around it. On failure
        ``u`` is reset to the accepted state and ConvergenceError raised."""
        if self._current is not None:
            return self._galvanostatic(t)
        return self._newton_once(t)

    def _newton_once(self, t: float) -> dict:
        dt = float(self.dt.value)
        reason, its, lin = popts.solve_nonlinear(self._problem)  # -100: a PETSc error
        if reason <= 0:
            self.u.x.array[:] = self.u_n.x.array
            raise ConvergenceError(
                f"electrodeposition Newton diverged (SNESConvergedReason {reason}"
                f"{popts.reason_name(reason)}) after "
                f"{its} iterations at t={t:.6g} s, dt={dt:.3g} s",
                field="electrodeposition", reason=reason)
        dxi = self.u.x.array[self._xi_map] - self.u_n.x.array[self._xi_map]
        change = self.comm.allreduce(float(np.max(np.abs(dxi), initial=0.0)), op=MPI.MAX)
        self.t = float(t)
        self._pending = self.u.x.array.copy()
        return {"newton_iterations": its, "linear_iterations": lin, "change": change}

    # ------------------------------------------------------------------ metrics
    def _crossings(self):
        """Points where xi = 1/2 on the edges of this rank's owned cells (``crossings``)."""
        return crossings(self._Vxi, self.u.x.array[self._xi_map])

    def interface_concentration(self) -> np.ndarray:
        """This rank's points of the xi = 1/2 line with the cation concentration there
        (mol/m^3), rows (coordinates..., c): Chen's c, or the electrolyte phase's c_l(mu)
        of the grand potential (the concentration the interface's chemical potential
        stands for on the electrolyte side). Seed 000 Fig. 4d plots this at an early time."""
        G = self.G
        second = self.u.x.array[self._c_map]
        if G.formulation == "chen":
            c = second * G.concentration_scale
        else:
            c = np.asarray(ed.liquid_concentration(second, G.liquid_site_fraction)) \
                * G.concentration_scale
        pts, hit, val = crossings(self._Vxi, self.u.x.array[self._xi_map], c)
        return np.column_stack([pts[hit][:, : self.tdim], val[hit]])

    def _roughness(self, pts, hit, axis: int) -> float:
        """Std of the height y(x) of the xi = 1/2 line weighted by its x extent (on
        triangles the line is straight in each cell); 0 in 1D, NaN on other cells."""
        if self.tdim == 1:
            return 0.0
        if self.mesh.topology.cell_type != dolfinx.mesh.CellType.triangle:
            return math.nan
        seg = hit.sum(axis=1) == 2
        order = np.argsort(~hit[seg], axis=1, kind="stable")[:, :2]
        q = np.take_along_axis(pts[seg], order[:, :, None], axis=1)
        w = np.abs(q[:, 1, 0] - q[:, 0, 0])
        y1, y2 = q[:, 0, axis], q[:, 1, axis]
        sums = [self.comm.allreduce(float(v.sum()), op=MPI.SUM) for v in
                (w, w * (y1 + y2) / 2, w * (y1 * y1 + y1 * y2 + y2 * y2) / 3)]
        if not sums[0] > 0:
            return math.nan
        mean = sums[1] / sums[0]
        return math.sqrt(max(sums[2] / sums[0] - mean * mean, 0.0))

    def metrics(self) -> dict:
        p, G = self.params, self.G
        axis = self.tdim - 1
        pts, hit = self._crossings()
        h = pts[hit][:, axis]
        hi = self.comm.allreduce(float(h.max()) if h.size else -math.inf, op=MPI.MAX)
        lo = self.comm.allreduce(float(h.min()) if h.size else math.inf, op=MPI.MIN)
        found = math.isfinite(hi)
        int_xi, int_xi_n = assemble_scalar(self._int_xi), assemble_scalar(self._int_xi_n)
        nFcs = p.n * ed.FARADAY * p.c_s
        dt = self.t - self._t_n
        tip_v = 0.0
        if dt > 0:  # the highest xi = 1/2 point of this state against the accepted one's
            pn, hn = crossings(self._Vxi, self.u_n.x.array[self._xi_map])
            hn = pn[hn][:, axis]
            hi_n = self.comm.allreduce(float(hn.max()) if hn.size else -math.inf,
                                       op=MPI.MAX)
            tip_v = (hi - hi_n) / dt if found and math.isfinite(hi_n) else math.nan
        if G.formulation == "chen":
            c = self.u.x.array[self._c_map] * G.concentration_scale
        else:  # the electrolyte phase's c_l(mu) where xi < 1/2 (c+ -> 0 in the metal)
            c = ed.liquid_concentration(self.u.x.array[self._c_map], G.liquid_site_fraction)
            c = c[self.u.x.array[self._xi_map] < 0.5] * G.concentration_scale
        nc = len(c)
        return {
            "time_s": self.t,
            "interface_height_max_m": hi if found else math.nan,
            "interface_height_min_m": lo if found else math.nan,
            "roughness_m": self._roughness(pts, hit, axis) if found else math.nan,
            "deposited_volume_m3": int_xi - self.xi_initial,
            "ionic_charge_C": nFcs * (int_xi - self.xi_initial),
            "reaction_current_A": nFcs * (int_xi - int_xi_n) / dt if dt > 0 else 0.0,
            "tip_velocity_m_s": tip_v,
            "concentration_min_mol_m3": self.comm.allreduce(
                float(c.min()) if nc else math.inf, op=MPI.MIN),
            "concentration_max_mol_m3": self.comm.allreduce(
                float(c.max()) if nc else -math.inf, op=MPI.MAX),
            "metal_occupancy_min": self._occupancy_min(),
            "electrode_potential_V": self.electrode_potential(),
            **self._front_metrics(pts, hit),
        }

    def _front_metrics(self, pts, hit) -> dict:
        """Further metrics of the xi = 1/2 crossings (pts, hit of ``_crossings``), for
        subclasses that know the geometry; none here."""
        return {}

    def _occupancy_min(self) -> float:
        """min of c_metal/c_s where xi > 1/2: 1 in Chen's model (a full metal by
        definition); in the grand potential, below 1 where the electrolyte could not supply
        the moving front and the metal's lattice gas took fewer atoms (Hong's model)."""
        if self.G.formulation == "chen":
            return 1.0
        xi = self.u.x.array[self._xi_map]
        mu = self.u.x.array[self._c_map][xi > 0.5]
        occ = np.asarray(ed.solid_concentration(mu, self.G)) / self.G.site_ratio
        return self.comm.allreduce(float(occ.min()) if len(occ) else math.inf, op=MPI.MIN)

    def destroy(self) -> None:
        if getattr(self, "_ohmic", None) is not None:
            lp = self._ohmic[0]
            for obj in (lp.solver, lp.A, lp.b, lp.x):
                obj.destroy()
            self._ohmic = None
        for vec in getattr(self, "_bounds", None) or ():
            vec.destroy()
        self._bounds = None
        popts.destroy_nonlinear(self._problem, self.prefix, self._options)


def noise_space_weight(V, ell: float) -> np.ndarray:
    """sqrt(ell^d / A_i) at every dof (ghosts included) of the P1 space V, A_i = int phi_i
    dx the lumped area (volume) of vertex i in mesh units (metres). Scaling independent
    vertex values r_i of variance s^2 by it makes int r phi dx, for any smooth phi, have
    the variance s^2 ell^d int phi^2 dx on every mesh: white noise of correlation
    length ell."""
    v = ufl.TestFunction(V)
    A = dolfinx.fem.Function(V)
    dolfinx.fem.petsc.assemble_vector(A.x.petsc_vec, dolfinx.fem.form(v * ufl.dx))
    A.x.petsc_vec.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
    A.x.scatter_forward()
    d = V.mesh.topology.dim
    return np.sqrt(ell**d / A.x.array)


def position_noise(X: np.ndarray, seed: int, t: float) -> np.ndarray:
    """Uniform values in [-1/2, 1/2] from a hash of (position, time, seed): the same at a
    point whatever the partition, so results do not depend on the number of ranks."""
    q = np.round(np.asarray(X)[:, :3] / 1e-12).astype(np.int64).view(np.uint64)
    k = np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64) ^ np.uint64(int(round(t * 1e9)) % 2**64)
    h = np.full(len(q), k, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(q.shape[1]):
            h = _mix(h ^ q[:, j])
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53) - 0.5


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser."""
    z = (z + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
