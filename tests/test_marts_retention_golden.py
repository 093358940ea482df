"""Retention marts (fct_orders, customer_cohorts_monthly, retention_metrics, lifecycle_daily,
lifecycle_transitions, int_customer_lifecycle) against numbers worked out by hand.

A handful of people and orders are written as landing files, loaded through the ingestion API, and
`dbt build --select +marts.retention` runs once for the module (as of 2026-03-31, recovery_days 30,
repeat from 2 orders, loyal from 4, positive review from 4 stars). The selection adds engagement and
consent, whose dbt unit tests then run on DuckDB too (test_spark runs every unit test on Spark). Every
order is placed at 10:00 UTC, so days between orders are whole numbers.

The people (revenue orders with net revenue; x = not revenue):

    Gus   1007  account 2024-12-01   2025-01-15 20.00                     (lapses 2026-01-15: 365 days)
    Fay   1006  account 2025-12-01   2025-12-10 70.00, 2026-01-10 30.00 (+31 d), 02-05 20.00 (+26 d),
                                     03-10 20.00 (+33 d)                  -> loyal on 03-10
    Ann   1001  account 2026-01-02   01-05 100.00 - 10.00 discount = 90.00, 01-25 50.00 (+20 d),
                                     02-14 60.00 (+20 d), 03-06 40.00 (+20 d); 5-star review 02-20;
                                     loyalty member from 01-05; referral sent 03-05 (pending)
    Ben   1002  account 2026-01-03   01-10 80.00, x test order 01-12, 02-12 30.00 (+33 d);
                                     referral sent 02-01, converted 02-15; subscription from 02-01;
                                     bad CSAT 02-25 (negative experience, recovery until 03-26)
    Cara  1003  account 2026-01-15   01-20 25.00, x cancelled 02-01, store receipt 03-25 30.00 (+64 d);
                                     3-star review 03-26; unsubscribed 03-03
    Dan   1004  account 2026-02-01   02-03 120.00 - 20.00 refund (02-10) = 100.00, 03-20 40.00 (+45 d)
    Guest       guest@example.com    02-20 15.00 (guest checkout: known from that order)
    Eve   1005  account 2026-03-01   x voided order 03-05
    a-77        anonymous web visit 2026-03-10, never identified: not a person (not in the identity graph)
    anonymous store receipt 2026-03-15 10.00 (nobody's)
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from landing_helpers import Landing, customer, order
from warehouse_helpers import DBT_PROJECT_DIR, build_warehouse
from warehouse_helpers import run_dbt as dbt

pytestmark = pytest.mark.dbt

AS_OF = "2026-03-31"
FILE = f"{AS_OF}.jsonl"  # every record arrives in the as-of day's files (older records are late arrivals)
POS_HEADER = ("transaction_id,line_number,store_id,occurred_at,customer_email,shop_customer_id,product_id,"
              "sku,category,quantity,unit_price,currency\n")


def at(day: str) -> str:
    return f"{day}T10:00:00Z"


def shop_order(id_: int, customer_id: int | None, day: str, subtotal: str, discounts: str = "0.00", **extra) -> dict:
    email = f"c{customer_id}@example.com" if customer_id else extra.pop("email")
    return order(id_, at(day), customer_id=customer_id, email=email, subtotal_price=subtotal,
                 total_discounts=discounts, total_price=subtotal,
                 line_items=[{"id": 1, "product_id": "P-1", "category": "coffee", "quantity": 1, "price": subtotal}],
                 **extra)


def write_landing(landing: Landing) -> None:
    landing.jsonl("shop", "customers", FILE, [
        customer(1001, at("2026-01-02"), created_at=at("2026-01-02")),
        customer(1002, at("2026-01-03"), created_at=at("2026-01-03")),
        customer(1003, at("2026-01-15"), created_at=at("2026-01-15")),
        customer(1004, at("2026-02-01"), created_at=at("2026-02-01")),
        customer(1005, at("2026-03-01"), created_at=at("2026-03-01")),
        customer(1006, at("2025-12-01"), created_at=at("2025-12-01")),
        customer(1007, at("2024-12-01"), created_at=at("2024-12-01")),
    ])
    landing.jsonl("shop", "orders", FILE, [
        shop_order(701, 1007, "2025-01-15", "20.00"),
        shop_order(601, 1006, "2025-12-10", "70.00"),
        shop_order(602, 1006, "2026-01-10", "30.00"),
        shop_order(603, 1006, "2026-02-05", "20.00"),
        shop_order(604, 1006, "2026-03-10", "20.00", source_name="app"),
        shop_order(101, 1001, "2026-01-05", "100.00", "10.00"),
        shop_order(102, 1001, "2026-01-25", "50.00"),
        shop_order(103, 1001, "2026-02-14", "60.00", source_name="app"),
        shop_order(104, 1001, "2026-03-06", "40.00"),
        shop_order(201, 1002, "2026-01-10", "80.00"),
        shop_order(202, 1002, "2026-01-12", "55.00", test=True),
        shop_order(203, 1002, "2026-02-12", "30.00"),
        shop_order(301, 1003, "2026-01-20", "25.00"),
        shop_order(302, 1003, "2026-02-01", "45.00", cancelled_at=at("2026-02-01"), updated_at=at("2026-02-02")),
        shop_order(401, 1004, "2026-02-03", "120.00", updated_at=at("2026-02-10"),
                   financial_status="partially_refunded",
                   refunds=[{"id": 1, "created_at": at("2026-02-10"), "amount": "20.00", "reason": "damaged"}]),
        shop_order(402, 1004, "2026-03-20", "40.00", source_name="app"),
        shop_order(501, None, "2026-02-20", "15.00", email="guest@example.com"),
        shop_order(801, 1005, "2026-03-05", "65.00", financial_status="voided"),
    ])
    landing.text("pos", "transactions", f"{AS_OF}.csv", POS_HEADER
                 + "T-1,1,store-1,2026-03-25T10:00:00Z,c1003@example.com,1003,P-1,COF,coffee,1,30.00,USD\n"
                 + "T-9,1,store-1,2026-03-15T10:00:00Z,,,P-2,TEA,tea,2,5.00,USD\n")
    landing.jsonl("reviews", "reviews", FILE, [
        {"id": "r1", "product_id": "P-1", "customer_id": 1001, "customer_email": "c1001@example.com", "rating": 5,
         "status": "published", "created_at": at("2026-02-20"), "updated_at": at("2026-02-20")},
        {"id": "r2", "product_id": "P-1", "customer_id": 1003, "customer_email": "c1003@example.com", "rating": 3,
         "status": "published", "created_at": at("2026-03-26"), "updated_at": at("2026-03-26")},
    ])
    landing.jsonl("referrals", "referrals", FILE, [
        {"id": "ref1", "referrer_customer_id": 1002, "referee_email": "friend@example.com", "status": "converted",
         "created_at": at("2026-02-01"), "updated_at": at("2026-02-15"), "converted_at": at("2026-02-15")},
        {"id": "ref2", "referrer_customer_id": 1001, "referee_email": "pal@example.com", "status": "pending",
         "created_at": at("2026-03-05"), "updated_at": at("2026-03-05")},
    ])
    landing.jsonl("support", "tickets", FILE, [
        {"id": 9001, "requester_email": "c1002@example.com", "channel": "chat", "subject": "Late", "status": "solved",
         "satisfaction": "bad", "created_at": "2026-02-25T09:00:00Z", "updated_at": "2026-02-25T12:00:00Z",
         "solved_at": "2026-02-25T12:00:00Z"},
    ])
    landing.jsonl("loyalty", "ledger", FILE, [
        {"id": "l1", "customer_id": 1001, "type": "earn", "points": 90, "order_id": 101,
         "occurred_at": at("2026-01-05"), "expires_at": "2027-01-05T10:00:00Z", "reason": "purchase"},
    ])
    landing.jsonl("subscriptions", "subscriptions", FILE, [
        {"id": "s1", "customer_id": 1002, "email": "c1002@example.com", "product_id": "P-1", "category": "coffee",
         "status": "active", "interval_days": 30, "price": "12.00", "created_at": at("2026-02-01"),
         "updated_at": at("2026-02-01")},
    ])
    landing.jsonl("esp", "email_events", FILE, [
        *({"id": f"rcv{i}", "metric": "Received Email", "email": f"c{i}@example.com",
           "timestamp": at("2026-03-02"), "campaign_id": "c_march"} for i in (1001, 1002, 1003, 1004)),
        {"id": "uns1", "metric": "Unsubscribed", "email": "c1003@example.com", "timestamp": at("2026-03-03")},
    ])
    landing.jsonl("web", "events", FILE, [
        {"type": "page", "messageId": "w1", "anonymousId": "a-77", "name": "Home", "properties": {"path": "/"},
         "timestamp": "2026-03-10T08:00:00Z"},
    ])


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The hand-written landing zone, built with `dbt build --select +marts.retention` as of 2026-03-31."""
    base = tmp_path_factory.mktemp("marts_retention_golden")
    landing = Landing(base / "landing")
    write_landing(landing)
    database = build_warehouse(landing.root, base / "home")
    variables = (f"{{as_of_date: '{AS_OF}', recovery_days: 30, repeat_min_orders: 2, loyal_min_orders: 4, "
                 "positive_review_min_rating: 4, analysis_window_days: 365}")
    # cautious: tests of models outside the selection (customer_360, ...) are not run here
    result = dbt(database, base, "build", "--select", "+marts.retention", "+int_customer_engagement",
                 "+int_customer_consent", "--indirect-selection", "cautious",
                 "--vars", variables)
    return database, result


