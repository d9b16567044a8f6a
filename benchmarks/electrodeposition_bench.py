"""Phase-field electrodeposition (M3) performance: `make bench`.

Runs cases/hong_quick.yaml, the seed 000 quick cases and the Hong 2018 quick case (grand
potential, with MUMPS and with the fieldsplit solver) on 1 and 2 ranks and prints DOFs,
steps, Newton and linear iterations per step and wall times, as a Markdown table
(docs/benchmarks.md).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# (label, case, --set overrides)
CASES = [("hong_quick", "hong_quick", []),
         ("seed000_lialox_quick", "seed000_lialox_quick", []),
         ("seed000_bare_quick", "seed000_bare_quick", []),
         ("seed000_al2o3_quick", "seed000_al2o3_quick", []),
         ("hong2018_quick (MUMPS)", "hong2018_quick", []),
         ("hong2018_quick (fieldsplit)", "hong2018_quick",
          ["physics.electrodeposition.solver.linear=fieldsplit"])]


def main() -> None:
    venv = Path(sys.executable).parent
    print("| case | ranks | dofs | steps | Newton/step | linear/step | solve (s) | total (s) |")
    print("|---|---|---|---|---|---|---|---|")
    for name, case, sets in CASES:
        for n in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                cmd = [str(venv / "mpiexec"), "-n", str(n), str(venv / "solver"), "run",
                       f"cases/{case}.yaml", "-o", tmp, "--no-figures"]
                for kv in sets:
                    cmd += ["--set", kv]
                subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
                m = json.loads((Path(tmp) / "metrics.json").read_text())
                rows = list(csv.DictReader(open(Path(tmp) / "history.csv")))
                steps = len(rows)
                newton = sum(int(r["newton_iterations"]) for r in rows) / steps
                linear = sum(int(r["linear_iterations"]) for r in rows) / steps
                solve = sum(float(r["wall_time_s"]) for r in rows)
                print(f"| {name} | {n} | {m['n_dofs']} | {steps} | {newton:.1f} | "
                      f"{linear:.1f} | {solve:.2f} | {m['wall_time_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
