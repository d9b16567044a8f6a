"""Phase-field noise is a function of position, time and seed only.

What: solver.problems.electrodeposition.position_noise.
Against: its contract: values in [-1/2, 1/2], mean ~ 0 and variance ~ 1/12 (uniform), the
same value for a point whatever order or partition the points come in, different values
for another seed or another time.
"""

from __future__ import annotations

import numpy as np

from solver.problems.electrodeposition import position_noise


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
