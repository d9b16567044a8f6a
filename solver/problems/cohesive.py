"""M2 problem: multi-material elasticity with cohesive (debonding) interfaces.

Discretisation (docs/cohesive.md): the layer stack is split at the cohesive interfaces into
*parts* (e.g. [metal] and [coating, electrolyte]). Each part has its own displacement field
u_k, a P1/P2 vector field on the whole mesh whose dofs outside the part's cells are pinned
to zero (they are not coupled to anything). Inside a part u_k is continuous; across a
cohesive interface between parts a (below) and b (above) the jump [[u]] = u_b - u_a is a
real unknown. The interface term is an ordinary DOLFINx interior-facet integral on the one
mesh, so parallel assembly needs nothing beyond the shared-facet ghosting the mesh already
has. The cost is one extra vector field per part (its pinned dofs are cheap for LU).

The cohesive integral uses nodal (Newton-Cotes/Lobatto) quadrature: vertices for P1,
vertices and edge midpoints (Simpson) for P2 in 2D. Its quadrature points are the interface
nodes, so the damage history is a nodal function that is exactly the value at every
quadrature point (never healing, updated from the same law in numpy after each converged
step, consistent across ranks), the normal is a nodal field, and the lumped integration
avoids the traction oscillations of Gauss-integrated stiff interfaces (Schellekens & de
Borst 1993).

Loads scale with the load factor a(t) (``load_path``); Newton (SNES newtonls + MUMPS) per
load step; a step that fails is cut back by the stepper.
"""

from __future__ import annotations

import logging
import math
from functools import cached_property

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.fem.petsc
import dolfinx.la
import ufl
from mpi4py import MPI
from petsc4py import PETSc

from solver.config.checks import cohesive_interfaces
from solver.errors import ConvergenceError
from solver.numerics import petsc_options as popts
from solver.numerics.parallel import assemble_scalar, n_global_dofs
from solver.physics import bcs as mech_bcs
from solver.physics import cohesive as cz
from solver.physics import elasticity as el
from solver.problems.elasticity import constitutive_data, eigenstrain_expression

log = logging.getLogger("solver.problems.cohesive")

FARADAY = 96485.33212  # C/mol

# Newton with a backtracking line search (softening interfaces overshoot), MUMPS.
DEFAULTS = {
    "snes_type": "newtonls",
    "snes_linesearch_type": "bt",
    "snes_rtol": 1e-9,
    "snes_atol": 1e-12,
    "snes_stol": 1e-10,
    "snes_max_it": 10,
    "snes_error_if_not_converged": False,
    **popts.DIRECT,
}


class Interface:
    """One cohesive interface: its name, facet tag and the parts below and above."""

    def __init__(self, name: str, tag: int, below: int, above: int):
        self.name, self.tag, self.below, self.above = name, tag, below, above


