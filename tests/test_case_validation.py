"""Case-file validation: every rejection rule gives one line that names the key.

What: solver.config (schema + cross-checks) and the `solver check` command.
Against: hand-written bad inputs; each must raise CaseError whose message starts with the
offending key path (and, through the CLI, exit 2 with no traceback).
"""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path

import pytest
import yaml

from solver.config import apply_overrides, load_case, parse_case
from solver.errors import CaseError

from conftest import ROOT, clean_env, solver_cmd

QUICK = yaml.safe_load((ROOT / "cases" / "quick.yaml").read_text())


def _bad(mutate, expect_key: str, expect_text: str = ""):
    data = copy.deepcopy(QUICK)
    mutate(data)
    with pytest.raises(CaseError) as e:
        parse_case(data)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(expect_key), msg
    assert expect_text in msg, msg
    return msg


def _set(path, value):
    def m(d):
        apply_overrides(d, [f"{path}={value}"])
    return m


def _assert_rejected(data, path, value, key, text):
    """Setting path=value makes parse_case fail with one line that starts with key and
    contains text."""
    apply_overrides(data, [f"{path}={value}"])
    with pytest.raises(CaseError) as e:
        parse_case(data)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(key) and text in msg, msg


def test_quick_case_is_valid():
    """The shipped default case validates."""
    case = parse_case(copy.deepcopy(QUICK))
    assert case.geometry.coatings[0].thickness == pytest.approx(20e-9)


@pytest.mark.parametrize("path,value,key,text", [
    ("geometry.metal.thicknes", "1e-6", "geometry.metal.thicknes", "did you mean 'thickness'"),
    ("physics.elasticity.degre", "2", "physics.elasticity.degre", "unknown key"),
    ("geometry.coatings[0].thickness", "-4e-9", "geometry.coatings[0].thickness", "greater than 0"),
    ("geometry.coatings[0].thickness", "20 nm", "geometry.coatings[0].thickness", "write 2e-08"),
    ("geometry.coatings[0].thickness", ".nan", "geometry.coatings[0].thickness", ""),
    ("geometry.metal.thickness", "2.0", "geometry.metal.thickness", "less than 1"),
    ("materials.Li.poisson_ratio", "0.5", "materials.Li.poisson_ratio", "less than 0.5"),
    ("materials.Li.poisson_ratio", "-1.2", "materials.Li.poisson_ratio", "greater than -1"),
    ("materials.Li.youngs_modulus", "4.9", "materials.Li.youngs_modulus", "pascals"),
    ("physics.elasticity.degree", "5", "physics.elasticity.degree", ""),
    ("dimension", "4", "dimension", ""),
    ("geometry.coatings[0].material", "Unobtainium", "geometry.coatings[0].material",
     "unknown material"),
    ("physics.elasticity.boundary_conditions[3].boundary", "roof",
     "physics.elasticity.boundary_conditions[3].boundary", "unknown boundary"),
    ("physics.elasticity.boundary_conditions[0].type", "glued",
     "physics.elasticity.boundary_conditions[0]", ""),
    ("physics.elasticity.eigenstrain[0].region", "coating",
     "physics.elasticity.eigenstrain[0].region", "unknown region"),
    ("physics.elasticity.eigenstrain[0].value", "0.9", "physics.elasticity.eigenstrain[0]",
     "small strain"),
    ("geometry.metal.perturbations[0].center", "[5.0e-6]",
     "geometry.metal.perturbations[0].center", ""),
    ("geometry.coatings[0].thickness", "1e-13", "geometry.coatings[0].thickness", ""),
    ("physics.elasticity.boundary_conditions[3].value", "1e15",
     "physics.elasticity.boundary_conditions[3].value", "pascals"),
])
def test_rejections(path, value, key, text):
    """Each bad value is rejected with a one-line message starting with its key path."""
    _bad(_set(path, value), key, text)


def test_no_dirichlet_rejected():
    """A body with only loads and no support is rejected before meshing."""
    def m(d):
        d["physics"]["elasticity"]["boundary_conditions"] = [
            {"type": "pressure", "boundary": "top", "value": 1e6}]
    _bad(m, "physics.elasticity.boundary_conditions", "move freely")


