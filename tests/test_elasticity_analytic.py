"""M1 elasticity on generated coating geometries against analytic solutions.

What: the full pipeline (Gmsh geometry -> materials -> ElasticityProblem) on 1 or 2 ranks.
Against: (1) misfit film on a thick clamped substrate: away from the free edges the film
stress is sigma_xx = -E e*/(1 - nu) (plane strain = biaxial), checked within 1 %;
(2) confined compression of a flat three-layer stack (rollers on bottom and sides, pressure
p on top): uniform sigma_yy = -p in every layer and strain energy sum_i p^2 t_i w / (2 M_i)
with the P-wave modulus M = E (1 - nu) / ((1 + nu)(1 - 2 nu)), within 1e-6; (3) a Gaussian
eigenstrain profile: int tr(eps0) per region against its closed form (erf), 1e-6.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI

from solver.config import parse_case
from solver.geometry import build_geometry
from solver.materials import load_library, resolve_materials
from solver.numerics.parallel import tagged_owned_cells
from solver.problems.elasticity import ElasticityProblem

from conftest import ROOT


def _setup(data):
    case = parse_case(data)
    mats = resolve_materials({}, load_library())
    geo = build_geometry(case, MPI.COMM_WORLD)
    return case, mats, geo, ElasticityProblem(case, geo, mats)


def _values_in_window(problem, geo, region, comp, x_lo, x_hi):
    """sigma[comp] at the stress-space interpolation points of the region's owned cells
    whose midpoints lie in x_lo < x < x_hi (global array on every rank)."""
    cells = tagged_owned_cells(geo.cell_tags, geo.regions[region])
    mid = dolfinx.mesh.compute_midpoints(geo.mesh, geo.dim, cells)
    cells = cells[(mid[:, 0] > x_lo) & (mid[:, 0] < x_hi)]
    e = dolfinx.fem.Expression(problem.sigma_expr[comp], problem.Q.element.interpolation_points)
    vals = np.ravel(e.eval(geo.mesh, cells)) if len(cells) else np.zeros(0)
    return np.concatenate(MPI.COMM_WORLD.allgather(vals))


def test_misfit_film_stress():
    """Film stress far from the edges equals -E e*/(1-nu) within 1 %; substrate ~ stress free."""
    data = yaml.safe_load((ROOT / "cases" / "misfit_film.yaml").read_text())
    case, mats, geo, problem = _setup(data)
    problem.solve(1.0)
    film = mats["Al2O3"]
    e_star = case.physics.elasticity.eigenstrain[0].value
    exact = -film.youngs_modulus * e_star / (1 - film.poisson_ratio)
    w = case.geometry.width
    vals = _values_in_window(problem, geo, "film", (0, 0), 0.45 * w, 0.55 * w)
    assert len(vals) > 10
    assert np.max(np.abs(vals / exact - 1)) < 0.01, (vals.min(), vals.max(), exact)
    # and the substrate far from the edges is (nearly) stress free
    sub = _values_in_window(problem, geo, "metal", (0, 0), 0.45 * w, 0.55 * w)
    assert np.max(np.abs(sub)) < 0.01 * abs(exact)
    problem.destroy()


@pytest.mark.parametrize("solver_type", ["iterative", "direct"])
def test_layered_stack_uniaxial_compression(solver_type):
    """Flat Li / LiF / Li3N stack, rollers on bottom, left, right, pressure p on top:
    uniform sigma_yy = -p everywhere, and strain energy per depth
    W = sum_i p^2 t_i w (1+nu_i)(1-2nu_i) / (2 E_i (1-nu_i)) (confined compression);
    with CG + GAMG and with MUMPS."""
    p = 2.0e6
    data = {
        "name": "stack", "dimension": 2,
        "geometry": {"kind": "layered", "width": 1e-6,
                     "metal": {"material": "Li", "thickness": 1e-6},
                     "coatings": [{"name": "sei", "material": "LiF", "thickness": 50e-9},
                                  {"name": "cap", "material": "Li3N", "thickness": 0.2e-6}],
                     "mesh": {"max_size": 0.2e-6}},
        "physics": {"elasticity": {"degree": 1, "solver": {"type": solver_type},
                                   "boundary_conditions": [
            {"type": "roller", "boundary": "bottom"}, {"type": "roller", "boundary": "left"},
            {"type": "roller", "boundary": "right"},
            {"type": "pressure", "boundary": "top", "value": p}]}},
    }
    case, mats, geo, problem = _setup(copy.deepcopy(data))
    problem.solve(1.0)
    w = 0.0
    for region, t in (("metal", 1e-6), ("sei", 50e-9), ("cap", 0.2e-6)):
        m = mats[geo.region_material[region]]
        E, nu = m.youngs_modulus, m.poisson_ratio
        w += p**2 * t * 1e-6 * (1 + nu) * (1 - 2 * nu) / (2 * E * (1 - nu))
        syy = _values_in_window(problem, geo, region, (1, 1), 0.0, 1e-6)
        np.testing.assert_allclose(syy, -p, rtol=1e-6)
    assert problem.metrics()["strain_energy_J"] == pytest.approx(w, rel=1e-6)
    problem.destroy()


def test_gaussian_eigenstrain_profile_integral():
    """eigenstrain[].profile: the case's eigenstrain expression on a flat 2-layer stack
    (metal 1 um, coating 0.2 um, 4 um wide) with a profiled isotropic entry on the metal
    and a uniform one on the coating: int tr(eps0) over each region against the closed
    form, metal 3 e H sqrt(pi) r / 2 (erf((W - c)/r) + erf(c/r)), coating 3 e' t W
    (1e-6: quadrature of the Gaussian; the regions are exact rectangles)."""
    import math

    import ufl

    from solver.config import parse_case as parse
    from solver.problems.elasticity import eigenstrain_expression

    W, H, t, c, r, e, e2 = 4e-6, 1e-6, 0.2e-6, 1.3e-6, 0.4e-6, 0.05, -0.01
    case = parse({
        "name": "profile", "dimension": 2,
        "geometry": {"kind": "layered", "width": W, "metal": {"material": "Li", "thickness": H},
                     "coatings": [{"name": "sei", "material": "LiF", "thickness": t}],
                     "mesh": {"max_size": 0.1e-6}},
        "physics": {"elasticity": {
            "eigenstrain": [{"region": "metal", "value": e,
                             "profile": {"center": [c], "radius": r}},
                            {"region": "sei", "value": e2}],
            "boundary_conditions": [{"type": "clamped", "boundary": "bottom"}]}}})
    geo = build_geometry(case, MPI.COMM_WORLD)
    eps0 = eigenstrain_expression(case.physics.elasticity.eigenstrain, geo)
    dx = ufl.Measure("dx", domain=geo.mesh, subdomain_data=geo.cell_tags,
                     metadata={"quadrature_degree": 8})

    def integral(region):
        form = dolfinx.fem.form(ufl.tr(eps0) * dx(geo.regions[region]))
        return MPI.COMM_WORLD.allreduce(dolfinx.fem.assemble_scalar(form), op=MPI.SUM)

    metal = 3 * e * H * math.sqrt(math.pi) * r / 2 * (math.erf((W - c) / r) + math.erf(c / r))
    assert integral("metal") == pytest.approx(metal, rel=1e-6)
    assert integral("sei") == pytest.approx(3 * e2 * t * W, rel=1e-6)
