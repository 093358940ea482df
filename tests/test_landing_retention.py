"""Landing retention (ingestion/retention.py, C360_LANDING_RETENTION_DAYS): old landing files are deleted once
their day is loaded, audited and built, and the loader knows they are gone on purpose."""

from __future__ import annotations

import json
from datetime import date

import duckdb
from landing_helpers import order

from orchestration.ingestion.entities import get_entity
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.ledger import current_loads, mark
from orchestration.ingestion.loader import connect, load_entity
from orchestration.ingestion.retention import retire_landing_files
from orchestration.settings import Settings

ORDERS = get_entity("shop__orders")
D1, D2, D3 = date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 3)
TODAY = date(2026, 3, 1)


def _load(landing, raw_root, days=None):
    files, _ = scan_entity(landing.root, ORDERS)
    con = connect()
    try:
        return load_entity(con, ORDERS, files, raw_root, days or sorted({f.file_date for f in files}))
    finally:
        con.close()


def _orders(day: date, *ids: int) -> list[dict]:
    return [order(i, created=f"{day.isoformat()}T01:00:00Z") for i in ids]


def _finish(raw_root, days):
    loads = [ld for ld in current_loads(raw_root)["shop__orders"] if ld[0] in days]
    mark(raw_root, "shop__orders", "audited", loads, "run-1")
    mark(raw_root, "shop__orders", "built", loads, "run-1")


def _manifest(raw_root):
    return duckdb.connect().execute(f"SELECT partition_date, file, status FROM read_parquet('{raw_root}/shop__orders/"
                                    "dt=*/_manifest.parquet', hive_partitioning = false) ORDER BY 1, 2").fetchall()


def test_old_files_of_finished_days_are_deleted_and_the_loader_knows(landing, tmp_path):
    raw_root = tmp_path / "lake" / "raw"
    first = landing.jsonl("shop", "orders", f"{D1}.jsonl", _orders(D1, 1, 2))
    late = landing.jsonl("shop", "orders", f"{D1}-late.jsonl", _orders(D1, 3))
    second = landing.jsonl("shop", "orders", f"{D2}.jsonl", _orders(D2, 4))
    third = landing.jsonl("shop", "orders", f"{D3}.jsonl", _orders(D3, 5))
    _load(landing, raw_root)
    _finish(raw_root, {D1, D3})  # D2 is loaded but not built yet: its file stays
    changed = json.dumps(_orders(D3, 6)[0]) + "\n"
    third.write_text(changed)  # D3's file now differs from what was loaded: a conflict to report, not to delete

    result = retire_landing_files(landing.root, raw_root, retention_days=7, today=TODAY)
    assert (result.files_deleted, result.days_retired, result.kept_not_done, result.kept_changed) == (2, 1, 1, 1)
    assert not first.exists() and not late.exists() and second.exists() and third.read_text() == changed
    assert _manifest(raw_root) == [(D1, f"shop/orders/{D1}-late.jsonl", "retired"),
                                   (D1, f"shop/orders/{D1}.jsonl", "retired"),
                                   (D2, f"shop/orders/{D2}.jsonl", "loaded"),
                                   (D3, f"shop/orders/{D3}.jsonl", "loaded")]
    rows = duckdb.connect().execute(f"SELECT count(*) FROM read_parquet('{raw_root}/shop__orders/dt={D1}/"
                                    "data_0.parquet')").fetchone()[0]
    assert rows == 3  # the lake keeps the day's records

    # The next load: D1 unchanged (not a missing file), D3's rewrite the usual conflict.
    result = _load(landing, raw_root, days=[D1, D2, D3])
    assert {p.partition: p.status for p in result.partitions} == {D1: "unchanged", D2: "unchanged", D3: "conflict"}

    # The same bytes delivered again change nothing and are not loaded twice.
    first.write_text("".join(json.dumps(o) + "\n" for o in _orders(D1, 1, 2)))
    assert {p.partition: p.status for p in _load(landing, raw_root, days=[D1]).partitions} == {D1: "unchanged"}
    first.unlink()
    # A new file for a retired day cannot be merged into it: a conflict that says why.
    landing.jsonl("shop", "orders", f"{D1}-later.jsonl", _orders(D1, 9))
    result = _load(landing, raw_root, days=[D1])
    assert [p.status for p in result.partitions] == ["conflict"]
    assert "deleted by landing retention" in result.partitions[0].detail

    # Nothing older than the window: nothing deleted; a second pass has nothing left to do.
    assert retire_landing_files(landing.root, raw_root, retention_days=60, today=TODAY).files_deleted == 0


def test_retention_is_off_unless_set_and_must_be_a_number_of_days():
    assert Settings.from_env({"C360_HOME": "/tmp/x"}).landing_retention_days is None
    assert Settings.from_env({"C360_HOME": "/tmp/x", "C360_LANDING_RETENTION_DAYS": "30"}).landing_retention_days == 30
    try:
        Settings.from_env({"C360_HOME": "/tmp/x", "C360_LANDING_RETENTION_DAYS": "a month"})
    except ValueError as exc:
        assert "C360_LANDING_RETENTION_DAYS" in str(exc)
    else:
        raise AssertionError("a non-number was accepted")
