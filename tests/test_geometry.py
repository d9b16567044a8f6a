"""Geometry generators (solver.geometry): gmsh on rank 0, mesh distributed by DOLFINx.

What: build_geometry for layered (2D/3D, bumps, sinusoids, coatings, electrolyte (2D: also
polycrystalline), predelamination) and polycrystal geometries, and check_geometry's
rejections.
Against: exact areas/volumes and lengths (domain size, integrals of the analytic surface,
requested thicknesses and predelamination lengths), an independent distance computation to
the metal surface, the Voronoi nearest-seed property, and the same mesh built on one rank.
Every assertion is on global (allreduced) quantities, so the file runs serially and under
`mpiexec -n 2` alike.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import solver.compat  # noqa: F401
import dolfinx
import ufl
from mpi4py import MPI

from solver.config.checks import boundary_names, region_names
from solver.config.schema import Case
from solver.errors import GeometryError
from solver.geometry import build_geometry, check_geometry
from solver.geometry.layered import electrolyte_grain_seeds
from solver.geometry.polycrystal import seeds_and_orientations

COMM = MPI.COMM_WORLD
UM = 1e-6
BUMP = {"type": "bump", "center": [0.5 * UM], "radius": 0.1 * UM, "height": 0.1 * UM}


def make_case(geometry: dict, dim: int = 2) -> Case:
    return Case.model_validate({
        "name": "geometry_test", "dimension": dim, "geometry": copy.deepcopy(geometry),
        "physics": {"elasticity": {"boundary_conditions": [
            {"type": "clamped", "boundary": "bottom"}]}}})


def layered(**kw) -> dict:
    metal = {"material": "Li", "thickness": kw.pop("metal_thickness", UM),
             "perturbations": kw.pop("perturbations", [])}
    return {"kind": "layered", "width": UM, "metal": metal, **kw}


class Measure:
    """Global (allreduced) areas/volumes, lengths/areas and entity counts of a Geometry."""

    def __init__(self, geo, comm=COMM):
        self.geo, self.comm, m = geo, comm, geo.mesh
        self.one = dolfinx.fem.Constant(m, 1.0)
        self.dx = ufl.Measure("dx", domain=m, subdomain_data=geo.cell_tags)
        self.ds = ufl.Measure("ds", domain=m, subdomain_data=geo.facet_tags)
        self.dS = ufl.Measure("dS", domain=m, subdomain_data=geo.facet_tags)

    def _sum(self, form) -> float:
        return self.comm.allreduce(dolfinx.fem.assemble_scalar(dolfinx.fem.form(form)))

    def region(self, name: str) -> float:
        return self._sum(self.one * self.dx(self.geo.regions[name]))

    def total(self) -> float:
        return self._sum(self.one * ufl.dx(domain=self.geo.mesh))

    def interior(self, name: str) -> float:
        """Length (2D) / area (3D) of an internal facet group."""
        return self._sum(self.one("+") * self.dS(self.geo.boundaries[name]))

    def exterior(self, name: str) -> float:
        return self._sum(self.one * self.ds(self.geo.boundaries[name]))

    def cells(self) -> int:
        return self.comm.allreduce(self.geo.mesh.topology.index_map(self.geo.dim).size_local)

    def count(self, tags, dim: int, tag: int) -> int:
        n = self.geo.mesh.topology.index_map(dim).size_local
        found = tags.find(tag)
        return self.comm.allreduce(int(np.sum(found < n)))


def assert_all_groups_present(geo, case):
    """Every region and boundary named by the config layer exists and is non-empty."""
    assert set(geo.regions) == set(region_names(case))
    assert set(geo.boundaries) == set(boundary_names(case))
    mm = Measure(geo)
    tdim = geo.dim
    geo.mesh.topology.create_entities(tdim - 1)
    for name, tag in geo.regions.items():
        assert mm.count(geo.cell_tags, tdim, tag) > 0, name
    for name, tag in geo.boundaries.items():
        assert mm.count(geo.facet_tags, tdim - 1, tag) > 0, name


def facet_vertices(geo, name: str) -> np.ndarray:
    """Coordinates of the (local) vertices of a facet group."""
    facets = geo.facet_tags.find(geo.boundaries[name])
    if len(facets) == 0:
        return np.zeros((0, 3))
    idx = dolfinx.mesh.entities_to_geometry(geo.mesh, geo.dim - 1, facets)
    return geo.mesh.geometry.x[np.unique(idx)]


# --------------------------------------------------------------------------- 2D layered
TWO_COATINGS = layered(
    perturbations=[BUMP],
    coatings=[{"name": "sei", "material": "LiF", "thickness": 20e-9},
              {"name": "outer", "material": "Li3N", "thickness": 50e-9}],
    electrolyte={"material": "Sb2O3_SCS", "thickness": 0.5 * UM})


@pytest.fixture(scope="module")
def two_coatings():
    case = make_case(TWO_COATINGS)
    return case, build_geometry(case, COMM)


def _gaussian_integral(width, centre, sigma, height):
    s = sigma * math.sqrt(2.0)
    return height * sigma * math.sqrt(math.pi / 2) * (math.erf((width - centre) / s)
                                                       + math.erf(centre / s))


def test_layered_2d_groups_areas_thickness(two_coatings):
    """2D Gaussian bump, 20 nm + 50 nm coatings, electrolyte: every named group is on the
    mesh; region areas add up to width x (metal + coatings + electrolyte) (1e-10); the metal
    area equals the exact integral of the surface height (1e-3); area of each coating /
    length of its lower interface equals the requested thickness within 1 %."""
    case, geo = two_coatings
    assert_all_groups_present(geo, case)
    assert geo.region_material == {"metal": "Li", "sei": "LiF", "outer": "Li3N",
                                   "electrolyte": "Sb2O3_SCS"}
    assert geo.layer_thickness == pytest.approx({"sei": 20e-9, "outer": 50e-9,
                                                 "electrolyte": 0.5 * UM})
    mm = Measure(geo)
    height = UM + 70e-9 + 0.5 * UM
    areas = {n: mm.region(n) for n in geo.regions}
    assert sum(areas.values()) == pytest.approx(UM * height, rel=1e-10)
    assert mm.total() == pytest.approx(UM * height, rel=1e-10)
    exact_metal = UM * UM + _gaussian_integral(UM, 0.5 * UM, 0.1 * UM, 0.1 * UM)
    assert areas["metal"] == pytest.approx(exact_metal, rel=1e-3)
    for name, below, t in (("sei", "interface_metal_sei", 20e-9),
                           ("outer", "interface_sei_outer", 50e-9)):
        measured = areas[name] / mm.interior(below)
        assert measured == pytest.approx(t, rel=0.01), (name, measured)
    # outer walls: flat bottom/top of width W, sides of full height (coordinates in metres)
    assert mm.exterior("bottom") == pytest.approx(UM, rel=1e-10)
    assert mm.exterior("top") == pytest.approx(UM, rel=1e-10)
    assert mm.exterior("left") == pytest.approx(height, rel=1e-10)


def test_interfaces_follow_the_surface_and_its_normal_offsets(two_coatings):
    """Mesh vertices of interface_metal_sei lie on z = surface_height(x) and those of the
    outer coating interfaces at the requested normal distance (20 nm, 70 nm) from that
    surface, measured as the distance to a dense sampling of the analytic surface (0.5 %)."""
    _, geo = two_coatings
    xs = np.linspace(-0.1 * UM, 1.1 * UM, 240001)
    zs = geo.surface_height(xs)
    dxs = xs[1] - xs[0]
    err_surface, err_offset = 0.0, 0.0
    v = facet_vertices(geo, "interface_metal_sei")
    if len(v):
        err_surface = float(np.max(np.abs(v[:, 1] - geo.surface_height(v[:, 0]))))
    for name, t in (("interface_sei_outer", 20e-9), ("interface_outer_electrolyte", 70e-9)):
        for x, z in facet_vertices(geo, name)[:, :2]:
            i = int(round((x - xs[0]) / dxs))
            w = int(2 * t / dxs)
            win = slice(max(i - w, 0), i + w)
            d = np.min(np.hypot(xs[win] - x, zs[win] - z))
            err_offset = max(err_offset, abs(d - t) / t)
    assert COMM.allreduce(err_surface, op=MPI.MAX) < 1e-12
    assert COMM.allreduce(err_offset, op=MPI.MAX) < 5e-3


def test_thin_film_resolution_and_cost():
    """A 4 nm film on a 1 um metal with a 100 nm bump: every film cell is at most a third of
    the film thickness across (so >= 3-4 elements through it), the film holds at least
    2 x 4 x (interface length / thickness) triangles, the whole mesh stays under 50,000
    cells, and the measured film thickness is within 1 % of 4 nm."""
    t = 4e-9
    case = make_case(layered(perturbations=[BUMP],
                             coatings=[{"name": "film", "material": "LiF", "thickness": t}]))
    geo = build_geometry(case, COMM)
    mm = Measure(geo)
    n_cells = mm.cells()
    tag = geo.regions["film"]
    n_local = geo.mesh.topology.index_map(2).size_local
    film = geo.cell_tags.find(tag)
    film = film[film < n_local]
    hmax = COMM.allreduce(float(geo.mesh.h(2, film).max()) if len(film) else 0.0, op=MPI.MAX)
    n_film = COMM.allreduce(len(film))
    length = mm.interior("interface_metal_film")
    assert n_cells < 50_000, n_cells
    assert hmax <= t / 3, hmax
    assert n_film >= 2 * 4 * length / t, (n_film, length)
    assert mm.region("film") / length == pytest.approx(t, rel=0.01)


def test_interface_size_and_band():
    """geometry.mesh.interface_size h and interface_band d (a resolved band where a deposit
    will grow): cells whose centroid is within d of the flat metal surface have a mean
    longest edge within [0.9, 1.4] h (gmsh's triangles around a target size), cells more
    than d + 10 h away are coarser than 2 h on average, and the metal/electrolyte split
    is unchanged (areas to 1e-9)."""
    h, d = 0.02 * UM, 0.15 * UM
    case = make_case(layered(metal_thickness=0.5 * UM,
                             electrolyte={"material": "liquid_electrolyte", "thickness": UM},
                             mesh={"interface_size": h, "interface_band": d,
                                   "max_size": 0.2 * UM}))
    geo = build_geometry(case, COMM)
    n = geo.mesh.topology.index_map(2).size_local
    cells = np.arange(n, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(geo.mesh, 2, cells)
    dist = np.abs(mid[:, 1] - 0.5 * UM)
    size = geo.mesh.h(2, cells)

    def mean(sel):
        tot = COMM.allreduce(float(size[sel].sum()), op=MPI.SUM)
        return tot / COMM.allreduce(int(sel.sum()), op=MPI.SUM)

    near, far = mean(dist < d), mean(dist > d + 10 * h)
    assert 0.9 * h <= near <= 1.4 * h, near / h
    assert far > 2 * h, far / h
    mm = Measure(geo)
    assert mm.region("metal") == pytest.approx(0.5 * UM * UM, rel=1e-9)
    assert mm.region("electrolyte") == pytest.approx(UM * UM, rel=1e-9)


def test_predelamination_length_2d():
    """Flat 2D interface with a 0.3 um predelaminated segment centred at x = 0.4 um: the
    "predelaminated" facets measure 0.3 um and the rest of the metal/sei interface 0.7 um
    (1 %), and the coating area is width x thickness."""
    case = make_case(layered(coatings=[{"name": "sei", "material": "LiF", "thickness": 20e-9}],
                             predelamination={"center": [0.4 * UM], "length": 0.3 * UM}))
    geo = build_geometry(case, COMM)
    assert_all_groups_present(geo, case)
    mm = Measure(geo)
    assert mm.interior("predelaminated") == pytest.approx(0.3 * UM, rel=0.01)
    assert mm.interior("interface_metal_sei") == pytest.approx(0.7 * UM, rel=0.01)
    assert mm.region("sei") == pytest.approx(UM * 20e-9, rel=1e-10)


def test_predelamination_at_a_wall_2d():
    """A segment running into the left wall (a symmetry plane): centre 0, length 0.5 um
    debonds x in [0, 0.25] um; the rest (0.75 um) stays bonded (1 %)."""
    case = make_case(layered(coatings=[{"name": "sei", "material": "LiF", "thickness": 20e-9}],
                             predelamination={"center": [0.0], "length": 0.5 * UM}))
    geo = build_geometry(case, COMM)
    mm = Measure(geo)
    assert mm.interior("predelaminated") == pytest.approx(0.25 * UM, rel=0.01)
    assert mm.interior("interface_metal_sei") == pytest.approx(0.75 * UM, rel=0.01)


def test_second_order_geometry():
    """geometry_order 2 gives a quadratic coordinate element and the metal area of the bump
    case within 1e-6 of the exact integral."""
    g = layered(perturbations=[BUMP], coatings=[{"name": "sei", "material": "LiF",
                                                  "thickness": 20e-9}],
                mesh={"geometry_order": 2, "max_size": 0.2 * UM})
    geo = build_geometry(make_case(g), COMM)
    assert geo.mesh.geometry.cmaps[0].degree == 2
    exact = UM * UM + _gaussian_integral(UM, 0.5 * UM, 0.1 * UM, 0.1 * UM)
    assert Measure(geo).region("metal") == pytest.approx(exact, rel=1e-6)


# --------------------------------------------------------------------------- 3D layered
def test_layered_3d_sinusoid_predelaminated_disc():
    """3D slab with a full-period sinusoid, one 0.1 um coating, electrolyte and a 0.6 um
    predelaminated disc: all groups exist (incl. front/back); volumes add up to
    W x D x (metal + coating + electrolyte) (1e-10); the metal volume is W x D x thickness
    (the sinusoid averages out, 1e-3); coating volume / interface area is 0.1 um (1 %); the
    disc's area is pi r^2 (3 %, polygonal boundary)."""
    g = layered(perturbations=[{"type": "sinusoid", "amplitude": 0.05 * UM,
                                "wavelength": UM}],
                depth=UM,
                coatings=[{"name": "sei", "material": "LiF", "thickness": 0.1 * UM}],
                electrolyte={"material": "Sb2O3_SCS", "thickness": 0.3 * UM},
                predelamination={"center": [0.5 * UM, 0.5 * UM], "length": 0.6 * UM},
                mesh={"elements_through_thinnest_layer": 1})
    case = make_case(g, dim=3)
    geo = build_geometry(case, COMM)
    assert geo.dim == 3
    assert_all_groups_present(geo, case)
    mm = Measure(geo)
    vol = {n: mm.region(n) for n in geo.regions}
    assert sum(vol.values()) == pytest.approx(UM * UM * 1.4 * UM, rel=1e-10)
    assert vol["metal"] == pytest.approx(UM**3, rel=1e-3)
    iface = mm.interior("interface_metal_sei") + mm.interior("predelaminated")
    assert vol["sei"] / iface == pytest.approx(0.1 * UM, rel=0.01)
    assert mm.interior("predelaminated") == pytest.approx(math.pi * (0.3 * UM) ** 2, rel=0.03)
    for wall in ("left", "right", "front", "back"):
        assert mm.exterior(wall) > 0


# --------------------------------------------------------------------------- polycrystal
def _grains_follow_nearest_seed(geo, seeds) -> int:
    """Number of mesh cells (global) whose midpoint's nearest seed is not their grain's."""
    tag_of = {t: int(n.split("_")[1]) for n, t in geo.regions.items()}
    n_local = geo.mesh.topology.index_map(geo.dim).size_local
    ct = geo.cell_tags
    own = (ct.indices < n_local) & np.isin(ct.values, list(tag_of))  # grain cells only
    mid = dolfinx.mesh.compute_midpoints(geo.mesh, geo.dim, ct.indices[own])[:, : geo.dim]
    nearest = np.argmin(np.linalg.norm(mid[:, None, :] - seeds[None], axis=2), axis=1)
    expected = np.array([tag_of[v] for v in ct.values[own]], dtype=int)
    return COMM.allreduce(int(np.sum(nearest != expected)))


def test_polycrystal_2d():
    """24 Voronoi grains in 20 x 10 um: 24 regions, areas add up to W x H (1e-10), grain
    boundaries exist, orientations are in [0, pi) and keyed by cell tag, and every cell lies
    in the grain of its nearest seed (the Voronoi property, from the same seeded rng)."""
    g = {"kind": "polycrystal", "width": 20 * UM, "height": 10 * UM,
         "material": "beta_alumina", "n_grains": 24, "seed": 3}
    case = make_case(g)
    geo = build_geometry(case, COMM)
    assert_all_groups_present(geo, case)
    assert len(geo.regions) == 24
    assert set(geo.region_material.values()) == {"beta_alumina"}
    assert set(geo.orientation) == set(geo.regions.values())
    assert all(0.0 <= a < math.pi for a in geo.orientation.values())
    mm = Measure(geo)
    assert sum(mm.region(n) for n in geo.regions) == pytest.approx(200 * UM * UM, rel=1e-10)
    assert mm.interior("grain_boundaries") > 10 * UM
    seeds, _ = seeds_and_orientations(case.geometry, 2)
    assert _grains_follow_nearest_seed(geo, seeds) == 0


def _outer_groups_off_the_boundary(geo) -> int:
    """Facets (global count) of the outer groups (bottom/top/left/right/front/back) that
    are not on the mesh boundary."""
    m, fdim = geo.mesh, geo.dim - 1
    m.topology.create_connectivity(fdim, geo.dim)
    boundary = dolfinx.mesh.exterior_facet_indices(m.topology)
    n_own = m.topology.index_map(fdim).size_local
    bad = 0
    for name in ("bottom", "top", "left", "right", "front", "back"):
        if name in geo.boundaries:
            f = geo.facet_tags.find(geo.boundaries[name])
            f = f[f < n_own]
            bad += int(np.count_nonzero(~np.isin(f, boundary)))
    return COMM.allreduce(bad, op=MPI.SUM)


def test_layered_polycrystalline_electrolyte_2d():
    """Na with a bump under a 0.2 um coating and a 12-grain electrolyte: the grains replace
    the electrolyte region (same area as without grains, 1e-6; interface length 1e-5: the
    meshes differ), carry the
    electrolyte's material and an orientation in [0, pi) each, every grain cell lies in the
    grain of its nearest seed (Voronoi), grain boundaries are tagged and the layer
    interfaces and outer walls are unchanged (top = the width)."""
    geom = layered(metal_thickness=1.5 * UM, perturbations=[
        {"type": "bump", "center": [3 * UM], "radius": 0.5 * UM, "height": 0.6 * UM}],
        coatings=[{"name": "sei", "material": "LiF", "thickness": 0.2 * UM}],
        electrolyte={"material": "beta_alumina", "thickness": 4.5 * UM},
        mesh={"elements_through_thinnest_layer": 3, "max_size": 0.3 * UM})
    geom["width"] = 6 * UM
    plain = build_geometry(make_case(geom), COMM)
    geom["electrolyte"]["grains"] = {"n_grains": 12, "seed": 3}
    case = make_case(geom)
    geo = build_geometry(case, COMM)
    assert_all_groups_present(geo, case)
    grains = [n for n in geo.regions if n.startswith("grain_")]
    assert len(grains) == 12 and "electrolyte" not in geo.regions
    assert {geo.region_material[n] for n in grains} == {"beta_alumina"}
    assert set(geo.orientation) == {geo.regions[n] for n in grains}
    assert all(0.0 <= a < math.pi for a in geo.orientation.values())
    mm, m0 = Measure(geo), Measure(plain)
    assert sum(mm.region(n) for n in grains) == pytest.approx(m0.region("electrolyte"),
                                                              rel=1e-6)
    # (measured 1.3e-5: the grains add nodes on the curved sei/electrolyte polyline)
    assert mm.region("sei") == pytest.approx(m0.region("sei"), rel=1e-4)
    assert mm.interior("interface_sei_electrolyte") == pytest.approx(  # (a polyline: the
        m0.interior("interface_sei_electrolyte"), rel=1e-5)  # grains add nodes on it)
    assert mm.exterior("top") == pytest.approx(6 * UM, rel=1e-9)
    assert mm.interior("grain_boundaries") > 10 * UM
    # the grains' cells also cut the coating over the bump (it rises above their lowest
    # point): those pieces' shared facets are internal, not "top" (they were, holding
    # c and phi inside the layer in M3)
    assert _outer_groups_off_the_boundary(geo) == 0
    seeds = electrolyte_grain_seeds(case)
    sub = copy.copy(geo)
    sub.regions = {n: t for n, t in geo.regions.items() if n.startswith("grain_")}
    assert _grains_follow_nearest_seed(sub, seeds) == 0


def test_electrolyte_grains_at_given_seeds():
    """geometry.electrolyte.grains.seeds: two seeds one above the other, at 0.8 and 1.2 um
    over a flat 0.5 um metal under 1 um of electrolyte, make a bicrystal whose boundary is
    the horizontal line y = 1.0 um: the grain_boundaries facets total the width (1e-9) and
    all lie at y = 1.0 um (1e-12), each grain holds 0.5 um^2 (1e-9), and the orientations
    are the given ones."""
    geom = layered(metal_thickness=0.5 * UM,
                   electrolyte={"material": "beta_alumina", "thickness": UM, "grains": {
                       "n_grains": 2, "orientations": [0.0, 1.0],
                       "seeds": [[0.5 * UM, 0.8 * UM], [0.5 * UM, 1.2 * UM]]}},
                   mesh={"max_size": 0.1 * UM})
    geo = build_geometry(make_case(geom), COMM)
    mm = Measure(geo)
    assert mm.interior("grain_boundaries") == pytest.approx(UM, rel=1e-9)
    facets = geo.facet_tags.find(geo.boundaries["grain_boundaries"])
    mid = dolfinx.mesh.compute_midpoints(geo.mesh, 1, facets)
    off = COMM.allreduce(float(np.abs(mid[:, 1] - UM).max(initial=0.0)), op=MPI.MAX)
    assert off < 1e-12 * UM / UM, off
    assert mm.region("grain_0") == pytest.approx(0.5 * UM * UM, rel=1e-9)
    assert mm.region("grain_1") == pytest.approx(0.5 * UM * UM, rel=1e-9)
    assert sorted(geo.orientation.values()) == [0.0, 1.0]


def test_polycrystal_3d():
    """8 Voronoi grains in a 4 x 3 x 2 um block (x, y = depth, z = height): all groups
    (incl. front/back) exist, volumes add up to W x D x H (1e-10), orientations are Bunge
    angles in range, and every cell lies in the grain of its nearest seed."""
    g = {"kind": "polycrystal", "width": 4 * UM, "depth": 3 * UM, "height": 2 * UM,
         "material": "beta_alumina", "n_grains": 8, "seed": 1, "mesh": {"max_size": 0.5 * UM}}
    case = make_case(g, dim=3)
    geo = build_geometry(case, COMM)
    assert_all_groups_present(geo, case)
    mm = Measure(geo)
    assert sum(mm.region(n) for n in geo.regions) == pytest.approx(24 * UM**3, rel=1e-10)
    for phi1, Phi, phi2 in geo.orientation.values():
        assert 0 <= phi1 < 2 * math.pi and 0 <= Phi <= math.pi and 0 <= phi2 < 2 * math.pi
    seeds, _ = seeds_and_orientations(case.geometry, 3)
    assert _grains_follow_nearest_seed(geo, seeds) == 0


# --------------------------------------------------------------------------- parallel
def test_same_mesh_on_one_rank_and_all_ranks():
    """The mesh distributed over COMM_WORLD has the same global cell count, total area and
    interface length as the same case built on COMM_SELF (one rank, gmsh run per rank)."""
    case = make_case(layered(perturbations=[BUMP], coatings=[
        {"name": "sei", "material": "LiF", "thickness": 20e-9}],
        mesh={"max_size": 0.2 * UM}))
    stats = []
    for comm in (COMM, MPI.COMM_SELF):
        geo = build_geometry(case, comm)
        mm = Measure(geo, comm)
        stats.append((mm.cells(), mm.total(), mm.interior("interface_metal_sei")))
    (c1, a1, l1), (c2, a2, l2) = stats
    assert c1 == c2
    assert a1 == pytest.approx(a2, rel=1e-12)
    assert l1 == pytest.approx(l2, rel=1e-12)


# --------------------------------------------------------------------------- check_geometry
def _sinusoid(amplitude, wavelength, **kw):
    return {"type": "sinusoid", "amplitude": amplitude, "wavelength": wavelength, **kw}


def test_max_size_holds_with_interface_size():
    """geometry.mesh.max_size below the layers' default cell size (0.5 um metal / 4
    elements = 0.125 um) holds when interface_size is given: every cell is at most 1.5
    max_size (0.03 um) long (before session 27 the default, 0.125 um, replaced it)."""
    hmax = 0.03 * UM
    case = make_case(layered(metal_thickness=0.5 * UM, width=2 * UM,
                             electrolyte={"material": "liquid_electrolyte", "thickness": UM},
                             mesh={"interface_size": 0.015 * UM, "max_size": hmax}))
    geo = build_geometry(case, COMM)
    n = geo.mesh.topology.index_map(2).size_local
    h = geo.mesh.h(2, np.arange(n, dtype=np.int32))
    longest = COMM.allreduce(float(h.max(initial=0.0)), op=MPI.MAX)
    assert longest <= 1.5 * hmax, longest / hmax


def test_refinement_box_in_a_layered_geometry():
    """geometry.mesh.refine (layered, 2D): cells whose centroid lies in the box [0.4, 0.6] x
    [0.5, 1.0] um have a mean longest edge within [0.9, 1.5] h (h = 0.01 um), cells more than
    0.3 um from the box are coarser than 4 h on average (the 0.1 um max_size, graded), and
    the regions keep their exact areas (1e-9)."""
    h = 0.01 * UM
    case = make_case(layered(metal_thickness=0.5 * UM,
                             electrolyte={"material": "liquid_electrolyte", "thickness": UM},
                             mesh={"max_size": 0.1 * UM, "refine": [
                                 {"box": [0.4 * UM, 0.6 * UM, 0.5 * UM, 1.0 * UM],
                                  "size": h}]}))
    geo = build_geometry(case, COMM)
    n = geo.mesh.topology.index_map(2).size_local
    cells = np.arange(n, dtype=np.int32)
    mid = dolfinx.mesh.compute_midpoints(geo.mesh, 2, cells)
    size = geo.mesh.h(2, cells)
    dx = np.maximum(np.abs(mid[:, 0] - 0.5 * UM) - 0.1 * UM, 0.0)
    dy = np.maximum(np.abs(mid[:, 1] - 0.75 * UM) - 0.25 * UM, 0.0)
    dist = np.hypot(dx, dy)

    def mean(sel):
        tot = COMM.allreduce(float(size[sel].sum()), op=MPI.SUM)
        return tot / COMM.allreduce(int(sel.sum()), op=MPI.SUM)

    inside, far = mean(dist == 0.0), mean(dist > 0.3 * UM)
    assert 0.9 * h <= inside <= 1.5 * h, inside / h
    assert far > 4 * h, far / h
    mm = Measure(geo)
    assert mm.region("metal") == pytest.approx(0.5 * UM * UM, rel=1e-9)
    assert mm.region("electrolyte") == pytest.approx(UM * UM, rel=1e-9)


SEI = {"name": "sei", "material": "LiF", "thickness": 20e-9}
ELECTROLYTE = {"material": "Sb2O3_SCS", "thickness": 0.5 * UM}
POLY = {"kind": "polycrystal", "width": 10 * UM, "height": 10 * UM, "material": "b",
        "n_grains": 4}

BAD = [
    ("bump outside", layered(perturbations=[dict(BUMP, center=[3 * UM])], coatings=[SEI]), 2,
     "geometry.metal.perturbations[0].center", "outside the domain"),
    ("bump 2 coords in 2D", layered(perturbations=[dict(BUMP, center=[0.5 * UM, 0.5 * UM])]),
     2, "geometry.metal.perturbations[0].center", "expected 1"),
    ("bump 1 coord in 3D", layered(perturbations=[BUMP], depth=UM), 3,
     "geometry.metal.perturbations[0].center", "expected 2"),
    ("bump y outside in 3D", layered(perturbations=[dict(BUMP, center=[0.5 * UM, 2 * UM])],
                                     depth=UM), 3,
     "geometry.metal.perturbations[0].center", "y=2e-06 is outside"),
    ("pit through the metal", layered(perturbations=[dict(BUMP, height=-0.99 * UM)]), 2,
     "geometry.metal.perturbations", "dips"),
    ("bump through the electrolyte", layered(perturbations=[dict(BUMP, height=0.6 * UM)],
                                             coatings=[SEI], electrolyte=ELECTROLYTE), 2,
     "geometry.metal.perturbations", "electrolyte"),
    ("spherical taller than radius", layered(perturbations=[
        dict(BUMP, shape="spherical", height=0.2 * UM)]), 2,
     "geometry.metal.perturbations[0].height", "exceeds the radius"),
    ("wavelength_y in 2D", layered(perturbations=[_sinusoid(0.01 * UM, UM,
                                                            wavelength_y=UM)]), 2,
     "geometry.metal.perturbations[0].wavelength_y", "only for dimension 3"),
    ("coating thicker than valley radius (R = 20 nm)", layered(
        perturbations=[_sinusoid(0.05 * UM, 0.2 * UM)],
        coatings=[dict(SEI, thickness=30e-9)]), 2,
     "geometry.coatings[0].thickness", "radius of curvature"),
    ("second coating crosses the valley radius", layered(
        perturbations=[_sinusoid(0.05 * UM, 0.2 * UM)],
        coatings=[dict(SEI, thickness=15e-9), dict(SEI, name="b", thickness=10e-9)]), 2,
     "geometry.coatings[1].thickness", "radius of curvature"),
    ("3D valley", layered(perturbations=[_sinusoid(0.05 * UM, 0.2 * UM, wavelength_y=0.2 * UM)],
                          coatings=[dict(SEI, thickness=25e-9)], depth=UM), 3,
     "geometry.coatings[0].thickness", "radius of curvature"),
    ("predelamination without coating", layered(
        predelamination={"center": [0.5 * UM], "length": 0.2 * UM}), 2,
     "geometry.predelamination", "needs at least one coating"),
    ("predelamination over the whole interface", layered(
        coatings=[SEI], predelamination={"center": [0.5 * UM], "length": 1.2 * UM}), 2,
     "geometry.predelamination", "leave part of it bonded"),
    ("predelamination end next to a wall", layered(
        coatings=[SEI], predelamination={"center": [0.2 * UM], "length": 0.3996 * UM}), 2,
     "geometry.predelamination", "within 0.1%"),
    ("3D predelamination beyond the side", layered(
        coatings=[SEI], depth=UM,
        predelamination={"center": [0.9 * UM, 0.5 * UM], "length": 0.4 * UM}), 3,
     "geometry.predelamination", "not strictly inside"),
    ("predelamination centre in 3D needs 2 coords", layered(
        coatings=[SEI], depth=UM, predelamination={"center": [0.5 * UM], "length": 0.2 * UM}),
     3, "geometry.predelamination.center", "expected 2"),
    ("unresolvable coating", layered(coatings=[dict(SEI, thickness=1e-13)]), 2,
     "geometry.coatings[0].thickness", "thinner than the mesh can resolve"),
    ("unresolvable electrolyte", layered(electrolyte=dict(ELECTROLYTE, thickness=1e-13)), 2,
     "geometry.electrolyte.thickness", "thinnest resolvable layer is 1e-12"),
    ("grain boundary width", dict(POLY, grain_boundary_width=1e-8), 2,
     "geometry.grain_boundary_width", "not supported"),
    ("grain seed in the metal", layered(electrolyte=dict(ELECTROLYTE, grains={
        "n_grains": 2, "seeds": [[0.5 * UM, 1.2 * UM], [0.5 * UM, 0.5 * UM]]})), 2,
     "geometry.electrolyte.grains.seeds[1]", "not in the electrolyte"),
    ("refinement box above the domain", layered(electrolyte=ELECTROLYTE, mesh={"refine": [
        {"box": [0, UM, 2 * UM, 3 * UM], "size": 0.01 * UM}]}), 2,
     "geometry.mesh.refine[0].box", "does not overlap"),
    ("refinement box coarser than the mesh", layered(mesh={"max_size": 0.05 * UM, "refine": [
        {"box": [0, UM, 0, UM], "size": 0.1 * UM}]}), 2,
     "geometry.mesh.refine[0].size", "coarser"),
    ("refinement box in 3D", layered(depth=UM, mesh={"refine": [
        {"box": [0, UM, 0, UM], "size": 0.01 * UM}]}), 3,
     "geometry.mesh.refine", "in 2D"),
]


@pytest.mark.parametrize("label,geometry,dim,key,text", BAD, ids=[b[0] for b in BAD])
def test_check_geometry_rejects(label, geometry, dim, key, text):
    """check_geometry (pure python, no mesh) rejects the bad input with a one-line
    GeometryError that starts with the offending key path."""
    case = make_case(geometry, dim)
    with pytest.raises(GeometryError) as e:
        check_geometry(case)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(key), msg
    assert text in msg, msg


@pytest.mark.parametrize("geometry,dim", [
    (TWO_COATINGS, 2),
    (layered(perturbations=[_sinusoid(0.05 * UM, 0.2 * UM)], coatings=[dict(SEI, thickness=
                                                                           15e-9)]), 2),
    (layered(perturbations=[dict(BUMP, shape="spherical", height=-0.1 * UM),
                            {"type": "random", "rms": 0.01 * UM,
                             "correlation_length": 0.2 * UM, "seed": 1}],
             coatings=[SEI], predelamination={"center": [0.3 * UM], "length": 0.2 * UM}), 2),
    (layered(perturbations=[dict(BUMP, center=[0.5 * UM, 0.5 * UM])], depth=UM,
             coatings=[SEI], predelamination={"center": [0.5 * UM, 0.5 * UM],
                                              "length": 0.2 * UM}), 3),
    (POLY, 2),
    (dict(POLY, depth=10 * UM), 3),
])
def test_check_geometry_accepts_valid(geometry, dim):
    """Valid geometries (just inside the curvature limit, pits, random roughness,
    predelamination, 3D, polycrystal) pass check_geometry."""
    check_geometry(make_case(geometry, dim))


def test_build_rejects_on_every_rank():
    """build_geometry runs check_geometry first: a bad case raises GeometryError on every
    rank (no rank is left waiting in a collective)."""
    case = make_case(BAD[0][1])
    with pytest.raises(GeometryError):
        build_geometry(case, COMM)
    assert COMM.allreduce(1) == COMM.size


def test_worst_cell_quality_flags_a_collapsed_cell():
    """gmshio.worst_cell_quality (volume / longest edge^d, all ranks): 0.25 on a structured
    right-triangle mesh; below MIN_CELL_QUALITY once the centre vertex is moved to within
    1e-13 of its neighbour (0.25, 0.25): the triangles that share that edge collapse to
    (nearly) zero area, as along a collapsed seam."""
    from solver.geometry.gmshio import MIN_CELL_QUALITY, worst_cell_quality

    m = dolfinx.mesh.create_unit_square(COMM, 4, 4)
    q, _ = worst_cell_quality(m)
    assert q == pytest.approx(0.25, rel=1e-12)
    x = m.geometry.x
    inner = np.flatnonzero(np.isclose(x[:, 0], 0.5) & np.isclose(x[:, 1], 0.5))
    x[inner, 0] = 0.25
    x[inner, 1] = 0.25 + 1e-13
    q, where = worst_cell_quality(m)
    assert q < MIN_CELL_QUALITY, q
    assert len(where) == 2


def test_grains_over_a_bump_have_no_slivers():
    """cases/m6_grains.yaml's geometry (a Gaussian Na bump under four Voronoi grains):
    every cell has quality (volume / longest edge^2) above 0.1. Before the fix the grain
    cells started at the lowest surface point, their bottom edge ran within 3 pm - 0.7 nm
    of the bump's flat flanks, and OCC meshed the two curves apart: 24 coincident vertex
    pairs, cells of quality 1.3e-11, and an M3 Newton that stalled at residual ~10
    (accepted by the step-norm test). The geometry now rejects such meshes."""
    import yaml

    from conftest import ROOT
    from solver.config import parse_case
    from solver.geometry.gmshio import worst_cell_quality

    case = parse_case(yaml.safe_load((ROOT / "cases" / "m6_grains.yaml").read_text()))
    geo = build_geometry(case, COMM)
    q, _ = worst_cell_quality(geo.mesh)
    assert q > 0.1, q
    assert _outer_groups_off_the_boundary(geo) == 0
