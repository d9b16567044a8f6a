"""Cross-field checks of a schema-valid case, done before any mesh is built."""

from __future__ import annotations

import numpy as np

from solver.errors import CaseError


def region_names(case) -> list[str]:
    g = case.geometry
    if g.kind == "polycrystal":
        return [f"grain_{i}" for i in range(g.n_grains)]
    if g.kind == "plate":
        return ["plate"]
    names = ["metal"] + [c.name for c in g.coatings]
    if g.electrolyte is not None:
        if g.electrolyte.grains is None:
            names.append("electrolyte")
        else:
            names += [f"grain_{i}" for i in range(g.electrolyte.grains.n_grains)]
    return names


def boundary_names(case) -> list[str]:
    g = case.geometry
    names = ["bottom", "top", "left", "right"]
    if case.dimension == 3:
        names += ["front", "back"]
    if g.kind == "polycrystal":
        return names + ["grain_boundaries"]
    if g.kind == "plate":
        return names + (["notch"] if g.notch is not None else [])
    stack = ["metal"] + [c.name for c in g.coatings]
    if g.electrolyte is not None:
        stack.append("electrolyte")  # (its grains, if any, share the interface name)
    names += [f"interface_{a}_{b}" for a, b in zip(stack[:-1], stack[1:], strict=True)]
    if g.predelamination is not None:
        names.append("predelaminated")
    if g.electrolyte is not None and g.electrolyte.grains is not None \
            and g.electrolyte.grains.n_grains > 1:
        names.append("grain_boundaries")
    return names


def flat_boundaries(case) -> set[str]:
    """Outer boundaries that are planes (rollers need a fixed normal)."""
    g = case.geometry
    flat = {"bottom", "left", "right"} | ({"front", "back"} if case.dimension == 3 else set())
    if g.kind in ("polycrystal", "plate") or g.electrolyte is not None or not _perturbed(case):
        flat.add("top")
    return flat


def _perturbed(case) -> bool:
    g = case.geometry
    return g.kind == "layered" and bool(g.metal.perturbations)


def region_materials(case) -> dict[str, tuple[str, str]]:
    """region -> (material name, key path where it was given)."""
    g = case.geometry
    if g.kind == "polycrystal":
        return {"grains": (g.material, "geometry.material")}
    if g.kind == "plate":
        return {"plate": (g.material, "geometry.material")}
    out = {"metal": (g.metal.material, "geometry.metal.material")}
    for i, c in enumerate(g.coatings):
        out[c.name] = (c.material, f"geometry.coatings[{i}].material")
    if g.electrolyte is not None:
        out["electrolyte"] = (g.electrolyte.material, "geometry.electrolyte.material")
    return out


def check_case(case) -> None:
    from solver.geometry import check_geometry
    from solver.materials import load_library, resolve_materials

    g = case.geometry
    # names
    if g.kind == "layered" and g.electrolyte is not None and g.electrolyte.grains is not None \
            and case.dimension == 3:
        raise CaseError("geometry.electrolyte.grains: a polycrystalline electrolyte on the "
                        "layered stack is two-dimensional so far; set dimension: 2, or use "
                        "geometry.kind: polycrystal for a 3D grain block")
    if g.kind == "layered":
        seen = {"metal", "electrolyte"}
        for i, c in enumerate(g.coatings):
            if c.name in seen:
                raise CaseError(f"geometry.coatings[{i}].name: '{c.name}' is used twice or is "
                                "reserved (metal, electrolyte); choose another name")
            seen.add(c.name)
    # materials
    mats = resolve_materials({k: v.model_dump(exclude_none=True)
                              for k, v in case.materials.items()}, load_library())
    for _region, (name, key) in region_materials(case).items():
        if name not in mats:
            close = ", ".join(sorted(mats))
            raise CaseError(f"{key}: unknown material '{name}'; use one of {close}, "
                            "or define it under 'materials:'")
    if case.physics.elasticity is not None:
        _check_mechanics(case, "physics.elasticity", case.physics.elasticity,
                         ["strain_energy_J", "max_von_mises_Pa"] + [
                             f"max_von_mises_Pa_{r}" for r in region_names(case)
                             if not r.startswith("grain_")])
    elif case.physics.cohesive is not None:
        _check_cohesive(case, mats)
    elif case.physics.fracture is not None and case.physics.electrodeposition is not None:
        _check_deposition_cracking(case, mats)
    elif case.physics.fracture is not None:
        _check_fracture(case, mats)
    else:
        _check_electrodeposition(case, mats)
    _check_adapt(case)
    check_geometry(case)


