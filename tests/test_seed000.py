"""Seed 000 Fig. 4: plating two small Li bumps through bare / Al2O3 / LiAlOx coatings.

What: the three quick cases (cases/seed000_{bare,al2o3,lialox}_quick.yaml; identical except
the coating material, so only the coating's cation diffusivity and ionic conductivity differ)
run through `solver run --no-figures` at the same applied current density (1000 A/m^2,
galvanostatic, grand potential) to the same time, so to the same deposited charge.
Against: (1) the modelling assumption of a fixed coating region: the xi = 1/2 line stays
below the coating top (metal 2 um + coating 1 um) for the whole simulated charge, and the
charge i W t / (n F c_s) (galvanostatic control); (2) seed 000, Fig. 4 and its text: at
equal charge the roughness orders LiAlOx < bare < Al2O3, LiAlOx staying nearly flat
(reproduced: measured 1.31e-8 < 1.40e-8 < 1.49e-8 m from 8.4e-8 m); (3) what is not
reproduced, as a strict xfail: seed 000's bare Li and Al2O3 *roughen* (here all three
flatten: Hong's capillarity at the sub-um scale of the bumps outweighs the lateral
concentration variation; docs/electrodeposition.md, "Seed 000").
"""

from __future__ import annotations

import csv

import pytest

from conftest import run_concurrently, solver_cmd

pytestmark = pytest.mark.serial

CASES = ("lialox", "bare", "al2o3")
METAL_TOP, COATING = 2.0e-6, 1.0e-6  # flat metal surface and coating thickness in the cases
CHARGE = 1000.0 * 8.0e-6 * 1.1 / (96485.33212 * 7.64e4)  # i W t / (n F c_s), m^3 per m


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed000")
    order = sorted(CASES, key=["al2o3", "bare", "lialox"].index)  # longest first
    done = run_concurrently({key: solver_cmd("run", f"cases/seed000_{key}_quick.yaml", "-o",
                                             str(out / key), "--no-figures")
                             for key in order})
    res = {}
    for key in CASES:
        r = done[key]
        assert r.returncode == 0, r.stdout + r.stderr
        with open(out / key / "history.csv") as f:
            res[key] = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return res


def test_same_charge_and_deposit_inside_coating(histories):
    for key, rows in histories.items():
        last = rows[-1]
        assert last["time"] == pytest.approx(1.1, rel=1e-9), key
        assert last["deposited_volume_m3"] == pytest.approx(CHARGE, rel=1e-3), key
        top = max(r["interface_height_max_m"] for r in rows)
        assert top < METAL_TOP + COATING, f"{key}: deposit left the fixed coating ({top:g} m)"


def test_roughness_order_lialox_bare_al2o3(histories):
    """At equal charge: LiAlOx < bare < Al2O3, each step of the order at least 3 % (measured
    7 % and 6 %), and LiAlOx nearly flat (below a quarter of the initial roughness)."""
    rough = {k: rows[-1]["roughness_m"] for k, rows in histories.items()}
    initial = 8.4e-8  # the two Gaussian bumps' std (the first rows are after one step)
    assert 1.03 * rough["lialox"] < rough["bare"], rough
    assert 1.03 * rough["bare"] < rough["al2o3"], rough
    assert rough["lialox"] < 0.25 * initial, rough


@pytest.mark.xfail(reason="all three flatten (1.3-1.5e-8 m from 8.4e-8 m): at the bumps' "
                   "sub-um scale the phase field's capillarity (L_sigma kappa0 = 1.875 "
                   "um^2/s) outweighs the lateral concentration variation; seed 000 shows "
                   "bare Li and Al2O3 roughening (docs/electrodeposition.md 'Seed 000')",
                   strict=True)  # a pass means the model changed: update the case docs
def test_bare_and_al2o3_roughen(histories):
    for key in ("bare", "al2o3"):
        assert histories[key][-1]["roughness_m"] > histories[key][0]["roughness_m"], key
