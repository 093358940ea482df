"""web/events (Segment spec): sessions with browse -> cart -> checkout -> order funnels.

`plan()` materialises one row per session (about 7 events each); `events_sql()` expands the sessions
of a few export days into events, so even 50M events never sit in memory ev_at once. Visitors browse
anonymously (anonymousId only), log in or sign up (`identify` with traits.email), and buy; strangers
bounce. Offline `Event Attended` check-ins and `Referral Link Shared` events come from `web_extra`.
"""

from __future__ import annotations

import datetime as dt

from ..calendar import warp
from ..catalogue import TRAFFIC
from ..context import Ctx
from ..sqlkit import sql_list

HEX4 = sql_list([f"{i:04x}" for i in range(64)])  # step numbers as 4 hex digits (a session has < 64 events)


def plan(ctx: Ctx) -> None:
    """Create `sessions` (purchase, sign-up, pre-sign-up, browsing, anonymous) and `web_extra`."""
    t = ctx.tier
    ctx.run("""
        CREATE OR REPLACE TABLE order_pidx AS
        WITH l AS (
            SELECT i.oid, list_sort(list([i.line_no, p.idx, i.qty])) AS l
            FROM order_items i JOIN ref_products p USING (product_id) GROUP BY i.oid
        )
        SELECT oid, list_transform(l, lambda x: x[2]) AS items, list_transform(l, lambda x: x[3]) AS qtys FROM l
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE sess_src AS
        -- 1: a purchase session for each web/app order (guests check out anonymously)
        SELECT 1 AS kind, o.oid AS k1, 0 AS k2, o.cid, o.created_at AS anchor,
               CASE WHEN o.channel = 'app' THEN 'mobile' ELSE 'web' END AS channel,
               o.n_lines + floor(rnd(302, o.oid) * 3)::INT AS v, o.n_lines AS a, true AS ck, true AS oc, o.oid,
               o.cid IS NOT NULL AND o.j = 0 AND c.origin = 'checkout' AS su,
               o.cid IS NOT NULL AND NOT (o.j = 0 AND c.origin = 'checkout') AND rnd(303, o.oid) < 0.6
                   AS logged_in,
               o.traffic_idx, coalesce(c.fav_cat, 0) AS fav_cat
        FROM orders o LEFT JOIN cust c ON c.cid = o.cid
        WHERE o.channel IN ('web', 'app') AND NOT o.test AND o.created_at >= $BEGIN - INTERVAL 1 DAY
        UNION ALL
        -- 2: newsletter/account sign-ups on the site
        SELECT 2, cid, 0, cid, created_at, 'web', 1 + floor(expo(rnd(304, cid), 1.5))::INT, 0, false, false, NULL,
               true, false, pick_traffic(rnd(305, cid)), fav_cat
        FROM cust WHERE web_signup AND origin <> 'checkout' AND created_at >= $BEGIN - INTERVAL 1 DAY
    """)
    # Browsing: a customer's own rate over their active months, placed on the seasonal web axis.
    ctx.run(f"""
        INSERT INTO sess_src
        WITH w AS (
            SELECT cid, fav_cat, greatest(created_at, $BEGIN) AS a,
                   least($END, CASE WHEN buyer THEN addsec(active_until, 90 * 86400)
                                    ELSE addsec(created_at, expo(rnd(306, cid), 150 * 86400)) END) AS b,
                   {t.browse_sessions_per_year} * browse_factor AS rate
            FROM cust
        ), n AS (
            SELECT *, floor(rate * (epoch(b) - epoch(a)) / (365 * 86400) + rnd(307, cid))::INT AS n FROM w
            WHERE b > a
        ), s AS (
            SELECT cid, fav_cat, unnest(range(n)) AS k2, f_web(a) AS xa, f_web(b) AS xb FROM n WHERE n > 0
        ), x AS (
            {warp('SELECT *, xa + rnd3(308, cid, k2) * (xb - xa) AS x FROM s', 'x', 'web', 'ev_at')}
        )
        SELECT 3, cid, k2, cid, ev_at, CASE WHEN rnd3(309, cid, k2) < 0.3 THEN 'mobile' ELSE 'web' END,
               floor(expo(rnd3(310, cid, k2), 3.0))::INT, (rnd3(311, cid, k2) < 0.3)::INT, false, false, NULL,
               false, rnd3(312, cid, k2) < 0.5, pick_traffic(rnd3(313, cid, k2)), fav_cat
        FROM x
    """)
    ctx.run("""
        INSERT INTO sess_src
        -- 4: anonymous browsing in the two weeks before signing up (the cookie links it afterwards)
        SELECT 4, cid, k2, cid, addsec(created_at, -86400 * 14 * rnd3(314, cid, k2) - 3600), 'web',
               1 + floor(expo(rnd3(315, cid, k2), 1.5))::INT, 0, false, false, NULL, false, false,
               pick_traffic(rnd3(316, cid, k2)), fav_cat
        FROM (SELECT *, unnest(range(1 + (rnd(317, cid) < 0.5)::INT)) AS k2 FROM cust WHERE web_signup)
        WHERE created_at >= $BEGIN
    """)
    ctx.run(f"""
        CREATE OR REPLACE TEMP TABLE anon_s AS
        {warp(f'''SELECT vis, k2, f_web($BEGIN) + rnd3(318, vis, k2) * (1 - f_web($BEGIN)) AS x
                  FROM (SELECT vis, unnest(range(1 + (rnd(319, vis) < 0.3)::INT + (rnd(319, vis) < 0.1)::INT)) AS k2
                        FROM range(round($N * {t.anonymous_visitors_per_customer} * $W / 365)::BIGINT) r(vis))''',
               'x', 'web', 'ev_at')}
    """)
    ctx.run("""
        INSERT INTO sess_src
        -- 5: strangers: mostly one visit, many bounce without viewing a product
        SELECT 5, vis, k2, NULL, ev_at, CASE WHEN rnd3(320, vis, k2) < 0.35 THEN 'mobile' ELSE 'web' END,
               floor(expo(rnd3(321, vis, k2), 1.5))::INT, (rnd3(322, vis, k2) < 0.08)::INT, false, false, NULL,
               false, false, pick_traffic(rnd3(323, vis, k2)), pick_category(rnd3(324, vis, k2))
        FROM anon_s
    """)
    ctx.run("DROP TABLE anon_s")
    ctx.run("""
        CREATE OR REPLACE TABLE sessions0 AS
        WITH s AS (
            SELECT row_number() OVER (ORDER BY kind, k1, k2) AS sid, s.*,
                   -- checkout on a browse session that added to cart: the abandoned-checkout funnel
                   CASE WHEN s.kind = 3 AND s.a > 0 AND rnd3(325, s.k1, s.k2) < 0.4 THEN true ELSE s.ck END AS ck2
            FROM sess_src s
        )
        SELECT s.sid, s.kind, s.cid, s.channel, s.v, s.a, s.ck2 AS ck, s.oc, s.oid, s.su, s.logged_in,
               s.su OR (s.kind = 1 AND s.cid IS NOT NULL AND NOT s.logged_in) AS idf,
               s.traffic_idx, s.fav_cat,
               CASE WHEN s.kind = 5 THEN 'a-' || hx(326, s.k1)
                    WHEN s.kind = 1 AND s.cid IS NULL THEN 'a-' || hx(327, s.oid)
                    WHEN rnd(328, s.sid) < 0.8 OR s.kind IN (2, 4) OR s.su THEN c.anon_id
                    ELSE 'a-' || hx(329, s.sid) END AS anon_id,
               c.email, c.first_name, c.last_name,
               p.items, p.qtys, o.total, o.subtotal - o.discounts AS revenue, o.code,
               1 + s.v + (s.su OR (s.kind = 1 AND s.cid IS NOT NULL AND NOT s.logged_in))::INT + s.su::INT + s.a
                 + s.ck2::INT + s.oc::INT AS n,
               hx(330, s.sid) AS h,
               user_agent_at(rnd(331, coalesce(s.cid, -s.k1))) AS ua,
               printf('%d.%d.%d.%d', 23 + floor(rnd(332, s.sid) * 180)::INT, floor(rnd(333, s.sid) * 256)::INT,
                      floor(rnd(334, s.sid) * 256)::INT, 1 + floor(rnd(335, s.sid) * 254)::INT) AS ip,
               s.anchor, (30 + floor(60 * rnd(301, s.sid)))::INT AS step
        FROM s LEFT JOIN cust c ON c.cid = s.cid
        LEFT JOIN order_pidx p ON p.oid = s.oid
        LEFT JOIN orders o ON o.oid = s.oid
    """)
    # Purchase sessions end on the order's timestamp, sign-up sessions identify at sign-up time.
    # JSON fragments that are the same for every event of a session are rendered once here.
    src, med = (sql_list([t[i] for t in TRAFFIC]) for i in (0, 1))
    ctx.run(f"""
        CREATE OR REPLACE TABLE sessions AS
        WITH s AS (
            SELECT * EXCLUDE (anchor, ua, ip, email, first_name, last_name, traffic_idx),
                   CASE kind WHEN 1 THEN anchor - to_seconds((n - 1) * step)
                             WHEN 2 THEN anchor - to_seconds((v + 1) * step) ELSE anchor END AS start_at,
                   {src}[traffic_idx + 1] AS utm_source, {med}[traffic_idx + 1] AS utm_medium,
                   '"}},"userAgent":' || to_json(ua) || ',"ip":"' || ip || '"' AS ctx_tail,
                   CASE WHEN idf THEN to_json({{'email': email, 'first_name': first_name,
                                               'last_name': last_name}})::VARCHAR END AS traits_json
            FROM sessions0
        )
        SELECT * EXCLUDE (utm_source, utm_medium, ctx_tail, h),
               CASE WHEN utm_source IS NULL THEN '/' WHEN utm_medium = 'email' THEN '/shop'
                    ELSE '/blog/brew-guide' END AS landing,
               '{{"channel":"' || channel || '","page":{{"url":"https://shop.example' AS ctx_pre,
               ctx_tail || CASE WHEN utm_source IS NULL THEN ''
                                ELSE ',"campaign":{{"source":"' || utm_source || '","medium":"' || utm_medium || '"}}'
                           END || '}}' AS ctx_post,
               -- messageId = <random uuid-ish prefix><step in hex>-<session id>: unique by construction
               substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 13, 3) || '-' AS mid_a,
               '-' || printf('%012x', sid) AS mid_b, cid::VARCHAR AS uid
        FROM (SELECT * FROM s ORDER BY start_at, sid)  -- a chunk of days then reads contiguous row groups
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE web_products AS
        SELECT idx, to_json({'product_id': product_id, 'sku': sku, 'category': category, 'name': title,
                             'price': price::DOUBLE})::VARCHAR AS view_json, price::DOUBLE AS price,
               '/p/' || substr(product_id, 3) AS path
        FROM ref_products
    """)
    ctx.run("DROP TABLE sess_src; DROP TABLE sessions0")
    _extra(ctx)


