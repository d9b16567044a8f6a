"""Material library, case overrides and stiffness rotations (pure python, no mesh).

What: solver.materials (library.yaml, load_library, resolve_materials, Material) and
solver.materials.stiffness (isotropic / hexagonal Voigt matrices, Bond rotation, 2D grains).
Against: closed-form Lame relations, a direct 4th-order tensor rotation with numpy einsum,
rotation group identities, the seeds' own numbers, and hand-written bad overrides (each must
raise CaseError whose one-line message starts with the key path).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml

from solver.config.schema import MaterialOverride
from solver.errors import CaseError
from solver.materials import (
    NUMERIC_FIELDS,
    MaterialLibraryError,
    load_library,
    resolve_materials,
)
from solver.materials import stiffness as st

from conftest import ROOT

LIB_FILE = ROOT / "solver" / "materials" / "library.yaml"
REQUIRED = [
    "Li", "Na", "Al2O3", "LiAlOx", "alucone", "ALD1MLD1", "ALD1MLD1_10", "ALD1MLD1_25",
    "ALD1MLD1_50", "ALD2MLD2", "ALD5MLD5", "Li3N", "LiZn", "beta_alumina", "LiF", "Li2O",
    "Li2CO3", "Sb2O3_SCS", "liquid_electrolyte",
]
F = 96485.33212


def _random_rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1.0
    return q


def _tensor_rotate(C, R) -> np.ndarray:
    T = st.voigt_to_tensor(C)
    return st.tensor_to_voigt(np.einsum("ia,jb,kc,ld,abcd->ijkl", R, R, R, R, T))


TI = st.transversely_isotropic_voigt(3.2e11, 1.1e11, 7.0e10, 2.0e11, 6.0e10)


# --------------------------------------------------------------------------- library
def test_library_loads_and_every_value_has_a_source():
    """Every numeric value in library.yaml has a non-empty source and an uncertain flag
    (checked on the raw YAML), and load_library exposes a source for every given field."""
    raw = yaml.safe_load(LIB_FILE.read_text())
    for name, entry in raw.items():
        assert entry.get("description"), name
        for key, item in entry.items():
            if key in ("description", "notes"):
                continue
            assert key in NUMERIC_FIELDS, f"{name}.{key}"
            assert isinstance(item.get("source"), str) and item["source"].strip(), f"{name}.{key}"
            assert isinstance(item.get("uncertain"), bool), f"{name}.{key}"
    lib = load_library()
    assert set(lib) == set(raw)
    for m in lib.values():
        for key in m.values():
            assert m.sources.get(key), f"{m.name}.{key} has no source"
        assert m.uncertain <= set(m.values())


def test_estimates_are_flagged_uncertain():
    """A source that says 'estimate' or 'stand-in' must come with uncertain: true (honesty
    rule of the library), checked on the raw YAML."""
    raw = yaml.safe_load(LIB_FILE.read_text())
    for name, entry in raw.items():
        for key, item in entry.items():
            if isinstance(item, dict):
                src = item["source"].lower()
                if src.startswith("estimate") or "stand-in" in src:
                    assert item["uncertain"] is True, f"{name}.{key}"


def test_required_materials_exist():
    """The materials the seed cases need are all in the library, each elastic and valid."""
    lib = load_library()
    missing = [n for n in REQUIRED if n not in lib]
    assert not missing, missing
    for m in lib.values():
        C = m.voigt()
        assert st.check_spd(C) is None, m.name
        assert m.youngs_modulus > 0 and -1 < m.poisson_ratio < 0.5


def test_seed_values_are_carried_exactly():
    """Spot check against the seeds: diffusivities of seed 000 (line 101), ALD Al2O3 modulus of
    seed 001 (line 29), Li3N conductivity of seed 002 (line 34), SCS conductivity of seed 004,
    liquid electrolyte of Hong & Viswanathan (2018)."""
    lib = load_library()
    assert lib["LiAlOx"].cation_diffusivity == pytest.approx(1.4e-11)
    assert lib["native_SEI"].cation_diffusivity == pytest.approx(4.6e-13)
    assert lib["Al2O3"].cation_diffusivity == pytest.approx(1.0e-13)
    assert lib["Al2O3"].youngs_modulus == pytest.approx(165e9)
    assert 21e9 <= lib["alucone"].youngs_modulus <= 37e9
    assert lib["Li3N"].ionic_conductivity == pytest.approx(1e-3 * 100)
    assert lib["Sb2O3_SCS"].ionic_conductivity == pytest.approx(6.8e-4 * 100)
    assert lib["Sb2O3_SCS"].youngs_modulus > 10e9
    assert lib["liquid_electrolyte"].cation_diffusivity == pytest.approx(3.18e-10)
    assert lib["liquid_electrolyte"].ionic_conductivity == pytest.approx(1.19)
    assert "youngs_modulus" in lib["liquid_electrolyte"].uncertain


def test_molar_volumes_against_seeds():
    """Li/Na molar volumes against the seeds: seed 001 (line 83) measured V_Li/V_Na = 0.59 from
    deposit thicknesses (within 10%); seed 003 (line 174) implies Omega_Na = F * 2.2 V / 8.8 GPa
    (within 3%)."""
    lib = load_library()
    ratio = lib["Li"].molar_volume / lib["Na"].molar_volume
    assert ratio == pytest.approx(0.59, rel=0.10)
    assert lib["Na"].molar_volume == pytest.approx(F * 2.2 / 8.8e9, rel=0.03)


def test_beta_alumina_anisotropy():
    """beta''-alumina: transversely isotropic about crystal axis 3 (the c-axis), c-axis softer
    than the basal plane, weak-plane toughness ~10x lower (seed 003 / DESIGN.md), strength
    ratio 10 (seed 003 line 176), and E, nu equal to the Voigt-Reuss-Hill average of C."""
    m = load_library()["beta_alumina"]
    assert m.is_anisotropic
    C = m.voigt()
    # invariant under any rotation about axis 3
    assert np.allclose(st.rotate_voigt(C, st.rotation_z(0.737)), C, rtol=0, atol=1e-6 * C.max())
    assert C[2, 2] < C[0, 0] and C[3, 3] < C[5, 5]
    assert m.fracture_toughness / m.fracture_toughness_plane == pytest.approx(10.0)
    assert m.fracture_strength / m.fracture_strength_plane == pytest.approx(10.0)
    E, nu = st.engineering_constants_from_KG(*st.voigt_reuss_hill(C))
    assert m.youngs_modulus == pytest.approx(E, rel=2e-3)
    assert m.poisson_ratio == pytest.approx(nu, rel=2e-3)


def test_docs_list_every_material():
    """docs/materials.md has a table row for every library material."""
    text = (ROOT / "docs" / "materials.md").read_text()
    for name in load_library():
        assert f"| {name} " in text or f"| `{name}`" in text, name


# --------------------------------------------------------------------------- stiffness
@pytest.mark.parametrize("E,nu", [(4.9e9, 0.42), (165e9, 0.24), (1e6, 0.0), (10e9, -0.3)])
def test_isotropic_voigt_matches_lame(E, nu):
    """isotropic_voigt against lambda = E nu/((1+nu)(1-2nu)), mu = E/(2(1+nu)):
    C11 = lambda + 2 mu, C12 = lambda, C44 = mu (engineering shear)."""
    lam = E * nu / ((1 + nu) * (1 - 2 * nu))
    mu = E / (2 * (1 + nu))
    C = st.isotropic_voigt(E, nu)
    expect = np.zeros((6, 6))
    expect[:3, :3] = lam
    expect[np.arange(3), np.arange(3)] = lam + 2 * mu
    expect[np.arange(3, 6), np.arange(3, 6)] = mu
    assert np.allclose(C, expect, rtol=1e-14, atol=0)
    # uniaxial stress: E recovered from the compliance
    assert 1.0 / np.linalg.inv(C)[0, 0] == pytest.approx(E, rel=1e-12)


def test_material_elastic_helpers():
    """Material.lame/shear_modulus/bulk_modulus against closed forms; voigt() of an isotropic
    material equals isotropic_voigt(E, nu)."""
    m = load_library()["Li"]
    E, nu = m.youngs_modulus, m.poisson_ratio
    lam, mu = m.lame()
    assert lam == pytest.approx(E * nu / ((1 + nu) * (1 - 2 * nu)))
    assert mu == pytest.approx(E / (2 * (1 + nu))) == m.shear_modulus
    assert m.bulk_modulus == pytest.approx(lam + 2 * mu / 3)
    assert not m.is_anisotropic
    assert np.allclose(m.voigt(), st.isotropic_voigt(E, nu))


def test_isotropic_invariant_under_rotation():
    """Rotating an isotropic C by any rotation leaves it unchanged (20 random rotations plus
    Euler and 2D grain rotations)."""
    rng = np.random.default_rng(0)
    C = st.isotropic_voigt(70e9, 0.3)
    rots = [_random_rotation(rng) for _ in range(20)]
    rots += [st.rotation_euler_bunge(0.3, 1.1, 2.5), st.rotation_2d_c_axis(0.9)]
    for R in rots:
        assert np.allclose(st.rotate_voigt(C, R), C, rtol=0, atol=1e-9 * C.max())
    assert np.allclose(st.voigt_2d_plane_strain_rotated(C, 1.234), C, atol=1e-9 * C.max())


def test_rotate_voigt_matches_tensor_einsum():
    """rotate_voigt (Bond matrix, M C M^T) agrees with the direct tensor rotation
    C'_ijkl = R_ia R_jb R_kc R_ld C_abcd (numpy einsum) for random rotations of the
    transversely isotropic C and of a random fully anisotropic SPD C."""
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 6))
    C_rand = A @ A.T + 6 * np.eye(6)
    for C in (TI, C_rand):
        for _ in range(5):
            R = _random_rotation(rng)
            assert np.allclose(st.rotate_voigt(C, R), _tensor_rotate(C, R),
                               rtol=0, atol=1e-10 * np.abs(C).max())


def test_voigt_tensor_roundtrip_and_energy():
    """voigt_to_tensor/tensor_to_voigt round-trip, and the strain energy is frame invariant:
    eps:C:eps computed in the crystal frame equals eps':C':eps' in the rotated frame."""
    rng = np.random.default_rng(2)
    assert np.allclose(st.tensor_to_voigt(st.voigt_to_tensor(TI)), TI)
    R = _random_rotation(rng)
    e = rng.normal(size=(3, 3))
    e = 0.5 * (e + e.T)
    e_rot = R @ e @ R.T
    T, T_rot = st.voigt_to_tensor(TI), st.voigt_to_tensor(st.rotate_voigt(TI, R))
    w = np.einsum("ij,ijkl,kl", e, T, e)
    w_rot = np.einsum("ij,ijkl,kl", e_rot, T_rot, e_rot)
    assert w_rot == pytest.approx(w, rel=1e-12)


