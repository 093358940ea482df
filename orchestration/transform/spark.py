"""The Spark engine: the same dbt project on Apache Spark (issue: scale-out).

dbt's `spark` target (profiles.yml) runs a local SparkSession with the `session` method. Its catalog is
a Hive metastore (embedded Derby) and a warehouse folder under `C360_SPARK_HOME`, so anything that opens a
session with the same settings sees the same databases. This module registers the raw layer's Parquet
partitions (and the tables the pipeline's Python steps wrote, see spark_bridge.py) as external tables
there, from a short-lived process, before each dbt step.

The session settings are read from profiles.yml itself (its `server_side_parameters`), so dbt and the
Python steps can never disagree about where the metastore is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchestration.ingestion.entities import ENTITIES, Entity
from orchestration.ingestion.loader import DATA_FILE
from orchestration.privacy.keys import erasure_pads
from orchestration.transform.project import DBT_PROJECT_DIR

if TYPE_CHECKING:  # pragma: no cover
    from pyspark.sql import SparkSession

SPARK_TARGET = "spark"
# Where the `spark` target reads the erasure key's HMAC pads from (profiles.yml); dbt scrubs the values of
# DBT_ENV_SECRET_* variables from its logs.
ERASURE_PAD_ENV = {"ipad": "DBT_ENV_SECRET_C360_ERASURE_IPAD", "opad": "DBT_ENV_SECRET_C360_ERASURE_OPAD"}

# Raw-layer types (entities.py) in Spark SQL. JSON stays text: Spark parses it with get_json_object.
SPARK_TYPES = {
    "string": "string",
    "int": "bigint",
    "timestamp": "timestamp",
    "money": "decimal(18,2)",
    "bool": "boolean",
    "json": "string",
}
LINEAGE_COLUMNS = "_record string, _file string, _line bigint, _loaded_at timestamp"


def _quote(text: str) -> str:
    """A Spark SQL string literal (paths are data, never spliced in raw)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _render_env(text: str) -> str:
    """Render profiles.yml's `{{ env_var('NAME', 'default') }}` calls (all it uses)."""
    import jinja2

    def env_var(name: str, default: str | None = None) -> str:
        value = os.environ.get(name, default)
        if value is None:
            raise KeyError(f"profiles.yml needs the environment variable {name}")
        return value

    return jinja2.Environment().from_string(text).render(env_var=env_var)


def spark_home(home: Path) -> Path:
    """Where the Spark warehouse and metastore live: `C360_SPARK_HOME`, else `<C360_HOME>/spark`."""
    return Path(os.environ.get("C360_SPARK_HOME") or home / "spark").resolve()


def export_spark_home(home: Path) -> Path:
    """Set `C360_SPARK_HOME` to an absolute path, so dbt (any working folder) and Python agree on it."""
    path = spark_home(home)
    os.environ["C360_SPARK_HOME"] = str(path)
    return path


def erasure_pad_env(key: str) -> dict[str, str]:
    """The environment of a dbt process on Spark for the erasure key: its two HMAC pads as hex.

    Spark SQL has no XOR of bytes, so the pads are derived here (keys.erasure_pads) and reach the models as
    session settings substituted at parse time: hex only, so no value of the key can break the SQL."""
    ipad, opad = erasure_pads(key)
    return {ERASURE_PAD_ENV["ipad"]: ipad.hex(), ERASURE_PAD_ENV["opad"]: opad.hex()}


def session_settings(profiles_dir: Path = DBT_PROJECT_DIR) -> dict[str, str]:
    """The Spark settings of the `spark` target in profiles.yml, rendered with the current environment."""
    import yaml

    profile = yaml.safe_load((profiles_dir / "profiles.yml").read_text())
    target = profile["customer360"]["outputs"][SPARK_TARGET]
    return {key: _render_env(str(value)) for key, value in (target.get("server_side_parameters") or {}).items()}


