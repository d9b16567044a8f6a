"""The Geometry record every physics module receives."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import solver.compat  # noqa: F401  (must precede dolfinx)
import dolfinx


@dataclass
class Geometry:
    mesh: dolfinx.mesh.Mesh
    cell_tags: dolfinx.mesh.MeshTags
    facet_tags: dolfinx.mesh.MeshTags
    regions: dict[str, int]  # region name -> cell tag
    boundaries: dict[str, int]  # boundary / interface name -> facet tag
    region_material: dict[str, str]  # region name -> material name
    # Per-grain crystal orientation, cell tag -> angle about z (rad) in 2D or
    # (phi1, Phi, phi2) Bunge Euler angles (rad) in 3D. Empty for untextured regions.
    orientation: dict[int, float | tuple[float, float, float]] = field(default_factory=dict)
    # Requested thickness of every layer (metal excluded), m.
    layer_thickness: dict[str, float] = field(default_factory=dict)
    # Unperturbed metal surface height plus perturbations: z = surface_height(x[, y]) (numpy).
    surface_height: Callable[..., np.ndarray] | None = None
    # Height of the top of the coating stack (the outermost coating's upper face) over the
    # lateral points P (n, dim - 1), metres; None without coatings (layered geometries).
    coating_top_height: Callable[[np.ndarray], np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return self.mesh.topology.dim
