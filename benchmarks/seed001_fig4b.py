"""Seed 001 Fig. 4b: dendrite-nucleation length / SEI thickness against thickness, Li and Na.

`make seed001` (also run by `make bench`). For each metal it runs `solver sweep` over the
film thickness 4-20 nm on cases/seed001_{li,na}.yaml (each point an ordinary run directory
under runs/seed001/<metal>/), writes runs/seed001/fig4b.csv and runs/seed001/fig4b.png, and
prints a Markdown table with the time per sweep point and Newton iterations per load step
on 1 and 2 ranks (docs/benchmarks.md, docs/cohesive.md).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
THICKNESS = [4e-9, 8e-9, 12e-9, 16e-9, 20e-9]
OUT = ROOT / "runs" / "seed001"


def _points(sweep: Path) -> list[Path]:
    return sorted(p.parent for p in sweep.rglob("metrics.json") if p.parent != sweep)


def sweep(metal: str, np_: int) -> dict[float, dict]:
    venv = Path(sys.executable).parent
    out = OUT / f"{metal}_np{np_}"
    cmd = [str(venv / "solver"), "sweep", f"cases/seed001_{metal}.yaml", "-o", str(out),
           "--np", str(np_), "--no-figures", "--metric", "nucleation_length_m", "--param",
           "geometry.coatings[0].thickness=" + ",".join(f"{t:g}" for t in THICKNESS)]
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    res = {}
    for p in _points(out):
        m = json.loads((p / "metrics.json").read_text())
        case = yaml.safe_load((p / "case.yaml").read_text())
        t = min(THICKNESS, key=lambda x: abs(x - case["geometry"]["coatings"][0]["thickness"]))
        rows = list(csv.DictReader(open(p / "history.csv")))
        res[t] = {"nucleation_m": m["nucleation_length_m"], "wall_s": m["wall_time_s"],
                  "newton_per_step": sum(int(r["newton_iterations"]) for r in rows)
                  / max(len(rows), 1), "dofs": m["n_dofs"], "status": m["status"]}
    res["sweep_wall_s"] = wall
    return res


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {(metal, n): sweep(metal, n) for metal in ("li", "na") for n in (1, 2)}
    with open(OUT / "fig4b.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["metal", "thickness_m", "nucleation_length_m", "normalised"])
        for metal in ("li", "na"):
            for t in THICKNESS:
                v = results[(metal, 1)][t]["nucleation_m"]
                w.writerow([metal, t, v, v / t])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4))
    for metal, label, p in (("li", "Li (100 MPa)", "o-"), ("na", "Na (59 MPa)", "s-")):
        ax.plot([t * 1e9 for t in THICKNESS],
                [results[(metal, 1)][t]["nucleation_m"] / t for t in THICKNESS], p,
                label=label)
    ax.set_xlabel("SEI thickness (nm)")
    ax.set_ylabel("nucleation length / thickness")
    ax.set_title("Seed 001 Fig. 4b: SEI delamination (CZM)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "fig4b.png", dpi=130)
    print("| metal | thickness (nm) | nucleation / t | dofs | Newton/step | point wall 1 rank (s) "
          "| point wall 2 ranks (s) |")
    print("|---|---|---|---|---|---|---|")
    for metal in ("li", "na"):
        for t in THICKNESS:
            a, b = results[(metal, 1)][t], results[(metal, 2)][t]
            print(f"| {metal} | {t * 1e9:.0f} | {a['nucleation_m'] / t:.4f} | {a['dofs']} | "
                  f"{a['newton_per_step']:.1f} | {a['wall_s']:.2f} | {b['wall_s']:.2f} |")
    for metal in ("li", "na"):
        d = max(abs(results[(metal, 1)][t]["nucleation_m"] / results[(metal, 2)][t][
            "nucleation_m"] - 1) for t in THICKNESS)
        print(f"{metal}: 1 vs 2 ranks, largest relative difference {d:.1e}")
    print(f"figure: {OUT / 'fig4b.png'}")


if __name__ == "__main__":
    main()
