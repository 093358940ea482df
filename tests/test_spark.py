"""The same dbt project on DuckDB and on local Spark (dbt-spark, `session` method) gives the same marts.

Both engines read the lake the tiny run wrote, with the same as-of date; every mart, retention table and
segment is compared row by row (floats up to a relative 1e-9). Spark runs in dbt's own process; nothing
here opens a JVM in the test process.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from engine_helpers import (
    DBT_PROJECT_DIR,
    compare_frames,
    dbt_subprocess,
    dbt_vars,
    duckdb_table_frame,
    spark_table_frame,
)
from pipeline_helpers import ERASURE_KEY

from orchestration.ingestion.raw_views import create_raw_views
from orchestration.transform.spark import erasure_pad_env, register_raw_tables_in_subprocess

pytestmark = pytest.mark.spark

MARTS = [
    "customer_360", "fct_orders", "customer_cohorts_monthly", "retention_metrics", "lifecycle_daily",
    "lifecycle_transitions", "campaign_lift", "erased_identifiers",
]
SEGMENTS = sorted(path.stem for path in (DBT_PROJECT_DIR / "models" / "segments").glob("seg_*.sql"))


def _failures(work: Path) -> list[str]:
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return [f"{r['unique_id']}: {r['status']} {(r.get('message') or '')[:300]}"
            for r in results if r["status"] not in ("success", "pass")]


@pytest.fixture(scope="module")
def engines(tiny_run, tmp_path_factory):
    """The tiny lake built by dbt on DuckDB and on Spark: (duckdb file, spark home, spark dbt process)."""
    home, _ = tiny_run
    raw_root = home / "lake" / "raw"
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        as_of = str(con.execute("SELECT max(as_of_date) FROM marts.customer_360").fetchone()[0])
    work = tmp_path_factory.mktemp("engines")
    build = ["build", *dbt_vars(as_of_date=as_of)]

    database = work / "duckdb" / "warehouse.duckdb"
    database.parent.mkdir(parents=True)
    with duckdb.connect(str(database)) as con:
        create_raw_views(con, raw_root)
    on_duckdb = dbt_subprocess(
        [*build, "--resource-type", "model", "--resource-type", "seed"], work / "duckdb",
        {"DUCKDB_DATABASE": str(database), "C360_ERASURE_SALT": ERASURE_KEY},
    )
    assert on_duckdb.returncode == 0, on_duckdb.stdout[-3000:]

    spark_home = work / "spark"
    # The same erasure key on both engines (a key longer than a block: hashed first), so erased_identifiers
    # and the identity graph's hashes compare equal; Spark gets its HMAC pads, as c360 gives them.
    spark_env = {"C360_SPARK_HOME": str(spark_home), "C360_HOME": str(home), **erasure_pad_env(ERASURE_KEY)}
    register_raw_tables_in_subprocess(raw_root, env=spark_env)
    # Seeds, models and unit tests: the data tests run on Spark in benchmarks/bench_spark.py (minutes there,
    # and their verdicts follow from the equal tables compared here).
    on_spark = dbt_subprocess([*build, "--target", "spark", "--exclude-resource-type", "test"],
                              work / "spark", spark_env)
    return database, spark_home, on_spark, work / "spark"


def test_every_model_seed_and_unit_test_passes_on_spark(engines):
    """`dbt build --target spark`: every model and seed builds and every dbt unit test passes."""
    _, _, on_spark, spark_work = engines
    assert on_spark.returncode == 0, "\n".join(_failures(spark_work)) or on_spark.stdout[-3000:]
    results = json.loads((spark_work / "target" / "run_results.json").read_text())["results"]
    built = {r["unique_id"].split(".")[0] for r in results}
    assert {"model", "seed", "unit_test"} <= built


@pytest.mark.parametrize(
    ("schema", "table"),
    [("marts", t) for t in MARTS] + [("segments", s) for s in SEGMENTS],
)
def test_table_equal_on_both_engines(engines, schema, table):
    """The table's rows are the same on DuckDB and on Spark (floats up to a relative 1e-9)."""
    database, spark_home, on_spark, _ = engines
    assert on_spark.returncode == 0, "the Spark build failed: see the test above"
    expected = duckdb_table_frame(database, schema, table)
    actual = spark_table_frame(spark_home, schema, table)
    assert compare_frames(expected, actual) == []
    if schema != "segments" and table not in ("campaign_lift", "erased_identifiers"):
        assert len(expected) > 0, "an empty table proves nothing"


def test_erased_identifiers_are_the_keys_hmac_on_both_engines(engines):
    """Both engines hash the erased persona's email as Python's HMAC-SHA256 with the test key (longer than a
    block); neither the key nor its pads (Spark's settings) are in any file of dbt's target and logs folders
    (compiled SQL, manifest, partial parse, dbt.log) or Spark's metastore."""
    from orchestration.privacy.keys import erasure_hash, erasure_pads

    database, spark_home, on_spark, spark_work = engines
    assert on_spark.returncode == 0, "the Spark build failed: see the test above"
    erin = erasure_hash(ERASURE_KEY, "email:erin.erased@example.com")
    assert erin in set(duckdb_table_frame(database, "marts", "erased_identifiers")["identifier_hash"])
    assert erin in set(spark_table_frame(spark_home, "marts", "erased_identifiers")["identifier_hash"])
    ipad, opad = erasure_pads(ERASURE_KEY)
    secrets = (ERASURE_KEY.encode(), ipad.hex().encode(), opad.hex().encode(), ipad, opad)
    files = [p for root in (database.parent / "target", database.parent / "logs", spark_work / "target",
                            spark_work / "logs", spark_home / "metastore_db") for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "dbt.log" for p in files) and any(p.suffix == ".sql" for p in files)
    assert [p for p in files if any(s in p.read_bytes() for s in secrets)] == []


def test_every_intermediate_table_equal_on_both_engines(engines):
    """Every other table dbt built (identity, orders, loyalty FIFO, engagement, prediction inputs ...) too."""
    database, spark_home, on_spark, _ = engines
    assert on_spark.returncode == 0, "the Spark build failed: see the test above"
    with duckdb.connect(str(database), read_only=True) as con:
        tables = [t for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'intermediate' AND table_type = 'BASE TABLE' ORDER BY 1").fetchall()]
    assert len(tables) >= 20
    problems = {}
    for table in tables:
        found = compare_frames(duckdb_table_frame(database, "intermediate", table),
                               spark_table_frame(spark_home, "intermediate", table))
        if found:
            problems[table] = found[:3]
    assert problems == {}


def test_the_comparison_catches_a_wrong_number(engines):
    """The comparison is not vacuous: one changed revenue figure is reported."""
    database, spark_home, _, _ = engines
    expected = duckdb_table_frame(database, "marts", "customer_360")
    actual = spark_table_frame(spark_home, "marts", "customer_360")
    first = actual.index[actual["lifetime_net_revenue"].notna()][0]
    actual.loc[first, "lifetime_net_revenue"] = float(actual.loc[first, "lifetime_net_revenue"]) + 0.01
    problems = compare_frames(expected, actual)
    assert problems and "lifetime_net_revenue" in problems[0]