def test_roller_on_curved_top_rejected():
    """A roller needs a flat boundary; the top of a bumpy coating without electrolyte is not."""
    def m(d):
        del d["geometry"]["electrolyte"]
        d["physics"]["elasticity"]["boundary_conditions"][3] = {"type": "roller",
                                                                "boundary": "top"}
    _bad(m, "physics.elasticity.boundary_conditions[3].boundary", "not flat")


def test_wrong_vector_length_rejected():
    """A 3-component traction in a 2D case names the key and the expected length."""
    def m(d):
        d["physics"]["elasticity"]["boundary_conditions"][3] = {
            "type": "traction", "boundary": "top", "value": [0, 1e6, 0]}
    _bad(m, "physics.elasticity.boundary_conditions[3].value", "expected 2 components")


def test_duplicate_layer_name_rejected():
    """Two coatings with one name would make regions ambiguous."""
    def m(d):
        d["geometry"]["coatings"].append(dict(d["geometry"]["coatings"][0]))
    _bad(m, "geometry.coatings[1].name", "used twice")


def test_depth_in_2d_rejected():
    _bad(_set("geometry.depth", "1e-6"), "geometry.depth", "only for dimension 3")


def test_rankine_with_an_anisotropic_unbreakable_region_rejected():
    """The Rankine driving force needs isotropic materials everywhere: an anisotropic
    (unbreakable) metal makes the whole law anisotropic, so it is rejected up front."""
    data = yaml.safe_load((ROOT / "cases" / "seed002_li3n_quick.yaml").read_text())
    C = [[1e10, 5e9, 5e9, 0, 0, 0], [5e9, 1e10, 5e9, 0, 0, 0], [5e9, 5e9, 1.2e10, 0, 0, 0],
         [0, 0, 0, 3e9, 0, 0], [0, 0, 0, 0, 3e9, 0], [0, 0, 0, 0, 0, 2.5e9]]
    data["materials"]["Li"] = {"stiffness_voigt": C}
    with pytest.raises(CaseError) as e:
        parse_case(data)
    msg = str(e.value)
    assert msg.startswith("physics.fracture.driving_force") and "anisotropic" in msg, msg


def test_grains_in_3d_rejected():
    """A polycrystalline electrolyte on the layered stack is 2D only (one line, the fix)."""
    def m(d):
        d["dimension"] = 3
        d["geometry"]["depth"] = d["geometry"]["width"]
        d["geometry"]["electrolyte"]["grains"] = {"n_grains": 4}
    _bad(m, "geometry.electrolyte.grains", "two-dimensional")


def test_override_index_out_of_range():
    """--set into a list names the bad index."""
    with pytest.raises(CaseError, match=r"^--set geometry.coatings\[5\]"):
        apply_overrides(copy.deepcopy(QUICK), ["geometry.coatings[5].thickness=1e-9"])


def test_override_dotted_index_form():
    """`coatings.0.thickness` and `coatings[0].thickness` are the same key."""
    d = apply_overrides(copy.deepcopy(QUICK), ["geometry.coatings.0.thickness=8e-9"])
    assert parse_case(d).geometry.coatings[0].thickness == pytest.approx(8e-9)


