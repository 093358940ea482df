"""The raw layer's ledger (ingestion/ledger.py): per (entity, export date), loaded, audited, built; a day is done
only when all three hold for its current load, and every other loaded day is taken up by the next run."""

from __future__ import annotations

import json
from datetime import date

import duckdb
import pytest
from dagster import RunRequest, build_schedule_context, build_sensor_context
from landing_helpers import customer, order

from orchestration.automation.triggers import build_daily_schedule, build_landing_sensor
from orchestration.ingestion.entities import get_entity
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.ledger import (
    LEDGER_FILE,
    current_loads,
    describe,
    mark,
    read_ledger,
    unaudited_days,
    unfinished,
)
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.raw_views import create_raw_views
from orchestration.quality.audit import AuditRun, audit_targets
from orchestration.quality.checks import raw_audit_loads
from orchestration.run import run_span
from orchestration.transform.assets import mark_built

ORDERS = get_entity("shop__orders")
D1, D2, D3 = date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 3)


def load(landing, raw_root, entity=ORDERS, replaceable=(), days=None):
    files, _ = scan_entity(landing.root, entity)
    con = connect()
    try:
        return load_entity(con, entity, files, raw_root, days or sorted({f.file_date for f in files}),
                           replaceable=replaceable)
    finally:
        con.close()


def state(raw_root):
    return {(s.entity, s.day): (s.audited, s.built) for s in read_ledger(raw_root)}


def orders_for(day: date, *ids: int) -> list[dict]:
    return [order(i, created=f"{day.isoformat()}T01:00:00Z") for i in ids]


@pytest.fixture
def raw_root(tmp_path):
    return tmp_path / "lake" / "raw"


def test_a_day_is_done_only_when_its_current_load_is_audited_and_built(landing, raw_root, tmp_path):
    assert read_ledger(raw_root) == [] and unfinished(raw_root) == []
    for day in (D1, D2):
        landing.jsonl("shop", "orders", f"{day}.jsonl", orders_for(day, day.day))
    load(landing, raw_root)
    assert state(raw_root) == {("shop__orders", D1): (False, False), ("shop__orders", D2): (False, False)}

    loads = current_loads(raw_root)["shop__orders"]
    assert mark(raw_root, "shop__orders", "audited", loads, "run-1") == 2
    assert mark(raw_root, "shop__orders", "built", [ld for ld in loads if ld[0] == D2], "run-1") == 1
    assert state(raw_root) == {("shop__orders", D1): (True, False), ("shop__orders", D2): (True, True)}
    assert [(s.day, s.audited, s.built) for s in unfinished(raw_root)] == [(D1, True, False)]
    assert mark(raw_root, "shop__orders", "built", loads, "run-2") == 2
    assert unfinished(raw_root) == []

    # A late file reloads D1: a new load, whose audit and build are still to come; D2 keeps its marks.
    landing.jsonl("shop", "orders", f"{D1}-late.jsonl", orders_for(D1, 11))
    load(landing, raw_root)
    assert state(raw_root) == {("shop__orders", D1): (False, False), ("shop__orders", D2): (True, True)}
    assert unaudited_days(raw_root, "shop__orders") == [D1]
    # A mark made for the load an audit read is void once the day was loaded again since.
    assert mark(raw_root, "shop__orders", "audited", [ld for ld in loads if ld[0] == D1], "run-3") == 0
    assert unaudited_days(raw_root, "shop__orders") == [D1]
    assert unfinished(raw_root, up_to=D1 - (D2 - D1)) == []  # nothing on or before the day before D1
    assert (raw_root / "shop__orders" / LEDGER_FILE).is_file()
    # The warehouse's view of it, one row per loaded partition (every entity's view exists, empty or not).
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    create_raw_views(con, raw_root)
    assert con.execute("SELECT partition_date, audit_run_id, build_run_id FROM raw.load_ledger ORDER BY 1"
                       ).fetchall() == [(D1, None, None), (D2, "run-1", "run-2")]
    con.close()


def test_the_ledger_view_exists_before_anything_is_loaded(tmp_path, raw_root):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    create_raw_views(con, raw_root)
    assert con.execute("SELECT count(*) FROM raw.load_ledger").fetchone()[0] == 0
    con.close()


def test_a_day_not_yet_audited_can_be_corrected_in_the_landing_zone_after_its_audit_it_cannot(landing, raw_root):
    path = landing.jsonl("shop", "orders", f"{D1}.jsonl", orders_for(D1, 1, 2))
    load(landing, raw_root)
    path.write_text(json.dumps(order(3, created=f"{D1}T01:00:00Z")) + "\n")  # the corrected export
    replaceable = unaudited_days(raw_root, "shop__orders")
    assert replaceable == [D1]
    # Without the ledger's say it is a conflict (the old partition kept) ...
    assert [p.status for p in load(landing, raw_root).partitions] == ["conflict"]
    # ... with it, the day is loaded again from the file as it is now.
    result = load(landing, raw_root, replaceable=replaceable)
    assert [p.status for p in result.partitions] == ["loaded"] and result.problems == []
    assert result.rows_loaded == 1

    # Once audited, the day is published material: a rewrite is a conflict again.
    mark(raw_root, "shop__orders", "audited", current_loads(raw_root)["shop__orders"], "run-1")
    path.write_text(json.dumps(order(4, created=f"{D1}T01:00:00Z")) + "\n")
    assert unaudited_days(raw_root, "shop__orders") == []
    assert [p.status for p in load(landing, raw_root, replaceable=[]).partitions] == ["conflict"]