def _check_adapt(case) -> None:
    g = case.geometry
    if g.mesh.adapt is None:
        return
    if g.kind != "layered":
        raise CaseError(f"geometry.mesh.adapt: the front-following mesh is for layered "
                        f"geometries (a metal front), not kind '{g.kind}'; remove it")
    if g.mesh.geometry_order != 1:
        raise CaseError("geometry.mesh.adapt: needs straight cells (geometry_order: 1); "
                        "DOLFINx refines only affine meshes")
    p = case.physics
    ed = p.electrodeposition
    if ed is None or p.fracture is not None or ed.mechanics is not None or \
            p.elasticity is not None or p.cohesive is not None:
        raise CaseError("geometry.mesh.adapt: the front-following mesh follows the "
                        "phase-field front of physics.electrodeposition alone (no "
                        "mechanics, cracking or fracture yet); remove geometry.mesh.adapt")
    if case.dimension != 2:
        raise CaseError("geometry.mesh.adapt: the front-following mesh is verified in 2D "
                        "only so far; remove it for a 3D case (or set dimension: 2)")
    if g.mesh.interface_size is None:
        raise CaseError("geometry.mesh.adapt: needs geometry.mesh.interface_size, the cell "
                        "size to refine to at the front (a quarter of sqrt(8 kappa/W))")


ELECTRODEPOSITION_METRICS = ["interface_height_max_m", "interface_height_min_m",
                             "roughness_m", "deposited_volume_m3", "reaction_current_A",
                             "tip_velocity_m_s",
                             "concentration_min_mol_m3", "concentration_max_mol_m3",
                             "metal_occupancy_min", "electrode_potential_V"]


DEPOSITION_FRACTURE_METRICS = ["dendrite_tip_m", "crack_tip_m", "coupling_iterations"]


def _require_direct(case, key: str) -> None:
    """A monolithic (xi, c, phi, u) Newton (``key``.coupling) uses the direct solver."""
    linear = case.physics.electrodeposition.solver.linear
    if linear != "direct":
        raise CaseError(f"physics.electrodeposition.solver.linear: '{linear}' with "
                        f"{key}.coupling: monolithic; the monolithic (xi, c, phi, u) Newton "
                        "uses the direct solver: set linear: direct")


def _check_deposition_cracking(case, mats) -> None:
    """M6: the phase-field checks (without the stop metric), the fracture checks with the
    union of both metric lists, and what the coupling needs."""
    _check_electrodeposition(case, mats, stop=False)
    _check_fracture(case, mats, extra_metrics=ELECTRODEPOSITION_METRICS
                    + (COATED_METRICS if case.geometry.coatings else [])
                    + DEPOSITION_FRACTURE_METRICS)
    key = "physics.electrodeposition.cracking"
    for name, mkey in region_materials(case).values():
        if mats[name].is_anisotropic:
            raise CaseError(f"{mkey}: '{name}' is anisotropic; {key} makes the stiffness "
                            "follow the deposit and takes isotropic materials")
    if case.physics.electrodeposition.cracking.coupling == "monolithic":
        fr = case.physics.fracture
        for i, bc in enumerate(fr.boundary_conditions):
            if bc.type in ("traction", "pressure"):
                raise CaseError(f"physics.fracture.boundary_conditions[{i}]: a {bc.type} load "
                                f"with {key}.coupling: monolithic; that coupling takes "
                                "displacement conditions only: use coupling: staggered")
        if fr.monolithic:
            raise CaseError(f"physics.fracture.monolithic: the (u, d) Newton belongs to the "
                            f"staggered coupling; with {key}.coupling: monolithic u is solved "
                            "with (xi, c, phi): remove physics.fracture.monolithic")
        _require_direct(case, key)
    metal = case.geometry.metal.material
    if case.physics.electrodeposition.cracking.stress_feedback and \
            mats[metal].molar_volume is None:
        raise CaseError(f"geometry.metal.material: '{metal}' has no molar_volume (m^3/mol), "
                        f"which {key}.stress_feedback needs; give it under "
                        f"materials.{metal}.molar_volume")


