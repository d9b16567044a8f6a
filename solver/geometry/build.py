"""Entry points: `build_geometry(case, comm)` (collective) and `check_geometry(case)`."""

from __future__ import annotations

from solver.geometry.base import Geometry
from solver.geometry.validate import check_geometry

__all__ = ["build_geometry", "check_geometry"]


def build_geometry(case, comm) -> Geometry:
    """Check the geometry, mesh it with gmsh on rank 0 and distribute it over `comm`.

    Every rank returns a Geometry with the same name -> tag dictionaries; coordinates are in
    metres. Raises GeometryError (on every rank) for a geometry that cannot be built."""
    check_geometry(case)
    if case.geometry.kind == "polycrystal":
        from solver.geometry.polycrystal import build_polycrystal

        return build_polycrystal(case, comm)
    if case.geometry.kind == "plate":
        from solver.geometry.plate import build_plate

        return build_plate(case, comm)
    from solver.geometry.layered import build_layered

    return build_layered(case, comm)