def test_rotation_inverse_and_composition():
    """Rotation by theta then -theta returns C (z axis and 2D grain map); Bond matrices compose,
    M(R1 R2) = M(R1) M(R2), and M(R^T) = M(R)^-1."""
    for th in (0.3, 1.0, -2.2, math.pi):
        back = st.rotate_voigt(st.rotate_voigt(TI, st.rotation_z(th)), st.rotation_z(-th))
        assert np.allclose(back, TI, rtol=0, atol=1e-9 * TI.max())
    rng = np.random.default_rng(3)
    R1, R2 = _random_rotation(rng), _random_rotation(rng)
    assert np.allclose(st.bond_matrix(R1 @ R2), st.bond_matrix(R1) @ st.bond_matrix(R2))
    assert np.allclose(st.bond_matrix(R1.T) @ st.bond_matrix(R1), np.eye(6), atol=1e-12)
    with pytest.raises(ValueError):
        st.bond_matrix(np.diag([1.0, 1.0, -1.0]))


def test_euler_bunge_convention():
    """rotation_euler_bunge(phi1, Phi, phi2) is the transpose of the textbook Bunge matrix g
    (sample -> crystal), reduces to rotation_z(phi1 + phi2) for Phi = 0, and its third column
    is the crystal c-axis in the global frame."""
    p1, P, p2 = 0.4, 1.1, -0.7
    c1, s1, c2, s2, C, S = (math.cos(p1), math.sin(p1), math.cos(p2), math.sin(p2),
                            math.cos(P), math.sin(P))
    g = np.array([
        [c1 * c2 - s1 * s2 * C, s1 * c2 + c1 * s2 * C, s2 * S],
        [-c1 * s2 - s1 * c2 * C, -s1 * s2 + c1 * c2 * C, c2 * S],
        [s1 * S, -c1 * S, C],
    ])
    R = st.rotation_euler_bunge(p1, P, p2)
    assert np.allclose(R, g.T)
    assert np.allclose(R[:, 2], [s1 * S, -c1 * S, C])
    assert np.allclose(st.rotation_euler_bunge(0.3, 0.0, 0.5), st.rotation_z(0.8))


