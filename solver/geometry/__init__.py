"""Gmsh geometry generators (run on rank 0) and the mesh they give, distributed by DOLFINx.

Contract used by every physics module:

    geo = build_geometry(case, comm)        # collective
    geo.mesh, geo.cell_tags, geo.facet_tags # dolfinx objects
    geo.regions["metal"] -> cell tag        # also each coating's name, "electrolyte", "grain_<i>"
    geo.boundaries["bottom"] -> facet tag   # bottom/top/left/right (+ front/back in 3D),
                                            # interface_<below>_<above>, predelaminated,
                                            # grain_boundaries
    geo.region_material["metal"] -> "Li"

`check_geometry(case)` performs every check that needs no mesh (bumps inside the domain,
layers resolvable, offsets that would self-intersect) and raises GeometryError naming the key.
"""

from solver.geometry.base import Geometry
from solver.geometry.build import build_geometry, check_geometry

__all__ = ["Geometry", "build_geometry", "check_geometry"]
