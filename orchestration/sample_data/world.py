"""The simulated shop: customers, guests and orders (with line items and statuses), as DuckDB tables.

These tables hold the *truth* every landing entity is derived from; entity builders only reshape them.
Salts passed to `rnd()` are grouped by table (100s customers, 200s orders) so streams never collide.
"""

from __future__ import annotations

from .calendar import warp
from .context import Ctx


def build_customers(ctx: Ctx) -> None:
    """`cust`: one row per generic customer with behaviour parameters (long-tailed, seeded)."""
    ctx.run(f"""
        CREATE OR REPLACE TABLE cust1 AS {warp('''
            SELECT i, 10000 + i AS cid, rnd(100, i) AS x_created,
                   CASE WHEN rnd(101, i) < 0.6 THEN 'checkout'
                        WHEN rnd(101, i) < 0.88 THEN 'newsletter' ELSE 'account' END AS origin,
                   first_name_at(rnd(102, i)) AS first_name, last_name_at(rnd(103, i)) AS last_name
            FROM range($N) r(i)''', 'x_created', 'signup', 'created_at')}
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE cust2 AS
        SELECT i, cid, origin, first_name, last_name, created_at,
               lower(first_name || '.' || last_name || '.' || cid || '@example.com') AS email,
               CASE WHEN rnd(104, i) < 0.7 THEN printf('+1%03d555%04d', 200 + floor(rnd(105, i) * 800)::INT,
                                                       floor(rnd(106, i) * 10000)::INT) END AS phone,
               pick_city(rnd(107, i)) AS city_idx,
               pick_category(rnd(108, i)) AS fav_cat,
               CASE origin WHEN 'checkout' THEN rnd(109, i) < 0.5 WHEN 'newsletter' THEN true
                           ELSE rnd(109, i) < 0.2 END AS accepts0,
               -- Accounts made at checkout order at once; newsletter/account signups maybe later.
               CASE origin
                   WHEN 'checkout' THEN addsec(created_at, 60 + rnd(110, i) * 240)
                   WHEN 'newsletter' THEN CASE WHEN rnd(111, i) < 0.45
                       THEN addsec(created_at, 3600 + expo(rnd(110, i), 40 * 86400)) END
                   ELSE CASE WHEN rnd(111, i) < 0.55
                       THEN addsec(created_at, 600 + expo(rnd(110, i), 10 * 86400)) END
               END AS first_order_raw,
               rnd(112, i) < 0.52 AS one_time,  -- most customers never come back
               least(400, greatest(7, 45 * exp(0.7 * gauss(rnd(113, i), rnd(114, i))))) AS gap_days,
               expo(rnd(115, i), 420) AS life_days,
               rnd(116, i) < 0.25 AS app_user,
               power(rnd(117, i), 1.7) * 0.65 AS engagement,  -- email open probability, long-tailed
               exp(0.8 * gauss(rnd(118, i), rnd(119, i)) - 0.32) AS browse_factor,
               rnd(120, i) < 0.4 AS loyalty_member,
               'a-' || hx(121, i) AS anon_id,
               rnd(130, i) < 0.85 AS web_signup
        FROM cust1
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE cust AS
        WITH a AS (
            SELECT *, CASE WHEN first_order_raw < $END THEN first_order_raw END AS first_order_at,
                   phone IS NOT NULL AND rnd(122, i) < 0.15 AS sms_opt_in,
                   CASE WHEN NOT accepts0 AND rnd(123, i) < 0.12
                        THEN addsec(created_at, 3600 + expo(rnd(124, i), 60 * 86400)) END AS late_sub_raw,
                   CASE WHEN rnd(127, i) < 0.04
                        THEN addsec(created_at, 86400 + expo(rnd(128, i), 150 * 86400)) END AS moved_raw,
                   pick_city(rnd(129, i)) AS new_city_idx
            FROM cust2
        )
        SELECT *,
               first_order_at IS NOT NULL AS buyer,
               CASE WHEN late_sub_raw < $END THEN late_sub_raw END AS late_sub_at,
               CASE WHEN moved_raw < $END THEN moved_raw END AS moved_at,
               CASE WHEN first_order_at IS NULL THEN NULL
                    ELSE least(addsec(first_order_at, life_days * 86400), $END) END AS active_until,
               CASE WHEN first_order_at IS NULL OR one_time THEN 0
                    ELSE least(60, floor((epoch(least(addsec(first_order_at, life_days * 86400), $END))
                                          - epoch(first_order_at)) / 86400 / gap_days))::INT END AS repeats
        FROM a
    """)
    ctx.run("""
        ALTER TABLE cust ADD COLUMN subscribed_from TIMESTAMP;
        UPDATE cust SET subscribed_from = CASE WHEN accepts0 THEN created_at ELSE late_sub_at END;
    """)


