"""loyalty/ledger (earn, redeem, expire FIFO, goodwill adjustments) and loyalty/tier_changes."""

from __future__ import annotations

from ..context import Ctx

# Lifetime spend (merchandise subtotal) needed for each tier.
TIERS_SQL = "CASE WHEN {x} >= 2500 THEN 'platinum' WHEN {x} >= 1000 THEN 'gold' WHEN {x} >= 250 THEN 'silver' " \
            "ELSE 'bronze' END"


def ledger(ctx: Ctx) -> None:
    """Earn 1 point per whole dollar of subtotal (expiring 12 months later), redemptions at checkout,
    +100 goodwill after a bad CSAT, and expiries of whatever FIFO consumption left in each lot."""
    ctx.run("""
        CREATE OR REPLACE TABLE ledger_w AS
        SELECT oid * 10 + 1 AS lid, cid, 'earn' AS type, earn AS points, oid AS order_id,
               addsec(created_at, 60) AS ev_at, 'purchase' AS reason
        FROM orders WHERE earn > 0
        UNION ALL
        SELECT oid * 10 + 2, cid, 'redeem', -redeem_points, oid, addsec(created_at, -30), 'redemption'
        FROM orders WHERE redeem_points > 0
        UNION ALL
        SELECT t.tid * 10 + 3, t.cid, 'adjust', 100, t.order_id, addsec(t.rated_at, 3600), 'goodwill'
        FROM tickets_w t JOIN cust c ON c.cid = t.cid
        WHERE c.loyalty_member AND t.rating = 'bad'
          AND t.ev_at > (SELECT min(o.created_at) FROM orders o WHERE o.cid = t.cid AND o.earn > 0)
    """)
    # FIFO: with lots expiring in the order they were earned, the total expired up to lot i is
    # S_i = max(0, max_{j<=i}(cumulative earned_j - redeemed before lot j expires)); lot i expires S_i - S_{i-1}.
    ctx.run("""
        CREATE OR REPLACE TABLE ledger_exp AS
        WITH lots AS (
            SELECT lid, cid, points, ev_at, ev_at::DATE + INTERVAL 365 DAY + INTERVAL '23:59:59' AS expires_at,
                   sum(points) OVER (PARTITION BY cid ORDER BY ev_at, lid) AS cum
            FROM ledger_w WHERE points > 0
        ), red AS (
            SELECT l.lid, coalesce(sum(-r.points), 0) AS redeemed
            FROM lots l LEFT JOIN ledger_w r ON r.cid = l.cid AND r.points < 0 AND r.ev_at <= l.expires_at
            GROUP BY l.lid
        ), s AS (
            SELECT l.*, greatest(0, max(l.cum - r.redeemed) OVER (PARTITION BY l.cid ORDER BY l.ev_at, l.lid)) AS s
            FROM lots l JOIN red r USING (lid)
        )
        SELECT *, s - coalesce(lag(s) OVER (PARTITION BY cid ORDER BY ev_at, lid), 0) AS expired FROM s
    """)
    ctx.run("""
        INSERT INTO rec_loyalty__ledger BY NAME
        SELECT 'l_' || w.lid AS id, w.cid AS customer_id, w.type, w.points, w.order_id, w.ev_at AS occurred_at,
               e.expires_at, w.reason, w.lid AS _rid, false AS _persona
        FROM ledger_w w LEFT JOIN ledger_exp e USING (lid)
        UNION ALL
        SELECT 'l_' || (lid + 3), cid, 'expire', -expired, NULL, addsec(expires_at, 1), NULL, 'expiry',
               lid + 3, false
        FROM ledger_exp WHERE expired > 0
    """)


def tier_changes(ctx: Ctx) -> None:
    """Enrolment at bronze with the first order, then a change each time lifetime spend crosses a tier."""
    tier = TIERS_SQL.format(x="cum")
    prev = TIERS_SQL.format(x="cum - subtotal")
    ctx.run(f"""
        INSERT INTO rec_loyalty__tier_changes BY NAME
        WITH m AS (
            SELECT o.oid, o.cid, o.created_at, o.subtotal, o.j,
                   sum(o.subtotal) OVER (PARTITION BY o.cid ORDER BY o.created_at, o.oid) AS cum
            FROM orders o JOIN cust c ON c.cid = o.cid
            WHERE c.loyalty_member AND o.earn > 0
        ), e AS (
            SELECT cid, min(o.created_at) AS ev_at FROM orders o JOIN cust c USING (cid)
            WHERE c.loyalty_member AND NOT o.test GROUP BY cid
        )
        SELECT 't_' || (cid * 10 + 2) AS id, cid AS customer_id, NULL AS previous_tier, 'bronze' AS tier,
               addsec(ev_at, 61) AS changed_at, 'enrolled' AS reason, cid * 10 + 2 AS _rid, false AS _persona
        FROM e
        UNION ALL
        SELECT 't_' || (oid * 10 + 1), cid, {prev}, {tier}, addsec(created_at, 61), 'spend_threshold',
               oid * 10 + 1, false
        FROM m WHERE {prev} <> {tier}
    """)
