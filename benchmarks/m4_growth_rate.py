"""M4: growth rate of a small interface perturbation against the coating's shear modulus.

`make m4-growth` (also part of `make bench`). For two wavelengths (8 and 16 um) it draws
the linearised model's growth rate r(G_coating / G_Li) (semi-analytic, the diffuse-interface
mode solve of solver.physics.deposition_stress) and overlays finite-element rates measured
with solver.problems.stress_deposition.sinusoid_growth_rate at a few modulus ratios.
Conditions: Hong 2018 kinetics with fast transport (D = 1e-8 m^2/s, sigma_l = 100 S/m),
L_eta = 0.03 1/s, eta = 0 (no net deposition: the perturbation's own dynamics), Li G = 3.4
GPa, nu = 0.42, coating nu = 0.3, Omega = 1.3e-5 m^3/mol, flat stress-free reference.
Writes runs/m4_growth_rate/{growth_rate.csv, growth_rate.png, table.md}.

Second part, the Monroe-Newman trend: the same FE measurement with the model's own
transport (Hong 2018 grand potential, D and conductivities as published) at -0.45 V, where
the kinetics roughen a soft-coated surface, for wavelengths 8, 16, 32 um and modulus ratios
0.01 ... 8 (dt 5 ms, 8 steps: the rate of the last step, at t = 0.04 s), with the
monolithic coupling (the staggered loop's Newton diverges at 8 um / 8 G_Li). Writes
transport.csv, transport.md (rates and the modulus ratio where growth turns to decay,
interpolated in log ratio) and growth_rate_transport.png.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np

import solver.compat  # noqa: F401
from solver.errors import ConvergenceError
from solver.physics import deposition_stress as ds
from solver.physics.electrodeposition import ElectrodepositionParameters
from solver.problems.stress_deposition import sinusoid_growth_rate

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "runs" / "m4_growth_rate"
LI = (3.4e9, 0.42)
OMEGA = 1.3e-5
WAVELENGTHS = (8e-6, 16e-6)
CURVE = np.geomspace(0.05, 50.0, 25)
FE_RATIOS = (0.25, 1.0, 2.0, 8.0, 40.0)
TRANSPORT_WAVELENGTHS = (8e-6, 16e-6, 32e-6)
TRANSPORT_RATIOS = (0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)


def crossing(ratios, rates) -> float:
    """The modulus ratio where the rate changes sign (first change, linear in log ratio);
    NaN without one."""
    for i in range(len(ratios) - 1):
        (r0, r1), (v0, v1) = ratios[i:i + 2], rates[i:i + 2]
        if v0 > 0 >= v1:
            return math.exp(math.log(r0) + (math.log(r1) - math.log(r0)) * v0 / (v0 - v1))
    return math.nan


def transport_trend(plt) -> None:
    """Growth rate against the coating modulus with the model's own transport at -0.45 V."""
    p = ElectrodepositionParameters.from_hong2018(E_applied=-0.45,
                                                  formulation="grand_potential")
    rates, lines = {}, ["| wavelength (um) | " + " | ".join(f"{r:g}" for r in TRANSPORT_RATIOS)
                        + " | growth turns to decay at G_c/G_Li |",
                        "|---|" + "---|" * (len(TRANSPORT_RATIOS) + 1)]
    for lam in TRANSPORT_WAVELENGTHS:
        rates[lam] = []
        for r in TRANSPORT_RATIOS:
            try:
                rate = sinusoid_growth_rate(lam, p, LI, (r * LI[0], 0.3), OMEGA, steps=8,
                                            dt=0.005, coupling="monolithic")["rate"]
            except ConvergenceError as e:  # no cut-back in this fixed-step measurement
                print(f"transport, lambda {lam * 1e6:g} um, G_c/G_Li {r:g}: {e}", flush=True)
                rate = math.nan
            rates[lam].append(rate)
            print(f"transport, lambda {lam * 1e6:g} um, G_c/G_Li {r:g}: {rate:.4f} 1/s",
                  flush=True)
        x = crossing(TRANSPORT_RATIOS, rates[lam])
        lines.append(f"| {lam * 1e6:g} | " + " | ".join(f"{v:.3f}" for v in rates[lam])
                     + f" | {x:.2f} |")
    _write_rates("transport.csv", "rate_fe_per_s", TRANSPORT_RATIOS, rates)
    (OUT / "transport.md").write_text(
        "FE growth rate (1/s) of a 10 nm sinusoid at -0.45 V with transport, against "
        "G_coating / G_Li (columns)\n\n" + "\n".join(lines) + "\n")
    print("\n".join(lines))
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for lam in TRANSPORT_WAVELENGTHS:  # normalised by the soft coating's rate (> 0)
        ax.semilogx(TRANSPORT_RATIOS, np.array(rates[lam]) / rates[lam][0], "-o",
                    label=f"wavelength {lam * 1e6:g} um (soft: {rates[lam][0]:.2f} 1/s)")
    ax.axhline(0.0, color="k", lw=0.8)
    _finish(fig, ax, "growth rate / rate under the softest coating",
            "-0.45 V with transport: growth turns to decay as the coating stiffens",
            "growth_rate_transport.png")


