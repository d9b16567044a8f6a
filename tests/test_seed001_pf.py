"""Seed 001, Fig. 4c-f (phase-field part) on the quick cases: riding ALD/MLD films over a bump.

What: cases/seed001_film10_quick.yaml and seed001_film50_quick.yaml (a 4 nm Li bump plated
at -0.1 V under a riding (1ALD-1MLD)10 / 50 film, 4 / 20 nm, library modulus 50 GPa), the
same cell without a film, and the 4 nm film with E = 5 GPa; all stop at the same deposited
charge (1 nm of mean growth) and are compared there. Run through `solver run`, two at a
time.
Against: seed 001's mechanism (lines 85-87): the film's compression over the bump slows
deposition there, so a stiff film leaves a flatter surface than no film, and a film that
is too compliant hardly helps. Measured: relief (tip - base) 4.00 nm at the start; at the
charge 3.73 nm without a film, 3.31 (4 nm film) and 3.35 (20 nm film) at 50 GPa, 3.66 with
the 4 nm film at 5 GPa.
Not reproduced (xfail, strict): the seed's thickness ordering, the 20 nm film leaving a
smoother surface than the 4 nm one. With one modulus for all films (the seed's per-film
moduli are in its Fig. S24, not in the seeds) the 4 nm film is already stiff at the bump's
scale and the suppression does not grow with thickness (docs/stress_deposition.md,
section 8; `make seed001-pf` maps thickness x modulus).
"""

from __future__ import annotations

import csv
import subprocess

import numpy as np
import pytest

from conftest import ROOT, clean_env, solver_cmd

pytestmark = pytest.mark.serial

RUNS = {"nofilm": ("seed001_film10_quick", ["physics.electrodeposition.mechanics.film=null"]),
        "film10": ("seed001_film10_quick", []),
        "film50": ("seed001_film50_quick", []),
        "soft10": ("seed001_film10_quick", ["materials.ALD1MLD1_10.youngs_modulus=5e9"])}
VOLUME = 4.0e-17  # m^3/m: the quick cases' stop charge


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("seed001_pf")
    out = {}
    names = list(RUNS)
    for pair in (names[:2], names[2:]):  # two at a time (CI has 2 cores)
        procs = {}
        for name in pair:
            case, sets = RUNS[name]
            cmd = solver_cmd() + ["run", str(ROOT / "cases" / f"{case}.yaml"), "-o",
                                  str(base / name), "--no-figures"]
            for s in sets:
                cmd += ["--set", s]
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=clean_env(),
                                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                           text=True)
        for name, p in procs.items():
            log, _ = p.communicate(timeout=900)
            assert p.returncode == 0, f"{name}:\n{log[-3000:]}"
            with open(base / name / "history.csv") as f:
                rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
            out[name] = rows
    return out


def _relief(rows, volume):
    v = np.array([r["deposited_volume_m3"] for r in rows])
    rel = np.array([r["interface_height_max_m"] - r["interface_height_min_m"] for r in rows])
    return float(np.interp(volume, v, rel))


def test_stiff_film_flattens_the_bump(runs):
    """Every run reaches the charge; a 50 GPa film (4 or 20 nm) ends at least 0.2 nm flatter
    than no film, with the bump's crest under compression; a 5 GPa film helps less than a
    50 GPa film of the same thickness by at least 0.2 nm."""
    rel = {k: _relief(v, VOLUME) for k, v in runs.items()}
    print("\nseed 001 quick, relief at the charge (nm): " +
          ", ".join(f"{k} {v * 1e9:.3f}" for k, v in rel.items()) +
          "; interface sigma_h min (MPa): " +
          ", ".join(f"{k} {v[-1]['interface_hydrostatic_stress_min_Pa'] / 1e6:.0f}"
                    for k, v in runs.items()))
    for rows in runs.values():
        assert rows[-1]["deposited_volume_m3"] >= VOLUME
        assert _relief(rows, 0.0) == pytest.approx(4.0e-9, abs=0.05e-9)
    assert rel["film10"] < rel["nofilm"] - 0.2e-9
    assert rel["film50"] < rel["nofilm"] - 0.2e-9
    assert rel["soft10"] > rel["film10"] + 0.2e-9
    for k in ("film10", "film50"):
        assert runs[k][-1]["interface_hydrostatic_stress_min_Pa"] < -1e8


@pytest.mark.xfail(strict=True, reason="seed 001's thickness ordering needs its per-film "
                   "moduli (Fig. S24, not in the seeds): with one modulus the 4 nm film is "
                   "already stiff at the bump's scale (docs/stress_deposition.md, section 8)")
def test_thicker_film_smoother(runs):
    """Seed 001 Fig. 4e: the (1ALD-1MLD)50 film (20 nm) leaves a smoother surface than the
    (1ALD-1MLD)10 film (4 nm), here by at least 0.1 nm of relief."""
    assert _relief(runs["film50"], VOLUME) < _relief(runs["film10"], VOLUME) - 0.1e-9
