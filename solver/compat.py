"""The one place that knows about packaging and version differences of the FEniCSx stack.

The `dolfinx-solver-real` wheel must be imported before dolfinx/petsc4py (it sets up the
bundled PETSc); official DOLFINx images do not have it, so its absence is tolerated.
Import this module before dolfinx anywhere in the package.
"""

from __future__ import annotations

try:  # pragma: no cover - depends on the installation
    import dolfinx_solver  # noqa: F401

    HAS_DOLFINX_SOLVER_WHEEL = True
except ImportError:  # official images
    HAS_DOLFINX_SOLVER_WHEEL = False


def versions() -> dict[str, str]:
    """Versions of everything that decides the numbers a run produces."""
    import platform

    import basix
    import dolfinx
    import ffcx
    import gmsh
    import mpi4py
    import numpy
    import ufl
    from petsc4py import PETSc

    from solver import __version__

    return {
        "solver": __version__,
        "python": platform.python_version(),
        "dolfinx": dolfinx.__version__,
        "basix": basix.__version__,
        "ffcx": ffcx.__version__,
        "ufl": ufl.__version__,
        "petsc": ".".join(str(v) for v in PETSc.Sys.getVersion()),
        "mpi4py": mpi4py.__version__,
        "mpi_library": mpi4py.MPI.Get_library_version().splitlines()[0].strip(),
        "numpy": numpy.__version__,
        "gmsh": gmsh.__version__,
        "platform": platform.platform(),
    }


def check_stack() -> None:
    """Import the whole stack once (used by the set-up script); raises on failure."""
    v = versions()
    print("stack: " + ", ".join(f"{k} {v[k]}" for k in ("dolfinx", "petsc", "gmsh", "python")))
