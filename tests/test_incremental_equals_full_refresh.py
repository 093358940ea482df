"""The incremental tables (engagement events, shop-order staging) give exactly what a full refresh gives.

Two warehouses are built from the same hand-written landing zone (6 export days, 2026-03-01 .. 03-06):

- `incremental`: days 1-3 loaded and built as of day 3, then day by day: load the day's landing files and
  `dbt run` with the `as_of_date` var advanced to that day (the incremental tables run incrementally);
- `full`: every day loaded; after each incremental day, `dbt run --full-refresh` as of the same day.

After each day (4, 5 and 6, the last) int_web_events_enriched, int_email_events_enriched, int_customer_consent,
int_customer_engagement, the identifiers of both event sources for identity resolution
(stg_web__event_identifiers, stg_esp__recipients) and the staging tables kept by chosen row (shop customers,
orders, lines, fulfillments; loyalty ledger and tier changes, referrals, reviews, subscriptions, tickets, POS
lines) must hold identical rows in both (EXCEPT ALL both ways, in DuckDB). The runs use no lookback
(`engagement_lookback_days: 0`), the strictest setting. The landing zone has what makes incremental processing
hard: late-arriving events (days older than their file, older than any lookback) that precede or bridge stored
web sessions, records a day newer than their file, re-delivered messages (within and before the raw partitions an
incremental run reads), a late part of a day whose re-timed copy of a message, from another browser, replaces the
stored one and splits its session, an anonymous visitor who identifies on a later day, consent changing over the
days, a checkout that is abandoned until an order arrives, and order versions: a refund and a shipment arriving
as new versions, a version tied on updated_at with a later file's, a version a day newer than its file that drops
a line item, and a late file with a new order and a stale version of a stored one; and an erasure request (day 4)
of a person whose events are stored, who must be gone from the incremental tables. Finally the incremental
warehouse is rebuilt as of an earlier day (day 4, incrementally) and must equal the full refresh as of that day.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from landing_helpers import Landing, customer, order
from warehouse_helpers import build_warehouse, run_dbt

pytestmark = pytest.mark.dbt

DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(6)]
D1, D2, D3, D4, D5, D6 = DAYS
FIRST_INCREMENTAL = 3  # the incremental warehouse starts as of DAYS[2] (day 3), then runs days 4, 5, 6
# model -> schema
MODELS = {"int_web_events_enriched": "intermediate", "int_email_events_enriched": "intermediate",
          "int_customer_consent": "intermediate", "int_customer_engagement": "intermediate",
          "stg_shop__customers": "staging", "stg_shop__orders": "staging", "stg_shop__order_lines": "staging",
          "stg_loyalty__ledger": "staging", "stg_loyalty__tier_changes": "staging",
          "stg_referrals__referrals": "staging", "stg_reviews__reviews": "staging",
          "stg_subscriptions__subscriptions": "staging", "stg_support__tickets": "staging",
          "stg_pos__transactions": "staging",
          "stg_shop__order_fulfillments": "staging", "stg_web__event_identifiers": "staging",
          "stg_esp__recipients": "staging"}
SELECT = ["--select", "+int_customer_engagement", "+int_customer_consent", "+stg_shop__order_lines",
          "+stg_shop__order_fulfillments", "stg_loyalty__ledger", "stg_loyalty__tier_changes",
          "stg_referrals__referrals", "stg_reviews__reviews", "stg_subscriptions__subscriptions",
          "stg_support__tickets", "stg_pos__transactions", "--threads", "4"]


def ts(day: date, hhmm: str) -> str:
    return f"{day.isoformat()}T{hhmm}:00Z"


def file_name(day: date) -> str:
    return f"{day.isoformat()}.jsonl"


def web(message_id: str, at: str, *, type_: str = "page", event: str | None = None, anon: str | None = None,
        user: str | None = None, channel: str = "web", **extra) -> dict:
    record = {"type": type_, "messageId": message_id, "timestamp": at, "context": {"channel": channel}}
    if event:
        record["event"] = event
    if anon:
        record["anonymousId"] = anon
    if user:
        record["userId"] = user
    if "utm" in extra:
        record["context"]["campaign"] = {"source": extra.pop("utm"), "medium": "email"}
    if "category" in extra:
        record["properties"] = {"product_id": "P-1", "category": extra.pop("category"), "price": 10}
    record.update(extra)
    return record


def esp(id_: str, metric: str, email: str, at: str, *, campaign: str | None = "c_1", bounce: str | None = None) -> dict:
    return {"id": id_, "metric": metric, "email": email, "phone_number": None, "timestamp": at,
            "campaign_id": campaign, "flow_id": None, "message_id": f"m_{campaign}_{email}" if campaign else None,
            "properties": {"subject": "Spring", "url": None, "bounce_type": bounce}}


NAOMI, IVAN, MARA = "naomi@example.com", "ivan@example.com", "mara@example.com"
ERIN = "erin@example.com"  # asks to be erased on day 4, after her events of days 1-3 are stored
LATE = "late@example.com"  # a visitor first seen in a late file
LINE_1 = {"id": 1, "product_id": "P-100", "quantity": 1, "price": "10.00"}
LINE_2 = {"id": 2, "product_id": "P-200", "quantity": 2, "price": "4.50"}
REFUND = {"id": 91, "created_at": "2026-03-04T09:00:00Z", "amount": "5.00", "reason": "damaged"}
LATE_DELIVERY = {"id": 81, "status": "delivered", "shipped_at": "2026-03-03T08:00:00Z",
                 "promised_delivery_at": "2026-03-04T12:00:00Z", "delivered_at": "2026-03-04T15:00:00Z"}


def write_landing(landing: Landing) -> None:
    """Six export days of shop, web and email-tool files."""
    # shop: Naomi (1001) and Mara (1003) accept marketing; Ivan (1002) opts in on day 5
    landing.jsonl("shop", "customers", file_name(D1), [
        customer(1001, ts(D1, "08:00"), email=NAOMI, accepts_marketing_updated_at=ts(D1, "08:00")),
        customer(1002, ts(D1, "08:00"), email=IVAN, accepts_marketing=False),
        customer(1003, ts(D1, "08:00"), email=MARA, accepts_marketing_updated_at=ts(D1, "08:00")),
        customer(1004, ts(D1, "08:00"), email=ERIN, accepts_marketing_updated_at=ts(D1, "08:00")),
    ])
    landing.jsonl("shop", "customers", file_name(D5), [
        customer(1002, ts(D5, "09:00"), email=IVAN, accepts_marketing=True,
                 accepts_marketing_updated_at=ts(D5, "09:00")),
    ])
    landing.jsonl("shop", "orders", file_name(D1), [
        order(2, ts(D1, "11:00"), customer_id=1003, email=MARA, line_items=[LINE_1, LINE_2]),
    ])
    landing.jsonl("shop", "orders", file_name(D2), [order(1, ts(D2, "10:20"), customer_id=1001, email=NAOMI)])
    landing.jsonl("shop", "orders", file_name(D4), [
        # a refund and a late delivery arrive as a new version
        order(1, ts(D2, "10:20"), customer_id=1001, email=NAOMI, updated_at=ts(D4, "10:00"),
              financial_status="partially_refunded", refunds=[REFUND], fulfillments=[LATE_DELIVERY]),
    ])
    landing.jsonl("shop", "orders", file_name(D5), [
        # the same updated_at as day 4's version: the later file wins
        order(1, ts(D2, "10:20"), customer_id=1001, email=NAOMI, updated_at=ts(D4, "10:00"),
              financial_status="refunded", refunds=[REFUND], fulfillments=[LATE_DELIVERY]),
        # a day newer than its file (known as of day 6): a line item removed, the order cancelled
        order(2, ts(D1, "11:00"), customer_id=1003, email=MARA, updated_at=ts(D6, "00:30"),
              cancelled_at=ts(D6, "00:30"), line_items=[LINE_1]),
    ])
    landing.jsonl("shop", "orders", file_name(D6), [order(3, ts(D6, "12:00"), customer_id=1002, email=IVAN)])

    # web. a-1: Ivan's browser, anonymous until he identifies on day 4. a-2: Mara's. a-3: Naomi's.
    landing.jsonl("web", "events", file_name(D1), [
        web("w101", ts(D1, "09:00"), anon="a-1", utm="google"),
        web("w102", ts(D1, "09:05"), type_="track", event="Product Viewed", anon="a-1", category="coffee"),
        web("w103", ts(D1, "09:50"), type_="track", event="Product Viewed", anon="a-1", category="coffee"),
        web("w104", ts(D1, "10:00"), type_="identify", anon="a-3", user="1001", traits={"email": NAOMI}),
        web("w105", ts(D1, "10:01"), type_="track", event="Product Viewed", anon="a-3", user="1001", category="tea"),
        web("w106", ts(D2, "00:30"), anon="a-3", user="1001"),  # a day newer than its file
        web("w107", ts(D1, "13:00"), anon="a-8"),  # Erin's browser, anonymous until day 2
    ])
    landing.jsonl("web", "events", file_name(D2), [
        web("w201", ts(D2, "10:10"), type_="track", event="Checkout Started", anon="a-3", user="1001"),
        web("w202", ts(D2, "10:19"), type_="track", event="Order Completed", anon="a-3", user="1001"),
        web("w203", ts(D2, "10:00"), anon="a-2", user="1003"),
        web("w204", ts(D2, "10:50"), anon="a-2", user="1003"),
        web("w205", ts(D2, "12:00"), user="1003", channel="mobile"),  # no anonymous id: sessionised per user
        # a stranger's session, 23:50-00:30, held together by w304 (day 3's file) at 00:10
        web("w206", ts(D2, "23:50"), anon="a-5"),
        web("w207", ts(D3, "00:30"), anon="a-5"),
        web("w208", ts(D2, "13:00"), type_="identify", anon="a-8", user="1004", traits={"email": ERIN}),
    ])
    landing.jsonl("web", "events", file_name(D3), [
        web("w301", ts(D3, "08:00"), anon="a-1"),
        web("w304", ts(D3, "00:10"), anon="a-5"),  # a late part of this day re-times it
        web("w101", ts(D1, "09:00"), anon="a-1", utm="google"),  # re-delivered message
        web("w302", ts(D3, "18:00"), type_="track", event="Event Attended", user="1001", channel="offline"),
        web("w303", ts(D3, "13:00"), anon="a-8", user="1004"),
    ])
    landing.jsonl("web", "events", file_name(D4), [
        web("w401", ts(D4, "09:00"), type_="identify", anon="a-1", user="1002", traits={"email": IVAN}),
        web("w402", ts(D4, "09:01"), type_="track", event="Product Viewed", anon="a-1", user="1002",
            category="equipment"),
    ])
    landing.jsonl("web", "events", file_name(D5), [
        web("w501", ts(D5, "20:00"), type_="track", event="Checkout Started", anon="a-1", user="1002"),
        # late by four days (beyond the lookback): now the first event of Ivan's first session
        web("w502", ts(D1, "08:45"), anon="a-1", utm="newsletter"),
        web("w503", ts(D6, "00:10"), anon="a-4"),  # a stranger, a day newer than the file
        # late by three days: bridges Mara's two day-2 sessions (and, when day 4 is rebuilt, her browser has
        # no event of day 4: only the events that disappear tell that her sessions must be split again)
        web("w403", ts(D2, "10:25"), anon="a-2", user="1003"),
    ])
    landing.jsonl("web", "events", file_name(D6), [
        web("w601", ts(D6, "09:00"), anon="a-3", user="1001"),
        web("w401", ts(D4, "09:00"), type_="identify", anon="a-1", user="1002", traits={"email": IVAN}),
        # re-delivered four days late, altered: the stored first delivery (day 2, before every partition the
        # incremental run reads) must win
        web("w201", ts(D2, "10:10"), type_="track", event="Checkout Started", anon="a-3", user="1001",
            utm="redelivery"),
    ])

    # email tool
    landing.jsonl("esp", "email_events", file_name(D1), [
        esp("e101", "Received Email", NAOMI, ts(D1, "15:00")),
        esp("e102", "Opened Email", NAOMI, ts(D1, "18:10")),
        esp("e103", "Received Email", MARA, ts(D1, "15:00")),
        esp("e104", "Received Email", ERIN, ts(D1, "15:00")),
    ])
    landing.jsonl("esp", "email_events", file_name(D2), [
        esp("e201", "Clicked Email", NAOMI, ts(D2, "08:00")),
        esp("e202", "Unsubscribed", MARA, ts(D2, "09:00")),
    ])
    landing.jsonl("esp", "email_events", file_name(D3), [
        esp("e301", "Received SMS", NAOMI, ts(D3, "17:00"), campaign="sms_1"),
    ])
    landing.jsonl("esp", "email_events", file_name(D4), [
        esp("e401", "Opened Email", MARA, ts(D1, "19:00")),  # late open
        esp("e402", "Unsubscribed from SMS", NAOMI, ts(D4, "17:10"), campaign="sms_1"),
    ])
    landing.jsonl("esp", "email_events", file_name(D5), [
        esp("e501", "Subscribed to List", IVAN, ts(D5, "10:00"), campaign=None),
        esp("e502", "Opened Email", NAOMI, ts(D6, "00:05")),  # a day newer than its file
    ])
    landing.jsonl("esp", "email_events", file_name(D6), [
        esp("e601", "Marked Email as Spam", MARA, ts(D6, "08:00")),
        esp("e402", "Unsubscribed from SMS", NAOMI, ts(D4, "17:10"), campaign="sms_1"),  # re-delivered
        # re-delivered five days late, altered: the stored first delivery (day 1) must win
        esp("e101", "Received Email", NAOMI, ts(D1, "15:00"), campaign="redelivery"),
    ])

    # Erin's erasure request: the incremental tables must drop her stored events (her anonymous visits too)
    landing.jsonl("privacy", "deletion_requests", file_name(D4), [
        {"id": "del_1", "email": ERIN, "customer_id": 1004, "requested_at": ts(D4, "10:00")},
    ])
    write_other_sources(landing)


POS_HEADER = ("transaction_id,line_number,store_id,occurred_at,customer_email,shop_customer_id,product_id,sku,"
              "category,quantity,unit_price,currency\n")


def pos_line(transaction: str, line: int, at: str, quantity: int = 1) -> str:
    return f"{transaction},{line},popup-austin,{at},{NAOMI},1001,P-100,COF-1KG,coffee,{quantity},10.00,USD\n"


def write_other_sources(landing: Landing) -> None:
    """The other staging tables kept by chosen row (first delivery or latest version), for Naomi, Ivan and
    Mara: new keys, re-deliveries, new versions (one tied on updated_at with a later file's, one a day newer
    than its file), and, in the late part of day 3, a copy that becomes an entry's first delivery."""
    landing.jsonl("loyalty", "ledger", file_name(D1), [
        {"id": "l1", "customer_id": 1001, "type": "earn", "points": 500, "order_id": None,
         "occurred_at": ts(D1, "12:00"), "expires_at": "2026-12-31T23:59:59Z", "reason": "purchase"},
    ])
    landing.jsonl("loyalty", "ledger", file_name(D3), [
        {"id": "l3", "customer_id": 1003, "type": "earn", "points": 100, "order_id": None,
         "occurred_at": ts(D3, "12:00"), "expires_at": "2026-12-31T23:59:59Z", "reason": "purchase"},
    ])
    landing.jsonl("loyalty", "ledger", file_name(D4), [
        {"id": "l1", "customer_id": 1001, "type": "earn", "points": 999, "order_id": None,  # re-delivered
         "occurred_at": ts(D1, "12:00"), "expires_at": "2026-12-31T23:59:59Z", "reason": "purchase"},
    ])
    landing.jsonl("loyalty", "ledger", file_name(D5), [
        {"id": "l2", "customer_id": 1001, "type": "redeem", "points": 200, "order_id": None,  # a day newer
         "occurred_at": ts(D6, "00:30"), "expires_at": None, "reason": "reward"},
    ])
    landing.jsonl("loyalty", "tier_changes", file_name(D2), [
        {"id": "t1", "customer_id": 1001, "previous_tier": "bronze", "tier": "silver",
         "changed_at": ts(D2, "12:00"), "reason": "spend_threshold"},
    ])
    landing.jsonl("loyalty", "tier_changes", file_name(D5), [
        {"id": "t2", "customer_id": 1001, "previous_tier": "silver", "tier": "gold",
         "changed_at": ts(D5, "12:00"), "reason": "spend_threshold"},
    ])
    referral = {"id": "ref_1", "referrer_customer_id": 1001, "referee_email": IVAN, "status": "pending",
                "converted_order_id": None, "created_at": ts(D2, "09:00"), "updated_at": ts(D2, "09:00"),
                "converted_at": None}
    landing.jsonl("referrals", "referrals", file_name(D2), [referral])
    landing.jsonl("referrals", "referrals", file_name(D6), [
        {**referral, "status": "converted", "converted_order_id": 3, "updated_at": ts(D6, "12:05"),
         "converted_at": ts(D6, "12:05")},
    ])
    review = {"id": "r_1", "product_id": "P-100", "customer_id": 1003, "customer_email": MARA, "rating": 2,
              "title": "Bitter", "body": "...", "verified_buyer": True, "status": "published",
              "created_at": ts(D3, "20:00"), "updated_at": ts(D3, "20:00")}
    landing.jsonl("reviews", "reviews", file_name(D3), [review])
    landing.jsonl("reviews", "reviews", file_name(D5), [
        {**review, "rating": 4, "title": "Better brewed cooler", "updated_at": ts(D6, "00:30")},  # a day newer
    ])
    subscription = {"id": "s_1", "customer_id": 1003, "email": MARA, "product_id": "P-200", "sku": "FLT-100",
                    "category": "filters", "status": "active", "interval_days": 30, "price": "12.00",
                    "created_at": ts(D1, "08:30"), "updated_at": ts(D1, "08:30"), "cancelled_at": None,
                    "next_charge_at": "2026-03-31T00:00:00Z"}
    landing.jsonl("subscriptions", "subscriptions", file_name(D1), [subscription])
    landing.jsonl("subscriptions", "subscriptions", file_name(D4), [
        {**subscription, "status": "cancelled", "updated_at": ts(D4, "08:00"), "cancelled_at": ts(D4, "08:00")},
    ])
    ticket = {"id": 7001, "requester_email": NAOMI, "channel": "chat", "subject": "Broken bag", "status": "open",
              "priority": "normal", "order_id": 1, "satisfaction": "unoffered", "tags": ["damaged"],
              "created_at": ts(D2, "11:00"), "updated_at": ts(D2, "11:00"), "solved_at": None}
    landing.jsonl("support", "tickets", file_name(D2), [ticket])
    landing.jsonl("support", "tickets", file_name(D4), [
        {**ticket, "status": "solved", "updated_at": ts(D4, "09:00"), "solved_at": ts(D4, "09:00")},
    ])
    landing.jsonl("support", "tickets", file_name(D5), [  # tied on updated_at: the later file wins
        {**ticket, "status": "solved", "satisfaction": "bad", "updated_at": ts(D4, "09:00"),
         "solved_at": ts(D4, "09:00")},
    ])
    landing.text("pos", "transactions", f"{D3.isoformat()}.csv",
                 POS_HEADER + pos_line("T-1", 1, ts(D3, "15:00")) + pos_line("T-1", 2, ts(D3, "15:00")))
    landing.text("pos", "transactions", f"{D5.isoformat()}.csv",  # line 1 re-delivered, altered
                 POS_HEADER + pos_line("T-1", 1, ts(D3, "15:00"), quantity=5) + pos_line("T-2", 1, ts(D5, "16:00")))


