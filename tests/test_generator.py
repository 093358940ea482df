"""Tests of the sample-data generator (orchestration.sample_data), on the tiny tier.

A small independent reader (`scan`) re-reads the landing zone the way ingestion must: it classifies
each line (not JSON, truncated, missing required, wrong type, too many columns, far future) and
measures the non-quarantine dirt, so the generator's summary is checked line by line, not trusted.
"""

from __future__ import annotations

import collections
import csv
import datetime as dt
import gzip
import hashlib
import json
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from orchestration.ingestion.entities import ENTITIES, ENTITIES_BY_NAME
from orchestration.sample_data import PERSONAS, TIERS, DirtRates, generate
from orchestration.sample_data.config import QUARANTINE_KINDS

E = dt.date(2026, 10, 31)
EMAIL = {
    "shop__customers": "email", "shop__orders": "email", "pos__transactions": "customer_email",
    "esp__email_events": "email", "reviews__reviews": "customer_email", "support__tickets": "requester_email",
    "subscriptions__subscriptions": "email", "referrals__referrals": "referee_email",
    "privacy__deletion_requests": "email",
}
CAST = {"int": "BIGINT", "money": "DECIMAL(18,2)", "timestamp": "TIMESTAMPTZ", "bool": "BOOLEAN"}


# --- helpers ----------------------------------------------------------------------------------------


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.name.endswith(".gz") and data:
        data = gzip.decompress(data)
    return data.decode("utf-8")


def _files(out: Path, name: str) -> list[Path]:
    e = ENTITIES_BY_NAME[name]
    folder = out / e.source / e.entity
    return sorted(folder.iterdir()) if folder.exists() else []


def _typed_ok(value: object, typ: str) -> bool:
    """Whether a raw value would survive ingestion's cast (a simple Python mirror of TRY_CAST)."""
    if value is None or typ in ("string", "json"):
        return True
    try:
        if typ == "int":
            return isinstance(value, int) or str(value).lstrip("-").isdigit()
        if typ == "money":
            Decimal(str(value))
            return True
        if typ == "timestamp":
            _ts(str(value))
            return True
        return isinstance(value, bool) or value in ("true", "false")
    except (ValueError, ArithmeticError):
        return False


def records(out: Path, name: str) -> list[dict]:
    """Every record ingestion would accept (skipping re-delivered copies), with `_file`."""
    e = ENTITIES_BY_NAME[name]
    rows = []
    for f in _files(out, name):
        if "-redelivery" in f.name:
            continue
        text = _text(f)
        if e.format == "csv":
            lines = text.split("\r\n")[:-1]
            header = lines[0].split(",") if lines else []
            objs = [{k: (v or None) for k, v in zip(header, cells, strict=True)}
                    for cells in csv.reader(lines[1:]) if len(cells) == len(header)]
        else:
            objs = []
            for line in text.split("\n")[:-1]:
                try:
                    objs.append(json.loads(line))
                except ValueError:
                    continue
        horizon = dt.datetime.combine(dt.date.fromisoformat(f.name[:10]) + dt.timedelta(days=2), dt.time(),
                                      dt.UTC)
        for obj in objs:
            if (isinstance(obj, dict) and all(obj.get(r) is not None for r in e.required_fields)
                    and all(_typed_ok(obj.get(x.name), x.type) for x in e.fields)
                    and _ts(str(obj[e.event_time])) < horizon):
                rows.append({**obj, "_file": f.name})
    return rows


def latest(rows: list[dict], key: str = "id") -> dict:
    """Upsert semantics: the version with the latest updated_at per key."""
    best: dict = {}
    for r in rows:
        if r[key] not in best or _ts(r["updated_at"]) > _ts(best[r[key]]["updated_at"]):
            best[r[key]] = r
    return best


