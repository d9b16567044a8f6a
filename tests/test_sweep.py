"""Parameter sweeps: `solver sweep` runs the product of values, validates first, resumes.

What: solver/sweep.py (parsing, product, directory names, resume decisions, summary) and the
`solver sweep` command, with points as subprocesses (--jobs) and in-process under mpiexec.
Against: hand-computed expectations for the pure helpers; for the command, the sweep contract
(one completed run directory per point, summary.csv, sweep.json, the figure), metrics.json
modification times (a rerun does no work), physics (more stack pressure and a thicker misfit
SEI both store more strain energy, the latter about in proportion to the thickness), the
uninterrupted points' metrics (a resumed point ends with the same ones to 1e-8), and the
subprocess sweep's 1-rank points vs an in-process sweep on 2 ranks (1e-6 relative).
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from solver.config import parse_case
from solver.errors import CaseError
from solver.sweep import (Param, expand, labels, parse_param, parse_params,
                          point_action, point_name, summary_rows, use_log_x, validate)

from conftest import ROOT, clean_env, solver_cmd

pytestmark = pytest.mark.serial

T = "geometry.coatings[0].thickness"
P = "physics.elasticity.boundary_conditions[3].value"  # stack pressure on top (Pa)
FAST = ["--set", "stepping.dt=0.5", "--set", "output.figures=false",
        "--set", "output.fields=false"]
SWEEP = ["sweep", "cases/quick.yaml", "--param", f"{T}=2e-8,3e-8", "--param", f"{P}=1e6,2e6",
         *FAST, "--jobs", "2"]
NAMES = ["p000_thickness=2e-08_value=1000000.0", "p001_thickness=2e-08_value=2000000.0",
         "p002_thickness=3e-08_value=1000000.0", "p003_thickness=3e-08_value=2000000.0"]


def _sweep(*args, np_=1, code=0):
    r = subprocess.run(solver_cmd(*args, np=np_), capture_output=True, text=True, cwd=ROOT,
                       env=clean_env(), timeout=300)
    assert r.returncode == code, r.stdout + r.stderr
    return r


def _metrics(d):
    return json.loads((d / "metrics.json").read_text())


def _summary(d):
    return list(csv.DictReader(open(d / "summary.csv")))


def _steps(d):
    return [int(r["step"]) for r in csv.DictReader(open(d / "history.csv"))]


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "s"
    r = _sweep(*SWEEP, "-o", str(out))
    return out, r


# ------------------------------------------------------------------ pure helpers


def test_parse_param_values_and_key():
    """--param values are YAML scalars (1e6 without a dot is a number too); a.b.0.c and
    a.b[0].c are the same key; the texts are kept as written for --set."""
    p = parse_param("geometry.coatings.0.thickness=2e-8, 3.0e-8 ,1e6")
    assert p.key == T and p.texts == ("2e-8", "3.0e-8", "1e6")
    assert p.values == (2e-8, 3e-8, 1e6) and all(isinstance(v, float) for v in p.values)
    q = parse_param("a.b=3,true,Li,null")
    assert q.values == (3, True, "Li", None) and isinstance(q.values[0], int)


@pytest.mark.parametrize("text,msg", [
    ("geometry.metal.thickness", "expected KEY=V1,V2"),
    ("geometry.metal.thickness=", "no values"),
    ("geometry.metal.thickness=1e-6,,2e-6", "empty value"),
    ("geometry.metal.thickness=1e-6,", "lists inside values are not supported"),
    ("=1,2", "empty key"),
    ("geometry.metal.thickness=1e-6,1.0e-6", "given twice"),
])
def test_parse_param_rejects(text, msg):
    """Malformed --param: one-line CaseError naming the --param as written."""
    with pytest.raises(CaseError) as e:
        parse_param(text)
    assert str(e.value).startswith(f"--param {text}:") and msg in str(e.value)


def test_parse_params_rejects_duplicates_and_set_conflicts():
    """A key swept twice (in either spelling), a key also given with --set, and no --param
    at all are rejected."""
    with pytest.raises(CaseError, match="already swept"):
        parse_params([f"{T}=1e-8", "geometry.coatings.0.thickness=2e-8"])
    with pytest.raises(CaseError, match="also swept"):
        parse_params([f"{T}=1e-8"], ["geometry.coatings.0.thickness=3e-8"])
    with pytest.raises(CaseError, match="at least one --param"):
        parse_params([])


def test_expand_is_the_full_product_with_stable_names():
    """2 x 3 values give 6 points, the last --param fastest; directory names are built from
    the last key component and the canonical value, and are the same every time."""
    params = parse_params([f"{T}=4e-9,8e-9", "stepping.dt=0.25,0.5,1"])
    pts = expand(params)
    assert [pt.name for pt in pts] == [
        "p000_thickness=4e-09_dt=0.25", "p001_thickness=4e-09_dt=0.5",
        "p002_thickness=4e-09_dt=1", "p003_thickness=8e-09_dt=0.25",
        "p004_thickness=8e-09_dt=0.5", "p005_thickness=8e-09_dt=1"]
    assert pts[4].values == {T: 8e-9, "stepping.dt": 0.5}
    assert pts[4].overrides == [f"{T}=8e-9", "stepping.dt=0.5"]
    assert [pt.name for pt in expand(params)] == [pt.name for pt in pts]


def test_names_are_unique_and_filesystem_safe():
    """Keys with the same last component get longer labels; unsafe characters become '_';
    over-long names are cut to 100 characters with a hash that keeps them distinct."""
    params = [parse_param("geometry.metal.thickness=1e-6"), parse_param(f"{T}=1e-8")]
    assert labels(params) == ["metal.thickness", "coatings.0.thickness"]
    p = parse_param("materials.x.note=a/b c:d*e")
    assert point_name(0, 1, [p], ("a/b c:d*e",)) == "p000_note=a_b_c_d_e"
    long = [Param(f"k{i}", ("1",), (1.0 / 3,)) for i in range(8)]
    n1 = point_name(0, 2, long, tuple([1.0 / 3] * 8))
    n2 = point_name(1, 2, long, tuple([1.0 / 3] * 8))
    assert len(n1) <= 100 and n1 != n2 and n1 == point_name(0, 2, long, tuple([1.0 / 3] * 8))


def test_validate_names_the_param():
    """A value the schema rejects fails before anything runs, naming the --param and value
    (the format of the issue); a combination no single key is blamed for names the point."""
    params = parse_params([f"{T}=2e-8,-1", f"{P}=1e6,2e6"])
    with pytest.raises(CaseError) as e:
        validate(ROOT / "cases/quick.yaml", [], params, expand(params))
    assert str(e.value).startswith(
        f"--param {T}=-1: {T}: Input should be greater than 0 (got -1)"), e.value
    params = parse_params(["geometry.coatings[3].thickness=1e-8"])
    with pytest.raises(CaseError, match=r"^--param geometry.coatings\[3\].thickness=1e-8: "):
        validate(ROOT / "cases/quick.yaml", [], params, expand(params))


def _fake_point(d, status=None, checkpoint=False, thickness=2e-8):
    case = copy.deepcopy(yaml.safe_load((ROOT / "cases/quick.yaml").read_text()))
    case["geometry"]["coatings"][0]["thickness"] = thickness
    resolved = parse_case(case).model_dump(mode="json")
    d.mkdir(parents=True)
    (d / "case.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    if status:
        (d / "metrics.json").write_text(json.dumps({"status": status}))
    if checkpoint:
        (d / "checkpoint" / "step-0000001").mkdir(parents=True)
        (d / "checkpoint" / "step-0000001" / "state.json").write_text("{}")
        (d / "checkpoint" / "latest").write_text("step-0000001\n")
    return resolved


def test_point_action(tmp_path):
    """Resume rules: completed (same resolved case) -> skip; interrupted or killed hard
    (running / no metrics.json) with a checkpoint -> restart; completed with another case,
    interrupted without checkpoint, failed, or nothing to continue from -> fresh."""
    assert point_action(tmp_path / "none")[0] == "fresh"
    expect = _fake_point(tmp_path / "done", "completed")
    assert point_action(tmp_path / "done", expect) == ("skip", "completed")
    assert point_action(tmp_path / "done", {**expect, "name": "other"})[0] == "fresh"
    e = _fake_point(tmp_path / "int", "interrupted", checkpoint=True)
    assert point_action(tmp_path / "int", e)[0] == "restart"
    e = _fake_point(tmp_path / "int0", "interrupted")
    assert point_action(tmp_path / "int0", e)[0] == "fresh"
    e = _fake_point(tmp_path / "sfailed", "failed", checkpoint=True)
    assert point_action(tmp_path / "sfailed", e)[0] == "fresh"
    for st in ("running", None):
        e = _fake_point(tmp_path / f"k{st}", st, checkpoint=True)
        assert point_action(tmp_path / f"k{st}", e)[0] == "restart", st
        e = _fake_point(tmp_path / f"n{st}", st)
        assert point_action(tmp_path / f"n{st}", e)[0] == "fresh", st


def test_summary_columns_and_log_axis():
    """summary.csv columns: point, dir, swept keys, status, then the sorted union of scalar
    metrics (lists left out), empty where a point lacks one; log x only for positive values
    spanning more than 10x."""
    params = parse_params([f"{T}=1e-8,2e-8"])
    a, b = expand(params)
    a.status, a.metrics = "completed", {"status": "completed", "b_J": 1.0, "v": [1, 2]}
    b.status, b.metrics, b.error = "failed", {"status": "failed", "a_m": 2.0}, "boom"
    header, rows = summary_rows(params, [a, b])
    assert header == ["point", "dir", T, "status", "a_m", "b_J", "error"]
    assert rows[0] == [0, a.name, "1e-08", "completed", "", "1.0", ""]
    assert rows[1] == [1, b.name, "2e-08", "failed", "2.0", "", "boom"]
    assert not use_log_x([4e-9, 2e-8]) and use_log_x([1e-9, 1e-7])
    assert not use_log_x([-1.0, 100.0]) and not use_log_x([0.0, 1.0])


# ------------------------------------------------------------------ the command


def test_sweep_runs_every_point(swept):
    """A 2 x 2 sweep (--jobs 2) writes four completed points, summary.csv (4 rows, swept
    columns, metrics), sweep.json and the figure; more pressure and a thicker SEI store more
    strain energy (the SEI misfit energy about in proportion to its thickness, 3/2)."""
    out, r = swept
    assert sorted(p.name for p in out.glob("p*")) == NAMES
    m = {n: _metrics(out / n) for n in NAMES}
    assert all(v["status"] == "completed" and v["n_steps"] == 2 for v in m.values())
    rows = _summary(out)
    assert [r_["dir"] for r_ in rows] == NAMES
    assert {T, P, "status", "strain_energy_J", "max_von_mises_Pa"} <= set(rows[0])
    assert [(float(r_[T]), float(r_[P])) for r_ in rows] == [
        (2e-8, 1e6), (2e-8, 2e6), (3e-8, 1e6), (3e-8, 2e6)]
    assert float(rows[3]["strain_energy_J"]) == m[NAMES[3]]["strain_energy_J"]
    png = out / "figures" / "sweep_max_von_mises_Pa.png"
    assert png.read_bytes()[:4] == b"\x89PNG"
    d = json.loads((out / "sweep.json").read_text())
    assert [p["key"] for p in d["params"]] == [T, P] and len(d["points"]) == 4
    e = [m[n]["strain_energy_J"] for n in NAMES]
    assert e[1] > e[0] and e[3] > e[2]  # stack pressure 2 MPa > 1 MPa
    assert 1.3 < e[2] / e[0] < 1.6 and 1.3 < e[3] / e[1] < 1.6  # 30 nm vs 20 nm SEI
    assert "4 ran, 0 restarted, 0 skipped" in r.stdout
    assert all(n in r.stdout for n in NAMES)  # the status table


def test_rerun_does_no_work(swept):
    """The same command again skips all four points: metrics.json files are untouched."""
    out, _ = swept
    before = {n: (out / n / "metrics.json").stat().st_mtime_ns for n in NAMES}
    r = _sweep(*SWEEP, "-o", str(out))
    assert "0 ran, 0 restarted, 4 skipped" in r.stdout
    assert {n: (out / n / "metrics.json").stat().st_mtime_ns for n in NAMES} == before


def test_killed_sweep_resumes(swept, tmp_path):
    """A point killed hard (no metrics.json, checkpoints left) and a point left interrupted
    after step 1 both continue from their checkpoints; the other two are not touched; both
    end with the metrics of the uninterrupted sweep (1e-8) and history steps 1, 2 once each."""
    out = tmp_path / "s"
    shutil.copytree(swept[0], out)
    ref = {n: _metrics(out / n) for n in NAMES}
    (out / NAMES[0] / "metrics.json").unlink()
    d3 = out / NAMES[3]
    (d3 / "metrics.json").write_text(json.dumps({**ref[NAMES[3]], "status": "interrupted"}))
    (d3 / "checkpoint" / "latest").write_text("step-0000001\n")  # as if killed after step 1
    kept = {n: (out / n / "metrics.json").stat().st_mtime_ns for n in NAMES[1:3]}
    r = _sweep(*SWEEP, "-o", str(out))
    assert "0 ran, 2 restarted, 2 skipped" in r.stdout, r.stdout
    assert {n: (out / n / "metrics.json").stat().st_mtime_ns for n in NAMES[1:3]} == kept
    assert "restarted from" in (d3 / "stdout.txt").read_text()
    for n in (NAMES[0], NAMES[3]):
        m = _metrics(out / n)
        assert m["status"] == "completed" and _steps(out / n) == [1, 2]
        for k in ("strain_energy_J", "max_von_mises_Pa", "interface_sigma_h_min_Pa"):
            assert m[k] == pytest.approx(ref[n][k], rel=1e-8), (n, k)


@pytest.mark.parametrize("args,text", [
    (["--param", f"{T}=2e-8,-1"], f"--param {T}=-1: {T}: Input should be greater than 0"),
    (["--param", f"{T}=2e-8", "--param", "geometry.metal.thicknes=1e-6"],
     "--param geometry.metal.thicknes=1e-6: geometry.metal.thicknes: unknown key"),
    (["--param", T], f"--param {T}: expected KEY=V1,V2"),
    (["--param", f"{T}=2e-8", "--jobs", "0"], "--jobs 0: must be >= 1"),
])
def test_bad_sweep_rejected_before_any_point(tmp_path, args, text):
    """Bad values, malformed --param and --jobs < 1: exit 2, one line naming the option, and
    no sweep or point directory created."""
    out = tmp_path / "s"
    r = _sweep("sweep", "cases/quick.yaml", *args, "-o", str(out), code=2)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {text}"), r.stderr
    assert not out.exists()


def test_failed_point_does_not_stop_the_others(tmp_path):
    """A point whose solve always fails: the other completes, exit 3 with one line naming
    the failed point, summary.csv has both rows with status and error; a rerun runs the
    failed point again (and only it)."""
    out = tmp_path / "s"
    args = ["sweep", "cases/quick.yaml", "--param", "debug.inject_failure.attempts=0,-1",
            "--set", "debug.inject_failure.step=1", *FAST, "--jobs", "2", "-o", str(out)]
    r = _sweep(*args, code=3)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "p001_attempts=-1 (failed)" in err[0] and "p000" not in err[0]
    rows = _summary(out)
    assert [r_["status"] for r_ in rows] == ["completed", "failed"]
    assert "injected failure" in rows[1]["error"] and rows[0]["strain_energy_J"]
    r = _sweep(*args, code=3)
    assert "1 ran, 0 restarted, 1 skipped" in r.stdout


def test_sigterm_stops_and_resumes(tmp_path):
    """SIGTERM to the sweep is passed on to its running point, which checkpoints: exit 75,
    status interrupted; the same command then continues it to the end (steps 1..10 once)."""
    out = tmp_path / "s"
    args = ["sweep", "cases/quick.yaml", "--param", f"{T}=2e-8", *FAST, "--set",
            "stepping.dt=0.1", "-o", str(out)]
    p = subprocess.Popen(solver_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, cwd=ROOT, env=clean_env())
    log = out / "p000_thickness=2e-08" / "stdout.txt"
    t0 = time.time()
    while not (log.exists() and "step     1" in log.read_text()):
        assert p.poll() is None and time.time() - t0 < 120
        time.sleep(0.05)
    p.send_signal(signal.SIGTERM)
    stdout, stderr = p.communicate(timeout=120)
    assert p.returncode == 75, stdout + stderr
    assert "rerun the same command" in stderr
    assert _summary(out)[0]["status"] == "interrupted"
    r = _sweep(*args)
    assert "0 ran, 1 restarted" in r.stdout
    assert _steps(out / "p000_thickness=2e-08") == list(range(1, 11))


def test_in_process_sweep_on_two_ranks(swept, tmp_path):
    """Under mpiexec -n 2 the points run in-process on both ranks (n_ranks 2, log.txt per
    point) and agree with the 1-rank subprocess points to 1e-6; --jobs 2 is refused there."""
    out = tmp_path / "s"
    r = _sweep("sweep", "cases/quick.yaml", "--param", f"{T}=2e-8,3e-8", *FAST, "-o",
               str(out), np_=2)
    assert "in-process on 2 ranks" in r.stdout and "[rank 1]" not in r.stdout
    for name, ref in (("p000_thickness=2e-08", NAMES[0]), ("p001_thickness=3e-08", NAMES[2])):
        m, m1 = _metrics(out / name), _metrics(swept[0] / ref)
        assert m["n_ranks"] == 2 and (out / name / "log.txt").exists()
        for k in ("strain_energy_J", "max_von_mises_Pa"):
            assert m[k] == pytest.approx(m1[k], rel=1e-6), k
    r = _sweep("sweep", "cases/quick.yaml", "--param", f"{T}=2e-8", "--jobs", "2", "-o",
               str(tmp_path / "j"), np_=2, code=2)
    assert r.stderr.startswith("error: --jobs 2: under mpirun")