def _check_electrodeposition(case, mats, stop: bool = True) -> None:
    import dataclasses

    from solver.physics.electrodeposition import ElectrodepositionParameters, planar_overpotential

    g = case.geometry
    key = "physics.electrodeposition"
    if g.kind != "layered" or g.electrolyte is None:
        raise CaseError(f"{key}: needs a layered geometry with an electrolyte region "
                        "(geometry.electrolyte) for the metal to grow into")
    own = {"E_applied", "E_eq", "delta", "omega", "theta0", "formulation"}  # own keys
    fields = {f.name for f in dataclasses.fields(ElectrodepositionParameters)} - own
    for k in case.physics.electrodeposition.overrides:
        if k not in fields:
            raise CaseError(f"{key}.overrides.{k}: not a model parameter here; use one of "
                            f"{', '.join(sorted(fields))}")
    cfg = case.physics.electrodeposition
    if cfg.solver.bounds and cfg.solver.linear != "direct":
        raise CaseError(f"{key}.solver.bounds: true with linear: '{cfg.solver.linear}'; the "
                        "bounds (SNES VI) solve on the inactive dofs and need linear: direct")
    snes_type = str(cfg.solver.petsc_options.get("snes_type", ""))
    if cfg.solver.bounds and snes_type and not snes_type.startswith("vi"):
        raise CaseError(f"{key}.solver.petsc_options.snes_type: '{snes_type}' with bounds: "
                        "true; use vinewtonrsls or vinewtonssls, or drop the option")
    if cfg.applied_current_density is not None:
        try:
            params = ElectrodepositionParameters.from_hong2018(**cfg.overrides)
        except ValueError as e:
            raise CaseError(f"{key}.overrides: {e}") from None
        try:
            planar_overpotential(params, cfg.applied_current_density)
        except ValueError:
            raise CaseError(f"{key}.applied_current_density: {cfg.applied_current_density:g} "
                            "A/m^2 needs an overpotential beyond +-5 V for a flat front; "
                            "lower it or raise overrides.L_eta") from None
    el = g.electrolyte.material
    for prop in ("cation_diffusivity", "ionic_conductivity"):
        if getattr(mats[el], prop + "_plane") is not None and getattr(mats[el], prop) is None:
            raise CaseError(f"geometry.electrolyte.material: '{el}' has {prop}_plane (along "
                            f"its conduction planes) but no {prop} (across them); give "
                            f"materials.{el}.{prop}")
    for i, c in enumerate(g.coatings):
        m = mats[c.material]
        for prop in ("cation_diffusivity", "ionic_conductivity"):
            if getattr(m, prop) is None:
                raise CaseError(f"geometry.coatings[{i}].material: '{c.material}' has no "
                                f"{prop}; give it under materials.{c.material}.{prop}")
    mech = case.physics.electrodeposition.mechanics
    metrics = (ELECTRODEPOSITION_METRICS + (COATED_METRICS if g.coatings else [])
               + (STRESS_DEPOSITION_METRICS if mech else [])
               + (FILM_METRICS if mech and mech.film else []))
    if mech is not None:
        _check_deposition_mechanics(case, mats, mech, f"{key}.mechanics", metrics)
    if stop and case.stepping.stop is not None and case.stepping.stop.metric not in metrics:
        raise CaseError(f"stepping.stop.metric: '{case.stepping.stop.metric}' is not a "
                        f"per-step metric; use one of {', '.join(metrics)}")


# with coatings: the smallest height of the coating stack's top above the deposit front
COATED_METRICS = ["coating_clearance_m"]
STRESS_DEPOSITION_METRICS = ["interface_hydrostatic_stress_min_Pa",
                             "interface_hydrostatic_stress_max_Pa",
                             "interface_normal_stress_min_Pa", "interface_normal_stress_max_Pa",
                             "coupling_iterations"]
FILM_METRICS = ["max_von_mises_Pa_film"]  # with a riding film (mechanics.film)


