"""Raw ingestion: exactly once, nothing lost, bad input quarantined with a reason."""

from __future__ import annotations

import json
import os
import time
from datetime import date

import duckdb
import pytest
from landing_helpers import customer, order

from orchestration.ingestion.entities import ENTITIES, get_entity
from orchestration.ingestion.landing import LandingFile, scan_entity, scan_landing
from orchestration.ingestion.loader import HASH_CACHE_FILE, REHASH_ENV, connect, load_entity, plan_partitions
from orchestration.ingestion.raw_views import create_raw_views

ORDERS = get_entity("shop__orders")
POS = get_entity("pos__transactions")
D1, D2, D3 = date(2026, 2, 1), date(2026, 2, 2), date(2026, 2, 3)
POS_HEADER = ("transaction_id,line_number,store_id,occurred_at,customer_email,shop_customer_id,product_id,"
              "sku,category,quantity,unit_price,currency\n")


def load(landing, raw_root, entity=ORDERS, days=None):
    files, _ = scan_entity(landing.root, entity)
    con = connect()
    try:
        return load_entity(con, entity, files, raw_root, days or sorted({f.file_date for f in files}))
    finally:
        con.close()


def warehouse(tmp_path, raw_root):
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    create_raw_views(con, raw_root)
    return con


@pytest.fixture
def raw_root(tmp_path):
    return tmp_path / "lake" / "raw"


def test_every_kind_of_bad_line_is_quarantined_and_the_rest_loads(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [
        order(1),
        "this is not json",
        json.dumps(order(2))[:60],  # truncated
        {k: v for k, v in order(3).items() if k != "id"},  # missing required field
        order(4, total_price="abc"),  # wrong type (money)
        order(5, customer_id="x1"),  # wrong type (int)
        order(6, created_at="yesterday"),  # wrong type (timestamp)
        order(7, updated_at="2031-01-01T00:00:00Z"),  # far future: clock skew
        "[1, 2, 3]",  # JSON but not an object
        "",  # blank line: counted, not a record
        order(8, new_field={"drift": True}),  # schema drift: loaded, field kept
        order(9, created_at="2026-02-01T12:00:00+03:00", updated_at="2026-02-01T12:00:00+03:00"),
    ])
    result = load(landing, raw_root)
    (part,) = result.partitions
    assert part.status == "loaded"
    assert (part.rows_read, part.rows_loaded, part.rows_quarantined) == (11, 3, 8)
    assert part.files[0].blank_lines == 1

    con = warehouse(tmp_path, raw_root)
    reasons = dict(con.execute("SELECT line, reason FROM raw.quarantine ORDER BY line").fetchall())
    assert set(reasons) == {2, 3, 4, 5, 6, 7, 8, 9}
    assert reasons[2].startswith("not valid JSON")
    assert reasons[3].startswith("not valid JSON")
    assert reasons[4] == "missing required field: id"
    assert reasons[5].startswith("wrong type for total_price")
    assert reasons[6].startswith("wrong type for customer_id")
    assert reasons[7].startswith("wrong type for created_at")
    assert reasons[8].startswith("timestamp in the future")
    assert reasons[9] == "not a JSON object"
    raw_text = con.execute("SELECT raw_text FROM raw.quarantine WHERE line = 2").fetchone()[0]
    assert raw_text == "this is not json"

    rows = con.execute(
        "SELECT id, _line, _file, total_price, created_at, _record->>'$.new_field.drift' "
        "FROM raw.shop__orders ORDER BY id"
    ).fetchall()
    assert [r[0] for r in rows] == [1, 8, 9]
    assert [r[1] for r in rows] == [1, 11, 12]
    assert rows[0][2] == "shop/orders/2026-02-01.jsonl"
    assert str(rows[0][3]) == "10.00"
    assert rows[1][5] == "true"  # the unknown field is kept
    assert rows[2][4].isoformat().startswith("2026-02-01T09:00:00")  # +03:00 converted to UTC