def _ts(s: str) -> dt.datetime:
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def scan(out: Path) -> dict[str, collections.Counter]:
    """Classify every line of every entity like ingestion would, and measure the other dirt."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    result = {}
    for e in ENTITIES:
        c: collections.Counter = collections.Counter()
        rows = []
        first = None
        for f in _files(out, e.name):
            if "-redelivery" in f.name:
                continue
            text = _text(f)
            if not text:
                c["empty_files"] += 1
                continue
            day = f.name[:10]
            first = min(first or day, day)
            if e.format == "csv":
                lines = text.split("\r\n")
                assert lines[-1] == "" and lines[0] == ",".join(x.name for x in e.fields)
                for n, cells in enumerate(csv.reader(lines[1:-1]), start=2):
                    if len(cells) != len(e.fields):
                        c["too_many_columns" if len(cells) > len(e.fields) else "truncated"] += 1
                    else:
                        obj = {k.name: v or None for k, v in zip(e.fields, cells, strict=True)}
                        rows.append((day, n, json.dumps(obj)))
                continue
            lines = text.split("\n")
            assert lines[-1] == "", f"{f} must end with a newline"
            for n, line in enumerate(lines[:-1], start=1):
                try:
                    ok = isinstance(json.loads(line), dict)
                except ValueError:
                    ok = False
                if ok:
                    rows.append((day, n, line))
                else:
                    c["truncated" if line.startswith('{"') else "not_json"] += 1
        result[e.name] = c
        if not rows:
            continue
        con.register("lines", pd.DataFrame(rows, columns=["day", "n", "line"]))
        con.execute("CREATE OR REPLACE TABLE l AS SELECT day::DATE AS day, n, line FROM lines")
        con.unregister("lines")

        def get(f: str) -> str:
            return f"(line->>'$.\"{f}\"')"

        missing = " OR ".join(f"{get(f)} IS NULL" for f in e.required_fields)
        wrong = " OR ".join(f"({get(f.name)} IS NOT NULL AND TRY_CAST({get(f.name)} AS {CAST[f.type]}) IS NULL)"
                            for f in e.fields if f.type in CAST)
        et = f"TRY_CAST({get(e.event_time)} AS TIMESTAMPTZ)"
        key = " || '|' || ".join(f"coalesce({get(k)}, '')" for k in e.key)
        if e.semantics == "upsert":
            key += f" || '|' || ({et})::VARCHAR"
        names = [f.name for f in e.fields]
        email = EMAIL.get(e.name)
        sql = f"""
            WITH a AS (
                SELECT *, CASE WHEN {missing} THEN 'missing_required' WHEN {wrong} THEN 'wrong_type'
                               WHEN {et} >= (day + 2)::TIMESTAMPTZ THEN 'far_future' END AS q,
                       {et} AS et, {key} AS k
                FROM l
            ), ok AS (SELECT *, row_number() OVER (PARTITION BY k ORDER BY day, n) AS rk FROM a WHERE q IS NULL)
            SELECT q, count(*) FROM a WHERE q IS NOT NULL GROUP BY q
            UNION ALL SELECT 'valid', count(*) FROM ok
            UNION ALL SELECT 'duplicates', count(*) - count(DISTINCT k) FROM ok
            UNION ALL SELECT 'late_arrivals', count(*) FROM ok WHERE rk = 1 AND day > DATE '{first}'
                                                                AND et::DATE <= day - 2
            UNION ALL SELECT 'offset_timestamps', count(*) FROM ok WHERE NOT ends_with({get(e.event_time)}, 'Z')
            UNION ALL SELECT 'extra_fields', count(*) FROM ok
                      WHERE len(list_filter(json_keys(line), lambda x: NOT list_contains({names}, x))) > 0
            UNION ALL SELECT 'email_case', count(*) FROM ok
                      WHERE {f"{get(email)} <> lower(trim({get(email)}))" if email else "false"}
        """
        for kind, n in con.execute(sql).fetchall():
            c[kind] += n
    return result


def tree_hash(out: Path) -> str:
    """Hash of every file's path and bytes, except the summary (which carries elapsed seconds)."""
    h = hashlib.sha256()
    for p in sorted(out.rglob("*")):
        if p.is_file() and p.name != "_generator_summary.json":
            h.update(p.relative_to(out).as_posix().encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


# --- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """A full default year of the tiny tier (default dirt)."""
    out = tmp_path_factory.mktemp("year")
    return out, generate(out, tier="tiny", days=365, seed=42)


@pytest.fixture(scope="module")
def heavy(tmp_path_factory):
    """Sixty days with 5% of every kind of dirt."""
    out = tmp_path_factory.mktemp("heavy")
    return out, generate(out, tier="tiny", days=60, seed=7, dirt=DirtRates.heavy())


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """Ninety clean days."""
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, tier="tiny", days=90, seed=3, dirt=DirtRates.none())


