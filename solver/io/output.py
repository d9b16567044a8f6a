"""The run directory (contract of DESIGN.md section 4).

    case.yaml      resolved case (defaults filled in)
    versions.json  software versions, ranks
    log.txt        rank-0 log
    fields/*.bp    VTX (ParaView), one file per element family
    history.csv    one row per step
    interface_stress.csv  stress along the metal/coating interface (elasticity)
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


# files that mark a run directory (stdout.txt: a sweep point about to start)
RUN_MARKERS = ("case.yaml", "metrics.json", "history.csv", "log.txt", "stdout.txt")


def check_new_run_dir(path: Path, comm) -> None:
    """A fresh run may write into a new or empty directory, or over an earlier run's
    directory; never into an unrelated non-empty one (whose files it would mix with or
    remove). Raises CaseError on every rank."""
    from solver.errors import CaseError

    bad = None
    if comm.rank == 0:
        p = Path(path)
        if p.exists() and not p.is_dir():
            bad = f"-o {p}: is a file; give a directory"
        elif p.is_dir() and any(p.iterdir()) and not any((p / m).exists() for m in RUN_MARKERS):
            bad = (f"-o {p}: exists, is not empty and is not a run directory; choose a new "
                   "or empty directory")
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
        if self.rank0:
            if fresh:
                for sub in ("checkpoint", "fields", "figures"):
                    shutil.rmtree(self.path / sub, ignore_errors=True)
                for f in ("history.csv", "interface_stress.csv"):
                    (self.path / f).unlink(missing_ok=True)
            for sub in ("", "fields", "figures", "checkpoint"):
                (self.path / sub).mkdir(parents=True, exist_ok=True)
            (self.path / "metrics.json").unlink(missing_ok=True)
        comm.barrier()

    @property
    def fields(self) -> Path:
        return self.path / "fields"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    def write_case(self, case_dict: dict) -> None:
        if self.rank0:
            self._atomic_text("case.yaml", yaml.safe_dump(case_dict, sort_keys=False))

    def write_json(self, name: str, obj: dict) -> None:
        if self.rank0:
            self._atomic_text(name, json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n")

    def start_history(self, columns: list[str]) -> None:
        self._history_cols = list(columns)
        if self.rank0:
            with open(self.path / "history.csv", "w", newline="") as f:
                csv.writer(f).writerow(columns)

    def truncate_history(self, last_step: int) -> None:
        """Restart: keep the rows up to ``last_step`` (those after the checkpoint would be
        written again), so that no row is lost or duplicated."""
        cols = None
        if self.rank0:
            with open(self.path / "history.csv", newline="") as f:
                rows = list(csv.reader(f))
            cols = rows[0]
            keep = [r for r in rows[1:] if r and int(r[0]) <= last_step]
            tmp = self.path / "history.csv.tmp"
            with open(tmp, "w", newline="") as f:
                csv.writer(f).writerows([cols, *keep])
            os.replace(tmp, self.path / "history.csv")
        self._history_cols = self.comm.bcast(cols, root=0)

    def append_history(self, row: dict) -> None:
        assert self._history_cols is not None, "start_history first"
        if self.rank0:
            with open(self.path / "history.csv", "a", newline="") as f:
                csv.writer(f).writerow([_fmt(row.get(c, "")) for c in self._history_cols])

    def write_csv(self, name: str, header: list[str], rows) -> None:
        if self.rank0:
            tmp = self.path / (name + ".tmp")
            with open(tmp, "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                for r in rows:
                    w.writerow([_fmt(v) for v in r])
            os.replace(tmp, self.path / name)

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