def test_loaded_plus_quarantined_equals_lines_read_in_the_manifest(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), "{bad", order(2)])
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, created="2026-02-02T00:00:00Z"), "nope"])
    load(landing, raw_root)
    con = warehouse(tmp_path, raw_root)
    rows = con.execute(
        "SELECT file, rows_read, rows_loaded, rows_quarantined, sha256 FROM raw.load_manifest ORDER BY file"
    ).fetchall()
    assert [(r[1], r[2], r[3]) for r in rows] == [(3, 2, 1), (2, 1, 1)]
    assert all(len(r[4]) == 64 for r in rows)
    data = con.execute("SELECT count(*) FROM raw.shop__orders").fetchone()[0]
    quarantined = con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
    assert data + quarantined == sum(r[1] for r in rows)


def test_rerunning_a_day_or_the_whole_history_adds_no_duplicate(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2)])
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, created="2026-02-02T00:00:00Z")])
    first = load(landing, raw_root)
    assert first.count("loaded") == 2
    again = load(landing, raw_root)
    assert again.count("unchanged") == 2 and again.rows_loaded == 0
    assert load(landing, raw_root, days=[D1]).count("unchanged") == 1
    con = warehouse(tmp_path, raw_root)
    assert con.execute("SELECT count(*), count(DISTINCT id) FROM raw.shop__orders").fetchone() == (3, 3)


def test_identical_redelivery_under_another_name_is_skipped(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2)])
    load(landing, raw_root)
    landing.jsonl("shop", "orders", "2026-02-01-redelivery.jsonl", [order(1), order(2)])
    result = load(landing, raw_root)
    (part,) = result.partitions
    statuses = {f.rel_path: f.status for f in part.files}
    assert statuses == {
        "shop/orders/2026-02-01.jsonl": "loaded",
        "shop/orders/2026-02-01-redelivery.jsonl": "duplicate",
    }
    con = warehouse(tmp_path, raw_root)
    assert con.execute("SELECT count(*) FROM raw.shop__orders").fetchone()[0] == 2
    # The duplicate is recorded, so the next run sees an unchanged day.
    assert load(landing, raw_root).count("unchanged") == 1


def test_same_name_different_bytes_keeps_the_old_partition_and_other_days_load(landing, raw_root, tmp_path):
    path = landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2)])
    load(landing, raw_root)
    path.write_text(json.dumps(order(99)) + "\n")
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, created="2026-02-02T00:00:00Z")])
    result = load(landing, raw_root)
    statuses = {p.partition: p.status for p in result.partitions}
    assert statuses == {D1: "conflict", D2: "loaded"}
    assert result.problems and "shop/orders/2026-02-01.jsonl" in result.problems[0]
    con = warehouse(tmp_path, raw_root)
    assert sorted(r[0] for r in con.execute("SELECT id FROM raw.shop__orders").fetchall()) == [1, 2, 3]


def test_a_late_file_rematerialises_only_its_date(landing, raw_root, tmp_path):
    for day in (1, 2, 3):
        landing.jsonl("shop", "orders", f"2026-02-0{day}.jsonl", [order(day, created=f"2026-02-0{day}T01:00:00Z")])
    load(landing, raw_root)
    landing.jsonl("shop", "orders", "2026-02-02-late.jsonl", [order(20, created="2026-01-20T00:00:00Z")])
    result = load(landing, raw_root)
    assert {p.partition: p.status for p in result.partitions} == {D1: "unchanged", D2: "loaded", D3: "unchanged"}
    con = warehouse(tmp_path, raw_root)
    assert con.execute("SELECT count(*) FROM raw.shop__orders WHERE dt = DATE '2026-02-02'").fetchone()[0] == 2