def write_late_part_of_day_3(landing: Landing) -> None:
    """A second file of day 3, arriving with day 6 (the day-6 run reloads from day 3). Its name sorts before
    day 3's first file, so its copy of w304 is the first delivery: the stored copy (00:10, browser a-5) is
    replaced by one at 16:00 from another browser (a-6), and the stranger's session it held together splits
    (23:50 and 00:30 are 40 minutes apart). The stranger has no other event in the reloaded days: only the
    replaced copy tells where their sessions change. A late visitor identifies in it, and the email tool's
    late file of day 3 names them too: identity resolution must see both, reloaded from day 3."""
    landing.jsonl("web", "events", f"{D3.isoformat()}-late.jsonl", [
        web("w304", ts(D3, "16:00"), anon="a-6"),
        web("w305", ts(D3, "17:00"), type_="identify", anon="a-7", traits={"email": LATE}),
    ])
    landing.jsonl("esp", "email_events", f"{D3.isoformat()}-late.jsonl", [
        esp("e302", "Received Email", LATE, ts(D3, "17:30")),
    ])
    # a copy of Mara's loyalty entry l3, altered: sorted before day 3's file, it is now the first delivery
    landing.jsonl("loyalty", "ledger", f"{D3.isoformat()}-late.jsonl", [
        {"id": "l3", "customer_id": 1003, "type": "earn", "points": 150, "order_id": None,
         "occurred_at": ts(D3, "12:00"), "expires_at": "2026-12-31T23:59:59Z", "reason": "purchase"},
    ])
    # and a late order file: a new order, and a version of order 1 older than the stored one (it must lose)
    landing.jsonl("shop", "orders", f"{D3.isoformat()}-late.jsonl", [
        order(4, ts(D3, "14:00"), customer_id=1001, email=NAOMI),
        order(1, ts(D2, "10:20"), customer_id=1001, email=NAOMI, updated_at=ts(D3, "12:00"),
              financial_status="pending"),
    ])


