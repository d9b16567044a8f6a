"""ParaView output: VTX (ADIOS2 .bp) writers, one per element family, time series by step."""

from __future__ import annotations

from pathlib import Path

import solver.compat  # noqa: F401
import dolfinx
from dolfinx.io import VTXWriter


def _family_key(fn: dolfinx.fem.Function) -> str:
    el = fn.function_space.ufl_element()
    return f"{el.family_name}{el.degree}"


class FieldWriter:
    """Group functions by element and write each group to its own ``<name>.bp``."""

    def __init__(self, directory: Path, comm, groups: dict[str, list[dolfinx.fem.Function]]):
        self.writers = []
        for name, fns in groups.items():
            keys = {_family_key(f) for f in fns}
            if len(keys) != 1:
                raise ValueError(f"VTX group '{name}' mixes elements {sorted(keys)}")
            self.writers.append(VTXWriter(comm, Path(directory) / f"{name}.bp", fns,
                                          engine="BP4"))

    def write(self, t: float) -> None:
        for w in self.writers:
            w.write(float(t))

    def close(self) -> None:
        for w in self.writers:
            w.close()
        self.writers = []
