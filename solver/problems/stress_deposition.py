"""M4 problem: phase-field electrodeposition coupled to the stress in the deposit and coating.

``StressDepositionProblem`` composes the M3 ``ElectrodepositionProblem`` (xi, c, phi) with a
linear elasticity solve (displacement u, P``degree``) whose moduli follow the phase and
whose eigenstrain is the deposit (physics/deposition_stress.py). The hydrostatic stress
shifts the Butler-Volmer overpotential by Omega sigma_h / RT.

Coupling, per time step (staggered, to a tolerance): with the step begun from the accepted
state, the fixed point xi = G(xi) of
    1. elasticity with the moduli and eigenstrain of the mechanics' xi (xi_m);
    2. one Newton solve of (xi, c, phi) with the resulting stress shift (from the previous
       iterate's solution: a good initial guess), G(xi_m) = its xi;
iterated until max |G(xi_m) - xi_m| < ``tolerance``, the next xi_m mixed from the last
``anderson_depth`` iterates by Anderson acceleration (numerics/anderson.py; depth 0 is the
plain iteration xi_m <- G(xi_m)); then a last elasticity solve, so that the stress belongs
to the accepted xi. A loop that does not converge in ``max_iterations``
raises a recoverable ConvergenceError: the shared Stepper cuts the step back, so the time
step adapts to both physics. The displacement is a function of xi and is not stored in
checkpoints: it is recomputed from the restored xi.

With ``coupling="monolithic"`` the displacement is instead a fourth field of the phase-field
Newton (``_Monolithic``): moduli, eigenstrain and stress shift follow the live xi and each
step is one Newton solve (docs/stress_deposition.md, section 2: the staggered loop is
cheaper where the stress hardly changes the kinetics; the monolithic Newton converges under
stiff layers where the staggered one diverges).
"""

from __future__ import annotations

import math

import numpy as np

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import dolfinx.fem.petsc
import ufl
from mpi4py import MPI

from solver.errors import ConvergenceError
from solver.numerics.anderson import Anderson, clip_mixed
from solver.numerics import petsc_options as popts
from solver.numerics.linear import LinearSolver
from solver.numerics.parallel import n_global_dofs
from solver.physics import deposition_stress as ds
from solver.physics import elasticity as el
from solver.physics.electrodeposition import equilibrium_profile
from solver.problems.electrodeposition import ElectrodepositionProblem, crossings


def flat_reference(height: float, ell: float, axis: int):
    """xi of a flat interface at ``height`` (equilibrium profile, width ell)."""
    def xi(x):
        return equilibrium_profile(x[axis] - height, ell)
    return xi


def rollers(mesh, x_planes, y_planes):
    """mech_dirichlet for a 2D box: u_x = 0 on the lines x = x_planes, u_y = 0 on the lines
    y = y_planes (symmetry planes, supports)."""
    def build(V):
        out = []
        for comp, coords in ((0, tuple(x_planes)), (1, tuple(y_planes))):
            f = dolfinx.mesh.locate_entities_boundary(
                mesh, 1, lambda X, c=coords, a=comp: np.any(
                    [np.isclose(X[a], v) for v in c], axis=0))
            dofs = dolfinx.fem.locate_dofs_topological(V.sub(comp), 1, f)
            out.append(dolfinx.fem.dirichletbc(0.0, dofs, V.sub(comp)))
        return out
    return build


