"""The fixed personas: hand-written, always clean records that the acceptance scenarios rely on.

Every time is relative to the last export date E (`_at(days_before, "HH:MM")`), so the facts hold for
any end date and any window of at least 90 days (older records arrive in the first day's backfill).
Amounts follow the generator's rules: 8% tax on (subtotal - discounts), $5 shipping under $50, one
loyalty point per whole dollar of subtotal, 100 points = $5, points expire on day +365 at 23:59:59.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import ROUND_HALF_EVEN, Decimal

from .catalogue import CAMPAIGN_SUBJECTS, PRODUCTS

PERSONAS: dict[str, dict[str, str | int]] = {
    "naomi": {"id": 1001, "email": "naomi.park@example.com", "name": "Naomi Park",
              "description": "New customer: one late-delivered web order ~20 days ago, a 1-star review and a "
                             "'bad' CSAT ticket ~5 days ago; browsed anonymously before signing up."},
    "chrissy": {"id": 1002, "email": "chrissy.lee@example.com", "name": "Chrissy Lee",
                "description": "Loyalty member: earned exactly 500 points on her last order 3 days ago (silver -> "
                               "gold); 39 points expire 20 days after E after an earlier expiry and redemption."},
    "marshall": {"id": 1003, "email": "marshall.chen@example.com", "name": "Marshall Chen",
                 "description": "Buys coffee every ~35 days and has an active P-200 (filters) subscription since "
                                "~180 days ago: never cross-sell him filters."},
    "uma": {"id": 1004, "email": "uma.unsub@example.com", "name": "Uma Unsub",
            "description": "Customer with three orders who clicked Unsubscribed ~40 days ago (shop consent "
                           "flipped to false)."},
    "bob": {"id": 1005, "email": "bob.bounce@example.com", "name": "Bob Bounce",
            "description": "Customer whose address hard-bounced (Bounced Email, bounce_type hard) ~25 days ago."},
    "sam": {"id": 1006, "email": "sam.spam@example.com", "name": "Sam Spam",
            "description": "Customer who Marked Email as Spam ~30 days ago (shop consent still true)."},
    "erin": {"id": 1007, "email": "erin.erased@example.com", "name": "Erin Erased",
             "description": "Customer with orders, web events, email events and a review who asked to be erased "
                            "10 days ago."},
    "ava": {"id": 1008, "email": "ava.advocate@example.com", "name": "Ava Advocate",
            "description": "Loyal: 7 orders, three 5-star reviews, 2 converted referrals (Felix 1010, Fiona 1011) "
                           "and one pending."},
    "larry": {"id": 1009, "email": "larry.lapsing@example.com", "name": "Larry Lapsing",
              "description": "Ordered every 30 days from ~370 to ~130 days ago, then nothing for 130 days."},
}
# Personas plus their supporting cast (Ava's referred friends), kept out of the generic id range.
SUPPORTING = {1010: ("Felix", "Friend", "felix.friend@example.com"),
              1011: ("Fiona", "Friend", "fiona.friend@example.com")}
PERSONA_CUSTOMER_IDS: tuple[int, ...] = tuple(p["id"] for p in PERSONAS.values()) + tuple(SUPPORTING)
PERSONA_RID = 8_000_000_000_000  # record ids far above any generic one

_PRODUCTS = {p[0]: p for p in PRODUCTS}
CENT = Decimal("0.01")


def _j(value: object) -> str:
    """Compact JSON, like DuckDB's to_json."""
    return json.dumps(value, separators=(",", ":"))


def _z(t: dt.datetime | None) -> str | None:
    return None if t is None else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _money(x: Decimal) -> str:
    return str(x.quantize(CENT, rounding=ROUND_HALF_EVEN))


