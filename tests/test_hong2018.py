"""Hong & Viswanathan (2018) base model on the small cases: dendrite vs planar growth.

What: cases/hong2018_quick.yaml (one Li nucleus, 1.5 um high, in a flat surface, -0.45 V)
and cases/hong2018_planar_quick.yaml (the same at -0.1 V), grand-potential formulation,
run through `solver run --no-figures`.
Against: Hong & Viswanathan's result that the model grows dendrites at -0.45 V and a stable
planar front at a small overpotential (qualitative; their figures use 200 um noise-nucleated
domains, cases/hong2018.yaml): at -0.45 V the nucleus tip advances at least 1.7 times as
far as the flat base and the roughness grows by > 30 %; at -0.1 V the base advances (it
deposits) while the tip falls back towards it and the roughness drops by > 30 %. Both keep
a positive cation concentration (the grand potential's point); the metal stays at least
70 % occupied.
Measured: -0.45 V to 0.4 s, tip +1.55 um vs base +0.76 um, roughness 0.47 -> 0.72 um;
-0.1 V to 2 s, tip -0.72 um, base +0.055 um, roughness 0.47 -> 0.25 um.
"""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest

from conftest import ROOT, clean_env, solver_cmd



def _run(tmp_path, case, end):
    out = tmp_path / case
    r = subprocess.run(solver_cmd("run", f"cases/{case}.yaml", "-o", str(out), "--no-figures",
                                  "--set", f"stepping.end={end}"),
                       capture_output=True, text=True, cwd=ROOT, env=clean_env(), timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    with open(out / "history.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _summary(rows):
    a, b = rows[0], rows[-1]
    tip = b["interface_height_max_m"] - a["interface_height_max_m"]
    base = b["interface_height_min_m"] - a["interface_height_min_m"]
    return tip, base, a["roughness_m"], b["roughness_m"]


@pytest.mark.serial
def test_dendrite_at_high_overpotential(tmp_path):
    rows = _run(tmp_path, "hong2018_quick", 0.4)
    tip, base, r0, r1 = _summary(rows)
    print(f"\nHong -0.45 V: tip +{tip * 1e6:.2f} um, base +{base * 1e6:.2f} um, roughness "
          f"{r0 * 1e6:.3f} -> {r1 * 1e6:.3f} um, c min "
          f"{min(r['concentration_min_mol_m3'] for r in rows):.1f} mol/m^3, occupancy min "
          f"{min(r['metal_occupancy_min'] for r in rows):.3f}")
    assert base > 0.2e-6 and tip > 1.7 * base
    assert r1 > 1.3 * r0
    assert min(r["concentration_min_mol_m3"] for r in rows) > 0
    assert min(r["metal_occupancy_min"] for r in rows) > 0.7


@pytest.mark.serial
def test_planar_at_low_overpotential(tmp_path):
    rows = _run(tmp_path, "hong2018_planar_quick", 2.0)
    tip, base, r0, r1 = _summary(rows)
    print(f"\nHong -0.1 V: tip {tip * 1e6:+.3f} um, base {base * 1e6:+.3f} um, roughness "
          f"{r0 * 1e6:.3f} -> {r1 * 1e6:.3f} um, deposited "
          f"{rows[-1]['deposited_volume_m3']:.3e} m^3/m")
    assert rows[-1]["deposited_volume_m3"] > 5e-13
    assert base > 0 and tip < base
    assert r1 < 0.7 * r0
    assert min(r["concentration_min_mol_m3"] for r in rows) > 0


def test_fieldsplit_matches_direct():
    """The iterative M3 solver (physics.electrodeposition.solver.linear: fieldsplit: GMRES,
    multiplicative field split xi / mu / phi, GAMG per field, Eisenstat-Walker GMRES
    tolerances) against MUMPS on the first five 2 ms steps of cases/hong2018_quick.yaml
    (13.6k dofs): xi and mu equal to 1e-6 (Newton rtol 1e-9; measured 3.5e-7), at most two
    more Newton iterations per step than the exact linear solves (the inexact ones:
    measured 5-6 against 4-5), and at most 20 GMRES iterations per Newton step (measured
    4-5 with Eisenstat-Walker; 11-13 at a fixed rtol of 1e-8, 12-13 at 114k dofs, so it
    does not grow with the mesh). In process, 1 or 2 ranks."""
    from mpi4py import MPI

    from solver.config import load_case
    from solver.run import build_geometry, build_problem, load_library, resolve_materials

    out = {}
    for linear in ("direct", "fieldsplit"):
        case = load_case(ROOT / "cases/hong2018_quick.yaml",
                         [f"physics.electrodeposition.solver.linear={linear}"])
        mats = resolve_materials({k: v.model_dump(exclude_none=True)
                                  for k, v in case.materials.items()}, load_library())
        pr = build_problem(case, build_geometry(case, MPI.COMM_WORLD), mats)
        its = []
        for k in range(1, 6):
            r = pr.solve(0.002 * k)
            its.append((r["newton_iterations"], r["linear_iterations"]))
        out[linear] = (pr.u.x.array.copy(), its)
        pr.destroy()
    diff = MPI.COMM_WORLD.allreduce(float(np.max(np.abs(out["direct"][0] -
                                                        out["fieldsplit"][0]))), op=MPI.MAX)
    newton = [n for n, _ in out["direct"][1]]
    print(f"\nM3 fieldsplit vs direct: max |u diff| {diff:.2e}; (Newton, linear) per step "
          f"{out['fieldsplit'][1]} vs {out['direct'][1]}")
    assert all(0 <= n - m <= 2 for (n, _), m in zip(out["fieldsplit"][1], newton,
                                                     strict=True))
    assert all(lin <= 20 * n for n, lin in out["fieldsplit"][1])
    assert diff < 1e-6


def test_fieldsplit_recovers_after_a_failed_newton():
    """A failed Newton solve with the iterative M3 solver (field split) must not break the
    next one: the time-step cut-back retries with the same KSP. Here the first 2 ms step of
    cases/hong2018_quick.yaml is made to fail (SNES max_it 1: DIVERGED_MAX_IT), then solved
    again with the normal limit; it must converge to the solution of a fresh problem (1e-8).
    Against: numerics.petsc_options.reset_preconditioner used to toggle the outer PC type,
    which drops the field split's index sets, so every retry stopped with a PETSc error
    ("must have at least two fields, not 1"): cases/hong2018.yaml at 1 um cells failed at
    t = 0.46 s with reason -100 at every dt down to dt_min. In process, 1 or 2 ranks."""
    from mpi4py import MPI

    from solver.config import load_case
    from solver.errors import ConvergenceError
    from solver.run import build_geometry, build_problem, load_library, resolve_materials

    def problem():
        case = load_case(ROOT / "cases/hong2018_quick.yaml",
                         ["physics.electrodeposition.solver.linear=fieldsplit"])
        mats = resolve_materials({k: v.model_dump(exclude_none=True)
                                  for k, v in case.materials.items()}, load_library())
        return build_problem(case, build_geometry(case, MPI.COMM_WORLD), mats)

    fresh = problem()
    fresh.solve(0.002)
    reference = fresh.u.x.array.copy()
    fresh.destroy()

    pr = problem()
    snes = pr.snes
    rtol, atol, stol, max_it = snes.getTolerances()
    snes.setTolerances(max_it=1)
    with pytest.raises(ConvergenceError):
        pr.solve(0.002)
    snes.setTolerances(max_it=max_it)
    r = pr.solve(0.002)
    diff = MPI.COMM_WORLD.allreduce(float(np.max(np.abs(pr.u.x.array - reference))),
                                    op=MPI.MAX)
    pr.destroy()
    print(f"\nfield split retry after a failed Newton: {r['newton_iterations']} Newton, "
          f"max |u - fresh| {diff:.1e}")
    assert diff < 1e-8
