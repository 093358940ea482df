"""Write–audit–publish, the publish step (ARCHITECTURE.md decision 3).

`serving.duckdb` is rebuilt from the working warehouse into a temporary file next to it, checked, then
renamed over the old one. A reader that holds the old file open keeps reading the old version (the rename
replaces the directory entry, not the bytes it has open), and so does a new connection of its process while one
is open (DuckDB shares one database per file and process); a reader that opens it afterwards gets the new one;
nobody ever sees half of each. The working warehouse is never opened by BI.

The file is written in DuckDB 1.0's storage format (SERVING_STORAGE_VERSION), which every DuckDB 1.x and 2.x
reader opens: BI tools bundle a 1.x DuckDB (JDBC, Node) that refuses 2.0's format. The dbt docs' table and column
descriptions become `COMMENT ON` comments, which BI tools show next to the tables and columns.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

# What BI and activation may read: the marts, segments and their history, predictions, audit results and the
# activation log. raw, staging and intermediate stay in the working warehouse.
PUBLISHED_SCHEMAS = ("marts", "segments", "predictions", "audit", "activation")

# DuckDB 1.0's storage format, the oldest DuckDB 2.0 writes ("v0.10.0" gives the same): DuckDB 1.x readers,
# which BI drivers bundle, refuse 2.0's. DuckDB refuses itself to write a type this format cannot hold (VARIANT).
SERVING_STORAGE_VERSION = "v1.0.0"

# Types DuckDB 2.0 writes into the 1.0 format although a DuckDB 1.x reader fails on them (TIMESTAMPTZ_NS: every
# 1.x; BIGNUM: 1.0; GEOMETRY: read as a BLOB before 1.5). A published column of one of them stops the publish.
TYPES_1X_READERS_CANNOT_READ = ("TIMESTAMPTZ_NS", "TIMESTAMP_TZ_NS", "BIGNUM", "VARINT", "GEOMETRY", "VARIANT")


@dataclass(frozen=True)
class RelationDocs:
    """The description of a table and of its columns (lower-case column name -> description)."""

    description: str
    columns: Mapping[str, str]


def dbt_descriptions(manifest: dict, schemas: Sequence[str] = PUBLISHED_SCHEMAS) -> dict[str, RelationDocs]:
    """The dbt docs of every model, seed, snapshot and source of `schemas` in a dbt manifest, by "schema.table"
    (lower case): what the warehouse publishes with its tables."""
    docs: dict[str, RelationDocs] = {}
    nodes = [n for n in manifest.get("nodes", {}).values() if n.get("resource_type") in ("model", "seed", "snapshot")]
    for node in [*nodes, *manifest.get("sources", {}).values()]:
        if node.get("schema") not in schemas:
            continue
        table = node.get("alias") or node.get("identifier") or node["name"]
        columns = {name.lower(): column["description"].strip()
                   for name, column in node.get("columns", {}).items() if column.get("description", "").strip()}
        docs[f"{node['schema']}.{table}".lower()] = RelationDocs((node.get("description") or "").strip(), columns)
    return docs


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


def _literal(text: str) -> str:
    # COMMENT ON takes no prepared parameter, only a string literal.
    return "'" + text.replace("'", "''") + "'"


def _comment_statements(con: duckdb.DuckDBPyConnection, alias: str, docs: Mapping[str, RelationDocs]) -> list[str]:
    """COMMENT ON statements for the documented tables and columns of the attached serving file `alias`."""
    statements = []
    columns = con.execute(
        "select schema_name, table_name, column_name from duckdb_columns() where database_name = ? "
        "order by schema_name, table_name, column_index", [alias]).fetchall()
    commented_tables = set()
    for schema, table, column in columns:
        relation = docs.get(f"{schema}.{table}".lower())
        if relation is None:
            continue
        name = f"{alias}.{_quote(schema)}.{_quote(table)}"
        if relation.description and name not in commented_tables:
            statements.append(f"comment on table {name} is {_literal(relation.description)}")
            commented_tables.add(name)
        description = relation.columns.get(column.lower())
        if description:
            statements.append(f"comment on column {name}.{_quote(column)} is {_literal(description)}")
    return statements


def publish_serving(
    con: duckdb.DuckDBPyConnection,
    serving_path: Path,
    schemas: Sequence[str] = PUBLISHED_SCHEMAS,
    docs: Mapping[str, RelationDocs] | None = None,
    storage_version: str = SERVING_STORAGE_VERSION,
) -> PublishResult:
    """Copy every table and view of `schemas` from the warehouse `con` is connected to into a new DuckDB file
    written in `storage_version`'s format, verify the row counts, comment the tables and columns `docs` describes
    (dbt_descriptions), and rename it over `serving_path` (atomic on one filesystem). Views are materialised as
    tables, so the serving file stands alone. On any error the old file is left untouched."""
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
    con.execute(f"attach ? as {alias} (storage_version {_literal(storage_version)})", [str(temporary)])
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
        unreadable = con.execute(
            "select schema_name || '.' || table_name || '.' || column_name || ' ' || data_type "
            "from duckdb_columns() where database_name = ? "
            # a type name ends at a bracket, comma or the end; a struct's field name is followed by a space
            "and regexp_matches(data_type, '\\b(' || array_to_string(?, '|') || ')([\\[\\](),]|$)') order by all",
            [alias, list(TYPES_1X_READERS_CANNOT_READ)]).fetchall()
        if unreadable:
            raise RuntimeError("DuckDB 1.x readers cannot read these published columns (cast them in their model): "
                               + ", ".join(u for (u,) in unreadable))
        statements = _comment_statements(con, alias, docs or {})
        if statements:
            con.execute(";\n".join(statements))
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