def test_empty_file_gzip_and_multiple_files_a_day(landing, raw_root, tmp_path):
    landing.text("shop", "orders", "2026-02-01.jsonl", "")
    landing.jsonl("shop", "orders", "2026-02-02.jsonl.gz", [order(1), "bad", order(2)], compress=True)
    landing.jsonl("shop", "orders", "2026-02-02-b.jsonl", ["bad", order(3)])
    result = load(landing, raw_root)
    parts = {p.partition: p for p in result.partitions}
    assert parts[D1].status == "loaded" and parts[D1].rows_read == 0
    assert (parts[D2].rows_loaded, parts[D2].rows_quarantined) == (3, 2)
    con = warehouse(tmp_path, raw_root)
    lines = con.execute("SELECT _file, _line, id FROM raw.shop__orders ORDER BY id").fetchall()
    assert lines == [("shop/orders/2026-02-02.jsonl.gz", 1, 1), ("shop/orders/2026-02-02.jsonl.gz", 3, 2),
                     ("shop/orders/2026-02-02-b.jsonl", 2, 3)]
    q = con.execute("SELECT file, line FROM raw.quarantine ORDER BY file, line").fetchall()
    assert q == [("shop/orders/2026-02-02-b.jsonl", 1), ("shop/orders/2026-02-02.jsonl.gz", 2)]


def test_pos_csv_quoting_ragged_rows_and_wrong_types(landing, raw_root, tmp_path):
    landing.text("pos", "transactions", "2026-02-01.csv", POS_HEADER + "\n".join([
        "T-1,1,popup,2026-02-01T15:20:00-06:00,a@example.com,,P-100,COF-1KG,coffee,1,44.50,USD",
        'T-1,2,popup,2026-02-01T15:20:00-06:00,a@example.com,,P-101,"TEA, ""GREEN""",tea,2,9.00,USD',
        "T-2,1,popup,2026-02-01T15:20:00-06:00,b@example.com,,P-100,COF-1KG,coffee,1,44.50,USD,surplus",
        "T-3,1,popup,2026-02-01T15:20:00-06:00,b@example.com,,P-100,COF-1KG,coffee",
        "T-4,1,popup,2026-02-01T15:20:00-06:00,b@example.com,,P-100,COF-1KG,coffee,one,44.50,USD",
        'T-5,1,popup,2026-02-01T15:20:00-06:00,b@example.com,,P-100,"COF,coffee,1,44.50,USD',
    ]) + "\n")
    result = load(landing, raw_root, entity=POS)
    (part,) = result.partitions
    assert (part.rows_read, part.rows_loaded, part.rows_quarantined) == (6, 2, 4)
    con = warehouse(tmp_path, raw_root)
    rows = con.execute("SELECT transaction_id, line_number, sku, quantity, unit_price, _line "
                       "FROM raw.pos__transactions ORDER BY _line").fetchall()
    assert rows[1][2] == 'TEA, "GREEN"' and rows[1][3] == 2 and str(rows[1][4]) == "9.00"
    assert [r[5] for r in rows] == [2, 3]  # header is line 1
    reasons = dict(con.execute("SELECT line, reason FROM raw.quarantine").fetchall())
    assert reasons[4] == "too many columns: expected 12, found 13"
    assert reasons[5] == "too few columns: expected 12, found 9"
    assert reasons[6].startswith("wrong type for quantity")
    assert reasons[7].startswith("malformed CSV line")


def test_blank_and_padded_lines(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [
        "   ",  # only spaces: blank, counted apart
        "  " + json.dumps(order(1)),  # leading spaces: still a JSON object
        "\t",  # a tab is not blank: not JSON
        '  "just a string"',  # JSON, not an object
        order(2),
    ])
    landing.text("pos", "transactions", "2026-02-01.csv", POS_HEADER + "\n".join([
        "T-1,1,popup,2026-02-01T15:20:00-06:00,a@example.com,,P-100,COF-1KG,coffee,1,44.50,USD",
        "  ",
        "T-2,1,popup,2026-02-01T15:20:00-06:00,a@example.com,,P-100,COF-1KG,coffee,1,44.50,USD",
    ]) + "\n")
    (orders,) = load(landing, raw_root).partitions
    assert (orders.rows_read, orders.rows_loaded, orders.rows_quarantined) == (4, 2, 2)
    assert orders.files[0].blank_lines == 1
    (pos,) = load(landing, raw_root, entity=POS).partitions
    assert (pos.rows_read, pos.rows_loaded, pos.rows_quarantined, pos.files[0].blank_lines) == (2, 2, 0, 1)
    con = warehouse(tmp_path, raw_root)
    reasons = dict(con.execute("SELECT line, reason FROM raw.quarantine").fetchall())
    assert reasons[3].startswith("not valid JSON") and reasons[4] == "not a JSON object"
    assert con.execute("SELECT _line, _record->>'id' FROM raw.shop__orders ORDER BY _line").fetchall() == \
        [(2, "1"), (5, "2")]
    # Each day is one folder holding exactly its files; no temporary folder is left behind (beside the days:
    # the entity's `_`-prefixed ledger, which the raw views create).
    assert [p.name for p in (raw_root / "shop__orders").iterdir() if not p.name.startswith("_")] == ["dt=2026-02-01"]
    assert sorted(p.name for p in (raw_root / "shop__orders" / "dt=2026-02-01").iterdir()) == \
        ["_manifest.parquet", "_quarantine.parquet", "data_0.parquet"]


