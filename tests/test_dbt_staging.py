"""dbt staging layer: upsert and dedupe semantics, normalisation, flags and the as-of date, on a tiny
warehouse built from hand-written landing files through the ingestion API.

One `dbt build --select staging` per warehouse (module-scoped fixtures); each test only queries.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from landing_helpers import Landing, customer, order
from warehouse_helpers import DBT_PROJECT_DIR, build_warehouse
from warehouse_helpers import run_dbt as dbt

pytestmark = pytest.mark.dbt

AS_OF = "2026-02-03"
POS_HEADER = ("transaction_id,line_number,store_id,occurred_at,customer_email,shop_customer_id,product_id,"
              "sku,category,quantity,unit_price,currency\n")


def assert_built(result) -> None:
    """The invocation succeeded and no node errored or failed."""
    assert result.exception is None, result.exception
    bad = [(r.node.name, str(r.status), r.message) for r in result.result.results
           if str(r.status) in ("error", "fail", "runtime error", "skipped")]
    assert not bad, bad
    assert result.success


def write_full_landing(landing: Landing) -> None:
    """Every entity; files dated 02-01 .. 02-04, the last one after the as-of date (02-03)."""
    # shop/customers: mixed-case emails with spaces; 1001 updated on 02-02
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [
        customer(1001, "2026-02-01T09:00:00Z", email=" Naomi.Park@Example.com",
                 default_address={"city": "Austin", "country_code": "us"}),
        customer(1002, "2026-02-01T09:00:00Z", email="MARSHALL@example.com "),
    ])
    landing.jsonl("shop", "customers", "2026-02-02.jsonl", [
        customer(1001, "2026-02-02T09:00:00Z", email=" Naomi.Park@Example.com", phone="+14155550101",
                 loyalty_note="unknown field"),
    ])
    # shop/orders: order 1 pending -> paid -> partially refunded (and refunded after the as-of date)
    line_items = [
        {"id": 1, "product_id": "P-100", "category": "coffee", "quantity": 2, "price": "44.50"},
        {"id": 2, "product_id": "P-200", "category": "filters", "quantity": 1, "price": "12.00"},
    ]
    first = order(1, "2026-02-01T10:00:00+01:00", financial_status="pending", total_price="101.00",
                  line_items=line_items)
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [
        first,
        order(2, "2026-02-01T11:00:00Z", test=True),
        order(3, "2026-02-01T12:00:00Z", customer_id=None, email=" Guest@Example.COM "),
    ])
    paid = {**first, "updated_at": "2026-02-02T09:00:00Z", "financial_status": "paid"}
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [paid, paid])  # the same version delivered twice
    refunded_part = {
        **paid, "updated_at": "2026-02-03T08:00:00Z", "financial_status": "partially_refunded",
        "refunds": [{"id": 9, "created_at": "2026-02-03T08:00:00Z", "amount": "44.50", "reason": "damaged"}],
        "fulfillments": [{"id": 7, "carrier": "UPS", "status": "delivered", "shipped_at": "2026-02-01T15:00:00Z",
                          "promised_delivery_at": "2026-02-02T12:00:00Z",
                          "delivered_at": "2026-02-02T18:00:00Z"}],
    }
    landing.jsonl("shop", "orders", "2026-02-03.jsonl", [
        refunded_part,
        order(4, "2026-02-03T09:00:00Z", cancelled_at="2026-02-03T10:00:00Z", updated_at="2026-02-03T10:00:00Z"),
        order(5, "2026-02-03T09:30:00Z", financial_status="voided"),
    ])
    landing.jsonl("shop", "orders", "2026-02-04.jsonl", [
        {**refunded_part, "updated_at": "2026-02-04T08:00:00Z", "financial_status": "refunded"},
        order(6, "2026-02-04T09:00:00Z"),
        order(7, "2026-02-03T22:00:00Z"),  # happened before the end of the as-of date, exported after it
    ])
    # pos: a two-line receipt, line 1 re-delivered the next day
    receipt = "popup-austin,2026-02-02T15:20:00-06:00, Naomi.Park@Example.com ,1001"
    pos_line1 = f"T-1,1,{receipt},P-100,COF-1KG,coffee,1,44.50,USD"
    pos_line2 = f"T-1,2,{receipt},P-300,TEA,tea,3,5.00,USD"
    landing.text("pos", "transactions", "2026-02-02.csv", POS_HEADER + pos_line1 + "\n" + pos_line2 + "\n")
    landing.text("pos", "transactions", "2026-02-03.csv", POS_HEADER + pos_line1 + "\n")
    # web: m1 delivered twice (across files), m4 after the as-of date
    m1 = {"type": "track", "messageId": "m1", "anonymousId": "a-1", "userId": "1001", "event": "Product Viewed",
          "properties": {"product_id": "P-100", "category": "coffee", "price": 44.5},
          "context": {"channel": "web", "page": {"url": "https://shop.example/p/100"},
                      "campaign": {"source": "Newsletter", "medium": "email"}},
          "timestamp": "2026-02-01T17:58:00Z"}
    landing.jsonl("web", "events", "2026-02-01.jsonl", [
        m1,
        {"type": "identify", "messageId": "m2", "anonymousId": "a-1", "userId": "1001",
         "traits": {"email": " NAOMI.park@example.com"}, "timestamp": "2026-02-01T18:00:00Z"},
    ])
    landing.jsonl("web", "events", "2026-02-02.jsonl", [
        {"type": "page", "messageId": "m3", "anonymousId": "a-9", "name": "Home", "properties": {"path": "/"},
         "timestamp": "2026-02-02T08:00:00Z"},
        m1,
    ])
    landing.jsonl("web", "events", "2026-02-04.jsonl", [
        {"type": "track", "messageId": "m4", "anonymousId": "a-1", "event": "Product Viewed",
         "timestamp": "2026-02-04T08:00:00Z"},
    ])
    # esp: one event delivered twice in one file
    opened = {"id": "ev_1", "metric": "Opened Email", "email": "Naomi.Park@Example.com",
              "timestamp": "2026-02-02T07:31:00Z", "campaign_id": "c_spring",
              "properties": {"subject": "Spring blends"}}
    landing.jsonl("esp", "email_events", "2026-02-02.jsonl", [
        opened, opened,
        {"id": "ev_2", "metric": "Bounced Email", "email": "x@example.com", "timestamp": "2026-02-02T08:00:00Z",
         "properties": {"bounce_type": "Hard"}},
    ])
    # reviews: 5 stars edited down to 1 star
    review = {"id": "r_501", "product_id": "P-100", "customer_id": 1001, "customer_email": "Naomi.Park@Example.com",
              "rating": 5, "status": "published", "created_at": "2026-02-01T20:00:00Z",
              "updated_at": "2026-02-01T20:00:00Z"}
    landing.jsonl("reviews", "reviews", "2026-02-01.jsonl", [review])
    landing.jsonl("reviews", "reviews", "2026-02-02.jsonl",
                  [{**review, "rating": 1, "updated_at": "2026-02-02T20:00:00Z"}])
    landing.jsonl("support", "tickets", "2026-02-02.jsonl", [
        {"id": 7001, "requester_email": "naomi.park@example.com", "channel": "chat", "status": "Open",
         "order_id": 1, "satisfaction": "bad", "tags": ["damaged"], "created_at": "2026-02-02T20:05:00Z",
         "updated_at": "2026-02-02T20:05:00Z"},
    ])
    landing.jsonl("loyalty", "ledger", "2026-02-01.jsonl", [
        {"id": "l_1", "customer_id": 1002, "type": "earn", "points": 500, "order_id": 1,
         "occurred_at": "2026-02-01T12:00:00Z", "expires_at": "2026-03-01T00:00:00Z", "reason": "purchase"},
        {"id": "l_2", "customer_id": 1002, "type": "redeem", "points": 100, "occurred_at": "2026-02-01T13:00:00Z"},
    ])
    landing.jsonl("loyalty", "tier_changes", "2026-02-01.jsonl", [
        {"id": "t_1", "customer_id": 1002, "previous_tier": "silver", "tier": "Gold",
         "changed_at": "2026-02-01T12:00:01Z"},
    ])
    landing.jsonl("subscriptions", "subscriptions", "2026-02-01.jsonl", [
        {"id": "s_77", "customer_id": 1002, "email": "Marshall@Example.com", "product_id": "P-200",
         "category": "filters", "status": "active", "interval_days": 30, "price": "12.00",
         "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-02-01T00:00:00Z"},
    ])
    landing.jsonl("referrals", "referrals", "2026-02-02.jsonl", [
        {"id": "ref_1", "referrer_customer_id": 1001, "referee_email": "Friend@Example.com", "status": "converted",
         "converted_order_id": 3, "created_at": "2026-02-01T00:00:00Z", "updated_at": "2026-02-02T00:00:00Z",
         "converted_at": "2026-02-02T00:00:00Z"},
    ])
    landing.jsonl("privacy", "deletion_requests", "2026-02-04.jsonl", [
        {"id": "del_3", "email": " Gone@Example.com", "customer_id": 1099, "requested_at": "2026-02-04T10:00:00Z"},
    ])


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """Every source loaded; `dbt build --select staging` with as_of_date = 2026-02-03."""
    base = tmp_path_factory.mktemp("dbt_staging_full")
    landing = Landing(base / "landing")
    write_full_landing(landing)
    database = build_warehouse(landing.root, base / "home")
    result = dbt(database, base, "build", "--select", "staging", "--indirect-selection", "cautious",
                 "--vars", f"{{as_of_date: '{AS_OF}'}}")
    return database, base, result


@pytest.fixture(scope="module")
def shop_only(tmp_path_factory):
    """Only the required sources (shop customers and orders); every other raw view is empty."""
    base = tmp_path_factory.mktemp("dbt_staging_shop_only")
    landing = Landing(base / "landing")
    landing.jsonl("shop", "customers", "2026-02-01.jsonl", [customer(1001)])
    landing.jsonl("shop", "orders", "2026-02-01.jsonl", [order(1), order(2, customer_id=None)])
    landing.jsonl("shop", "orders", "2026-02-02.jsonl", [order(3, "2026-02-02T10:00:00Z")])
    database = build_warehouse(landing.root, base / "home")
    result = dbt(database, base, "build", "--select", "staging", "--indirect-selection", "cautious")
    return database, base, result


def query(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_build_passes_every_model_unit_test_and_data_test(full):
    _, _, result = full
    assert_built(result)
    kinds = {}
    for r in result.result.results:
        kinds[r.node.resource_type] = kinds.get(r.node.resource_type, 0) + 1
    # every staging model: one view per raw table, plus the views over the pipeline's own tables
    assert kinds["model"] == len(list((DBT_PROJECT_DIR / "models" / "staging").rglob("stg_*.sql")))
    assert kinds["unit_test"] >= 5
    assert kinds["test"] >= 50


def test_staging_models_are_in_the_staging_schema(full):
    database, _, _ = full
    relations = {r[0]: r[1] for r in query(database, "SELECT table_name, table_type FROM information_schema.tables "
                                                     "WHERE table_schema = 'staging'")}
    # tables (each read would deduplicate the history again), but views over the two event sources, read
    # in full only by their incremental tables' full refresh, and over the pipeline's own tables
    views = {"stg_web__events", "stg_esp__email_events", "stg_segments__memberships", "stg_segments__definitions",
             "stg_predictions__customer_predictions"}
    tables = {"stg_shop__customers", "stg_shop__orders", "stg_shop__order_lines", "stg_shop__order_refunds",
              "stg_shop__order_fulfillments", "stg_pos__transactions", "stg_reviews__reviews", "stg_support__tickets",
              "stg_loyalty__ledger", "stg_loyalty__tier_changes", "stg_subscriptions__subscriptions",
              "stg_referrals__referrals", "stg_privacy__deletion_requests",
              # the identifiers the two event sources carry, for identity resolution
              "stg_web__event_identifiers", "stg_esp__recipients"}
    assert relations == {**{v: "VIEW" for v in views}, **{t: "BASE TABLE" for t in tables}}


def test_an_order_updated_twice_is_one_row_with_the_latest_status_known_as_of(full):
    database, _, _ = full
    rows = query(database, "SELECT financial_status, updated_at, source_file, total_price "
                           "FROM staging.stg_shop__orders WHERE order_id = 1")
    # versions: pending (02-01), paid (02-02, twice), partially_refunded (02-03), refunded (02-04: after as-of)
    assert len(rows) == 1
    status, updated_at, source_file, total_price = rows[0]
    assert status == "partially_refunded"
    assert updated_at.isoformat() == "2026-02-03T08:00:00"
    assert source_file == "shop/orders/2026-02-03.jsonl"
    assert total_price == Decimal("101.00")


def copy_warehouse(database: Path, folder: Path) -> Path:
    """A copy of the warehouse file (and its WAL) in `folder`, for a test that alters it."""
    copy = folder / "warehouse.duckdb"
    shutil.copy(database, copy)
    wal = database.with_name(database.name + ".wal")  # dbt's in-process connection may not have checkpointed
    if wal.exists():
        shutil.copy(wal, copy.with_name(copy.name + ".wal"))
    return copy


def test_order_lines_stored_by_an_older_release_are_rebuilt(full, tmp_path):
    """The lines table kept incrementally needs each order version's raw row (source_file, source_line); a
    table stored before those columns existed is rebuilt by the next run, not left half-updated."""
    database, _, _ = full
    copy = copy_warehouse(database, tmp_path)
    lines = "SELECT * FROM staging.stg_shop__order_lines ORDER BY order_line_key"
    expected = query(copy, lines)
    con = duckdb.connect(str(copy))
    try:
        con.execute("ALTER TABLE staging.stg_shop__order_lines DROP COLUMN source_file")
        con.execute("ALTER TABLE staging.stg_shop__order_lines DROP COLUMN source_line")
        # a line of an order that no longer exists
        con.execute("INSERT INTO staging.stg_shop__order_lines (order_line_key, order_id, line_position) "
                    "VALUES ('99:1', 99, 1)")
    finally:
        con.close()
    result = dbt(copy, tmp_path, "run", "--select", "stg_shop__order_lines", "--vars", f"{{as_of_date: '{AS_OF}'}}")
    assert_built(result)
    assert query(copy, lines) == expected


def test_web_identifiers_stored_by_an_older_release_are_rebuilt(full, tmp_path):
    """The web identifiers are kept by export date; a table stored before that (one row per distinct
    identifiers, no export date) is rewritten whole by the next run."""
    database, _, _ = full
    copy = copy_warehouse(database, tmp_path)
    rows = "SELECT * FROM staging.stg_web__event_identifiers ORDER BY ALL"
    expected = query(copy, rows)
    assert expected
    con = duckdb.connect(str(copy))
    try:
        con.execute("CREATE OR REPLACE TABLE staging.stg_web__event_identifiers AS "
                    "SELECT DISTINCT anonymous_id, customer_id, email FROM staging.stg_web__event_identifiers")
    finally:
        con.close()
    result = dbt(copy, tmp_path, "run", "--select", "stg_web__event_identifiers",
                 "--vars", f"{{as_of_date: '{AS_OF}'}}")
    assert_built(result)
    assert query(copy, rows) == expected


def test_records_after_the_as_of_date_are_ignored(full):
    database, _, _ = full
    # order 6 happened after the as-of date; order 7 before its end but in a file exported after it
    order_ids = [r[0] for r in query(database, "SELECT order_id FROM staging.stg_shop__orders ORDER BY 1")]
    assert order_ids == [1, 2, 3, 4, 5]
    assert query(database, "SELECT count(*) FROM staging.stg_web__events WHERE message_id = 'm4'") == [(0,)]
    assert query(database, "SELECT max(export_date) FROM staging.stg_shop__orders") == [(date(2026, 2, 3),)]


def test_a_duplicated_web_event_is_one_row_from_its_first_delivery(full):
    database, _, _ = full
    assert query(database, "SELECT count(*), count(DISTINCT message_id) FROM staging.stg_web__events") == [(3, 3)]
    rows = query(database, "SELECT source_file, event_type, event_name, customer_id, channel, utm_source, utm_medium, "
                           "page_url, product_id, product_category, product_price, "
                           "strftime(event_at, '%Y-%m-%dT%H:%M') "
                           "FROM staging.stg_web__events WHERE message_id = 'm1'")
    assert rows == [("web/events/2026-02-01.jsonl", "track", "Product Viewed", 1001, "web", "newsletter", "email",
                     "https://shop.example/p/100", "P-100", "coffee", Decimal("44.50"), "2026-02-01T17:58")]
    assert query(database, "SELECT page_path, page_name FROM staging.stg_web__events WHERE message_id = 'm3'") == \
        [("/", "Home")]


def test_emails_are_normalised_everywhere(full):
    database, _, _ = full
    assert query(database, "SELECT customer_id, email FROM staging.stg_shop__customers ORDER BY 1") == \
        [(1001, "naomi.park@example.com"), (1002, "marshall@example.com")]
    assert query(database, "SELECT email FROM staging.stg_shop__orders WHERE order_id = 3") == [("guest@example.com",)]
    assert query(database, "SELECT email FROM staging.stg_web__events WHERE message_id = 'm2'") == \
        [("naomi.park@example.com",)]
    assert query(database, "SELECT DISTINCT email FROM staging.stg_pos__transactions") == [("naomi.park@example.com",)]
    assert query(database, "SELECT email FROM staging.stg_privacy__deletion_requests") == [("gone@example.com",)]


def test_test_cancelled_voided_and_guest_orders_are_flagged(full):
    database, _, _ = full
    flags = {r[0]: r[1:] for r in query(
        database, "SELECT order_id, is_test, is_cancelled, is_voided, is_guest_checkout FROM staging.stg_shop__orders")}
    assert flags == {
        1: (False, False, False, False),
        2: (True, False, False, False),
        3: (False, False, False, True),
        4: (False, True, False, False),
        5: (False, False, True, False),
    }


def test_customer_upsert_keeps_latest_version_and_unknown_fields(full):
    database, _, _ = full
    rows = query(database, "SELECT phone, city, country_code, source_record->>'$.loyalty_note' "
                           "FROM staging.stg_shop__customers WHERE customer_id = 1001")
    assert rows == [("+14155550101", None, None, "unknown field")]


def test_order_children_are_unnested_from_the_latest_version(full):
    database, _, _ = full
    lines = query(database, "SELECT order_line_key, product_id, quantity, price, line_amount, ordered_at "
                            "FROM staging.stg_shop__order_lines WHERE order_id = 1 ORDER BY line_position")
    assert [r[:5] for r in lines] == [("1:1", "P-100", 2, Decimal("44.50"), Decimal("89.00")),
                                      ("1:2", "P-200", 1, Decimal("12.00"), Decimal("12.00"))]
    assert lines[0][5].isoformat() == "2026-02-01T09:00:00"  # +01:00 converted to UTC
    assert query(database, "SELECT count(*) FROM staging.stg_shop__order_lines") == [(6,)]
    assert query(database, "SELECT order_id, refund_id, amount, reason FROM staging.stg_shop__order_refunds") == \
        [(1, 9, Decimal("44.50"), "damaged")]
    assert query(database, "SELECT order_id, carrier, is_delivered_late FROM staging.stg_shop__order_fulfillments") == \
        [(1, "UPS", True)]


def test_pos_lines_are_deduplicated_with_an_order_id_per_transaction(full):
    database, _, _ = full
    rows = query(database, "SELECT pos_line_key, pos_order_id, customer_id, quantity, line_amount, occurred_at, "
                           "source_file FROM staging.stg_pos__transactions ORDER BY line_number")
    assert [r[:5] for r in rows] == [("T-1:1", "pos-T-1", 1001, 1, Decimal("44.50")),
                                     ("T-1:2", "pos-T-1", 1001, 3, Decimal("15.00"))]
    assert rows[0][5].isoformat() == "2026-02-02T21:20:00"
    assert rows[0][6] == "pos/transactions/2026-02-02.csv"


def test_other_sources(full):
    database, _, _ = full
    assert query(database, "SELECT email_event_id, metric, channel, bounce_type FROM staging.stg_esp__email_events "
                           "ORDER BY 1") == [("ev_1", "Opened Email", "email", None),
                                             ("ev_2", "Bounced Email", "email", "hard")]
    assert query(database, "SELECT review_id, rating FROM staging.stg_reviews__reviews") == [("r_501", 1)]
    assert query(database, "SELECT ticket_id, status, is_open, satisfaction FROM staging.stg_support__tickets") == \
        [(7001, "open", True, "bad")]
    assert query(database, "SELECT ledger_entry_id, points_delta FROM staging.stg_loyalty__ledger ORDER BY 1") == \
        [("l_1", 500), ("l_2", -100)]
    assert query(database, "SELECT previous_tier, tier FROM staging.stg_loyalty__tier_changes") == [("silver", "gold")]
    assert query(database, "SELECT subscription_id, email, is_active "
                           "FROM staging.stg_subscriptions__subscriptions") == [("s_77", "marshall@example.com", True)]
    assert query(database, "SELECT referee_email, is_converted FROM staging.stg_referrals__referrals") == \
        [("friend@example.com", True)]


def test_erasure_requests_hold_even_after_the_as_of_date(full):
    database, _, _ = full
    assert query(database, "SELECT deletion_request_id, is_requested_after_as_of "
                           "FROM staging.stg_privacy__deletion_requests") == [("del_3", True)]


def test_as_of_date_defaults_to_the_latest_export_date_loaded(full):
    database, base, _ = full
    result = dbt(database, base, "show", "--inline", "select {{ as_of_date() }} as as_of_date")
    assert result.success, result.exception
    (row,) = result.result.results[0].agate_table.rows
    assert str(row[0])[:10] == "2026-02-04"


def test_builds_with_only_the_required_shop_sources(shop_only):
    database, _, result = shop_only
    assert_built(result)
    assert query(database, "SELECT count(*) FROM staging.stg_shop__orders") == [(3,)]
    assert query(database, "SELECT count(*) FROM staging.stg_shop__order_lines") == [(3,)]
    assert query(database, "SELECT count(*) FROM staging.stg_web__events") == [(0,)]
    assert query(database, "SELECT count(*) FROM staging.stg_pos__transactions") == [(0,)]


def test_no_staging_model_reads_the_clock():
    for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"):
        text = path.read_text().lower()
        for word in ("now()", "current_date", "current_timestamp", "getdate("):
            assert word not in text, f"{path.name} uses {word}"


def test_source_appears_only_in_staging_models():
    for path in (DBT_PROJECT_DIR / "models").rglob("*.sql"):
        if "source(" in path.read_text():
            assert path.parent.parent.name == "staging" and path.name.startswith("stg_"), path
