"""The code location loads the way the Dagster UI loads it: `dagster definitions validate` in the repository
root, with no -w (pyproject.toml's [tool.dagster] names the module), in a process of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_dagster_loads_the_code_location_from_pyproject(tmp_path):
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DAGSTER_", "DUCKDB_", "LANDING_"))}
    env.update(C360_HOME=str(tmp_path / "home"), DAGSTER_HOME=str(dagster_home))
    done = subprocess.run([str(Path(sys.executable).parent / "dagster"), "definitions", "validate"], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "Validation successful for code location customer360" in log