def query(database: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(database))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rounded(rows: list[tuple], digits: int = 4) -> list[tuple]:
    return [tuple(round(v, digits) if isinstance(v, float) else v for v in row) for row in rows]


def test_build_passes_with_unit_tests_and_reconciliations(golden):
    _, result = golden
    assert result.exception is None, result.exception
    bad = [(r.node.name, str(r.status), r.message) for r in result.result.results
           if str(r.status) in ("error", "fail", "runtime error", "skipped")]
    assert not bad, bad
    assert result.success
    names = {r.node.name for r in result.result.results}
    assert {"fct_orders", "customer_cohorts_monthly", "retention_metrics", "lifecycle_daily",
            "lifecycle_transitions", "int_customer_lifecycle"} <= names
    assert {"test_cohorts_retention_and_months_since_first_order_across_a_year_boundary",
            "test_repurchase_rate_windows_and_repeat_purchase_rate", "test_lifecycle_order_thresholds",
            "test_lifecycle_advocate_entry_and_exit_around_negative_experiences",
            "test_best_send_hour_abandoned_checkout_and_preferred_channel", "test_sms_consent",
            "test_known_from_a_linked_browsers_first_event"} <= names
    assert {"assert_lifecycle_daily_sums_to_people_known", "assert_fct_orders_revenue_matches_retention_metrics",
            "assert_cohort_sizes_sum_to_customers_with_revenue_order"} <= names


