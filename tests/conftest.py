"""Shared fixtures. The suite runs serially and under `mpiexec -n 2` (see Makefile)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest

import solver.compat  # noqa: F401  (before dolfinx)
from mpi4py import MPI

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

_pytest_approx = pytest.approx


def _approx(expected, rel=None, abs=None, nan_ok=False):
    """pytest.approx without the hidden absolute floor: pytest adds abs = 1e-12 unless abs
    is given, which for SI values such as 2e-11 m^3 turns rel=1e-9 into 4 %. Here a
    tolerance is what the test states: rel (default 1e-6) unless abs is given too, and
    abs alone when only abs is given."""
    if abs is None:
        abs = 0.0
        if rel is None:
            rel = 1e-6
    return _pytest_approx(expected, rel=rel, abs=abs, nan_ok=nan_ok)


pytest.approx = _approx  # every test module calls pytest.approx: the stated tolerance


def pytest_collection_modifyitems(config, items):
    if MPI.COMM_WORLD.size > 1:
        skip = pytest.mark.skip(reason="spawns its own processes; runs in the serial pass")
        for item in items:
            if "serial" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _collective_teardown():
    """Collective destructors (PETSc objects) run together on every rank."""
    yield
    gc.collect()
    MPI.COMM_WORLD.barrier()


@pytest.fixture
def comm():
    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp(tmp_path_factory, comm):
    """A temporary directory that is the same path on every rank."""
    path = str(tmp_path_factory.mktemp("shared")) if comm.rank == 0 else None
    return Path(comm.bcast(path, root=0))


def solver_cmd(*args: str, np: int = 1) -> list[str]:
    cmd = [str(VENV_BIN / "solver"), *args]
    if np > 1:
        cmd = [str(VENV_BIN / "mpiexec"), "-n", str(np), *cmd]
    return cmd


def front_1d(params, *, cells: int = 256, xi0=None, metal: bool = False, mobility=None,
             **kwargs):
    """ElectrodepositionProblem on the 1D cell [0, 32 l] (l = params.interface_width) with
    the metal on the left: the equilibrium front 1/2 (1 - tanh((x - 16 l) / 2 l)), or
    ``xi0(x, l)``; the electrolyte boundary at 32 l, the metal boundary (phi held) at 0 if
    ``metal``; ``mobility`` a number (a Constant on the mesh); other keyword arguments go to
    ElectrodepositionProblem."""
    import dolfinx
    import numpy as np

    from solver.problems.electrodeposition import ElectrodepositionProblem

    l = params.interface_width
    L = 32 * l
    mesh = dolfinx.mesh.create_interval(MPI.COMM_WORLD, cells, [0.0, L])
    profile = xi0 or (lambda x, l: 0.5 * (1 - np.tanh((x[0] - 16 * l) / (2 * l))))
    if mobility is not None:
        kwargs["mobility"] = dolfinx.fem.Constant(mesh, mobility)
    return ElectrodepositionProblem(
        mesh, params, xi0=lambda x: profile(x, l), electrolyte=lambda x: np.isclose(x[0], L),
        metal=(lambda x: np.isclose(x[0], 0.0)) if metal else None, **kwargs)


def run_concurrently(cmds: dict, jobs: int = 2, timeout: float = 900) -> dict:
    """Run the serial CLI commands {name: argv} two at a time (CI and this machine have 2
    cores, shared with the other pytest worker of the serial pass; measured: the pass
    is still 1.6x faster than with one worker), in the order given (put the longest first);
    returns {name: subprocess.CompletedProcess}. For fixtures of serial tests."""
    from concurrent.futures import ThreadPoolExecutor

    def one(cmd):
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                              env=clean_env(), timeout=timeout)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {name: pool.submit(one, cmd) for name, cmd in cmds.items()}
        return {name: f.result() for name, f in futures.items()}


def clean_env() -> dict:
    env = dict(os.environ)
    for k in list(env):
        if k.startswith(("PMI_", "MPI_", "HYDRA_", "OMPI_")):
            del env[k]
    return env


def run_fracture(case, keep=False):
    """Step a fracture (M5) case in process on COMM_WORLD; returns (per-step metrics,
    the problem if ``keep`` else None: then it is destroyed)."""
    from solver.coupling.stepping import Clock, Stepper
    from solver.geometry import build_geometry
    from solver.materials import load_library, resolve_materials
    from solver.problems.fracture import FractureProblem

    mats = resolve_materials({k: v.model_dump(exclude_none=True)
                              for k, v in case.materials.items()}, load_library())
    geo = build_geometry(case, MPI.COMM_WORLD)
    prob = FractureProblem(case, geo, mats)
    rows = []
    Stepper(case.stepping, MPI.COMM_WORLD).run(
        prob, Clock(0, 0.0, case.stepping.dt0),
        lambda si: rows.append(prob.metrics()) or rows[-1])
    if keep:
        return rows, prob
    prob.destroy()
    return rows, None


def grain_damage_bands(d, geo, level: float = 0.3, min_cells: int = 25,
                       skip_pinned: bool = False) -> dict:
    """{grain tag: (band angle, plane angle, cells)} (angles in [0, pi); serial) for each
    oriented grain with at least ``min_cells`` cells whose mean damage (P1 ``d``) exceeds
    ``level``: the band runs normal to the top eigenvector of the structure tensor
    sum grad d grad d over those cells (the mean crack normal); the planes are normal to
    the grain's c-axis. ``skip_pinned`` leaves out cells with a vertex at d = 0 (e.g. on
    an unbreakable metal, whose edge would add the flaw's bottom as a band)."""
    import math

    import numpy as np

    import dolfinx
    import ufl

    mesh = geo.mesh
    n = mesh.topology.index_map(2).size_local
    cells = np.arange(n, dtype=np.int32)
    dv = d.x.array[d.function_space.dofmap.list[:n]]
    dcell = dv.mean(axis=1)
    if skip_pinned:
        dcell = np.where(dv.min(axis=1) > 0.0, dcell, 0.0)
    # damage gradient per cell (constant on a P1 triangle)
    grad = dolfinx.fem.Expression(ufl.grad(d), np.array([[1 / 3, 1 / 3]])).eval(
        mesh, cells).reshape(n, 2)
    tag = np.full(n, -1)
    own = geo.cell_tags.indices < n
    tag[geo.cell_tags.indices[own]] = geo.cell_tags.values[own]
    out = {}
    for t, theta in geo.orientation.items():
        sel = (tag == t) & (dcell > level)
        if sel.sum() < min_cells:
            continue
        _, v = np.linalg.eigh(grad[sel].T @ grad[sel])
        band = (math.atan2(v[1, -1], v[0, -1]) + math.pi / 2) % math.pi
        plane = (theta + math.pi / 2) % math.pi  # planes contain (-sin, cos)
        out[t] = (band, plane, int(sel.sum()))
    return out


def angle_gap(a: float, b: float) -> float:
    """Angle in degrees between two directions (radians, modulo pi)."""
    import math

    d = abs(a - b) % math.pi
    return math.degrees(min(d, math.pi - d))
