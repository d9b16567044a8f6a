"""The run directory (contract of DESIGN.md section 4).

    case.yaml      resolved case (defaults filled in)
    versions.json  software versions, ranks
    log.txt        rank-0 log
    fields/*.bp    VTX (ParaView), one file per element family
    history.csv    one row per step
    interface_stress.csv  stress along the metal/coating interface (elasticity)
    interface_concentration[_early].csv  c along the xi = 1/2 line (phase field: final,
                   and after the first step)
    metrics.json   flat JSON, SI units, written last and atomically
    figures/*.png
    checkpoint/    (run-lifecycle issue)

Only rank 0 writes text files; every method may be called on every rank.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
from pathlib import Path

import yaml

from solver.errors import SolverError


# The file that marks a directory as made by this solver (a run, or a sweep point).
MARKER = ".solver-run"
# What a fresh run removes from an earlier run's directory (nothing else is touched).
GENERATED = ("checkpoint/step-*", "checkpoint/.tmp-*", "checkpoint/latest", "fields/*.bp",
             "fields/regions.json", "figures/*.png", "history.csv", "interface_stress.csv",
             "interface_concentration.csv", "interface_concentration_early.csv",
             "metrics.json")


class OutputError(SolverError):
    """Writing the run directory failed (disk full, permissions)."""


def check_new_run_dir(path: Path, comm) -> None:
    """A fresh run may write into a new or empty directory, or over an earlier run's
    directory (it has the marker file); never into an unrelated non-empty one.
    Creates the directory. Raises CaseError on every rank."""
    from solver.errors import CaseError

    bad = None
    if comm.rank == 0:
        p = Path(path)
        if p.exists() and not p.is_dir():
            bad = f"-o {p}: is a file; give a directory"
        elif p.is_dir() and any(p.iterdir()) and not (p / MARKER).exists():
            bad = (f"-o {p}: exists, is not empty and is not a run directory; choose a new "
                   "or empty directory")
        else:
            try:
                p.mkdir(parents=True, exist_ok=True)
                (p / MARKER).touch()
            except OSError as e:
                bad = f"-o {p}: cannot create the output directory ({e.strerror})"
    bad = comm.bcast(bad, root=0)
    if bad:
        raise CaseError(bad)


class RunDirectory:
    def __init__(self, path: Path, comm, fresh: bool = True):
        """``fresh``: a new run (stale results and checkpoints of an earlier run in the same
        directory are removed); otherwise a restart that continues what is there."""
        self.path = Path(path)
        self.comm = comm
        self.rank0 = comm.rank == 0
        self._history_cols: list[str] | None = None
        def prepare():
            if fresh:
                for pattern in GENERATED:
                    for f in self.path.glob(pattern):
                        shutil.rmtree(f) if f.is_dir() else f.unlink()
            for sub in ("", "fields", "figures", "checkpoint"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            (self.path / MARKER).touch()
            (self.path / "metrics.json").unlink(missing_ok=True)

        self._root("preparing the run directory", prepare)

    def _root(self, what: str, fn) -> None:
        """Run ``fn`` on rank 0; an I/O error there becomes an OutputError on every rank
        (instead of an exception on rank 0 while the others wait in a collective)."""
        err = None
        if self.rank0:
            try:
                fn()
            except (OSError, ValueError) as e:
                err = f"{self.path}: {what} failed ({e})"
        err = self.comm.bcast(err, root=0)
        if err:
            raise OutputError(err)

    @property
    def fields(self) -> Path:
        return self.path / "fields"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def write_case(self, case_dict: dict) -> None:
        self._root("writing case.yaml", lambda: self._atomic_text(
            "case.yaml", yaml.safe_dump(case_dict, sort_keys=False)))

    def write_json(self, name: str, obj: dict) -> None:
        self._root(f"writing {name}", lambda: self._atomic_text(
            name, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n"))

    def start_history(self, columns: list[str]) -> None:
        self._history_cols = list(columns)

        def write():
            with open(self.path / "history.csv", "w", newline="") as f:
                csv.writer(f).writerow(columns)

        self._root("writing history.csv", write)

    def truncate_history(self, last_step: int) -> None:
        """Restart: keep the rows up to ``last_step`` (those after the checkpoint would be
        written again), so that no row is lost or duplicated."""
        cols = []

        def truncate():
            with open(self.path / "history.csv", newline="") as f:
                rows = list(csv.reader(f))
            if not rows or not rows[0] or rows[0][0] != "step":
                raise ValueError("history.csv has no header")
            cols.extend(rows[0])
            keep = [r for r in rows[1:] if r and int(r[0]) <= last_step]
            tmp = self.path / "history.csv.tmp"
            with open(tmp, "w", newline="") as f:
                csv.writer(f).writerows([cols, *keep])
            os.replace(tmp, self.path / "history.csv")

        self._root("reading history.csv for the restart", truncate)
        self._history_cols = self.comm.bcast(cols, root=0)

    def append_history(self, row: dict) -> None:
        assert self._history_cols is not None, "start_history first"

        def append():
            with open(self.path / "history.csv", "a", newline="") as f:
                csv.writer(f).writerow([_fmt(row.get(c, "")) for c in self._history_cols])

        self._root("appending to history.csv", append)

    def write_csv(self, name: str, header: list[str], rows) -> None:
        def write():
            tmp = self.path / (name + ".tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                for r in rows:
                    w.writerow([_fmt(v) for v in r])
            os.replace(tmp, self.path / name)

        self._root(f"writing {name}", write)

    def write_json_here(self, name: str, obj: dict) -> None:
        """Write from this rank alone, no collectives (for failures on one rank)."""
        self._atomic_text(name, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")

    def write_metrics(self, metrics: dict) -> None:
        """metrics.json last and atomically: a reader never sees a half-written file."""
        self.write_json("metrics.json", metrics)
        self.comm.barrier()

    def _atomic_text(self, name: str, text: str) -> None:
        tmp = self.path / (name + ".tmp")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path / name)


def _fmt(v):
    if isinstance(v, float):  # includes numpy floats
        return repr(float(v))
    return v


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "item"):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
