"""Seed 003's wedge (Fig. 6b): crack and dendrite tips against time, with and without the
stress feedback, and the no-wedge control.

`make seed003-wedge`: runs cases/seed003_wedge_quick.yaml (a Na deposit in a flaw along the
conduction planes of a beta''-alumina bicrystal; docs/fracture.md, "Seed 003's wedge")
three times through `solver run` on NP ranks (environment variable NP, default 1): as
shipped (stress feedback off), with the stress feedback on, and with a growth strain of
1e-6 (no wedge). Writes runs/seed003_wedge/:
  <run>/      the three runs (history, metrics, xi / damage / tips figures)
  tips.png    crack tip (highest d >= 1/2) and dendrite tip (highest xi = 1/2) against
              time, and the crack's regularised length, for the three runs
  table.md    final tips, crack length growth, flat-surface rise, steps, cut-backs, wall
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import save_figure, solver_commands  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "seed003_wedge"
CASE = ROOT / "cases" / "seed003_wedge_quick.yaml"
KEY = "physics.electrodeposition.cracking"
VARIANTS = [("shipped", "stress feedback off (as shipped)", []),
            ("feedback", "stress feedback on", [f"{KEY}.stress_feedback=true"]),
            ("control", "no wedge (growth strain 1e-6)", [f"{KEY}.growth_strain=1e-6"])]
COLUMNS = ("time", "crack_tip_m", "dendrite_tip_m", "crack_length_m",
           "interface_height_min_m", "attempts")


def history(out: Path) -> dict[str, list[float]]:
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: [float(r[k]) for r in rows] for k in COLUMNS}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    run = solver_commands()[1]
    curves, table = {}, []
    for name, label, sets in VARIANTS:
        out = OUT / name
        shutil.rmtree(out, ignore_errors=True)
        cmd = run + ["run", str(CASE), "-o", str(out)]
        for s in sets:
            cmd += ["--set", s]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"{name}: solver run failed (exit {done.returncode}):\n"
                     f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        h = history(out)
        curves[label] = h
        wall = json.loads((out / "metrics.json").read_text())["wall_time_s"]
        surface0 = h["interface_height_min_m"][0]
        table.append(
            f"| {label} | {1e6 * h['crack_tip_m'][-1]:.3f} | {1e6 * h['dendrite_tip_m'][-1]:.3f}"
            f" | {1e6 * (h['crack_length_m'][-1] - h['crack_length_m'][0]):.3f}"
            f" | {1e9 * (h['interface_height_min_m'][-1] - surface0):.1f}"
            f" | {len(h['time'])} | {int(sum(h['attempts']) - len(h['time']))} | {wall:.0f} |")
        print(table[-1], flush=True)

    head = ["Seed 003's wedge (cases/seed003_wedge_quick.yaml), Na at -0.2 V, to 0.45 s", "",
            "| run | crack tip (um) | dendrite tip (um) | crack length growth (um) | "
            "flat surface rise (nm) | steps | cut-backs | wall (s) |",
            "|---|---|---|---|---|---|---|---|"]
    (OUT / "table.md").write_text("\n".join(head + table) + "\n")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    for (label, h), color in zip(curves.items(), ("C0", "C1", "C2"), strict=True):
        um = [1e6 * v for v in h["crack_tip_m"]]
        a1.plot(h["time"], um, "-", color=color, label=f"crack tip, {label}")
        a1.plot(h["time"], [1e6 * v for v in h["dendrite_tip_m"]], "--", color=color,
                label=f"dendrite tip, {label}")
        a2.plot(h["time"], [1e6 * v for v in h["crack_length_m"]], "-", color=color,
                label=label)
    for ax, what in ((a1, "height above the metal's bottom (um)"),
                     (a2, "regularised crack length (um)")):
        ax.set(xlabel="time (s)", ylabel=what)
        ax.legend(fontsize=7)
    save_figure(fig, OUT / "tips.png",
                "Na wedge in a beta''-alumina bicrystal (M6; cf. seed 003 Fig. 6b)")


if __name__ == "__main__":
    main()
