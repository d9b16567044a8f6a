"""Shared by the benchmark scripts: how to call the solver CLI."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def solver_commands() -> tuple[list[str], list[str]]:
    """(serial, parallel) command prefixes of `python -m solver`: the parallel one runs on
    NP ranks (environment variable NP, default 1) with the venv's mpiexec."""
    cli = [sys.executable, "-m", "solver"]
    np_ = int(os.environ.get("NP", "1"))
    run = cli if np_ == 1 else [str(Path(sys.executable).parent / "mpiexec"), "-n",
                                str(np_)] + cli
    return cli, run


def save_figure(fig, path: Path, title: str) -> None:
    """Title, lay out and write a benchmark figure (150 dpi), and say where it went."""
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=150)
    print(f"figures: {path.parent}")
