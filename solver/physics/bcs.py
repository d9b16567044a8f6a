"""Mechanical boundary conditions built from the case file.

Each object has the same lifecycle: built once on (V, geometry), then ``update(factor)``
before every load step scales its prescribed value by the load factor. Dirichlet conditions
expose ``dirichlet`` (a list of dolfinx DirichletBC); Neumann conditions expose ``form(v)``.
"""

from __future__ import annotations

import numpy as np

import solver.compat  # noqa: F401
import dolfinx
import dolfinx.la
import ufl
from mpi4py import MPI
from petsc4py import PETSc

from solver.errors import CaseError

# Outward normal axis of each flat outer boundary (the last axis is "vertical").
FLAT_AXIS_2D = {"left": 0, "right": 0, "bottom": 1, "top": 1}
FLAT_AXIS_3D = {"left": 0, "right": 0, "front": 1, "back": 1, "bottom": 2, "top": 2}


def _facets(geo, name: str, key: str) -> np.ndarray:
    if name not in geo.boundaries:
        raise CaseError(f"{key}: unknown boundary '{name}'; known: {', '.join(geo.boundaries)}")
    return geo.facet_tags.find(geo.boundaries[name])


def _allowed_tags(geo, bc, regions, key: str) -> set[int] | None:
    """Cell tags a condition may act on: the bc's own ``region`` and the field's
    ``regions`` (None: all)."""
    tags = None if regions is None else {geo.regions[r] for r in regions}
    if getattr(bc, "region", None) is not None:
        if bc.region not in geo.regions:
            raise CaseError(f"{key}.region: unknown region '{bc.region}'; known: "
                            f"{', '.join(geo.regions)}")
        own = {geo.regions[bc.region]}
        tags = own if tags is None else tags & own
    return tags


def region_indicator(geo, tags: set[int]) -> dolfinx.fem.Function:
    """DG0 function: 1 on cells whose tag is in ``tags``, 0 elsewhere."""
    V0 = dolfinx.fem.functionspace(geo.mesh, ("DG", 0))
    chi = dolfinx.fem.Function(V0)
    for t in tags:
        chi.x.array[V0.dofmap.list[geo.cell_tags.find(t), 0]] = 1.0
    chi.x.scatter_forward()
    return chi


def facets_next_to(geo, facets: np.ndarray, tags: set[int]) -> np.ndarray:
    """The facets among ``facets`` that touch a cell whose tag is in ``tags``."""
    mesh = geo.mesh
    tdim = mesh.topology.dim
    mesh.topology.create_connectivity(tdim - 1, tdim)
    f2c = mesh.topology.connectivity(tdim - 1, tdim)
    n = mesh.topology.index_map(tdim)
    tag_of = np.full(n.size_local + n.num_ghosts, -1, dtype=np.int32)
    tag_of[geo.cell_tags.indices] = geo.cell_tags.values
    wanted = np.isin(tag_of, list(tags))
    keep = [f for f in facets if wanted[f2c.links(f)].any()]
    return np.asarray(keep, dtype=np.int32)


class _Dirichlet:
    def __init__(self, V, geo, bc, key: str, regions=None):
        self.dim = geo.dim
        fdim = self.dim - 1
        facets = _facets(geo, bc.boundary, key)
        tags = _allowed_tags(geo, bc, regions, key)
        if tags is not None:
            facets = facets_next_to(geo, facets, tags)
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
    def __init__(self, V, geo, bc, key: str, regions=None):
        _facets(geo, bc.boundary, key)
        self.tag = geo.boundaries[bc.boundary]
        tags = _allowed_tags(geo, bc, regions, key)
        self.chi = None if tags is None else region_indicator(geo, tags)
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
            n = ufl.FacetNormal(ufl.domain.extract_unique_domain(v))  # v may be a
            # component of a mixed test function (a monolithic M4)
            t = -self.c[0] * n
        else:
            t = self.c
        if self.chi is not None:
            t = self.chi * t
        return ufl.dot(t, v) * ds(self.tag)


def nodes_of_regions(V, geo, regions) -> np.ndarray:
    """Boolean mask over V's local dofs (blocks, owned and ghost): touched by a cell of
    one of ``regions`` on any rank (agreed across ranks by a reverse scatter)."""
    marker = dolfinx.la.vector(V.dofmap.index_map, 1)
    cells = np.concatenate([geo.cell_tags.find(geo.regions[r]) for r in regions])
    marker.array[np.unique(V.dofmap.list[cells])] = 1.0
    marker.scatter_reverse(dolfinx.la.InsertMode.add)
    marker.scatter_forward()
    return marker.array > 0


def reaction_forms(cfg_bcs, fields, comm):
    """Reaction forces of the first non-zero displacement condition of ``cfg_bcs``: each
    field's residual tested with the unit function on that condition's dofs, per prescribed
    component (N, or N/m in 2D). ``fields``: (conditions built from cfg_bcs, residual form,
    its test space) per displacement field; a field without the condition's dofs adds
    nothing. Returns (main component, its prescribed value, {component: form}) or None."""
    for j, bc in enumerate(cfg_bcs):
        if bc.type != "displacement":
            continue
        vals = [abs(v) if v is not None else 0.0 for v in bc.value]
        if max(vals) == 0:
            continue
        forms = {}
        for comp, v in enumerate(bc.value):
            if v is None:
                continue
            terms = []
            for built, F, V in fields:
                obj = built[j]
                idx, _ = obj.dirichlet[list(obj.constants).index(comp)].dof_indices()
                if not comm.allreduce(len(idx), op=MPI.SUM):
                    continue  # this field has none of the condition's facets
                w = dolfinx.fem.Function(V)
                w.x.array[idx] = 1.0
                w.x.scatter_forward()
                terms.append(ufl.replace(F, {ufl.TestFunction(V): w}))
            if terms:
                forms[comp] = dolfinx.fem.form(sum(terms[1:], terms[0]))
        main = int(np.argmax(vals))
        if main in forms:
            return main, bc.value[main], forms
    return None


class LoadPath:
    """Load factor a(t): piecewise linear through [t, factor] points (``load_path`` of a
    case), or a = t without points."""

    def __init__(self, points):
        self.points = None if points is None else np.asarray(points, dtype=float)

    def __call__(self, t: float) -> float:
        if self.points is None:
            return float(t)
        return float(np.interp(t, self.points[:, 0], self.points[:, 1]))


def build(V, geo, bcs, key: str = "physics.elasticity.boundary_conditions", regions=None):
    """Conditions on V; ``regions`` (names) restricts them to those regions' boundary
    facets (a displacement field that lives on part of the domain)."""
    out = []
    for i, bc in enumerate(bcs):
        k = f"{key}[{i}]"
        cls = _Neumann if bc.type in ("traction", "pressure") else _Dirichlet
        out.append(cls(V, geo, bc, k, regions))
    return out
