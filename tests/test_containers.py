"""Container recipes install what CI installs (no container engine exists here to build them).

What: containers/Dockerfile and containers/solver.def.
Against: the set-up contract: they run scripts/setup.sh (the script `make setup` and CI
run, with pyproject's pins), on Python 3.12, as a non-root user (Docker), with a writable
JIT cache and `solver` as the entry point; the build context excludes the local venv.
"""

from __future__ import annotations

import re

from conftest import ROOT

DOCKER = (ROOT / "containers" / "Dockerfile").read_text()
DEF = (ROOT / "containers" / "solver.def").read_text()


def _instructions(text: str) -> list[tuple[str, str]]:
    joined = re.sub(r"\\\n", " ", text)
    out = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            op, _, rest = line.partition(" ")
            out.append((op.upper(), rest.strip()))
    return out


def test_dockerfile_uses_setup_script_nonroot_entrypoint():
    """Dockerfile: FROM python 3.12, RUN scripts/setup.sh, USER non-root, ENTRYPOINT solver,
    writable XDG_CACHE_HOME."""
    ins = _instructions(DOCKER)
    ops = [o for o, _ in ins]
    assert ins[0][0] == "FROM" and "python:3.12" in ins[0][1]
    runs = " ".join(r for o, r in ins if o == "RUN")
    assert "scripts/setup.sh" in runs and "PYTHON=/usr/local/bin/python3.12" in runs
    user = [r for o, r in ins if o == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert ops.index("USER") > max(i for i, o in enumerate(ops) if o == "RUN")
    assert any(o == "ENTRYPOINT" and '"solver"' in r for o, r in ins)
    assert any(o == "ENV" and "XDG_CACHE_HOME=" in r for o, r in ins)
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignore and "runs" in ignore


def test_apptainer_def_uses_setup_script_and_runscript():
    """Apptainer: same base and set-up script, solver as runscript, writable cache."""
    assert re.search(r"^From:\s*python:3\.12", DEF, re.M)
    post = DEF.split("%post", 1)[1].split("%environment", 1)[0]
    assert "scripts/setup.sh" in post
    env = DEF.split("%environment", 1)[1].split("%runscript", 1)[0]
    assert "XDG_CACHE_HOME" in env and ".venv/bin" in env
    assert 'exec solver "$@"' in DEF.split("%runscript", 1)[1]


def test_setup_script_installs_the_pinned_project():
    """scripts/setup.sh installs this project (with its pinned dependencies) and checks the
    stack imports; pyproject pins every runtime dependency exactly."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    assert "pip install" in setup and '-e "$here[dev]"' in setup and "check_stack" in setup
    pyproject = (ROOT / "pyproject.toml").read_text()
    deps = re.search(r"dependencies = \[(.*?)\]", pyproject, re.S).group(1)
    for line in re.findall(r'"([^"]+)"', deps):
        assert "==" in line, line