def test_2d_grain_c_axis_mapping():
    """voigt_2d_plane_strain_rotated: theta = 0 puts the c-axis (crystal C33) along global x,
    theta = pi/2 along the vertical y; it equals the einsum rotation with
    R = Rz(theta) @ (crystal 3 -> x); and the in-plane block decouples from the anti-plane
    shears (x-y is a mirror plane of a hexagonal crystal with c in plane)."""
    C33, C11 = TI[2, 2], TI[0, 0]
    C0 = st.voigt_2d_plane_strain_rotated(TI, 0.0)
    assert C0[0, 0] == pytest.approx(C33) and C0[1, 1] == pytest.approx(C11)
    assert C0[2, 2] == pytest.approx(C11)
    C90 = st.voigt_2d_plane_strain_rotated(TI, math.pi / 2)
    assert C90[1, 1] == pytest.approx(C33) and C90[0, 0] == pytest.approx(C11)
    for th in (0.0, 0.4, 1.3, 2.9):
        R = st.rotation_2d_c_axis(th)
        assert np.allclose(R[:, 2], [math.cos(th), math.sin(th), 0.0])
        Cg = st.voigt_2d_plane_strain_rotated(TI, th)
        assert np.allclose(Cg, _tensor_rotate(TI, R), atol=1e-10 * TI.max())
        for i in (0, 1, 2, 5):
            for j in (3, 4):
                assert abs(Cg[i, j]) < 1e-9 * TI.max()
        D = st.plane_strain_block(Cg)
        assert D.shape == (3, 3) and np.all(np.linalg.eigvalsh(D) > 0)
    # modulus along the c-axis direction in the plane is the crystal's c-axis modulus
    th = 0.6
    n = np.array([math.cos(th), math.sin(th), 0.0])
    S = np.linalg.inv(st.voigt_2d_plane_strain_rotated(TI, th))
    sig = np.array([n[0] ** 2, n[1] ** 2, 0.0, 0.0, 0.0, n[0] * n[1]])
    assert 1.0 / (sig @ S @ sig) == pytest.approx(1.0 / np.linalg.inv(TI)[2, 2], rel=1e-10)