# --- layout and formats -----------------------------------------------------------------------------


def test_every_entity_written_with_contract_layout(year):
    out, summary = year
    start = E - dt.timedelta(days=364)
    for e in ENTITIES:
        files = _files(out, e.name)
        assert files, f"{e.name} has no files"
        for f in files:
            stem, ext = f.name.split(".", 1)
            assert ext == e.format
            day = dt.date.fromisoformat(stem[:10])
            assert start <= day <= E
            assert stem[10:] in ("", "-redelivery", "-empty"), f.name
        s = summary.entities[e.name]
        assert s.files == len(files)
        assert s.bytes == sum(f.stat().st_size for f in files)
        assert s.lines == sum(_text(f).count("\n") for f in files)
    # web traffic never stops; even the tiny shop sells on most days
    assert len({f.name[:10] for f in _files(out, "web__events")}) == 365
    assert len({f.name[:10] for f in _files(out, "shop__orders")}) > 300
    on_disk = json.loads((out / "_generator_summary.json").read_text())
    assert on_disk["parameters"]["tier"] == "tiny" and on_disk["parameters"]["days"] == 365
    assert {p["id"] for p in on_disk["personas"]} == {p["id"] for p in PERSONAS.values()}
    assert on_disk["entities"]["web__events"]["lines"] == summary.entities["web__events"].lines


def test_pos_is_rfc4180_csv_with_header(year):
    out, _ = year
    f = _files(out, "pos__transactions")[0]
    raw = f.read_bytes()
    header = ",".join(x.name for x in ENTITIES_BY_NAME["pos__transactions"].fields)
    assert raw.startswith(header.encode() + b"\r\n") and raw.endswith(b"\r\n")
    rows = records(out, "pos__transactions")
    assert any(r["customer_email"] for r in rows)
    assert any(r["shop_customer_id"] for r in rows)
    assert any(not r["customer_email"] and not r["shop_customer_id"] for r in rows)


def test_clean_records_carry_every_contract_field(clean):
    out, _ = clean
    for e in ENTITIES:
        rows = records(out, e.name)
        assert rows, e.name
        for r in rows:
            r.pop("_file")
            if e.format == "csv":
                assert list(r) == [f.name for f in e.fields]
            else:
                assert set(r) == {f.name for f in e.fields}, (e.name, set(r) ^ {f.name for f in e.fields})
            assert all(r[k] is not None for k in e.required_fields)


def test_no_dirt_at_all_with_dirt_none(clean):
    out, summary = clean
    for name, c in scan(out).items():
        bad = {k: v for k, v in c.items() if k != "valid" and v}
        assert not bad, (name, bad)
    for name, s in summary.entities.items():
        assert s.dirt == {}, name
        assert s.records == s.lines - (1 if s.files and name == "pos__transactions" else 0) * s.files
    orders = latest(records(out, "shop__orders"))
    assert not any(o["test"] for o in orders.values())
    assert {o["financial_status"] for o in orders.values()} <= {"paid"}
    assert not any(p.name.endswith(("-redelivery.jsonl", "-empty.jsonl")) for p in out.rglob("*"))


# --- determinism, options ---------------------------------------------------------------------------