def _check_deposition_mechanics(case, mats, mech, key: str, metrics) -> None:
    from types import SimpleNamespace

    g = case.geometry
    used = [("geometry.metal.material", g.metal.material)]
    used += [(f"geometry.coatings[{i}].material", c.material) for i, c in enumerate(g.coatings)]
    used += [("geometry.electrolyte.material", g.electrolyte.material)]
    if mech.coupling == "monolithic":
        if mech.film is not None:
            raise CaseError(f"{key}.film: a riding film needs coupling: staggered (the film "
                            "follows the front between coupling iterations); remove "
                            f"{key}.coupling or the film")
        _require_direct(case, key)
    if mech.film is not None:
        where = f"{key}.film.material"
        if mech.film.material not in mats:
            raise CaseError(f"{where}: unknown material '{mech.film.material}'; use one of "
                            f"{', '.join(sorted(mats))}, or define it under 'materials:'")
        used.append((where, mech.film.material))
    for where, name in used:
        m = mats[name]
        if m.is_anisotropic:
            raise CaseError(f"{where}: '{name}' is anisotropic; {key} takes isotropic "
                            "materials (youngs_modulus, poisson_ratio)")
        if m.youngs_modulus is None or m.poisson_ratio is None:
            raise CaseError(f"{where}: '{name}' has no youngs_modulus / poisson_ratio; give "
                            f"them under materials.{name}")
    metal = mats[g.metal.material]
    if metal.molar_volume is None:
        raise CaseError(f"geometry.metal.material: '{g.metal.material}' has no molar_volume "
                        f"(m^3/mol), which {key} needs; give it under "
                        f"materials.{g.metal.material}.molar_volume")
    _check_mechanics(case, key, SimpleNamespace(eigenstrain=[],
                                                boundary_conditions=mech.boundary_conditions),
                     metrics)


COHESIVE_METRICS = ["load_factor", "reaction_force_N", "applied_displacement_m",
                    "delamination_length_m", "damaged_length_m", "max_opening_m",
                    "nucleation_length_m", "dissipated_energy_J", "strain_energy_J"]


def cohesive_interfaces(case) -> list[str]:
    """The cohesive interfaces a case asks for (default: metal / first coating)."""
    coh = case.physics.cohesive
    if coh.interfaces is not None:
        return list(coh.interfaces)
    g = case.geometry
    return [f"interface_metal_{g.coatings[0].name}"] if g.kind == "layered" and g.coatings \
        else []


def _check_cohesive(case, mats) -> None:
    coh = case.physics.cohesive
    key = "physics.cohesive"
    g = case.geometry
    if g.kind != "layered" or not g.coatings:
        raise CaseError(f"{key}: needs a layered geometry with at least one coating "
                        "(geometry.coatings) to bond to the metal")
    stack = region_names(case)
    pairs = [f"interface_{a}_{b}" for a, b in zip(stack[:-1], stack[1:], strict=True)]
    names = cohesive_interfaces(case)
    if not names:
        raise CaseError(f"{key}.interfaces: empty; name at least one of {', '.join(pairs)}")
    for i, n in enumerate(names):
        if n not in pairs:
            raise CaseError(f"{key}.interfaces[{i}]: '{n}' is not an interface of this "
                            f"geometry; use one of {', '.join(pairs)}")
    if len(set(names)) != len(names):
        raise CaseError(f"{key}.interfaces: an interface is listed twice")
    if case.dimension == 3 and coh.degree != 1:
        raise CaseError(f"{key}.degree: cohesive interfaces in 3D need degree 1 (the nodal "
                        "quadrature on triangles exists for P1 only); set degree: 1")
    if coh.pressure is not None:
        if g.predelamination is None:
            raise CaseError(f"{key}.pressure: acts on the predelaminated segment, and the "
                            "geometry has none; add geometry.predelamination or remove it")
        if pairs[0] not in names:
            raise CaseError(f"{key}.pressure: the predelaminated segment belongs to "
                            f"{pairs[0]}, which is not cohesive here; add it to "
                            f"{key}.interfaces")
        if coh.pressure.overpotential is not None and mats[g.metal.material].molar_volume \
                is None:
            raise CaseError(f"{key}.pressure.overpotential: the metal '{g.metal.material}' "
                            "has no molar_volume; give pressure.value (Pa) or "
                            f"materials.{g.metal.material}.molar_volume")
    _check_load_path(case, key, coh.load_path)
    _check_mechanics(case, key, coh, COHESIVE_METRICS)


FRACTURE_METRICS = ["load_factor", "reaction_force_N", "applied_displacement_m",
                    "peak_load_N", "crack_length_m", "dissipated_energy_J",
                    "strain_energy_J", "max_damage", "staggered_iterations",
                    "damage_onset_load_factor", "crack_load_factor"]


