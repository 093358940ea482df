"""pos/transactions: in-store purchases from a separate POS (pop-ups, kiosk), one CSV row per line.

These never duplicate shop orders (the Shopify flagship's sales are shop orders with source_name pos);
some receipts carry the customer's email, some a shop customer id, most neither.
"""

from __future__ import annotations

from ..calendar import warp
from ..context import Ctx


def transactions(ctx: Ctx) -> None:
    """About 0.4 receipts per customer per year, busiest on weekends."""
    ctx.run(f"""
        INSERT INTO rec_pos__transactions BY NAME
        WITH tx AS (
            {warp('''SELECT k, f_pos($BEGIN) + rnd(1000, k) * (1 - f_pos($BEGIN)) AS x
                     FROM range(round($N * 0.4 * $W / 365)::BIGINT) r(k)''', 'x', 'pos', 't')}
        ), n AS (
            SELECT tx.*, row_number() OVER (ORDER BY t, k) + 100000 AS tno,
                   10000 + floor(rnd(1001, k) * $N)::BIGINT AS who, rnd(1002, k) AS link
            FROM tx
        ), c AS (
            SELECT n.*, s.store_id,
                   CASE WHEN link < 0.3 AND cu.created_at < n.t THEN cu.email END AS customer_email,
                   CASE WHEN link >= 0.3 AND link < 0.5 AND cu.created_at < n.t THEN cu.cid END AS shop_customer_id
            FROM n LEFT JOIN cust cu ON cu.cid = n.who
            JOIN ref_stores s ON s.idx = pick_store(rnd(1003, k))
        ), l AS (
            SELECT *, unnest(range(1, 2 + (rnd(1004, k) < 0.4)::INT + (rnd(1004, k) < 0.12)::INT)) AS line
            FROM c
        )
        SELECT 'T-' || tno AS transaction_id, line AS line_number, store_id, t AS occurred_at, customer_email,
               shop_customer_id, p.product_id, p.sku, p.category,
               CASE WHEN rnd3(1005, k, line) < 0.85 THEN 1 ELSE 2 END AS quantity, p.price AS unit_price,
               'USD' AS currency, tno * 10 + line AS _rid, false AS _persona
        FROM l JOIN ref_products p ON p.idx = pick_product(rnd3(1006, k, line))
    """)
