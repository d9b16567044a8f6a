"""Seed 004: stiff self-compacting separator (SCS) against a soft native SEI, and a design map.

`make seed004` writes runs/seed004/:
  seed004_scs/, seed004_sei/   the two full cases (NP ranks, environment variable NP,
                               default 1): a 1.5 um Li nucleus at -0.45 V under a 3 um SCS
                               (E = 11 GPa) and without a confining layer (soft ~10 nm SEI)
  relief.png                   relief (tip - base height) against the deposited charge (mean
                               thickness), both arms
  map/                         `solver sweep` of cases/seed004_scs_quick.yaml over the layer's
                               Young's modulus x thickness (2 points at a time, 1 rank each)
  design_map.png, design_map.csv, table.md
                               per point: relief growth against the soft arm's, and the
                               verdict: "suppressed" when the relief's growth slows down
                               (second-half increment at most the first's), "roughening"
                               when it accelerates (run-away; unprotected Li: 2.8x); each
                               point stops at 0.3 s or when the front comes within 2 um of
                               the layer's top (the case's coating_clearance_m guard), and
                               its growth is compared with the soft arm's over the same time

The verdict follows the linearised picture of the model: with a stress-free reference on
the initial surface the layer's restoring force grows with the extra relief, so a layer
stiff enough for it to outgrow the kinetic instability keeps the relief bounded; a softer
one lets the nucleus run away exponentially (docs/stress_deposition.md, "Seed 004").
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml
from _cli import solver_commands

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "seed004"
ARMS = {"seed004_scs": "5 um SCS, E 11 GPa", "seed004_sei": "soft SEI (no confining layer)"}
MODULI = (2e9, 5e9, 11e9, 25e9, 50e9)  # Pa: Li 9.66 (G 3.4), the SCS 11, Sb2O3-like 50
THICKNESSES = (3e-6, 4e-6)         # m (seed 004: 5 +/- 2 um; 4 um is the most the quick
                                   # case's nucleus allows without the layer folding)
ACCELERATION = 1.0                 # the verdict's threshold (tests/test_seed004.py's too)


def _history(path: Path):
    with open(path / "history.csv") as f:
        rows = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    t = np.array([r["time"] for r in rows])
    rel = np.array([r["interface_height_max_m"] - r["interface_height_min_m"] for r in rows])
    return t, rel


def _growth(t, rel):
    """(relief increment, second-half / first-half increment ratio)."""
    half = np.interp(t[-1] / 2, t, rel)
    first, second = half - rel[0], rel[-1] - half
    return rel[-1] - rel[0], second / first if first > 0 else np.inf


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cli, run = solver_commands()
    curves, charge = {}, {}
    for case, label in ARMS.items():
        out = OUT / case
        shutil.rmtree(out, ignore_errors=True)
        r = subprocess.run(run + ["run", f"cases/{case}.yaml", "-o", str(out)], cwd=ROOT,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{case} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        curves[label] = _history(out)
        width = yaml.safe_load((ROOT / "cases" / f"{case}.yaml").read_text())["geometry"]["width"]
        with open(out / "history.csv") as f:
            charge[label] = np.array([float(r["deposited_volume_m3"]) / float(width)
                                      for r in csv.DictReader(f)])
        inc, ratio = _growth(*curves[label])
        print(f"{label}: relief {curves[label][1][0] * 1e6:.2f} -> "
              f"{curves[label][1][-1] * 1e6:.2f} um, half-to-half ratio {ratio:.2f}", flush=True)

    # design map on the quick case
    sweep_dir = OUT / "map"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    ref = OUT / "map_reference"
    shutil.rmtree(ref, ignore_errors=True)
    r = subprocess.run(cli + ["run", "cases/seed004_sei_quick.yaml", "-o", str(ref),
                              "--no-figures"], cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"reference failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    t_soft, rel_soft = _history(ref)
    soft_inc, soft_ratio = _growth(t_soft, rel_soft)
    r = subprocess.run(cli + [
        "sweep", "cases/seed004_scs_quick.yaml", "-o", str(sweep_dir), "--jobs", "2",
        "--param", "materials.Sb2O3_SCS.youngs_modulus=" + ",".join(f"{v:g}" for v in MODULI),
        "--param", "geometry.coatings[0].thickness=" + ",".join(f"{v:g}" for v in THICKNESSES)],
        cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"sweep failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    with open(sweep_dir / "summary.csv") as f:
        points = list(csv.DictReader(f))
    rows = []
    for p in points:
        E = float(p["materials.Sb2O3_SCS.youngs_modulus"])
        h = float(p["geometry.coatings[0].thickness"])
        t, rel = _history(sweep_dir / p["dir"])
        inc, ratio = _growth(t, rel)
        soft = np.interp(t[-1], t_soft, rel_soft) - rel_soft[0]
        rows.append((E, h, inc / soft, ratio, t[-1],
                     "suppressed" if ratio <= ACCELERATION else "roughening"))
    rows.sort()
    with open(OUT / "design_map.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["youngs_modulus_Pa", "thickness_m", "relief_growth_vs_soft",
                    "second_to_first_half", "end_time_s", "verdict"])
        w.writerows(rows)
    lines = [f"Seed 004 design map (cases/seed004_scs_quick.yaml, -0.45 V, 0.3 s; soft arm: "
             f"relief +{soft_inc * 1e6:.2f} um, half-to-half {soft_ratio:.2f})", "",
             "| E (GPa) | thickness (um) | relief growth / soft arm's | 2nd / 1st half | "
             "end (s) | verdict |", "|---|---|---|---|---|---|"]
    lines += [f"| {E / 1e9:g} | {h * 1e6:g} | {g:.2f} | {q:.2f} | {te:.3f} | {v} |"
              for E, h, g, q, te, v in rows]
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (_t, rel) in curves.items():
        ax.plot(charge[label] * 1e6, rel * 1e6, "-o", ms=2, label=label)
    ax.set_xlabel("deposited Li, mean thickness (um)")
    ax.set_ylabel("relief, tip - base (um)")
    ax.set_title("seed 004: Li nucleus at -0.45 V")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "relief.png", dpi=150)
    fig, ax = plt.subplots(figsize=(6, 4))
    for E, h, g, _q, _t, v in rows:
        ax.scatter(E / 1e9, h * 1e6, s=160, marker="o" if v == "suppressed" else "X",
                   c="tab:green" if v == "suppressed" else "tab:red")
        ax.annotate(f"{g:.2f}", (E / 1e9, h * 1e6), textcoords="offset points",
                    xytext=(8, 6), fontsize=8)
    ax.axvline(9.66, color="0.5", ls=":", label="Li (E = 9.66 GPa)")
    ax.set_xscale("log")
    ax.set_xticks([v / 1e9 for v in MODULI], [f"{v / 1e9:g}" for v in MODULI])
    ax.minorticks_off()
    ax.set_xlabel("layer Young's modulus (GPa)")
    ax.set_ylabel("layer thickness (um)")
    ax.set_title("design map: green o suppressed, red x roughening\n"
                 "(labels: relief growth / unprotected Li's)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "design_map.png", dpi=150)
    print(f"wrote {OUT / 'relief.png'}, {OUT / 'design_map.png'}, {OUT / 'table.md'}")


if __name__ == "__main__":
    main()
