"""Mechanical boundary conditions built from the case file.

Each object has the same lifecycle: built once on (V, geometry), then ``update(factor)``
before every load step scales its prescribed value by the load factor. Dirichlet conditions
expose ``dirichlet`` (a list of dolfinx DirichletBC); Neumann conditions expose ``form(v)``.
"""

from __future__ import annotations

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import ufl
from petsc4py import PETSc

from solver.errors import CaseError

# Outward normal axis of each flat outer boundary (the last axis is "vertical").
FLAT_AXIS_2D = {"left": 0, "right": 0, "bottom": 1, "top": 1}
FLAT_AXIS_3D = {"left": 0, "right": 0, "front": 1, "back": 1, "bottom": 2, "top": 2}


def _facets(geo, name: str, key: str) -> np.ndarray:
    if name not in geo.boundaries:
        raise CaseError(f"{key}: unknown boundary '{name}'; known: {', '.join(geo.boundaries)}")
    return geo.facet_tags.find(geo.boundaries[name])


class _Dirichlet:
    def __init__(self, V, geo, bc, key: str):
        self.dim = geo.dim
        fdim = self.dim - 1
        facets = _facets(geo, bc.boundary, key)
        if bc.type == "clamped":
            comps = {i: 0.0 for i in range(self.dim)}
        elif bc.type == "roller":
            axes = FLAT_AXIS_3D if self.dim == 3 else FLAT_AXIS_2D
            comps = {axes[bc.boundary]: 0.0}
        else:
            comps = {i: v for i, v in enumerate(bc.value) if v is not None}
        self.values = comps
        self.constants = {}
        self.dirichlet = []
        for i in comps:
            Vi = V.sub(i)
            dofs = dolfinx.fem.locate_dofs_topological(Vi, fdim, facets)
            c = dolfinx.fem.Constant(V.mesh, PETSc.ScalarType(0.0))
            self.constants[i] = c
            self.dirichlet.append(dolfinx.fem.dirichletbc(c, dofs, Vi))

    def update(self, factor: float) -> None:
        for i, c in self.constants.items():
            c.value = factor * self.values[i]

    def form(self, v, ds):
        return None


class _Neumann:
    def __init__(self, V, geo, bc, key: str):
        _facets(geo, bc.boundary, key)
        self.tag = geo.boundaries[bc.boundary]
        self.dim = geo.dim
        self.dirichlet = []
        if bc.type == "pressure":
            self.base = np.array([bc.value])
        else:
            self.base = np.asarray(bc.value, dtype=float)
        self.c = dolfinx.fem.Constant(V.mesh, np.zeros_like(self.base, dtype=PETSc.ScalarType))
        self.kind = bc.type

    def update(self, factor: float) -> None:
        self.c.value = factor * self.base

    def form(self, v, ds):
        if self.kind == "pressure":
            n = ufl.FacetNormal(v.ufl_function_space().mesh)
            return -self.c[0] * ufl.dot(n, v) * ds(self.tag)
        return ufl.dot(self.c, v) * ds(self.tag)


def build(V, geo, bcs, key: str = "physics.elasticity.boundary_conditions"):
    out = []
    for i, bc in enumerate(bcs):
        k = f"{key}[{i}]"
        cls = _Neumann if bc.type in ("traction", "pressure") else _Dirichlet
        out.append(cls(V, geo, bc, k))
    return out
