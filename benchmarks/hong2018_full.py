"""Hong & Viswanathan's base case run whole on the front-following mesh (`make
hong2018-full`, NP=2 ranks by default; CASES="hong2018 hong2018_nuclei").

hong2018: the flat surface with noise, to Hong's 35 s; hong2018_nuclei: eight nuclei that
grow into competing dendrites, until the first tip is 110 um high (or 35 s). Per case: the
simulated time, why it stopped, steps, wall time, dofs (first, largest, last), the front's
highest and lowest points at the end, and the wall time per simulated second scaled to
Hong's 35 s against the ~24 h of the MOOSE run (issue 5).
REUSE=1 takes a completed run already in runs/hong2018_full/<case>/ instead of running it
again. Output: runs/hong2018_full/<case>/ (the run directories, figures included),
table.md and growth.png (front height and dofs against time).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MOOSE_HOURS = 24.0  # "about a day on a laptop" for 35 s (issue 5)


def main() -> None:
    np_ = int(os.environ.get("NP", "2"))
    cases = os.environ.get("CASES", "hong2018 hong2018_nuclei").split()
    reuse = os.environ.get("REUSE", "0") == "1"
    venv = Path(sys.executable).parent
    out = ROOT / "runs" / "hong2018_full"
    out.mkdir(parents=True, exist_ok=True)
    lines = ["| case | ranks | simulated (s) | stop | steps | wall (min) | dofs first / max / "
             "last | front max / min (um) | 35 s at this rate (h) | vs ~24 h MOOSE |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    series = {}
    for name in cases:
        d = out / name
        cmd = [str(venv / "mpiexec"), "-n", str(np_), str(venv / "solver"), "run",
               f"cases/{name}.yaml", "-o", str(d), "--set", "output.fields=false"]
        if reuse and _completed(d):
            print(f"{name}: reusing the completed run in {d}", flush=True)
        else:
            print(" ".join(cmd), flush=True)
            r = subprocess.run(cmd, cwd=ROOT)
            if r.returncode != 0:
                raise SystemExit(f"{name} failed (exit {r.returncode}); see {d}/log.txt")
        m = json.loads((d / "metrics.json").read_text())
        np_ = m.get("n_ranks", np_)
        rows = list(csv.DictReader(open(d / "history.csv")))
        t = [float(x["time"]) for x in rows]
        dofs = [int(float(x.get("n_dofs") or m["n_dofs"])) for x in rows]
        top = [float(x["interface_height_max_m"]) * 1e6 for x in rows]
        series[name] = (t, top, dofs)
        hours = m["wall_time_s"] / 3600 * 35.0 / m["final_time_s"]
        line = (f"| {name} | {np_} | {m['final_time_s']:.3g} | {m['stop_reason']} | "
                f"{m['n_steps']} | {m['wall_time_s'] / 60:.1f} | {dofs[0]} / {max(dofs)} / "
                f"{dofs[-1]} | {m['interface_height_max_m'] * 1e6:.2f} / "
                f"{m['interface_height_min_m'] * 1e6:.2f} | {hours:.2f} | "
                f"{MOOSE_HOURS / hours:.0f}x |")
        print(line, flush=True)
        lines.append(line)
    (out / "table.md").write_text("\n".join(lines) + "\n")
    _plot(series, out / "growth.png")
    print("\n".join(lines))
    print(f"-> {out / 'table.md'}, {out / 'growth.png'}")


def _completed(d: Path) -> bool:
    try:
        return json.loads((d / "metrics.json").read_text()).get("status") == "completed"
    except (OSError, ValueError):
        return False


def _plot(series: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    for name, (t, top, dofs) in series.items():
        a.plot(t, top, label=name)
        b.plot(t, [n / 1e3 for n in dofs], label=name)
    a.set(xlabel="t (s)", ylabel="highest point of the front (um)",
          title="front (xi = 1/2) height")
    b.set(xlabel="t (s)", ylabel="dofs (thousands)", title="front-following mesh size")
    for ax in (a, b):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
