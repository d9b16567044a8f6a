"""Phase-field noise is a function of position, time and seed only, and with a correlation
time it accumulates like a Wiener process whatever the time steps.

What: solver.problems.electrodeposition.position_noise and noise_space_weight; the noise
term of ElectrodepositionProblem (``noise=(amplitude, seed, correlation_time,
correlation_length)``).
Against: position_noise's contract: values in [-1/2, 1/2], mean ~ 0 and variance ~ 1/12
(uniform), the same value for a point whatever order or partition the points come in,
different values for another seed or another time. The noise term: a flat 1D front at
equilibrium (no Butler-Volmer drive) moves only by the noise, and the translation of a
front has no restoring force, so its deposited volume after a time T is a random walk:
its variance over 48 seeds must not depend on the number of steps (4 or 16 over T) with
a correlation time (expected ratio 1, measured 0.94), and must grow with dt without one
(expected ratio 4, measured 3.84). With a correlation length the vertex values are scaled
by sqrt(ell^d / A_i): the noise's strength must then not depend on the mesh (the lumped
identity to 1e-12 in 1D and 2D, and the front's variance on 64 and 256 cells, expected
ratio 1), while without it the coarse mesh's variance is 4 times the fine one's in 1D.
The samples are seeded hashes, so the test is
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


def _volume_variance(tau, steps, T=0.2, seeds=48, cells=128, ell=None):
    p = ed.ElectrodepositionParameters.from_hong2018(E_eq=0.0)
    dV = []
    for seed in range(seeds):
        pr = front_1d(p, cells=cells, noise=(4.0, seed, tau, ell),
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


@pytest.mark.parametrize("d, n", [(1, 64), (1, 256), (2, 8), (2, 32)])
def test_space_weight_makes_the_strength_mesh_independent(d, n):
    """noise_space_weight: with independent vertex values of variance s^2 scaled by it, the
    variance of int r phi dx for phi = 1 is s^2 sum_i A_i^2 w_i^2, which must equal
    s^2 ell^d |Omega| on every mesh (here a unit interval or a unit square with
    n cells per side, on 1 or 2 ranks; 1e-12), while sum_i A_i^2 alone (no weight) falls
    as h^d."""
    import dolfinx
    from mpi4py import MPI

    from solver.problems.electrodeposition import noise_space_weight

    comm = MPI.COMM_WORLD
    mesh = (dolfinx.mesh.create_unit_interval(comm, n) if d == 1 else
            dolfinx.mesh.create_unit_square(comm, n, n, diagonal=dolfinx.mesh.DiagonalType.crossed))
    V = dolfinx.fem.functionspace(mesh, ("Lagrange", 1))
    ell = 0.03
    w = noise_space_weight(V, ell)
    nown = V.dofmap.index_map.size_local
    A = ell**d / w[:nown] ** 2  # the lumped areas back
    total = comm.allreduce(float(np.sum(A**2 * w[:nown] ** 2)), op=MPI.SUM)
    assert total == pytest.approx(ell**d * 1.0, rel=1e-12)
    h = 1.0 / n
    unweighted = comm.allreduce(float(np.sum(A**2)), op=MPI.SUM)
    assert 0.2 * h**d < unweighted < 1.0 * h**d  # ~ h^d: weaker on a finer mesh
    assert comm.allreduce(float(np.sum(A)), op=MPI.SUM) == pytest.approx(1.0, rel=1e-12)


@pytest.mark.serial
def test_correlation_length_makes_the_noise_mesh_independent():
    """The 1D front of the Wiener-process test on 64 and 256 cells: with a correlation
    length (the 128-cell spacing) the variance of the deposited volume over the seeds is
    the same on both meshes (expected ratio 1), without it the coarse mesh's is 4 times the
    fine one's (one draw per vertex: variance ~ h in 1D)."""
    p = ed.ElectrodepositionParameters.from_hong2018(E_eq=0.0)
    ell = 32 * p.interface_width / 128
    coarse, fine = (_volume_variance(0.05, 4, cells=c, ell=ell, seeds=64) for c in (64, 256))
    raw_coarse, raw_fine = (_volume_variance(0.05, 4, cells=c, seeds=64) for c in (64, 256))
    print(f"\nvariance ratio coarse / fine: {coarse / fine:.3f} with ell, "
          f"{raw_coarse / raw_fine:.3f} without")
    assert 0.65 < coarse / fine < 1.5
    assert 2.6 < raw_coarse / raw_fine < 6.0