def _write_rates(name: str, column: str, ratios, rates: dict) -> None:
    """OUT/name: one row per (wavelength, modulus ratio) of rates {wavelength: [rate]}."""
    with open(OUT / name, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["wavelength_m", "modulus_ratio", column])
        for lam, values in rates.items():
            for r, v in zip(ratios, values, strict=True):
                w.writerow([lam, r, v])


def _finish(fig, ax, ylabel: str, title: str, name: str) -> None:
    """The modulus-ratio axis with Monroe & Newman's 2 G_Li marked; save OUT/name."""
    ax.axvline(2.0, color="0.5", ls="--", lw=1)
    ax.text(2.1, ax.get_ylim()[1] * 0.95, "2 G_Li (Monroe-Newman)", color="0.4", va="top")
    ax.set_xlabel("coating shear modulus / Li shear modulus (3.4 GPa)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / name, dpi=130)
    print(f"wrote {OUT / name}")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    p = ElectrodepositionParameters.from_hong2018(D_solid=1e-8, D_liquid=1e-8,
                                                  sigma_liquid=100.0, L_eta=0.03,
                                                  E_applied=0.0, E_eq=0.0)
    curves, points = {}, []
    for lam in WAVELENGTHS:
        k = 2 * math.pi / lam
        curves[lam] = [ds.linear_growth_rate(k, p, LI, (r * LI[0], 0.3), OMEGA) for r in CURVE]
        for r in FE_RATIOS:
            t0 = time.perf_counter()
            res = sinusoid_growth_rate(lam, p, LI, (r * LI[0], 0.3), OMEGA)
            points.append((lam, r, res["rate"], res["expected"], res["capillary"],
                           res["n_dofs"], time.perf_counter() - t0))
            print(f"lambda {lam * 1e6:g} um, G_c/G_Li {r:g}: FE {res['rate']:.5f} 1/s, "
                  f"analysis {res['expected']:.5f} 1/s ({res['rate'] / res['expected'] - 1:+.2%})",
                  flush=True)
    _write_rates("growth_rate.csv", "rate_analysis_per_s", CURVE, curves)
    lines = ["| wavelength (um) | G_c/G_Li | FE rate (1/s) | analysis (1/s) | difference | "
             "capillary alone (1/s) | dofs | wall (s) |", "|---|---|---|---|---|---|---|---|"]
    for lam, r, fe, an, cap, n, wall in points:
        lines.append(f"| {lam * 1e6:g} | {r:g} | {fe:.4f} | {an:.4f} | {fe / an - 1:+.2%} | "
                     f"{cap:.4f} | {n} | {wall:.1f} |")
    (OUT / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for lam, color in zip(WAVELENGTHS, ("C0", "C1"), strict=True):
        ax.semilogx(CURVE, curves[lam], color=color,
                    label=f"linearised model, wavelength {lam * 1e6:g} um")
        cap = -p.L_sigma * p.kappa0 * (2 * math.pi / lam) ** 2
        ax.axhline(cap, color=color, ls=":", lw=1)
        fe = [(r, v) for lam2, r, v, *_ in points if lam2 == lam]
        ax.plot(*zip(*fe, strict=True), "o", color=color, mfc="none", label="finite elements")
    _finish(fig, ax, "growth rate of the perturbation (1/s)",
            "stress damping of an interface perturbation (dotted: capillarity alone)",
            "growth_rate.png")
    transport_trend(plt)


if __name__ == "__main__":
    main()
