"""Seed 002: single Li3N layer against the LiZn/Li3N dual layer over a local Li deposit.

`make seed002`: runs cases/seed002_li3n.yaml and cases/seed002_lizn_li3n.yaml (PF-CZM,
Rankine driving force; docs/fracture.md, "Seed 002") through `solver run` on NP ranks
(environment variable NP, default 1) and writes runs/seed002/:
  <case>/               the two runs (history, metrics, damage.png with a zoom on the crack)
  onset.png             largest damage against the deposit strain (load factor x the
                        eigenstrain amplitude at the deposit centre), both stacks
  table.md              deposit strain at damage onset and at a crack (d >= 0.95)
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "seed002"
CASES = {"seed002_li3n": "Li3N (110 nm) on Li",
         "seed002_lizn_li3n": "Li3N (110 nm) on LiZn (800 nm) on Li"}


def _amplitude(case: str) -> float:
    data = yaml.safe_load((ROOT / "cases" / f"{case}.yaml").read_text())
    return float(data["physics"]["fracture"]["eigenstrain"][0]["value"])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    np_ = int(os.environ.get("NP", "1"))
    cmd = [sys.executable, "-m", "solver"]
    if np_ > 1:
        cmd = [str(Path(sys.executable).parent / "mpiexec"), "-n", str(np_)] + cmd
    series, rows = {}, []
    for case, label in CASES.items():
        out = OUT / case
        shutil.rmtree(out, ignore_errors=True)  # a fresh run each time
        r = subprocess.run(cmd + ["run", f"cases/{case}.yaml", "-o", str(out)],
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{case} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        amp = _amplitude(case)
        with open(out / "history.csv") as f:
            hist = list(csv.DictReader(f))
        series[label] = ([amp * float(h["load_factor"]) for h in hist],
                         [float(h["max_damage"]) for h in hist])
        m = json.loads((out / "metrics.json").read_text())
        at = {k: math.nan if m.get(k) is None else amp * m[k]  # JSON null: not reached
              for k in ("damage_onset_load_factor", "crack_load_factor")}
        rows.append((label, at["damage_onset_load_factor"], at["crack_load_factor"],
                     m["wall_time_s"], m["n_dofs"]))
        print(f"{label}: onset at {rows[-1][1]:.4f}, crack at {rows[-1][2]:.4f} deposit "
              f"strain ({m['wall_time_s']:.1f} s)", flush=True)

    def pct(v):
        return "none" if math.isnan(v) else f"{100 * v:.2f} %"

    lines = [f"Seed 002 on {np_} rank(s): deposit strain (eigenstrain at the deposit centre)",
             "", "| stack | damage onset | crack (d >= 0.95) | dofs | wall (s) |",
             "|---|---|---|---|---|"]
    lines += [f"| {a} | {pct(b)} | {pct(c)} | {e} | {d:.1f} |" for a, b, c, d, e in rows]
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, (x, y) in series.items():
        ax.plot([100 * v for v in x], y, "-o", ms=2, label=label)
    ax.set_xlabel("deposit strain at the centre of the deposit (%)")
    ax.set_ylabel("largest damage")
    ax.set_title("seed 002: local Li deposit under the coating (PF-CZM)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(OUT / "onset.png", dpi=150)
    print(f"wrote {OUT / 'onset.png'} and {OUT / 'table.md'}")


if __name__ == "__main__":
    main()