class StressDepositionProblem:
    def __init__(self, mesh, params, *, xi0, metal_elastic: tuple[float, float],
                 background_lame, molar_volume: float, mech_dirichlet,
                 reference="initial", degree: int = 2, tolerance: float = 1e-6,
                 max_iterations: int = 20, anderson_depth: int = 5,
                 mech_options: dict | None = None,
                 mech_load=None, prefix: str = "stress_deposition_",
                 ed_class=ElectrodepositionProblem, film=None, coupling: str = "staggered",
                 **ed_kwargs):
        """metal_elastic: (E, nu) of the metal phase. background_lame: (lambda, mu) of the
        non-metal phase, floats or cell-wise fields. molar_volume: Omega of the metal,
        m^3/mol. mech_dirichlet: V -> list of DirichletBC (the supports). mech_options:
        the elasticity solve's PETSc options (default MUMPS, popts.DIRECT). reference:
        "initial" (xi0 is stress-free), or a callable xi_ref(x) (e.g. ``flat_reference``).
        mech_load: optional v -> UFL linear form of boundary loads (tractions, pressure).
        ed_class: the phase-field problem class (ElectrodepositionProblem or a subclass);
        ed_kwargs: passed to it (boundaries, regions, solver). anderson_depth: Anderson
        mixing depth of the coupling loop (0: plain fixed-point iteration). film: optional
        ((E, nu), thickness) of a film that rides on the metal (``ds.film_fraction``): the
        non-metal phase has its moduli within ``thickness`` of the xi_m = 1/2 line, so the
        film is part of the map G(xi) of the coupling loop. coupling: "staggered" (the
        fixed point above) or "monolithic": the displacement is a fourth field of the
        phase-field problem's Newton solve (``_Monolithic``), moduli, eigenstrain and stress
        shift follow the live xi, and each step is one Newton solve (direct solver; no
        riding film)."""
        self.mesh, self.params, self.comm = mesh, params, mesh.comm
        self.tdim = mesh.topology.dim
        self.tolerance, self.max_iterations = float(tolerance), int(max_iterations)
        self.anderson_depth = int(anderson_depth)
        self.molar_volume = float(molar_volume)
        self.metal_elastic = tuple(metal_elastic)

        if coupling not in ("staggered", "monolithic"):
            raise ValueError(f"coupling must be 'staggered' or 'monolithic', got {coupling!r}")
        if coupling == "monolithic" and film is not None:
            raise ValueError("a riding film needs the staggered coupling")
        self.coupling = coupling

        V1 = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
        self.xi_m = dolfinx.fem.Function(V1, name="xi_mechanics")  # xi the stress belongs to
        self.xi_ref = dolfinx.fem.Function(V1, name="xi_reference")
        self.xi_ref.interpolate(xi0 if reference == "initial" else reference)
        lm_metal = ds.lame(*metal_elastic)
        self.film = None
        self._mono = None
        if coupling == "monolithic":
            self._mono = _Monolithic(mesh, degree, params.nondimensional().length_scale,
                                     metal_elastic[0], lm_metal, background_lame,
                                     self.xi_ref, molar_volume, params.T, mech_dirichlet,
                                     mech_load)
            self.ed = ed_class(mesh, params, xi0=xi0, mechanics=self._mono, **ed_kwargs)
            self.V, self._u_map = self.ed.W.sub(3).collapse()
            self._u_map = np.asarray(self._u_map, dtype=np.int32).reshape(-1)
        else:
            self.V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (self.tdim,)))
        self.u_mech = dolfinx.fem.Function(self.V, name="displacement")
        if film is not None:
            (E_f, nu_f), thickness = film
            self.film_chi = dolfinx.fem.Function(V1, name="film")
            self.film = (float(thickness), float(params.interface_width),
                         V1.tabulate_dof_coordinates()[:, : mesh.geometry.dim])
            lf = ds.lame(E_f, nu_f)
            chi = self.film_chi
            background_lame = (chi * lf[0] + (1 - chi) * background_lame[0],
                               chi * lf[1] + (1 - chi) * background_lame[1])
        self.lmbda, self.mu = ds.phase_moduli(self.xi_m, lm_metal, background_lame)
        self.eps_star = ds.growth_eigenstrain(self.xi_m, self.xi_ref, self.tdim)
        self.sigma = ds.stress(self.u_mech, self.lmbda, self.mu, self.eps_star, self.tdim)
        if self._mono is None:
            shift = ds.bv_shift(self.sigma, self.molar_volume, params.T)
            self.ed = ed_class(mesh, params, xi0=xi0, bv_shift=shift, **ed_kwargs)

        self.degree = degree
        self.mech_bcs = list(mech_dirichlet(self.V))  # before mech_load: it may use them
        qd = 2 * degree
        self.dx_m = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": qd})
        du, v = ufl.TrialFunction(self.V), ufl.TestFunction(self.V)
        a = ds.bilinear_form(du, v, self.lmbda, self.mu, self.tdim, self.dx_m)
        L = ds.eigenstrain_load(v, self.lmbda, self.mu, self.eps_star, self.tdim, self.dx_m)
        if mech_load is not None:
            extra = mech_load(v)
            if extra is not None:
                L = L + extra
        opts = dict(mech_options if mech_options is not None else popts.DIRECT)
        self.ed.xi_into(self.xi_m)
        self._update_film()
        self.linear = LinearSolver(a, L, self.u_mech, self.mech_bcs, prefix, opts,
                                   near_nullspace=opts.get("ksp_type") != "preonly",
                                   options_key="physics.electrodeposition.mechanics.solver")
        self._mech_solve(reassemble=False)
        self._into_mixed()
        self.iterations = 0

    def _into_mixed(self) -> None:
        """Monolithic: put the elasticity solution into the Newton's accepted state and
        initial guess (at the start and after a restart: u is a function of xi)."""
        if self._mono is None:
            return
        scaled = self.u_mech.x.array / self._mono.scale
        for f in (self.ed.u, self.ed.u_n):
            f.x.array[self._u_map] = scaled
            f.x.scatter_forward()

    def _from_mixed(self) -> None:
        """Monolithic: the stress fields of the outputs and metrics (u_mech, xi_m) from the
        Newton's current state."""
        self.u_mech.x.array[:] = self.ed.u.x.array[self._u_map] * self._mono.scale
        self.u_mech.x.scatter_forward()
        self.ed.xi_into(self.xi_m)

    # ------------------------------------------------------------------ mechanics
    def _mech_solve(self, reassemble: bool = True) -> int:
        """Elasticity for the current xi; skipped when xi is bitwise the one the stress
        already belongs to (the first iteration of a step after an accepted step)."""
        xi = self.ed.xi_values()
        same = int(reassemble and np.array_equal(xi, self.xi_m.x.array))
        if self.comm.allreduce(same, op=MPI.MIN):
            return 0
        self.ed.xi_into(self.xi_m)
        self._update_film()
        if reassemble:
            self.linear.reassemble()
        return self.linear.solve()

    def _update_film(self) -> None:
        """Move the riding film onto the xi_m = 1/2 line (every rank gets all front points:
        the film near a partition boundary sees the front on the other side)."""
        if self.film is None:
            return
        thickness, width, X = self.film
        xi = self.xi_m.x.array
        pts, hit = crossings(self.xi_m.function_space, xi)
        front = np.concatenate(self.comm.allgather(pts[hit]), axis=0)
        self.film_chi.x.array[:] = ds.film_fraction(X, xi, front, thickness, width)

    # ------------------------------------------------------------------ stepping interface
    @property
    def n_dofs(self) -> int:
        if self._mono is not None:  # u is a field of the phase-field problem
            return self.ed.n_dofs
        return self.ed.n_dofs + n_global_dofs(self.V)

    @property
    def t(self) -> float:
        return self.ed.t

    def state(self) -> dict[str, dolfinx.fem.Function]:
        return self.ed.state()

    def set_time(self, t: float) -> None:
        self.ed.set_time(t)
        self._mech_solve()
        self._into_mixed()

    def solve(self, t: float) -> dict:
        """The fixed point xi = G(xi) of one time step (module docstring)."""
        ed = self.ed
        ed.begin_step(t)
        if self._mono is not None:
            try:
                info = ed.newton(t)
            finally:
                self._from_mixed()
            self.iterations = 1
            return {**info, "coupling_iterations": 1}
        n = self.xi_m.function_space.dofmap.index_map.size_local
        acc = Anderson(self.comm, self.anderson_depth) if self.anderson_depth > 0 else None
        newton = linear = k = 0
        dxi = math.inf
        try:
            linear += self._mech_solve()  # the start state's stress (skipped if current)
            while k < self.max_iterations:
                k += 1
                x_in = self.xi_m.x.array[:n].copy()
                info = ed.newton(t)
                newton = max(newton, info["newton_iterations"])
                linear += info["linear_iterations"]
                g = ed.xi_values()[:n]
                dxi = self.comm.allreduce(float(np.max(np.abs(g - x_in), initial=0.0)),
                                          op=MPI.MAX)
                if dxi < self.tolerance:
                    break
                nxt = acc.update(x_in, g.copy()) if acc is not None else g
                self.xi_m.x.array[:n] = clip_mixed(nxt, g)
                self.xi_m.x.scatter_forward()
                self._update_film()
                self.linear.reassemble()
                linear += self.linear.solve()
            if not dxi < self.tolerance:
                raise ConvergenceError(
                    f"stress-deposition coupling: max |G(xi) - xi| = {dxi:.2e} after "
                    f"{k} iterations at t={t:.6g} s (tolerance {self.tolerance:g})",
                    field="stress_deposition", reason=-1)
        except ConvergenceError:
            ed.reject_step()
            self._mech_solve()  # stress of the restored state
            raise
        self._mech_solve()
        self.iterations = k
        # newton_iterations: the most one Newton solve of the loop took (the stepper grows dt
        # after easy steps); the loop's length is coupling_iterations
        return {"newton_iterations": newton, "linear_iterations": linear,
                "change": info["change"], "coupling_iterations": k}

    # ------------------------------------------------------------------ metrics
    def interface_stress(self):
        """Points of the xi = 1/2 line and the hydrostatic and growth-direction normal stress
        there (Pa): (P, sigma_h, sigma_nn). A crossing of a cell edge is evaluated in every
        owned cell that has the edge (the stress is discontinuous between cells), so the set
        of values does not depend on the partition."""
        pts, hit = self.ed._crossings()
        cells = np.nonzero(hit)[0].astype(np.int32)  # rows of _crossings are local cells
        P = pts[hit]
        if not hasattr(self, "_sig_out"):
            Q = dolfinx.fem.functionspace(self.mesh, ("DG", max(self.degree - 1, 0)))
            a = self.tdim - 1
            self._sig_out = []
            for expr in (el.hydrostatic(self.sigma), self.sigma[a, a]):
                self._sig_out.append((dolfinx.fem.Function(Q), dolfinx.fem.Expression(
                    expr, Q.element.interpolation_points)))
        vals = []
        for f, e in self._sig_out:
            f.interpolate(e)
            if len(P):
                X = np.zeros((len(P), 3))
                X[:, : P.shape[1]] = P
                vals.append(f.eval(X, cells).reshape(-1))
            else:
                vals.append(np.zeros(0))
        return P, vals[0], vals[1]

    def metrics(self) -> dict:
        out = self.ed.metrics()
        out["coupling_iterations"] = self.iterations
        _, sh, snn = self.interface_stress()
        for key, v in (("interface_hydrostatic_stress", sh), ("interface_normal_stress", snn)):
            out[f"{key}_min_Pa"] = self.comm.allreduce(
                float(v.min()) if len(v) else math.inf, op=MPI.MIN)
            out[f"{key}_max_Pa"] = self.comm.allreduce(
                float(v.max()) if len(v) else -math.inf, op=MPI.MAX)
        return out

    def destroy(self) -> None:
        self.linear.destroy()
        self.ed.destroy()