class CohesiveProblem:
    prefix = "cohesive_"

    def __init__(self, case, geo, materials):
        cfg = self.cfg = case.physics.cohesive
        self.geo, self.materials = geo, materials
        mesh, dim = geo.mesh, geo.dim
        self.mesh, self.dim, self.comm = mesh, dim, mesh.comm
        L = cfg.law
        self.law = cz.BilinearLaw(L.stiffness, L.strength_normal, L.strength_shear,
                                  L.toughness_normal, L.toughness_shear, L.bk_exponent)
        self.eta = float(L.viscosity)
        self.eps = 1e-6 * min(self.law.onset_normal, self.law.onset_shear)
        self.amplitude = mech_bcs.LoadPath(cfg.load_path)

        # ---- parts: the layer stack split at the cohesive interfaces
        stack = list(geo.regions)
        pair = {f"interface_{a}_{b}": i
                for i, (a, b) in enumerate(zip(stack[:-1], stack[1:], strict=True))}
        names = sorted(cohesive_interfaces(case), key=pair.__getitem__)  # bottom up
        cuts = sorted(pair[n] for n in names)
        bounds = [0, *[c + 1 for c in cuts], len(stack)]
        self.parts = [stack[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        part_of = {r: k for k, p in enumerate(self.parts) for r in p}
        self.interfaces = [Interface(n, geo.boundaries[n], part_of[stack[pair[n]]],
                                     part_of[stack[pair[n] + 1]]) for n in names]
        self.part_names = [p[0] for p in self.parts]
        # the predelaminated segment (facet tag) belongs to the metal / first-coating
        # interface: used only when that one is cohesive (then it is interfaces[0])
        self.pd = (geo.boundaries.get("predelaminated")
                   if self.interfaces and pair[self.interfaces[0].name] == 0 else None)

        # ---- fields: one vector space object per part (same layout, distinct for the bcs)
        deg = cfg.degree
        self.V = [dolfinx.fem.functionspace(mesh, ("Lagrange", deg, (dim,)))
                  for _ in self.parts]
        for Vk in self.V[1:]:
            if not np.array_equal(Vk.dofmap.list, self.V[0].dofmap.list):
                raise RuntimeError("part spaces differ in dof layout")
        self.u = [dolfinx.fem.Function(Vk, name=f"displacement_{n}")
                  for Vk, n in zip(self.V, self.part_names, strict=True)]
        self.Vs = dolfinx.fem.functionspace(mesh, ("Lagrange", deg))
        self.dmg = [dolfinx.fem.Function(self.Vs, name=f"damage_{i.name}")
                    for i in self.interfaces]
        self.mix = [dolfinx.fem.Function(self.Vs, name=f"mode_mixity_{i.name}")
                    for i in self.interfaces]
        self.dmg_v = ([dolfinx.fem.Function(self.Vs, name=f"damage_viscous_{i.name}")
                       for i in self.interfaces] if self.eta > 0 else [])

        # ---- material law, loads
        self.matlaw = el.material_field(mesh, geo.cell_tags, constitutive_data(geo, materials))
        self.factor = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
        self.dt = dolfinx.fem.Constant(mesh, PETSc.ScalarType(1.0))
        self._zero = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))
        eps0 = eigenstrain_expression(cfg.eigenstrain, geo)
        self.eps0 = ufl.as_tensor(np.zeros((3, 3)).tolist())
        if eps0 is not None:
            self.eps0 = self.factor * eps0
        self.p_value = 0.0
        if cfg.pressure is not None:
            pr = cfg.pressure
            self.p_value = pr.value if pr.value is not None else (
                FARADAY * pr.overpotential
                / materials[case.geometry.metal.material].molar_volume)
        self.pressure = dolfinx.fem.Constant(mesh, PETSc.ScalarType(0.0))

        self.dx = ufl.Measure("dx", domain=mesh, subdomain_data=geo.cell_tags)
        self.ds = ufl.Measure("ds", domain=mesh, subdomain_data=geo.facet_tags)
        self.dS = ufl.Measure("dS", domain=mesh, subdomain_data=geo.facet_tags)
        rule = "vertex" if deg == 1 else "GLL"
        self.dS_nodal = ufl.Measure("dS", domain=mesh, subdomain_data=geo.facet_tags,
                                    metadata={"quadrature_rule": rule,
                                              "quadrature_degree": deg})
        self.chi = {k: mech_bcs.region_indicator(geo, {geo.regions[r] for r in p})
                    for k, p in enumerate(self.parts)}

        # ---- boundary conditions, per part; pinned dofs outside each part
        key = "physics.cohesive.boundary_conditions"
        self.bcs = [mech_bcs.build(Vk, geo, cfg.boundary_conditions, key, regions=p)
                    for Vk, p in zip(self.V, self.parts, strict=True)]
        self.dirichlet = [d for part in self.bcs for bc in part for d in bc.dirichlet]
        self.dirichlet += [self._pin_outside(k) for k in range(len(self.parts))]

        # ---- nodal normals and interface node sets
        self._nodes()

        # ---- residual and Newton solver
        self.F = self._residual()
        self._options = popts.merge(DEFAULTS, cfg.solver.petsc_options)
        self._problem = dolfinx.fem.petsc.NonlinearProblem(
            self.F, self.u, bcs=self.dirichlet, kind="mpi", petsc_options_prefix=self.prefix)
        popts.configure(self._problem.solver, self.prefix, self._options,
                        "physics.cohesive.solver.petsc_options")
        self.t = 0.0
        self._increment = None  # (last accepted step's change of each u_k, its dt)
        self._reaction = self._reaction_setup()

    # ------------------------------------------------------------------ set-up helpers
    def _residual(self) -> list:
        F = [self._bulk(k) for k in range(len(self.parts))]
        for i, itf in enumerate(self.interfaces):
            T = self._traction(i, itf)
            va = ufl.TestFunction(self.V[itf.below])
            vb = ufl.TestFunction(self.V[itf.above])
            F[itf.below] -= ufl.dot(T, va("+")) * self.dS_nodal(itf.tag)
            F[itf.above] += ufl.dot(T, vb("+")) * self.dS_nodal(itf.tag)
        if self.pd is not None and self.cfg.pressure is not None:
            a, b = self.interfaces[0].below, self.interfaces[0].above
            nm = self._normal_up(a)
            pd = self.dS(self.pd)
            F[a] += self.pressure * ufl.dot(nm, ufl.TestFunction(self.V[a])("+")) * pd
            F[b] -= self.pressure * ufl.dot(nm, ufl.TestFunction(self.V[b])("+")) * pd
        return F

    def _bulk(self, k: int):
        u, v = self.u[k], ufl.TestFunction(self.V[k])
        tags = tuple(self.geo.regions[r] for r in self.parts[k])
        dxk = self.dx(tags)
        F = ufl.inner(el.stress(u, self.matlaw, self.eps0, self.dim),
                      el.strain(v, self.dim)) * dxk
        for bc in self.bcs[k]:
            term = bc.form(v, self.ds)
            if term is not None:
                F -= term
        others = tuple(t for r, t in self.geo.regions.items() if r not in self.parts[k])
        if others:
            # a zero term on the other parts' cells: it puts the pinned dofs' diagonal in
            # the sparsity pattern (where the Dirichlet rows get their 1)
            F += self._zero * ufl.inner(u, v) * self.dx(others)
        return F

    def _normal_up(self, below: int):
        """Unit normal of an interface facet pointing out of part ``below``."""
        n, chi = ufl.FacetNormal(self.mesh), self.chi[below]
        return chi("+") * n("+") + chi("-") * n("-")

    def _pin_outside(self, k: int):
        """Dirichlet zero on the dofs of u_k that no cell of part k touches (agreed across
        ranks: a dof is active if any rank sees an active cell on it)."""
        active = mech_bcs.nodes_of_regions(self.V[k], self.geo, self.parts[k])
        inactive = np.flatnonzero(~active).astype(np.int32)
        return dolfinx.fem.dirichletbc(np.zeros(self.dim, dtype=PETSc.ScalarType),
                                       inactive, self.V[k])

    def _nodes(self) -> None:
        """Nodal unit normals (area-weighted facet normals, pointing up out of the lower
        part) on each cohesive interface (+ the predelaminated segment for the first), and
        the local node (block) indices there."""
        V = self.V[0]
        imap = V.dofmap.index_map
        w = ufl.TestFunction(V)
        self.normals, self.coh_nodes = [], []
        pd = self.pd
        self.pd_nodes = np.zeros(0, dtype=np.int32)
        for i, itf in enumerate(self.interfaces):
            nm = self._normal_up(itf.below)
            form = ufl.dot(nm, w("+")) * self.dS_nodal(itf.tag)
            if i == 0 and pd is not None:
                form += ufl.dot(nm, w("+")) * self.dS_nodal(pd)
            b = dolfinx.fem.assemble_vector(dolfinx.fem.form(form))
            b.scatter_reverse(dolfinx.la.InsertMode.add)
            b.scatter_forward()
            arr = b.array.reshape(-1, self.dim)
            norm = np.linalg.norm(arr, axis=1)
            n = dolfinx.fem.Function(V, name=f"normal_{itf.name}")
            on = norm > 0
            n.x.array.reshape(-1, self.dim)[on] = arr[on] / norm[on, None]
            self.normals.append(n)
            self.coh_nodes.append(self._nodes_on(itf.tag))
            if i == 0 and pd is not None:  # (its tip nodes are in both sets)
                self.pd_nodes = self._nodes_on(pd)
        self.n_owned_nodes = imap.size_local

    def _nodes_on(self, tag: int) -> np.ndarray:
        """Local node (block) indices on the facets ``tag`` (ghosts included, agreed across
        ranks): where the nodal-quadrature weights sum to more than zero."""
        one = dolfinx.fem.assemble_vector(dolfinx.fem.form(
            ufl.TestFunction(self.Vs)("+") * self.dS_nodal(tag)))
        one.scatter_reverse(dolfinx.la.InsertMode.add)
        one.scatter_forward()
        return np.flatnonzero(one.array > 0).astype(np.int32)

    def _traction(self, i: int, itf: Interface):
        """UFL traction at the interface nodes (damage never below its history)."""
        jump = self.u[itf.above]("+") - self.u[itf.below]("+")
        n = self.normals[i]("+")
        dn, ds2 = cz.separations(jump, n, ufl.dot)
        lam, _, d0, df = cz.mixed_mode(dn, ds2, self.law, cz.UFL, self.eps)
        d = ufl.max_value(self.dmg[i]("+"), cz.trial_damage(lam, d0, df, cz.UFL))
        if self.eta > 0:
            d = (self.dt * d + self.eta * self.dmg_v[i]("+")) / (self.eta + self.dt)
        return cz.traction(jump, n, dn, d, self.law, cz.UFL)

    def _reaction_setup(self):
        """Reactions of the first non-zero displacement condition, summed over the parts
        that carry it (physics/bcs.reaction_forms)."""
        return mech_bcs.reaction_forms(
            self.cfg.boundary_conditions,
            [(self.bcs[k], self.F[k], self.V[k]) for k in range(len(self.parts))], self.comm)

    # ------------------------------------------------------------------ stepping interface
    @property
    def n_dofs(self) -> int:
        return sum(n_global_dofs(Vk) for Vk in self.V)

    def state(self) -> dict[str, dolfinx.fem.Function]:
        out = {f.name: f for f in self.u}
        out.update({f.name: f for f in self.dmg + self.mix + self.dmg_v})
        return out

    def set_time(self, t: float) -> None:
        a = self.amplitude(t)
        self.factor.value = a
        self.pressure.value = a * self.p_value
        for part in self.bcs:
            for bc in part:
                bc.update(a)
        self.t = float(t)

    def solve(self, t: float) -> dict:
        dt = t - self.t
        if not dt > 0:
            raise ValueError(f"cohesive: load time {t} is not after {self.t}")
        t_prev = self.t
        self.set_time(t)
        self.dt.value = dt
        start = [u.x.array.copy() for u in self.u]
        if self._increment is not None:  # linear predictor from the last accepted step
            inc, dt_last = self._increment
            for u, du in zip(self.u, inc, strict=True):
                u.x.array[:] += (dt / dt_last) * du
        reason, its, lin = popts.solve_nonlinear(self._problem)
        if reason <= 0:
            for u, a in zip(self.u, start, strict=True):
                u.x.array[:] = a
            self.set_time(t_prev)
            raise ConvergenceError(
                f"cohesive Newton diverged (SNESConvergedReason {reason}"
                f"{popts.reason_name(reason)}) after {its} iterations at load factor "
                f"{self.amplitude(t):.6g}; if "
                "this persists the delamination is unstable under this load control "
                "(snap-back): load by displacement, or set physics.cohesive.law.viscosity",
                field="cohesive", reason=reason)
        self._commit(dt)
        self._increment = ([u.x.array - a for u, a in zip(self.u, start, strict=True)], dt)
        return {"newton_iterations": its, "linear_iterations": lin}

    def nodal(self, i: int, nodes: np.ndarray | None = None):
        """(dn, |ds|, d_trial, B, jump) at the interface's nodes (numpy, local)."""
        itf = self.interfaces[i]
        nodes = self.coh_nodes[i] if nodes is None else nodes
        ua = self.u[itf.below].x.array.reshape(-1, self.dim)[nodes]
        ub = self.u[itf.above].x.array.reshape(-1, self.dim)[nodes]
        n = self.normals[i].x.array.reshape(-1, self.dim)[nodes]
        jump = ub - ua
        return (*cz.nodal_state(jump, n, self.law, self.eps), jump)

    def _commit(self, dt: float) -> None:
        """Irreversible history at the nodes after an accepted step."""
        for i in range(len(self.interfaces)):
            nodes = self.coh_nodes[i]
            _, _, d_trial, B, _ = self.nodal(i)
            d_old = self.dmg[i].x.array[nodes]
            grow = d_trial > d_old
            self.mix[i].x.array[nodes[grow]] = B[grow]
            d_new = np.maximum(d_old, d_trial)
            self.dmg[i].x.array[nodes] = d_new
            if self.eta > 0:
                dv = self.dmg_v[i].x.array
                dv[nodes] = (dt * d_new + self.eta * dv[nodes]) / (self.eta + dt)
        for f in self.dmg + self.mix + self.dmg_v:
            f.x.scatter_forward()

    # ------------------------------------------------------------------ metrics
    @cached_property
    def _metric_forms(self):
        full, any_, diss = 0, 0, 0
        for i, itf in enumerate(self.interfaces):
            d = self.dmg[i]("+")
            full += ufl.conditional(ufl.ge(d, 1.0 - 1e-9), 1.0, 0.0) * self.dS_nodal(itf.tag)
            any_ += ufl.conditional(ufl.gt(d, 1e-9), 1.0, 0.0) * self.dS_nodal(itf.tag)
            diss += cz.dissipation_density(d, self.mix[i]("+"), self.law, cz.UFL) \
                * self.dS_nodal(itf.tag)
        energy = 0
        for k in range(len(self.parts)):
            tags = tuple(self.geo.regions[r] for r in self.parts[k])
            energy += el.stored_energy(self.u[k], self.matlaw, self.eps0, self.dim,
                                       self.dx(tags))
        return {k: dolfinx.fem.form(f) for k, f in (
            ("full", full), ("any", any_), ("dissipated", diss), ("energy", energy))}

    def _length(self, measure: float) -> float:
        """2D: the length itself; 3D: diameter of the disc of that area."""
        return measure if self.dim == 2 else 2.0 * math.sqrt(max(measure, 0.0) / math.pi)

    def metrics(self) -> dict:
        f = self._metric_forms
        opening = 0.0
        for i in range(len(self.interfaces)):
            *_, jump = self.nodal(i)
            own = jump[self.coh_nodes[i] < self.n_owned_nodes]
            opening = max(opening, float(np.linalg.norm(own, axis=1).max(initial=0.0)))
        nucleation = -math.inf
        if self.pd is not None:
            dn, _, _, _, jump = self.nodal(0, self.pd_nodes)
            own = self.pd_nodes < self.n_owned_nodes
            opening = max(opening, float(np.linalg.norm(jump[own], axis=1).max(initial=0.0)))
            nucleation = float(dn[own].max(initial=-math.inf))
        out = {
            "load_factor": self.amplitude(self.t),
            "max_opening_m": self.comm.allreduce(opening, op=MPI.MAX),
            "delamination_length_m": self._length(assemble_scalar(f["full"])),
            "damaged_length_m": self._length(assemble_scalar(f["any"])),
            "dissipated_energy_J": assemble_scalar(f["dissipated"]),
            "strain_energy_J": assemble_scalar(f["energy"]),
        }
        if self.pd is not None:
            out["nucleation_length_m"] = self.comm.allreduce(nucleation, op=MPI.MAX)
        if self._reaction is not None:
            main, value, forms = self._reaction
            for comp, form in forms.items():
                out[f"reaction_force_{'xyz'[comp]}_N"] = assemble_scalar(form)
            out["reaction_force_N"] = out[f"reaction_force_{'xyz'[main]}_N"]
            out["applied_displacement_m"] = self.amplitude(self.t) * value
        return out

    # ------------------------------------------------------------------ run hooks
    def describe(self) -> str:
        parts = " | ".join("+".join(p) for p in self.parts)
        return (f"cohesive: P{self.cfg.degree}, {self.n_dofs} dofs in {len(self.parts)} "
                f"displacement fields ({parts}); interfaces "
                f"{', '.join(i.name for i in self.interfaces)}; pressure "
                f"{self.p_value:.4g} Pa")

    def history_columns(self) -> list[str]:
        cols = ["load_factor", "reaction_force_N", "applied_displacement_m",
                "delamination_length_m", "damaged_length_m", "max_opening_m",
                "nucleation_length_m", "dissipated_energy_J", "strain_energy_J"]
        if self._reaction is None:
            cols = [c for c in cols if c not in ("reaction_force_N", "applied_displacement_m")]
        else:
            cols += [f"reaction_force_{'xyz'[c]}_N" for c in self._reaction[2]]
        if self.pd is None:
            cols.remove("nucleation_length_m")
        return cols

    def output_groups(self) -> dict[str, list[dolfinx.fem.Function]]:
        return {"displacement": self.u, "damage": self.dmg}

    def update_outputs(self) -> None:
        pass

    def interface_rows(self) -> tuple[list[str], np.ndarray | None]:
        """Per interface node (owned), gathered on rank 0 sorted by x: coordinates,
        interface index, normal opening, slip, damage, mode mixity."""
        from solver.numerics.parallel import gather_rows

        X = self.V[0].tabulate_dof_coordinates()[:, : self.dim]
        rows = []
        for i in range(len(self.interfaces)):
            nodes = self.coh_nodes[i]
            if i == 0 and len(self.pd_nodes):
                nodes = np.union1d(nodes, self.pd_nodes).astype(np.int32)
            dn, ds, _, _, _ = self.nodal(i, nodes)
            own = nodes < self.n_owned_nodes
            dmg = self.dmg[i].x.array[nodes].copy()
            if i == 0 and len(self.pd_nodes):  # the predelaminated segment is debonded
                dmg[~np.isin(nodes, self.coh_nodes[0])] = 1.0
            r = np.column_stack([X[nodes], np.full(len(nodes), i), dn, ds, dmg,
                                 self.mix[i].x.array[nodes]])
            rows.append(r[own])
        header = ["x", "y", "z"][: self.dim] + ["interface", "opening_normal_m", "slip_m",
                                                "damage", "mode_mixity"]
        allrows = gather_rows(self.comm, np.vstack(rows) if rows else
                              np.zeros((0, len(header))))
        if allrows is not None and len(allrows):
            allrows = allrows[np.lexsort((allrows[:, 0], allrows[:, self.dim]))]
        return header, allrows

    def stress_metrics(self) -> dict:
        """Largest von Mises stress per region (Pa) from its part's displacement."""
        from solver.postprocess import region_extremum

        Q = dolfinx.fem.functionspace(self.mesh, ("DG", max(self.cfg.degree - 1, 0)))
        out = {}
        for k, part in enumerate(self.parts):
            vm = el.von_mises(el.stress(self.u[k], self.matlaw, self.eps0, self.dim))
            for r in part:
                out[f"max_von_mises_Pa_{r}"] = region_extremum(vm, Q, self.geo, r)
        out["max_von_mises_Pa"] = max(out.values())
        return out

    def finish(self, out, draw: bool) -> dict:
        header, rows = self.interface_rows()
        names = [i.name for i in self.interfaces]
        table = [] if rows is None else [
            [*r[: self.dim], names[int(r[self.dim])], *r[self.dim + 1:]] for r in rows]
        out.write_csv("interface_opening.csv", header, table)
        if draw and out.rank0 and rows is not None and len(rows):
            from solver.io import figures

            x = rows[:, 0]
            figures.plot_profile(out.figures / "interface_opening.png",
                                 {"normal opening": (x, rows[:, self.dim + 1]),
                                  "slip": (x, rows[:, self.dim + 2])},
                                 "x (um)", "opening (nm)", "interface opening",
                                 xscale=1e6, yscale=1e9)
            figures.plot_profile(out.figures / "interface_damage.png",
                                 {"damage": (x, rows[:, self.dim + 3])},
                                 "x (um)", "damage", "interface damage", xscale=1e6)
        return self.stress_metrics()

    def destroy(self) -> None:
        popts.destroy_nonlinear(self._problem, self.prefix, self._options)