def test_missing_and_malformed_files(tmp_path):
    """Missing file, malformed YAML and a non-mapping are one-line CaseErrors."""
    with pytest.raises(CaseError, match="not found"):
        load_case(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ngeometry: [1, 2\n")
    with pytest.raises(CaseError, match="malformed YAML"):
        load_case(bad)
    lst = tmp_path / "list.yaml"
    lst.write_text("- 1\n- 2\n")
    with pytest.raises(CaseError, match="mapping"):
        load_case(lst)


@pytest.mark.serial
def test_cli_check_every_shipped_case():
    """Every case under cases/ passes what `solver check` runs (load_case: schema and
    cross-checks, in process), and the command itself exits 0 on one of them."""
    cases = sorted((ROOT / "cases").glob("*.yaml"))
    assert cases
    for c in cases:
        load_case(c)
    r = subprocess.run(solver_cmd("check", str(cases[0])), capture_output=True, text=True,
                       env=clean_env())
    assert r.returncode == 0, (cases[0], r.stdout, r.stderr)


@pytest.mark.serial
@pytest.mark.parametrize("args,code,text", [
    (["check", "cases/quick.yaml", "--set", "geometry.coatings[0].thickness=-1"], 2,
     "geometry.coatings[0].thickness"),
    (["check", "cases/does_not_exist.yaml"], 2, "not found"),
    (["run", "cases/quick.yaml", "--set", "geometry.metal.material=Kryptonite", "-o",
      "/tmp/never"], 2, "geometry.metal.material"),
    (["check", "cases/quick.yaml", "--set", "novalue"], 2, "KEY=VALUE"),
])
def test_cli_errors_are_one_line_without_traceback(args, code, text):
    """The CLI turns bad input into exit code 2 and a single 'error:' line, no traceback."""
    r = subprocess.run(solver_cmd(*args), capture_output=True, text=True, cwd=ROOT,
                       env=clean_env())
    assert r.returncode == code, r
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and text in err[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not Path("/tmp/never/metrics.json").exists()


@pytest.mark.serial
def test_cli_refuses_unrelated_output_directory(tmp_path):
    """A fresh run never writes into (or cleans) a non-empty directory that is not a run
    directory: exit 2, the user's file untouched."""
    (tmp_path / "thesis.tex").write_text("precious")
    r = subprocess.run(solver_cmd("run", "cases/quick.yaml", "-o", str(tmp_path)),
                       capture_output=True, text=True, cwd=ROOT, env=clean_env())
    assert r.returncode == 2 and "not a run directory" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis.tex"]


def test_physics_exactly_one_and_phase_field_needs_electrolyte():
    """Two physics in one case, or none, are refused; phase-field deposition needs an
    electrolyte region to grow into; unknown model overrides are named."""
    def both(d):
        d["physics"]["electrodeposition"] = {"applied_potential": -0.1}
    _bad(both, "physics", "exactly one")

    def pf_without_electrolyte(d):
        del d["geometry"]["electrolyte"]
        d["physics"] = {"electrodeposition": {"applied_potential": -0.1}}
    _bad(pf_without_electrolyte, "physics.electrodeposition", "electrolyte")

    def bad_override(d):
        d["physics"] = {"electrodeposition": {"applied_potential": -0.1,
                                              "overrides": {"kapa0": 1e-6}}}
    _bad(bad_override, "physics.electrodeposition.overrides.kapa0", "kappa0")


def test_potential_or_current_exactly_one():
    """Phase-field deposition is either potentiostatic or galvanostatic: both controls, or
    neither, are refused with the two key names; a current density that no flat front can
    carry within +-5 V is refused with its key."""
    def both(d):
        d["physics"] = {"electrodeposition": {"applied_potential": -0.1,
                                              "applied_current_density": 100.0}}
    _bad(both, "physics.electrodeposition", "applied_current_density")

    def neither(d):
        d["physics"] = {"electrodeposition": {"formulation": "chen"}}
    _bad(neither, "physics.electrodeposition", "applied_potential")

    def huge(d):
        d["physics"] = {"electrodeposition": {"applied_current_density": 1e7,
                                              "overrides": {"L_eta": 1e-300}}}
    _bad(huge, "physics.electrodeposition.applied_current_density", "L_eta")


def test_xi_bounds_need_the_direct_solver_and_a_vi():
    """solver.bounds (SNES VI on xi) with the field split, or with a non-VI snes_type set
    by hand, is refused with the key; with the direct solver it is accepted."""
    hong = yaml.safe_load((ROOT / "cases" / "hong2018_quick.yaml").read_text())
    key = "physics.electrodeposition.solver"
    for path, value, k, text in [
            (f"{key}.linear", "fieldsplit", f"{key}.bounds", "linear: direct"),
            (f"{key}.petsc_options.snes_type", "newtonls", f"{key}.petsc_options.snes_type",
             "vinewtonrsls")]:
        data = copy.deepcopy(hong)
        apply_overrides(data, [f"{key}.bounds=true"])
        _assert_rejected(data, path, value, k, text)
    data = copy.deepcopy(hong)
    apply_overrides(data, [f"{key}.bounds=true"])
    assert parse_case(data).physics.electrodeposition.solver.bounds


SEED001 = yaml.safe_load((ROOT / "cases" / "seed001_li_quick.yaml").read_text())


@pytest.mark.parametrize("path,value,key,text", [
    ("physics.cohesive.interfaces", "[interface_metal_foo]",
     "physics.cohesive.interfaces[0]", "interface_metal_sei"),
    ("physics.cohesive.law.toughness_normal", "1e-12", "physics.cohesive.law",
     "final separation"),
    ("physics.cohesive.pressure.overpotential", "0.01", "physics.cohesive.pressure",
     "exactly one"),
    ("physics.cohesive.boundary_conditions[0].region", "sie",
     "physics.cohesive.boundary_conditions[0].region", "unknown region"),
    ("physics.cohesive.load_path", "[[0, 0], [0.5, 1]]", "physics.cohesive.load_path",
     "cover the run"),
    ("physics.cohesive.load_path", "[[0, 0], [0, 1]]", "physics.cohesive.load_path",
     "increasing t"),
    ("geometry.predelamination.length", "5e-7", "geometry.predelamination",
     "leave part of it bonded"),
])
def test_cohesive_rejections(path, value, key, text):
    """M2 cases: unknown interfaces, a law whose final separation is not beyond its onset,
    both pressure forms, unknown bc regions, a load path not covering the run, a debonded
    segment covering the whole interface."""
    data = copy.deepcopy(SEED001)
    _assert_rejected(data, path, value, key, text)


def test_cohesive_pressure_needs_predelamination():
    data = copy.deepcopy(SEED001)
    del data["geometry"]["predelamination"]
    with pytest.raises(CaseError, match=r"^physics.cohesive.pressure: .*predelaminated"):
        parse_case(data)


SENT = yaml.safe_load((ROOT / "cases" / "sent_quick.yaml").read_text())


@pytest.mark.parametrize("path,value,key,text", [
    ("geometry.notch.length", "2e-3", "geometry.notch.length", "ligament"),
    ("geometry.notch.y", "1.5e-3", "geometry.notch.y", "inside the plate"),
    ("geometry.refine[0].box", "[2e-3, 3e-3, 0, 1e-3]", "geometry.refine[0].box",
     "does not overlap"),
    ("geometry.refine[0].box", "[1e-3, 0.5e-3, 0, 1e-3]", "geometry.refine[0].box",
     "x1 > x0"),
    ("geometry.refine[0].size", "1e-4", "geometry.refine[0].size", "coarser"),
    ("dimension", "3", "geometry.kind", "two-dimensional"),
    ("physics.fracture.split", "spectal", "physics.fracture.split", "spectral"),
    ("physics.fracture.unbreakable", "[plate]", "physics.fracture.unbreakable",
     "nothing can crack"),
    ("physics.fracture.unbreakable", "[metal]", "physics.fracture.unbreakable[0]",
     "unknown region"),
    ("materials.miehe_steel.fracture_toughness", "null", "geometry.material",
     "fracture_toughness"),
    ("physics.fracture.length_scale", "0", "physics.fracture.length_scale", ""),
    ("physics.fracture.irreversibility", "history", "physics.fracture.monolithic", "bounds"),
    ("stepping.stop", "{metric: crack_area_m2, above: 1e-9}", "stepping.stop.metric",
     "crack_length_m"),
    ("physics.fracture.eigenstrain",
     "[{region: plate, tensor: [[0, 0, 0.001], [0, 0, 0], [0.001, 0, 0]]}]",
     "physics.fracture.eigenstrain[0].tensor", "out-of-plane shear"),
    ("physics.fracture.boundary_conditions[0]", "{type: roller, boundary: notch}",
     "physics.fracture.boundary_conditions[0].boundary", "flat"),
    ("physics.fracture.softening", "linear", "physics.fracture.softening", "PFCZM"),
    ("physics.fracture.model", "PFCZM", "geometry.material", "fracture_strength"),
    ("physics.fracture.driving_force", "rankine", "physics.fracture.driving_force",
     "irreversibility: history"),
    ("physics.fracture.eigenstrain",
     "[{region: plate, value: 0.01, profile: {center: [1e-4, 2e-4], radius: 1e-4}}]",
     "physics.fracture.eigenstrain[0].profile.center", "lateral"),
    ("physics.fracture.initial_cracks", "[{start: [1e-4, 2e-4], end: [1e-4, 2e-4]}]",
     "physics.fracture.initial_cracks[0]", "same point"),
    ("physics.fracture.initial_cracks", "[{start: [1e-4], end: [2e-4, 2e-4]}]",
     "physics.fracture.initial_cracks[0].start", ""),
])
def test_fracture_rejections(path, value, key, text):
    """M5 cases and plate geometries: a notch without a ligament or outside the plate,
    refinement boxes outside / inverted / coarser than the mesh, 3D plates, misspelt split,
    nothing breakable, unknown unbreakable region, a material without Gc, a zero length
    scale, a roller on the notch faces (not a flat outer side; pressure on them is fine), a
    monolithic Newton with the history field, a 3D-only stop metric in 2D, out-of-plane
    shear eigenstrain with the 2D spectral split; PF-CZM: a softening law for AT1/AT2, a
    material without fracture_strength, the Rankine driving force with bounds, a 2D
    eigenstrain profile centred at [x, y]; an initial crack of zero length or with a
    one-coordinate end."""
    data = copy.deepcopy(SENT)
    data["physics"]["fracture"]["monolithic"] = path == "physics.fracture.irreversibility"
    if path == "physics.fracture.eigenstrain" and "profile" not in value:
        data["physics"]["fracture"]["split"] = "spectral"
    _assert_rejected(data, path, value, key, text)


COUPLED = {name: yaml.safe_load((ROOT / "cases" / f"{name}.yaml").read_text())
           for name in ("stress_quick", "wedge_quick", "seed004_sei_quick",
                        "seed004_scs_quick")}
M4, M6, SOFT, SCS = "stress_quick", "wedge_quick", "seed004_sei_quick", "seed004_scs_quick"


@pytest.mark.parametrize("base,path,value,key,text", [
    (M4, "physics.electrodeposition.mechanics.refrence", "flat",
     "physics.electrodeposition.mechanics", "refrence"),
    (M4, "physics.electrodeposition.mechanics.reference", "curved",
     "physics.electrodeposition.mechanics.reference", "flat"),
    (M4, "physics.electrodeposition.mechanics.anderson_depth", "-1",
     "physics.electrodeposition.mechanics.anderson_depth", "greater than or equal to 0"),
    (M4, "physics.electrodeposition.mechanics.film", "{material: unobtainium, thickness: 4e-9}",
     "physics.electrodeposition.mechanics.film.material", "unknown material"),
    (M4, "physics.electrodeposition.mechanics.film", "{material: alucone, thickness: -4e-9}",
     "physics.electrodeposition.mechanics.film.thickness", "greater than 0"),
    (M4, "physics.electrodeposition.mechanics.film", "{material: beta_alumina, thickness: 4e-9}",
     "physics.electrodeposition.mechanics.film.material", "anisotropic"),
    (M4, "physics.electrodeposition.mechanics.coupling", "implicit",
     "physics.electrodeposition.mechanics.coupling", "monolithic"),
    (M4, "physics.electrodeposition.mechanics.boundary_conditions", "[]",
     "physics.electrodeposition.mechanics.boundary_conditions", ""),
    (M4, "physics.electrodeposition.mechanics.boundary_conditions",
     "[{boundary: bottom, type: roller}]",
     "physics.electrodeposition.mechanics.boundary_conditions", "x displacement"),
    (M4, "geometry.metal.material", "alucone", "geometry.metal.material", "molar_volume"),
    (M4, "geometry.coatings[0].material", "beta_alumina", "geometry.coatings[0].material",
     "anisotropic"),
    (M4, "stepping.stop", "{metric: max_von_mises_Pa, above: 1e8}", "stepping.stop.metric",
     "interface_hydrostatic_stress_max_Pa"),
    (M6, "physics.fracture", "null", "physics", "add a fracture section"),
    (M6, "physics.electrodeposition.cracking", "null", "physics", "exactly one"),
    (M6, "physics.electrodeposition.mechanics",
     "{boundary_conditions: [{boundary: bottom, type: clamped}]}", "physics", "not both"),
    (M6, "physics.electrodeposition.cracking.growth", "radial",
     "physics.electrodeposition.cracking.growth", "volumetric"),
    (M6, "physics.electrodeposition.cracking.growth_strain", "2",
     "physics.electrodeposition.cracking.growth_strain", ""),
    (M6, "geometry.metal.material", "alucone", "geometry.metal.material", "molar_volume"),
    (M6, "geometry.electrolyte.material", "beta_alumina", "geometry.electrolyte.material",
     "anisotropic"),
    (M6, "stepping.stop", "{metric: crack_tip, above: 3e-6}", "stepping.stop.metric",
     "crack_tip_m"),
    (SOFT, "stepping.stop", "{metric: coating_clearance_m, below: 1e-6}",
     "stepping.stop.metric", "interface_height_max_m"),
    (SCS, "geometry.coatings[0].thickness", "5.0e-6", "geometry.coatings[0].thickness",
     "folds"),
])
def test_coupled_deposition_rejections(base, path, value, key, text):
    """M4 (physics.electrodeposition.mechanics): a misspelt key, an unknown stress-free
    reference, no supports, supports that leave the body free to slide, a metal without a
    molar volume (the Omega of the stress shift), an anisotropic coating, a stop metric the
    run does not report. M6 (electrodeposition.cracking + fracture): cracking without a
    fracture section, fracture next to plain electrodeposition, M4 mechanics and M6 cracking
    together, an unknown growth mode, a growth strain above 1, a metal without molar volume
    (stress feedback), an anisotropic electrolyte (phase-dependent stiffness), an unknown
    stop metric (the message lists the coupled ones). Without coatings (seed004_sei_quick)
    the coating clearance is not a metric either. A 5 um layer over seed004_scs_quick's
    nucleus passes the local curvature check but its top face (nearly) folds: the normal
    offset does not converge, which Gmsh used to report only after the run had started."""
    _assert_rejected(copy.deepcopy(COUPLED[base]), path, value, key, text)


def test_monolithic_coupling_rejections():
    """M4 with coupling: monolithic: a riding film (it follows the front between coupling
    iterations, which the monolithic Newton does not have) and the field-split solver (the
    (xi, c, phi, u) Newton uses the direct solver) are rejected with the key and the fix;
    M6 with cracking.coupling: monolithic: a pressure load, the fracture problem's own
    (u, d) Newton and the field split likewise."""
    data = copy.deepcopy(COUPLED[M4])
    apply_overrides(data, ["physics.electrodeposition.mechanics.coupling=monolithic"])
    _assert_rejected(copy.deepcopy(data), "physics.electrodeposition.mechanics.film",
                     "{material: alucone, thickness: 4e-9}",
                     "physics.electrodeposition.mechanics.film", "coupling: staggered")
    _assert_rejected(data, "physics.electrodeposition.solver", "{linear: fieldsplit}",
                     "physics.electrodeposition.solver.linear", "linear: direct")
    # M6 (cracking.coupling: monolithic): displacement conditions only, no (u, d) Newton
    # of its own, the direct solver
    data = copy.deepcopy(COUPLED[M6])
    apply_overrides(data, ["physics.electrodeposition.cracking.coupling=monolithic"])
    _assert_rejected(copy.deepcopy(data), "physics.fracture.boundary_conditions[1]",
                     "{boundary: top, type: pressure, value: 1e6}",
                     "physics.fracture.boundary_conditions[1]", "coupling: staggered")
    _assert_rejected(copy.deepcopy(data), "physics.fracture.monolithic", "true",
                     "physics.fracture.monolithic", "remove")
    _assert_rejected(data, "physics.electrodeposition.solver", "{linear: fieldsplit}",
                     "physics.electrodeposition.solver.linear", "linear: direct")


def test_conduction_plane_rejections():
    """Oriented grains: one c-axis angle per grain, and a material that gives a value along
    its conduction planes (cation_diffusivity_plane) must give the one across them too."""
    data = copy.deepcopy(COUPLED[M6])
    apply_overrides(data, ["geometry.electrolyte.grains={n_grains: 3, orientations: [0.1, 2]}"])
    _assert_rejected(data, "stepping.end", "1.0", "geometry.electrolyte.grains",
                     "one c-axis angle")
    data = copy.deepcopy(COUPLED[M6])
    apply_overrides(data, ["materials.planar={youngs_modulus: 2e11, poisson_ratio: 0.25, "
                           "cation_diffusivity_plane: 1e-10, ionic_conductivity: 0.1, "
                           "source: test}"])
    _assert_rejected(data, "geometry.electrolyte.material", "planar",
                     "geometry.electrolyte.material", "materials.planar.cation_diffusivity")
