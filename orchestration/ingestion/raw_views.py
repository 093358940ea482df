"""The warehouse's `raw` schema: one view per entity over its Parquet partitions.

Plus `raw.load_manifest` (every landing file ever loaded or skipped, per partition),
`raw.quarantine` (every line that could not be loaded, with file, line and reason) and `raw.load_ledger`
(per partition, whether its current load is audited and built). All are views
over the lake, so they are exactly as current as the partitions themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import duckdb

from orchestration.ingestion.entities import ENTITIES, Entity
from orchestration.ingestion.loader import (
    DATA_FILE,
    MANIFEST_COLUMNS,
    MANIFEST_FILE,
    QUARANTINE_FILE,
    has_partitions,
    raw_schema_sql,
)

QUARANTINE_COLUMNS = (
    "source VARCHAR, entity VARCHAR, file VARCHAR, line BIGINT, reason VARCHAR, raw_text VARCHAR, "
    "loaded_at TIMESTAMPTZ, dt DATE"
)


def sql_literal(text: str) -> str:
    """A DuckDB string literal (paths are data, never spliced in raw)."""
    return "'" + text.replace("'", "''") + "'"


def _scan(pattern: Path) -> str:
    return (
        f"read_parquet({sql_literal(str(pattern))}, hive_partitioning = true, union_by_name = true, "
        "hive_types = {'dt': DATE})"
    )


def _empty(columns: str) -> str:
    cols = []
    for part in columns.split(", "):
        name, typ = part.split(" ", 1)
        cols.append(f"CAST(NULL AS {typ}) AS {name}")
    return "SELECT " + ", ".join(cols) + " WHERE false"


def entity_view_sql(raw_root: Path, entity: Entity) -> str:
    """The SELECT behind `raw.<source>__<entity>` (typed and empty when nothing is loaded yet)."""
    if has_partitions(raw_root, entity, DATA_FILE):
        return f"SELECT * FROM {_scan(raw_root / entity.name / 'dt=*' / DATA_FILE)}"
    return raw_schema_sql(entity)


def create_raw_views(
    con: duckdb.DuckDBPyConnection, raw_root: Path, refresh: Iterable[Entity] | None = None
) -> None:
    """Create the views of the `raw` schema in the warehouse.

    The views of `refresh` (default: every entity) are replaced; the others are only created when
    missing, as empty typed views, so dbt always finds every source. A view over existing partitions
    never needs replacing: its glob sees new partitions at query time.
    """
    con.execute("CREATE SCHEMA IF NOT EXISTS raw")
    refresh_names = {e.name for e in (ENTITIES if refresh is None else refresh)}
    for entity in ENTITIES:
        verb = "CREATE OR REPLACE VIEW" if entity.name in refresh_names else "CREATE VIEW IF NOT EXISTS"
        con.execute(f"{verb} raw.{entity.name} AS {entity_view_sql(raw_root, entity)}")
    for view, file_name, columns in (
        ("load_manifest", MANIFEST_FILE, MANIFEST_COLUMNS),
        ("quarantine", QUARANTINE_FILE, QUARANTINE_COLUMNS),
    ):
        if any(raw_root.glob(f"*/dt=*/{file_name}")):
            names = ", ".join(part.split(" ", 1)[0] for part in columns.split(", "))
            sql = f"SELECT {names} FROM {_scan(raw_root / '*' / 'dt=*' / file_name)}"
        else:
            sql = _empty(columns)
        con.execute(f"CREATE OR REPLACE VIEW raw.{view} AS {sql}")
    # Per loaded partition: is its current load audited and built (ingestion/ledger.py)?
    from orchestration.ingestion.ledger import LEDGER_COLUMNS, ensure_ledger_file, ledger_sql

    loaded = [e.name for e in ENTITIES if any(raw_root.glob(f"{e.name}/dt=*/{MANIFEST_FILE}"))]
    for name in loaded:
        ensure_ledger_file(raw_root, name)
    con.execute(f"CREATE OR REPLACE VIEW raw.load_ledger AS "
                f"{ledger_sql(raw_root) if loaded else _empty(LEDGER_COLUMNS)}")