def test_fct_orders_one_row_per_order_with_flags_and_sequence(golden):
    database, _ = golden
    # 17 revenue orders + test (202), cancelled (302), voided (801) = 20 orders
    assert query(database, "SELECT count(*), sum(CASE WHEN is_revenue_order THEN 1 ELSE 0 END) "
                           "FROM marts.fct_orders") == [(20, 17)]
    flags = dict(query(database, "SELECT order_key, [is_test, is_cancelled, is_voided, is_revenue_order] "
                                 "FROM marts.fct_orders WHERE order_key IN ('shop-202', 'shop-302', 'shop-801')"))
    assert flags == {"shop-202": [True, False, False, False], "shop-302": [False, True, False, False],
                     "shop-801": [False, False, True, False]}
    # Ann's first order: 100 gross - 10 discount; Dan's: 120 gross - 20 refund
    assert query(database, "SELECT order_key, gross_revenue, discounts, refunds, net_revenue FROM marts.fct_orders "
                           "WHERE order_key IN ('shop-101', 'shop-401') ORDER BY 1") == [
        ("shop-101", Decimal("100.00"), Decimal("10.00"), Decimal("0.00"), Decimal("90.00")),
        ("shop-401", Decimal("120.00"), Decimal("0.00"), Decimal("20.00"), Decimal("100.00")),
    ]
    # the anonymous receipt belongs to nobody; Cara's receipt is her 2nd revenue order, 64 days after the 1st
    assert query(database, "SELECT channel, customer_key IS NULL, order_month FROM marts.fct_orders "
                           "WHERE order_key = 'pos-T-9'") == [("store", True, date(2026, 3, 1))]
    assert query(database, "SELECT customer_order_number, days_since_previous_order, customer_cohort_month "
                           "FROM marts.fct_orders WHERE order_key = 'pos-T-1'") == [(2, 64.0, date(2026, 1, 1))]
    # Ben's test order is not counted in his sequence: 203 is his 2nd, 33 days after 201
    assert query(database, "SELECT order_key, customer_order_number, days_since_previous_order FROM marts.fct_orders "
                           "WHERE order_key IN ('shop-201', 'shop-202', 'shop-203') ORDER BY 1") == [
        ("shop-201", 1, None), ("shop-202", None, None), ("shop-203", 2, 33.0)]


