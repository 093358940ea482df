"""Write–audit–publish: serving.duckdb is replaced whole or not at all, readers are never blocked nor see a mix,
and a failed blocking check upstream leaves the previous version in place."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, Definitions, asset, asset_check
from dagster_duckdb import DuckDBResource

from orchestration.publish.assets import build_serving_asset
from orchestration.publish.serving import dbt_descriptions, publish_serving
from orchestration.settings import Settings


def make_warehouse(path: Path, customers: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts; create schema if not exists staging; "
                "create schema if not exists segments")
    con.execute(f"create or replace table marts.customer_360 as select range::varchar as customer_key "
                f"from range({customers})")
    con.execute(f"create or replace table marts.fct_orders as select range as order_key from range({customers})")
    con.execute("create or replace view segments.seg_all as select customer_key from marts.customer_360")
    con.execute("create or replace table staging.private as select 1 as x")
    con.close()


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_publish_copies_the_published_schemas_only_and_materialises_views(tmp_path):
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    result = publish_serving(con, tmp_path / "serving.duckdb")
    con.close()
    assert result.tables == {"marts.customer_360": 5, "marts.fct_orders": 5, "segments.seg_all": 5}
    serving = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    kinds = dict(serving.execute("select table_schema || '.' || table_name, table_type "
                                 "from information_schema.tables").fetchall())
    serving.close()
    assert kinds == {"marts.customer_360": "BASE TABLE", "marts.fct_orders": "BASE TABLE",
                     "segments.seg_all": "BASE TABLE"}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_publish_leaves_the_previous_file_byte_for_byte(tmp_path, monkeypatch):
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    publish_serving(con, tmp_path / "serving.duckdb")
    before = digest(tmp_path / "serving.duckdb")
    con.execute("insert into marts.customer_360 values ('new')")
    import orchestration.publish.serving as serving_module

    def broken_replace(*_):
        raise OSError("disk full")

    monkeypatch.setattr(serving_module.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        publish_serving(con, tmp_path / "serving.duckdb")
    con.close()
    assert digest(tmp_path / "serving.duckdb") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]


READER = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    print("open", flush=True)
    seen = set()
    deadline = time.time() + 60
    while time.time() < deadline:
        a = con.execute("select count(*) from marts.customer_360").fetchone()[0]
        b = con.execute("select count(*) from marts.fct_orders").fetchone()[0]
        assert a == b, (a, b)  # both tables of one version, never one of each
        seen.add(a)
        if sys.stdin.readline().strip() == "stop":
            break
        print(a, flush=True)
    print("seen", sorted(seen), flush=True)
""")


