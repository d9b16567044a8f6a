"""Galvanostatic control of M3 (``physics.electrodeposition.applied_current_density``).

What: ElectrodepositionProblem(current=i) solves every step for the electrode potential E
that makes the step's reaction current n F c_s d/dt int xi equal i times the electrode
area; the case wiring, checkpoints and the rank count.
Against: (1) the flat front's travelling wave in the fast-transport limit (the metal end
held at E, the electrolyte end at c = c0 with no potential condition, so phi = E and
c = c0 throughout): i = n F c_s v, v = -6 l L_eta B(E - E_eq), inverted here by the test's
own bisection (derivation in docs/electrodeposition.md, section 6), for plating and
stripping with alpha = 0.3; (2) the charge balance, exact by construction to the control's
tolerance: deposited volume = i A t / (n F c_s); (3) an uninterrupted run on 1 rank for a
run interrupted by SIGTERM and restarted on 2 ranks.
Runs on 1 or 2 ranks (the 1D tests: the same numbers).
"""

from __future__ import annotations

import math

import pytest

import solver.compat  # noqa: F401
from mpi4py import MPI

from solver.physics import electrodeposition as ed

from conftest import front_1d

FAST = dict(D_solid=1.0e-8, D_liquid=1.0e-8, sigma_liquid=100.0)  # as test_electrodeposition_1d


def _eta_for(current, p, alpha):
    """Overpotential of the flat fast-transport front carrying ``current`` (A/m^2), by
    bisection on i(eta) = -n F c_s 6 l L_eta B(eta), independent of the solver's helper."""
    f = 1.0 / p.thermal_voltage
    k = ed.FARADAY * p.c_s * 6 * p.interface_width * p.L_eta

    def i(eta):
        return -k * (math.exp((1 - alpha) * f * eta) - math.exp(-alpha * f * eta))

    lo, hi = -1.0, 1.0
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if i(mid) > current else (lo, mid)
    return 0.5 * (lo + hi)


@pytest.mark.parametrize("current", [8.0, -5.0])
def test_flat_front_potential_and_charge(current):
    """Plating (8 A/m^2) and stripping (-5 A/m^2), alpha = 0.3, E_eq = 0.02 V, starting
    40-70 mV away from the answer: after the first step the electrode potential equals
    E_eq + eta(i) of the travelling wave within 2e-3 of eta (measured 1e-4 - 4e-4, the
    front-speed discretisation error of test_electrodeposition_1d); every step's reaction
    current equals i within 1e-4 (the default tolerance) and the deposited volume i t /
    (n F c_s) within 1e-4; the secant needs at most 6 potential iterations per step (3 - 4
    measured)."""
    alpha, E_eq = 0.3, 0.02
    p = ed.ElectrodepositionParameters.from_hong2018(E_applied=-0.03, E_eq=E_eq, alpha=alpha,
                                                     **FAST)
    prob = front_1d(p, metal=True, electrolyte_fields=("c",), current=current,
                    prefix=f"galv1d_{'p' if current > 0 else 's'}_")
    nFcs = ed.FARADAY * p.c_s
    v = current / nFcs
    dt, t = 0.05 * p.interface_width / abs(v), 0.0
    eta = _eta_for(current, p, alpha)
    for k in range(4):
        t += dt
        info = prob.solve(t)
        m = prob.metrics()
        assert info["potential_iterations"] <= 6, info
        assert m["reaction_current_A"] == pytest.approx(current, rel=1e-4)
        assert m["deposited_volume_m3"] == pytest.approx(v * t, rel=1e-4)
        if k >= 1:
            assert m["electrode_potential_V"] - E_eq == pytest.approx(eta, rel=2e-3), k
    if MPI.COMM_WORLD.rank == 0:
        print(f"\ngalvanostatic {current:+g} A/m^2: E - E_eq = "
              f"{m['electrode_potential_V'] - E_eq:.6e} V against {eta:.6e} V "
              f"({(m['electrode_potential_V'] - E_eq) / eta - 1:+.1e})")
    prob.destroy()


def test_planar_overpotential_inverts_the_current():
    """ed.planar_overpotential is the inverse of ed.planar_current_density (1e-12 V) and
    agrees with the test's own bisection; a current beyond the +-5 V range is refused."""
    p = ed.ElectrodepositionParameters.from_hong2018(alpha=0.3)
    for i in (-50.0, -1.0, 0.0, 1.0, 500.0, 1e5):
        eta = ed.planar_overpotential(p, i)
        assert ed.planar_current_density(p, eta) == pytest.approx(i, rel=1e-9, abs=1e-9)
        assert eta == pytest.approx(_eta_for(i, p, 0.3), abs=1e-12)
    with pytest.raises(ValueError, match="beyond"):
        ed.planar_overpotential(p, -1e300)


@pytest.mark.serial
def test_case_charge_and_restart(tmp_path):
    """cases/galvanostatic_quick.yaml (grand potential, 500 A/m^2 on an 8 um wide
    electrode, 0.1 s) through `solver run`: every row of history.csv has deposited volume
    i W t / (n F c_s) (1e-4) and a plating (negative) electrode potential; the run
    interrupted by SIGTERM after step 3 and restarted on 2 ranks ends with the metrics of
    the uninterrupted serial run (1e-6; the potential to 1e-6 relative) and history rows
    1..N once each."""
    import csv
    import json
    import subprocess

    from conftest import ROOT, clean_env, solver_cmd

    def run(*args, np_=1, code=0):
        r = subprocess.run(solver_cmd("run", *args, np=np_), capture_output=True, text=True,
                           cwd=ROOT, env=clean_env(), timeout=600)
        assert r.returncode == code, r.stdout + r.stderr

    a, b = tmp_path / "serial", tmp_path / "restart"
    run("cases/galvanostatic_quick.yaml", "-o", str(a), "--no-figures")
    run("cases/galvanostatic_quick.yaml", "-o", str(b), "--no-figures", "--set",
        "debug.signal_after_step=3", code=75)
    run("--restart", str(b), np_=2)
    i, width = 500.0, 8.0e-6
    p = ed.ElectrodepositionParameters.from_hong2018()
    rows = list(csv.DictReader(open(a / "history.csv")))
    assert len(rows) >= 5
    for r in rows:
        want = i * width * float(r["time"]) / (ed.FARADAY * p.c_s)
        assert float(r["deposited_volume_m3"]) == pytest.approx(want, rel=1e-4), r["step"]
        assert float(r["electrode_potential_V"]) < 0
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert mb["n_ranks"] == 2 and ma["status"] == mb["status"] == "completed"
    for k in ("deposited_volume_m3", "interface_height_max_m", "roughness_m",
              "electrode_potential_V"):
        assert mb[k] == pytest.approx(ma[k], rel=1e-6), k
    steps = [int(r["step"]) for r in csv.DictReader(open(b / "history.csv"))]
    assert steps == list(range(1, ma["n_steps"] + 1))
