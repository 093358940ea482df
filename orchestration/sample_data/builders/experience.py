"""reviews/reviews and support/tickets: sentiment that follows delivery and refund experience."""

from __future__ import annotations

from ..context import Ctx


def reviews(ctx: Ctx) -> None:
    """Reviews of delivered orders: mostly 4-5 stars; late or refunded orders write more, and worse."""
    ctx.run("""
        INSERT INTO rec_reviews__reviews BY NAME
        WITH c AS (
            SELECT o.oid, o.cid, o.email, o.late, o.refund_kind,
                   CASE WHEN o.refund_kind IS NOT NULL THEN addsec(o.refund_at, (0.5 + 2.5 * rnd(501, o.oid)) * 86400)
                        ELSE addsec(o.delivered_at, (3 + 11 * rnd(501, o.oid)) * 86400) END AS ev_at,
                   rnd(502, o.oid) AS ur, rnd(503, o.oid) AS us
            FROM orders o
            WHERE o.ships AND rnd(500, o.oid) < 0.08 + CASE WHEN o.late THEN 0.06 ELSE 0 END
                                                   + CASE WHEN o.refund_kind IS NOT NULL THEN 0.1 ELSE 0 END
        ), r AS (
            SELECT *,
                   CASE WHEN refund_kind IS NOT NULL OR late
                        THEN CASE WHEN ur < 0.4 THEN 1 WHEN ur < 0.6 THEN 2 WHEN ur < 0.75 THEN 3
                                  WHEN ur < 0.88 THEN 4 ELSE 5 END
                        ELSE CASE WHEN ur < 0.02 THEN 1 WHEN ur < 0.05 THEN 2 WHEN ur < 0.13 THEN 3
                                  WHEN ur < 0.35 THEN 4 ELSE 5 END END AS rating
            FROM c
        ), v AS (
            -- 30% go through moderation (pending, then published; a few rejected)
            SELECT r.*, v.v, CASE WHEN v.v = 1 THEN ev_at ELSE addsec(ev_at, 86400) END AS upd,
                   CASE WHEN us >= 0.3 THEN 'published' WHEN v.v = 1 THEN 'pending'
                        WHEN us < 0.03 THEN 'rejected' ELSE 'published' END AS status
            FROM r JOIN range(1, 3) v(v) ON v.v = 1 OR us < 0.3
        )
        SELECT 'r_' || v.oid AS id, i.product_id, v.cid AS customer_id, v.email AS customer_email, v.rating,
               t.title, t.body, true AS verified_buyer, v.status, v.ev_at AS created_at, v.upd AS updated_at,
               v.oid * 10 + v.v AS _rid, false AS _persona
        FROM v
        JOIN order_items i ON i.oid = v.oid AND i.line_no = 1
        JOIN ref_review_text_count n ON n.rating = v.rating
        JOIN ref_review_texts t ON t.rating = v.rating AND t.idx = floor(rnd(504, v.oid) * n.n)::INT
    """)


