"""Anisotropic ion transport in oriented grains (M3: conduction along crystal planes).

What: a grain of a layered conductor (Na+ in beta''-alumina) carries ions along its
conduction planes (normal to the c-axis a) with D_plane and across them with D:
D = D_plane (I - a a) + D a a, and likewise the ionic conductivity
(physics.electrodeposition.conduction_plane_tensor; the case keys
materials.<m>.cation_diffusivity_plane / ionic_conductivity_plane,
geometry.electrolyte.grains.orientations, physics.electrodeposition.conduction_planes).
Against:
* the tensor's closed form (eigenvalues and eigenvectors; the c-axis convention of the
  grains' stiffness and weak planes);
* the scalar form: a tensor D I gives the same residual as the scalar D (round-off);
* rotated anisotropic diffusion, closed form: a Gaussian pulse in c under a tilted D (no
  metal, phi held) spreads with covariance S0 + 2 D t; its second moments grow as
  2 D t exactly for backward Euler, which measures every component of D (0.1 %), and
  the profile matches the Gaussian (2 % of the pulse);
* the grains of cases/m6_grains.yaml (plain M3): the front advances 8x further under the
  grain whose planes run along the growth direction than under a nearly blocking one, and
  alike without conduction planes;
* a flat front under one grain: planes normal to the front (a along x) deposit exactly as
  an isotropic electrolyte with D_plane, planes parallel to it (a along y) as one with D,
  and the first deposits more.
Runs on 1 or 2 ranks (the same numbers).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import solver.compat  # noqa: F401
import dolfinx
import ufl
from mpi4py import MPI

from conftest import ROOT
from solver.config import parse_case
from solver.geometry import build_geometry
from solver.materials import load_library, resolve_materials, stiffness
from solver.numerics.parallel import assemble_scalar
from solver.physics import electrodeposition as ed
from solver.problems import build_problem
from solver.problems.electrodeposition import ElectrodepositionProblem


def test_conduction_plane_tensor():
    """K = along (I - a a) + across a a: a is an eigenvector with 'across', the plane
    directions have 'along'; in 2D the c-axis of angle theta is (cos, sin) as for the
    grains' stiffness (materials.stiffness.rotation_2d_c_axis)."""
    for theta in (0.0, 0.3, math.pi / 2, 2.5):
        a = stiffness.c_axis(theta, 2)
        assert a == pytest.approx([math.cos(theta), math.sin(theta)], abs=1e-14)
        K = ed.conduction_plane_tensor(a, 5.0, 0.2)
        assert K @ a == pytest.approx(0.2 * a, abs=1e-14)
        t = np.array([-a[1], a[0]])
        assert K @ t == pytest.approx(5.0 * t, abs=1e-14)
        assert K == pytest.approx(K.T)
    R = stiffness.rotation_euler_bunge(0.4, 1.1, -0.7)
    K = ed.conduction_plane_tensor(stiffness.c_axis((0.4, 1.1, -0.7), 3), 3.0, 1.0)
    assert np.sort(np.linalg.eigvalsh(K)) == pytest.approx([1.0, 3.0, 3.0])
    assert K @ R[:, 0] == pytest.approx(3.0 * R[:, 0]) and K @ R[:, 2] == pytest.approx(R[:, 2])


@pytest.mark.parametrize("formulation", ["chen", "grand_potential"])
def test_isotropic_tensor_equals_scalar(formulation):
    """D I and sigma I (DG0 tensor fields) give the scalar coefficients' residual."""
    from solver.problems.electrodeposition import region_field

    mesh = dolfinx.mesh.create_unit_square(MPI.COMM_WORLD, 6, 6)
    p = ed.ElectrodepositionParameters.from_hong2018(formulation=formulation,
                                                     length_scale=1.0)
    W = ed.function_space(mesh)
    u, u_n = dolfinx.fem.Function(W), dolfinx.fem.Function(W)
    for i, f in enumerate((lambda x: 0.3 + 0.4 * x[0], lambda x: 1 + 0.2 * x[1],
                           lambda x: 0.5 * x[0] * x[1])):
        u.sub(i).interpolate(f)
    u_n.x.array[:] = 0.9 * u.x.array
    args = (*ufl.split(u), *ufl.split(u_n)[:2], *ufl.TestFunctions(W), 0.1, p, ufl.dx)
    tags = dolfinx.mesh.meshtags(mesh, 2, np.arange(
        mesh.topology.index_map(2).size_local, dtype=np.int32), 1)

    def vec(rc):
        b = dolfinx.fem.assemble_vector(dolfinx.fem.form(ed.residual(*args,
                                                                     region_coefficients=rc)))
        b.scatter_reverse(dolfinx.la.InsertMode.add)
        return b.array[:b.index_map.size_local * b.block_size].copy()

    D, s = 2.0e-11, 0.05
    scalar = vec({"D_liquid": region_field(mesh, tags, p.D_liquid, {1: D}),
                  "sigma_liquid": region_field(mesh, tags, p.sigma_liquid, {1: s})})
    tensor = vec({"D_liquid": region_field(mesh, tags, p.D_liquid, {1: D * np.eye(2)}),
                  "sigma_liquid": region_field(mesh, tags, p.sigma_liquid,
                                               {1: s * np.eye(2)})})
    scale = MPI.COMM_WORLD.allreduce(float(np.abs(scalar).max(initial=0.0)), op=MPI.MAX)
    diff = MPI.COMM_WORLD.allreduce(float(np.abs(tensor - scalar).max(initial=0.0)),
                                    op=MPI.MAX)
    assert diff <= 1e-13 * scale