def test_retention_metrics_orders_revenue_and_customers(golden):
    database, _ = golden
    rows = query(database, """
        SELECT calendar_month, orders_count, net_revenue, average_order_value, active_customers, new_customers,
               returning_customers, returning_customer_revenue_share, anonymous_net_revenue, purchase_frequency,
               avg_days_between_orders
        FROM marts.retention_metrics WHERE calendar_month >= DATE '2025-12-01' ORDER BY 1""")
    assert rounded(rows) == [
        # Dec: Fay's first order
        (date(2025, 12, 1), 1, Decimal("70.00"), Decimal("70.00"), 1, 1, 0, 0.0, Decimal("0.00"), 1.0, None),
        # Jan: Fay 30 + Ann 90 + 50 + Ben 80 + Cara 25 = 275 / 5 orders = 55.00; new Ann, Ben, Cara; returning
        # Fay (30 / 275 = 0.1091); 5 orders / 4 customers; gaps Fay 31, Ann 20 -> 25.5 days
        (date(2026, 1, 1), 5, Decimal("275.00"), Decimal("55.00"), 4, 3, 1, 0.1091, Decimal("0.00"), 1.25, 25.5),
        # Feb: Dan 100 + Fay 20 + Ben 30 + Ann 60 + guest 15 = 225 / 5 = 45.00; new Dan, guest; returning
        # Fay, Ben, Ann (110 / 225 = 0.4889); gaps Fay 26, Ben 33, Ann 20 -> 26.3333
        (date(2026, 2, 1), 5, Decimal("225.00"), Decimal("45.00"), 5, 2, 3, 0.4889, Decimal("0.00"), 1.0, 26.3333),
        # Mar: Ann 40 + Fay 20 + anonymous 10 + Dan 40 + Cara 30 = 140 / 5 = 28.00; 4 returning customers with
        # 130 (0.9286); 4 identified orders / 4 customers; gaps Ann 20, Fay 33, Dan 45, Cara 64 -> 40.5
        (date(2026, 3, 1), 5, Decimal("140.00"), Decimal("28.00"), 4, 0, 4, 0.9286, Decimal("10.00"), 1.0, 40.5),
    ]
    # one row per month from Gus's first order (2025-01) to the as-of month, empty months included
    assert query(database, "SELECT count(*), min(calendar_month), max(calendar_month), sum(orders_count), "
                           "sum(net_revenue) FROM marts.retention_metrics") == [
        (15, date(2025, 1, 1), date(2026, 3, 1), 17, Decimal("730.00"))]


