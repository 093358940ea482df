"""esp/email_events: campaigns, a welcome flow, SMS, and the consent events that end a subscription.

Each subscriber may have one terminating event (unsubscribe, hard bounce, spam complaint) on a given
campaign; sends stop after it, and an unsubscribe also flips the shop customer's accepts_marketing.
"""

from __future__ import annotations

import datetime as dt

from ..context import Ctx

# metric codes make event ids unique by construction
METRICS = {
    "Received Email": 1, "Opened Email": 2, "Clicked Email": 3, "Bounced Email": 4, "Unsubscribed": 5,
    "Marked Email as Spam": 6, "Subscribed to List": 7, "Received SMS": 8, "Clicked SMS": 9,
    "Unsubscribed from SMS": 0,
}


def _bfcm(start: dt.date, end: dt.date) -> list[dt.date]:
    """Black Friday and Cyber Monday dates inside start..end."""
    out = []
    for year in range(start.year, end.year + 1):
        nov1 = dt.date(year, 11, 1)
        thanksgiving = nov1 + dt.timedelta(days=(3 - nov1.weekday()) % 7 + 21)
        for d in (thanksgiving + dt.timedelta(days=1), thanksgiving + dt.timedelta(days=4)):
            if start <= d <= end:
                out.append(d)
    return out


def plan(ctx: Ctx) -> None:
    """`campaigns`, `sms_campaigns` and `cust_consent` (who stops receiving, when and why)."""
    first_tue = ctx.start + dt.timedelta(days=(1 - ctx.start.weekday()) % 7)
    extra = ", ".join(f"(DATE '{d}', 0.6)" for d in _bfcm(ctx.start, ctx.end)) or "(NULL::DATE, 0.0)"
    ctx.run(f"""
        CREATE OR REPLACE TABLE campaigns AS
        WITH d AS (
            SELECT range::DATE AS d, 0.35 AS audience
            FROM range(DATE '{first_tue}', $E + 1, INTERVAL 7 DAY)
            UNION ALL SELECT * FROM (VALUES {extra}) t(d, audience) WHERE d IS NOT NULL
        )
        SELECT (row_number() OVER (ORDER BY d) - 1)::INT AS j, d::TIMESTAMP + INTERVAL 15 HOUR AS send_at,
               'c_' || strftime(d, '%Y%m%d') AS campaign_id, audience,
               CASE WHEN audience > 0.5 THEN CASE WHEN dayofweek(d) = 5 THEN 'Black Friday starts now'
                                                  ELSE 'Cyber Monday: 15% off' END
                    ELSE subject_at((d - DATE '1970-01-06') // 7) END AS subject  -- same rule as personas.py
        FROM d
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE sms_campaigns AS
        WITH m AS (SELECT range::DATE AS m FROM range(date_trunc('month', $D0), $E + 1, INTERVAL 1 MONTH)),
        d AS (SELECT m + ((4 - dayofweek(m) + 7) % 7)::INT AS d FROM m)
        SELECT (row_number() OVER (ORDER BY d) - 1)::INT AS j, d::TIMESTAMP + INTERVAL 17 HOUR AS send_at,
               'sms_' || strftime(d, '%Y%m') AS campaign_id
        FROM d WHERE d BETWEEN $D0 AND $E
    """)
    ctx.run("""
        CREATE OR REPLACE TABLE cust_consent AS
        WITH c AS (
            SELECT cid, subscribed_from, rnd(400, cid) AS u FROM cust WHERE subscribed_from IS NOT NULL
        ), f AS (
            SELECT c.*, k.j AS j_first FROM c ASOF LEFT JOIN campaigns k ON c.subscribed_from < k.send_at
        ), t AS (
            SELECT f.*,
                   CASE WHEN j_first IS NULL THEN NULL WHEN u < 0.06 THEN 'unsub' WHEN u < 0.068 THEN 'bounce'
                        WHEN u < 0.071 THEN 'spam' END AS term,
                   j_first + floor(rnd(401, cid) * ((SELECT count(*) FROM campaigns) - j_first))::INT AS j_term
            FROM f
        )
        SELECT t.cid, t.subscribed_from, t.j_first, t.term, CASE WHEN t.term IS NOT NULL THEN t.j_term END AS j_term,
               -- the terminating action (unsubscribe click, spam complaint) comes hours after the send
               addsec(k.send_at, 600 + expo(rnd(402, t.cid), 14400) + 90) AS term_at,
               CASE WHEN t.term = 'unsub' AND addsec(k.send_at, 600 + expo(rnd(402, t.cid), 14400) + 90) < $END
                    THEN addsec(k.send_at, 600 + expo(rnd(402, t.cid), 14400) + 90) END AS unsub_at
        FROM t LEFT JOIN campaigns k ON k.j = t.j_term
    """)
    # Customers not subscribed still appear (no consent row) so joins stay simple.
    ctx.run("""
        INSERT INTO cust_consent
        SELECT cid, NULL, NULL, NULL, NULL, NULL, NULL FROM cust WHERE subscribed_from IS NULL
    """)


