"""Phase-field noise is a function of position, time and seed only, and with a correlation
time it accumulates like a Wiener process whatever the time steps.

What: solver.problems.electrodeposition.position_noise; the noise term of
ElectrodepositionProblem (``noise=(amplitude, seed, correlation_time)``).
Against: position_noise's contract: values in [-1/2, 1/2], mean ~ 0 and variance ~ 1/12
(uniform), the same value for a point whatever order or partition the points come in,
different values for another seed or another time. The noise term: a flat 1D front at
equilibrium (no Butler-Volmer drive) moves only by the noise, and the translation of a
front has no restoring force, so its deposited volume after a time T is a random walk:
its variance over 48 seeds must not depend on the number of steps (4 or 16 over T) with
a correlation time (expected ratio 1, measured 0.94), and must grow with dt without one
(expected ratio 4, measured 3.84). The samples are seeded hashes, so the test is
deterministic; it runs serially (192 small solves; the noise's rank independence is
tested on 2 ranks in tests/test_cli_run.py).
"""

from __future__ import annotations

import numpy as np
import pytest

import solver.compat  # noqa: F401

from solver.physics import electrodeposition as ed
from solver.problems.electrodeposition import position_noise

from conftest import front_1d


def test_uniform_and_partition_independent():
    """Statistics of a uniform variable; a shuffled (repartitioned) point set gets the same
    value at each point; seed and time change the field."""
    rng = np.random.default_rng(0)
    X = rng.uniform(0, 2e-5, size=(20000, 3))
    r = position_noise(X, seed=7, t=0.25)
    assert r.min() >= -0.5 and r.max() <= 0.5
    assert abs(r.mean()) < 0.01 and abs(r.var() - 1 / 12) < 0.005
    perm = rng.permutation(len(X))
    np.testing.assert_array_equal(position_noise(X[perm], 7, 0.25), r[perm])
    assert np.mean(position_noise(X, 8, 0.25) == r) < 1e-3
    assert np.mean(position_noise(X, 7, 0.5) == r) < 1e-3
    # neighbouring points 1 nm apart are uncorrelated
    r2 = position_noise(X + 1e-9, 7, 0.25)
    assert abs(np.corrcoef(r, r2)[0, 1]) < 0.05


def _volume_variance(tau, steps, T=0.2, seeds=48):
    p = ed.ElectrodepositionParameters.from_hong2018(E_eq=0.0)
    dV = []
    for seed in range(seeds):
        pr = front_1d(p, cells=128, noise=(4.0, seed, tau),
                      prefix=f"noise_walk_{steps}_{seed}_")
        for k in range(1, steps + 1):
            pr.solve(k * T / steps)
        dV.append(pr.metrics()["deposited_volume_m3"])
        pr.destroy()
    return float(np.var(dV))


@pytest.mark.serial
def test_correlation_time_makes_the_noise_a_wiener_process():
    fine = _volume_variance(0.0125, 16)  # tau = dt: the same draws as without tau
    assert abs(fine - _volume_variance(None, 16)) <= 1e-10 * fine  # sqrt(tau/dt) = 1
    scaled = _volume_variance(0.0125, 4) / fine
    unscaled = _volume_variance(None, 4) / fine
    assert 0.7 < scaled < 1.4, scaled
    assert 3.0 < unscaled < 5.0, unscaled
