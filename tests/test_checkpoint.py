"""Checkpoints restart on any number of ranks.

What: solver.io.checkpoint (PETSc HDF5 viewer, cell-wise layout by original cell index).
Against: a P2 vector field interpolated from a closed-form expression on a generated coating
mesh; written on COMM_WORLD (1 or 2 ranks), read back on COMM_SELF (1 rank) and on
COMM_WORLD; values must equal the interpolant to round-off (1e-12 relative). A mesh that
differs from the written one is refused with a clear error.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import yaml

import solver.compat  # noqa: F401
import dolfinx
from mpi4py import MPI

from solver.config import parse_case
from solver.geometry import build_geometry
from solver.io import checkpoint

from conftest import ROOT

CASE = yaml.safe_load((ROOT / "cases" / "quick.yaml").read_text())


def _field(x):
    return np.vstack([np.sin(3e6 * x[0]) * x[1] * 1e6, np.cos(2e6 * x[1]) + x[0] * 1e5])


def _space(comm, data=CASE):
    geo = build_geometry(parse_case(copy.deepcopy(data)), comm)
    return dolfinx.fem.functionspace(geo.mesh, ("Lagrange", 2, (2,)))


def test_write_n_read_one_and_n(shared_tmp):
    """Written on all ranks, read on one rank and on all ranks: exact to round-off."""
    world = MPI.COMM_WORLD
    V = _space(world)
    u = dolfinx.fem.Function(V)
    u.interpolate(_field)
    path = checkpoint.write(shared_tmp / "ck", 5, {"u": u}, {"t": 0.5, "dt": 0.1}, world)
    assert checkpoint.latest(shared_tmp / "ck") == path
    for comm in (MPI.COMM_SELF, world):
        W = _space(comm)
        v = dolfinx.fem.Function(W)
        state = checkpoint.read(path, {"u": v}, comm)
        ref = dolfinx.fem.Function(W)
        ref.interpolate(_field)
        err = comm.allreduce(float(np.max(np.abs(v.x.array - ref.x.array))), op=MPI.MAX)
        assert err < 1e-12 * np.max(np.abs(ref.x.array))
        assert state["step"] == 5 and state["t"] == 0.5 and state["written_on_ranks"] == world.size


def test_keeps_only_recent_and_latest_is_atomic(shared_tmp):
    """Older checkpoints beyond `keep` are removed; `latest` names the newest complete one."""
    world = MPI.COMM_WORLD
    V = _space(world)
    u = dolfinx.fem.Function(V)
    for step in (1, 2, 3):
        checkpoint.write(shared_tmp / "ck2", step, {"u": u}, {"t": step, "dt": 1}, world, keep=2)
    if world.rank == 0:
        names = sorted(p.name for p in (shared_tmp / "ck2").iterdir() if p.is_dir())
        assert names == ["step-0000002", "step-0000003"]
    assert checkpoint.latest(shared_tmp / "ck2").name == "step-0000003"
    world.barrier()


def test_other_mesh_refused(shared_tmp):
    """Reading a checkpoint into a mesh of another case fails with CheckpointError."""
    world = MPI.COMM_WORLD
    u = dolfinx.fem.Function(_space(world))
    path = checkpoint.write(shared_tmp / "ck3", 1, {"u": u}, {"t": 1, "dt": 1}, world)
    other = copy.deepcopy(CASE)
    other["geometry"]["metal"]["thickness"] = 1.1e-6
    v = dolfinx.fem.Function(_space(world, other))
    with pytest.raises(checkpoint.CheckpointError):
        checkpoint.read(path, {"u": v}, world)
