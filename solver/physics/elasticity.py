"""M1: small-strain linear elasticity, plane strain (2D) and 3D, several materials.

Everything is written on 3x3 tensors. A 2D displacement u = (u_x, u_y) is embedded as the
plane-strain strain tensor [[e_xx, e_xy, 0], [e_xy, e_yy, 0], [0, 0, 0]], so that an
eigenstrain's out-of-plane component and the out-of-plane stress sigma_zz are exact:

    sigma = C : (eps(u) - eps0),    eps0 = eigenstrain (3x3, any region, any field)

Constitutive data are cell-wise (DG0) fields built from the cell tags: Lame parameters when
every material is isotropic (cheapest kernel), otherwise a 6x6 Voigt stiffness per cell
(rotated per grain). Voigt order 11, 22, 33, 23, 13, 12 with engineering shear strains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import solver.compat  # noqa: F401
import basix.ufl
import dolfinx
import ufl

_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def strain(u, dim: int):
    """Small strain as a 3x3 tensor (plane-strain embedding in 2D)."""
    e = ufl.sym(ufl.grad(u))
    if dim == 3:
        return e
    return ufl.as_tensor([[e[0, 0], e[0, 1], 0], [e[1, 0], e[1, 1], 0], [0, 0, 0]])


def stress_isotropic(eps, lmbda, mu):
    return lmbda * ufl.tr(eps) * ufl.Identity(3) + 2 * mu * eps


def to_voigt_strain(eps):
    return ufl.as_vector([eps[i, j] if i == j else 2 * eps[i, j] for i, j in _VOIGT])


def from_voigt_stress(s):
    return ufl.as_tensor(
        [[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]]
    )


def stress_voigt(eps, C):
    return from_voigt_stress(ufl.dot(C, to_voigt_strain(eps)))


def von_mises(s):
    dev = s - ufl.tr(s) / 3 * ufl.Identity(3)
    return ufl.sqrt(1.5 * ufl.inner(dev, dev))


def hydrostatic(s):
    """Mean stress tr(sigma)/3 (positive in tension)."""
    return ufl.tr(s) / 3


@dataclass
class ElasticMaterialField:
    """Cell-wise constitutive law: ``stress(eps)`` returns sigma for a 3x3 strain."""

    lmbda: dolfinx.fem.Function | None = None
    mu: dolfinx.fem.Function | None = None
    C: dolfinx.fem.Function | None = None

    def stress(self, eps):
        if self.C is not None:
            return stress_voigt(eps, self.C)
        return stress_isotropic(eps, self.lmbda, self.mu)

    @property
    def anisotropic(self) -> bool:
        return self.C is not None


def _cellwise(mesh, cell_tags, shape, values_by_tag: dict[int, np.ndarray], name: str,
              default=None):
    """DG0 function (scalar or tensor) with one value per tagged region; ``default`` (of
    the same shape) on the other cells, zero without it."""
    el = basix.ufl.element("DG", mesh.basix_cell(), 0, shape=shape or None)
    V = dolfinx.fem.functionspace(mesh, el)
    f = dolfinx.fem.Function(V, name=name)
    bs = int(np.prod(shape)) if shape else 1
    arr = f.x.array.reshape(-1, bs)
    if default is not None:
        arr[:] = np.asarray(default, dtype=arr.dtype).reshape(-1)
    for tag, val in values_by_tag.items():
        cells = cell_tags.find(tag)
        dofs = V.dofmap.list[cells, 0]
        arr[dofs] = np.asarray(val, dtype=arr.dtype).reshape(-1)
    f.x.scatter_forward()
    return f


def material_field(mesh, cell_tags, props_by_tag: dict[int, dict]) -> ElasticMaterialField:
    """Build the cell-wise law from ``{tag: {"lame": (lmbda, mu)} | {"voigt": C6x6}}``."""
    if all("lame" in p for p in props_by_tag.values()):
        lm = {t: p["lame"][0] for t, p in props_by_tag.items()}
        mu = {t: p["lame"][1] for t, p in props_by_tag.items()}
        return ElasticMaterialField(
            lmbda=_cellwise(mesh, cell_tags, (), lm, "lambda"),
            mu=_cellwise(mesh, cell_tags, (), mu, "mu"),
        )
    C = {t: p["voigt"] for t, p in props_by_tag.items()}
    return ElasticMaterialField(C=_cellwise(mesh, cell_tags, (6, 6), C, "stiffness"))


def eigenstrain_field(mesh, cell_tags, tensors_by_tag: dict[int, np.ndarray]):
    """DG0 3x3 eigenstrain from per-region constant tensors (zero elsewhere)."""
    return _cellwise(mesh, cell_tags, (3, 3), tensors_by_tag, "eigenstrain")


def bilinear_form(u, v, law: ElasticMaterialField, dim: int, dx):
    return ufl.inner(law.stress(strain(u, dim)), strain(v, dim)) * dx


def eigenstrain_load(v, law: ElasticMaterialField, eps0, dim: int, dx):
    """Right-hand side of C:(eps(u) - eps0) = ... : the term  int C:eps0 : eps(v)."""
    return ufl.inner(law.stress(eps0), strain(v, dim)) * dx


def stored_energy(u, law: ElasticMaterialField, eps0, dim: int, dx):
    """Elastic energy 1/2 (eps - eps0) : C : (eps - eps0); J (3D) or J/m (2D, per depth)."""
    ee = strain(u, dim) - eps0
    return 0.5 * ufl.inner(law.stress(ee), ee) * dx


def stress(u, law: ElasticMaterialField, eps0, dim: int):
    return law.stress(strain(u, dim) - eps0)
