"""Seed 003's wedge (Fig. 6b): a Na deposit growing in a crack along the conduction planes of
a beta''-alumina grain drives the crack, and the crack tip runs ahead of the dendrite tip.

What: cases/seed003_wedge_quick.yaml (M6: M3 + PF-CZM fracture, staggered; one grain with
vertical conduction planes over flat Na, a 0.2 um flaw at the interface along the planes,
the front gated by the damage, intact_mobility 0.01) through run_case with the common
stepper, to 0.3 s; serial pass (60 s for both runs; on 2 ranks the same tips to 4 digits,
measured in session 27, 126 s, so kept out of the 2-rank pass for time).
Against:
* seed 003 (line 174, Fig. 6b; in situ SEM, Fig. 5e-g: "Na deposition always trailed the
  crack propagation"): the crack tip (highest point with d >= 1/2) advances by more than
  0.06 um beyond where the first step left it, and lies above the dendrite tip (highest
  point of xi = 1/2) at every step; measured: 0.811 -> 0.917 um while the deposit rises
  0.300 -> 0.652 um (the control: crack tip unmoved at 0.811 um,
  deposit tip 0.617 um);
* confinement: the deposit grows up the crack (dendrite tip +0.25 um at least) while the
  flat surface away from it moves less than 0.02 um (interface_height_min_m; measured 5.7 nm);
* a control that cannot be met by the damage solver alone: with a negligible growth
  strain (1e-6) the same run's crack tip moves less than 0.01 um (the advance is the
  deposit's wedging).
"""

from __future__ import annotations

import csv

import pytest

from conftest import ROOT
from solver.config import parse_case
from solver.config.loader import apply_overrides, read_yaml
from solver.run import run_case

pytestmark = pytest.mark.serial


def _history(comm, out, overrides=()):
    data = read_yaml(ROOT / "cases" / "seed003_wedge_quick.yaml")
    apply_overrides(data, ["output.figures=false", "output.fields=false", *overrides])
    run_case(parse_case(data), out, comm)
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return [{k: float(v) for k, v in r.items() if k in
             ("time", "crack_tip_m", "dendrite_tip_m", "interface_height_min_m")}
            for r in rows]


def test_crack_runs_ahead_of_the_deposit_that_wedges_it(comm, shared_tmp):
    rows = _history(comm, shared_tmp / "wedge")
    first, last = rows[0], rows[-1]
    assert last["time"] == pytest.approx(0.3)
    assert last["crack_tip_m"] - first["crack_tip_m"] > 0.06e-6, (first, last)
    assert all(r["crack_tip_m"] > r["dendrite_tip_m"] + 0.05e-6 for r in rows), rows
    assert last["dendrite_tip_m"] - 0.3e-6 > 0.25e-6, last
    assert last["interface_height_min_m"] - 0.3e-6 < 0.02e-6, last

    control = _history(comm, shared_tmp / "control",
                       ["physics.electrodeposition.cracking.growth_strain=1e-6"])
    assert control[-1]["time"] == pytest.approx(0.3)
    assert abs(control[-1]["crack_tip_m"] - control[0]["crack_tip_m"]) < 0.01e-6, control[-1]