def events_sql(lo: dt.date, hi: dt.date) -> str:
    """Typed esp event rows for sends/sign-ups around lo..hi (the renderer keeps the right days)."""
    return f"""
        WITH sends AS (
            SELECT k.j, k.send_at, k.campaign_id, k.subject, c.cid, c.email, c.engagement, s.term, s.j_term,
                   s.term_at,
                   addsec(k.send_at, c.cid % 600) AS ev_at
            FROM campaigns k
            JOIN cust_consent s ON s.subscribed_from < k.send_at AND (s.j_term IS NULL OR k.j <= s.j_term)
            JOIN cust c ON c.cid = s.cid
            WHERE k.send_at::DATE BETWEEN DATE '{lo}' - 5 AND DATE '{hi}'
              AND (rnd3(410, k.j, c.cid) < k.audience OR k.j = s.j_term)
        ), s2 AS (
            SELECT *,
                   coalesce(k_term = 'bounce', false) AS hard, NOT coalesce(k_term = 'bounce', false)
                       AND rnd3(411, j, cid) < 0.008 AS soft,
                   CASE WHEN k_term IN ('unsub', 'spam') THEN addsec(term_at, -90)
                        ELSE addsec(ev_at, 120 + least(expo(rnd3(412, j, cid), 18000), 3 * 86400)) END AS open_at,
                   rnd3(413, j, cid) < engagement OR k_term IN ('unsub') AS opened,
                   rnd3(414, j, cid) < 0.18 AS clicked
            FROM (SELECT *, CASE WHEN j = j_term THEN term END AS k_term FROM sends)
        ), camp AS (
            SELECT cid, j, email, campaign_id, subject, metric, t, url, bounce_type FROM (
                SELECT *, 'Received Email' AS metric, ev_at AS t, NULL AS url, NULL AS bounce_type FROM s2
                WHERE NOT hard AND NOT soft
                UNION ALL SELECT *, 'Bounced Email', addsec(ev_at, 30), NULL, CASE WHEN hard THEN 'hard' ELSE 'soft' END
                FROM s2 WHERE hard OR soft
                UNION ALL SELECT *, 'Opened Email', open_at, NULL, NULL FROM s2
                WHERE opened AND NOT hard AND NOT soft AND coalesce(k_term, '') <> 'spam'
                UNION ALL SELECT *, 'Clicked Email', addsec(open_at, 5 + rnd3(415, j, cid) * 300),
                                 'https://shop.example/c/' || campaign_id, NULL
                FROM s2 WHERE opened AND clicked AND NOT hard AND NOT soft AND k_term IS NULL
                UNION ALL SELECT *, 'Unsubscribed', term_at, NULL, NULL FROM s2 WHERE k_term = 'unsub'
                UNION ALL SELECT *, 'Marked Email as Spam', term_at, NULL, NULL FROM s2 WHERE k_term = 'spam'
            )
        ), flow AS (
            SELECT s.cid, 900 AS j, c.email, s.subscribed_from, c.engagement
            FROM cust_consent s JOIN cust c USING (cid)
            WHERE s.subscribed_from::DATE BETWEEN DATE '{lo}' - 5 AND DATE '{hi}'
        ), flow_ev AS (
            SELECT cid, 901 AS j, email, NULL AS campaign_id, NULL AS subject, 'Subscribed to List' AS metric,
                   addsec(subscribed_from, 30) AS t, NULL AS url, NULL AS bounce_type FROM flow
            UNION ALL SELECT cid, j, email, NULL, 'Welcome to the club', 'Received Email', addsec(subscribed_from, 300),
                   NULL, NULL FROM flow
            UNION ALL SELECT cid, j, email, NULL, 'Welcome to the club', 'Opened Email',
                   addsec(subscribed_from, 400 + expo(rnd(416, cid), 7200)), NULL, NULL
            FROM flow WHERE rnd(417, cid) < engagement + 0.2
        ), sms AS (
            SELECT k.j, k.send_at, k.campaign_id, c.cid, c.email, c.phone,
                   CASE WHEN rnd(420, c.cid) < 0.03 THEN floor(rnd(421, c.cid) * 12)::INT END AS j_stop
            FROM sms_campaigns k JOIN cust c ON c.sms_opt_in AND c.created_at < k.send_at
            WHERE k.send_at::DATE BETWEEN DATE '{lo}' - 5 AND DATE '{hi}'
        ), sms_ev AS (
            SELECT cid, 500 + j AS j, email, phone, campaign_id, metric, t FROM (
                SELECT *, 'Received SMS' AS metric, addsec(send_at, cid % 300) AS t FROM sms
                WHERE j_stop IS NULL OR j <= j_stop
                UNION ALL SELECT *, 'Clicked SMS', addsec(send_at, cid % 300 + 60 + expo(rnd3(422, j, cid), 1800))
                FROM sms WHERE (j_stop IS NULL OR j < j_stop) AND rnd3(423, j, cid) < 0.12
                UNION ALL SELECT *, 'Unsubscribed from SMS', addsec(send_at, cid % 300 + 600) FROM sms
                WHERE j = j_stop
            )
        ), allev AS (
            SELECT cid, j, email, NULL AS phone, campaign_id, CASE WHEN j < 900 THEN NULL ELSE 'f_welcome' END
                       AS flow_id, subject, metric, t, url, bounce_type FROM camp
            UNION ALL SELECT cid, j, email, NULL, campaign_id, 'f_welcome', subject, metric, t, url, bounce_type
            FROM flow_ev
            UNION ALL SELECT cid, j, email, phone, campaign_id, NULL, NULL, metric, t, NULL, NULL FROM sms_ev
        )
        SELECT 'ev_' || printf('%012x', (cid * 10000 + j) * 10 + {_metric_case()}) AS id, metric, email,
               phone AS phone_number, t AS "timestamp", campaign_id,
               CASE WHEN metric = 'Subscribed to List' THEN NULL ELSE flow_id END AS flow_id,
               CASE WHEN metric = 'Subscribed to List' THEN NULL
                    ELSE 'm_' || coalesce(campaign_id, flow_id) || '_' || cid END AS message_id,
               to_json({{'subject': subject, 'url': url, 'bounce_type': bounce_type}})::VARCHAR AS properties,
               (cid * 10000 + j) * 10 + {_metric_case()} AS _rid, false AS _persona
        FROM allev
    """


def _metric_case() -> str:
    return "CASE metric " + " ".join(f"WHEN '{k}' THEN {v}" for k, v in METRICS.items()) + " END"