def test_retention_metrics_repeat_purchase_and_repurchase_windows(golden):
    database, _ = golden
    rows = query(database, """
        SELECT calendar_month, customers_to_date, repeat_customers_to_date, repeat_purchase_rate,
               first_order_customers, repurchase_rate_30d, repurchase_rate_60d, repurchase_rate_90d,
               repurchase_rate_365d
        FROM marts.retention_metrics
        WHERE calendar_month IN (DATE '2025-01-01', DATE '2025-12-01', DATE '2026-01-01', DATE '2026-02-01',
                                 DATE '2026-03-01')
        ORDER BY 1""")
    assert rounded(rows) == [
        # Gus never reorders; every window of January 2025 is over (2025-01-31 + 365 = 2026-01-31)
        (date(2025, 1, 1), 1, 0, 0.0, 1, 0.0, 0.0, 0.0, 0.0),
        # Fay reorders after 31 days: not within 30, within 60 and 90 (12-31 + 90 = 03-31 = as-of: complete);
        # the 365-day window is not over -> null
        (date(2025, 12, 1), 2, 0, 0.0, 1, 0.0, 1.0, 1.0, None),
        # Ann (+20 d), Ben (+33 d), Cara (+64 d): 1 of 3 within 30 days; 01-31 + 60 = 04-01 > as-of -> null;
        # repeat so far: Fay, Ann of Gus, Fay, Ann, Ben, Cara
        (date(2026, 1, 1), 5, 2, 0.4, 3, 0.3333, None, None, None),
        # Dan (+45 d) and the guest (no 2nd order): 0 of 2 within 30 days (02-28 + 30 = 03-30 <= as-of)
        (date(2026, 2, 1), 7, 3, 0.4286, 2, 0.0, None, None, None),
        # nobody's first order in March, and its 30 days are not over
        (date(2026, 3, 1), 7, 5, 0.7143, 0, None, None, None, None),
    ]


def test_retention_metrics_churn(golden):
    database, _ = golden
    rows = query(database, """
        SELECT calendar_month, active_customers_at_month_start, churned_customers, churn_rate,
               active_customers_at_month_end
        FROM marts.retention_metrics
        WHERE calendar_month IN (DATE '2025-01-01', DATE '2025-02-01', DATE '2025-12-01', DATE '2026-01-01',
                                 DATE '2026-02-01', DATE '2026-03-01')
        ORDER BY 1""")
    assert rows == [
        (date(2025, 1, 1), 0, 0, None, 1),  # nobody active before Gus's first order
        (date(2025, 2, 1), 1, 0, 0.0, 1),
        (date(2025, 12, 1), 1, 0, 0.0, 2),
        # Gus's last order was 2025-01-15: 365 days later, 2026-01-15, he lapses: 1 of the 2 active (Gus, Fay)
        (date(2026, 1, 1), 2, 1, 0.5, 4),
        (date(2026, 2, 1), 4, 0, 0.0, 6),
        (date(2026, 3, 1), 6, 0, 0.0, 6),
    ]


def test_retention_metrics_programmes_and_engagement(golden):
    database, _ = golden
    rows = query(database, """
        SELECT calendar_month, loyalty_member_customers, loyalty_participation_rate, subscriber_customers,
               subscription_participation_rate, referrals_sent, referrals_converted, referral_conversion_rate,
               emails_received, email_unsubscribes, email_unsubscribe_rate, reviews_count, avg_review_rating
        FROM marts.retention_metrics WHERE calendar_month >= DATE '2026-01-01' ORDER BY 1""")
    assert rounded(rows) == [
        # Jan: of Fay, Ann, Ben, Cara only Ann is a loyalty member; Ben's subscription starts in February
        (date(2026, 1, 1), 1, 0.25, 0, 0.0, 0, 0, None, 0, 0, None, 0, None),
        # Feb: Fay, Dan, Ben, Ann, guest: Ann in loyalty, Ben subscribed; Ben's referral converted;
        # Ann's 5-star review
        (date(2026, 2, 1), 1, 0.2, 1, 0.2, 1, 1, 1.0, 0, 0, None, 1, 5.0),
        # Mar: Ann, Fay, Dan, Cara: Ann in loyalty, no subscriber; Ann's referral pending; 4 emails received,
        # Cara unsubscribed; Cara's 3-star review
        (date(2026, 3, 1), 1, 0.25, 0, 0.0, 1, 0, 0.0, 4, 1, 0.25, 1, 3.0),
    ]


