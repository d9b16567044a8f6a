"""Seed 001 Fig. 4b (cohesive part) on the quick cases, 1 or 2 ranks.

What: the SEI film debonded over the first 10 nm and pushed open by the nucleating metal
(100 MPa Li, 59 MPa Na), the rest of the interface cohesive (cases/seed001_*_quick.yaml).
Against: the seed's conclusions: (1) at equal film thickness Li opens (delaminates)
further than Na, and (2) the nucleation length normalised by the thickness falls as the
film thickens, so Li needs a thicker film for the same suppression; (3) the equilibrium is
reached (status completed, every load step converged).
"""

from __future__ import annotations

import pytest
import yaml

import solver.compat  # noqa: F401

from solver.config import parse_case

from conftest import ROOT
from test_cohesive import _run


def _nucleation(metal: str, thickness: float) -> float:
    data = yaml.safe_load((ROOT / "cases" / f"seed001_{metal}_quick.yaml").read_text())
    data["geometry"]["coatings"][0]["thickness"] = thickness
    rows = _run(parse_case(data))
    assert rows[-1]["load_factor"] == pytest.approx(1.0)
    return rows[-1]["nucleation_length_m"]


def test_li_opens_further_than_na_and_thicker_films_suppress():
    t = [4e-9, 12e-9]
    li = [_nucleation("li", x) for x in t]
    na = [_nucleation("na", x) for x in t]
    for a, b in zip(li, na, strict=True):
        assert a > 1.5 * b > 0, (li, na)
    for s in (li, na):
        assert s[1] / t[1] < 0.5 * s[0] / t[0], (li, na)