def test_deterministic_and_seed_sensitive(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    sa = generate(a, tier="tiny", days=21, seed=11)
    generate(b, tier="tiny", days=21, seed=11)
    generate(c, tier="tiny", days=21, seed=12)
    assert tree_hash(a) == tree_hash(b)
    assert tree_hash(a) != tree_hash(c)
    ja = json.loads((a / "_generator_summary.json").read_text())
    jb = json.loads((b / "_generator_summary.json").read_text())
    ja.pop("elapsed_seconds"), jb.pop("elapsed_seconds")
    assert ja == jb
    assert sa.parameters["seed"] == 11


def test_same_bytes_whatever_the_thread_count(tmp_path, monkeypatch):
    """Ordering never depends on parallelism: one DuckDB thread writes the very same files."""
    import orchestration.sample_data.generator as gen
    from orchestration.sample_data import sqlkit

    generate(tmp_path / "multi", tier="tiny", days=21, seed=11)
    monkeypatch.setattr(gen, "connect", lambda seed, tmp: sqlkit.connect(seed, tmp, threads=1))
    generate(tmp_path / "single", tier="tiny", days=21, seed=11)
    assert tree_hash(tmp_path / "multi") == tree_hash(tmp_path / "single")


def test_gzip_option(tmp_path):
    out = tmp_path / "gz"
    summary = generate(out, tier="tiny", days=14, seed=5, gzip=True)
    files = [p for p in out.rglob("*") if p.is_file() and not p.name.startswith("_")]
    assert files and all(p.name.endswith((".jsonl.gz", ".csv.gz")) for p in files)
    plain = [p for p in files if p.stat().st_size > 0]
    assert all(p.read_bytes()[:2] == b"\x1f\x8b" for p in plain)
    assert len(records(out, "shop__orders")) > 0
    c = scan(out)
    assert c["web__events"]["valid"] > 0
    assert summary.entities["web__events"].bytes == sum(p.stat().st_size for p in _files(out, "web__events"))


def test_sources_filter_writes_only_shop(tmp_path):
    out = tmp_path / "shop"
    summary = generate(out, tier="tiny", days=10, seed=1, sources={"shop"})
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["shop"]
    assert sorted(p.name for p in (out / "shop").iterdir()) == ["customers", "orders"]
    assert set(summary.entities) == {"shop__customers", "shop__orders"}
    # the same files as in a full run with the same arguments
    full = tmp_path / "full"
    generate(full, tier="tiny", days=10, seed=1)
    for name in ("shop__customers", "shop__orders"):
        mine = {f.name: f.read_bytes() for f in _files(out, name) if "-" not in f.name[10:]}
        theirs = {f.name: f.read_bytes() for f in _files(full, name) if "-" not in f.name[10:]}
        assert mine == theirs


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path, tier="huge")
    with pytest.raises(ValueError):
        generate(tmp_path, tier="tiny", sources={"crm"})
    with pytest.raises(ValueError):
        DirtRates(duplicates=0.6, late_arrivals=0.6)


def test_tiers():
    assert TIERS["tiny"].customers == 300
    assert TIERS["demo"].customers == 20_000
    assert TIERS["large"].customers == 1_000_000


# --- dirt -------------------------------------------------------------------------------------------


def test_injected_dirt_matches_what_a_reader_finds_exactly(heavy):
    out, summary = heavy
    found = scan(out)
    for name, c in found.items():
        d = summary.entities[name].dirt
        for kind in QUARANTINE_KINDS + ("late_arrivals", "offset_timestamps", "extra_fields", "email_case",
                                        "empty_files"):
            assert c[kind] == d.get(kind, 0), (name, kind, c[kind], d.get(kind, 0))
        assert c["duplicates"] == d.get("duplicates_same_file", 0) + d.get("duplicates_other_file", 0), name
        assert sum(c[k] for k in QUARANTINE_KINDS) == summary.entities[name].quarantine_expected
    on_disk = json.loads((out / "_generator_summary.json").read_text())
    assert on_disk["entities"]["web__events"]["quarantine_expected"] == sum(
        found["web__events"][k] for k in QUARANTINE_KINDS)


def test_dirt_rates_are_close_to_configured(heavy):
    out, summary = heavy
    rate = 0.05
    for name in ("web__events", "esp__email_events", "shop__orders"):
        s = summary.entities[name]
        d = s.dirt
        kinds = {"duplicates": d.get("duplicates_same_file", 0) + d.get("duplicates_other_file", 0),
                 **{k: d.get(k, 0) for k in ("late_arrivals", "not_json", "truncated", "missing_required",
                                               "wrong_type", "extra_fields", "offset_timestamps", "far_future")}}
        if name != "web__events":
            kinds["email_case"] = d.get("email_case", 0)
        for kind, n in kinds.items():
            expected = rate * s.records
            assert abs(n - expected) <= 4 * expected**0.5 + 3, (name, kind, n, expected)
    assert len(summary.files["empty"]) == 5 and len(summary.files["redelivered"]) == 3
    for rel in summary.files["empty"]:
        assert (out / rel).stat().st_size == 0
    for rel in summary.files["redelivered"]:
        copy = out / rel
        original = copy.with_name(copy.name.replace("-redelivery", ""))
        assert copy.read_bytes() == original.read_bytes()
    orders = latest(records(out, "shop__orders"))
    statuses = collections.Counter(o["financial_status"] for o in orders.values())
    assert statuses["refunded"] and statuses["partially_refunded"] and statuses["voided"]
    assert any(o["test"] for o in orders.values())
    assert any(o["cancelled_at"] for o in orders.values())
    # order-level dirt: counted per order id, near 5% of the (non-POS) orders
    d = summary.entities["shop__orders"].dirt
    n_orders = len(orders)
    for kind in ("test_orders", "cancelled_orders", "voided_orders", "full_refunds", "partial_refunds"):
        assert 0.015 * n_orders <= d[kind] <= 0.09 * n_orders, (kind, d[kind], n_orders)
    assert 0 < sum(1 for o in orders.values() if o["test"]) <= d["test_orders"]  # some lines quarantined


