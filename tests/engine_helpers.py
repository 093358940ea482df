"""Building the dbt project on DuckDB and on local Spark from one lake, and comparing the results row by row."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = str(Path(sys.executable).parent / "dbt")


def dbt_subprocess(args: list[str], work: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """Run dbt in its own process (Spark's JVM and embedded metastore go away with it)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DAGSTER_", "DUCKDB_"))}
    environment.update({"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **env})
    return subprocess.run(
        [DBT, *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(work / "target"), "--log-path", str(work / "logs")],
        env=environment, capture_output=True, text=True, timeout=1800, check=False,
    )


def dbt_vars(**values) -> list[str]:
    """`--vars` for a dbt command line."""
    return ["--vars", json.dumps(values, sort_keys=True)]


def spark_table_frame(spark_home: Path, schema: str, table: str) -> pd.DataFrame:
    """A table dbt built on Spark, read from its Parquet files in the Spark warehouse folder."""
    folder = spark_home / "warehouse" / f"{schema}.db" / table
    pattern = str(folder / "*.parquet").replace("'", "''")
    with duckdb.connect() as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(f"SELECT * FROM read_parquet('{pattern}')").df()


def duckdb_table_frame(database: Path, schema: str, table: str) -> pd.DataFrame:
    """A table dbt built on DuckDB."""
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(f'SELECT * FROM "{schema}"."{table}"').df()


def _normalise_value(value):
    """One cell in a comparable form: arrays as tuples, Decimals as floats, NaN/NaT as None."""
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_normalise_value(v) for v in value)
    if isinstance(value, Decimal):
        return float(value)
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return (value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value).to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value


def normalise(frame: pd.DataFrame) -> tuple[list[str], list[tuple]]:
    """(lower-case column names, rows of comparable cells): timestamps as naive UTC, arrays as tuples, nulls
    as None. Plain lists, not a DataFrame: pandas would turn None back into NaN."""
    columns = [str(col).lower() for col in frame.columns]
    rows = [tuple(_normalise_value(v) for v in row) for row in frame.astype(object).itertuples(index=False, name=None)]
    return columns, rows


def _sort_key(value) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, float):
        return f"{value:.6e}"
    return repr(value)


def compare_frames(expected: pd.DataFrame, actual: pd.DataFrame, rel_tol: float = 1e-9) -> list[str]:
    """Differences between two tables as rows (order-free), floats equal up to `rel_tol`; [] when equal."""
    columns, expected_rows = normalise(expected)
    actual_columns, actual_rows = normalise(actual)
    if sorted(columns) != sorted(actual_columns):
        return [f"columns differ: only DuckDB {sorted(set(columns) - set(actual_columns))}, "
                f"only Spark {sorted(set(actual_columns) - set(columns))}"]
    order = [actual_columns.index(col) for col in columns]
    actual_rows = [tuple(row[i] for i in order) for row in actual_rows]
    if len(expected_rows) != len(actual_rows):
        return [f"row counts differ: DuckDB {len(expected_rows)}, Spark {len(actual_rows)}"]

    def ordered(rows: list[tuple]) -> list[tuple]:
        return sorted(rows, key=lambda row: tuple(_sort_key(v) for v in row))

    problems = []
    for index, (left, right) in enumerate(zip(ordered(expected_rows), ordered(actual_rows), strict=True)):
        for column, a, b in zip(columns, left, right, strict=True):
            if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
                equal = math.isclose(float(a), float(b), rel_tol=rel_tol, abs_tol=1e-9)
            else:
                equal = a == b
            if not equal:
                problems.append(f"row {index}, column {column}: DuckDB {a!r} != Spark {b!r}")
                if len(problems) >= 10:
                    return problems
    return problems
