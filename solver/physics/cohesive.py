"""M2: bilinear mixed-mode cohesive law (Turon et al. 2006 form of Benzeggagh-Kenane).

The interface carries a displacement jump [[u]] = u_above - u_below. With n the unit normal
pointing from the lower body into the upper one,

    normal opening    dn = [[u]] . n               (dn < 0: contact)
    shear slip        ds = [[u]] - dn n,  |ds|
    effective         lam = sqrt(<dn>^2 + |ds|^2)   (<x> = max(x, 0))
    mode mixity       B = |ds|^2 / (<dn>^2 + |ds|^2)    (0: mode I, 1: mode II)

One penalty stiffness K for both modes. Onset and final effective separations (Turon,
Camanho, Costa, Davila, Mech. Mater. 38 (2006) 1072):

    d0_n = N / K,  d0_s = S / K,  df_n = 2 G_Ic / N,  df_s = 2 G_IIc / S
    delta0 = sqrt(d0_n^2 + (d0_s^2 - d0_n^2) B^eta)
    deltaf = (d0_n df_n + (d0_s df_s - d0_n df_n) B^eta) / delta0

so that the energy dissipated to full separation, K delta0 deltaf / 2, is the
Benzeggagh-Kenane toughness G_c(B) = G_Ic + (G_IIc - G_Ic) B^eta. Damage

    d = max(d_history, d_trial),  d_trial = clip(deltaf (lam - delta0) / (lam (deltaf - delta0)))

never heals (the history is stored where the interface is integrated, see below). Traction
on the lower body (minus it on the upper):

    T = (1 - d) K (ds + <dn> n) + K (dn - <dn>) n

i.e. a damaged spring in tension and shear, the undamaged penalty in contact (no
interpenetration beyond the penalty's compliance). Unloading follows the secant to the
origin because d is frozen below its history.

Dissipated energy density at damage d (exact for proportional loading):
    phi = G_c(B) delta0 d / (deltaf - d (deltaf - delta0)).

Every function takes an ``ops`` backend (``UFL`` or ``NUMPY``) so that the weak form and the
history update at the nodes evaluate the same expressions.
"""

from __future__ import annotations

import operator
from collections import namedtuple
from dataclasses import dataclass

import numpy as np

import solver.compat  # noqa: F401
import ufl


# the few operations the law needs, for UFL forms and for numpy arrays at the nodes
Ops = namedtuple("Ops", "max min sqrt pow")
UFL = Ops(ufl.max_value, ufl.min_value, ufl.sqrt, operator.pow)
NUMPY = Ops(np.maximum, np.minimum, np.sqrt, np.power)


@dataclass(frozen=True)
class BilinearLaw:
    """Bilinear traction-separation law, SI units (Pa/m, Pa, J/m^2)."""

    stiffness: float  # K
    strength_normal: float  # N
    strength_shear: float  # S
    toughness_normal: float  # G_Ic
    toughness_shear: float  # G_IIc
    bk_exponent: float = 2.0  # eta

    def __post_init__(self):
        for k in ("stiffness", "strength_normal", "strength_shear", "toughness_normal",
                  "toughness_shear", "bk_exponent"):
            if not getattr(self, k) > 0:
                raise ValueError(f"{k} must be positive")
        # onset before final separation: checked where a user gives the values
        # (config.schema.CohesiveLaw)

    @property
    def onset_normal(self) -> float:
        return self.strength_normal / self.stiffness

    @property
    def onset_shear(self) -> float:
        return self.strength_shear / self.stiffness

    @property
    def final_normal(self) -> float:
        return 2 * self.toughness_normal / self.strength_normal

    @property
    def final_shear(self) -> float:
        return 2 * self.toughness_shear / self.strength_shear

    def toughness(self, B):
        """Benzeggagh-Kenane G_c(B) (numpy or float)."""
        return self.toughness_normal + (self.toughness_shear - self.toughness_normal) * \
            np.power(B, self.bk_exponent)

    def cohesive_length(self, youngs_modulus: float) -> float:
        """Hillerborg's characteristic length E G_Ic / N^2 (the process zone is of this
        order; elements along the interface should be several times smaller)."""
        return youngs_modulus * self.toughness_normal / self.strength_normal**2


def separations(jump, n, dot):
    """(dn, |ds|^2) from the jump and the unit normal; ``dot`` is the backend's dot."""
    dn = dot(jump, n)
    return dn, dot(jump, jump) - dn * dn


def mixed_mode(dn, ds2, law: BilinearLaw, ops, eps: float):
    """(lam, B, delta0, deltaf): effective separation, mode mixity and the onset/final
    separations at that mixity. ``eps`` (m) keeps lam > 0 so the forms stay smooth."""
    dnp = ops.max(dn, 0 * dn)
    ds2p = ops.max(ds2, 0 * ds2)  # round-off can make |jump|^2 - dn^2 slightly negative
    lam2 = dnp * dnp + ds2p + eps * eps
    B = ds2p / lam2
    delta0, deltaf = onset_final(B, law, ops)
    return ops.sqrt(lam2), B, delta0, deltaf


def trial_damage(lam, delta0, deltaf, ops):
    d = deltaf * (lam - delta0) / (lam * (deltaf - delta0))
    return ops.min(ops.max(d, 0 * d), 0 * d + 1.0)


def traction(jump, n, dn, d, law: BilinearLaw, ops):
    """Force per area on the lower body (the upper body gets minus this)."""
    K = law.stiffness
    dnp = ops.max(dn, 0 * dn)
    return (1 - d) * K * (jump - (dn - dnp) * n) + K * (dn - dnp) * n


def onset_final(B, law: BilinearLaw, ops):
    """(delta0, deltaf) at mode mixity B."""
    Be = ops.pow(B, law.bk_exponent)
    a_n, a_s = law.onset_normal, law.onset_shear
    f_n, f_s = law.final_normal, law.final_shear
    delta0 = ops.sqrt(a_n * a_n + (a_s * a_s - a_n * a_n) * Be)
    return delta0, (a_n * f_n + (a_s * f_s - a_n * f_n) * Be) / delta0


def dissipation_density(d, B, law: BilinearLaw, ops):
    """J/m^2 dissipated to reach damage d at mixity B (proportional loading)."""
    delta0, deltaf = onset_final(B, law, ops)
    gc = 0.5 * law.stiffness * delta0 * deltaf
    return gc * delta0 * d / (deltaf - d * (deltaf - delta0))


def nodal_state(jump: np.ndarray, n: np.ndarray, law: BilinearLaw, eps: float):
    """numpy: (dn, |ds|, d_trial, B) at nodes from (N, dim) jumps and unit normals."""
    dn, ds2 = separations(jump, n, lambda a, b: np.einsum("ij,ij->i", a, b))
    lam, B, d0, df = mixed_mode(dn, ds2, law, NUMPY, eps)
    return dn, np.sqrt(np.maximum(ds2, 0.0)), trial_damage(lam, d0, df, NUMPY), B
