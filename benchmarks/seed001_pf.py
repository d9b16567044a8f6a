"""Seed 001, Fig. 4c-f (phase-field part): a 4 nm Li bump plated under riding ALD/MLD films.

`make seed001-pf` writes runs/seed001_pf/:
  seed001_film{10,25,50}/, nofilm/
                 the three full cases (NP ranks, environment variable NP, default 1) and the
                 same cell without a film (cases/seed001_film10.yaml with
                 physics.electrodeposition.mechanics.film=null), each to the same deposited
                 charge (2.5 nm of mean growth); figures/hydrostatic_stress.png in each is
                 the film stress of Fig. 4d
  surfaces.png   the xi = 1/2 lines at the end against the initial surface (Fig. 4e)
  stress_AB.png  hydrostatic stress along the interface near the bump (Fig. 4f's A-B line)
  table.md       relief (tip - base) at the common charge, interface stress, film von Mises
  map/           `solver sweep` of cases/seed001_film10_quick.yaml over the film's thickness
                 x Young's modulus (2 points at a time, 1 rank each)
  design_map.png, design_map.csv
                 per point: the relief at the quick cases' charge (1 nm of mean growth)
                 relative to the film-free cell's, i.e. how much of the bump the film
                 suppresses on top of what plating alone does

What the seed reports (lines 85-87): the (1ALD-1MLD)25 and 50 films leave a very smooth
surface, the 10 film does not suppress the bump well, and its interfacial stress is lower
than the other two (which are similar). The films' per-thickness moduli are in the seed's
Fig. S24, not in the seed text: the library gives all three the same estimate (50 GPa), and
the design map shows how the answer depends on that (docs/stress_deposition.md, section 8).
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
OUT = ROOT / "runs" / "seed001_pf"
FILMS = {"seed001_film10": "(1ALD-1MLD)10, 4 nm", "seed001_film25": "(1ALD-1MLD)25, 10 nm",
         "seed001_film50": "(1ALD-1MLD)50, 20 nm"}
THICKNESSES = (4e-9, 10e-9, 20e-9)  # m
MODULI = (2e9, 5e9, 15e9, 50e9, 150e9)  # Pa: Li 4.9; alucone 29, the alloy 50, Al2O3 165


def history(path: Path) -> dict[str, np.ndarray]:
    with open(path / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def relief_at(h: dict, volume: float) -> float:
    """Relief (tip - base of the xi = 1/2 line) interpolated at a deposited volume."""
    rel = h["interface_height_max_m"] - h["interface_height_min_m"]
    return float(np.interp(volume, h["deposited_volume_m3"], rel))


def stop_volume(case: str) -> float:
    return float(yaml.safe_load((ROOT / "cases" / f"{case}.yaml").read_text())
                 ["stepping"]["stop"]["above"])


def interface(path: Path) -> np.ndarray:
    """interface_stress.csv: x, y, sigma_h, sigma_nn along the xi = 1/2 line."""
    return np.loadtxt(path / "interface_stress.csv", delimiter=",", skiprows=1, ndmin=2)


def _run(cmd, what):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{what} failed:\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    cli, run = solver_commands()
    arms = {**FILMS, "nofilm": "no film"}
    V = stop_volume("seed001_film10")
    results = {}
    for name, label in arms.items():
        out = OUT / name
        shutil.rmtree(out, ignore_errors=True)
        case = "seed001_film10" if name == "nofilm" else name
        extra = ["--set", "physics.electrodeposition.mechanics.film=null"] \
            if name == "nofilm" else []
        _run(run + ["run", f"cases/{case}.yaml", "-o", str(out)] + extra, name)
        h = history(out)
        results[name] = (h, interface(out))
        print(f"{label}: relief {relief_at(h, 0.0) * 1e9:.3f} -> {relief_at(h, V) * 1e9:.3f}"
              f" nm at {V:.3g} m^3/m, {len(h['time'])} steps, "
              f"{h['wall_time_s'].sum():.0f} s", flush=True)

    lines = [f"Seed 001 Fig. 4c-f analogue (cases/seed001_film*.yaml, -0.1 V, 4 nm bump, "
             f"compared at {V:.3g} m^3/m = {V / 40e-9 * 1e9:.2f} nm of mean growth)", "",
             "| film | relief start (nm) | relief at the charge (nm) | interface sigma_h "
             "min / max (MPa) | film von Mises max (MPa) | steps | wall (s) |",
             "|---|---|---|---|---|---|---|"]
    for name, label in arms.items():
        h, _ = results[name]
        vm = h.get("max_von_mises_Pa_film")
        lines.append(
            f"| {label} | {relief_at(h, 0.0) * 1e9:.3f} | {relief_at(h, V) * 1e9:.3f} | "
            f"{h['interface_hydrostatic_stress_min_Pa'][-1] / 1e6:.0f} / "
            f"{h['interface_hydrostatic_stress_max_Pa'][-1] / 1e6:.0f} | "
            f"{'-' if vm is None else f'{vm[-1] / 1e6:.0f}'} | {len(h['time'])} | "
            f"{h['wall_time_s'].sum():.0f} |")

    # design map on the quick case: thickness x modulus, against the film-free quick cell
    ref = OUT / "map_nofilm"
    shutil.rmtree(ref, ignore_errors=True)
    _run(cli + ["run", "cases/seed001_film10_quick.yaml", "-o", str(ref), "--no-figures",
                "--set", "physics.electrodeposition.mechanics.film=null"], "quick reference")
    Vq = stop_volume("seed001_film10_quick")
    hq = history(ref)
    r0, r_free = relief_at(hq, 0.0), relief_at(hq, Vq)
    sweep_dir = OUT / "map"
    shutil.rmtree(sweep_dir, ignore_errors=True)
    key_E = "materials.ALD1MLD1_10.youngs_modulus"
    key_t = "physics.electrodeposition.mechanics.film.thickness"
    _run(cli + ["sweep", "cases/seed001_film10_quick.yaml", "-o", str(sweep_dir),
                "--jobs", "2", "--param", key_E + "=" + ",".join(f"{v:g}" for v in MODULI),
                "--param", key_t + "=" + ",".join(f"{v:g}" for v in THICKNESSES)], "sweep")
    with open(sweep_dir / "summary.csv") as f:
        points = list(csv.DictReader(f))
    rows = []
    for p in points:
        h = history(sweep_dir / p["dir"])
        rel = relief_at(h, Vq)
        # suppression: the share of the film-free cell's relief loss added by the film
        rows.append((float(p[key_E]), float(p[key_t]), rel,
                     (r_free - rel) / (r0 - r_free),
                     h["interface_hydrostatic_stress_min_Pa"][-1]))
    rows.sort()
    with open(OUT / "design_map.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["youngs_modulus_Pa", "thickness_m", "relief_m", "extra_flattening",
                    "interface_hydrostatic_stress_min_Pa"])
        w.writerows(rows)
    lines += ["", f"Design map (cases/seed001_film10_quick.yaml, at {Vq:.3g} m^3/m; no film: "
              f"relief {r0 * 1e9:.3f} -> {r_free * 1e9:.3f} nm). extra flattening = "
              "(relief without film - with) / (relief lost without film)", "",
              "| E (GPa) | thickness (nm) | relief (nm) | extra flattening | "
              "interface sigma_h min (MPa) |", "|---|---|---|---|---|"]
    lines += [f"| {E / 1e9:g} | {t * 1e9:g} | {rel * 1e9:.3f} | {x:.2f} | {s / 1e6:.0f} |"
              for E, t, rel, x, s in rows]
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 4))
    x0 = results["nofilm"][1][:, 0]
    for name, label in arms.items():
        d = results[name][1]
        ax.plot(d[:, 0] * 1e9, d[:, 1] * 1e9, ".", ms=2, label=label)
    xs = np.linspace(x0.min(), x0.max(), 400)
    ax.plot(xs * 1e9, (10e-9 + 4e-9 * np.exp(-(xs - 20e-9) ** 2 / (2 * (4e-9) ** 2))) * 1e9,
            "k-", lw=1, label="initial surface")
    ax.set_xlabel("x (nm)")
    ax.set_ylabel("height of the xi = 1/2 line (nm)")
    ax.set_title(f"seed 001 Fig. 4e analogue: surfaces at {V / 40e-9 * 1e9:.1f} nm of growth")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "surfaces.png", dpi=150)
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, label in arms.items():
        d = results[name][1]
        near = np.abs(d[:, 0] - 20e-9) < 12e-9
        ax.plot(d[near, 0] * 1e9, d[near, 2] / 1e6, ".", ms=2, label=label)
    ax.set_xlabel("x (nm), A (8 nm) to B (32 nm)")
    ax.set_ylabel("hydrostatic stress on the interface (MPa)")
    ax.set_title("seed 001 Fig. 4f analogue: interfacial stress near the bump")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "stress_AB.png", dpi=150)
    fig, ax = plt.subplots(figsize=(6, 4))
    for E in MODULI:
        pts = sorted((t, x) for e, t, _r, x, _s in rows if e == E)
        ax.plot([t * 1e9 for t, _ in pts], [x for _, x in pts], "-o", label=f"{E / 1e9:g} GPa")
    ax.set_xlabel("film thickness (nm)")
    ax.set_ylabel("extra flattening by the film")
    ax.set_title("design map: film suppression of a 4 nm bump at -0.1 V", fontsize=9)
    ax.legend(fontsize=8, title="film E")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(OUT / "design_map.png", dpi=150)
    print(f"wrote {OUT / 'surfaces.png'}, {OUT / 'stress_AB.png'}, {OUT / 'design_map.png'}, "
          f"{OUT / 'table.md'}")


if __name__ == "__main__":
    main()
