"""Load a case file, apply ``--set`` overrides, validate, and say exactly what is wrong.

Every error is a CaseError whose one-line message starts with the key path, e.g.
``geometry.coatings[0].thickness: must be > 0 (got -4e-09)``.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from solver.config.schema import Case
from solver.errors import CaseError

_UNITS = {  # unit string -> factor to SI, for "did you mean" messages
    "nm": 1e-9, "um": 1e-6, "µm": 1e-6, "mm": 1e-3, "cm": 1e-2, "m": 1.0,
    "pa": 1.0, "kpa": 1e3, "mpa": 1e6, "gpa": 1e9,
    "s": 1.0, "ms": 1e-3, "h": 3600.0, "min": 60.0, "v": 1.0, "mv": 1e-3,
}


def _key_path(loc: tuple, data: Any) -> str:
    """Human key path from a pydantic error location, skipping union tags."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            node = node[part] if isinstance(node, list) and part < len(node) else None
        elif isinstance(node, dict) and part in node:
            out += ("." if out else "") + str(part)
            node = node[part]
        elif isinstance(node, dict) or node is None:
            # a union discriminator tag (e.g. 'layered', 'bump') or a missing key
            if part in _TAGS:
                continue
            out += ("." if out else "") + str(part)
            node = None
        else:
            continue
    return out or "(case)"


def _all_fields(model: type[BaseModel], seen=None) -> set[str]:
    seen = seen if seen is not None else set()
    names: set[str] = set()
    if model in seen:
        return names
    seen.add(model)
    for name, f in model.model_fields.items():
        names.add(name)
        for sub in _submodels(f.annotation):
            names |= _all_fields(sub, seen)
    return names


def _submodels(tp) -> list[type[BaseModel]]:
    out = []
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    for a in getattr(tp, "__args__", ()) or ():
        out += _submodels(a)
    meta = getattr(tp, "__metadata__", None)
    if meta is not None:
        out += _submodels(tp.__origin__)
    return out


_FIELDS = _all_fields(Case)
_TAGS = {"layered", "polycrystal", "plate", "bump", "sinusoid", "random", "clamped", "roller",
         "displacement", "traction", "pressure"}


def _suggest_si(value: str) -> str:
    m = re.fullmatch(r"\s*([-+0-9.eE]+)\s*([A-Za-zµ]+)\s*", value)
    if m and m.group(2).lower() in _UNITS:
        try:
            si = float(m.group(1)) * _UNITS[m.group(2).lower()]
            return f"; case files use plain SI numbers: write {si:g}"
        except ValueError:
            pass
    return "; case files use plain SI numbers (m, s, Pa, V, mol/m^3)"


def _format(err: dict, data: Any) -> str:
    key = _key_path(err["loc"], data)
    typ = err["type"]
    got = err.get("input")
    if typ == "extra_forbidden":
        leaf = str(err["loc"][-1])
        close = difflib.get_close_matches(leaf, _FIELDS, n=1)
        hint = f"; did you mean '{close[0]}'?" if close else "; remove it"
        return f"{key}: unknown key{hint}"
    if typ == "missing":
        return f"{key}: required key is missing"
    if typ in ("float_parsing", "float_type", "int_parsing", "int_type") and isinstance(got, str):
        return f"{key}: expected a number, got '{got}'{_suggest_si(got)}"
    if typ == "int_from_float":
        return f"{key}: expected a whole number, got {got!r}"
    if typ == "union_tag_invalid":
        return f"{key}: {err['msg']}"
    msg = err["msg"].replace("Value error, ", "")
    if key == "(case)" and re.match(r"^[A-Za-z_][\w.\[\]]*: ", msg):
        return msg  # a model-level check that already names its key
    if got is not None and not isinstance(got, (dict, list)):
        msg += f" (got {got!r})"
    return f"{key}: {msg}"


def parse_case(data: Any, source: str = "case") -> Case:
    """Validate a case dictionary (schema + cross-checks); raises CaseError."""
    if not isinstance(data, dict):
        raise CaseError(f"{source}: a case file must be a YAML mapping of keys to values")
    try:
        case = Case.model_validate(data)
    except ValidationError as e:
        errs = e.errors()
        first = _format(errs[0], data)
        more = f" (and {len(errs) - 1} more problem{'s' if len(errs) > 2 else ''})" \
            if len(errs) > 1 else ""
        raise CaseError(first + more) from None
    from solver.config.checks import check_case

    check_case(case)
    return case


def _parse_value(text: str):
    try:
        return yaml.load(text, Loader=_CaseLoader)
    except yaml.YAMLError:
        return text


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b[0].c=value`` (or ``a.b.0.c=value``) overrides to a case dictionary."""
    for ov in overrides or []:
        if "=" not in ov:
            raise CaseError(f"--set {ov}: expected KEY=VALUE, e.g. coating.thickness=8e-9")
        key, text = ov.split("=", 1)
        parts = [p for p in re.split(r"\.|\[(\d+)\]", key.strip()) if p]
        if not parts:
            raise CaseError(f"--set {ov}: empty key")
        node = data
        for i, p in enumerate(parts):
            last = i == len(parts) - 1
            where = ".".join(parts[: i + 1])
            if isinstance(node, list):
                if not p.isdigit() or int(p) >= len(node):
                    raise CaseError(f"--set {key}: '{where}' needs a list index < {len(node)}")
                if last:
                    node[int(p)] = _parse_value(text)
                else:
                    node = node[int(p)]
            elif isinstance(node, dict):
                if last:
                    node[p] = _parse_value(text)
                else:
                    node = node.setdefault(p, {})
            else:
                raise CaseError(f"--set {key}: '{'.'.join(parts[:i])}' is a value, not a section")
    return data


class _CaseLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys and reads 1e3 (no dot) as a number."""


def _mapping(loader, node, deep=False):
    keys = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key '{key}'", k.start_mark)
        keys.add(key)
    return loader.construct_mapping(node, deep=deep)


_CaseLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_CaseLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def read_yaml(path: str | Path) -> dict:
    p = Path(path)
    if not p.exists():
        raise CaseError(f"{p}: case file not found; check the path")
    if p.is_dir():
        raise CaseError(f"{p}: is a directory; give a case .yaml file")
    try:
        data = yaml.load(p.read_text(), Loader=_CaseLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise CaseError(f"{p}:{where}: malformed YAML ({problem}); fix the syntax") from None
    except UnicodeDecodeError:
        raise CaseError(f"{p}: not a text file; give a case .yaml file") from None
    if data is None:
        raise CaseError(f"{p}: the case file is empty")
    if not isinstance(data, dict):
        raise CaseError(f"{p}: a case file must be a YAML mapping of keys to values")
    return data


def load_case(path: str | Path, overrides: list[str] | None = None) -> Case:
    data = apply_overrides(read_yaml(path), overrides or [])
    return parse_case(data, source=str(path))