class _Monolithic:
    """The displacement as the fourth field of M3's Newton solve (``mechanics`` of
    ``ElectrodepositionProblem``). The unknown is w = u / length_scale (so that its Newton
    updates are measured on the scale of the other fields), the residual the elasticity
    weak form int sigma(u, xi) : eps(v) dx - loads, scaled by 1 / (E_ref length_scale^(d-1)),
    with moduli and eigenstrain of the live xi: the Newton sees the full coupling (the
    stress shift's dependence on xi through the moduli, the eigenstrain and u)."""

    def __init__(self, mesh, degree, length_scale, E_ref, lm_metal, background_lame,
                 xi_ref, molar_volume, T, mech_dirichlet, mech_load):
        self.tdim = mesh.topology.dim
        self.element = basix.ufl.element("Lagrange", mesh.basix_cell(), degree,
                                         shape=(self.tdim,))
        self.scale = float(length_scale)
        self._factor = 1.0 / (float(E_ref) * self.scale ** (self.tdim - 1))
        self._args = (lm_metal, background_lame, xi_ref, molar_volume, T, mech_dirichlet,
                      mech_load)
        self.dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 2 * degree})

    def build(self, V, xi, w, v):
        lm_metal, background, xi_ref, molar_volume, T, dirichlet, load = self._args
        lmbda, mu = ds.phase_moduli(xi, lm_metal, background)
        sigma = ds.stress(self.scale * w, lmbda, mu,
                          ds.growth_eigenstrain(xi, xi_ref, self.tdim), self.tdim)
        F = ufl.inner(sigma, el.strain(v, self.tdim)) * self.dx
        bcs = list(dirichlet(V))  # in metres: w = u / scale
        for bc in bcs:
            g = bc.g  # a (C++) Constant or Function
            if hasattr(g, "x"):
                g.x.array[:] /= self.scale
            else:
                g.value[...] = np.asarray(g.value) / self.scale
        extra = load(v) if load is not None else None
        if extra is not None:
            F = F - extra
        return self._factor * F, ds.bv_shift(sigma, molar_volume, T), bcs