def _extra(ctx: Ctx) -> None:
    """`web_extra`: offline event check-ins and referral shares (already in the event columns)."""
    ctx.run("""
        CREATE OR REPLACE TABLE web_extra AS
        WITH att AS (
            SELECT c.cid, k, st.store_id, st.utc_offset,
                   -- a Saturday 4pm local brewing class at one of the stores
                   ($D0 + (7 * floor(rnd3(371, c.cid, k) * $W / 7) + (5 - dayofweek($D0) + 7) % 7)::INT)::TIMESTAMP
                       + to_hours(16 - st.utc_offset) + to_seconds(floor(rnd3(372, c.cid, k) * 1800)::BIGINT) AS ev_at
            FROM (SELECT *, unnest(range(1 + floor(rnd(373, cid) * 3)::INT)) AS k FROM cust
                  WHERE rnd(370, cid) < 0.04) c
            JOIN ref_stores st ON st.idx = pick_store(rnd3(374, c.cid, k))
            WHERE c.created_at < $END
        )
        SELECT 'track' AS type, 'evt-' || hx(375, cid * 10 + k) AS "messageId", NULL::VARCHAR AS "anonymousId",
               cid::VARCHAR AS "userId", 'Event Attended' AS event, NULL::VARCHAR AS name,
               to_json({'event_name': 'Brew Lab ' || upper(split_part(store_id, '-', 2)[1])
                                      || split_part(store_id, '-', 2)[2:],
                        'store_id': store_id}) AS properties,
               NULL::JSON AS traits, to_json({'channel': 'offline'}) AS context,
               ev_at AS "timestamp", ev_at AS "sentAt", addsec(ev_at, 2) AS "receivedAt",
               9000000000000 + cid * 10 + k AS _rid, false AS _persona
        FROM att WHERE ev_at < $END
    """)
    ctx.run("""
        INSERT INTO web_extra
        SELECT 'track', 'ref-' || hx(380, r.cid * 10 + r.n), c.anon_id, r.cid::VARCHAR, 'Referral Link Shared',
               NULL, to_json({'referral_id': 'ref_' || (r.cid * 10 + r.n),
                              'share_channel': ['email', 'whatsapp', 'copy_link']
                                               [1 + floor(rnd3(381, r.cid, r.n) * 3)::INT]}),
               NULL::JSON, to_json({'channel': 'web', 'page': {'url': 'https://shop.example/account/referrals',
                                                                'path': '/account/referrals'}}),
               r.ev_at, r.ev_at, addsec(r.ev_at, 1), 9100000000000 + r.cid * 10 + r.n, false
        FROM referrals_w r JOIN cust c ON c.cid = r.cid
    """)