def test_cohorts_monthly(golden):
    database, _ = golden
    rows = query(database, """
        SELECT cohort_month, months_since_first_order, cohort_size, active_customers, retention_rate, orders_count,
               net_revenue, cumulative_net_revenue, cumulative_net_revenue_per_customer
        FROM marts.customer_cohorts_monthly WHERE cohort_month >= DATE '2025-12-01' ORDER BY 1, 2""")
    assert rounded(rows) == [
        # Fay orders every month: 70, 30, 20, 20 (months 0..3 across the year boundary)
        (date(2025, 12, 1), 0, 1, 1, 1.0, 1, Decimal("70.00"), Decimal("70.00"), Decimal("70.00")),
        (date(2025, 12, 1), 1, 1, 1, 1.0, 1, Decimal("30.00"), Decimal("100.00"), Decimal("100.00")),
        (date(2025, 12, 1), 2, 1, 1, 1.0, 1, Decimal("20.00"), Decimal("120.00"), Decimal("120.00")),
        (date(2025, 12, 1), 3, 1, 1, 1.0, 1, Decimal("20.00"), Decimal("140.00"), Decimal("140.00")),
        # Ann, Ben, Cara: Jan 90 + 50 + 80 + 25 = 245 (/3 = 81.67); Feb Ann 60 + Ben 30; Mar Ann 40 + Cara 30
        (date(2026, 1, 1), 0, 3, 3, 1.0, 4, Decimal("245.00"), Decimal("245.00"), Decimal("81.67")),
        (date(2026, 1, 1), 1, 3, 2, 0.6667, 2, Decimal("90.00"), Decimal("335.00"), Decimal("111.67")),
        (date(2026, 1, 1), 2, 3, 2, 0.6667, 2, Decimal("70.00"), Decimal("405.00"), Decimal("135.00")),
        # Dan and the guest: Feb 100 + 15; Mar Dan 40
        (date(2026, 2, 1), 0, 2, 2, 1.0, 2, Decimal("115.00"), Decimal("115.00"), Decimal("57.50")),
        (date(2026, 2, 1), 1, 2, 1, 0.5, 1, Decimal("40.00"), Decimal("155.00"), Decimal("77.50")),
    ]
    # Gus's cohort: 15 months (0..14), active only in month 0
    assert query(database, "SELECT count(*), max(months_since_first_order), sum(active_customers), "
                           "max(cumulative_net_revenue) FROM marts.customer_cohorts_monthly "
                           "WHERE cohort_month = DATE '2025-01-01'") == [(15, 14, 1, Decimal("20.00"))]
    # the as-of date is the last day of March: no partial month
    assert query(database, "SELECT count(*) FROM marts.customer_cohorts_monthly WHERE is_partial_month") == [(0,)]


def test_lifecycle_daily_counts_on_given_days(golden):
    database, _ = golden
    rows = query(database, """
        SELECT date_day, list(people_count ORDER BY stage_order), max(known_people_count)
        FROM marts.lifecycle_daily
        WHERE date_day IN (DATE '2026-01-31', DATE '2026-02-28', DATE '2026-03-01', DATE '2026-03-31')
        GROUP BY date_day ORDER BY 1""")
    assert rows == [
        # [prospect, first_time, repeat, loyal, advocate]
        # Jan 31: first_time Gus, Ben, Cara; repeat Fay, Ann
        (date(2026, 1, 31), [0, 3, 2, 0, 0], 5),
        # Feb 28: first_time Gus, Cara, Dan, guest; repeat Fay, Ben (out of advocate since his bad CSAT on
        # 02-25); advocate Ann (5-star review 02-20)
        (date(2026, 2, 28), [0, 4, 2, 0, 1], 7),
        # Mar 1: Eve is known (prospect)
        (date(2026, 3, 1), [1, 4, 2, 0, 1], 8),
        # Mar 31: prospect Eve (the anonymous visitor is nobody); first_time Gus, guest; repeat Cara, Dan;
        # loyal Fay (4th order 03-10); advocates Ann and Ben (back on 03-27 = 02-25 + 30 days)
        (date(2026, 3, 31), [1, 2, 2, 1, 2], 8),
    ]
    # the spine runs from the first day anyone was known (Gus's account) to the as-of date, every stage
    assert query(database, "SELECT min(date_day), max(date_day), count(*) FROM marts.lifecycle_daily") == [
        (date(2024, 12, 1), date(2026, 3, 31), 486 * 5)]


