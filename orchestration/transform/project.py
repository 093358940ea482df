"""The dbt project as Dagster sees it: one cached DbtProject whose manifest is prepared once."""

from __future__ import annotations

import json
import os
import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


def _put_own_bin_on_path() -> None:
    """dagster-dbt looks for `dbt` on PATH; `.venv/bin/c360` is often run without activating the venv."""
    own_bin = str(Path(sys.executable).parent)
    if (Path(own_bin) / "dbt").exists() and own_bin not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = own_bin + os.pathsep + os.environ.get("PATH", "")


_put_own_bin_on_path()


# `C360_TARGET` (duckdb | spark) -> the dbt target of profiles.yml.
DBT_TARGETS = {"duckdb": "dev", "spark": "spark"}
# What a pipeline run's `dbt build` leaves out: unit tests check the SQL's logic on fixed rows, not the
# data, so they run in CI (dbt's advice for production runs). The benchmark builds the same way.
PRODUCTION_BUILD_FLAGS = ("--exclude-resource-type", "unit_test")


def engine() -> str:
    """The engine the warehouse is built on: `C360_TARGET`, default duckdb."""
    name = (os.environ.get("C360_TARGET") or "duckdb").strip().lower()
    if name not in DBT_TARGETS:
        raise ValueError(f"C360_TARGET must be one of {', '.join(DBT_TARGETS)}, got {name!r}")
    return name


def dbt_target() -> str:
    """The dbt target of the engine in use (Dagster's dbt resource and the manifest follow it)."""
    return DBT_TARGETS[engine()]


@cache
def dbt_project() -> DbtProject:
    """The project, with its manifest parsed once (never at every import).

    Under `dagster dev` the manifest is re-parsed at start so model edits show up; otherwise it is
    parsed only when missing (a fresh clone), and `c360 run` refreshes it before launching a run. Each
    engine has its own manifest (`target/`, `target/spark/`): materialisations differ between them.
    """
    target = dbt_target()
    project = DbtProject(
        project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=target,
        target_path=Path("target") if target == "dev" else Path("target") / target,
    )
    project.prepare_if_dev()
    if not project.manifest_path.exists():
        project.preparer.prepare(project)
    return project


def dbt_vars_args(as_of_date: str | None, reload_from_date: str | None = None) -> list[str]:
    """`--vars` for a dbt command of a run (none if neither is set). Every dbt command of one run, and the parse
    that starts it (refresh_manifest), must pass the same vars: dbt drops its whole partial parse when they
    differ and parses the project again (5-7 s)."""
    dbt_vars = {}
    if as_of_date:
        dbt_vars["as_of_date"] = as_of_date
    if reload_from_date:
        dbt_vars["reload_from_date"] = reload_from_date
    return ["--vars", json.dumps(dbt_vars, sort_keys=True)] if dbt_vars else []


def refresh_manifest(as_of_date: str | None = None, reload_from_date: str | None = None) -> Path:
    """Re-parse the project so the manifest matches the models on disk.

    Parsed with the vars the run's dbt invocations will use (and with DUCKDB_DATABASE already set), so
    each invocation starts from this partial parse instead of parsing the project again.
    """
    from dagster_dbt import DbtCliResource

    project = dbt_project()
    args = ["parse", "--quiet", *dbt_vars_args(as_of_date, reload_from_date)]
    DbtCliResource(project_dir=project).cli(
        args, target_path=project.project_dir / project.target_path, raise_on_error=True
    ).wait()
    return project.manifest_path


def reuse_latest_parse(target_path: Path, source: Path | None = None) -> None:
    """Give a dbt command's target folder the project's partial parse when that one is newer.

    `c360 run` parses the project once with the run's vars (refresh_manifest). dagster-dbt copies that parse
    only into a target folder without one, so the fixed folder of each step kept the parse of its previous run,
    made with another as-of date or another home's database: dbt then parsed the whole project again at every
    step (about 5 s each, six times a run). dbt checks the vars and files itself, so a copy that does not fit
    costs a full parse, as before. `source` defaults to the project's own parse.
    """
    if source is None:
        source = dbt_project().project_dir / dbt_project().target_path / "partial_parse.msgpack"
    target = target_path if target_path.is_absolute() else dbt_project().project_dir / target_path
    destination = target / "partial_parse.msgpack"
    if source.exists() and (not destination.exists() or destination.stat().st_mtime < source.stat().st_mtime):
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)
