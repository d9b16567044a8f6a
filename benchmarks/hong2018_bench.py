"""The Hong & Viswanathan base case at full size: cost per step and the 35 s estimate
(`make bench-hong`, RANKS="1 2" by default; on a cluster e.g. RANKS="8 16 32").

Runs cases/hong2018.yaml (200 x 200 um, -0.45 V, 4 cells across the interface,
field-split solver) for STEPS steps at Hong's dt = 0.02 s from the start, once per mesh
(MESHES="fixed adapted": a fixed 0.24 um band 60 um high, 0.98 M dofs, and the shipped
front-following mesh, ~0.17 M dofs) and rank count. Reports per run: dofs (at the end),
the settled cost (median wall time per step over the last half of the steps), Newton
iterations per step and GMRES iterations per Newton iteration over the same steps, the
estimate for Hong's 35 s (1750 steps at that cost) against the ~24 h that the MOOSE
implementation needed on a laptop (issue 5), and the deposited volume and the front's
highest point at the end (the two meshes must agree). The estimate assumes the settled
cost holds for 35 s; for the adapted mesh it grows with the front's length, which
`make hong2018-full` measures by running whole cases (docs/benchmarks.md, section 4).
Extra `--set` overrides: SETS="geometry.width=40e-6" (a narrower domain, for a quick check
of the script). Output: runs/bench_hong/table.md.
"""

from __future__ import annotations

import csv
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HONG_DT = 0.02  # s, Hong's time step
HONG_END = 35.0  # s of physical time in Hong's run
MOOSE_HOURS = 24.0  # "about a day on a laptop" (issue 5)


def run(ranks: int, steps: int, sets: list[str], mesh: str) -> dict:
    venv = Path(sys.executable).parent
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(venv / "mpiexec"), "-n", str(ranks), str(venv / "solver"), "run",
               "cases/hong2018.yaml", "-o", tmp, "--no-figures",
               "--set", f"stepping.dt={HONG_DT}", "--set", f"stepping.end={steps * HONG_DT}",
               "--set", "checkpoint.every_steps=0", "--set", "output.fields=false"]
        if mesh == "fixed":
            cmd += ["--set", "geometry.mesh.adapt=null"]
        for kv in sets:
            cmd += ["--set", kv]
        r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"hong2018 on {ranks} rank(s) failed:\n{r.stdout}{r.stderr}")
        m = json.loads((Path(tmp) / "metrics.json").read_text())
        rows = list(csv.DictReader(open(Path(tmp) / "history.csv")))
    settled = rows[len(rows) // 2:]
    per_step = statistics.median(float(r["wall_time_s"]) for r in settled)
    newton = sum(int(r["newton_iterations"]) for r in settled)
    linear = sum(int(r["linear_iterations"]) for r in settled)
    hours = HONG_END / HONG_DT * per_step / 3600
    return {"mesh": mesh, "ranks": ranks, "dofs": m["n_dofs"], "steps": len(rows),
            "s_per_step": per_step, "newton": newton / len(settled),
            "gmres": linear / max(newton, 1), "hours": hours, "ratio": MOOSE_HOURS / hours,
            "wall": m["wall_time_s"], "volume": m["deposited_volume_m3"],
            "front": m["interface_height_max_m"]}


def main() -> None:
    ranks = [int(n) for n in os.environ.get("RANKS", "1 2").split()]
    steps = int(os.environ.get("STEPS", "8"))
    sets = shlex.split(os.environ.get("SETS", ""))
    meshes = os.environ.get("MESHES", "fixed adapted").split()
    lines = ["| mesh | ranks | dofs | steps | settled s/step | Newton/step | GMRES/Newton | "
             "35 s estimate (h) | vs ~24 h MOOSE | run wall (s) | deposited (m^3/m) | "
             "front max (um) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for mesh, n in ((m, n) for m in meshes for n in ranks):
        r = run(n, steps, sets, mesh)
        line = (f"| {r['mesh']} | {r['ranks']} | {r['dofs']} | {r['steps']} | "
                f"{r['s_per_step']:.2f} | "
                f"{r['newton']:.1f} | {r['gmres']:.1f} | {r['hours']:.2f} | "
                f"{r['ratio']:.1f}x | {r['wall']:.0f} | {r['volume']:.5e} | "
                f"{r['front'] * 1e6:.4f} |")
        print(line, flush=True)
        lines.append(line)
    out = ROOT / "runs" / "bench_hong"
    out.mkdir(parents=True, exist_ok=True)
    note = (f"cases/hong2018.yaml, dt = {HONG_DT} s from the start, {steps} steps, "
            f"settled = the last half; overrides: {sets or 'none'}\n\n")
    (out / "table.md").write_text(note + "\n".join(lines) + "\n")
    print(f"-> {out / 'table.md'}")


if __name__ == "__main__":
    main()
