"""Test helpers: build a published serving.duckdb, run syncs with fast options, inspect the state."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from orchestration.activation import SegmentSpec, SyncOptions, run_erasures, run_sync
from orchestration.privacy.keys import erasure_hash

SPEC = SegmentSpec(
    model="seg_test",
    purpose="marketing",
    holdout_share=0.1,
    identifier="email",
    mode="mirror",
    destinations=("file", "klaviyo", "mailchimp"),
    list_name="C360 test",
    fields={"first_name": "first_name", "points_balance": "points"},
)

# Tiny batches and a 1000x time scale keep the tests fast while every batching/limit path is exercised.
FAST = SyncOptions(
    time_scale=1000.0,
    base_delay=1.0,
    max_attempts=5,
    timeout=(2.0, 2.0),
    klaviyo_batch_size=4,
    klaviyo_list_batch_size=3,
    mailchimp_batch_size=3,
    poll_interval=1.0,
    max_change_share=1.0,  # the circuit-breaker test sets its own; tiny segments change by large shares
    min_change_rows=0,  # tiny test segments: the breaker's rules apply from the first row
    max_rejected_share=0.25,
)


def member(i: int, **overrides) -> dict:
    """A segment row for customer i."""
    row = {
        "customer_key": f"c{i:04d}",
        "email": f"person{i:04d}@example.com",
        "first_name": f"Name{i}",
        "is_holdout": False,
        "email_consent": "subscribed",
        "segment_reason": "test",
        "points": 100 + i,
    }
    row.update(overrides)
    return row


def members(n: int, start: int = 1) -> list[dict]:
    """Rows for customers start .. start+n-1."""
    return [member(i) for i in range(start, start + n)]


class Warehouse:
    """A serving.duckdb published like the pipeline does (temp file + rename) and a working warehouse."""

    def __init__(self, root: Path):
        self.root = root
        self.serving = root / "serving.duckdb"
        self.warehouse = root / "warehouse.duckdb"
        self.outbox = root / "outbox"

    def publish(self, rows: list[dict], *, consent: dict[str, str] | None = None, erased: list[str] = (),
                salt: str = "c360", table: str = "seg_test", consent_at: dict[str, str | None] | None = None) -> None:
        """Write the segment table, marts.customer_360 (consent and consent-time overrides; the time
        defaults to 2026-01-01) and marts.erased_identifiers."""
        tmp = self.root / "serving.tmp.duckdb"
        tmp.unlink(missing_ok=True)
        con = duckdb.connect(str(tmp))
        con.execute("CREATE SCHEMA segments; CREATE SCHEMA marts")
        cols = ["customer_key", "email", "first_name", "is_holdout", "email_consent", "segment_reason", "points"]
        seg = pd.DataFrame({c: [r[c] for r in rows] for c in cols}, columns=cols, dtype=object)
        con.register("seg", seg)
        con.execute(
            f"CREATE TABLE segments.{table} AS SELECT CAST(customer_key AS VARCHAR) AS customer_key, "
            "CAST(email AS VARCHAR) AS email, CAST(first_name AS VARCHAR) AS first_name, "
            "CAST(is_holdout AS BOOLEAN) AS is_holdout, CAST(email_consent AS VARCHAR) AS email_consent, "
            "CAST(segment_reason AS VARCHAR) AS segment_reason, CAST(points AS INTEGER) AS points FROM seg"
        )
        people = {r["email"]: r for r in rows if r["email"]}
        for email, state in (consent or {}).items():
            people.setdefault(email, {"customer_key": "x-" + email, "email": email})
            people[email] = {**people[email], "email_consent": state}
        c360 = pd.DataFrame({"customer_key": [p["customer_key"] for p in people.values()],
                             "email": list(people),
                             "email_consent": [p.get("email_consent", "subscribed") for p in people.values()],
                             "consent_at": [(consent_at or {}).get(e, "2026-01-01") for e in people]},
                            dtype=object)
        con.register("c360", c360)
        con.execute("CREATE TABLE marts.customer_360 AS SELECT CAST(customer_key AS VARCHAR) AS customer_key, "
                    "CAST(email AS VARCHAR) AS email, CAST(email_consent AS VARCHAR) AS email_consent, "
                    "CAST(consent_at AS TIMESTAMP) AS email_consent_updated_at FROM c360")
        con.execute("CREATE TABLE marts.erased_identifiers (identifier_hash VARCHAR)")
        for email in erased:  # what the models keep: HMAC-SHA256 of the node with the erasure key
            con.execute("INSERT INTO marts.erased_identifiers VALUES (?)", [erasure_hash(salt, f"email:{email}")])
        con.close()
        os.replace(tmp, self.serving)

    def env(self, klaviyo=None, mailchimp=None) -> dict[str, str]:
        """Environment with keys and base URLs of the given fake servers."""
        env = {}
        if klaviyo is not None:
            env.update(KLAVIYO_API_KEY=klaviyo.api_key, KLAVIYO_BASE_URL=klaviyo.url)
        if mailchimp is not None:
            env.update(MAILCHIMP_API_KEY=mailchimp.api_key, MAILCHIMP_BASE_URL=mailchimp.url + "/3.0")
        return env

    def sync(self, destination: str, env: dict, spec: SegmentSpec = SPEC, options: SyncOptions = FAST, **kw):
        """run_sync with this warehouse's paths."""
        return run_sync(spec, destination, serving_db=self.serving, warehouse_db=self.warehouse,
                        outbox_dir=self.outbox, env=env, options=options, **kw)

    def erase(self, env: dict, options: SyncOptions = FAST):
        """run_erasures with this warehouse's paths."""
        return run_erasures(serving_db=self.serving, warehouse_db=self.warehouse, outbox_dir=self.outbox, env=env,
                            options=options)

    def query(self, sql: str, params=None) -> list[tuple]:
        """Run a query on the working warehouse (read-only)."""
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


def segment_emails(rows: list[dict]) -> set[str]:
    """Emails that should be on the list: not holdout, has email, not suppressed by consent."""
    return {r["email"] for r in rows if r["email"] and not r["is_holdout"]
            and r["email_consent"] not in ("unsubscribed", "bounced", "spam_complaint")}
