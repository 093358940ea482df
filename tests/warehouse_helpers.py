"""Building a test warehouse from landing files and running dbt against it (shared by the dbt tests)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

import duckdb
import pytest

from orchestration.ingestion.entities import ENTITIES
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def build_warehouse(landing_root: Path, home: Path, days: Iterable[date] | None = None) -> Path:
    """Load the landing zone (all its export days, or `days`) into home's raw layer and return the
    warehouse with the raw views. Hand-written test files are clean: nothing may be quarantined."""
    raw_root = home / "lake" / "raw"
    con = connect(memory_limit="1GB", threads=1)
    try:
        for entity in ENTITIES:
            files, problems = scan_entity(landing_root, entity)
            assert not problems, problems
            if files:
                wanted = sorted({f.file_date for f in files}) if days is None else list(days)
                result = load_entity(con, entity, files, raw_root, wanted)
                assert result.rows_quarantined == 0, entity.name
    finally:
        con.close()
    database = home / "warehouse.duckdb"
    wh = duckdb.connect(str(database))
    try:
        create_raw_views(wh, raw_root)
    finally:
        wh.close()
    return database


def run_dbt(database: Path, work: Path, *args: str, project_dir: Path = DBT_PROJECT_DIR):
    """Invoke dbt in-process against `database`, with target and log folders under `work` (on the project, or a
    changed copy of it in `project_dir`)."""
    from dbt.cli.main import dbtRunner

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DUCKDB_DATABASE", str(database))
        mp.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
        return dbtRunner().invoke([
            *args,
            "--project-dir", str(project_dir),
            "--profiles-dir", str(project_dir),
            "--target-path", str(work / "target"),
            "--log-path", str(work / "logs"),
        ])
