"""Stiffness matrices and their rotation (pure numpy, no dolfinx).

Conventions (used throughout the solver, see docs/materials.md):

* Voigt order ``(11, 22, 33, 23, 13, 12)`` with **engineering** shear strains
  ``gamma_23 = 2 eps_23`` etc., so ``sigma_V = C @ eps_V`` and for an isotropic material
  ``C[3, 3] = C[4, 4] = C[5, 5] = mu``. Units: Pa.
* A rotation ``R`` (3x3, proper orthogonal) maps **crystal-frame components to global-frame
  components** of a vector: ``v_global = R @ v_crystal``; the columns of ``R`` are the crystal
  axes written in the global frame. The stiffness transforms as
  ``C'_ijkl = R_ia R_jb R_kc R_ld C_abcd``, which in Voigt form is ``C' = M C M^T`` with
  ``M = bond_matrix(R)`` (the Bond stress transformation matrix).
* 2D meshes are plane strain in the global x-y plane; ``y`` (``x[1]`` of the mesh) is the
  vertical in-plane axis, ``z`` is out of plane.
"""

from __future__ import annotations

import math

import numpy as np

VOIGT_PAIRS = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
"""Tensor index pair of each Voigt position (11, 22, 33, 23, 13, 12)."""

PLANE_STRAIN_INDICES = (0, 1, 5)
"""Voigt positions (11, 22, 12) of the in-plane x-y components (plane strain)."""


# --------------------------------------------------------------------------- construction
def isotropic_voigt(E: float, nu: float) -> np.ndarray:
    """6x6 isotropic stiffness from Young's modulus ``E`` (Pa) and Poisson's ratio ``nu``.

    ``lambda = E nu / ((1 + nu)(1 - 2 nu))``, ``mu = E / (2 (1 + nu))``; the shear diagonal is
    ``mu`` (engineering shear strains)."""
    if not (E > 0.0 and -1.0 < nu < 0.5):
        raise ValueError(f"need E > 0 and -1 < nu < 0.5, got E={E!r}, nu={nu!r}")
    lam = E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu))
    mu = E / (2.0 * (1.0 + nu))
    C = np.zeros((6, 6))
    C[:3, :3] = lam
    C[[0, 1, 2], [0, 1, 2]] = lam + 2.0 * mu
    C[[3, 4, 5], [3, 4, 5]] = mu
    return C


def transversely_isotropic_voigt(C11: float, C12: float, C13: float, C33: float,
                                 C44: float) -> np.ndarray:
    """6x6 hexagonal (transversely isotropic) stiffness with the symmetry axis along 3.

    ``C22 = C11``, ``C23 = C13``, ``C55 = C44``, ``C66 = (C11 - C12) / 2``. For a layered
    crystal such as beta''-alumina, axis 3 is the c-axis, normal to the conduction planes."""
    C = np.zeros((6, 6))
    C[0, 0] = C[1, 1] = C11
    C[2, 2] = C33
    C[0, 1] = C[1, 0] = C12
    C[0, 2] = C[2, 0] = C[1, 2] = C[2, 1] = C13
    C[3, 3] = C[4, 4] = C44
    C[5, 5] = 0.5 * (C11 - C12)
    return C