def load_days(landing_root: Path, home: Path, days: list[date]) -> Path:
    """Load the given export days of every entity into home's raw layer; (re)create the warehouse's views."""
    return build_warehouse(landing_root, home, days)


def dbt(database: Path, work: Path, *args: str) -> None:
    """Invoke dbt in-process against `database` (own target and log folders); every node must succeed."""
    result = run_dbt(database, work, *args)
    assert result.exception is None, result.exception
    bad = [(r.node.name, str(r.status), r.message) for r in result.result.results
           if str(r.status) in ("error", "fail", "runtime error", "skipped")]
    assert not bad, bad
    assert result.success


def as_of(day: date, reload_from: date | None = None) -> list[str]:
    # No lookback: the strictest setting, so that stored events are only ever revisited through the models'
    # own logic (re-sessionising the touched browsers), never because a wide window re-selected them.
    reload = f", reload_from_date: '{reload_from.isoformat()}'" if reload_from else ""
    return ["--vars", f"{{as_of_date: '{day.isoformat()}', engagement_lookback_days: 0{reload}}}"]


def snapshot(database: Path, folder: Path) -> Path:
    """Copy the compared models of `database` to Parquet files under `folder` (one per model)."""
    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(database))
    try:
        for model in MODELS:
            con.execute(f"COPY (SELECT * FROM {MODELS[model]}.{model}) TO '{folder / model}.parquet' (FORMAT parquet)")
    finally:
        con.close()
    return folder


