"""How a run on Spark hands tables to the rest of the pipeline, which reads the DuckDB working file.

On `C360_TARGET=spark`, dbt builds every model on Spark. Around each dbt step:
- before: the raw tables are (re)registered in Spark's metastore, and the tables the pipeline's Python
  steps wrote (predictions, segment history: dbt sources with `meta.dagster.asset_key`) are exported
  from DuckDB as Parquet and registered in Spark as external tables, so Spark's models read them;
- after: every table the step built on Spark is copied into the DuckDB working file from its Parquet
  files, so the Python steps (predictions, segment history), the audits and publish read Spark's results
  unchanged. Views are not copied: they hold no data of their own.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb

from orchestration.ingestion.raw_views import sql_literal
from orchestration.transform.spark import register_raw_tables_in_subprocess, spark_home


def pipeline_written_sources(manifest: dict) -> list[tuple[str, str]]:
    """(schema, table) of the dbt sources that the pipeline's Python assets write."""
    found = []
    for source in manifest.get("sources", {}).values():
        if ((source.get("meta") or {}).get("dagster") or {}).get("asset_key"):
            found.append((source["schema"], source["identifier"]))
    return sorted(set(found))


def export_tables(con: duckdb.DuckDBPyConnection, home: Path, tables: list[tuple[str, str]]) -> list[tuple]:
    """Write each existing DuckDB table to `<spark home>/external/<schema>/<table>/` (replaced whole)."""
    existing = {(s, t) for s, t in con.execute(
        "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
    ).fetchall()}
    exported = []
    for schema, table in tables:
        if (schema, table) not in existing:
            continue
        folder = spark_home(home) / "external" / schema / table
        staging = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        target = sql_literal(str(staging / "data.parquet"))
        con.execute(f'COPY (SELECT * FROM "{schema}"."{table}") TO {target} (FORMAT parquet)')
        shutil.rmtree(folder, ignore_errors=True)
        staging.rename(folder)
        exported.append((schema, table, folder))
    return exported


def prepare_spark(home: Path, duckdb_database: Path, raw_root: Path, manifest: dict) -> list[str]:
    """Before a dbt step on Spark: register the raw layer and the pipeline-written tables in Spark."""
    with duckdb.connect(str(duckdb_database)) as con:
        exported = export_tables(con, home, pipeline_written_sources(manifest))
    register_raw_tables_in_subprocess(raw_root, external=exported)
    return [f"{schema}.{table}" for schema, table, _ in exported]


def built_tables(run_results_path: Path, manifest: dict) -> list[tuple[str, str]]:
    """(schema, name) of the models a dbt command built successfully as tables (not views)."""
    results = json.loads(run_results_path.read_text())["results"]
    built = []
    for result in results:
        node = manifest.get("nodes", {}).get(result["unique_id"])
        if not node or node["resource_type"] not in ("model", "seed") or result["status"] != "success":
            continue
        if node["resource_type"] == "model" and node["config"].get("materialized") == "view":
            continue
        built.append((node["schema"], node.get("alias") or node["name"]))
    return built


def _as_duckdb_types(con: duckdb.DuckDBPyConnection, scan: str) -> str:
    """The select list that gives Spark's columns the types dbt gives them on DuckDB: Spark's timestamps
    (UTC instants in Parquet) become naive UTC timestamps, as every model on DuckDB stores them."""
    columns = con.execute(f"DESCRIBE SELECT * FROM {scan}").fetchall()
    return ", ".join(
        f"timezone('UTC', \"{name}\") AS \"{name}\"" if kind == "TIMESTAMP WITH TIME ZONE" else f'"{name}"'
        for name, kind, *_ in columns
    )


def mirror_into_duckdb(home: Path, duckdb_database: Path, tables: list[tuple[str, str]]) -> int:
    """Copy Spark's tables into the DuckDB working file (one transaction); returns the tables copied."""
    warehouse = spark_home(home) / "warehouse"
    copied = 0
    with duckdb.connect(str(duckdb_database)) as con:
        con.execute("BEGIN")
        for schema, table in tables:
            folder = warehouse / f"{schema}.db" / table
            if not any(folder.glob("*.parquet")):
                continue
            scan = f"read_parquet({sql_literal(str(folder / '*.parquet'))})"
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            columns = _as_duckdb_types(con, scan)
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{table}" AS SELECT {columns} FROM {scan}')
            copied += 1
        con.execute("COMMIT")
    return copied
