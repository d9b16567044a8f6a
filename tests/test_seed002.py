"""Seed 002: does a LiZn interlayer delay the cracking of the brittle Li3N film?

What: cases/seed002_li3n_quick.yaml (110 nm Li3N on Li) and seed002_lizn_li3n_quick.yaml
(the same film on 800 nm LiZn on Li), loaded by the same local Li deposit under the coating
(a Gaussian volumetric eigenstrain of the Li, radius 0.5 um, 20 % at its centre at load
factor 1), PF-CZM fracture (linear softening, Rankine driving force, library strength and
toughness estimates), run in process on 1 and 2 ranks (this file runs in both passes).
Against: the PF-CZM verification of tests/test_fracture.py for the model itself; here
(1) seed 002's observation that the single Li3N layer cracks where Li deposits under it
(Fig. 5h): the damage starts and a traction-free crack (d >= 0.95) forms in the Li3N film,
right above the deposit (|x - 2 um| < 0.25 um); (2) its conclusion that the dual layer
delays the cracking: the deposit strain at damage onset is at least 3x the single layer's
(measured 7.6x on these meshes, 7.0x on the full cases) and no crack forms in the dual
layer before the single layer's has; the first damage of the dual layer is also in the
Li3N film above the deposit.
"""

from __future__ import annotations

import numpy as np
import pytest
from mpi4py import MPI

from solver.config import load_case

from conftest import ROOT, run_fracture

CENTRE, METAL_TOP = 2.0e-6, 2.0e-6


def _run(name, end, dt):
    case = load_case(ROOT / "cases" / f"seed002_{name}_quick.yaml")
    case.stepping.end, case.stepping.dt, case.stepping.dt_max = end, dt, dt
    rows, prob = run_fracture(case, keep=True)
    # where the damage is largest (gathered over the ranks)
    n = prob.Vd.dofmap.index_map.size_local
    d = prob.d.x.array[:n]
    x = prob.Vd.tabulate_dof_coordinates()[:n]
    i = int(np.argmax(d)) if n else 0
    best = MPI.COMM_WORLD.allgather((float(d[i]) if n else -1.0, x[i, :2].tolist() if n else
                                     [0.0, 0.0]))
    where = max(best)[1]
    film = sum(c.thickness for c in case.geometry.coatings)
    prob.destroy()
    return rows, where, film


@pytest.fixture(scope="module")
def runs():
    return {"single": _run("li3n", 0.22, 0.02),  # cracks at ~0.18
            "dual": _run("lizn_li3n", 1.0, 0.05)}


def test_single_li3n_layer_cracks_above_the_deposit(runs):
    rows, where, film = runs["single"]
    last = rows[-1]
    assert 0 < last["damage_onset_load_factor"] < last["crack_load_factor"] < 0.22, last
    assert abs(where[0] - CENTRE) < 0.25e-6, where
    assert METAL_TOP < where[1] <= METAL_TOP + film + 1e-12, where  # in the Li3N film


def test_lizn_interlayer_delays_cracking(runs):
    single, dual = runs["single"][0][-1], runs["dual"][0][-1]
    onset_single, onset_dual = single["damage_onset_load_factor"], \
        dual["damage_onset_load_factor"]
    assert onset_dual >= 3 * onset_single, (onset_dual, onset_single)
    crack_dual = dual["crack_load_factor"]
    assert np.isnan(crack_dual) or crack_dual > single["crack_load_factor"]
    rows, where, film = runs["dual"]
    assert abs(where[0] - CENTRE) < 0.25e-6, where
    assert METAL_TOP + film - 0.11e-6 - 1e-12 <= where[1] <= METAL_TOP + film + 1e-12, where