def _check_fracture(case, mats, extra_metrics=()) -> None:
    fr = case.physics.fracture
    key = "physics.fracture"
    regions = region_names(case)
    for i, r in enumerate(fr.unbreakable):
        if r not in regions:
            raise CaseError(f"{key}.unbreakable[{i}]: unknown region '{r}'; known: "
                            f"{', '.join(regions[:12])}")
    if fr.monolithic and fr.irreversibility != "bounds":
        raise CaseError(f"{key}.monolithic: the monolithic Newton needs irreversibility: "
                        "bounds (the history field is not a joint minimisation)")
    if fr.driving_force == "rankine" and (fr.irreversibility != "history"
                                          or fr.split != "none"):
        raise CaseError(f"{key}.driving_force: rankine is not an energy split; it needs "
                        "irreversibility: history and split: none (compression never "
                        "drives the damage)")
    if fr.softening is not None and fr.model != "PFCZM":
        raise CaseError(f"{key}.softening: a traction-separation law belongs to model PFCZM, "
                        f"not {fr.model}; remove softening or set model: PFCZM")
    if fr.initial_cracks and case.dimension != 2:
        raise CaseError(f"{key}.initial_cracks: segments are 2D cracks; in 3D use a "
                        "geometric notch or drop initial_cracks")
    if len(fr.unbreakable) == len(regions):
        raise CaseError(f"{key}.unbreakable: every region is unbreakable, nothing can crack; "
                        "remove at least one")
    for region, (name, mkey) in region_materials(case).items():
        m = mats[name]
        # (any anisotropic region, unbreakable ones too, makes the whole law anisotropic)
        if fr.driving_force == "rankine" and m.is_anisotropic:
            raise CaseError(f"{key}.driving_force: rankine needs isotropic materials and "
                            f"'{name}' ({mkey}) has an anisotropic stiffness; use "
                            "driving_force: energy or an isotropic stand-in")
        if fr.split != "none" and m.is_anisotropic:
            raise CaseError(f"{key}.split: '{fr.split}' needs isotropic materials and "
                            f"'{name}' ({mkey}) has an anisotropic stiffness; use split: none")
        if region in fr.unbreakable:
            continue
        if m.fracture_toughness is None:
            raise CaseError(f"{mkey}: material '{name}' has no fracture_toughness (Gc, J/m^2);"
                            f" give materials.{name}.fracture_toughness or list the region "
                            f"under {key}.unbreakable")
        if fr.model == "PFCZM" and (m.fracture_strength is None or m.youngs_modulus is None):
            what = ("fracture_strength (tensile strength ft, Pa)"
                    if m.fracture_strength is None else "youngs_modulus (Pa)")
            raise CaseError(f"{mkey}: model PFCZM needs the {what} of material '{name}'; give "
                            f"materials.{name}.{what.split()[0]} or list the region under "
                            f"{key}.unbreakable")
    if fr.split == "spectral" and case.dimension == 2:
        for i, e in enumerate(fr.eigenstrain):
            t = np.asarray(e.tensor if e.tensor is not None else np.zeros((2, 2)), dtype=float)
            if t.shape == (3, 3) and np.abs(t[:2, 2]).max() > 0:
                raise CaseError(f"{key}.eigenstrain[{i}].tensor: out-of-plane shear (xz, yz) "
                                "is not part of the 2D spectral split (plane strain); drop "
                                "it or use split: volumetric_deviatoric")
    _check_load_path(case, key, fr.load_path)
    metrics = [m for m in FRACTURE_METRICS
               if not (case.dimension == 3 and m == "crack_length_m")]
    if case.dimension == 3:
        metrics.append("crack_area_m2")
    if not any(bc.type == "displacement" and any(v for v in bc.value if v is not None)
               for bc in fr.boundary_conditions):
        metrics = [m for m in metrics if m not in ("reaction_force_N",
                                                   "applied_displacement_m", "peak_load_N")]
    _check_mechanics(case, key, fr, metrics + list(extra_metrics))


def _check_load_path(case, key: str, path) -> None:
    if path is not None:
        ts = [p[0] for p in path]
        if ts[0] > 0 or ts[-1] < case.stepping.end:
            raise CaseError(f"{key}.load_path: its t range [{ts[0]:g}, {ts[-1]:g}] must cover "
                            f"the run, [0, stepping.end = {case.stepping.end:g}]")