class _Builder:
    """Accumulates persona records per entity (each gets a unique `_rid`)."""

    def __init__(self, end: dt.date):
        self.end = end
        self.rows: dict[str, list[dict]] = {}
        self.seq = 0
        self.next_oid = 50001

    def at(self, days_before: int, hhmm: str = "12:00", sec: int = 0) -> dt.datetime:
        """E minus `days_before` days at HH:MM (UTC)."""
        h, m = (int(x) for x in hhmm.split(":"))
        return dt.datetime.combine(self.end - dt.timedelta(days=days_before), dt.time(h, m, sec))

    def tuesday(self, days_before: int) -> dt.datetime:
        """The weekly campaign send (Tuesday 15:00 UTC) on or before E - days_before."""
        d = self.end - dt.timedelta(days=days_before)
        d -= dt.timedelta(days=(d.weekday() - 1) % 7)
        return dt.datetime.combine(d, dt.time(15, 0))

    def add(self, entity: str, **row: object) -> None:
        """Append one record to `entity` with the next persona `_rid`."""
        self.seq += 1
        row["_rid"] = PERSONA_RID + self.seq
        self.rows.setdefault(entity, []).append(row)

    # --- shop -----------------------------------------------------------------------------------------
    def customer(self, cid: int, first: str, last: str, email: str, created: dt.datetime, city: tuple,
                 phone: str | None = None, accepts: bool = True,
                 consent_changes: tuple[tuple[dt.datetime, bool], ...] = ()) -> None:
        """A shop customer: a version at sign-up and one 10 minutes after each consent change."""
        address = _j({"city": city[0], "province_code": city[1], "country_code": city[2], "zip": city[3]})
        state, state_at = accepts, created
        versions = [(created, accepts, created)]
        for t, value in consent_changes:
            state, state_at = value, t
            versions.append((t + dt.timedelta(minutes=10), state, state_at))
        for upd, acc, acc_at in versions:
            self.add("shop__customers", id=cid, email=email, first_name=first, last_name=last, phone=phone,
                     created_at=created, updated_at=upd, accepts_marketing=acc,
                     accepts_marketing_updated_at=acc_at, tags=_j([]), default_address=address)

    def order(self, cid: int, email: str, created: dt.datetime, items: list[tuple[str, int]], *,
              code: str | None = None, points: int = 0, channel: str = "web", late: bool = False,
              landing: str = "/") -> dict:
        """An order with placed / shipped / delivered versions; returns its facts."""
        oid = self.next_oid
        self.next_oid += 1
        lines = [{"id": oid * 100 + n, "product_id": pid, "sku": _PRODUCTS[pid][1], "title": _PRODUCTS[pid][2],
                  "category": _PRODUCTS[pid][3], "quantity": q, "price": _PRODUCTS[pid][4]}
                 for n, (pid, q) in enumerate(items, start=1)]
        subtotal = sum(Decimal(li["price"]) * li["quantity"] for li in lines)
        pct = {"WELCOME10": Decimal("0.10"), "BFCM15": Decimal("0.15")}.get(code or "", Decimal(0))
        discounts = (subtotal * pct).quantize(CENT) + (Decimal(5) if code == "SAVE5" else 0) + Decimal(points) / 20
        net = subtotal - discounts
        shipping = Decimal("5.00") if channel != "pos" and net < 50 else Decimal("0.00")
        tax = (net * Decimal("0.08")).quantize(CENT, rounding=ROUND_HALF_EVEN)
        total = net + shipping + tax
        shipped = created + dt.timedelta(hours=22)
        promised = dt.datetime.combine(created.date() + dt.timedelta(days=4), dt.time(23, 59, 59))
        delivered = (promised + dt.timedelta(days=3, hours=14) if late
                     else shipped + dt.timedelta(days=1, hours=20))
        codes = [c for c in (code, "POINTS" if points else None) if c]
        base = dict(id=oid, order_number=oid - 50000 + 1000, customer_id=cid, email=email, created_at=created,
                    cancelled_at=None, source_name=channel, test=False, currency="USD",
                    subtotal_price=_money(subtotal), total_discounts=_money(discounts),
                    total_shipping=_money(shipping), total_tax=_money(tax), total_price=_money(total),
                    discount_codes=_j(codes), landing_site=None if channel == "pos" else landing,
                    line_items=_j(lines), refunds=_j([]))
        fulfil = {"id": oid * 100 + 50, "carrier": "UPS", "status": "in_transit", "shipped_at": _z(shipped),
                  "promised_delivery_at": _z(promised), "delivered_at": None}
        self.add("shop__orders", **base, updated_at=created, financial_status="paid", fulfillment_status=None,
                 fulfillments=_j([]))
        self.add("shop__orders", **base, updated_at=shipped, financial_status="paid",
                 fulfillment_status="fulfilled", fulfillments=_j([fulfil]))
        self.add("shop__orders", **base, updated_at=delivered, financial_status="paid",
                 fulfillment_status="fulfilled",
                 fulfillments=_j([{**fulfil, "status": "delivered", "delivered_at": _z(delivered)}]))
        return {"oid": oid, "created": created, "subtotal": subtotal, "total": total, "net": net,
                "delivered": delivered, "items": items, "code": code}

    # --- web ------------------------------------------------------------------------------------------
    def session(self, cid: int, anon: str | None, start: dt.datetime, steps: list[tuple], *,
                logged_in: bool = True, email: str = "", first: str = "", last: str = "",
                campaign: tuple[str, str] | None = None, channel: str = "web") -> None:
        """Segment events of one visit; `userId` appears from an `identify` step on (or always)."""
        user = str(cid) if logged_in else None
        for n, step in enumerate(steps):
            t = start + dt.timedelta(seconds=50 * n)
            kind, args = step[0], step[1:]
            path, props, traits, event, name, typ = "/", None, None, None, None, "track"
            if kind == "page":
                typ, name, path = "page", args[0], args[1]
                props = {"path": path, "url": "https://shop.example" + path}
            elif kind in ("view", "add"):
                p = _PRODUCTS[args[0]]
                event = "Product Viewed" if kind == "view" else "Product Added"
                path = "/p/" + p[0][2:]
                props = {"product_id": p[0], "sku": p[1], "category": p[3], "name": p[2], "price": float(p[4])}
                if kind == "add":
                    props["quantity"] = args[1]
            elif kind == "identify":
                typ, user, path = "identify", str(cid), "/account"
                traits = {"email": email, "first_name": first, "last_name": last}
            elif kind == "signup":
                event, path, props = "Signed Up", "/account", {"method": "email"}
            elif kind == "checkout":
                event, path, props = "Checkout Started", "/checkout", {"value": float(args[0]), "currency": "USD"}
            elif kind == "order":
                o = args[0]
                event, path = "Order Completed", "/checkout"
                props = {"order_id": o["oid"], "total": float(o["total"]), "revenue": float(o["net"]),
                         "coupon": o["code"], "currency": "USD"}
            elif kind == "share":
                event, path = "Referral Link Shared", "/account/referrals"
                props = {"referral_id": args[0], "share_channel": "email"}
            context = {"channel": channel, "page": {"url": "https://shop.example" + path, "path": path},
                       "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)", "ip": "198.51.100.7"}
            if campaign:
                context["campaign"] = {"source": campaign[0], "medium": campaign[1]}
            self.add("web__events", type=typ, messageId=f"p-{cid}-{self.seq:05d}", anonymousId=anon, userId=user,
                     event=event, name=name, properties=None if props is None else _j(props),
                     traits=None if traits is None else _j(traits), context=_j(context), timestamp=t,
                     sentAt=t + dt.timedelta(seconds=1), receivedAt=t + dt.timedelta(seconds=2))

    def purchase(self, cid: int, o: dict, **kw: object) -> None:
        """The web visit that placed order `o`, ending on the order's timestamp."""
        items = o["items"]
        steps = [("page", "Home", "/")] + [("view", p) for p, _ in items] + [("add", p, q) for p, q in items]
        steps += [("checkout", o["total"]), ("order", o)]
        self.session(cid, kw.pop("anon", f"a-p{cid}"), o["created"] - dt.timedelta(seconds=50 * (len(steps) - 1)),
                     steps, **kw)

    # --- esp ------------------------------------------------------------------------------------------
    def email(self, cid: int, email: str, metric: str, t: dt.datetime, campaign: str | None = None,
              flow: str | None = None, subject: str | None = None, url: str | None = None,
              bounce: str | None = None) -> None:
        """One ESP event."""
        self.add("esp__email_events", id=f"ev_p{cid}_{self.seq:05d}", metric=metric, email=email, phone_number=None,
                 timestamp=t, campaign_id=campaign, flow_id=flow,
                 message_id=None if metric == "Subscribed to List" else f"m_{campaign or flow}_{cid}",
                 properties=_j({"subject": subject, "url": url, "bounce_type": bounce}))

    def campaign(self, cid: int, email: str, days_before: int, *, opened: bool = False,
                 then: str | None = None) -> None:
        """A weekly campaign received (optionally opened, then one terminating action)."""
        send = self.tuesday(days_before)
        cid_s = "c_" + send.strftime("%Y%m%d")
        # the generic campaign of that Tuesday has this subject too (esp.plan uses the same rule)
        subject = CAMPAIGN_SUBJECTS[(send.date() - dt.date(1970, 1, 6)).days // 7 % len(CAMPAIGN_SUBJECTS)]
        if then == "bounce":
            self.email(cid, email, "Bounced Email", send + dt.timedelta(seconds=40), cid_s, subject=subject,
                       bounce="hard")
            return
        self.email(cid, email, "Received Email", send + dt.timedelta(seconds=10), cid_s, subject=subject)
        if opened or then in ("unsub", "spam"):
            self.email(cid, email, "Opened Email", send + dt.timedelta(hours=3, minutes=20), cid_s,
                       subject=subject)
        if then == "unsub":
            self.email(cid, email, "Unsubscribed", send + dt.timedelta(hours=3, minutes=22), cid_s,
                       subject=subject)
        if then == "spam":
            self.email(cid, email, "Marked Email as Spam", send + dt.timedelta(hours=3, minutes=21), cid_s,
                       subject=subject)

    def subscribed(self, cid: int, email: str, t: dt.datetime, opened: bool = True) -> None:
        """List sign-up plus the welcome flow email."""
        self.email(cid, email, "Subscribed to List", t + dt.timedelta(seconds=30))
        self.email(cid, email, "Received Email", t + dt.timedelta(minutes=5), flow="f_welcome",
                   subject="Welcome to the club")
        if opened:
            self.email(cid, email, "Opened Email", t + dt.timedelta(minutes=25), flow="f_welcome",
                       subject="Welcome to the club")

    def review(self, rid: str, o: dict, cid: int, email: str, rating: int, title: str, body: str,
               t: dt.datetime) -> None:
        """A published review of the last product of order `o`."""
        self.add("reviews__reviews", id=rid, product_id=o["items"][-1][0], customer_id=cid, customer_email=email,
                 rating=rating, title=title, body=body, verified_buyer=True, status="published", created_at=t,
                 updated_at=t)

    def ledger(self, lid: str, cid: int, typ: str, points: int, t: dt.datetime, order_id: int | None,
               reason: str) -> None:
        """A loyalty ledger entry; positive ones expire on day +365 at 23:59:59."""
        expires = (dt.datetime.combine(t.date() + dt.timedelta(days=365), dt.time(23, 59, 59))
                   if points > 0 else None)
        self.add("loyalty__ledger", id=lid, customer_id=cid, type=typ, points=points, order_id=order_id,
                 occurred_at=t, expires_at=expires, reason=reason)


AUSTIN = ("Austin", "TX", "US", "78701")
SEATTLE = ("Seattle", "WA", "US", "98101")
PORTLAND = ("Portland", "OR", "US", "97205")
NYC = ("New York", "NY", "US", "10001")
DENVER = ("Denver", "CO", "US", "80202")


def persona_records(end: dt.date) -> dict[str, list[dict]]:
    """Every persona's records, per entity name (`<source>__<entity>`)."""
    b = _Builder(end)
    _naomi(b)
    _chrissy(b)
    _marshall(b)
    _uma_bob_sam(b)
    _erin(b)
    _ava(b)
    _larry(b)
    return b.rows


def _naomi(b: _Builder) -> None:
    cid, email = 1001, "naomi.park@example.com"
    anon = "a-naomi-0001"
    signup = b.at(22, "19:40")
    insta = ("instagram", "social")
    # Anonymous first visit, then sign-up with identify: the cookie links both to customer 1001.
    b.session(cid, anon, b.at(23, "20:10"), [("page", "Home", "/"), ("view", "P-100"), ("view", "P-400")],
              logged_in=False, campaign=insta)
    b.session(cid, anon, signup - dt.timedelta(seconds=100),
              [("page", "Home", "/"), ("view", "P-400"), ("identify",), ("signup",)], logged_in=False,
              email=email, first="Naomi", last="Park")
    b.customer(cid, "Naomi", "Park", email, signup, AUSTIN, phone="+14155550101")
    b.subscribed(cid, email, signup)
    o = b.order(cid, email, b.at(20, "10:15"), [("P-100", 1), ("P-400", 1)], code="WELCOME10", late=True,
                landing="/?utm_source=instagram&utm_medium=social")
    b.purchase(cid, o, anon=anon, campaign=insta)
    b.campaign(cid, email, 14, opened=True)
    b.campaign(cid, email, 7)
    b.review("r_501", o, cid, email, 1, "Arrived broken",
             "The dripper was cracked and the parcel came a week after the promised date.", b.at(5, "20:00"))
    created = b.at(5, "20:05")
    ticket = dict(id=7001, requester_email=email, channel="chat", subject="Order arrived late and damaged",
                  priority="high", order_id=o["oid"], tags=_j(["late_delivery", "damaged"]), created_at=created)
    solved = b.at(4, "09:00")
    b.add("support__tickets", **ticket, status="new", satisfaction="unoffered", updated_at=created, solved_at=None)
    b.add("support__tickets", **ticket, status="open", satisfaction="unoffered", updated_at=b.at(5, "21:00"),
          solved_at=None)
    b.add("support__tickets", **ticket, status="solved", satisfaction="offered", updated_at=solved, solved_at=solved)
    b.add("support__tickets", **ticket, status="solved", satisfaction="bad", updated_at=b.at(4, "12:00"),
          solved_at=solved)


def _chrissy(b: _Builder) -> None:
    cid, email = 1002, "chrissy.lee@example.com"
    b.customer(cid, "Chrissy", "Lee", email, b.at(520, "09:00"), SEATTLE, phone="+12065550102")
    o1 = b.order(cid, email, b.at(500, "18:00"), [("P-100", 2)])  # 89.00 -> 89 points
    o2 = b.order(cid, email, b.at(345, "19:30"), [("P-401", 1), ("P-102", 2), ("P-500", 1), ("P-502", 1)])  # 239
    o3 = b.order(cid, email, b.at(200, "08:45"), [("P-100", 1), ("P-105", 1), ("P-200", 1)])  # 102.50 -> 102
    o4 = b.order(cid, email, b.at(100, "20:10"), [("P-402", 1), ("P-105", 1), ("P-102", 1)], points=200)  # 141
    o5 = b.order(cid, email, b.at(3, "14:30"), [("P-403", 1), ("P-502", 1), ("P-101", 1)])  # 500.90 -> 500
    earn = [(o1, 89), (o2, 239), (o3, 102), (o4, 141), (o5, 500)]
    for n, (o, pts) in enumerate(earn, start=1):
        b.ledger(f"l_p1002_{n}", cid, "earn", pts, o["created"] + dt.timedelta(seconds=60), o["oid"], "purchase")
    # The first lot expired unused; the redemption then ate 200 of the second lot (FIFO), leaving 39
    # points that expire at E+20 23:59:59.
    first_expiry = dt.datetime.combine(o1["created"].date() + dt.timedelta(days=366), dt.time(0, 0, 0))
    b.ledger("l_p1002_x1", cid, "expire", -89, first_expiry, None, "expiry")
    b.ledger("l_p1002_r1", cid, "redeem", -200, o4["created"] - dt.timedelta(seconds=30), o4["oid"], "redemption")
    for n, (o, prev, tier, reason) in enumerate(
        [(o1, None, "bronze", "enrolled"), (o2, "bronze", "silver", "spend_threshold"),
         (o5, "silver", "gold", "spend_threshold")], start=1):
        b.add("loyalty__tier_changes", id=f"t_p1002_{n}", customer_id=cid, previous_tier=prev, tier=tier,
              changed_at=o["created"] + dt.timedelta(seconds=61), reason=reason)
    b.session(cid, "a-p1002", b.at(9, "12:00"), [("page", "Home", "/"), ("view", "P-403"), ("view", "P-401")])
    b.purchase(cid, o5)
    b.campaign(cid, email, 10, opened=True)
    b.campaign(cid, email, 3, opened=True)


def _marshall(b: _Builder) -> None:
    cid, email = 1003, "marshall.chen@example.com"
    b.customer(cid, "Marshall", "Chen", email, b.at(300, "07:50"), PORTLAND)
    for k, days in enumerate(range(290, 0, -35)):  # 290, 255, ..., 10
        o = b.order(cid, email, b.at(days, "07:55"), [("P-100" if k % 2 == 0 else "P-105", 1)])
        b.purchase(cid, o)
    sub = dict(id="s_1003", customer_id=cid, email=email, product_id="P-200", sku="FLT-100", category="filters",
               interval_days=30, price="10.80", created_at=b.at(180, "08:00"))
    for days, status, nxt in ((180, "active", 150), (120, "paused", None), (95, "active", 65), (5, "active", -25)):
        b.add("subscriptions__subscriptions", **sub, status=status, updated_at=b.at(days, "08:00"),
              cancelled_at=None, next_charge_at=None if nxt is None else b.at(nxt, "08:00"))
    b.session(cid, "a-p1003", b.at(12, "07:30"), [("page", "Shop", "/shop"), ("view", "P-100"), ("view", "P-201")])
    b.campaign(cid, email, 8, opened=True)


def _uma_bob_sam(b: _Builder) -> None:
    uma, uma_email = 1004, "uma.unsub@example.com"
    unsub_at = b.tuesday(40) + dt.timedelta(hours=3, minutes=22)
    b.customer(uma, "Uma", "Unsub", uma_email, b.at(250, "10:00"), NYC, consent_changes=((unsub_at, False),))
    for days, items in ((240, [("P-101", 2)]), (150, [("P-300", 1), ("P-500", 1)]), (70, [("P-101", 2)])):
        b.purchase(uma, b.order(uma, uma_email, b.at(days, "11:00"), items))
    b.campaign(uma, uma_email, 54, opened=True)
    b.campaign(uma, uma_email, 47)
    b.campaign(uma, uma_email, 40, then="unsub")

    bob, bob_email = 1005, "bob.bounce@example.com"
    b.customer(bob, "Bob", "Bounce", bob_email, b.at(200, "16:00"), DENVER)
    b.purchase(bob, b.order(bob, bob_email, b.at(199, "16:30"), [("P-101", 1), ("P-500", 1)]))
    b.campaign(bob, bob_email, 39)
    b.campaign(bob, bob_email, 32)
    b.campaign(bob, bob_email, 25, then="bounce")

    sam, sam_email = 1006, "sam.spam@example.com"
    b.customer(sam, "Sam", "Spam", sam_email, b.at(180, "13:00"), AUSTIN)
    for days in (175, 90):
        b.purchase(sam, b.order(sam, sam_email, b.at(days, "13:30"), [("P-103", 2)]))
    b.campaign(sam, sam_email, 44, opened=True)
    b.campaign(sam, sam_email, 37)
    b.campaign(sam, sam_email, 30, then="spam")


def _erin(b: _Builder) -> None:
    cid, email = 1007, "erin.erased@example.com"
    b.customer(cid, "Erin", "Erased", email, b.at(200, "09:10"), SEATTLE)
    orders = [b.order(cid, email, b.at(days, "09:30"), items)
              for days, items in ((190, [("P-300", 1)]), (100, [("P-301", 2), ("P-500", 1)]), (45, [("P-302", 1)]))]
    for o in orders:
        b.purchase(cid, o)
    b.review("r_502", orders[1], cid, email, 4, "Very good", "Lovely tea, the mug is a bonus.", b.at(90, "18:00"))
    b.campaign(cid, email, 20, opened=True)
    b.add("privacy__deletion_requests", id="del_1007", email=email, customer_id=cid, requested_at=b.at(10, "10:00"))


def _ava(b: _Builder) -> None:
    cid, email = 1008, "ava.advocate@example.com"
    b.customer(cid, "Ava", "Advocate", email, b.at(400, "17:00"), NYC)
    orders = {}
    for days in (380, 330, 270, 200, 140, 80, 25):
        orders[days] = b.order(cid, email, b.at(days, "17:30"), [("P-102", 2), ("P-400", 1)] if days % 2 == 0
                               else [("P-103", 2)])
        b.purchase(cid, orders[days])
    for n, days in enumerate((330, 200, 80)):
        b.review(f"r_{503 + n}", orders[days], cid, email, 5, "Perfect every morning",
                 "Rich, balanced, exactly what I wanted.", b.at(days - 6, "20:00"))
    for n, (friend, ref_days, order_days) in enumerate(((1010, 150, 140), (1011, 100, 88), (None, 30, None)),
                                                       start=1):
        ref_id = f"ref_p{n}"
        created = b.at(ref_days, "19:00")
        b.session(cid, "a-p1008", created, [("share", ref_id)])
        row = dict(id=ref_id, referrer_customer_id=cid, created_at=created)
        if friend is None:
            b.add("referrals__referrals", **row, referee_email="ava.friend@example.net", status="pending",
                  converted_order_id=None, updated_at=created, converted_at=None)
            continue
        first, last, f_email = SUPPORTING[friend]
        bought = b.at(order_days, "12:00")
        b.customer(friend, first, last, f_email, bought - dt.timedelta(minutes=3), NYC)
        o = b.order(friend, f_email, bought, [("P-101", 1), ("P-500", 1)], code="WELCOME10",
                    landing="/?utm_source=friend&utm_medium=referral")
        b.add("referrals__referrals", **row, referee_email=f_email, status="pending", converted_order_id=None,
              updated_at=created, converted_at=None)
        b.add("referrals__referrals", **row, referee_email=f_email, status="converted", converted_order_id=o["oid"],
              updated_at=bought, converted_at=bought)
    b.campaign(cid, email, 6, opened=True)


def _larry(b: _Builder) -> None:
    cid, email = 1009, "larry.lapsing@example.com"
    b.customer(cid, "Larry", "Lapsing", email, b.at(400, "06:30"), DENVER)
    for days in range(370, 129, -30):  # 370, 340, ..., 130
        b.purchase(cid, b.order(cid, email, b.at(days, "06:45"), [("P-105", 1)]))
    b.campaign(cid, email, 60)
    b.campaign(cid, email, 11)