def test_rotated_anisotropic_diffusion_against_closed_form():
    """No metal (xi = 0), phi = 0 on the boundary, cations zero-flux: c~ - 1 = A
    exp(-x.S0^-1 x/2) diffuses under D = D_plane (I - a a) + D_across a a with the c-axis
    at 30 degrees. Exact: S(t) = S0 + 2 D t (Gaussian); and M(t) = int x x^T (c - c0) grows
    by 2 D t int (c - c0), which backward Euler keeps exactly in time, so D is read off the
    moments to the spatial error (0.1 %; measured 1e-9 on these quads); the profile at
    the end against the Gaussian of S(t) within 2 % of the pulse in L2 (measured 0.55 %,
    backward Euler, 20 steps)."""
    p = ed.ElectrodepositionParameters.from_hong2018(E_applied=0.0)
    D_plane, D_across = 3.0e-10, 0.6e-10
    theta = math.radians(30.0)
    Dt = ed.conduction_plane_tensor(stiffness.c_axis(theta, 2), D_plane, D_across)
    L, s0, amp, t_end, n_steps = 12e-6, 1.0e-6, 0.5, 2.5e-3, 20
    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [[-L, -L], [L, L]], [96, 96],
                                         dolfinx.mesh.CellType.quadrilateral)
    K = ufl.as_matrix(Dt.tolist())
    prob = ElectrodepositionProblem(
        mesh, p, xi0=lambda x: np.zeros(x.shape[1]),
        electrolyte=lambda x: np.isclose(np.abs(x[0]), L) | np.isclose(np.abs(x[1]), L),
        electrolyte_fields=("phi",), phi0=lambda x: np.zeros(x.shape[1]),
        region_coefficients={"D_liquid": K}, prefix="aniso_gauss_")
    prob.u.sub(1).interpolate(
        lambda x: 1.0 + amp * np.exp(-(x[0] ** 2 + x[1] ** 2) / (2 * s0**2)))
    prob.u.x.scatter_forward()
    prob.set_time(0.0)
    x = ufl.SpatialCoordinate(mesh)
    c = ufl.split(prob.u)[1]
    dx = ufl.Measure("dx", domain=mesh, metadata={"quadrature_degree": 6})
    mass = dolfinx.fem.form((c - 1) * dx)
    moment = [[dolfinx.fem.form(x[i] * x[j] * (c - 1) * dx) for j in range(2)]
              for i in range(2)]

    def moments():
        return np.array([[assemble_scalar(f) for f in row] for row in moment])

    M0, m0 = moments(), assemble_scalar(mass)
    for k in range(1, n_steps + 1):
        prob.solve(k * t_end / n_steps)
    D_read = (moments() - M0) / (2 * t_end * m0)
    assert assemble_scalar(mass) == pytest.approx(m0, rel=1e-9)  # conservative
    assert np.abs(D_read - Dt).max() < 1e-3 * D_plane, (D_read, Dt)  # measured 1e-9
    assert D_read[0, 1] == pytest.approx(Dt[0, 1], rel=1e-3)  # the tilt's shear term
    S = s0**2 * np.eye(2) + 2 * Dt * t_end
    Si, peak = np.linalg.inv(S), amp * s0**2 / math.sqrt(np.linalg.det(S))
    exact = peak * ufl.exp(-0.5 * (Si[0, 0] * x[0] ** 2 + 2 * Si[0, 1] * x[0] * x[1]
                                   + Si[1, 1] * x[1] ** 2))
    err = math.sqrt(assemble_scalar(dolfinx.fem.form((c - 1 - exact) ** 2 * dx)))
    norm = math.sqrt(assemble_scalar(dolfinx.fem.form(exact**2 * dx)))
    assert err < 0.02 * norm, err / norm
    prob.destroy()


