"""M1 elasticity verified against manufactured solutions.

What: the plane-strain (2D) and 3D weak forms of solver.physics.elasticity, isotropic and
rotated-anisotropic (Voigt) laws, with a spatially varying eigenstrain field.
Against: an exact smooth displacement u_e; body force f = -div(C:(eps(u_e) - eps0)).
Pass: observed L2 and H1 convergence rates within 0.1 of k+1 and k (P1, P2), on 1 or 2 ranks.
"""

from __future__ import annotations

import numpy as np
import pytest

import solver.compat  # noqa: F401
import dolfinx
import ufl
from mpi4py import MPI

from solver.materials import stiffness
from solver.numerics import petsc_options
from solver.numerics.linear import LinearSolver
from solver.numerics.parallel import assemble_scalar
from solver.physics import elasticity as el


def _mesh(dim, n):
    if dim == 2:
        return dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, n, n)
    return dolfinx.mesh.create_unit_cube(MPI.COMM_WORLD, n, n, n)


def _exact(x, dim):
    if dim == 2:
        return ufl.as_vector([ufl.sin(np.pi * x[0]) * ufl.cos(0.5 * np.pi * x[1]),
                              0.3 * ufl.sin(np.pi * x[1]) * x[0] ** 2])
    return ufl.as_vector([ufl.sin(np.pi * x[0]) * ufl.cos(0.5 * np.pi * x[1]) * (1 + x[2]),
                          0.3 * ufl.sin(np.pi * x[1]) * x[0] ** 2,
                          ufl.cos(np.pi * x[2]) * x[1]])


def _law(mesh, anisotropic: bool):
    tags = dolfinx.mesh.meshtags(
        mesh, mesh.topology.dim,
        np.arange(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32),
        np.ones(mesh.topology.index_map(mesh.topology.dim).size_local, dtype=np.int32))
    if anisotropic:
        C = stiffness.transversely_isotropic_voigt(2.0, 0.7, 0.6, 1.4, 0.5)
        R = (stiffness.rotation_z(0.4) if mesh.topology.dim == 2
             else stiffness.rotation_euler_bunge(0.3, 0.7, 1.1))
        return el.material_field(mesh, tags, {1: {"voigt": stiffness.rotate_voigt(C, R)}})
    return el.material_field(mesh, tags, {1: {"lame": (1.3, 0.8)}})


def _errors(dim, degree, n, anisotropic):
    mesh = _mesh(dim, n)
    x = ufl.SpatialCoordinate(mesh)
    ue = _exact(x, dim)
    law = _law(mesh, anisotropic)
    # eigenstrain field, isotropic + deviatoric parts, varying in space (3x3)
    eps0 = ufl.as_tensor([[0.1 * x[0], 0.05 * x[1], 0], [0.05 * x[1], -0.1 * x[0] * x[1], 0],
                          [0, 0, 0.02 * x[0]]])
    sig_e = law.stress(el.strain(ue, dim) - eps0)
    f = -ufl.div(ufl.as_tensor([[sig_e[i, j] for j in range(dim)] for i in range(dim)]))
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", degree, (dim,)))
    u, v = ufl.TrialFunction(V), ufl.TestFunction(V)
    dx = ufl.dx(metadata={"quadrature_degree": 2 * degree + 4})
    a = el.bilinear_form(u, v, law, dim, dx)
    L = ufl.inner(f, v) * dx + el.eigenstrain_load(v, law, eps0, dim, dx)
    uex = dolfinx.fem.Function(V)
    uex.interpolate(dolfinx.fem.Expression(ue, V.element.interpolation_points))
    mesh.topology.create_connectivity(dim - 1, dim)
    facets = dolfinx.mesh.exterior_facet_indices(mesh.topology)
    bc = dolfinx.fem.dirichletbc(uex, dolfinx.fem.locate_dofs_topological(V, dim - 1, facets))
    uh = dolfinx.fem.Function(V)
    opts = {**petsc_options.ELASTICITY_ITERATIVE, "ksp_rtol": 1e-13, "ksp_max_it": 1000}
    solver = LinearSolver(a, L, uh, [bc], f"mms{dim}{degree}{n}_", opts, near_nullspace=True)
    solver.solve()
    solver.destroy()
    e = uh - ue
    l2 = np.sqrt(assemble_scalar(ufl.inner(e, e) * dx))
    h1 = np.sqrt(assemble_scalar(ufl.inner(ufl.grad(e), ufl.grad(e)) * dx))
    return l2, h1


CASES = [(2, 1, (8, 16, 32)), (2, 2, (4, 8, 16)), (3, 1, (4, 8, 16)), (3, 2, (2, 4, 8))]
PARAMS = [pytest.param(d, k, ns, a, id=f"{d}D-P{k}-{'anisotropic' if a else 'isotropic'}")
          for d, k, ns in CASES for a in (False, True)]


@pytest.mark.parametrize("dim,degree,ns,anisotropic", PARAMS)
def test_convergence_rates(dim, degree, ns, anisotropic):
    """L2 rate k+1 and H1 rate k (within 0.1) for the plane-strain/3D forms with eigenstrain."""
    errs = np.array([_errors(dim, degree, n, anisotropic) for n in ns])
    rates = np.log2(errs[:-1] / errs[1:])
    l2_rate, h1_rate = rates[-1]
    assert abs(l2_rate - (degree + 1)) < 0.1, (errs, rates)
    assert abs(h1_rate - degree) < 0.1, (errs, rates)
