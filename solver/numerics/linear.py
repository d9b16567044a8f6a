"""Linear solves: matrix assembled once, right-hand side per load step, KSP reused."""

from __future__ import annotations

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.fem.petsc
from mpi4py import MPI
from petsc4py import PETSc

from solver.errors import ConvergenceError
from solver.numerics import petsc_options


def rigid_body_modes(V: dolfinx.fem.FunctionSpace) -> PETSc.NullSpace:
    """Orthonormal rigid-body modes of a vector space (3 in 2D, 6 in 3D) for GAMG.

    Coordinates are centred and scaled to O(1) first so that rotations are well conditioned
    whatever the physical size of the domain (films are nanometres thick)."""
    dim = V.mesh.geometry.dim
    imap = V.dofmap.index_map
    n_local = imap.size_local
    bs = V.dofmap.index_map_bs
    x = V.tabulate_dof_coordinates()[:n_local, :dim]
    comm = V.mesh.comm
    lo = x.min(axis=0) if n_local else np.full(dim, np.inf)
    hi = x.max(axis=0) if n_local else np.full(dim, -np.inf)
    comm.Allreduce(MPI.IN_PLACE, lo, op=MPI.MIN)
    comm.Allreduce(MPI.IN_PLACE, hi, op=MPI.MAX)
    x = (x - 0.5 * (lo + hi)) / max(float(np.max(hi - lo)), 1e-300)
    n_modes = 3 if dim == 2 else 6
    basis = [dolfinx.la.vector(imap, bs, dtype=PETSc.ScalarType) for _ in range(n_modes)]
    b = [v.array.reshape(-1, bs)[:n_local] for v in basis]
    for i in range(dim):
        b[i][:, i] = 1.0
    if dim == 2:
        b[2][:, 0], b[2][:, 1] = -x[:, 1], x[:, 0]
    else:
        b[3][:, 0], b[3][:, 1] = -x[:, 1], x[:, 0]
        b[4][:, 0], b[4][:, 2] = x[:, 2], -x[:, 0]
        b[5][:, 2], b[5][:, 1] = x[:, 1], -x[:, 2]
    dolfinx.la.orthonormalize(basis)
    vecs = [dolfinx.la.petsc.create_vector_wrap(v) for v in basis]
    return PETSc.NullSpace().create(vectors=vecs, comm=comm)


class LinearSolver:
    """K u = f with K fixed across steps (Dirichlet dofs fixed, values may change)."""

    def __init__(self, a, L, u: dolfinx.fem.Function, bcs, prefix: str, options: dict,
                 near_nullspace: bool = False, options_key: str = "petsc_options"):
        self.a = dolfinx.fem.form(a)
        self.L = dolfinx.fem.form(L)
        self.u = u
        self.bcs = bcs
        self.A = dolfinx.fem.petsc.assemble_matrix(self.a, bcs=bcs)
        self.A.assemble()
        if near_nullspace:
            self._nsp = rigid_body_modes(u.function_space)
            self.A.setNearNullSpace(self._nsp)
        self.b = dolfinx.fem.petsc.create_vector(u.function_space)
        self.ksp = PETSc.KSP().create(u.function_space.mesh.comm)
        self.ksp.setOperators(self.A)
        self.prefix = prefix
        self.options = dict(options)
        petsc_options.configure(self.ksp, prefix, options, options_key)
        self.direct = options.get("ksp_type") == "preonly"
        self.iterations = 0

    def reassemble(self) -> None:
        """Re-assemble K after its coefficients changed (same sparsity); a direct solver
        refactors at the next solve."""
        self.A.zeroEntries()
        dolfinx.fem.petsc.assemble_matrix(self.A, self.a, bcs=self.bcs)
        self.A.assemble()
        self.ksp.setOperators(self.A)

    def solve(self) -> int:
        b = self.b
        with b.localForm() as loc:
            loc.set(0.0)
        dolfinx.fem.petsc.assemble_vector(b, self.L)
        dolfinx.fem.petsc.apply_lifting(b, [self.a], bcs=[self.bcs])
        b.ghostUpdate(addv=PETSc.InsertMode.ADD, mode=PETSc.ScatterMode.REVERSE)
        dolfinx.fem.petsc.set_bc(b, self.bcs)
        self.ksp.solve(b, self.u.x.petsc_vec)
        reason = self.ksp.getConvergedReason()
        self.iterations = self.ksp.getIterationNumber()
        if reason < 0:
            raise ConvergenceError(
                f"linear solver '{self.prefix}' diverged (KSPConvergedReason {reason}) after "
                f"{self.iterations} iterations; check that the supports prevent rigid-body "
                "motion, or try solver.type: direct",
                field=self.prefix.rstrip("_"), reason=reason, recoverable=False)
        if self.direct:  # a singular matrix can factor "successfully": check the residual
            r = self.b.duplicate()
            self.A.mult(self.u.x.petsc_vec, r)
            r.axpy(-1.0, b)
            rel = r.norm() / max(b.norm(), 1e-300)
            r.destroy()
            if not rel < 1e-6:
                raise ConvergenceError(
                    f"direct solver '{self.prefix}': residual {rel:.1e} after the solve; the "
                    "matrix is singular (supports do not prevent rigid-body motion?)",
                    field=self.prefix.rstrip("_"), reason=reason, recoverable=False)
        self.u.x.scatter_forward()
        return self.iterations

    def destroy(self) -> None:
        petsc_options.clear(self.prefix, self.options)
        self.ksp.destroy()
        self.A.destroy()
        self.b.destroy()