def test_bad_values_really_fail(heavy):
    """Truncated lines are invalid JSON and wrong types fail DuckDB TRY_CAST (not merely odd)."""
    out, _ = heavy
    con = duckdb.connect()
    wrong = 0
    for f in _files(out, "shop__orders"):
        for line in _text(f).split("\n")[:-1]:
            if '"abc"' in line or '"x1"' in line or '"not-a-date"' in line or '"maybe"' in line:
                wrong += 1
            if line.startswith('{"') and not line.endswith("}"):
                with pytest.raises(ValueError):
                    json.loads(line)
    assert wrong > 0
    assert con.execute("SELECT TRY_CAST('abc' AS DECIMAL(18,2)), TRY_CAST('x1' AS BIGINT), "
                       "TRY_CAST('not-a-date' AS TIMESTAMPTZ), TRY_CAST('maybe' AS BOOLEAN)").fetchone() == (
        None, None, None, None)


def test_default_dirt_is_small_but_present(year):
    _, summary = year
    web = summary.entities["web__events"]
    total = sum(v for k, v in web.dirt.items() if not k.startswith("redelivered"))
    assert 0 < total < 0.1 * web.records
    assert summary.files["empty"] and summary.files["redelivered"]


# --- personas ---------------------------------------------------------------------------------------


def _days_before(ts: str) -> float:
    return (dt.datetime.combine(E, dt.time(), dt.UTC) - _ts(ts)).total_seconds() / 86400


