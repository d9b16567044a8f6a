"""Run lifecycle: interrupted runs restart on another rank count with the same answer.

What: stepping (cut-back, failure), checkpoints, `solver run --restart`, SIGTERM handling.
Against: an uninterrupted run of the same case (metrics to 1e-8 relative; history.csv rows
unique and complete), and the contract of exit codes (75 interrupted, 3 solver failure).
"""

from __future__ import annotations

import csv
import json
import signal
import subprocess

import pytest
import yaml

from conftest import ROOT, clean_env, solver_cmd

pytestmark = pytest.mark.serial

BASE = ["--no-figures", "--set", "stepping.dt=0.25"]


def _run(*args, np_=1, code=0):
    r = subprocess.run(solver_cmd("run", *args, np=np_), capture_output=True, text=True,
                       cwd=ROOT, env=clean_env(), timeout=600)
    assert r.returncode == code, r.stdout + r.stderr
    return r


def _metrics(d):
    return json.loads((d / "metrics.json").read_text())


def _steps(d):
    return [int(r["step"]) for r in csv.DictReader(open(d / "history.csv"))]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    d = tmp_path_factory.mktemp("ref") / "run"
    _run("cases/quick.yaml", "-o", str(d), *BASE)
    return _metrics(d)


def _same(m, ref):
    for k in ("strain_energy_J", "max_von_mises_Pa", "interface_sigma_h_min_Pa"):
        assert m[k] == pytest.approx(ref[k], rel=1e-8), k
    assert m["n_steps"] == ref["n_steps"] == 4 and m["final_time_s"] == pytest.approx(1.0)


def test_sigterm_then_restart_on_two_ranks(tmp_path, reference):
    """SIGTERM after step 2 (1 rank): exit 75, checkpoint, status interrupted; restart on
    2 ranks finishes with the uninterrupted run's metrics and steps 1..4 once each."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), *BASE, "--set", "debug.signal_after_step=2",
             code=75)
    assert f"solver run --restart {d}" in r.stderr
    assert _metrics(d)["status"] == "interrupted"
    assert (d / "checkpoint" / "latest").read_text().strip() == "step-0000002"
    _run("--restart", str(d), np_=2)
    _same(_metrics(d), reference)
    assert _steps(d) == [1, 2, 3, 4]


def test_hard_kill_between_checkpoints_restart_on_one_rank(tmp_path, reference):
    """A hard exit after step 3 with checkpoints every 2 steps (2 ranks), like kill -9:
    restart on 1 rank from step 2; history row 3 is replaced, not duplicated."""
    d = tmp_path / "run"
    subprocess.run(solver_cmd("run", "cases/quick.yaml", "-o", str(d), *BASE, "--set",
                              "checkpoint.every_steps=2", "--set", "debug.abort_after_step=3",
                              np=2), capture_output=True, cwd=ROOT, env=clean_env(), timeout=600)
    assert not (d / "metrics.json").exists() or _metrics(d)["status"] != "completed"
    assert _steps(d) == [1, 2, 3]
    _run("--restart", str(d))
    _same(_metrics(d), reference)
    assert _steps(d) == [1, 2, 3, 4]


def test_external_sigterm_to_mpiexec(tmp_path):
    """A real SIGTERM to `mpiexec -n 2` (what Slurm does) stops all ranks after the current
    step with a checkpoint and exit code 75."""
    d = tmp_path / "run"
    p = subprocess.Popen(solver_cmd("run", "cases/quick.yaml", "-o", str(d), "--no-figures",
                                    "--set", "stepping.dt=0.02", np=2),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         cwd=ROOT, env=clean_env())
    for line in p.stdout:
        if line.startswith("step     2"):
            p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=300) == 75
    m = _metrics(d)
    assert m["status"] == "interrupted"
    last = int((d / "checkpoint" / "latest").read_text().strip().split("-")[1])
    assert _steps(d) == list(range(1, last + 1)) and last < 50


def test_cutback_recovers(tmp_path, reference):
    """An injected solver failure at step 2 cuts dt in half and the run completes at t=1."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), *BASE, "--set",
             "debug.inject_failure={step: 2, attempts: 1}")
    assert "cutting dt 0.25 -> 0.125" in r.stdout
    m = _metrics(d)
    assert m["status"] == "completed" and m["final_time_s"] == pytest.approx(1.0)
    rows = list(csv.DictReader(open(d / "history.csv")))
    assert rows[1]["attempts"] == "2" and float(rows[1]["dt"]) == 0.125
    assert m["strain_energy_J"] == pytest.approx(reference["strain_energy_J"], rel=1e-8)


