"""Write–audit–publish, the publish step (ARCHITECTURE.md decision 3).

`serving.duckdb` is rebuilt from the working warehouse into a temporary file next to it, checked, then
renamed over the old one. A reader that holds the old file open keeps reading the old version (the rename
replaces the directory entry, not the bytes it has open); a reader that opens it afterwards gets the new
one; nobody ever sees half of each. The working warehouse is never opened by BI.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

# What BI and activation may read: the marts, segments and their history, predictions, audit results and the
# activation log. raw, staging and intermediate stay in the working warehouse.
PUBLISHED_SCHEMAS = ("marts", "segments", "predictions", "audit", "activation")


@dataclass(frozen=True)
class PublishResult:
    """What was published: the file, tables and rows per table."""

    path: Path
    tables: dict[str, int]

    @property
    def rows(self) -> int:
        """Rows in all published tables."""
        return sum(self.tables.values())


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def publish_serving(
    con: duckdb.DuckDBPyConnection, serving_path: Path, schemas: Sequence[str] = PUBLISHED_SCHEMAS
) -> PublishResult:
    """Copy every table and view of `schemas` from the warehouse `con` is connected to into a new DuckDB file,
    verify the row counts, and rename it over `serving_path` (atomic on one filesystem). Views are
    materialised as tables, so the serving file stands alone. On any error the old file is left untouched."""
    serving_path = Path(serving_path)
    serving_path.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving_path.with_name(f".{serving_path.name}.{uuid.uuid4().hex}.tmp")
    alias = "serving_" + uuid.uuid4().hex[:12]
    relations = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_catalog = current_database() and list_contains(?, table_schema) "
        "order by table_schema, table_name",
        [list(schemas)],
    ).fetchall()
    tables: dict[str, int] = {}
    con.execute(f"attach ? as {alias}", [str(temporary)])
    try:
        for schema in sorted({s for s, _ in relations}):
            con.execute(f"create schema {alias}.{_quote(schema)}")
        for schema, table in relations:
            source = f"{_quote(schema)}.{_quote(table)}"
            con.execute(f"create table {alias}.{_quote(schema)}.{_quote(table)} as select * from {source}")
            copied = con.execute(f"select count(*) from {alias}.{_quote(schema)}.{_quote(table)}").fetchone()[0]
            expected = con.execute(f"select count(*) from {source}").fetchone()[0]
            if copied != expected:
                raise RuntimeError(f"{schema}.{table}: copied {copied} rows of {expected}")
            tables[f"{schema}.{table}"] = copied
        con.execute(f"detach {alias}")
        alias = None
        # A WAL beside the target belongs to the file being replaced (a read-write client that crashed left
        # it): DuckDB would replay it into the new file and refuse to open that ("WAL does not match").
        Path(f"{serving_path}.wal").unlink(missing_ok=True)
        os.replace(temporary, serving_path)
    except BaseException:
        if alias is not None:
            con.execute(f"detach {alias}")
        temporary.unlink(missing_ok=True)
        Path(str(temporary) + ".wal").unlink(missing_ok=True)
        raise
    return PublishResult(path=serving_path, tables=tables)
