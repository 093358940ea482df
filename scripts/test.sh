#!/usr/bin/env bash
# The README's test command: all set-up on a fresh Debian/Ubuntu machine, then the lint and the tests.
# System packages when missing (scripts/system-deps.sh), a venv with the locked versions (constraints.txt),
# ruff, pytest. Arguments go to pytest (`bash scripts/test.sh tests/test_cli.py -k version`).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/system-deps.sh
source scripts/system-deps.sh  # sourced: it may export JAVA_HOME
python3 -m venv .venv
.venv/bin/pip install -q -c constraints.txt -e '.[dev]'
.venv/bin/ruff check .
.venv/bin/pytest -q "$@"