def _check_mechanics(case, key: str, el, metrics: list[str]) -> None:
    regions = region_names(case)
    bnames = boundary_names(case)
    outer = set(bnames) & {"bottom", "top", "left", "right", "front", "back", "notch"}
    for i, e in enumerate(el.eigenstrain):
        k = f"{key}.eigenstrain[{i}]"
        if e.region not in regions:
            raise CaseError(f"{k}.region: unknown region '{e.region}'; known: "
                            f"{', '.join(regions[:12])}")
        if e.profile is not None and len(e.profile.center) != case.dimension - 1:
            raise CaseError(f"{k}.profile.center: give the {case.dimension - 1} lateral "
                            f"coordinate(s) ({'[x]' if case.dimension == 2 else '[x, y]'}) "
                            f"in a {case.dimension}D case, got {len(e.profile.center)}")
        if e.tensor is not None:
            try:
                t = np.asarray(e.tensor, dtype=float)
            except ValueError:
                raise CaseError(f"{k}.tensor: rows of different lengths; give a "
                                f"{case.dimension}x{case.dimension} (or 3x3) matrix") from None
            if t.ndim != 2 or t.shape[0] != t.shape[1] or t.shape[0] not in (case.dimension, 3):
                raise CaseError(f"{k}.tensor: expected a {case.dimension}x{case.dimension} "
                                f"(or 3x3) matrix, got shape {t.shape}")
            if not np.allclose(t, t.T):
                raise CaseError(f"{k}.tensor: a strain tensor must be symmetric")
            if np.abs(t).max() > 0.5:
                raise CaseError(f"{k}.tensor: components must be small strains (|e| <= 0.5)")
    constrained: set[int] = set()  # displacement components fixed somewhere
    supported: set[str] = set()  # boundaries carrying a Dirichlet condition
    axes = {"left": 0, "right": 0, "front": 1, "back": 1, "bottom": case.dimension - 1,
            "top": case.dimension - 1}
    for i, bc in enumerate(el.boundary_conditions):
        k = f"{key}.boundary_conditions[{i}]"
        if bc.region is not None and bc.region not in regions:
            raise CaseError(f"{k}.region: unknown region '{bc.region}'; known: "
                            f"{', '.join(regions[:12])}")
        if bc.boundary not in bnames:
            raise CaseError(f"{k}.boundary: unknown boundary '{bc.boundary}'; known: "
                            f"{', '.join(bnames)}")
        if bc.boundary not in outer:
            raise CaseError(f"{k}.boundary: '{bc.boundary}' is an internal interface; "
                            f"{bc.type} conditions apply to outer boundaries "
                            f"({', '.join(sorted(outer))})")
        if bc.type in ("displacement", "traction") and len(bc.value) != case.dimension:
            raise CaseError(f"{k}.value: expected {case.dimension} components for a "
                            f"{case.dimension}D case, got {len(bc.value)}")
        if bc.type == "roller" and bc.boundary not in flat_boundaries(case):
            raise CaseError(f"{k}.boundary: a roller needs a flat boundary and "
                            f"'{bc.boundary}' is not flat; use clamped or displacement")
        if bc.type == "pressure" and abs(bc.value) > 1e11:
            raise CaseError(f"{k}.value: {bc.value:g} Pa is beyond any solid's strength; "
                            "pressures are in pascals (1 MPa = 1e6)")
        comps = ({*range(case.dimension)} if bc.type == "clamped"
                 else {axes[bc.boundary]} if bc.type == "roller"
                 else {j for j, v in enumerate(bc.value) if v is not None}
                 if bc.type == "displacement" else set())
        if bc.type == "displacement" and not comps:
            raise CaseError(f"{k}.value: every component is null, so nothing is prescribed; "
                            "give at least one number")
        if comps:
            constrained |= comps
            supported.add(bc.boundary)
    free = [("x", "y", "z")[j] for j in range(case.dimension) if j not in constrained]
    if free:
        raise CaseError(f"{key}.boundary_conditions: nothing fixes the "
                        f"{', '.join(free)} displacement, so the body can move freely; add a "
                        "clamped, roller or displacement condition for it")
    if case.dimension == 3 and len(supported) < 2 and not any(
            bc.type == "clamped" for bc in el.boundary_conditions):
        raise CaseError(f"{key}.boundary_conditions: a single supported boundary "
                        "without a clamp leaves rigid rotations free in 3D; clamp it or "
                        "support a second boundary")
    if case.stepping.stop is not None and case.stepping.stop.metric not in metrics:
        raise CaseError(f"stepping.stop.metric: '{case.stepping.stop.metric}' is not a "
                        f"per-step metric; use one of {', '.join(metrics)}")
