"""Case files: schema (schema.py) and loading/overrides/error messages (loader.py)."""

from solver.config.loader import apply_overrides, load_case, parse_case
from solver.config.schema import Case

__all__ = ["Case", "apply_overrides", "load_case", "parse_case"]
