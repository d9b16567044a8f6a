#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment and install the solver with its
# pinned dependencies. Used by `make setup`, CI and the container recipes alike.
# Usage: scripts/setup.sh [VENV_DIR]   (default .venv)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$here/.venv}
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
  py=$("$here/scripts/find-python") || exit 1
  echo "setup: creating $venv with $py ($("$py" --version 2>&1))"
  rm -rf "$venv"
  "$py" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "pip>=24" 2>&1 | grep -v "^WARNING: Location" || true
"$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$here[dev]" 2>&1 | grep -v "^WARNING: Location" || true
# Verify the stack imports (pip's exit code is hidden by the filter above).
"$venv/bin/python" -c 'import solver.compat as c; c.check_stack()' || {
  echo "setup: the installed stack does not import; see the message above" >&2; exit 1; }
echo "setup: ok ($venv)"
