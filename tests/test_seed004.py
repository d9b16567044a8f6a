"""Seed 004: a stiff self-compacting separator (SCS) against a soft native SEI.

What: cases/seed004_scs_quick.yaml (a 1.5 um Li nucleus under a 4 um SCS, E = 11 GPa,
stress-coupled M4, grand-potential M3 at -0.45 V) and cases/seed004_sei_quick.yaml (the same
without the stiff layer: the ~10 nm soft SEI cannot confine the deposit), through `solver
run` to 0.25 s; the SCS arm on 1 and on 2 ranks.
Against: seed 004's claim (Sec. 2.3.2, after Monroe & Newman) that the stiff layer guards
against the roughening that unprotected Li shows. Measured on these meshes (relief = tip
minus base height of the xi = 1/2 line, 1.49 um after the first step):
  soft SEI: relief 3.24 um at 0.25 s (2.2x), growing faster and faster (increment of the
            second half of the run 2.8x the first half's): the nucleus runs away (dendrite);
  SCS:      relief 1.96 um, +0.48 um against the soft arm's +1.75 um (0.27x), increments
            0.75x from the first half to the second (the growth slows down), the same
            deposited volume within 0.6 % (the layer redistributes the deposit, it does not
            block it), and the tip under -3.1e8 Pa of hydrostatic stress (compression slows
            deposition there, M4's sign). The tip (6.86 um) stays 2.6 um below the layer's
            top, inside the range where the fixed-region coating is meaningful (the case
            stops when it is 2 um below the top: stepping.stop on coating_clearance_m).
Asserted with margins: soft >= 1.8x and accelerating >= 2x; SCS increment <= 0.5x the
soft's, half-to-half ratio <= 1 (decelerating), volumes within 5 %, tip compression
<= -1e8 Pa and stronger than the soft arm's, the run not stopped by the tip guard; 1 vs 2
ranks: relief and deposited volume to 1e-4.
"""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest

from conftest import ROOT, clean_env, run_concurrently, solver_cmd

pytestmark = pytest.mark.serial
END = 0.25


def _command(tmp_path, arm, np_=1, *sets):
    out = tmp_path / (f"{arm}_{np_}" + ("_set" if sets else ""))
    extra = [a for s in sets for a in ("--set", s)]
    return out, solver_cmd("run", f"cases/seed004_{arm}_quick.yaml", "-o", str(out),
                           "--no-figures", "--set", f"stepping.end={END}", *extra, np=np_)


def _summary(out, r):
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    with open(out / "history.csv") as f:
        rows = [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    t = np.array([r["time"] for r in rows])
    relief = np.array([r["interface_height_max_m"] - r["interface_height_min_m"] for r in rows])
    half = np.interp(END / 2, t, relief)
    return {"relief0": relief[0], "half": half, "end": relief[-1], "t_end": t[-1],
            "clearance": [r.get("coating_clearance_m") for r in (rows[0], rows[-1])],
            "volume": rows[-1]["deposited_volume_m3"],
            "potential": rows[-1]["electrode_potential_V"],
            "compression": min(r["interface_hydrostatic_stress_min_Pa"] for r in rows)}


def _run(tmp_path, arm, np_=1, *sets):
    out, cmd = _command(tmp_path, arm, np_, *sets)
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=clean_env(),
                       timeout=600)
    return _summary(out, r)


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seed004")
    cmds = {arm: _command(tmp, arm) for arm in ("sei", "scs")}
    done = run_concurrently({arm: cmd for arm, (_, cmd) in cmds.items()}, timeout=600)
    arms = {arm: _summary(cmds[arm][0], done[arm]) for arm in cmds}
    return {**arms, "scs2": _run(tmp, "scs", 2)}


def _increments(a):
    return a["half"] - a["relief0"], a["end"] - a["half"]


def test_soft_sei_nucleus_runs_away(arms):
    a = arms["sei"]
    first, second = _increments(a)
    assert a["end"] >= 1.8 * a["relief0"], a
    assert second >= 2.0 * first, (first, second)


def test_stiff_scs_suppresses_the_run_away(arms):
    s, a = arms["scs"], arms["sei"]
    first, second = _increments(s)
    assert s["end"] - s["relief0"] <= 0.5 * (a["end"] - a["relief0"]), (s, a)
    assert second <= 1.0 * first, (first, second)
    assert abs(s["volume"] / a["volume"] - 1) < 0.05, (s["volume"], a["volume"])
    assert s["t_end"] == pytest.approx(END), s  # not stopped by the clearance guard (2 um)


def test_coating_clearance_metric(arms):
    """coating_clearance_m: the front starts one layer thickness (4 um) below the top of the
    SCS (to 2 %: the vertical gap to a normal offset shrinks over the convex nucleus), stays
    above the 2 um guard, and shrinks as the deposit grows into the layer."""
    first, last = arms["scs"]["clearance"]
    assert first == pytest.approx(4e-6, rel=0.02), first
    assert 2e-6 < last < first, (first, last)


def test_stiff_scs_compresses_the_tip(arms):
    assert arms["scs"]["compression"] <= -1e8, arms["scs"]
    assert arms["scs"]["compression"] < arms["sei"]["compression"], arms


def test_scs_same_on_two_ranks(arms):
    one, two = arms["scs"], arms["scs2"]
    for k in ("end", "volume"):
        assert two[k] == pytest.approx(one[k], rel=1e-4), (k, one[k], two[k])


@pytest.mark.slow
def test_galvanostatic_scs_keeps_the_relief_bounded(tmp_path):
    """Seed 004's comparison "at high current density" (make validate; ~75 s): both arms
    plate at 3.5e4 A/m^2 (the soft arm's mean current density at -0.45 V over 0.25 s,
    3.49e4 A/m^2) to 0.25 s, so they deposit the same charge (1e-4). Measured: soft relief
    1.49 -> 3.53 um and still growing; SCS 1.49 -> 1.93 um, flat after ~0.15 s (its
    second-half increment ~0.0 um against ~0.4 um in the first), with the electrode 8.6
    mV more negative at the end (the price of plating against the layer's compression).
    Asserted with the potentiostatic test's margins: soft >= 1.8x; SCS increment <= 0.5x
    the soft's, decelerating; the SCS arm's potential more negative."""
    galv = ("physics.electrodeposition.applied_potential=null",
            "physics.electrodeposition.applied_current_density=3.5e4")
    soft, scs = (_run(tmp_path, arm, 1, *galv) for arm in ("sei", "scs"))
    assert scs["volume"] == pytest.approx(soft["volume"], rel=1e-4)
    assert soft["end"] >= 1.8 * soft["relief0"], soft
    first, second = _increments(scs)
    assert scs["end"] - scs["relief0"] <= 0.5 * (soft["end"] - soft["relief0"]), (scs, soft)
    assert second <= first, (first, second)
    assert scs["potential"] < soft["potential"] < 0, (scs["potential"], soft["potential"])