def build_orders(ctx: Ctx) -> None:
    """`orders` (one row per order, final amounts and lifecycle times) and `order_items`."""
    d = ctx.dirt
    # Member orders: first order, then repeats spaced by the customer's own rhythm on the seasonal axis.
    ctx.run(f"""
        CREATE OR REPLACE TABLE ord_raw AS
        WITH reps AS (
            SELECT cid, unnest(range(1, repeats + 1)) AS j, f_order(first_order_at) AS x0, gap_days
            FROM cust WHERE repeats > 0
        ), rep_t AS (
            {warp('''SELECT cid, j, x0 + (j + 0.35 * (rnd3(200, cid, j) - 0.5)) * gap_days / $T AS x
                     FROM reps''', 'x', 'order', 't')}
        )
        SELECT c.cid AS skey, c.cid, 0 AS j, c.first_order_at AS created_at FROM cust c
        WHERE c.first_order_at IS NOT NULL
        UNION ALL
        SELECT r.cid, r.cid, r.j, r.t FROM rep_t r JOIN cust c USING (cid)
        WHERE r.x < 1 AND r.t < c.active_until AND r.t > c.first_order_at
    """)
    # Guest checkouts: half are people who also have an account (same email), half are strangers.
    ctx.run(f"""
        CREATE OR REPLACE TABLE guests AS
        WITH g AS (
            {warp('''SELECT g, rnd(150, g) < 0.5 AS known, 10000 + floor(rnd(151, g) * $N)::BIGINT AS match_cid,
                            rnd(152, g) AS x, first_name_at(rnd(153, g)) AS fn, last_name_at(rnd(154, g)) AS ln
                     FROM range(round($N * 0.06)::BIGINT) r(g)''', 'x', 'order', 'created_at')}
        )
        SELECT g.g, g.created_at,
               CASE WHEN g.known AND c.email IS NOT NULL THEN c.email
                    ELSE lower(g.fn || '.' || g.ln || '.g' || g.g || '@example.com') END AS email,
               coalesce(c.fav_cat, pick_category(rnd(155, g.g))) AS fav_cat
        FROM g LEFT JOIN cust c ON c.cid = g.match_cid AND g.known
        WHERE g.created_at < $END
    """)
    ctx.run(f"""
        CREATE OR REPLACE TABLE ord_keys AS
        WITH base AS (
            SELECT o.skey, o.j, o.cid, o.created_at, c.email, c.fav_cat, c.app_user, c.loyalty_member,
                   false AS test
            FROM ord_raw o JOIN cust c USING (cid)
            UNION ALL
            SELECT -1 - g, 0, NULL, created_at, email, fav_cat, false, false, false FROM guests
        )
        SELECT * FROM base
        UNION ALL  -- staff test orders, placed next to real traffic
        SELECT skey, j + 1000, NULL, addsec(created_at, 3600), 'qa+' || (skey + 1000000) || '@shop.example',
               0, false, false, true
        FROM base WHERE rnd3(201, skey, j) < {d.test_orders}
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE ord_ids AS
        SELECT row_number() OVER (ORDER BY created_at, skey, j) + 99999 AS oid, *,
               CASE WHEN test THEN 'web'
                    WHEN cid IS NOT NULL AND rnd3(202, skey, j) < 0.06 THEN 'pos'
                    WHEN rnd3(203, skey, j) < CASE WHEN app_user THEN 0.75 ELSE 0.05 END THEN 'app'
                    ELSE 'web' END AS channel
        FROM ord_keys WHERE created_at < $END
    """)
    # Line items: favourite category most of the time; the same product twice becomes one line.
    ctx.run("""
        CREATE OR REPLACE TABLE order_items AS
        WITH picks AS (
            SELECT oid, n,
                   CASE WHEN rnd3(210, oid, n) < 0.65 THEN pick_product_in(fav_cat, rnd3(211, oid, n))
                        ELSE pick_product(rnd3(212, oid, n)) END AS pidx,
                   CASE WHEN rnd3(213, oid, n) < 0.78 THEN 1 WHEN rnd3(213, oid, n) < 0.95 THEN 2 ELSE 3 END
                       AS qty
            FROM (SELECT oid, fav_cat, unnest(range(1 + (rnd(214, oid) < 0.45)::INT + (rnd(214, oid) < 0.15)::INT
                                                    + (rnd(214, oid) < 0.05)::INT)) AS n
                  FROM ord_ids)
        ), merged AS (
            SELECT oid, pidx, sum(qty)::INT AS qty, min(n) AS first_n FROM picks GROUP BY oid, pidx
        )
        SELECT m.oid, row_number() OVER (PARTITION BY m.oid ORDER BY m.first_n)::INT AS line_no, m.qty,
               p.product_id, p.sku, p.title, p.category, p.price, p.cat_idx
        FROM merged m JOIN ref_products p ON p.idx = m.pidx
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE order_sums AS
        SELECT oid, sum(qty * price)::DECIMAL(18, 2) AS subtotal, count(*) AS n_lines,
               -- list_sort on the leading id orders the lines (cheaper than an ordered aggregate)
               to_json(list_sort(list({'id': oid * 100 + line_no, 'product_id': product_id, 'sku': sku,
                                       'title': title, 'category': category, 'quantity': qty,
                                       'price': money(price)}))) AS line_items,
               arg_min(price, line_no) AS first_price, arg_min(qty, line_no) AS first_qty
        FROM order_items GROUP BY oid
    """)
    # Status, loyalty redemption, discounts and totals (money stays DECIMAL, so totals add up exactly).
    ctx.run(f"""
        CREATE OR REPLACE TABLE ord_a AS
        SELECT o.*, s.subtotal, s.n_lines, s.line_items, s.first_price, s.first_qty,
               CASE WHEN o.test OR o.channel = 'pos' THEN 'normal'
                    WHEN rnd(220, oid) < {d.cancelled_orders} THEN 'cancelled'
                    WHEN rnd(220, oid) < {d.cancelled_orders + d.voided_orders} THEN 'voided'
                    ELSE 'normal' END AS status
        FROM ord_ids o JOIN order_sums s USING (oid)
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE ord_b AS
        SELECT *,
               CASE WHEN loyalty_member AND cid IS NOT NULL AND NOT test AND status = 'normal'
                    THEN floor(subtotal)::BIGINT ELSE 0 END AS earn
        FROM ord_a
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE ord_c AS
        WITH l AS (
            SELECT *, lag(earn) OVER w AS prev_earn, lag(created_at) OVER w AS prev_at
            FROM ord_b WINDOW w AS (PARTITION BY cid ORDER BY created_at, oid)
        ), r AS (
            -- Redeem at most half of what the previous order earned: the balance always covers it.
            SELECT *, CASE WHEN earn > 0 AND prev_earn >= 200 AND created_at - prev_at < INTERVAL 200 DAY
                                AND rnd(221, oid) < 0.35 AND 5 * floor(prev_earn / 200) <= subtotal * 0.5
                           THEN 100 * floor(prev_earn / 200)::BIGINT ELSE 0 END AS redeem_points
            FROM l
        )
        SELECT *,
               CASE WHEN test THEN NULL
                    WHEN j = 0 AND cid IS NOT NULL AND rnd(222, oid) < 0.35 THEN 'WELCOME10'
                    WHEN ((month(created_at) = 11 AND day(created_at) >= 24)
                          OR (month(created_at) = 12 AND day(created_at) <= 2)) AND rnd(223, oid) < 0.5
                        THEN 'BFCM15'
                    WHEN rnd(224, oid) < 0.07 AND subtotal >= 30 THEN 'SAVE5' END AS code
        FROM r
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE ord_d AS
        WITH a AS (
            SELECT *,
                   (CASE code WHEN 'WELCOME10' THEN round(subtotal * 0.10, 2)
                              WHEN 'BFCM15' THEN round(subtotal * 0.15, 2)
                              WHEN 'SAVE5' THEN 5.00 ELSE 0 END
                    + redeem_points / 20)::DECIMAL(18, 2) AS discounts
            FROM ord_c
        ), b AS (
            SELECT *, CASE WHEN channel <> 'pos' AND subtotal - discounts < 50 THEN 5.00 ELSE 0.00 END
                          ::DECIMAL(18, 2) AS shipping,
                   round((subtotal - discounts) * 0.08, 2)::DECIMAL(18, 2) AS tax
            FROM a
        )
        SELECT *, (subtotal - discounts + shipping + tax)::DECIMAL(18, 2) AS total FROM b
    """)
    # Fulfilment: promised by end of day+4; a peak-season-heavy share is late. Refunds lean on late ones.
    ctx.run(f"""
        CREATE OR REPLACE TABLE orders AS
        WITH t AS (
            SELECT *,
                   addsec(created_at, (0.3 + 1.7 * rnd(230, oid)) * 86400) AS shipped_at,
                   created_at::DATE + INTERVAL 4 DAY + INTERVAL '23:59:59' AS promised_at,
                   rnd(231, oid) < 0.09 + CASE WHEN month(created_at) IN (11, 12) THEN 0.1 ELSE 0 END AS slow
            FROM ord_d
        ), u AS (
            SELECT *, addsec(shipped_at, CASE WHEN slow THEN 4.5 + 4 * rnd(232, oid) ELSE 0.8 + 1.5 * rnd(232, oid)
                                        END * 86400) AS delivered_at
            FROM t
        ), v AS (
            SELECT *, delivered_at > promised_at AS late,
                   CASE WHEN status <> 'normal' OR channel = 'pos' OR test THEN NULL
                        WHEN rnd(233, oid) < {d.full_refunds}
                             * CASE WHEN delivered_at > promised_at THEN 3 ELSE 0.78 END THEN 'full'
                        WHEN rnd(233, oid) < {d.full_refunds + d.partial_refunds}
                             * CASE WHEN delivered_at > promised_at THEN 3 ELSE 0.78 END THEN 'partial'
                   END AS refund_kind
            FROM u
        )
        SELECT *,
               addsec(delivered_at, (2 + 12 * rnd(234, oid)) * 86400) AS refund_at,
               CASE refund_kind WHEN 'full' THEN total
                    WHEN 'partial' THEN least(CASE WHEN n_lines > 1 OR first_qty > 1 THEN first_price
                                                   ELSE round(first_price * 0.5, 2) END, round(total * 0.5, 2))
               END::DECIMAL(18, 2) AS refund_amount,
               CASE WHEN late THEN 'late_delivery'
                    ELSE ['damaged', 'not_as_described', 'changed_mind'][1 + floor(rnd(235, oid) * 3)::INT]
               END AS refund_reason,
               addsec(created_at, (1 + 19 * rnd(236, oid)) * 3600) AS cancel_at,
               addsec(created_at, (0.5 + 2.5 * rnd(236, oid)) * 3600) AS void_at,
               ['UPS', 'USPS', 'FedEx', 'DHL'][1 + floor(rnd(237, oid) * 4)::INT] AS carrier,
               pick_traffic(rnd(240, oid)) AS traffic_idx,
               CASE WHEN status = 'normal' AND NOT test AND channel <> 'pos' THEN true ELSE false END AS ships,
               oid - 100000 + 2001 AS order_number
        FROM v
    """)
    for t in ("ord_raw", "ord_keys", "ord_ids", "ord_a", "ord_b", "ord_c", "ord_d", "order_sums", "cust1",
              "cust2"):
        ctx.run(f"DROP TABLE IF EXISTS {t}")