# --------------------------------------------------------------------------- overrides
def test_override_replaces_fields_and_records_case_source():
    """A case override replaces only the given fields of a library material and records
    'case file' as their source; the library itself is not modified."""
    lib = load_library()
    out = resolve_materials({"Li": {"youngs_modulus": 7.8e9, "source": "Masias 2019"}}, lib)
    li = out["Li"]
    assert li.youngs_modulus == 7.8e9
    assert li.poisson_ratio == lib["Li"].poisson_ratio
    assert li.molar_volume == lib["Li"].molar_volume
    assert li.sources["youngs_modulus"] == "case file: Masias 2019"
    assert li.sources["poisson_ratio"] == lib["Li"].sources["poisson_ratio"]
    assert "youngs_modulus" not in li.uncertain
    assert lib["Li"].youngs_modulus == 4.9e9 and load_library()["Li"].youngs_modulus == 4.9e9
    assert out["Na"] is lib["Na"]


def test_override_accepts_pydantic_model():
    """resolve_materials accepts MaterialOverride models as the case schema produces them;
    unset (None) fields are ignored."""
    ov = MaterialOverride(youngs_modulus=2.0e11, poisson_ratio=0.25)
    out = resolve_materials({"Al2O3": ov, "Foo": MaterialOverride(youngs_modulus=1e9,
                                                                   poisson_ratio=0.3)})
    assert out["Al2O3"].youngs_modulus == 2.0e11
    assert out["Al2O3"].cation_diffusivity == pytest.approx(1.0e-13)
    assert out["Al2O3"].sources["youngs_modulus"] == "case file"
    assert out["Foo"].lame()[1] == pytest.approx(1e9 / 2.6)


def test_new_anisotropic_material_gets_hill_average():
    """A new material given only stiffness_voigt is anisotropic and receives E, nu from the
    Voigt-Reuss-Hill average (so isotropic helpers still work)."""
    out = resolve_materials({"grainX": {"stiffness_voigt": TI.tolist()}})
    m = out["grainX"]
    assert m.is_anisotropic and np.allclose(m.voigt(), TI)
    E, nu = st.engineering_constants_from_KG(*st.voigt_reuss_hill(TI))
    assert m.youngs_modulus == pytest.approx(E) and m.poisson_ratio == pytest.approx(nu)
    assert m.sources["stiffness_voigt"] == "case file"


def test_override_of_anisotropic_stiffness_updates_average():
    """Overriding beta_alumina's stiffness_voigt recomputes its isotropic average; overriding
    only E of an anisotropic library material is refused with the key path."""
    C = 0.5 * TI
    out = resolve_materials({"beta_alumina": {"stiffness_voigt": C.tolist()}})
    lib = load_library()
    assert out["beta_alumina"].youngs_modulus == pytest.approx(0.5 * lib["beta_alumina"]
                                                               .youngs_modulus, rel=2e-3)
    assert out["beta_alumina"].fracture_toughness == lib["beta_alumina"].fracture_toughness
    with pytest.raises(CaseError) as e:
        resolve_materials({"beta_alumina": {"youngs_modulus": 1e11}})
    assert str(e.value).startswith("materials.beta_alumina.youngs_modulus:")


