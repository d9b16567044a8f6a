"""Seed 000 Fig. 4: plating two small Li bumps through bare / Al2O3 / LiAlOx coatings.

What: the three quick cases (cases/seed000_{bare,al2o3,lialox}_quick.yaml; identical except
the coating material, so only the coating's cation diffusivity and ionic conductivity differ)
run through `solver run --no-figures` and stop at the same deposited volume (1.2e-12 m^3
per m of depth).
Against: (1) the modelling assumption of a fixed coating region: the xi = 1/2 line stays
below the coating top (metal 2 um + coating 1 um) for the whole simulated charge;
(2) seed 000, Fig. 4 and its text: at equal charge LiAlOx stays flat, bare Li roughens,
Al2O3 grows dendrites fastest, i.e. roughness LiAlOx < bare < Al2O3 and LiAlOx's roughness
close to its initial value. (2) is NOT reproduced by the model as it stands (xfail; numbers
and the reason in docs/electrodeposition.md, "Seed 000 (coatings)").
"""

from __future__ import annotations

import csv
import subprocess

import pytest

from conftest import ROOT, clean_env, solver_cmd

pytestmark = pytest.mark.serial

CASES = ("lialox", "bare", "al2o3")
METAL_TOP, COATING = 2.0e-6, 1.0e-6  # flat metal surface and coating thickness in the cases
CHARGE = 1.2e-12  # stepping.stop threshold of the quick cases, m^3 (per m of depth)


@pytest.fixture(scope="module")
def histories(tmp_path_factory):
    out = tmp_path_factory.mktemp("seed000")
    res = {}
    for key in CASES:
        r = subprocess.run(solver_cmd("run", f"cases/seed000_{key}_quick.yaml", "-o",
                                      str(out / key), "--no-figures"),
                           capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                           timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
        with open(out / key / "history.csv") as f:
            res[key] = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    return res


def test_same_charge_and_deposit_inside_coating(histories):
    for key, rows in histories.items():
        last = rows[-1]
        # stopped by the charge threshold, within one step of it
        assert CHARGE <= last["deposited_volume_m3"] < 1.5 * CHARGE, key
        top = max(r["interface_height_max_m"] for r in rows)
        assert top < METAL_TOP + COATING, f"{key}: deposit left the fixed coating ({top:g} m)"


@pytest.mark.xfail(reason="model gives the reverse order at equal charge (LiAlOx 5.2e-8 > "
                   "bare 2.7e-8 > Al2O3 2.3e-8 m, initial 8.4e-8 m): slower transport "
                   "only stretches the time to the same charge, during which capillarity "
                   "flattens the bumps; see docs/electrodeposition.md 'Seed 000 (coatings)'",
                   strict=True)  # a pass means the model changed: update the case docs
def test_roughness_order_lialox_bare_al2o3(histories):
    rough = {k: rows[-1]["roughness_m"] for k, rows in histories.items()}
    initial = histories["lialox"][0]["roughness_m"]
    assert rough["lialox"] < rough["bare"] < rough["al2o3"], rough
    assert abs(rough["lialox"] - initial) < 0.2 * initial, (rough["lialox"], initial)
