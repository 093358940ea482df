"""subscriptions/subscriptions (start, pause, resume, cancel) and referrals/referrals."""

from __future__ import annotations

from ..context import Ctx


def subscriptions(ctx: Ctx) -> None:
    """Repeat buyers sometimes subscribe at their second order; subscriptions pause and cancel."""
    ctx.run("""
        CREATE OR REPLACE TABLE subs_w AS
        WITH s AS (
            SELECT c.cid, c.email, addsec(o.created_at, 3600) AS ev_at,
                   -- filters for brewers of gear, tea for tea people, else a coffee refill
                   CASE c.fav_cat WHEN 1 THEN 'P-200' WHEN 2 THEN 'P-300' WHEN 3 THEN 'P-200'
                                  ELSE 'P-101' END AS product_id,
                   CASE WHEN rnd(801, c.cid) < 0.6 THEN 30 WHEN rnd(801, c.cid) < 0.85 THEN 60 ELSE 14 END AS every,
                   CASE WHEN rnd(802, c.cid) < 0.3 THEN 86400 * (7 + expo(rnd(803, c.cid), 90)) END AS pause_after,
                   rnd(804, c.cid) < 0.5 AS resumes,
                   CASE WHEN rnd(805, c.cid) < 0.4 THEN 86400 * (14 + expo(rnd(806, c.cid), 200)) END AS cancel_after
            FROM cust c JOIN orders o ON o.cid = c.cid AND o.j = 1
            WHERE c.repeats >= 1 AND rnd(800, c.cid) < 0.08
        )
        SELECT s.*, p.sku, p.category, round(p.price * 0.9, 2)::DECIMAL(18, 2) AS price,
               addsec(ev_at, pause_after) AS paused_at,
               CASE WHEN resumes THEN addsec(ev_at, pause_after + 86400 * (20 + 40 * rnd(807, cid))) END AS resumed_at,
               addsec(ev_at, greatest(coalesce(cancel_after, 0),
                                   coalesce(pause_after + CASE WHEN resumes THEN 86400 * 61 ELSE 86400 END, 0)))
                   AS cancelled_at0
        FROM s JOIN ref_products p USING (product_id)
    """)
    ctx.run("""
        INSERT INTO rec_subscriptions__subscriptions BY NAME
        WITH v AS (
            SELECT s.*, v.v,
                   CASE v.v WHEN 1 THEN ev_at WHEN 2 THEN paused_at WHEN 3 THEN resumed_at ELSE cancelled_at0 END AS upd
            FROM subs_w s JOIN range(1, 5) v(v)
              ON v.v = 1 OR (v.v = 2 AND pause_after IS NOT NULL) OR (v.v = 3 AND resumed_at IS NOT NULL)
                 OR (v.v = 4 AND cancel_after IS NOT NULL)
        )
        SELECT 's_' || cid AS id, cid AS customer_id, email, product_id, sku, category,
               CASE v WHEN 2 THEN 'paused' WHEN 4 THEN 'cancelled' ELSE 'active' END AS status,
               every AS interval_days, price, ev_at AS created_at, upd AS updated_at,
               CASE WHEN v = 4 THEN upd END AS cancelled_at,
               CASE WHEN v IN (1, 3) THEN upd + to_days(every) END AS next_charge_at,
               cid * 10 + v AS _rid, false AS _persona
        FROM v
    """)


def referrals(ctx: Ctx) -> None:
    """Repeat buyers share links; about a third convert into a new customer's first order."""
    ctx.run("""
        CREATE OR REPLACE TABLE referrals_w AS
        WITH r AS (
            SELECT c.cid, n, addsec(o.created_at, 86400 * (1 + 59 * rnd3(902, c.cid, n) + 7 * n)) AS ev_at,
                   rnd3(901, c.cid, n) < 0.35 AS converts, 86400 * (1 + 19 * rnd3(903, c.cid, n)) AS delay
            FROM (SELECT *, unnest(range(1 + floor(rnd(904, cid) * 3)::INT)) AS n
                  FROM cust WHERE repeats >= 1 AND rnd(900, cid) < 0.15) c
            JOIN orders o ON o.cid = c.cid AND o.j = 1
        ), firsts AS (
            -- a unique key (seconds, then id) so the as-of match never depends on tie order
            SELECT cid AS referee, first_order_at, email AS referee_email,
                   epoch(first_order_at)::BIGINT * 2097152 + cid AS fkey
            FROM cust WHERE first_order_at IS NOT NULL
        ), m AS (
            SELECT r.*, f.referee, f.first_order_at, f.referee_email
            FROM (SELECT *, epoch(addsec(ev_at, delay))::BIGINT * 2097152 AS want FROM r
                  WHERE converts AND ev_at < $END) r
            ASOF LEFT JOIN firsts f ON f.fkey >= r.want
        ), d AS (
            -- one referee per referral and per referee; the referrer never refers themselves
            SELECT cid, n, referee, first_order_at, referee_email FROM m
            WHERE referee IS NOT NULL AND referee <> cid
            QUALIFY row_number() OVER (PARTITION BY referee ORDER BY ev_at, cid, n) = 1
        )
        SELECT r.cid, r.n, r.ev_at, d.referee, d.first_order_at AS converted_at,
               coalesce(d.referee_email, 'friend.' || r.cid || '.' || r.n || '@example.net') AS referee_email,
               (SELECT min(o.oid) FROM orders o WHERE o.cid = d.referee AND o.j = 0) AS converted_order_id,
               d.referee IS NULL AND rnd3(905, r.cid, r.n) < 0.4 AS expires
        FROM r LEFT JOIN d USING (cid, n)
        WHERE r.ev_at < $END
    """)
    ctx.run("""
        INSERT INTO rec_referrals__referrals BY NAME
        WITH v AS (
            SELECT w.*, v.v,
                   CASE WHEN v.v = 1 THEN ev_at WHEN referee IS NOT NULL THEN converted_at
                        ELSE addsec(ev_at, 60 * 86400) END AS upd
            FROM referrals_w w JOIN range(1, 3) v(v) ON v.v = 1 OR referee IS NOT NULL OR expires
        )
        SELECT 'ref_' || (cid * 10 + n) AS id, cid AS referrer_customer_id, referee_email,
               CASE WHEN v = 1 THEN 'pending' WHEN referee IS NOT NULL THEN 'converted' ELSE 'expired' END AS status,
               CASE WHEN v = 2 THEN converted_order_id END AS converted_order_id,
               ev_at AS created_at, upd AS updated_at, CASE WHEN v = 2 AND referee IS NOT NULL THEN converted_at END
                   AS converted_at,
               (cid * 10 + n) * 10 + v AS _rid, false AS _persona
        FROM v
    """)
