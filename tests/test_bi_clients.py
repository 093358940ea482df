"""serving.duckdb opened by the DuckDB that BI tools bundle: a DuckDB 1.x installed from the package registry in a
virtual environment of its own (cached in pytest's cache folder), apart from the project's DuckDB 2.0 writer.

1.1.3 is the oldest reader the README promises, 1.5.6 the newest 1.x. Both must open the published file, read every
column of every table, and see the dbt docs as comments."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from orchestration.publish.serving import dbt_descriptions, publish_serving

READER_VERSIONS = ("1.1.3", "1.5.6")


def reader_python(cache_root: Path, version: str) -> Path:
    """The python of a venv with duckdb==`version` only, made once under `cache_root` and reused after."""
    venv = cache_root / f"duckdb-{version}"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import duckdb; print(duckdb.__version__)"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True).stdout.strip() == version:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    # The registry is reachable in CI: a failed install fails the test, it is never skipped.
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                f"duckdb=={version}"], capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    assert subprocess.run(check, capture_output=True, text=True, check=True).stdout.strip() == version
    return python


@pytest.fixture(scope="session", params=READER_VERSIONS)
def duckdb_1x(request) -> tuple[str, Path]:
    """(version, python) of a DuckDB 1.x client installed apart from the project."""
    return request.param, reader_python(Path(request.config.cache.mkdir("duckdb-1x-readers")), request.param)


READ_EVERYTHING = textwrap.dedent("""
    import json, sys, duckdb
    con = duckdb.connect(sys.argv[1], read_only=True)
    out = {"version": duckdb.__version__, "tables": {}}
    for schema, table, comment in con.execute(
            "select schema_name, table_name, comment from duckdb_tables() order by all").fetchall():
        name = f'"{schema}"."{table}"'
        # every column decoded (as text; hashing keeps the output small), not only counted
        rows = con.execute(f"select count(*), sum(hash(columns(*)::varchar)) from {name}").fetchone()[0]
        columns = con.execute("select column_name, data_type, comment from duckdb_columns() where schema_name = ? "
                              "and table_name = ? order by column_index", [schema, table]).fetchall()
        out["tables"][f"{schema}.{table}"] = {"rows": rows, "comment": comment, "columns": columns}
    segment = sorted(t for t in out["tables"] if t.startswith("segments.seg_"))[0]
    out["segment"] = segment
    keys = con.execute(f"select customer_key::varchar from {segment} order by 1").fetchall()
    out["segment_keys"] = [k for (k,) in keys]
    out["customer_360_sample"] = con.execute(
        "select customer_key::varchar, first_order_at::varchar, lifetime_net_revenue::varchar, "
        "email_consent::varchar from marts.customer_360 order by customer_key limit 20").fetchall()
    print(json.dumps(out))
""")


def read_everything(python: Path | str, serving: Path) -> dict:
    """What a client sees in `serving`: per table rows, comment and columns; one segment's keys; a sample."""
    ran = subprocess.run([str(python), "-c", READ_EVERYTHING, str(serving)], capture_output=True, text=True,
                         timeout=300)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return json.loads(ran.stdout)


@pytest.fixture(scope="session")
def seen_by_the_writer(tiny_run) -> dict:
    """The published file as the project's own DuckDB (2.0) reads it."""
    home, _ = tiny_run
    return read_everything(sys.executable, home / "serving.duckdb")


def test_a_duckdb_1x_client_reads_customer_360_and_a_segment(tiny_run, duckdb_1x, seen_by_the_writer):
    version, python = duckdb_1x
    home, _ = tiny_run
    seen = read_everything(python, home / "serving.duckdb")
    assert seen["version"] == version
    expected = seen_by_the_writer
    assert seen["tables"]["marts.customer_360"]["rows"] == expected["tables"]["marts.customer_360"]["rows"] > 0
    assert seen["segment"] == expected["segment"]
    assert seen["segment_keys"] == expected["segment_keys"] != []
    assert seen["customer_360_sample"] == expected["customer_360_sample"]
    assert {t: v["rows"] for t, v in seen["tables"].items()} == {t: v["rows"] for t, v in expected["tables"].items()}
    assert {t: v["comment"] for t, v in seen["tables"].items()} == {
        t: v["comment"] for t, v in expected["tables"].items()}


def test_the_dbt_docs_are_the_published_comments(tiny_run, seen_by_the_writer):
    from orchestration.transform.project import dbt_project

    docs = dbt_descriptions(json.loads(dbt_project().manifest_path.read_text()))
    tables = seen_by_the_writer["tables"]
    customer_360 = tables["marts.customer_360"]
    assert customer_360["comment"] == docs["marts.customer_360"].description != ""
    described = {c: d for c, _, d in customer_360["columns"]}
    assert described == {c: docs["marts.customer_360"].columns[c.lower()] for c in described}  # every column
    for table, relation in docs.items():
        if table in tables and relation.description:
            assert tables[table]["comment"] == relation.description, table
    segment = seen_by_the_writer["segment"]
    assert tables[segment]["comment"] and all(d for _, _, d in tables[segment]["columns"])


LONG_LIVED = textwrap.dedent("""
    import sys, duckdb
    path = sys.argv[1]
    def count(con):
        return con.execute("select count(*) from marts.customer_360").fetchone()[0]
    first = duckdb.connect(path, read_only=True)
    print(count(first), flush=True)
    sys.stdin.readline()  # published meanwhile
    second = duckdb.connect(path, read_only=True)  # a new connection while the first is still open
    print(count(first), count(second), flush=True)
    first.close(); second.close()
    print(count(duckdb.connect(path, read_only=True)), flush=True)  # every connection closed, then reopened
""")


def small_warehouse(path: Path, customers: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.customer_360 as select range as customer_key from range({customers})")
    con.close()


def test_a_long_lived_1x_connection_sees_a_new_publish_only_once_every_connection_closed(tmp_path, duckdb_1x):
    _, python = duckdb_1x
    serving = tmp_path / "serving.duckdb"
    small_warehouse(tmp_path / "old.duckdb", 5)
    small_warehouse(tmp_path / "new.duckdb", 8)
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        publish_serving(con, serving)
    reader = subprocess.Popen([str(python), "-c", LONG_LIVED, str(serving)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "5"
        inode = os.stat(serving).st_ino
        with duckdb.connect(str(tmp_path / "new.duckdb")) as con:
            publish_serving(con, serving)
        assert os.stat(serving).st_ino != inode  # renamed over: the reader's open file is the old one
        reader.stdin.write("go\n")
        reader.stdin.flush()
        # The process's DuckDB instance for that path stays the old file while any connection to it is open.
        assert reader.stdout.readline().strip() == "5 5"
        assert reader.stdout.readline().strip() == "8"
        assert reader.wait(timeout=60) == 0
    finally:
        reader.kill()
        reader.wait()
