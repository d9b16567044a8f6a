"""Anderson acceleration of a distributed fixed-point iteration x = G(x).

Type II Anderson mixing (Walker & Ni, SIAM J. Numer. Anal. 49 (2011) 1715): with
f_i = G(x_i) - x_i and the differences dF, dG of the last ``depth`` residuals and images,

    gamma = argmin || f_k - dF gamma ||_2,      x_(k+1) = G(x_k) - dG gamma.

Vectors are the rank's owned entries; inner products are summed over the communicator, so
the iterates do not depend on the partition (beyond round-off). The least-squares problem
is solved through its small Gram matrix; columns that make it ill-conditioned are dropped,
oldest first.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from mpi4py import MPI


class Anderson:
    def __init__(self, comm: MPI.Comm, depth: int = 5, max_condition: float = 1e10):
        self.comm, self.depth, self.max_condition = comm, depth, max_condition
        self.reset()

    def reset(self) -> None:
        self._dF: deque[np.ndarray] = deque(maxlen=self.depth)
        self._dG: deque[np.ndarray] = deque(maxlen=self.depth)
        self._last: tuple[np.ndarray, np.ndarray] | None = None

    def update(self, x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Next iterate from the current input ``x`` and its image ``g = G(x)``.

        Safeguard: when the residual norm grew since the last call, the history is dropped
        and the plain fixed-point step g is returned (the mixing extrapolated too far)."""
        f = g - x
        norm = float(np.sqrt(self.comm.allreduce(float(f @ f), op=MPI.SUM)))
        if self._last is not None and norm > self._norm:
            self.reset()
        self._norm = norm
        if self._last is not None:
            f0, g0 = self._last
            self._dF.append(f - f0)
            self._dG.append(g - g0)
        self._last = (f.copy(), g.copy())
        while self._dF:
            m = len(self._dF)
            local = np.empty((m + 1, m))
            for i, a in enumerate(self._dF):
                for j in range(i, m):
                    local[i, j] = local[j, i] = float(a @ self._dF[j])
                local[m, i] = float(a @ f)
            full = np.empty_like(local)
            self.comm.Allreduce(local, full, op=MPI.SUM)
            gram, rhs = full[:m], full[m]
            scale = np.sqrt(np.diag(gram))
            if np.any(scale == 0):
                self._dF.popleft()
                self._dG.popleft()
                continue
            gs = gram / np.outer(scale, scale)
            if np.linalg.cond(gs) > self.max_condition:
                self._dF.popleft()
                self._dG.popleft()
                continue
            gamma = np.linalg.solve(gs, rhs / scale) / scale
            out = g.copy()
            for c, dg in zip(gamma, self._dG, strict=True):
                out -= c * dg
            return out
        return g.copy()


def clip_mixed(mixed: np.ndarray, image: np.ndarray, lo: float = 0.0,
               hi: float = 1.0) -> np.ndarray:
    """An Anderson iterate kept within [lo, hi], but never clipped tighter than the image
    G(x) itself: where G(x) overshoots the bounds (a P1 phase-field front overshoots [0, 1]
    by ~1e-5), clipping it would leave |G(x) - x| at the overshoot however close the
    iteration is to its fixed point."""
    return np.clip(mixed, np.minimum(image, lo), np.maximum(image, hi))