def test_a_reader_holding_serving_open_does_not_block_publish_and_never_sees_a_mix(tmp_path):
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    publish_serving(con, tmp_path / "serving.duckdb")
    reader = subprocess.Popen([sys.executable, "-c", READER, str(tmp_path / "serving.duckdb")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert reader.stdout.readline().strip() == "open"
    for _ in range(3):
        reader.stdin.write("go\n")
        reader.stdin.flush()
        assert reader.stdout.readline().strip() == "5"
    make_warehouse(tmp_path / "w2.duckdb", 8)
    con.close()
    con = duckdb.connect(str(tmp_path / "w2.duckdb"))
    started = time.monotonic()
    publish_serving(con, tmp_path / "serving.duckdb")  # the reader still holds the old file open
    con.close()
    assert time.monotonic() - started < 30
    reader.stdin.write("go\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "5"  # the old version, whole
    reader.stdin.write("stop\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == "seen [5]"
    assert reader.wait(timeout=30) == 0
    fresh = subprocess.run([sys.executable, "-c", "import sys, duckdb; c = duckdb.connect(sys.argv[1], "
                            "read_only=True); print(c.execute('select count(*) from marts.fct_orders').fetchone()[0])",
                            str(tmp_path / "serving.duckdb")], capture_output=True, text=True, check=True)
    assert fresh.stdout.strip() == "8"  # a reader opening it now gets the new version


@pytest.mark.parametrize("blocking_passes", [True, False])
def test_a_failed_blocking_check_upstream_stops_publish(tmp_path, monkeypatch, blocking_passes):
    monkeypatch.setenv("C360_HOME", str(tmp_path))
    settings = Settings.from_env()
    make_warehouse(settings.duckdb_database, 5)
    con = duckdb.connect(str(settings.duckdb_database))
    publish_serving(con, settings.serving_database)
    con.close()
    before = digest(settings.serving_database)

    key = AssetKey(["marts", "customer_360"])

    @asset(key=key)
    def customer_360(warehouse: DuckDBResource):
        with warehouse.get_connection() as c:
            c.execute("insert into marts.customer_360 values ('1')")  # a duplicated key

    @asset_check(asset=key, blocking=True)
    def customer_key_unique(warehouse: DuckDBResource) -> AssetCheckResult:
        with warehouse.get_connection() as c:
            dupes = c.execute("select count(*) - count(distinct customer_key) from marts.customer_360").fetchone()[0]
        return AssetCheckResult(passed=blocking_passes or dupes == 0, severity=AssetCheckSeverity.ERROR,
                                metadata={"duplicates": dupes})

    serving = build_serving_asset(settings, [key])
    result = Definitions(
        assets=[customer_360, serving], asset_checks=[customer_key_unique],
        resources={"warehouse": DuckDBResource(database=str(settings.duckdb_database))},
    ).resolve_implicit_global_asset_job_def().execute_in_process(raise_on_error=False)
    published = [e.asset_key for e in result.get_asset_materialization_events()]
    if blocking_passes:
        assert serving.key in published
        assert digest(settings.serving_database) != before
    else:
        assert not result.success
        assert serving.key not in published
        assert digest(settings.serving_database) == before


def storage_version(path: Path) -> str:
    con = duckdb.connect()
    con.execute("attach ? as s (read_only)", [str(path)])
    tags = con.execute("select tags from duckdb_databases() where database_name = 's'").fetchone()[0]
    con.close()
    return tags["storage_version"]


def test_serving_is_written_in_duckdb_1_0_storage_format_and_the_warehouse_is_not(tmp_path):
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    publish_serving(con, tmp_path / "serving.duckdb")
    con.close()
    assert storage_version(tmp_path / "serving.duckdb") == "v1.0.0+"
    assert storage_version(tmp_path / "w.duckdb") != "v1.0.0+"  # only what BI opens is held back


MANIFEST = {
    "nodes": {
        "model.c360.customer_360": {
            "resource_type": "model", "schema": "marts", "name": "customer_360", "alias": "customer_360",
            "description": "One row per person.\n",
            "columns": {"customer_key": {"name": "customer_key", "description": "The person's key; it's stable."},
                        "gone": {"name": "gone", "description": "A column the table no longer has."}},
        },
        "model.c360.fct_orders": {"resource_type": "model", "schema": "marts", "name": "fct_orders",
                                  "alias": "fct_orders", "description": "", "columns": {}},
        "model.c360.stg_private": {"resource_type": "model", "schema": "staging", "name": "private", "alias": "private",
                                   "description": "Not published.", "columns": {}},
        "test.c360.unique": {"resource_type": "test", "schema": "marts", "name": "customer_360",
                             "description": "A test, not a relation.", "columns": {}},
    },
    "sources": {
        "source.c360.segments.seg_all": {"resource_type": "source", "schema": "segments", "name": "seg_all",
                                         "identifier": "seg_all", "description": "Everyone.",
                                         "columns": {"CUSTOMER_KEY": {"description": "Who."}}},
    },
}


def test_dbt_descriptions_become_comments_on_the_published_tables_and_columns(tmp_path):
    docs = dbt_descriptions(MANIFEST)
    assert sorted(docs) == ["marts.customer_360", "marts.fct_orders", "segments.seg_all"]
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    publish_serving(con, tmp_path / "serving.duckdb", docs=docs)
    con.close()
    serving = duckdb.connect(str(tmp_path / "serving.duckdb"), read_only=True)
    tables = dict(serving.execute("select schema_name || '.' || table_name, comment from duckdb_tables()").fetchall())
    columns = dict(serving.execute("select schema_name || '.' || table_name || '.' || column_name, comment "
                                   "from duckdb_columns() where not internal").fetchall())
    serving.close()
    assert tables == {"marts.customer_360": "One row per person.", "marts.fct_orders": None,
                      "segments.seg_all": "Everyone."}
    assert columns == {"marts.customer_360.customer_key": "The person's key; it's stable.",
                       "marts.fct_orders.order_key": None, "segments.seg_all.customer_key": "Who."}


def test_a_column_of_a_type_duckdb_1x_readers_cannot_read_stops_the_publish(tmp_path):
    make_warehouse(tmp_path / "w.duckdb", 5)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    publish_serving(con, tmp_path / "serving.duckdb")
    before = digest(tmp_path / "serving.duckdb")
    con.execute("create table marts.events as select now()::timestamptz_ns as at, {'variant': 1} as ok")
    with pytest.raises(RuntimeError, match=r"marts\.events\.at TIMESTAMPTZ_NS$"):
        publish_serving(con, tmp_path / "serving.duckdb")
    con.close()
    assert digest(tmp_path / "serving.duckdb") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["serving.duckdb", "w.duckdb"]