def plan_tickets(ctx: Ctx) -> None:
    """`tickets_w`: one row per ticket with its lifecycle times and final satisfaction."""
    ctx.run("""
        CREATE OR REPLACE TABLE tickets_w AS
        WITH src AS (
            SELECT 1 AS kind, oid AS k, cid, email, oid AS order_id,
                   addsec(promised_at, (0.2 + 1.8 * rnd(600, oid)) * 86400) AS ev_at
            FROM orders WHERE ships AND late AND rnd(601, oid) < 0.35
            UNION ALL
            SELECT 2, oid, cid, email, oid, addsec(refund_at, -(0.5 + rnd(600, oid)) * 86400)
            FROM orders WHERE refund_kind IS NOT NULL AND rnd(602, oid) < 0.5
            UNION ALL
            SELECT 3, oid, cid, email, oid, addsec(created_at, rnd(600, oid) * 5 * 86400)
            FROM orders WHERE NOT test AND rnd(603, oid) < 0.015
            UNION ALL
            SELECT 4, cid, cid, email, NULL,
                   addsec(created_at, rnd(604, cid) * (epoch($END) - epoch(created_at)))
            FROM cust WHERE rnd(605, cid) < 0.006
        ), t AS (
            SELECT *, (row_number() OVER (ORDER BY ev_at, kind, k) + 19999)::BIGINT AS tid FROM src
        )
        SELECT *,
               addsec(ev_at, (1 + 7 * rnd(610, tid)) * 3600) AS open_at,
               addsec(ev_at, (4 + 68 * rnd(611, tid)) * 3600) AS solved_at,
               addsec(ev_at, (4 + 68 * rnd(611, tid)) * 3600 + (2 + 28 * rnd(612, tid)) * 3600) AS rated_at,
               CASE WHEN rnd(613, tid) < 0.4 THEN NULL  -- survey offered, never answered
                    WHEN rnd(614, tid) < CASE WHEN kind IN (1, 2) THEN 0.45 ELSE 0.1 END THEN 'bad'
                    ELSE 'good' END AS rating,
               ['email', 'chat', 'phone', 'social'][1 + (rnd(615, tid) >= 0.4)::INT + (rnd(615, tid) >= 0.75)::INT
                                                       + (rnd(615, tid) >= 0.95)::INT] AS channel,
               CASE kind WHEN 1 THEN ['Where is my order?', 'Order arrived late', 'Tracking not updating']
                                    [1 + floor(rnd(616, tid) * 3)::INT]
                         WHEN 2 THEN ['Damaged item', 'Return request', 'Wrong item received']
                                    [1 + floor(rnd(616, tid) * 3)::INT]
                         WHEN 3 THEN ['Question about my order', 'Change delivery address', 'Invoice request']
                                    [1 + floor(rnd(616, tid) * 3)::INT]
                         ELSE ['Account help', 'Brewing advice', 'Wholesale enquiry'][1 + floor(rnd(616, tid) * 3)::INT]
               END AS subject,
               CASE kind WHEN 1 THEN ['late_delivery'] WHEN 2 THEN ['refund'] WHEN 3 THEN ['order_question']
                         ELSE ['general'] END AS tags,
               CASE WHEN kind IN (1, 2) AND rnd(617, tid) < 0.4 THEN 'high'
                    WHEN rnd(617, tid) < 0.1 THEN 'low' ELSE 'normal' END AS priority
        FROM t
    """)


def tickets(ctx: Ctx) -> None:
    """Ticket versions: new -> open -> solved (survey offered) -> rated good/bad -> closed."""
    plan_tickets(ctx)
    ctx.run("""
        INSERT INTO rec_support__tickets BY NAME
        WITH v AS (
            SELECT t.*, v.v,
                   CASE v.v WHEN 1 THEN ev_at WHEN 2 THEN open_at WHEN 3 THEN solved_at WHEN 4 THEN rated_at
                            ELSE addsec(solved_at, 4 * 86400) END AS upd
            FROM tickets_w t JOIN range(1, 6) v(v) ON v.v <> 4 OR t.rating IS NOT NULL
        )
        SELECT tid AS id, email AS requester_email, channel, subject,
               CASE v WHEN 1 THEN 'new' WHEN 2 THEN 'open' WHEN 5 THEN 'closed' ELSE 'solved' END AS status,
               priority, order_id,
               CASE WHEN v <= 2 THEN 'unoffered' WHEN v = 3 OR rating IS NULL THEN 'offered'
                    WHEN rated_at <= upd THEN rating ELSE 'offered' END AS satisfaction,
               to_json(tags) AS tags, ev_at AS created_at, upd AS updated_at,
               CASE WHEN v >= 3 THEN solved_at END AS solved_at,
               tid * 10 + v AS _rid, false AS _persona
        FROM v
    """)
