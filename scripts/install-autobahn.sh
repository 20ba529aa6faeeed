#!/usr/bin/env bash
# The Autobahn TestSuite's `wstest`, for the WebSocket conformance test (tests/integration/test_autobahn.py),
# in a virtualenv of its own: .cache/autobahn/venv/bin/wstest. wstest is Python 2 code, so the virtualenv is
# made from pyenv's Python 2.7.18 (part of the machine image), and everything in it comes from PyPI at the
# versions pinned in scripts/autobahn-requirements.txt.
#
# Idempotent: a stamp records the interpreter and the requirement files it was built from; while they are
# unchanged a second run returns at once. Anything else rebuilds the virtualenv from scratch.
#
# Environment (optional):
#   AUTOBAHN_PYTHON=<python2.7>  default: $PYENV_ROOT/versions/2.7.18/bin/python2.7 (PYENV_ROOT: ~/.pyenv)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE_DIR="$REPO_ROOT/.cache/autobahn"
VENV="$CACHE_DIR/venv"
STAMP="$VENV/.installed"
REQUIREMENTS="$REPO_ROOT/scripts/autobahn-requirements.txt"
VIRTUALENV_REQUIREMENTS="$REPO_ROOT/scripts/autobahn-virtualenv-requirements.txt"
PYTHON2="${AUTOBAHN_PYTHON:-${PYENV_ROOT:-$HOME/.pyenv}/versions/2.7.18/bin/python2.7}"

if [ ! -x "$PYTHON2" ] || ! "$PYTHON2" -c 'import sys; sys.exit(sys.version_info[:2] != (2, 7))' 2>/dev/null; then
  echo "[autobahn] no Python 2.7 at $PYTHON2: wstest (the Autobahn TestSuite) is Python 2 code." >&2
  echo "[autobahn] Install it with 'pyenv install 2.7.18', or set AUTOBAHN_PYTHON to a python2.7." >&2
  exit 1
fi

wanted="$("$PYTHON2" -V 2>&1) $PYTHON2
$(cat "$VIRTUALENV_REQUIREMENTS" "$REQUIREMENTS" | sha256sum)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ] && [ -x "$VENV/bin/wstest" ]; then
  exit 0
fi

echo "[autobahn] building $VENV (wstest) from $PYTHON2"
rm -rf "$VENV" "$CACHE_DIR/virtualenv"
mkdir -p "$CACHE_DIR"
# Python 2.7 has no venv module. virtualenv goes into a directory of its own rather than into the
# machine's interpreter, which stays as the image left it.
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_PYTHON_VERSION_WARNING=1
"$PYTHON2" -m pip install -q --no-warn-script-location --target "$CACHE_DIR/virtualenv" \
  -r "$VIRTUALENV_REQUIREMENTS"
# The seed packages (pip, setuptools, wheel) are the ones bundled in virtualenv, not downloaded.
PYTHONPATH="$CACHE_DIR/virtualenv" "$PYTHON2" -m virtualenv -q --no-periodic-update \
  --app-data "$CACHE_DIR/virtualenv-app-data" "$VENV"
"$VENV/bin/pip" install -q -r "$REQUIREMENTS"
"$VENV/bin/wstest" --autobahnversion
printf '%s\n' "$wanted" > "$STAMP"