def test_unrecoverable_failure_keeps_last_good_checkpoint(tmp_path):
    """A solve that always fails at step 2 stops after dt_min: exit 3, one-line error,
    status failed, and the checkpoint of step 1 (the last good state) is kept."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), *BASE, "--set",
             "debug.inject_failure={step: 2, attempts: -1}", code=3)
    err = r.stderr.strip().splitlines()
    assert len(err) == 1 and "dt_min" in err[0] and "checkpoint" in err[0]
    assert _metrics(d)["status"] == "failed"
    assert (d / "checkpoint" / "latest").read_text().strip() == "step-0000001"


def test_restart_of_completed_run_is_a_no_op(tmp_path):
    """--restart of a finished run changes nothing and exits 0."""
    d = tmp_path / "run"
    _run("cases/quick.yaml", "-o", str(d), *BASE)
    before = (d / "metrics.json").read_text(), (d / "history.csv").read_text()
    r = _run("--restart", str(d))
    assert "already completed" in r.stdout
    assert ((d / "metrics.json").read_text(), (d / "history.csv").read_text()) == before


def test_damaged_newest_checkpoint_falls_back(tmp_path, reference):
    """A truncated newest checkpoint (lost write) is skipped with a warning; the restart
    continues from the previous one and still reproduces the uninterrupted run."""
    d = tmp_path / "run"
    _run("cases/quick.yaml", "-o", str(d), *BASE, "--set", "debug.signal_after_step=3",
         code=75)
    h5 = d / "checkpoint" / "step-0000003" / "fields.h5"
    h5.write_bytes(h5.read_bytes()[:1000])
    r = _run("--restart", str(d))
    assert "unusable" in r.stdout and "step-0000002" in r.stdout
    _same(_metrics(d), reference)
    assert _steps(d) == [1, 2, 3, 4]


def test_max_steps_is_not_completed(tmp_path):
    """Stopping at stepping.max_steps before the end is not a completed run: exit 3, one
    line naming max_steps, status incomplete, final time 0.5; `--restart --set
    stepping.max_steps=10` finishes it (a physics key is refused on restart)."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), *BASE, "--set", "stepping.max_steps=2", code=3)
    assert "max_steps=2" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    m = _metrics(d)
    assert m["status"] == "incomplete" and m["final_time_s"] == pytest.approx(0.5)
    # the run continues once max_steps is raised; physics keys cannot change on a restart
    _run("--restart", str(d), "--set", "geometry.width=3e-6", code=2)
    _run("--restart", str(d), "--set", "stepping.max_steps=10")
    assert _metrics(d)["status"] == "completed" and _steps(d) == [1, 2, 3, 4]


def test_singular_problem_fails_fast_with_hint(tmp_path):
    """Supports that leave a rigid-body motion free (only a roller on the left: nothing fixes
    y) are refused before meshing, with the free direction named (exit 2)."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), "--set",
             "physics.elasticity.boundary_conditions=[{type: roller, boundary: left},"
             "{type: pressure, boundary: top, value: 1e6}]", code=2)
    assert "nothing fixes the y displacement" in r.stderr


def test_bad_petsc_option_is_one_line(tmp_path):
    """An invalid PETSc option value names the case key, exit 2, no PETSc stack dump."""
    d = tmp_path / "run"
    r = _run("cases/quick.yaml", "-o", str(d), "--no-figures", "--set",
             "physics.elasticity.solver.petsc_options={ksp_type: nonsense}", code=2)
    err = r.stderr.strip().splitlines()
    assert err[-1].startswith("error: physics.elasticity.solver.petsc_options"), r.stderr


def test_restart_fingerprint_ignores_defaults_and_run_controls(tmp_path):
    """The case fingerprint a restart must match (solver.run.case_fingerprint): a key
    written out at its default value, or a changed run control (stepping, checkpoint,
    output), leaves it unchanged, so checkpoints survive new options that default to the
    old behaviour; a physics change alters it, and `--restart` with such a change is
    refused with a one-line error (exit 2)."""
    from solver.config import load_case
    from solver.run import case_fingerprint, fingerprint_data

    path = ROOT / "cases" / "hong2018_quick.yaml"
    base = case_fingerprint(load_case(path))
    key = "physics.electrodeposition.solver"
    data = fingerprint_data(load_case(path))
    assert "bounds" not in data["physics"]["electrodeposition"].get("solver", {})
    assert "stepping" not in data and "checkpoint" not in data
    on = fingerprint_data(load_case(path, [f"{key}.bounds=true"]))
    assert on["physics"]["electrodeposition"]["solver"]["bounds"] is True
    assert case_fingerprint(load_case(path, [f"{key}.bounds=false"])) == base
    assert case_fingerprint(load_case(path, ["stepping.end=0.3"])) == base
    assert case_fingerprint(load_case(path, [f"{key}.bounds=true"])) != base

    d = tmp_path / "run"
    _run("cases/quick.yaml", "-o", str(d), *BASE, "--set", "stepping.end=0.5")
    case = d / "case.yaml"
    data = yaml.safe_load(case.read_text())
    data["physics"]["elasticity"]["eigenstrain"][0]["value"] = 0.01  # edited after the run
    case.write_text(yaml.safe_dump(data))
    r = _run("--restart", str(d), "--set", "stepping.end=1.0", code=2)  # continue it
    out = r.stdout + r.stderr
    assert "differs from the case the checkpoint was written with" in out, out
    assert "Traceback" not in out
