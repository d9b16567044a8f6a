"""Material library: cited property data (``library.yaml``) and per-case overrides.

Pure python + numpy (no dolfinx), so it is safe to import anywhere, on every rank.

* :func:`load_library` reads and validates the packaged ``library.yaml`` (or another file):
  every numeric property must carry a ``source`` and an ``uncertain`` flag; unknown keys,
  missing sources and unphysical values raise :class:`MaterialLibraryError`.
* :func:`resolve_materials` applies a case file's ``materials:`` section field by field and
  returns the materials a run uses. Errors are :class:`solver.errors.CaseError` whose one-line
  message starts with the key path, e.g. ``materials.Li.poisson_ratio: ...``.
* :class:`Material` is a frozen record with elastic helpers (``lame()``, ``voigt()``, ...).

Units are SI: Pa, m^3/mol, J/m^2, m^2/s, S/m, kg/m^3. See docs/materials.md.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from solver.errors import CaseError, SolverError
from . import stiffness

__all__ = [
    "ELASTIC_FIELDS",
    "NUMERIC_FIELDS",
    "Material",
    "MaterialLibraryError",
    "load_library",
    "resolve_materials",
]

ELASTIC_FIELDS = ("youngs_modulus", "poisson_ratio", "stiffness_voigt")
NUMERIC_FIELDS = (
    "youngs_modulus",  # Pa
    "poisson_ratio",  # -
    "stiffness_voigt",  # 6x6 Pa, crystal frame, Voigt 11,22,33,23,13,12, engineering shear
    "molar_volume",  # m^3/mol
    "density",  # kg/m^3
    "fracture_toughness",  # Gc, J/m^2
    "fracture_toughness_plane",  # Gc across the weak crystal planes, J/m^2
    "fracture_toughness_grain_boundary",  # Gc of grain boundaries, J/m^2
    "fracture_strength",  # Pa
    "fracture_strength_plane",  # Pa, across the weak crystal planes
    "cation_diffusivity",  # m^2/s (with a _plane value: across the conduction planes)
    "cation_diffusivity_plane",  # m^2/s, along the conduction planes (oriented grains)
    "ionic_conductivity",  # S/m (with a _plane value: across the conduction planes)
    "ionic_conductivity_plane",  # S/m, along the conduction planes (oriented grains)
    "electronic_conductivity",  # S/m
)
TEXT_FIELDS = ("description", "notes")
_ENTRY_KEYS = ("value", "source", "uncertain", "note")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_HILL_SOURCE = "Voigt-Reuss-Hill average of stiffness_voigt (computed)"


class MaterialLibraryError(SolverError):
    """The material library file itself is invalid (a developer error, not a case error)."""


# --------------------------------------------------------------------------- record
@dataclass(frozen=True)
class Material:
    """One material. Numeric fields are SI and ``None`` when unknown.

    ``sources[field]`` says where each given value comes from (``"case file"`` for case
    overrides); ``uncertain`` names the fields whose value is an estimate or stand-in.
    ``stiffness_voigt`` (crystal frame) is stored as a tuple of 6 tuples."""

    name: str
    youngs_modulus: float | None = None
    poisson_ratio: float | None = None
    stiffness_voigt: tuple[tuple[float, ...], ...] | None = None
    molar_volume: float | None = None
    density: float | None = None
    fracture_toughness: float | None = None
    fracture_toughness_plane: float | None = None
    fracture_toughness_grain_boundary: float | None = None
    fracture_strength: float | None = None
    fracture_strength_plane: float | None = None
    cation_diffusivity: float | None = None
    cation_diffusivity_plane: float | None = None
    ionic_conductivity: float | None = None
    ionic_conductivity_plane: float | None = None
    electronic_conductivity: float | None = None
    description: str = ""
    notes: str = ""
    sources: dict[str, str] = field(default_factory=dict, hash=False, compare=True)
    uncertain: frozenset[str] = frozenset()

    # ---- elastic helpers
    @property
    def is_anisotropic(self) -> bool:
        """True when a crystal-frame stiffness (``stiffness_voigt``) is given."""
        return self.stiffness_voigt is not None

    def _iso(self) -> tuple[float, float]:
        if self.youngs_modulus is None or self.poisson_ratio is None:
            raise ValueError(f"material '{self.name}' has no isotropic youngs_modulus and "
                             "poisson_ratio")
        return float(self.youngs_modulus), float(self.poisson_ratio)

    def lame(self) -> tuple[float, float]:
        """3D Lame parameters ``(lambda, mu)`` in Pa from ``youngs_modulus``, ``poisson_ratio``.

        For an anisotropic material these are those of its isotropic (Hill) average."""
        E, nu = self._iso()
        return E * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)), E / (2.0 * (1.0 + nu))

    @property
    def shear_modulus(self) -> float:
        """Isotropic shear modulus ``mu = E / (2 (1 + nu))`` (Pa)."""
        return self.lame()[1]

    @property
    def bulk_modulus(self) -> float:
        """Isotropic bulk modulus ``K = E / (3 (1 - 2 nu))`` (Pa)."""
        E, nu = self._iso()
        return E / (3.0 * (1.0 - 2.0 * nu))

    def voigt(self) -> np.ndarray:
        """6x6 stiffness (Pa): ``stiffness_voigt`` (crystal frame) if given, else isotropic."""
        if self.stiffness_voigt is not None:
            return np.array(self.stiffness_voigt, dtype=float)
        return stiffness.isotropic_voigt(*self._iso())

    def get(self, name: str):
        """Value of a numeric field by name (``None`` when unknown)."""
        if name not in NUMERIC_FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def values(self) -> dict[str, Any]:
        """The numeric fields that are given, as ``{field: value}``."""
        return {k: getattr(self, k) for k in NUMERIC_FIELDS if getattr(self, k) is not None}


# --------------------------------------------------------------------------- value checks
def _number(v) -> float:
    if isinstance(v, bool):
        raise ValueError(f"expected a number, got {v!r}")
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            raise ValueError(f"expected a number in SI units, got {v!r}") from None
    if not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"expected a number, got {type(v).__name__}")
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"must be a finite number, got {v!r}")
    return v


def _check_value(fname: str, v):
    """Normalise and check one property value; raise ValueError with the reason."""
    if fname == "stiffness_voigt":
        try:
            arr = np.array([[_number(x) for x in row] for row in v], dtype=float)
        except TypeError:
            raise ValueError("must be a 6x6 matrix (list of 6 rows of 6 numbers), in Pa") from None
        if arr.shape != (6, 6):
            raise ValueError(f"must be a 6x6 matrix in Pa (Voigt 11,22,33,23,13,12), got "
                             f"shape {arr.shape}")
        reason = stiffness.check_spd(arr)
        if reason:
            raise ValueError(reason)
        arr = 0.5 * (arr + arr.T)
        return tuple(tuple(float(x) for x in row) for row in arr)
    x = _number(v)
    if fname == "poisson_ratio":
        if not -1.0 < x < 0.5:
            raise ValueError(f"must satisfy -1 < nu < 0.5, got {x:g}")
        return x
    if x <= 0.0:
        raise ValueError(f"must be > 0, got {x:g}")
    return x


def _suggest(key: str, options) -> str:
    close = difflib.get_close_matches(key, list(options), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _complete_elastic(values: dict, sources: dict, uncertain: set, source: str) -> None:
    """Fill isotropic E, nu from the Hill average of stiffness_voigt where missing."""
    C = values.get("stiffness_voigt")
    if C is None or ("youngs_modulus" in values and "poisson_ratio" in values):
        return
    E, nu = stiffness.engineering_constants_from_KG(*stiffness.voigt_reuss_hill(np.array(C)))
    for k, v in (("youngs_modulus", E), ("poisson_ratio", nu)):
        if k not in values:
            values[k] = float(v)
            sources[k] = source
            if "stiffness_voigt" in uncertain:
                uncertain.add(k)


# --------------------------------------------------------------------------- library
_CACHE: dict[str, dict[str, Material]] = {}


def _library_text(path) -> tuple[str, str]:
    if path is None:
        res = resources.files("solver.materials").joinpath("library.yaml")
        return res.read_text(encoding="utf-8"), "solver/materials/library.yaml"
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8"), str(p)
    except OSError as e:
        raise MaterialLibraryError(f"{p}: cannot read material library ({e.strerror})") from None


def _parse_library(data, where: str) -> dict[str, Material]:
    if not isinstance(data, Mapping) or not data:
        raise MaterialLibraryError(f"{where}: expected a mapping of material names")
    out: dict[str, Material] = {}
    for name, entry in data.items():
        key = f"{where}: {name}"
        if not isinstance(name, str) or not _NAME.match(name):
            raise MaterialLibraryError(f"{key}: material names must match {_NAME.pattern}")
        if not isinstance(entry, Mapping):
            raise MaterialLibraryError(f"{key}: expected a mapping of properties")
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        uncertain: set[str] = set()
        text = {"description": "", "notes": ""}
        for fname, item in entry.items():
            fkey = f"{key}.{fname}"
            if fname in TEXT_FIELDS:
                if not isinstance(item, str):
                    raise MaterialLibraryError(f"{fkey}: must be a string")
                text[fname] = " ".join(item.split())
                continue
            if fname not in NUMERIC_FIELDS:
                raise MaterialLibraryError(
                    f"{fkey}: unknown property{_suggest(str(fname), NUMERIC_FIELDS + TEXT_FIELDS)}")
            if not isinstance(item, Mapping):
                raise MaterialLibraryError(
                    f"{fkey}: expected {{value: ..., source: '...', uncertain: true|false}}")
            extra = set(item) - set(_ENTRY_KEYS)
            if extra:
                raise MaterialLibraryError(f"{fkey}: unknown key(s) {sorted(extra)}; allowed: "
                                           f"{', '.join(_ENTRY_KEYS)}")
            if "value" not in item:
                raise MaterialLibraryError(f"{fkey}: missing 'value'")
            src = item.get("source")
            if not isinstance(src, str) or not src.strip():
                raise MaterialLibraryError(f"{fkey}: missing 'source' (every value needs one)")
            if not isinstance(item.get("uncertain"), bool):
                raise MaterialLibraryError(f"{fkey}: missing 'uncertain: true|false'")
            try:
                values[fname] = _check_value(fname, item["value"])
            except ValueError as e:
                raise MaterialLibraryError(f"{fkey}: {e}") from None
            sources[fname] = " ".join(src.split())
            if item["uncertain"]:
                uncertain.add(fname)
        if not text["description"]:
            raise MaterialLibraryError(f"{key}: missing 'description'")
        if not (("youngs_modulus" in values and "poisson_ratio" in values)
                or "stiffness_voigt" in values):
            raise MaterialLibraryError(
                f"{key}: needs youngs_modulus and poisson_ratio (or stiffness_voigt)")
        _complete_elastic(values, sources, uncertain, _HILL_SOURCE)
        out[name] = Material(name=name, **values, **text, sources=sources,
                             uncertain=frozenset(uncertain))
    return out


def load_library(path=None) -> dict[str, Material]:
    """Read and validate a material library (default: the packaged ``library.yaml``).

    Returns ``{name: Material}``. Raises :class:`MaterialLibraryError` on unknown fields,
    values without ``source``/``uncertain``, or unphysical values. The result is cached per
    path; a new dict is returned on every call (the Materials themselves are immutable)."""
    cache_key = "<package>" if path is None else str(Path(path).resolve())
    if cache_key not in _CACHE or path is not None:
        text, where = _library_text(path)
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise MaterialLibraryError(f"{where}: not valid YAML ({' '.join(str(e).split())})") \
                from None
        _CACHE[cache_key] = _parse_library(data, where)
    return dict(_CACHE[cache_key])


# --------------------------------------------------------------------------- case overrides
def _override_dict(ov, key: str) -> dict:
    if ov is None:
        return {}
    if hasattr(ov, "model_dump"):
        ov = ov.model_dump(exclude_none=True)
    if not isinstance(ov, Mapping):
        raise CaseError(f"{key}: expected a mapping of material properties, got "
                        f"{type(ov).__name__}")
    return {k: v for k, v in ov.items() if v is not None}


def resolve_materials(overrides: Mapping[str, Any] | None,
                      library: Mapping[str, Material] | None = None) -> dict[str, Material]:
    """Library materials with a case file's ``materials:`` section applied.

    ``overrides`` maps a material name to a dict or a pydantic model (``MaterialOverride``)
    of properties. For a library material each given field replaces the library value and
    its source becomes ``"case file"`` (``"case file: <source>"`` when the override has a
    ``source`` string); other fields keep their library values. A new name defines a new
    material and must give ``youngs_modulus`` and ``poisson_ratio`` (or ``stiffness_voigt``).
    When only ``stiffness_voigt`` is given, E and nu are filled with its Voigt-Reuss-Hill
    average. Overriding E or nu alone of an anisotropic library material is refused (it would
    leave the crystal stiffness unchanged); override ``stiffness_voigt`` instead.

    Raises :class:`~solver.errors.CaseError` naming ``materials.<name>[.<field>]``."""
    lib = load_library() if library is None else library
    out = dict(lib)
    for name, ov in (overrides or {}).items():
        key = f"materials.{name}"
        data = _override_dict(ov, key)
        src = data.pop("source", None)
        if src is not None and not isinstance(src, str):
            raise CaseError(f"{key}.source: must be a string")
        origin = "case file" + (f": {' '.join(src.split())}" if src else "")
        text = {}
        checked: dict[str, Any] = {}
        for fname, v in data.items():
            if fname in TEXT_FIELDS:
                if not isinstance(v, str):
                    raise CaseError(f"{key}.{fname}: must be a string")
                text[fname] = " ".join(v.split())
                continue
            if fname not in NUMERIC_FIELDS:
                raise CaseError(f"{key}.{fname}: unknown material property"
                                f"{_suggest(str(fname), NUMERIC_FIELDS + ('source',))}")
            try:
                checked[fname] = _check_value(fname, v)
            except ValueError as e:
                raise CaseError(f"{key}.{fname}: {e}") from None

        base = lib.get(name)
        if base is None:
            if not (("youngs_modulus" in checked and "poisson_ratio" in checked)
                    or "stiffness_voigt" in checked):
                hint = ""
                same = [n for n in lib if n.lower() == str(name).lower()]
                if same:
                    hint = f"; did you mean the library material '{same[0]}'?"
                raise CaseError(f"{key}: a new material needs youngs_modulus and poisson_ratio "
                                f"(or stiffness_voigt){hint}")
            values: dict[str, Any] = {}
            sources: dict[str, str] = {}
            uncertain: set[str] = set()
            text.setdefault("description", "defined in the case file")
        else:
            if base.is_anisotropic and "stiffness_voigt" not in checked:
                for k in ("youngs_modulus", "poisson_ratio"):
                    if k in checked:
                        raise CaseError(
                            f"{key}.{k}: '{name}' is anisotropic (its library entry has "
                            "stiffness_voigt); override stiffness_voigt instead, or define an "
                            "isotropic material under a new name")
            values = base.values()
            sources = dict(base.sources)
            uncertain = set(base.uncertain)
            if "stiffness_voigt" in checked:
                # the library's Hill-average E, nu no longer describe the new stiffness
                for k in ("youngs_modulus", "poisson_ratio"):
                    if k not in checked:
                        values.pop(k, None)
                        sources.pop(k, None)
                        uncertain.discard(k)
        for fname, v in checked.items():
            values[fname] = v
            sources[fname] = origin
            uncertain.discard(fname)
        _complete_elastic(values, sources, uncertain,
                          "Voigt-Reuss-Hill average of the case-file stiffness_voigt (computed)")
        if base is not None:
            text = {"description": base.description, "notes": base.notes, **text}
        out[name] = Material(name=str(name), **values, **text, sources=sources,
                             uncertain=frozenset(uncertain))
    return out