def sinusoid_growth_rate(wavelength: float, params, metal: tuple[float, float],
                         coating: tuple[float, float], molar_volume: float, comm=MPI.COMM_WORLD,
                         amplitude: float = 1e-8, steps: int = 6, cells_per_um: float = 4.0,
                         dt: float | None = None, coupling: str = "staggered") -> dict:
    """Measured growth rate (1/s) of a small sinusoidal perturbation of a flat metal/coating
    interface: the finite-element counterpart of ``deposition_stress.linear_growth_rate``.

    Half a wavelength wide (rollers on the sides are the symmetry planes of cos(k x)),
    metal below and coating above, each max(wavelength, 8 um) deep; quadrilaterals graded
    to about l/4 at the interface; flat stress-free reference; params as given (use fast
    transport and eta = 0 to compare with the analysis). metal, coating: (G, nu). The
    amplitude is the cos(k x) moment of xi, a = (4/wavelength) int xi cos(k x) dx, exact
    for any profile; the rate is the backward-Euler one, (1 - a_n/a_(n+1))/dt, of the last
    step. Returns {"rate", "expected", "capillary", "amplitudes", "n_dofs"}."""
    from solver.numerics.parallel import assemble_scalar

    k = 2 * math.pi / wavelength
    Y = max(wavelength, 8e-6)
    ell = params.interface_width
    nx = max(int(round(wavelength / 2 * cells_per_um * 1e6)), 4)
    mesh = dolfinx.mesh.create_rectangle(comm, [[0, -1], [wavelength / 2, 1]], [nx, 100],
                                         cell_type=dolfinx.mesh.CellType.quadrilateral)
    x = mesh.geometry.x
    x[:, 1] = Y * np.sinh(3.6 * x[:, 1]) / math.sinh(3.6)  # ~l/4 cells at the interface

    def xi0(X):
        return equilibrium_profile(X[1] - amplitude * np.cos(k * X[0]), ell)

    def young(G, nu):
        return 2 * G * (1 + nu), nu

    prob = StressDepositionProblem(
        mesh, params, xi0=xi0, metal_elastic=young(*metal),
        background_lame=ds.lame(*young(*coating)), molar_volume=molar_volume,
        mech_dirichlet=rollers(mesh, (0.0, wavelength / 2), (-Y,)),
        reference=flat_reference(0.0, ell, 1), coupling=coupling,
        electrolyte=lambda X: np.isclose(X[1], Y), metal=lambda X: np.isclose(X[1], -Y))
    xi = ufl.split(prob.ed.u)[0]
    amp = dolfinx.fem.form(4 / wavelength * xi * ufl.cos(k * ufl.SpatialCoordinate(mesh)[0])
                           * ufl.dx)
    expected = ds.linear_growth_rate(k, params, metal, coating, molar_volume)
    dt = dt or 0.02 / abs(expected)
    a, t = [assemble_scalar(amp)], 0.0
    for _ in range(steps):
        t += dt
        info = prob.solve(t)
        a.append(assemble_scalar(amp))
    n = prob.n_dofs
    prob.destroy()
    return {"rate": (1 - a[-2] / a[-1]) / dt, "expected": expected,
            "capillary": -params.L_sigma * params.kappa0 * k**2, "amplitudes": a,
            "n_dofs": n, "coupling_iterations": info["coupling_iterations"]}