def _rejects(overrides, key, text=""):
    with pytest.raises(CaseError) as e:
        resolve_materials(overrides)
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith(key), msg
    assert text in msg, msg
    return msg


@pytest.mark.parametrize("nu", [0.5, 0.7, -1.0, -3.0])
def test_rejects_bad_poisson(nu):
    """Poisson's ratio outside (-1, 0.5) is rejected, naming materials.<name>.poisson_ratio."""
    _rejects({"Li": {"poisson_ratio": nu}}, "materials.Li.poisson_ratio", "-1 < nu < 0.5")


@pytest.mark.parametrize("E", [0.0, -4.9e9, float("nan"), float("inf"), "4.9 GPa"])
def test_rejects_bad_modulus(E):
    """Non-positive, non-finite or non-numeric Young's moduli are rejected by key path."""
    _rejects({"Li": {"youngs_modulus": E}}, "materials.Li.youngs_modulus")


def test_rejects_non_spd_stiffness():
    """A stiffness that is not symmetric, not positive definite or not 6x6 is rejected,
    naming materials.<name>.stiffness_voigt."""
    bad = TI.copy()
    bad[3, 3] = -1e9
    _rejects({"X": {"stiffness_voigt": bad.tolist()}}, "materials.X.stiffness_voigt",
             "positive definite")
    asym = TI.copy()
    asym[0, 1] += 5e10
    _rejects({"X": {"stiffness_voigt": asym.tolist()}}, "materials.X.stiffness_voigt",
             "symmetric")
    _rejects({"beta_alumina": {"stiffness_voigt": TI[:3, :3].tolist()}},
             "materials.beta_alumina.stiffness_voigt", "6x6")


def test_rejects_new_material_without_elastic_data():
    """A new material without youngs_modulus+poisson_ratio (or stiffness_voigt) is rejected,
    and a wrongly-cased library name gets a hint."""
    _rejects({"Foo": {"youngs_modulus": 1e9}}, "materials.Foo",
             "a new material needs youngs_modulus and poisson_ratio (or stiffness_voigt)")
    _rejects({"li": {"molar_volume": 1e-5}}, "materials.li", "did you mean the library "
             "material 'Li'")


def test_rejects_unknown_field_and_negative_property():
    """Unknown property names and non-positive transport/fracture values are rejected."""
    _rejects({"Li": {"youngs_modulu": 1e9}}, "materials.Li.youngs_modulu",
             "did you mean 'youngs_modulus'")
    _rejects({"Li3N": {"fracture_toughness": -1.0}}, "materials.Li3N.fracture_toughness", "> 0")
    _rejects({"Li3N": {"ionic_conductivity": 0.0}}, "materials.Li3N.ionic_conductivity")


# --------------------------------------------------------------------------- library validation
def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "lib.yaml"
    p.write_text(text)
    return p


def test_library_validation_rejects_bad_files(tmp_path):
    """load_library refuses a library with an unknown field, a value without source, without
    an uncertain flag, or a material without elastic data."""
    ok = ("M:\n  description: test\n"
          "  youngs_modulus: {value: 1.0e+9, source: s, uncertain: false}\n"
          "  poisson_ratio: {value: 0.3, source: s, uncertain: true}\n")
    lib = load_library(_write(tmp_path, ok))
    assert lib["M"].uncertain == {"poisson_ratio"}
    cases = [
        (ok + "  colour: {value: 1.0, source: s, uncertain: false}\n", "unknown property"),
        (ok + "  density: {value: 1.0e+3, uncertain: false}\n", "missing 'source'"),
        (ok + "  density: {value: 1.0e+3, source: '  ', uncertain: false}\n", "missing 'source'"),
        (ok + "  density: {value: 1.0e+3, source: s}\n", "uncertain"),
        (ok + "  density: {value: -1.0, source: s, uncertain: false}\n", "> 0"),
        ("M:\n  description: t\n  density: {value: 1.0, source: s, uncertain: false}\n",
         "needs youngs_modulus"),
    ]
    for text, expect in cases:
        with pytest.raises(MaterialLibraryError) as e:
            load_library(_write(tmp_path, text))
        assert expect in str(e.value), (text, str(e.value))
