"""shop/customers (upserted on change) and shop/orders (a version per lifecycle step)."""

from __future__ import annotations

from ..context import Ctx


def customers(ctx: Ctx) -> None:
    """A version at sign-up, at each consent change (late opt-in, unsubscribe) and on moving house."""
    ctx.run("""
        INSERT INTO rec_shop__customers BY NAME
        WITH ev AS (
            SELECT cid, 1 AS v, created_at AS t FROM cust
            UNION ALL SELECT cid, 2, addsec(late_sub_at, 120) FROM cust WHERE late_sub_at IS NOT NULL
            UNION ALL SELECT cid, 3, addsec(unsub_at, 600) FROM cust_consent WHERE unsub_at IS NOT NULL
            UNION ALL SELECT cid, 4, moved_at FROM cust WHERE moved_at IS NOT NULL
        ), s AS (
            SELECT ev.v, ev.t, c.*, k.unsub_at,
                   -- consent as of this version: the latest change at or before it wins
                   CASE WHEN k.unsub_at IS NOT NULL AND addsec(k.unsub_at, 600) <= ev.t THEN false
                        WHEN c.late_sub_at IS NOT NULL AND addsec(c.late_sub_at, 120) <= ev.t THEN true
                        ELSE c.accepts0 END AS acc,
                   CASE WHEN k.unsub_at IS NOT NULL AND addsec(k.unsub_at, 600) <= ev.t THEN k.unsub_at
                        WHEN c.late_sub_at IS NOT NULL AND addsec(c.late_sub_at, 120) <= ev.t THEN c.late_sub_at
                        ELSE c.created_at END AS acc_at,
                   CASE WHEN c.moved_at IS NOT NULL AND c.moved_at <= ev.t THEN c.new_city_idx
                        ELSE c.city_idx END AS city
            FROM ev JOIN cust c USING (cid) LEFT JOIN cust_consent k USING (cid)
        )
        SELECT s.cid AS id, s.email, s.first_name, s.last_name, s.phone, s.created_at, s.t AS updated_at,
               s.acc AS accepts_marketing, s.acc_at AS accepts_marketing_updated_at,
               to_json(CASE WHEN s.origin = 'newsletter' THEN ['newsletter']
                            WHEN rnd(140, s.cid) < 0.03 THEN ['wholesale'] ELSE []::VARCHAR[] END) AS tags,
               to_json({'city': r.city, 'province_code': r.province_code, 'country_code': r.country_code,
                        'zip': r.zip}) AS default_address,
               s.cid * 10 + s.v AS _rid, false AS _persona
        FROM s JOIN ref_cities r ON r.idx = s.city
    """)


def orders(ctx: Ctx) -> None:
    """Versions: placed; shipped / cancelled / voided; delivered; refunded (later updated_at each)."""
    ctx.run("""
        INSERT INTO rec_shop__orders BY NAME
        WITH v AS (
            SELECT o.*, v.v,
                   CASE v.v WHEN 1 THEN created_at
                            WHEN 2 THEN CASE status WHEN 'cancelled' THEN cancel_at WHEN 'voided' THEN void_at
                                                    ELSE shipped_at END
                            WHEN 3 THEN delivered_at ELSE refund_at END AS upd
            FROM orders o JOIN range(1, 5) v(v)
              ON v.v = 1 OR (v.v = 2 AND channel <> 'pos' AND NOT test)
                 OR (v.v = 3 AND ships) OR (v.v = 4 AND ships AND refund_kind IS NOT NULL)
        ), f AS (
            SELECT *,
                   [{'id': oid * 100 + 50, 'carrier': carrier, 'status': CASE WHEN v >= 3 THEN 'delivered'
                                                                              ELSE 'in_transit' END,
                     'shipped_at': ts_z(shipped_at), 'promised_delivery_at': ts_z(promised_at),
                     'delivered_at': CASE WHEN v >= 3 THEN ts_z(delivered_at) END}] AS fulfil
            FROM v
        )
        SELECT oid AS id, order_number, cid AS customer_id, email, created_at, upd AS updated_at,
               CASE WHEN v >= 2 AND status = 'cancelled' THEN cancel_at
                    WHEN v >= 2 AND status = 'voided' THEN void_at END AS cancelled_at,
               CASE WHEN v = 1 AND status = 'voided' THEN 'pending'
                    WHEN v >= 2 AND status = 'cancelled' THEN 'refunded'
                    WHEN v >= 2 AND status = 'voided' THEN 'voided'
                    WHEN v = 4 THEN CASE refund_kind WHEN 'full' THEN 'refunded' ELSE 'partially_refunded' END
                    ELSE 'paid' END AS financial_status,
               CASE WHEN channel = 'pos' OR (v >= 2 AND ships) THEN 'fulfilled' END AS fulfillment_status,
               channel AS source_name, test, 'USD' AS currency,
               subtotal AS subtotal_price, discounts AS total_discounts, shipping AS total_shipping,
               tax AS total_tax, total AS total_price,
               to_json(list_filter([code, CASE WHEN redeem_points > 0 THEN 'POINTS' END], lambda x: x IS NOT NULL))
                   AS discount_codes,
               CASE WHEN channel = 'pos' THEN NULL WHEN t.utm_source IS NULL THEN '/'
                    ELSE '/?utm_source=' || t.utm_source || '&utm_medium=' || t.utm_medium END AS landing_site,
               line_items,
               CASE WHEN v >= 2 AND status = 'cancelled'
                        THEN to_json([{'id': oid * 100 + 60, 'created_at': ts_z(cancel_at), 'amount': money(total),
                                       'reason': 'cancelled'}])
                    WHEN v = 4 THEN to_json([{'id': oid * 100 + 60, 'created_at': ts_z(refund_at),
                                              'amount': money(refund_amount), 'reason': refund_reason}])
                    ELSE '[]'::JSON END AS refunds,
               CASE WHEN v >= 2 AND ships THEN to_json(fulfil) ELSE '[]'::JSON END AS fulfillments,
               oid * 10 + v AS _rid, false AS _persona
        FROM f JOIN ref_traffic t ON t.idx = f.traffic_idx
    """)


def order_dirt(ctx: Ctx) -> dict[str, int]:
    """Orders (distinct ids in the export) that are test, cancelled, voided, fully or partly refunded."""
    row = ctx.con.execute("""
        SELECT count(DISTINCT id) FILTER (WHERE test),
               count(DISTINCT id) FILTER (WHERE cancelled_at IS NOT NULL AND financial_status = 'refunded'),
               count(DISTINCT id) FILTER (WHERE financial_status = 'voided'),
               count(DISTINCT id) FILTER (WHERE cancelled_at IS NULL AND financial_status = 'refunded'),
               count(DISTINCT id) FILTER (WHERE financial_status = 'partially_refunded')
        FROM rec_shop__orders
    """).fetchone()
    names = ("test_orders", "cancelled_orders", "voided_orders", "full_refunds", "partial_refunds")
    return {k: int(v) for k, v in zip(names, row, strict=True) if v}
