"""Helpers of the quality tests: the session warehouse, per-test copies of it, an auditor over a copy."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
from warehouse_helpers import run_dbt

from orchestration.ingestion.entities import ENTITIES
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views
from orchestration.quality.audit import Auditor, AuditRun, duckdb_connector
from orchestration.quality.config import AuditConfig
from orchestration.settings import Settings

END = date(2026, 10, 31)
DAYS = 120


@dataclass(frozen=True)
class Built:
    """The session's warehouse: its C360_HOME, the dbt manifest it was built with, the export dates."""

    home: Path
    manifest: Path
    days: list[date]

    @property
    def database(self) -> Path:
        """The warehouse file."""
        return self.home / "warehouse.duckdb"


@dataclass
class Workspace:
    """A test's own copy of the warehouse (and of the lake when asked), with an auditor over it."""

    settings: Settings
    manifest: Path
    days: list[date]
    config: AuditConfig

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A read-write connection to the copy (close it before auditing)."""
        return duckdb.connect(str(self.settings.duckdb_database))

    def sql(self, statement: str, params: list | None = None) -> list[tuple]:
        """Run one statement on the copy and return its rows."""
        with self.connect() as con:
            return con.execute(statement, params or []).fetchall()

    def auditor(self, config: AuditConfig | None = None, manifest: Path | None = None) -> Auditor:
        """An auditor of the copy."""
        return Auditor(self.settings, duckdb_connector(self.settings.duckdb_database), config or self.config,
                       manifest or self.manifest)

    def run(self, run_id: str = "run-1", days: list[date] | None = None) -> AuditRun:
        """A run pinned to the warehouse's as-of date, loading `days` (default: every export date)."""
        return AuditRun(run_id, END, days if days is not None else self.days)


def _ingest(landing: Path, home: Path) -> list[date]:
    """Load every export date of the landing zone into home's lake and create the raw views."""
    raw_root = home / "lake" / "raw"
    con = connect(memory_limit="1GB", threads=1)
    days: set[date] = set()
    try:
        for entity in ENTITIES:
            files, problems = scan_entity(landing, entity)
            assert not problems, problems
            if files:
                wanted = sorted({f.file_date for f in files})
                days |= set(wanted)
                load_entity(con, entity, files, raw_root, wanted)
    finally:
        con.close()
    with duckdb.connect(str(home / "warehouse.duckdb")) as wh:
        create_raw_views(wh, raw_root)
    return sorted(days)


def build_session_warehouse(root: Path) -> Built:
    """generate --tier tiny --days 120, ingest, then dbt (seeds and the models the audit guards, segments
    included when the project has them)."""
    from orchestration.sample_data import generate

    home = root / "home"
    generate(root / "landing", tier="tiny", days=DAYS, end_date=END)
    days = _ingest(root / "landing", home)
    work = root / "dbt"
    result = run_dbt(home / "warehouse.duckdb", work, "seed")
    assert result.success, f"dbt seed failed: {result.exception}"
    # The marts and, when the project has them, the segment models with their parents. A segment model that
    # does not build yet fails alone: the tests of the generic suite on real segments use what was built,
    # the other segment tests use segment tables of their own.
    result = run_dbt(home / "warehouse.duckdb", work, "run", "--select", "+customer_360", "+fct_orders",
                     "+path:models/segments")
    built = {r.node.name for r in (result.result or []) if str(r.status) == "success"}
    assert {"customer_360", "fct_orders"} <= built, f"dbt run failed: {result.exception}"
    manifest = work / "target" / "manifest.json"
    # dbt-duckdb may keep its connection open in this process: checkpoint so the file alone is complete
    # (the copies of the tests take the file, not its write-ahead log).
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("CHECKPOINT")
    return Built(home, manifest, days)


def copy_home(built: Built, target: Path, lake_entities: list[str] | None = None) -> Settings:
    """A copy of the warehouse file (and of some entities' lake folders) under `target`."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built.database, target / "warehouse.duckdb")
    for name in lake_entities or []:
        shutil.copytree(built.home / "lake" / "raw" / name, target / "lake" / "raw" / name)
    return Settings(home=target, landing_root=target / "landing", duckdb_database=target / "warehouse.duckdb",
                    serving_database=target / "serving.duckdb")


def raw_workspace(built: Built, tmp_path: Path, *entities: str) -> Workspace:
    """A copy of the warehouse and of the lake folders of some raw entities."""
    return Workspace(copy_home(built, tmp_path / "home", list(entities)), built.manifest, built.days,
                     AuditConfig.load())