def test_csv_header_order_is_honoured_and_extra_columns_kept(landing, raw_root, tmp_path):
    landing.text("pos", "transactions", "2026-02-01.csv",
                 "line_number,transaction_id,occurred_at,quantity,unit_price,till\n"
                 "3,T-9,2026-02-01T10:00:00Z,1,5.00,till-7\n")
    load(landing, raw_root, entity=POS)
    con = warehouse(tmp_path, raw_root)
    row = con.execute("SELECT transaction_id, line_number, _record->>'till' FROM raw.pos__transactions").fetchone()
    assert row == ("T-9", 3, "till-7")


def test_names_with_quotes_spaces_and_semicolons_are_data_not_sql(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01-it's; DROP TABLE x; --.jsonl", [order(1)])
    result = load(landing, raw_root)
    assert result.rows_loaded == 1
    con = warehouse(tmp_path, raw_root)
    assert con.execute("SELECT _file FROM raw.shop__orders").fetchone()[0] == \
        "shop/orders/2026-02-01-it's; DROP TABLE x; --.jsonl"


def test_files_outside_the_layout_are_reported_not_guessed(landing):
    landing.jsonl("shop", "orders", "orders-latest.jsonl", [order(1)])
    landing.jsonl("shop", "orders", "2026-02-30.jsonl", [order(1)])
    landing.jsonl("shop", "orders", "2026-02-01.csv", [order(1)])
    landing.jsonl("crm", "contacts", "2026-02-01.jsonl", [{"id": 1}])
    landing.text("shop", "orders", "_SUCCESS", "")
    scan = scan_landing(landing.root)
    reasons = {p.rel_path: p.reason for p in scan.problems}
    assert "file name does not follow" in reasons["shop/orders/orders-latest.jsonl"]
    assert reasons["shop/orders/2026-02-30.jsonl"] == "not a calendar date: 2026-02-30"
    assert "delivered as .jsonl" in reasons["shop/orders/2026-02-01.csv"]
    assert reasons["crm/contacts"] == "not a source/entity of the landing-zone contract"
    assert "shop/orders/_SUCCESS" not in reasons
    assert scan.files["shop__orders"] == []


def settle(path, seconds_ago=3600):
    """Set the file's modification time `seconds_ago` back (by default as for a file delivered an hour before it
    is loaded; a negative value sets it ahead)."""
    past = time.time_ns() - seconds_ago * 1_000_000_000
    os.utime(path, ns=(past, past))
    return path


@pytest.fixture
def reads(monkeypatch):
    """The landing files read to hash them, in order."""
    read: list[str] = []
    original = LandingFile.sha256

    def counted(self):
        read.append(self.rel_path)
        return original(self)

    monkeypatch.setattr(LandingFile, "sha256", counted)
    return read


def test_a_rerun_hashes_only_new_and_rewritten_files(landing, raw_root, tmp_path, reads):
    day1 = settle(landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2)]))
    settle(landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, created="2026-02-02T00:00:00Z")]))
    files, _ = scan_entity(landing.root, ORDERS)
    con = connect()
    plan_partitions(con, raw_root, ORDERS, files, [D1, D2])  # what `c360 run` asks before its run
    con.close()
    assert load(landing, raw_root).count("loaded") == 2
    assert sorted(reads) == ["shop/orders/2026-02-01.jsonl", "shop/orders/2026-02-02.jsonl"]  # once each
    reads.clear()
    assert load(landing, raw_root).count("unchanged") == 2
    assert reads == []
    # A late file, and day 1 re-delivered with other bytes (a new modification time): read, and caught.
    landing.jsonl("shop", "orders", "2026-02-02-late.jsonl", [order(4, created="2026-02-02T05:00:00Z")])
    day1.write_text(json.dumps(order(99)) + "\n")
    result = load(landing, raw_root)
    assert {p.partition: p.status for p in result.partitions} == {D1: "conflict", D2: "loaded"}
    assert sorted(reads) == ["shop/orders/2026-02-01.jsonl", "shop/orders/2026-02-02-late.jsonl"]