def differences(full: Path, incremental: Path) -> dict[str, tuple[int, int, int]]:
    """Per model: (rows only in the full refresh, rows only in the incremental build, rows in full).

    Both snapshots are compared with EXCEPT ALL both ways in DuckDB, column by column by name (every column
    but the staging tables' loaded_at).
    """
    con = duckdb.connect()
    try:
        out = {}
        for model in MODELS:
            full_rel = f"read_parquet('{full / model}.parquet')"
            inc_rel = f"read_parquet('{incremental / model}.parquet')"
            full_columns = [c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM {full_rel}").fetchall()]
            inc_columns = [c for (c, *_) in con.execute(f"DESCRIBE SELECT * FROM {inc_rel}").fetchall()]
            assert sorted(full_columns) == sorted(inc_columns), (model, full_columns, inc_columns)
            # the time a raw row was loaded differs between the two lakes, loaded apart
            columns = ", ".join(f'"{c}"' for c in full_columns if c != "loaded_at")
            full_sql, inc_sql = f"SELECT {columns} FROM {full_rel}", f"SELECT {columns} FROM {inc_rel}"
            only_full = con.execute(f"SELECT count(*) FROM ({full_sql} EXCEPT ALL {inc_sql})").fetchone()[0]
            only_inc = con.execute(f"SELECT count(*) FROM ({inc_sql} EXCEPT ALL {full_sql})").fetchone()[0]
            total = con.execute(f"SELECT count(*) FROM {full_rel}").fetchone()[0]
            out[model] = (only_full, only_inc, total)
        return out
    finally:
        con.close()


def query(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def query_parquet(folder: Path, model: str, column: str) -> list[tuple]:
    """The non-null values of `column` in a snapshot of `model`."""
    con = duckdb.connect()
    try:
        return con.execute(f"SELECT {column} FROM read_parquet('{folder / model}.parquet') "
                           f"WHERE {column} IS NOT NULL").fetchall()
    finally:
        con.close()


# per order: financial status, cancelled, line count, fulfillment count
ORDER_FACTS = """
    SELECT o.order_id, o.financial_status, o.is_cancelled,
           (SELECT count(*) FROM staging.stg_shop__order_lines AS l WHERE l.order_id = o.order_id),
           (SELECT count(*) FROM staging.stg_shop__order_fulfillments AS f WHERE f.order_id = o.order_id)
    FROM staging.stg_shop__orders AS o ORDER BY o.order_id"""


# Erin's stored web events (by any of her identifiers) and email events
ERIN_EVENTS = f"""
    SELECT (SELECT count(*) FROM intermediate.int_web_events_enriched
            WHERE anonymous_id = 'a-8' OR customer_id = 1004 OR email = '{ERIN}'),
           (SELECT count(*) FROM intermediate.int_email_events_enriched WHERE email = '{ERIN}')"""


def person(shop_id: int) -> str:
    """SQL for the customer_key of a shop customer."""
    return (f"(SELECT customer_key FROM intermediate.int_identity_graph "
            f"WHERE identifier = 'shop:{shop_id}')")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("incremental_equals_full_refresh")
    landing = Landing(base / "landing")
    write_landing(landing)

    # One dbt target folder for both warehouses (runs are sequential), and the runs ordered so that
    # consecutive ones share their vars: dbt re-parses the project only when the vars change.
    work, full_home, inc_home = base / "dbt", base / "full", base / "incremental"
    snapshots = base / "snapshots"
    full_db = load_days(landing.root, full_home, DAYS)

    inc_db = load_days(landing.root, inc_home, DAYS[:FIRST_INCREMENTAL])
    dbt(inc_db, work, "run", *SELECT, *as_of(DAYS[FIRST_INCREMENTAL - 1]))
    erin_stored = query(inc_db, ERIN_EVENTS)
    diffs = {}
    for day in DAYS[FIRST_INCREMENTAL:]:
        reload_from = None
        if day == D6:
            write_late_part_of_day_3(landing)
            load_days(landing.root, full_home, [D3])
            load_days(landing.root, inc_home, [D3])
            reload_from = D3  # as the Dagster run of partitions day 3 .. day 6 sets it
        load_days(landing.root, inc_home, [day])
        dbt(inc_db, work, "run", *SELECT, *as_of(day, reload_from))
        dbt(full_db, work, "run", *SELECT, "--full-refresh", *as_of(day))
        diffs[day] = differences(snapshot(full_db, snapshots / f"full_{day}"),
                                 snapshot(inc_db, snapshots / f"incremental_{day}"))

    # the full-refresh warehouse is now as of the last day
    facts = {
        "ivan": query(full_db, f"""
            SELECT e.first_web_utm_source, e.first_seen_web_at, e.abandoned_checkout_at, e.web_sessions_30d,
                   e.product_views_30d, e.top_viewed_category_30d
            FROM intermediate.int_customer_engagement AS e WHERE e.customer_key = {person(1002)}"""),
        "mara_sessions": query(full_db, "SELECT count(DISTINCT session_id) FROM intermediate.int_web_events_enriched "
                                        "WHERE session_owner = 'anon:a-2'"),
        "stranger_sessions": query(full_db, "SELECT count(DISTINCT session_id) FROM "
                                            "intermediate.int_web_events_enriched WHERE session_owner = 'anon:a-5'"),
        "consent": query(full_db, """
            SELECT g.identifier, c.email_consent, c.sms_consent
            FROM intermediate.int_customer_consent AS c
            JOIN intermediate.int_identity_graph AS g ON g.customer_key = c.customer_key
            WHERE g.identifier IN ('shop:1001', 'shop:1002', 'shop:1003') ORDER BY 1"""),
        "orders": query(full_db, ORDER_FACTS),
        "erin_stored": erin_stored,
        "erin_left": query(inc_db, ERIN_EVENTS),
    }

    # A past date rebuilt incrementally (the as-of date moves back from day 6 to day 4).
    dbt(inc_db, work, "run", *SELECT, *as_of(D4))
    # compared with a full refresh as of day 4 on today's landing zone: the late part of day 3 is known then
    dbt(full_db, work, "run", *SELECT, "--full-refresh", *as_of(D4))
    rollback = differences(snapshot(full_db, snapshots / "full_rebuilt"),
                           snapshot(inc_db, snapshots / "incremental_rebuilt"))
    orders_d4 = query(inc_db, ORDER_FACTS)
    ivan_d4 = query(inc_db, f"SELECT first_web_utm_source, abandoned_checkout_at FROM "
                            f"intermediate.int_customer_engagement WHERE customer_key = {person(1002)}")
    # Rebuilt as of a day before any data: the stored events are all unknown then (an incremental run with
    # nothing known to start from must still work, and leave nothing).
    dbt(inc_db, work, "run", *SELECT, *as_of(D1 - timedelta(days=2)))
    before_any_data = query(inc_db, "SELECT (SELECT count(*) FROM intermediate.int_web_events_enriched) "
                                    "+ (SELECT count(*) FROM staging.stg_shop__orders) "
                                    "+ (SELECT count(*) FROM staging.stg_shop__order_lines)")
    ivan_d5 = query_parquet(snapshots / f"full_{D5}", "int_customer_engagement", "abandoned_checkout_at")
    return {"diffs": diffs, "rollback": rollback, "facts": facts, "ivan_d4": ivan_d4, "ivan_d5": ivan_d5,
            "before_any_data": before_any_data, "orders_d4": orders_d4}


@pytest.mark.parametrize("day", DAYS[FIRST_INCREMENTAL:], ids=str)
def test_incremental_day_by_day_equals_full_refresh(built, day):
    for model, (only_full, only_incremental, total) in built["diffs"][day].items():
        assert total > 0, model
        assert (only_full, only_incremental) == (0, 0), (model, built["diffs"][day])


def test_rebuilding_a_past_date_incrementally_equals_full_refresh(built):
    for model, (only_full, only_incremental, total) in built["rollback"].items():
        assert total > 0, model
        assert (only_full, only_incremental) == (0, 0), (model, built["rollback"])
    assert built["before_any_data"] == [(0,)]


def test_the_landing_zone_exercises_the_hard_cases(built):
    facts = built["facts"]
    (ivan,) = facts["ivan"]
    utm, first_seen, abandoned, sessions_30d, views_30d, top_category = ivan
    # the anonymous browsing of days 1 and 3 belongs to Ivan once he identified on day 4; the late event of
    # day 1 (delivered on day 5) became the first of his first visit
    assert utm == "newsletter"
    assert first_seen.isoformat() == "2026-03-01T08:45:00"
    assert abandoned is None  # his day-5 checkout was followed by order 3 on day 6
    assert sessions_30d == 5  # day 1 (08:45-09:05), day 1 (09:50), day 3, day 4, day 5
    assert (views_30d, top_category) == (3, "coffee")
    assert facts["mara_sessions"] == [(1,)]  # the late day-2 event bridged her two sessions
    # the re-delivered w304, now from another browser, no longer holds 23:50 and 00:30 together
    assert facts["stranger_sessions"] == [(2,)]
    assert facts["consent"] == [
        ("shop:1001", "subscribed", "unsubscribed"),
        ("shop:1002", "subscribed", "never_subscribed"),
        ("shop:1003", "spam_complaint", "never_subscribed"),
    ]
    # Erin's events were stored as of day 3 and deleted by the incremental runs after her request (day 4)
    assert facts["erin_stored"] == [(3, 1)]
    assert facts["erin_left"] == [(0, 0)]
    # as of day 5 his checkout was abandoned (the order came on day 6)
    assert built["ivan_d5"] == [(datetime(2026, 3, 5, 20, 0),)]
    # rebuilt as of day 4: he had not checked out yet and the late day-1 event was not known
    assert built["ivan_d4"] == [("google", None)]
    # order versions as of day 6: the tie on updated_at went to day 5's file; order 2's day-6 version (in
    # day 5's file) dropped a line; the late file's stale version of order 1 lost, its new order 4 is there
    assert facts["orders"] == [
        (1, "refunded", False, 1, 1),
        (2, "paid", True, 1, 0),
        (3, "paid", False, 1, 0),
        (4, "paid", False, 1, 0),
    ]
    # rebuilt as of day 4: day 5's and day 6's versions and order 3 are not known yet
    assert built["orders_d4"] == [
        (1, "partially_refunded", False, 1, 1),
        (2, "paid", False, 2, 0),
        (4, "paid", False, 1, 0),
    ]