# --------------------------------------------------------------------------- rotations
def rotation_z(theta: float) -> np.ndarray:
    """Active rotation by ``theta`` (rad, counter-clockwise seen from +z) about the z axis."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_x(theta: float) -> np.ndarray:
    """Active rotation by ``theta`` (rad) about the x axis."""
    c, s = math.cos(theta), math.sin(theta)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_euler_bunge(phi1: float, Phi: float, phi2: float) -> np.ndarray:
    """Crystal-to-global rotation for Bunge Euler angles (z-x-z, radians).

    Returns ``R = Rz(phi1) @ Rx(Phi) @ Rz(phi2)`` (active rotations), so that
    ``v_global = R @ v_crystal``. This is the transpose of the classical Bunge orientation
    matrix ``g`` (which maps sample/global components to crystal components). The crystal
    c-axis (axis 3) points along ``R[:, 2] = (sin phi1 sin Phi, -cos phi1 sin Phi, cos Phi)``.
    """
    return rotation_z(phi1) @ rotation_x(Phi) @ rotation_z(phi2)


def _check_rotation(R) -> np.ndarray:
    R = np.asarray(R, dtype=float)
    if R.shape != (3, 3):
        raise ValueError(f"a rotation must be 3x3, got shape {R.shape}")
    if not np.allclose(R @ R.T, np.eye(3), atol=1e-10) or np.linalg.det(R) < 0.0:
        raise ValueError("R is not a proper rotation (R R^T = I, det R = +1)")
    return R


def bond_matrix(R) -> np.ndarray:
    """6x6 Bond stress-transformation matrix ``M`` of the rotation ``R``.

    With Voigt stresses ``sigma'_V = M @ sigma_V`` for ``sigma' = R sigma R^T``; with
    engineering shear strains ``eps'_V = M^{-T} @ eps_V`` and hence ``C' = M C M^T``.
    Entry ``M[I, J]`` for ``I = (i, j)``, ``J = (k, l)``: ``R_ik R_jk`` if ``k == l``, else
    ``R_ik R_jl + R_il R_jk``. ``M`` is multiplicative: ``M(R1 R2) = M(R1) M(R2)``."""
    R = _check_rotation(R)
    M = np.empty((6, 6))
    for I, (i, j) in enumerate(VOIGT_PAIRS):
        for J, (k, l) in enumerate(VOIGT_PAIRS):
            if k == l:
                M[I, J] = R[i, k] * R[j, k]
            else:
                M[I, J] = R[i, k] * R[j, l] + R[i, l] * R[j, k]
    return M


def rotate_voigt(C, R) -> np.ndarray:
    """Stiffness ``C`` (6x6, crystal frame) expressed in the global frame: ``M C M^T``.

    Equivalent to ``C'_ijkl = R_ia R_jb R_kc R_ld C_abcd`` with ``v_global = R v_crystal``."""
    C = np.asarray(C, dtype=float)
    if C.shape != (6, 6):
        raise ValueError(f"stiffness must be 6x6, got shape {C.shape}")
    M = bond_matrix(R)
    out = M @ C @ M.T
    return 0.5 * (out + out.T)


# Crystal axis 3 -> global x, crystal axis 1 -> global y, crystal axis 2 -> global z
# (a cyclic permutation, det = +1). Columns are the crystal axes in the global frame.
C_AXIS_TO_X = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def rotation_2d_c_axis(theta: float) -> np.ndarray:
    """Rotation used for 2D grains: crystal c-axis (axis 3) in the x-y plane at angle theta.

    ``R = rotation_z(theta) @ C_AXIS_TO_X``: first crystal axis 3 -> global x (crystal 1 -> y,
    crystal 2 -> z), then a rotation by ``theta`` about the out-of-plane z axis. The c-axis
    ends up along ``(cos theta, sin theta, 0)``; the conduction planes (normal to c) contain
    the z axis and the in-plane direction ``(-sin theta, cos theta, 0)``."""
    return rotation_z(theta) @ C_AXIS_TO_X


def c_axis(orientation, dim: int) -> np.ndarray | None:
    """Unit c-axis (crystal axis 3) of a grain in the mesh frame (length dim), or None for
    a region without an orientation: 2D, an angle (``rotation_2d_c_axis``); 3D, Bunge Euler
    angles (``rotation_euler_bunge``)."""
    if orientation is None:
        return None
    R = (rotation_2d_c_axis(float(orientation)) if dim == 2
         else rotation_euler_bunge(*orientation))
    return R[:dim, 2]


def voigt_2d_plane_strain_rotated(C_crystal, theta: float) -> np.ndarray:
    """Full 6x6 global-frame stiffness of a 2D (plane strain, x-y) grain.

    The grain's crystal c-axis (axis 3 of ``C_crystal``) lies in the x-y plane at angle
    ``theta`` (rad) counter-clockwise from the x axis; y is the vertical in-plane axis of the
    2D mesh (``x[1]``), z is out of plane. ``theta = 0``: c-axis along x, conduction planes
    vertical; ``theta = pi/2``: c-axis vertical, conduction planes horizontal (parallel to a
    flat metal/ceramic interface). For a transversely isotropic ``C_crystal`` the x-y plane
    is a mirror plane, so the in-plane block (Voigt 11, 22, 12) decouples exactly from the
    anti-plane shears (23, 13). Use :func:`plane_strain_block` for the 3x3 in-plane block."""
    return rotate_voigt(C_crystal, rotation_2d_c_axis(theta))