def _grain_case(theta, planes=True):
    return parse_case({
        "name": "one_grain", "dimension": 2,
        "geometry": {"kind": "layered", "width": 2.0e-6,
                     "metal": {"material": "Na", "thickness": 1.0e-6},
                     "electrolyte": {"material": "grain_SE", "thickness": 3.0e-6,
                                     "grains": {"n_grains": 2, "seed": 1,
                                                "orientations": [theta, 0.0]}},
                     "mesh": {"interface_size": 0.3e-6, "max_size": 0.6e-6}},
        "materials": {"grain_SE": {"youngs_modulus": 2e11, "poisson_ratio": 0.25,
                                   "cation_diffusivity": 3e-12,
                                   "cation_diffusivity_plane": 3e-10,
                                   "ionic_conductivity": 0.0119,
                                   "ionic_conductivity_plane": 1.19,
                                   "source": "test stand-in"}},
        "physics": {"electrodeposition": {"applied_potential": -0.2,
                                          "formulation": "grand_potential",
                                          "conduction_planes": planes}},
        "stepping": {"end": 0.01, "dt": 0.01}})


def test_case_maps_grain_orientations_to_tensors():
    """geometry.electrolyte.grains.orientations and the material's _plane values give each
    grain conduction_plane_tensor(c-axis, plane value, value) for D and sigma; with
    conduction_planes: false, the scalar value (across the planes) everywhere."""
    from solver.problems.electrodeposition_case import ElectrodepositionRun

    for planes in (True, False):
        case = _grain_case(0.4, planes)
        mats = resolve_materials({k: v.model_dump(exclude_none=True)
                                  for k, v in case.materials.items()}, load_library())
        geo = build_geometry(case, MPI.COMM_WORLD)
        _, _, kw = ElectrodepositionRun.case_arguments(case, geo, mats)
        rc = kw["region_coefficients"]
        for name, theta in (("grain_0", 0.4), ("grain_1", 0.0)):
            tag = geo.regions[name]
            assert geo.orientation[tag] == theta
            for key, across, along in (("D_liquid", 3e-12, 3e-10),
                                       ("sigma_liquid", 0.0119, 1.19)):
                want = (ed.conduction_plane_tensor(stiffness.c_axis(theta, 2), along, across)
                        if planes else across)
                assert np.asarray(rc[key][tag]) == pytest.approx(want, rel=1e-14)


