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
log=$(mktemp)
trap 'rm -f "$log"' EXIT
pip_install() {  # quiet on success; the whole pip log on failure
  if ! "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
    grep -v "^WARNING: Location" "$log" >&2
    echo "setup: 'pip install $*' failed (see above); nothing was changed in the stamp" >&2
    exit 1
  fi
}
pip_install --upgrade "pip>=24"
pip_install -e "$here[dev]"
"$venv/bin/python" -c 'import solver.compat as c; c.check_stack()' || {
  echo "setup: the installed stack does not import; see the message above" >&2; exit 1; }
echo "setup: ok ($venv)"
