"""The Spark engine's plumbing, without a JVM: settings, DDL, engine choice and the DuckDB <-> Spark bridge."""

from __future__ import annotations

import json

import duckdb
import pytest

from orchestration.cli import engine_problem
from orchestration.ingestion.entities import ENTITIES
from orchestration.ingestion.loader import DATA_FILE
from orchestration.transform import project
from orchestration.transform.spark import SPARK_TYPES, entity_table_sql, session_settings
from orchestration.transform.spark_bridge import (
    built_tables,
    export_tables,
    mirror_into_duckdb,
    pipeline_written_sources,
)

pytestmark = pytest.mark.spark


def test_session_settings_follow_the_environment(monkeypatch, tmp_path):
    """The Python side opens Spark exactly as dbt's profile does: same warehouse, same metastore."""
    monkeypatch.setenv("C360_SPARK_HOME", str(tmp_path / "sp"))
    monkeypatch.setenv("C360_SPARK_DRIVER_MEMORY", "3g")
    settings = session_settings()
    assert settings["spark.sql.warehouse.dir"] == f"{tmp_path}/sp/warehouse"
    assert f"databaseName={tmp_path}/sp/metastore_db" in settings["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert settings["spark.driver.memory"] == "3g"
    assert settings["spark.sql.hive.manageFilesourcePartitions"] == "false"


def test_raw_table_ddl_declares_every_field_and_quotes_the_path(tmp_path):
    """Every landing field is declared with a Spark type, `dt` is the partition, the path is a literal."""
    entity = next(e for e in ENTITIES if e.name == "shop__orders")
    root = tmp_path / "it's a lake"
    sql = entity_table_sql(root, entity)
    for field in entity.fields:
        assert f"`{field.name}` {SPARK_TYPES[field.type]}" in sql
    assert "PARTITIONED BY (dt)" in sql and f"pathGlobFilter '{DATA_FILE}'" in sql
    assert "LOCATION '" + str(root).replace("'", "\\'") + "/shop__orders'" in sql
    assert entity_table_sql("s3a://bucket/lake/raw/", entity).endswith("LOCATION 's3a://bucket/lake/raw/shop__orders'")


def test_engine_choice(monkeypatch):
    """C360_TARGET picks the dbt target; anything else is refused with the choices named."""
    monkeypatch.delenv("C360_TARGET", raising=False)
    assert project.dbt_target() == "dev"
    monkeypatch.setenv("C360_TARGET", "Spark")
    assert project.dbt_target() == "spark"
    monkeypatch.setenv("C360_TARGET", "bigquery")
    with pytest.raises(ValueError, match="duckdb, spark"):
        project.engine()
    assert "duckdb, spark" in engine_problem("bigquery")
    assert engine_problem("duckdb") is None


def test_pipeline_written_sources_and_built_tables(tmp_path):
    """Sources with a Dagster asset key are exported to Spark; only tables (not views) come back."""
    manifest = {
        "sources": {
            "source.x.predictions.customer_predictions": {
                "schema": "predictions", "identifier": "customer_predictions",
                "meta": {"dagster": {"asset_key": ["predictions", "customer_predictions"]}}},
            "source.x.shop.orders": {"schema": "raw", "identifier": "shop__orders", "meta": {}},
        },
        "nodes": {
            "model.x.customer_360": {"resource_type": "model", "schema": "marts", "name": "customer_360",
                                     "config": {"materialized": "table"}},
            "model.x.stg_shop__orders": {"resource_type": "model", "schema": "staging", "name": "stg_shop__orders",
                                         "config": {"materialized": "view"}},
            "model.x.fct_orders": {"resource_type": "model", "schema": "marts", "name": "fct_orders",
                                   "config": {"materialized": "table"}},
            "test.x.unique_customer_360": {"resource_type": "test", "schema": "marts", "name": "t", "config": {}},
        },
    }
    assert pipeline_written_sources(manifest) == [("predictions", "customer_predictions")]
    results = tmp_path / "run_results.json"
    results.write_text(json.dumps({"results": [
        {"unique_id": "model.x.customer_360", "status": "success"},
        {"unique_id": "model.x.stg_shop__orders", "status": "success"},
        {"unique_id": "model.x.fct_orders", "status": "error"},
        {"unique_id": "test.x.unique_customer_360", "status": "pass"},
    ]}))
    assert built_tables(results, manifest) == [("marts", "customer_360")]


def test_export_then_mirror_round_trip(monkeypatch, tmp_path):
    """A DuckDB table exported for Spark, read back as if Spark had written it, keeps its rows and types."""
    monkeypatch.setenv("C360_SPARK_HOME", str(tmp_path / "spark"))
    source = tmp_path / "source.duckdb"
    with duckdb.connect(str(source)) as con:
        con.execute("CREATE SCHEMA predictions")
        con.execute("CREATE TABLE predictions.customer_predictions AS SELECT 'k' || range AS customer_key, "
                    "range / 10.0 AS churn_probability, DATE '2026-10-31' AS as_of_date, "
                    "TIMESTAMPTZ '2026-10-31 23:00:00+00' AS scored_at FROM range(5)")
        exported = export_tables(con, tmp_path, [("predictions", "customer_predictions"), ("segments", "absent")])
    assert [(s, t) for s, t, _ in exported] == [("predictions", "customer_predictions")]
    # Pretend Spark built marts.customer_360 from it: a table folder of Parquet files in its warehouse.
    folder = tmp_path / "spark" / "warehouse" / "marts.db" / "customer_360"
    folder.mkdir(parents=True)
    (exported[0][2] / "data.parquet").rename(folder / "part-0000.parquet")
    target = tmp_path / "warehouse.duckdb"
    assert mirror_into_duckdb(tmp_path, target, [("marts", "customer_360"), ("marts", "never_built")]) == 1
    with duckdb.connect(str(target), read_only=True) as con:
        rows = con.execute(
            "SELECT customer_key, churn_probability, scored_at FROM marts.customer_360 ORDER BY 1").fetchall()
        scored_type = con.execute("SELECT data_type FROM information_schema.columns "
                                  "WHERE table_name = 'customer_360' AND column_name = 'scored_at'").fetchone()[0]
    # Spark writes instants; DuckDB-built models hold naive UTC timestamps, so the copy does too.
    assert scored_type == "TIMESTAMP"
    assert rows[0][:2] == ("k0", 0.0) and str(rows[0][2]) == "2026-10-31 23:00:00" and len(rows) == 5