def test_a_file_of_an_unaudited_day_removed_or_renamed_reloads_or_withdraws_the_day(landing, raw_root):
    landing.jsonl("shop", "orders", f"{D1}.jsonl", orders_for(D1, 1))
    bad = landing.jsonl("shop", "orders", f"{D1}-late.jsonl", orders_for(D1, 2))
    landing.jsonl("shop", "orders", f"{D2}.jsonl", orders_for(D2, 5))
    load(landing, raw_root)
    bad.rename(bad.with_name(f"{D1}-b.jsonl"))  # the same bytes under another name: loaded, not a duplicate
    result = load(landing, raw_root, replaceable=[D1])
    assert {p.partition: p.status for p in result.partitions} == {D1: "loaded", D2: "unchanged"}
    assert [f.status for f in result.partitions[0].files] == ["loaded", "loaded"]

    (landing.root / "shop" / "orders" / f"{D2}.jsonl").unlink()
    result = load(landing, raw_root, replaceable=[D2], days=[D1, D2])
    assert {p.partition: p.status for p in result.partitions} == {D1: "unchanged", D2: "withdrawn"}
    assert not (raw_root / "shop__orders" / f"dt={D2}").exists()
    assert [s.day for s in read_ledger(raw_root)] == [D1]


def test_a_raw_audit_covers_the_unaudited_days_and_names_the_loads_to_mark(landing, raw_root, c360_env):
    landing_root = c360_env.landing_root
    for day in (D1, D2, D3):
        path = landing_root / "shop" / "orders" / f"{day}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(orders_for(day, day.day)[0]) + "\n")
    files, _ = scan_entity(landing_root, ORDERS)
    con = connect()
    load_entity(con, ORDERS, files, c360_env.raw_root, [D1, D2, D3])
    con.close()
    mark(c360_env.raw_root, "shop__orders", "audited",
         [ld for ld in current_loads(c360_env.raw_root)["shop__orders"] if ld[0] == D2], "run-1")
    target = next(t for t in audit_targets([]) if t.asset == "raw/shop__orders")
    run = AuditRun("run-2", as_of_date=D3, partition_days=[D3])
    loads = raw_audit_loads(c360_env, target, run)
    assert run.partition_days == [D1, D3]  # D1 was never audited; D2 was
    assert [d for d, _ in loads] == [D1, D3]
    # The dbt build marks built what it reloaded: from reload_from_date to the as-of date.
    assert mark_built(c360_env, current_loads(c360_env.raw_root), D2.isoformat(), D2.isoformat(), "run-2") == 1
    assert mark_built(c360_env, current_loads(c360_env.raw_root), None, D3.isoformat(), "run-2") == 0
    assert state(c360_env.raw_root) == {("shop__orders", D1): (False, False), ("shop__orders", D2): (True, True),
                                        ("shop__orders", D3): (False, False)}


def test_run_span_reaches_back_to_every_unfinished_day():
    assert run_span([], [], D3) == (D3, D3)
    assert run_span([D3], [], D3) == (D3, D3)
    states = [s for s in _states()]
    assert run_span([], states, D3) == (D1, D2)
    assert run_span([D3], states, D3) == (D1, D3)
    note = describe(states)
    assert note.startswith("re-auditing 1 export date (2026-02-01) loaded by an earlier run and not yet audited "
                           "(raw_x)") and "building 1 export date (2026-02-02)" in note
    assert note.endswith("from 2026-02-01") and describe([]) is None


def _states():
    from datetime import datetime

    from orchestration.ingestion.ledger import DayState

    return [DayState("raw_x", D1, datetime(2026, 2, 1), False, False),
            DayState("raw_x", D2, datetime(2026, 2, 2), True, False)]


def test_the_schedule_and_the_sensor_take_up_unfinished_days(c360_env, landing):
    landing.jsonl("shop", "customers", f"{D1}.jsonl", [customer(1)])
    landing.jsonl("shop", "orders", f"{D1}.jsonl", orders_for(D1, 1))
    landing.jsonl("shop", "orders", f"{D2}.jsonl", orders_for(D2, 2))
    for name in ("shop__customers", "shop__orders"):
        files, _ = scan_entity(landing.root, get_entity(name))
        con = connect()
        load_entity(con, get_entity(name), files, c360_env.raw_root, [D1, D2])
        con.close()
        for entity, loads in current_loads(c360_env.raw_root, name).items():
            mark(c360_env.raw_root, entity, "audited", loads, "run-1")
            mark(c360_env.raw_root, entity, "built", [ld for ld in loads if ld[0] == D2], "run-1")
    # Nothing new in the landing zone, but D1 was never built: the schedule's run reaches back to it.
    request = build_daily_schedule(c360_env, "c360_main")(build_schedule_context())
    assert isinstance(request, RunRequest)
    assert (request.tags["dagster/asset_partition_range_start"], request.tags["dagster/asset_partition_range_end"],
            request.tags["c360/as_of_date"]) == ("2026-02-01", "2026-02-01", "2026-02-02")
    # A new file starts the sensor's run, which takes D1 up too.
    sensor_def = build_landing_sensor(c360_env, "c360_main")
    context = build_sensor_context(cursor=None)
    sensor_def(context)
    landing.jsonl("shop", "orders", f"{D3}.jsonl", orders_for(D3, 3))
    request = sensor_def(build_sensor_context(cursor=context.cursor))
    assert isinstance(request, RunRequest)
    assert (request.tags["dagster/asset_partition_range_start"],
            request.tags["dagster/asset_partition_range_end"]) == ("2026-02-01", "2026-02-03")