def test_personas_have_their_key_facts(year):
    out, _ = year
    orders = latest(records(out, "shop__orders"))
    by_cust = collections.defaultdict(list)
    for o in orders.values():
        by_cust[o["customer_id"]].append(o)

    # Naomi: one late web order ~20 days ago, 1-star review and a bad CSAT ~5 days ago, anonymous first.
    (naomi,) = by_cust[1001]
    assert naomi["source_name"] == "web" and 19 <= _days_before(naomi["created_at"]) <= 21
    (f,) = json.loads(json.dumps(naomi["fulfillments"]))
    assert _ts(f["delivered_at"]) > _ts(f["promised_delivery_at"])
    reviews = [r for r in latest(records(out, "reviews__reviews")).values() if r["customer_id"] == 1001]
    assert [r["rating"] for r in reviews] == [1] and 4 <= _days_before(reviews[0]["created_at"]) <= 6
    tickets = [t for t in latest(records(out, "support__tickets")).values()
               if t["requester_email"] == "naomi.park@example.com"]
    assert [t["satisfaction"] for t in tickets] == ["bad"]
    web = sorted((e for e in records(out, "web__events") if e.get("anonymousId") == "a-naomi-0001"),
                 key=lambda e: e["timestamp"])
    first_identify = next(i for i, e in enumerate(web) if e["type"] == "identify")
    assert first_identify > 0 and all(e["userId"] is None for e in web[:first_identify])
    assert web[first_identify]["traits"]["email"] == "naomi.park@example.com"
    naomi_c = latest(records(out, "shop__customers"))[1001]
    assert naomi_c["accepts_marketing"] is True

    # Chrissy: 500 points on her last order, FIFO leaves 39 expiring at E+20, silver -> gold 3 days ago.
    ledger = [x for x in records(out, "loyalty__ledger") if x["customer_id"] == 1002]
    last = max(by_cust[1002], key=lambda o: o["created_at"])
    assert [x["points"] for x in ledger if x["order_id"] == last["id"] and x["type"] == "earn"] == [500]
    assert {x["type"] for x in ledger} == {"earn", "redeem", "expire"}
    lots = sorted((x for x in ledger if x["points"] > 0), key=lambda x: x["occurred_at"])
    used = -sum(x["points"] for x in ledger if x["points"] < 0)
    remaining = []
    for lot in lots:
        take = min(used, lot["points"])
        used -= take
        remaining.append((lot["points"] - take, _ts(lot["expires_at"])))
    horizon = dt.datetime.combine(E + dt.timedelta(days=30), dt.time(23, 59, 59), dt.UTC)
    expiring = [(p, t) for p, t in remaining if p > 0 and t <= horizon]
    assert expiring == [(39, dt.datetime.combine(E + dt.timedelta(days=20), dt.time(23, 59, 59), dt.UTC))]
    assert sum(x["points"] for x in ledger) == 782
    tiers = [t for t in records(out, "loyalty__tier_changes") if t["customer_id"] == 1002]
    gold = [t for t in tiers if t["tier"] == "gold"]
    assert len(gold) == 1 and gold[0]["previous_tier"] == "silver" and 2 <= _days_before(gold[0]["changed_at"]) <= 3

    # Marshall: active P-200 subscription started months ago; buys only coffee.
    subs = latest(records(out, "subscriptions__subscriptions"))["s_1003"]
    assert subs["status"] == "active" and subs["product_id"] == "P-200" and subs["category"] == "filters"
    assert _days_before(subs["created_at"]) > 90
    cats = {li["category"] for o in by_cust[1003] for li in o["line_items"]}
    assert cats == {"coffee"} and len(by_cust[1003]) >= 6

    esp = records(out, "esp__email_events")

    def metrics(email: str) -> list[dict]:
        return [x for x in esp if x["email"] == email]

    # Uma unsubscribed ~40 days ago, and the shop knows; Bob bounced hard; Sam complained.
    unsub = [x for x in metrics("uma.unsub@example.com") if x["metric"] == "Unsubscribed"]
    assert len(unsub) == 1 and 38 <= _days_before(unsub[0]["timestamp"]) <= 47
    assert latest(records(out, "shop__customers"))[1004]["accepts_marketing"] is False
    assert len(by_cust[1004]) == 3
    bounces = [x for x in metrics("bob.bounce@example.com") if x["metric"] == "Bounced Email"]
    assert [b["properties"]["bounce_type"] for b in bounces] == ["hard"]
    assert [x["metric"] for x in metrics("sam.spam@example.com")].count("Marked Email as Spam") == 1

    # Erin: orders, events, a review, then a deletion request 10 days ago.
    (req,) = [d for d in records(out, "privacy__deletion_requests") if d["customer_id"] == 1007]
    assert req["email"] == "erin.erased@example.com" and 9.5 <= _days_before(req["requested_at"]) <= 10.5
    assert len(by_cust[1007]) >= 2
    assert any(r["customer_id"] == 1007 for r in records(out, "reviews__reviews"))
    assert any(e["userId"] == "1007" for e in records(out, "web__events"))

    # Ava: loyal, two converted referrals pointing at real orders, positive reviews.
    assert len(by_cust[1008]) >= 5
    refs = [r for r in latest(records(out, "referrals__referrals")).values() if r["referrer_customer_id"] == 1008]
    converted = [r for r in refs if r["status"] == "converted"]
    assert len(converted) >= 2 and all(r["converted_order_id"] in orders for r in converted)
    ratings = [r["rating"] for r in records(out, "reviews__reviews") if r["customer_id"] == 1008]
    assert ratings and min(ratings) >= 4

    # Larry: monthly orders, then nothing for ~120+ days.
    larry = sorted(_ts(o["created_at"]) for o in by_cust[1009])
    assert len(larry) >= 6 and 120 <= _days_before(larry[-1].isoformat()) <= 140
    gaps = [(b - a).days for a, b in zip(larry, larry[1:], strict=False)]
    assert all(25 <= g <= 35 for g in gaps)