def _flat_front(D, sigma, steps=5, dt=0.004):
    """A flat Na front (grand potential, -0.2 V) on a structured quad mesh, 2 x 4 um: the
    metal below y = 1 um, one 'grain' (tag 2) above with coefficients D, sigma (scalars or
    2 x 2). Deposited volume and the lowest cation concentration after ``steps``."""
    p = ed.ElectrodepositionParameters.from_hong2018(
        E_applied=-0.2, c_s=4.2e4, L_eta=0.05, formulation="grand_potential")
    W, H, y0 = 2e-6, 4e-6, 1e-6
    mesh = dolfinx.mesh.create_rectangle(MPI.COMM_WORLD, [[0, 0], [W, H]], [4, 160],
                                         dolfinx.mesh.CellType.quadrilateral)
    tdim = mesh.topology.dim
    n = mesh.topology.index_map(tdim).size_local + mesh.topology.index_map(tdim).num_ghosts
    cells = np.arange(n, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(mesh, tdim, cells)[:, 1]
    tags = dolfinx.mesh.meshtags(mesh, tdim, cells, np.where(mid > y0, 2, 1).astype(np.int32))
    ell = p.interface_width
    prob = ElectrodepositionProblem(
        mesh, p, xi0=lambda x: ed.equilibrium_profile(x[1] - y0, ell), cell_tags=tags,
        electrolyte=lambda x: np.isclose(x[1], H), metal=lambda x: np.isclose(x[1], 0.0),
        region_coefficients={"D_liquid": {2: D}, "sigma_liquid": {2: sigma}},
        prefix="aniso_flat_")
    for k in range(1, steps + 1):
        prob.solve(dt * k)
    m = prob.metrics()
    prob.destroy()
    return m


def test_flat_front_sees_the_component_along_the_growth_direction():
    """Under a flat front everything varies along y only, so a grain conducts with its yy
    components: c-axis along x (planes along the growth direction) deposits exactly as an
    isotropic grain with the plane values, c-axis along y (planes parallel to the front)
    as one with the across values (1e-9), and the first deposits far more (diffusion
    limited under the slow planes)."""
    D, Dp, s, sp = 3.0e-12, 3.0e-10, 0.0119, 1.19

    def tensor(theta, along, across):
        return ed.conduction_plane_tensor(stiffness.c_axis(theta, 2), along, across)

    along = _flat_front(tensor(0.0, Dp, D), tensor(0.0, sp, s))
    along_iso = _flat_front(Dp, sp)
    across = _flat_front(tensor(math.pi / 2, Dp, D), tensor(math.pi / 2, sp, s))
    across_iso = _flat_front(D, s)
    for k in ("deposited_volume_m3", "concentration_min_mol_m3"):
        assert along[k] == pytest.approx(along_iso[k], rel=1e-9), k
        assert across[k] == pytest.approx(across_iso[k], rel=1e-9), k
    assert along["deposited_volume_m3"] > 5 * across["deposited_volume_m3"] > 0


M6_GRAINS = ROOT / "cases" / "m6_grains.yaml"


def _front_under(prob, x_lo, x_hi):
    """Mean height of the xi = 1/2 crossings with x in [x_lo, x_hi] (all ranks)."""
    pts, hit = prob._crossings()
    P = pts[hit]
    P = P[(P[:, 0] >= x_lo) & (P[:, 0] <= x_hi)]
    n = MPI.COMM_WORLD.allreduce(len(P), op=MPI.SUM)
    return MPI.COMM_WORLD.allreduce(float(P[:, 1].sum()), op=MPI.SUM) / n


@pytest.mark.parametrize("planes", [True, False])
def test_deposit_follows_the_grains_that_conduct_along_the_growth_direction(planes):
    """cases/m6_grains.yaml as plain M3 (no fracture), 0.1 s at -0.2 V: the front under
    the grain whose planes are 6 degrees off the growth direction (x = 2.4-2.6 um) advances
    over 3x as far as the one under the grain whose planes are 83 degrees off (x = 0.2-0.4
    um; both start at 1 um; measured 232 against 27 nm). With conduction_planes: false
    (the across values everywhere) the two advance alike, within 10 % (measured 16.6 and
    17.6 nm). Seed 003: deposition runs along the conduction channels."""
    import copy

    import yaml

    from solver.config.loader import apply_overrides

    data = copy.deepcopy(yaml.safe_load(M6_GRAINS.read_text()))
    del data["physics"]["fracture"]
    del data["physics"]["electrodeposition"]["cracking"]
    apply_overrides(data, [f"physics.electrodeposition.conduction_planes={planes}"])
    case = parse_case(data)
    mats = resolve_materials({k: v.model_dump(exclude_none=True)
                              for k, v in case.materials.items()}, load_library())
    geo = build_geometry(case, MPI.COMM_WORLD)
    assert geo.orientation[geo.regions["grain_3"]] == pytest.approx(0.1)  # (the layout
    assert geo.orientation[geo.regions["grain_0"]] == pytest.approx(1.45)  # checked below)
    tag_at = _grain_at(geo, [(2.5e-6, 1.3e-6), (0.3e-6, 1.3e-6)])
    assert tag_at == [geo.regions["grain_3"], geo.regions["grain_0"]]
    prob = build_problem(case, geo, mats)
    for k in range(1, 11):
        prob.solve(0.01 * k)
    fast = _front_under(prob, 2.4e-6, 2.6e-6) - 1e-6
    slow = _front_under(prob, 0.2e-6, 0.4e-6) - 1e-6
    prob.destroy()
    if planes:
        assert fast > 3 * slow > 0, (fast, slow)
    else:
        assert fast == pytest.approx(slow, rel=0.1) and fast > 0, (fast, slow)


def _grain_at(geo, points):
    """Cell tag of the region holding each point (all ranks agree)."""
    from dolfinx import geometry as g

    mesh = geo.mesh
    tree = g.bb_tree(mesh, mesh.topology.dim)
    P = np.array([[x, y, 0.0] for x, y in points])
    cc = g.compute_colliding_cells(mesh, g.compute_collisions_points(tree, P), P)
    n_own = mesh.topology.index_map(mesh.topology.dim).size_local
    tag_of = dict(zip(geo.cell_tags.indices, geo.cell_tags.values, strict=True))
    out = []
    for i in range(len(P)):
        cells = [c for c in cc.links(i) if c < n_own]
        out.append(MPI.COMM_WORLD.allreduce(int(tag_of[cells[0]]) if cells else -1,
                                            op=MPI.MAX))
    return out
