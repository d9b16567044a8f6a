"""Logging set-up, called by the CLI only (never at import time).

Rank 0 logs INFO to the terminal and to ``log.txt``; other ranks log ERROR and above to
the terminal, prefixed with their rank, so a failure on any rank is still seen.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOGGER = "solver"


class _RankFormatter(logging.Formatter):
    def __init__(self, rank: int, size: int):
        prefix = f"[rank {rank}] " if size > 1 and rank > 0 else ""
        super().__init__(prefix + "%(message)s")


def setup(rank: int, size: int, verbose: bool = False, logfile: Path | None = None) -> None:
    log = logging.getLogger(LOGGER)
    log.handlers.clear()
    log.propagate = False
    level = logging.DEBUG if verbose else logging.INFO
    log.setLevel(level)
    term = logging.StreamHandler(sys.stdout)
    term.setFormatter(_RankFormatter(rank, size))
    term.setLevel(level if rank == 0 else logging.ERROR)
    log.addHandler(term)
    if logfile is not None and rank == 0:
        add_logfile(logfile)


def add_logfile(path: Path) -> None:
    log = logging.getLogger(LOGGER)
    fh = logging.FileHandler(path, mode="a")
    fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    fh.setLevel(logging.DEBUG)
    log.addHandler(fh)


def close() -> None:
    log = logging.getLogger(LOGGER)
    for h in list(log.handlers):
        h.flush()
        if isinstance(h, logging.FileHandler):
            h.close()
            log.removeHandler(h)