def test_persona_records_are_never_dirty(heavy):
    out, _ = heavy
    persona_emails = {p["email"] for p in PERSONAS.values()}
    for e in ENTITIES:
        for f in _files(out, e.name):
            for line in _text(f).splitlines():
                for email in persona_emails:
                    if email in line.lower() and email not in line:
                        pytest.fail(f"persona email changed in {f.name}: {line[:120]}")
    orders = [o for o in records(out, "shop__orders") if o["customer_id"] in (1001, 1002, 1003)]
    assert orders and all(o["created_at"].endswith("Z") for o in orders)
    assert all(not set(o) - {f.name for f in ENTITIES_BY_NAME["shop__orders"].fields} - {"_file"} for o in orders)


def test_personas_hold_for_another_end_date_and_short_window(tmp_path):
    end = dt.date(2025, 3, 15)
    out = tmp_path / "short"
    generate(out, tier="tiny", days=90, seed=9, end_date=end)
    orders = latest(records(out, "shop__orders"))
    naomi = [o for o in orders.values() if o["customer_id"] == 1001]
    assert len(naomi) == 1 and naomi[0]["created_at"].startswith(str(end - dt.timedelta(days=20)))
    larry = [o for o in orders.values() if o["customer_id"] == 1009]
    assert len(larry) >= 6  # older orders arrive in the first day's backfill
    first_day = str(end - dt.timedelta(days=89))
    assert any(o["_file"].startswith(first_day) for o in larry)
    ledger = [x for x in records(out, "loyalty__ledger") if x["customer_id"] == 1002]
    assert sum(x["points"] for x in ledger) == 782


# --- realism ----------------------------------------------------------------------------------------


def test_purchase_frequency_is_long_tailed(year):
    out, _ = year
    orders = [o for o in latest(records(out, "shop__orders")).values()
              if not o["test"] and o["customer_id"] and o["financial_status"] not in ("voided",)
              and not o["cancelled_at"]]
    per = collections.Counter(o["customer_id"] for o in orders)
    one = sum(1 for n in per.values() if n == 1)
    assert one / len(per) > 0.5
    assert max(per.values()) >= 6
    assert any(o["customer_id"] is None and o["email"] for o in latest(records(out, "shop__orders")).values())


def test_money_adds_up(year):
    out, _ = year
    for o in records(out, "shop__orders"):
        total = (Decimal(o["subtotal_price"]) - Decimal(o["total_discounts"]) + Decimal(o["total_shipping"])
                 + Decimal(o["total_tax"]))
        assert Decimal(o["total_price"]) == total, o["id"]
        items = sum(Decimal(li["price"]) * li["quantity"] for li in o["line_items"])
        assert items == Decimal(o["subtotal_price"])
        assert all(len(x.split(".")[1]) == 2 for x in (o["subtotal_price"], o["total_price"]))
        for r in o["refunds"]:
            assert Decimal(r["amount"]) <= Decimal(o["total_price"])


def test_orders_are_upserted_over_their_lifecycle(year):
    out, _ = year
    versions = collections.defaultdict(list)
    for o in records(out, "shop__orders"):
        versions[o["id"]].append(o)
    multi = [v for v in versions.values() if len({x["_file"] for x in v}) > 1]
    assert len(multi) > len(versions) / 3
    late = [v for v in versions.values() for x in v for f in x["fulfillments"]
            if f["delivered_at"] and f["delivered_at"] > f["promised_delivery_at"]]
    assert late
    assert {"web", "app", "pos"} <= {x["source_name"] for v in versions.values() for x in v}


def test_weekly_and_seasonal_rhythm(year):
    out, _ = year
    days = collections.Counter(_ts(e["timestamp"]).date() for e in records(out, "web__events"))
    by_weekday = collections.Counter()
    for d, n in days.items():
        by_weekday[d.weekday()] += n
    assert max(by_weekday.values()) / min(by_weekday.values()) > 1.1

    def per_day(first: dt.date, last: dt.date) -> float:
        sel = [n for d, n in days.items() if first <= d <= last]
        return sum(sel) / len(sel)

    # holiday season vs the January lull two months later (close enough that growth doesn't matter)
    assert per_day(dt.date(2025, 11, 20), dt.date(2025, 12, 20)) > 1.2 * per_day(dt.date(2026, 1, 10),
                                                                                  dt.date(2026, 2, 10))
    hours = collections.Counter(_ts(e["timestamp"]).hour for e in records(out, "web__events"))
    assert max(hours.values()) > 3 * min(hours.values())