def plane_strain_block(C) -> np.ndarray:
    """3x3 plane-strain block (Voigt 11, 22, 12) of a global 6x6 stiffness:
    ``(sigma_xx, sigma_yy, sigma_xy) = D @ (eps_xx, eps_yy, gamma_xy)``."""
    C = np.asarray(C, dtype=float)
    idx = np.array(PLANE_STRAIN_INDICES)
    return C[np.ix_(idx, idx)].copy()


# --------------------------------------------------------------------------- tensors
def voigt_to_tensor(C) -> np.ndarray:
    """6x6 Voigt stiffness (engineering shear) -> 3x3x3x3 tensor with minor/major symmetry."""
    C = np.asarray(C, dtype=float)
    T = np.empty((3, 3, 3, 3))
    index = {}
    for I, (i, j) in enumerate(VOIGT_PAIRS):
        index[(i, j)] = index[(j, i)] = I
    for i in range(3):
        for j in range(3):
            for k in range(3):
                for m in range(3):
                    T[i, j, k, m] = C[index[(i, j)], index[(k, m)]]
    return T


def tensor_to_voigt(T) -> np.ndarray:
    """3x3x3x3 stiffness tensor -> 6x6 Voigt matrix (engineering shear convention)."""
    T = np.asarray(T, dtype=float)
    C = np.empty((6, 6))
    for I, (i, j) in enumerate(VOIGT_PAIRS):
        for J, (k, m) in enumerate(VOIGT_PAIRS):
            C[I, J] = T[i, j, k, m]
    return C


# --------------------------------------------------------------------------- checks / averages
def check_spd(C, rtol: float = 1e-12) -> str | None:
    """``None`` if ``C`` is a symmetric positive definite 6x6 matrix, else the reason."""
    C = np.asarray(C, dtype=float)
    if C.shape != (6, 6):
        return f"must be a 6x6 matrix, got shape {C.shape}"
    if not np.all(np.isfinite(C)):
        return "contains non-finite entries"
    scale = float(np.abs(C).max())
    if scale == 0.0:
        return "is all zeros"
    if not np.allclose(C, C.T, rtol=0.0, atol=1e-9 * scale):
        i, j = np.unravel_index(np.argmax(np.abs(C - C.T)), C.shape)
        return (f"must be symmetric (C[{i}][{j}] = {C[i, j]:g} but C[{j}][{i}] = "
                f"{C[j, i]:g})")
    w = np.linalg.eigvalsh(0.5 * (C + C.T))
    if w.min() <= rtol * scale:
        return (f"must be positive definite (smallest eigenvalue {w.min():.3g} Pa); "
                "the material would be unstable")
    return None


def voigt_reuss_hill(C) -> tuple[float, float]:
    """Voigt-Reuss-Hill polycrystal average of a 6x6 stiffness: ``(K, G)`` in Pa."""
    C = np.asarray(C, dtype=float)
    S = np.linalg.inv(C)
    KV = (C[0, 0] + C[1, 1] + C[2, 2] + 2.0 * (C[0, 1] + C[1, 2] + C[0, 2])) / 9.0
    GV = (C[0, 0] + C[1, 1] + C[2, 2] - (C[0, 1] + C[1, 2] + C[0, 2])
          + 3.0 * (C[3, 3] + C[4, 4] + C[5, 5])) / 15.0
    KR = 1.0 / (S[0, 0] + S[1, 1] + S[2, 2] + 2.0 * (S[0, 1] + S[1, 2] + S[0, 2]))
    GR = 15.0 / (4.0 * (S[0, 0] + S[1, 1] + S[2, 2]) - 4.0 * (S[0, 1] + S[1, 2] + S[0, 2])
                 + 3.0 * (S[3, 3] + S[4, 4] + S[5, 5]))
    return 0.5 * (KV + KR), 0.5 * (GV + GR)


def engineering_constants_from_KG(K: float, G: float) -> tuple[float, float]:
    """``(E, nu)`` of an isotropic material with bulk modulus ``K`` and shear modulus ``G``."""
    E = 9.0 * K * G / (3.0 * K + G)
    nu = (3.0 * K - 2.0 * G) / (2.0 * (3.0 * K + G))
    return E, nu


def cubic_voigt(C11: float, C12: float, C44: float) -> np.ndarray:
    """6x6 cubic stiffness (crystal axes along the cube edges)."""
    C = np.zeros((6, 6))
    C[:3, :3] = C12
    C[[0, 1, 2], [0, 1, 2]] = C11
    C[[3, 4, 5], [3, 4, 5]] = C44
    return C