def events_sql(lo: dt.date, hi: dt.date) -> str:
    """Typed web event rows of the sessions starting lo-1 .. hi, plus extras in lo .. hi.

    JSON fields come out as VARCHAR built by concatenation from pre-rendered pieces (much cheaper
    than to_json per event at 50M events); values are generator-controlled, so no escaping is needed.
    """
    return f"""
        WITH e AS (
            SELECT s.*, unnest(range(n)) AS st FROM sessions s
            WHERE start_at >= DATE '{lo}' - INTERVAL 1 DAY AND start_at < DATE '{hi}' + INTERVAL 1 DAY
        ), k AS (
            SELECT *,
                   v + 1 AS p_idf, v + 1 + idf::INT AS p_su, v + 1 + idf::INT + su::INT AS p_add,
                   v + 1 + idf::INT + su::INT + a AS p_ck,
                   start_at + to_seconds(st * step) AS ts
            FROM e
        ), c AS (
            SELECT *,
                   CASE WHEN st = 0 THEN 'page' WHEN st <= v THEN 'Product Viewed'
                        WHEN idf AND st = p_idf THEN 'identify' WHEN su AND st = p_su THEN 'Signed Up'
                        WHEN st < p_ck THEN 'Product Added' WHEN ck AND st = p_ck THEN 'Checkout Started'
                        ELSE 'Order Completed' END AS what,
                   -- the product a view/add is about: the order's items first, else the visitor's taste
                   CASE WHEN st BETWEEN 1 AND v THEN
                            CASE WHEN items IS NOT NULL AND st <= len(items) THEN items[st]
                                 WHEN rnd3(340, sid, st) < 0.6 THEN pick_product_in(fav_cat, rnd3(341, sid, st))
                                 ELSE pick_product(rnd3(342, sid, st)) END
                        WHEN items IS NOT NULL THEN items[least(greatest(st - p_add + 1, 1), len(items))]
                        WHEN v > 0 THEN
                            CASE WHEN rnd3(340, sid, v) < 0.6 THEN pick_product_in(fav_cat, rnd3(341, sid, v))
                                 ELSE pick_product(rnd3(342, sid, v)) END
                        ELSE pick_product(rnd3(342, sid, 0)) END AS pidx
            FROM k
        ), r AS (
            SELECT c.*, p.view_json, p.price,
                   CASE WHEN what = 'page' THEN landing
                        WHEN what IN ('Product Viewed', 'Product Added') THEN p.path
                        WHEN what IN ('Checkout Started', 'Order Completed') THEN '/checkout'
                        ELSE '/account' END AS path
            FROM c JOIN web_products p ON p.idx = c.pidx
        )
        SELECT CASE what WHEN 'page' THEN 'page' WHEN 'identify' THEN 'identify' ELSE 'track' END AS type,
               concat(mid_a, {HEX4}[st + 1], mid_b) AS "messageId",
               anon_id AS "anonymousId",
               CASE WHEN logged_in OR (idf AND st >= p_idf) THEN uid END AS "userId",
               CASE WHEN what NOT IN ('page', 'identify') THEN what END AS event,
               CASE WHEN what = 'page' THEN CASE path WHEN '/' THEN 'Home' WHEN '/shop' THEN 'Shop' ELSE 'Blog' END
                    END AS name,
               CASE what
                   WHEN 'page' THEN '{{"path":"' || path || '","url":"https://shop.example' || path || '"}}'
                   WHEN 'identify' THEN NULL
                   WHEN 'Signed Up' THEN '{{"method":"email"}}'
                   WHEN 'Product Viewed' THEN view_json
                   WHEN 'Product Added' THEN left(view_json, -1) || ',"quantity":'
                                             || coalesce(qtys[st - p_add + 1], 1) || '}}'
                   WHEN 'Checkout Started'
                       THEN to_json({{'value': coalesce(total::DOUBLE, price), 'currency': 'USD'}})::VARCHAR
                   ELSE to_json({{'order_id': oid, 'total': total::DOUBLE, 'revenue': revenue::DOUBLE,
                                  'coupon': code, 'currency': 'USD'}})::VARCHAR
               END AS properties,
               CASE WHEN what = 'identify' THEN traits_json END AS traits,
               ctx_pre || path || '","path":"' || path || ctx_post AS context,
               ts AS "timestamp", ts + to_seconds((sid + st) % 2) AS "sentAt",
               ts + to_seconds((sid + st) % 2 + 1) AS "receivedAt",
               sid * 64 + st AS _rid, false AS _persona
        FROM r
        UNION ALL
        SELECT * REPLACE (properties::VARCHAR AS properties, traits::VARCHAR AS traits, context::VARCHAR AS context)
        FROM web_extra WHERE "timestamp" >= DATE '{lo}' AND "timestamp" < DATE '{hi}' + INTERVAL 1 DAY
    """
