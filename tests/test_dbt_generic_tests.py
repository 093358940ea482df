"""The project's own generic dbt tests fail on the data they exist to catch (tests/generic/ of the dbt project).

unique_since_reload guards the keys of the incremental event tables: with `reload_from_date` (a Dagster
partitioned run) it checks the rows exported from a margin before that date, among themselves and against
older rows; without it, the whole table.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest
from warehouse_helpers import run_dbt

pytestmark = pytest.mark.dbt

WEB = "intermediate.int_web_events_enriched"
EMAIL = "intermediate.int_email_events_enriched"
MARGIN_DAYS = 3 + 7  # the test's default: engagement_lookback_days (3) + 7


def unique_since_reload_failures(database, work, reload_from: date | None) -> dict[str, int]:
    """Run every unique_since_reload test (with reload_from_date when given): failure counts by model."""
    dbt_vars = {"as_of_date": "2026-10-31"}
    if reload_from:
        dbt_vars["reload_from_date"] = reload_from.isoformat()
    result = run_dbt(database, work, "test", "--select", "test_name:unique_since_reload",
                     "--vars", json.dumps(dbt_vars))
    assert result.exception is None, result.exception
    outcomes = {r.node.attached_node.split(".")[-1]: r.failures for r in result.result.results
                if r.node.resource_type == "test"}
    assert set(outcomes) == {"int_web_events_enriched", "int_email_events_enriched"}, outcomes
    return outcomes


def duplicate(con, table: str, key: str, *, exported: str, copy_exported_on: str | None = None) -> None:
    """Insert a second copy of one row of `table` exported on the day `exported` (a date SQL expression), the
    copy's export date moved to `copy_exported_on` when given."""
    columns = [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]
    values = ", ".join(f"{copy_exported_on} AS export_date" if c == "export_date" and copy_exported_on else c
                       for c in columns)
    inserted = con.execute(f"""
        INSERT INTO {table}
        SELECT {values} FROM {table}
        WHERE {key} = (SELECT min({key}) FROM {table} WHERE export_date = {exported})""").fetchone()[0]
    assert inserted == 1


def test_the_clean_tables_pass_with_and_without_a_reload_date(warehouse_copy, tmp_path):
    clean = {"int_web_events_enriched": 0, "int_email_events_enriched": 0}
    assert unique_since_reload_failures(warehouse_copy, tmp_path, date(2026, 10, 31)) == clean
    assert unique_since_reload_failures(warehouse_copy, tmp_path, None) == clean


def test_a_duplicate_among_the_reloaded_rows_or_against_an_older_row_fails(warehouse_copy, tmp_path):
    reload_from = date(2026, 10, 31)
    con = duckdb.connect(str(warehouse_copy))
    # a web event delivered twice in the days being reloaded
    duplicate(con, WEB, "message_id", exported="DATE '2026-10-31'")
    # an email event stored long ago, stored again with a reloaded day's export date
    old = (reload_from - timedelta(days=MARGIN_DAYS + 30)).isoformat()
    duplicate(con, EMAIL, "email_event_id", exported=f"(SELECT max(export_date) FROM {EMAIL} "
              f"WHERE export_date <= DATE '{old}')", copy_exported_on="DATE '2026-10-31'")
    con.close()
    assert unique_since_reload_failures(warehouse_copy, tmp_path, reload_from) == {
        "int_web_events_enriched": 1, "int_email_events_enriched": 1}


def test_a_duplicate_among_older_rows_is_found_by_the_whole_table_test(warehouse_copy, tmp_path):
    reload_from = date(2026, 10, 31)
    old = (reload_from - timedelta(days=MARGIN_DAYS + 30)).isoformat()
    con = duckdb.connect(str(warehouse_copy))
    duplicate(con, WEB, "message_id",
              exported=f"(SELECT max(export_date) FROM {WEB} WHERE export_date <= DATE '{old}')")
    con.close()
    # a partitioned run checks only what it can have added: rows it did not touch are out of its scope
    assert unique_since_reload_failures(warehouse_copy, tmp_path, reload_from)["int_web_events_enriched"] == 0
    # without the var (dbt by hand) the whole table is checked
    assert unique_since_reload_failures(warehouse_copy, tmp_path, None)["int_web_events_enriched"] == 1



def test_every_dbt_unit_test_passes_on_duckdb(warehouse_copy, tmp_path):
    """Every unit test of the project runs on DuckDB too, not only in the Spark build (test_spark): on the tiny
    run's warehouse, whose models give the fixtures their columns."""
    result = run_dbt(warehouse_copy, tmp_path, "test", "--select", "test_type:unit")
    assert result.success, [(r.node.name, r.message) for r in result.result.results if r.status != "pass"]
    ran = {r.node.name for r in result.result.results if r.status == "pass"}
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    declared = {node["name"] for node in manifest["unit_tests"].values()}
    assert ran == declared and len(declared) >= 20