def test_lifecycle_transitions(golden):
    database, _ = golden
    totals = query(database, "SELECT from_stage, to_stage, sum(people_count) FROM marts.lifecycle_transitions "
                             "GROUP BY ALL ORDER BY 1 NULLS FIRST, 2")
    assert totals == [
        (None, "first_time", 1),  # the guest, known from her first order
        (None, "prospect", 7),  # Gus, Fay, Ann, Ben, Cara, Dan, Eve
        ("advocate", "repeat", 1),  # Ben's bad CSAT
        ("first_time", "repeat", 5),  # Fay, Ann, Ben, Dan, Cara
        ("prospect", "first_time", 6),
        ("repeat", "advocate", 3),  # Ben (referral), Ann (review), Ben again after recovery
        ("repeat", "loyal", 1),  # Fay
    ]
    assert query(database, "SELECT date_day, people_count FROM marts.lifecycle_transitions "
                           "WHERE from_stage = 'first_time' AND to_stage = 'repeat' ORDER BY 1") == [
        (date(2026, 1, 10), 1), (date(2026, 1, 25), 1), (date(2026, 2, 12), 1), (date(2026, 3, 20), 1),
        (date(2026, 3, 25), 1)]


def test_customer_lifecycle_current_stage(golden):
    database, _ = golden
    rows = query(database, """
        SELECT g.identifier, l.lifecycle_stage, l.lifecycle_stage_since, l.previous_lifecycle_stage,
               l.first_known_on
        FROM intermediate.int_customer_lifecycle AS l
        INNER JOIN intermediate.int_identity_graph AS g
            ON g.customer_key = l.customer_key AND g.identifier_type = 'email'
        ORDER BY 1""")
    assert len(rows) == query(database, "SELECT count(*) FROM intermediate.int_customer_lifecycle")[0][0]
    assert rows == [
        ("email:c1001@example.com", "advocate", date(2026, 2, 20), "repeat", date(2026, 1, 2)),
        ("email:c1002@example.com", "advocate", date(2026, 3, 27), "repeat", date(2026, 1, 3)),
        ("email:c1003@example.com", "repeat", date(2026, 3, 25), "first_time", date(2026, 1, 15)),
        ("email:c1004@example.com", "repeat", date(2026, 3, 20), "first_time", date(2026, 2, 1)),
        ("email:c1005@example.com", "prospect", date(2026, 3, 1), None, date(2026, 3, 1)),
        ("email:c1006@example.com", "loyal", date(2026, 3, 10), "repeat", date(2025, 12, 1)),
        ("email:c1007@example.com", "first_time", date(2025, 1, 15), "prospect", date(2024, 12, 1)),
        ("email:guest@example.com", "first_time", date(2026, 2, 20), None, date(2026, 2, 20)),
    ]


def test_retention_models_read_no_clock_and_no_duckdb_only_syntax():
    paths = [*(DBT_PROJECT_DIR / "models" / "marts" / "retention").glob("*.sql"),
             *(DBT_PROJECT_DIR / "models" / "intermediate" / "lifecycle").glob("*.sql")]
    assert len(paths) >= 8
    for path in paths:
        text = path.read_text().lower()
        for word in ("now()", "current_date", "current_timestamp", "qualify", "::", "generate_series", "range("):
            assert word not in text, f"{path.name} uses {word}"