def test_a_file_hashed_right_after_it_was_written_is_hashed_again(landing, raw_root, reads):
    # Its modification time is not settled: a write in the same time step as the hashing could keep it.
    path = landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])
    # As if written a second from now: a slow machine could otherwise take the 2 s between writing and hashing.
    settle(path, seconds_ago=-1)
    load(landing, raw_root)
    load(landing, raw_root)
    assert reads == ["shop/orders/2026-02-01.jsonl"] * 2
    settle(path)  # an hour later, as far as its time says: hashed once more, then trusted
    load(landing, raw_root)
    load(landing, raw_root)
    assert len(reads) == 3


def test_rehash_reads_every_file_and_catches_a_rewrite_that_kept_size_and_time(landing, raw_root, reads,
                                                                                monkeypatch):
    path = settle(landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)]))
    load(landing, raw_root)
    recorded = os.stat(path).st_mtime_ns
    path.write_text(json.dumps(order(7)) + "\n")  # the same length, other bytes
    os.utime(path, ns=(recorded, recorded))
    # The quick check trusts (size, time): a rewrite that restores both goes unseen...
    assert load(landing, raw_root).count("unchanged") == 1
    # ...unless every file is hashed.
    monkeypatch.setenv(REHASH_ENV, "1")
    assert load(landing, raw_root).count("conflict") == 1
    assert len(reads) == 2


def test_an_unreadable_hash_cache_costs_only_hashing(landing, raw_root, reads):
    settle(landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)]))
    load(landing, raw_root)
    (raw_root / "shop__orders" / HASH_CACHE_FILE).write_text("not parquet")
    assert load(landing, raw_root).count("unchanged") == 1
    assert load(landing, raw_root).count("unchanged") == 1
    assert len(reads) == 2  # the first load and the one after the damage: the cache was written anew


def test_an_interrupted_swap_is_recovered(landing, raw_root, tmp_path):
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1)])
    load(landing, raw_root)
    part = raw_root / "shop__orders" / "dt=2026-02-01"
    part.rename(raw_root / "shop__orders" / ".old-dt=2026-02-01.deadbeef")  # crash between the renames
    assert load(landing, raw_root).count("unchanged") == 1
    assert part.is_dir()


def test_views_exist_and_are_typed_for_absent_sources(tmp_path, raw_root):
    con = warehouse(tmp_path, raw_root)
    for entity in ENTITIES:
        cols = {row[0]: row[1] for row in con.execute(f"DESCRIBE raw.{entity.name}").fetchall()}
        for f in entity.fields:
            expected = con.execute(f"SELECT typeof(CAST(NULL AS {f.duckdb_type}))").fetchone()[0]
            assert cols[f.name] == expected, f.name
        assert con.execute(f"SELECT count(*) FROM raw.{entity.name}").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0] == 0


