"""Seed 003 Fig. 6d-style growth curves of M6 on grains with conduction planes.

`make seed003-m6`: runs cases/m6_grains.yaml (Na into four oriented beta''-like grains
that conduct along their planes; docs/fracture.md, "M6 on grains with conduction planes")
three times through `solver run` on NP ranks (environment variable NP, default 1): as
shipped (stress feedback on), without the stress feedback, and with `conduction_planes:
false` (the across-plane values everywhere). Writes runs/seed003_m6/:
  <run>/        the three runs (history, metrics, xi / damage / tips figures)
  growth.png    dendrite height and deposited volume against time, all runs (Fig. 6d)
  table.md      time to reach the top (short circuit), mean current density, largest
                damage, dofs, wall time
The current density is F / Omega_Na times the deposited volume per unit width and time
(Omega_Na from the material library), averaged up to the short circuit or the end.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _cli import save_figure, solver_commands  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "seed003_m6"
CASE = ROOT / "cases" / "m6_grains.yaml"
RUNS = {"planes": ("conduction planes (100x along / across), stress feedback", []),
        "no_feedback": ("conduction planes, no stress feedback",
                        ["--set", "physics.electrodeposition.cracking.stress_feedback=false"]),
        "isotropic": ("no conduction planes (across values), stress feedback",
                      ["--set", "physics.electrodeposition.conduction_planes=false"])}
FARADAY = 96485.33212


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    _, run = solver_commands()
    case = yaml.safe_load(CASE.read_text())
    g = case["geometry"]
    width = float(g["width"])
    top = float(g["metal"]["thickness"]) + float(g["electrolyte"]["thickness"])
    sys.path.insert(0, str(ROOT))
    from solver.materials import load_library
    omega = load_library()[g["metal"]["material"]].molar_volume
    series, rows = {}, []
    for name, (label, extra) in RUNS.items():
        out = OUT / name
        shutil.rmtree(out, ignore_errors=True)  # a fresh run each time
        r = subprocess.run(run + ["run", str(CASE), "-o", str(out)] + extra,
                           cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{name} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
        with open(out / "history.csv") as f:
            hist = list(csv.DictReader(f))
        t = [float(h["time"]) for h in hist]
        tip = [float(h["dendrite_tip_m"]) for h in hist]
        vol = [float(h["deposited_volume_m3"]) for h in hist]
        series[label] = (t, tip, vol)
        # the first step whose tip is within 2 % of the electrolyte's top: short circuit
        k = next((i for i, y in enumerate(tip) if y >= top - 0.02 * (top - tip[0])), None)
        t_sc = t[k] if k is not None else math.nan
        k = k if k is not None else len(t) - 1
        i_mean = FARADAY / omega * vol[k] / width / t[k]  # A/m^2
        m = json.loads((out / "metrics.json").read_text())
        dmax = max(float(h["max_damage"]) for h in hist)
        rows.append((label, t_sc, 0.1 * i_mean, dmax, m["n_dofs"], m["wall_time_s"]))
        print(f"{label}: short circuit at {t_sc:.3g} s, mean current {0.1 * i_mean:.3g} "
              f"mA/cm^2, max damage {dmax:.3f} ({m['wall_time_s']:.0f} s)", flush=True)

    lines = ["M6 on grains (cases/m6_grains.yaml), Na at -0.2 V", "",
             "| run | tip reaches the top (s) | mean current density (mA/cm^2) | "
             "largest damage | dofs | wall (s) |", "|---|---|---|---|---|---|"]
    lines += [f"| {a} | {'not reached' if math.isnan(b) else f'{b:.3g}'} | {c:.3g} | "
              f"{d:.3f} | {e} | {f:.0f} |" for a, b, c, d, e, f in rows]
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    for label, (t, tip, vol) in series.items():
        a1.plot(t, [1e6 * y for y in tip], "-", label=label)
        a2.plot(t, [1e12 * v for v in vol], "-", label=label)
    a1.axhline(1e6 * top, color="0.5", lw=0.8, ls="--")
    a1.set_xlabel("time (s)")
    a1.set_ylabel("dendrite tip height (um)")
    a2.set_xlabel("time (s)")
    a2.set_ylabel("deposited volume (um^3 per um of depth)")
    a1.legend(fontsize=8)
    save_figure(fig, OUT / "growth.png",
                "Na into beta''-like grains (M6): growth against time (cf. seed 003 Fig. 6d)")


if __name__ == "__main__":
    main()