@cache
def get_session() -> SparkSession:
    """The process's SparkSession, configured exactly like dbt's `spark` target (Hive catalog on)."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("customer360").enableHiveSupport()
    for key, value in session_settings().items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def stop_session() -> None:
    """Stop the process's session, releasing the embedded metastore for the next process (dbt's)."""
    if get_session.cache_info().currsize:
        get_session().stop()
        get_session.cache_clear()


def entity_table_sql(raw_root: Path | str, entity: Entity) -> str:
    """`CREATE TABLE raw.<entity>` over its Parquet partitions (the folder may not exist yet).

    The schema is declared (the raw layer's fixed columns; unknown fields live in `_record`), so Spark
    reads no file footers to infer it. `dt` comes from the folder names; with
    `spark.sql.hive.manageFilesourcePartitions=false` partitions are listed at query time, so new ones are
    seen without a repair, as with DuckDB's glob.
    """
    columns = ", ".join(f"`{f.name}` {SPARK_TYPES[f.type]}" for f in entity.fields)
    return (
        f"CREATE TABLE raw.{entity.name} ({columns}, {LINEAGE_COLUMNS}, dt date) USING parquet "
        f"OPTIONS (pathGlobFilter {_quote(DATA_FILE)}) PARTITIONED BY (dt) "
        f"LOCATION {_quote(str(raw_root).rstrip('/') + '/' + entity.name)}"
    )


def register_raw_tables(session: Any, raw_root: Path, entities: Iterable[Entity] = ENTITIES) -> list[str]:
    """(Re)create the `raw` database's external tables over the lake; returns the table names.

    Dropping an external table never deletes its files; re-creating it picks up schema drift.
    """
    session.sql("CREATE DATABASE IF NOT EXISTS raw")
    names = []
    for entity in entities:
        session.sql(f"DROP TABLE IF EXISTS raw.{entity.name}")
        session.sql(entity_table_sql(raw_root, entity))
        names.append(f"raw.{entity.name}")
    return names


def register_external_tables(session: Any, tables: Iterable[tuple[str, str, Path]]) -> list[str]:
    """(Re)create `schema.table` as an external Parquet table at each path (tables the pipeline writes)."""
    names = []
    for schema, table, path in tables:
        session.sql(f"CREATE DATABASE IF NOT EXISTS `{schema}`")
        session.sql(f"DROP TABLE IF EXISTS `{schema}`.`{table}`")
        session.sql(f"CREATE TABLE `{schema}`.`{table}` USING parquet LOCATION {_quote(str(path))}")
        names.append(f"{schema}.{table}")
    return names


def register_raw_tables_in_subprocess(
    raw_root: Path, env: dict[str, str] | None = None, external: Iterable[tuple[str, str, Path]] = ()
) -> None:
    """Register the raw tables (and `external` Parquet tables) from a short-lived process; `env` is laid
    over this process's environment (PATH, JAVA_HOME stay).

    The embedded metastore admits one JVM at a time: a session kept open in this process would lock dbt's
    own session (a subprocess) out, so the registration's JVM exits before dbt starts.
    """
    import subprocess
    import sys

    extra = [f"{schema}.{table}={path}" for schema, table, path in external]
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.transform.spark", "register-raw", str(raw_root),
         *(["--external", *extra] if extra else [])],
        env={**os.environ, **(env or {})}, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"registering the raw tables in Spark failed:\n{done.stderr[-4000:]}")


def main(argv: list[str] | None = None) -> int:
    """`python -m orchestration.transform.spark register-raw <raw root>`: what the subprocess runs; `raw-ddl` and
    `erasure-env` for running dbt on a cluster by hand."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m orchestration.transform.spark")
    sub = parser.add_subparsers(dest="command", required=True)
    register = sub.add_parser("register-raw", help="(re)create the raw tables over the lake's partitions")
    register.add_argument("raw_root", type=Path)
    register.add_argument("--external", nargs="*", default=[], metavar="SCHEMA.TABLE=PATH",
                          help="also register these Parquet folders as tables")
    ddl = sub.add_parser("raw-ddl", help="print the raw tables' CREATE statements for a cluster's lake URI")
    ddl.add_argument("lake_uri", help="e.g. s3a://bucket/c360/lake/raw")
    sub.add_parser("erasure-env", help="print `export` lines of the erasure key's HMAC pads (from "
                                       "C360_ERASURE_SALT) for a dbt command on Spark: eval \"$(...)\"")
    args = parser.parse_args(argv)
    if args.command == "erasure-env":
        from orchestration.privacy.keys import DEFAULT_ERASURE_KEY, ERASURE_KEY_ENV

        for name, value in erasure_pad_env(os.environ.get(ERASURE_KEY_ENV, DEFAULT_ERASURE_KEY)).items():
            print(f"export {name}={value}")
        return 0
    if args.command == "raw-ddl":
        print("CREATE DATABASE IF NOT EXISTS raw;")
        for entity in ENTITIES:
            print(entity_table_sql(args.lake_uri, entity) + ";")
        return 0
    external = []
    for item in args.external:
        name, _, path = item.partition("=")
        schema, _, table = name.partition(".")
        external.append((schema, table, Path(path)))
    if not os.environ.get("C360_SPARK_HOME"):
        from orchestration.settings import Settings

        export_spark_home(Settings.from_env().home)
    try:
        names = register_raw_tables(get_session(), args.raw_root.resolve())
        names += register_external_tables(get_session(), external)
    finally:
        stop_session()
    print(f"registered {len(names)} tables in {os.environ.get('C360_SPARK_HOME')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