def test_upsert_versions_are_all_kept_in_raw(landing, raw_root, tmp_path):
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [customer(1, "2026-02-01T10:00:00Z")])
    landing.jsonl("shop", "customers", "2026-02-02.jsonl",
                  [customer(1, "2026-02-02T10:00:00Z", accepts_marketing=False)])
    load(landing, raw_root, entity=get_entity("shop__customers"))
    con = warehouse(tmp_path, raw_root)
    assert con.execute("SELECT count(*) FROM raw.shop__customers WHERE id = 1").fetchone()[0] == 2


# The reason ingestion gives for each kind of dirt the generator injects.
REASON_OF_KIND = {
    "not_json": "not valid JSON",
    "truncated": "not valid JSON",
    "missing_required": "missing required field",
    "wrong_type": "wrong type for",
    "too_many_columns": "too many columns",
    "far_future": "timestamp in the future",
}


def test_generated_dirt_of_every_kind_is_quarantined_exactly_and_nothing_is_lost(tmp_path, raw_root):
    from orchestration.sample_data import DirtRates, generate
    from orchestration.sample_data.config import QUARANTINE_KINDS

    landing_root = tmp_path / "landing"
    summary = generate(landing_root, tier="tiny", days=30, dirt=DirtRates.heavy())
    scan = scan_landing(landing_root)
    con = connect()
    for name, files in scan.files.items():
        load_entity(con, get_entity(name), files, raw_root, scan.dates)
    con.close()
    wh = warehouse(tmp_path, raw_root)
    for name, entity_summary in summary.entities.items():
        source, entity = name.split("__")
        quarantined = dict(wh.execute(
            "SELECT reason, count(*) FROM raw.quarantine WHERE source = ? AND entity = ? GROUP BY reason",
            [source, entity]).fetchall())
        for reason_prefix in set(REASON_OF_KIND.values()):
            injected = sum(entity_summary.dirt.get(kind, 0) for kind in QUARANTINE_KINDS
                           if REASON_OF_KIND[kind] == reason_prefix)
            found = sum(n for reason, n in quarantined.items() if reason.startswith(reason_prefix))
            assert found == injected, f"{name}: {reason_prefix!r} quarantined {found}, injected {injected}"
    assert sum(e.quarantine_expected for e in summary.entities.values()) > 0
    # Per file: every line read is either loaded or quarantined.
    bad = wh.execute(
        "SELECT file FROM raw.load_manifest WHERE status = 'loaded' AND rows_read <> rows_loaded + rows_quarantined"
    ).fetchall()
    assert bad == []
    read = wh.execute("SELECT sum(rows_read) FROM raw.load_manifest WHERE status = 'loaded'").fetchone()[0]
    loaded = sum(wh.execute(f"SELECT count(*) FROM raw.{e.name}").fetchone()[0] for e in ENTITIES)
    quarantined_total = wh.execute("SELECT count(*) FROM raw.quarantine").fetchone()[0]
    assert read == loaded + quarantined_total
    # The generator's identical re-deliveries are recorded as duplicates, not loaded twice.
    duplicates = wh.execute("SELECT count(*) FROM raw.load_manifest WHERE status = 'duplicate'").fetchone()[0]
    assert duplicates == sum(1 for fs in summary.files.values() for f in fs if "redelivery" in f) > 0


def test_a_source_that_stopped_delivering_warns_on_its_raw_asset():
    from types import SimpleNamespace

    from orchestration.ingestion.assets import delivery_check
    from orchestration.ingestion.entities import get_entity

    orders = get_entity("shop__orders")
    files = [SimpleNamespace(file_date=date(2026, 10, d)) for d in (1, 2, 28)]
    fine = delivery_check(orders, files, date(2026, 10, 31))
    assert fine.passed and fine.metadata["silent_days"].value == 3
    stale = delivery_check(orders, files[:2], date(2026, 10, 31))
    assert not stale.passed and stale.severity.value == "WARN" and "more than the 3 days" in stale.description
    # Sparse streams get a longer allowance; an absent optional source is not a warning.
    erasures = get_entity("privacy__deletion_requests")
    assert delivery_check(erasures, files[:2], date(2026, 10, 31)).passed
    assert delivery_check(erasures, [], date(2026, 10, 31)).passed