def test_web_funnel_and_identity(year):
    out, _ = year
    events = records(out, "web__events")
    c = collections.Counter(e["event"] for e in events if e["type"] == "track")
    assert c["Product Viewed"] > c["Product Added"] > c["Checkout Started"] > c["Order Completed"] > 0
    assert c["Event Attended"] and c["Referral Link Shared"] and c["Signed Up"]
    assert all(e["context"]["channel"] == "offline" for e in events if e.get("event") == "Event Attended")
    types = collections.Counter(e["type"] for e in events)
    assert types["page"] and types["identify"]
    # anonymous visitors who later identify: same anonymousId, first without userId, then identify
    by_anon = collections.defaultdict(list)
    for e in events:
        if e.get("anonymousId"):
            by_anon[e["anonymousId"]].append(e)
    linked = 0
    for evs in by_anon.values():
        evs.sort(key=lambda e: e["timestamp"])
        ident = [i for i, e in enumerate(evs) if e["type"] == "identify"]
        if ident and ident[0] > 0 and evs[0]["userId"] is None:
            linked += 1
    assert linked >= 20
    assert 12_000 < len(events) < 30_000  # "about 20k" at tiny over a year


def test_email_engagement_and_consent(year):
    out, _ = year
    esp = records(out, "esp__email_events")
    m = collections.Counter(x["metric"] for x in esp)
    assert 0.1 < m["Opened Email"] / m["Received Email"] < 0.6
    assert m["Clicked Email"] < m["Opened Email"]
    assert {"Bounced Email", "Unsubscribed", "Subscribed to List", "Received SMS", "Clicked SMS"} <= set(m)
    assert {x["properties"]["bounce_type"] for x in esp if x["metric"] == "Bounced Email"} == {"hard", "soft"}
    # an unsubscribe is followed by the shop customer's consent flipping to false
    customers = latest(records(out, "shop__customers"))
    emails = {c["email"]: c for c in customers.values()}
    unsubs = [x for x in esp if x["metric"] == "Unsubscribed" and x["email"] in emails]
    assert unsubs
    flipped = [x for x in unsubs if emails[x["email"]]["accepts_marketing"] is False]
    assert len(flipped) >= 0.8 * len(unsubs)
    # nothing is sent after a hard bounce
    hard = {x["email"]: x["timestamp"] for x in esp if x["properties"].get("bounce_type") == "hard"}
    assert not [x for x in esp if x["email"] in hard and x["metric"] == "Received Email"
                and x["timestamp"] > hard[x["email"]]]


def test_reviews_tickets_loyalty_programs(year):
    out, _ = year
    reviews = list(latest(records(out, "reviews__reviews")).values())
    ratings = [r["rating"] for r in reviews]
    assert sum(ratings) / len(ratings) > 3.5 and min(ratings) <= 2
    orders = latest(records(out, "shop__orders"))
    late_ids = {o["id"] for o in orders.values() for f in o["fulfillments"]
                if f["delivered_at"] and f["delivered_at"] > f["promised_delivery_at"]}
    tickets = list(latest(records(out, "support__tickets")).values())
    assert {"good", "bad"} <= {t["satisfaction"] for t in tickets}
    assert any(t["order_id"] in late_ids for t in tickets)
    ledger = records(out, "loyalty__ledger")
    assert {"earn", "redeem", "expire"} <= {x["type"] for x in ledger}
    assert all(x["expires_at"] for x in ledger if x["type"] == "earn")
    balance = collections.Counter()
    for x in ledger:
        balance[x["customer_id"]] += x["points"]
    assert min(balance.values()) >= 0
    tiers = {t["tier"] for t in records(out, "loyalty__tier_changes")}
    assert {"bronze", "silver", "gold"} <= tiers
    subs = records(out, "subscriptions__subscriptions")
    assert {"active", "paused", "cancelled"} <= {s["status"] for s in subs}
    refs = list(latest(records(out, "referrals__referrals")).values())
    assert any(r["status"] == "converted" and r["converted_order_id"] in orders for r in refs)
    assert records(out, "privacy__deletion_requests")
