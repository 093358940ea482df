"""Planning: one SQL join of the published segment against the sync state.

Each member ends up in exactly one bucket: insert (not on the list yet), update (on the list, mapped
fields changed), remove (mirror mode: left the segment or became suppressed, and this sync added it),
unchanged, suppressed, skipped_rejected (this version was refused with a 4xx) or skipped_no_email.
A failed retryable attempt leaves the state untouched, so the next plan contains it again by itself.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import duckdb

from orchestration.privacy.keys import erasure_hash_sql, set_erasure_key

from .destinations.base import Row, suppressing_reasons
from .spec import SegmentSpec

OPS = ("insert", "update", "remove")
BUCKETS = ("insert", "update", "remove", "unchanged", "suppressed", "skipped_rejected", "skipped_no_email",
           "skipped_no_key")


class SegmentKeyError(ValueError):
    """The segment's identifier is not unique: nothing may be sent."""


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass
class Plan:
    """Counts per bucket, audience sizes and the rows to send."""

    counts: dict[str, int]
    audience: int  # members eligible for this destination now
    previous_audience: int  # members on the list through this sync before the run
    rows: dict[str, list[Row]] = field(default_factory=dict)
    samples: dict[str, list[dict]] = field(default_factory=dict)

    @property
    def changes(self) -> int:
        """Planned operations (insert + update + remove)."""
        return sum(self.counts.get(op, 0) for op in OPS)


def check_keys(con: duckdb.DuckDBPyConnection, spec: SegmentSpec) -> int:
    """Fail when the identifier is duplicated; return how many rows have no identifier (not synced)."""
    table = f"serving.{_ident(spec.schema)}.{_ident(spec.model)}"
    key = _ident(spec.identifier)
    dups = con.execute(
        f"SELECT {key}, count(*) FROM {table} WHERE is_holdout IS FALSE AND {key} IS NOT NULL "
        f"GROUP BY 1 HAVING count(*) > 1 ORDER BY 2 DESC LIMIT 3"
    ).fetchall()
    if dups:
        total = con.execute(
            f"SELECT count(*) FROM (SELECT {key} FROM {table} WHERE {key} IS NOT NULL GROUP BY 1 HAVING count(*) > 1)"
        ).fetchone()[0]
        raise SegmentKeyError(f"{spec.model}: identifier {spec.identifier!r} is not unique ({total} duplicated values)")
    return con.execute(f"SELECT count(*) FROM {table} WHERE is_holdout IS FALSE AND {key} IS NULL").fetchone()[0]


def build_plan(
    con: duckdb.DuckDBPyConnection,
    spec: SegmentSpec,
    destination: str,
    *,
    erasure_key: str,
    erased_table: bool,
    requires_email: bool,
    load_rows: bool = True,
    sample_size: int = 5,
    null_keys: int = 0,
    consent_table: bool = False,
) -> Plan:
    """Plan one sync with a single SQL statement into the temp table `plan`, then read counts and rows.

    With `consent_table`, each row carries its opt-in time from `serving.marts.customer_360` (when it
    says subscribed, at `email_consent_updated_at`): the evidence a destination needs to create a
    member as subscribed. Erased people (`serving.marts.erased_identifiers` when `erased_table`, and
    `activation.erasure_log`) are matched by the keyed hash of their email (`erasure_key`, set on `con`).
    """
    set_erasure_key(con, erasure_key)
    sync_id = spec.sync_id(destination)
    table = f"serving.{_ident(spec.schema)}.{_ident(spec.model)}"
    key = _ident(spec.identifier)
    pairs = ", ".join(f"{_lit(prop)}, {_ident(col)}" for prop, col in spec.fields.items())
    fields_json = f"CAST(json_object({pairs}) AS VARCHAR)" if pairs else "'{}'"
    consent_list = ", ".join(_lit(c) for c in suppressing_reasons(spec.purpose))
    erased = (
        "SELECT identifier_hash FROM serving.marts.erased_identifiers UNION ALL "
        if erased_table
        else ""
    ) + "SELECT identifier_hash FROM activation.erasure_log"
    no_email = "seg_h.email IS NULL" if requires_email else "false"
    mirror = "true" if spec.mode == "mirror" else "false"
    opt_ins = (
        "SELECT CAST(customer_key AS VARCHAR) AS customer_key, max(email_consent_updated_at) AS opted_in_at "
        "FROM serving.marts.customer_360 WHERE email_consent = 'subscribed' AND email_consent_updated_at IS NOT NULL "
        "GROUP BY 1"
        if consent_table
        else "SELECT NULL::VARCHAR AS customer_key, NULL::TIMESTAMP AS opted_in_at WHERE false"
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE plan AS
        WITH seg AS (
            SELECT CAST({key} AS VARCHAR) AS member_key, CAST(customer_key AS VARCHAR) AS customer_key,
                   lower(email) AS email, email_consent, {fields_json} AS fields_json
            FROM {table}
            WHERE is_holdout IS FALSE AND {key} IS NOT NULL
        ),
        seg_h AS (
            SELECT *, md5(coalesce(email, '') || '|' || fields_json) AS row_hash FROM seg
        ),
        opt_in AS ({opt_ins}),
        supp AS (SELECT DISTINCT lower(email) AS email FROM activation.suppressions
                 WHERE reason IN ({consent_list})),
        erased AS (SELECT DISTINCT identifier_hash FROM ({erased})),
        st AS (SELECT * FROM activation.sync_state WHERE sync_id = {_lit(sync_id)}),
        joined AS (
            SELECT seg_h.*, opt_in.opted_in_at,
                   st.member_key AS st_key, st.synced_hash, st.in_list, st.added_by_sync, st.dest_id,
                   st.rejected_hash, st.email AS st_email, st.customer_key AS st_customer_key,
                   seg_h.member_key IS NOT NULL AND (
                       seg_h.email_consent IN ({consent_list})
                       OR seg_h.email IN (SELECT email FROM supp)
                       OR {erasure_hash_sql("'email:' || seg_h.email")} IN (SELECT identifier_hash FROM erased)
                   ) AS suppressed,
                   {no_email} AS no_email,
                   seg_h.member_key IS NOT NULL AS in_segment
            FROM seg_h FULL OUTER JOIN st ON st.member_key = seg_h.member_key
            LEFT JOIN opt_in ON opt_in.customer_key = seg_h.customer_key
        )
        SELECT coalesce(member_key, st_key) AS member_key,
               coalesce(customer_key, st_customer_key) AS customer_key,
               coalesce(email, st_email) AS email,
               email_consent, opted_in_at, fields_json, row_hash, synced_hash,
               coalesce(in_list, false) AS in_list, coalesce(added_by_sync, false) AS added_by_sync, dest_id,
               CASE
                   WHEN in_segment AND NOT suppressed AND NOT no_email THEN
                       CASE WHEN rejected_hash IS NOT DISTINCT FROM row_hash THEN 'skipped_rejected'
                            WHEN NOT coalesce(in_list, false) THEN 'insert'
                            WHEN synced_hash IS DISTINCT FROM row_hash THEN 'update'
                            ELSE 'unchanged' END
                   WHEN coalesce(in_list, false) AND added_by_sync AND {mirror} THEN 'remove'
                   WHEN in_segment AND suppressed THEN 'suppressed'
                   WHEN in_segment THEN 'skipped_no_email'
                   ELSE 'gone'
               END AS op
        FROM joined
        """
    )
    counts = dict.fromkeys(BUCKETS, 0)
    counts.update(dict(con.execute("SELECT op, count(*) FROM plan GROUP BY op").fetchall()))
    counts.pop("gone", None)
    counts["skipped_no_key"] = null_keys  # rows without an identifier can be addressed nowhere
    audience = counts["insert"] + counts["update"] + counts["unchanged"] + counts["skipped_rejected"]
    previous = con.execute(
        "SELECT count(*) FROM activation.sync_state WHERE sync_id = ? AND in_list", [sync_id]
    ).fetchone()[0]
    plan = Plan(counts=counts, audience=audience, previous_audience=previous)
    for op in OPS:
        if load_rows and counts[op]:
            plan.rows[op] = _rows(con, op)
        plan.samples[op] = [
            {"member_key": r[0], "email": r[1], "fields": json.loads(r[2]) if r[2] else None}
            for r in con.execute(
                "SELECT member_key, email, fields_json FROM plan WHERE op = ? ORDER BY member_key LIMIT ?",
                [op, sample_size],
            ).fetchall()
        ]
    return plan


def _rows(con: duckdb.DuckDBPyConnection, op: str) -> list[Row]:
    cur = con.execute(
        "SELECT member_key, customer_key, email, fields_json, row_hash, email_consent, synced_hash, in_list, "
        "added_by_sync, dest_id, opted_in_at FROM plan WHERE op = ? ORDER BY member_key",
        [op],
    )
    rows: list[Row] = []
    while batch := cur.fetchmany(50_000):
        for r in batch:
            rows.append(
                Row(
                    member_key=r[0], customer_key=r[1], email=r[2], fields=json.loads(r[3]) if r[3] else {},
                    row_hash=r[4], op=op, email_consent=r[5], synced_hash=r[6], in_list=r[7],
                    added_by_sync=r[8], dest_id=r[9], opted_in_at=r[10],
                )
            )
    return rows


def mask_email(value: str | None) -> str | None:
    """`j***@example.com`: enough to recognise a sample, not to harvest addresses."""
    if not value or "@" not in value:
        return value
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def mask_fields(fields: dict | None) -> dict | None:
    """A sample's fields with every text masked (`E***`, `j***@example.com`): the summary goes into Dagster's
    metadata and logs, which keep no personal data. Numbers, flags and dates stay (they identify nobody)."""
    if not fields:
        return fields
    masked = {}
    for name, value in fields.items():
        if isinstance(value, str) and not _NOT_PERSONAL.fullmatch(value):
            value = mask_email(value) if "@" in value else f"{value[:1]}***"
        masked[name] = value
    return masked


# Texts a sample may show as they are: dates, timestamps and numbers written as text.
_NOT_PERSONAL = re.compile(r"[0-9:.+\-TZ ]*")


def summarize(plan: Plan, spec: SegmentSpec, destination: str, *, blocked: str | None = None) -> str:
    """Human-readable plan: counts per bucket and a sample of each operation."""
    lines = [
        f"plan {spec.model} -> {destination} (mode {spec.mode}): audience {plan.audience}, "
        f"on the list before {plan.previous_audience}",
        "  " + ", ".join(f"{b} {plan.counts.get(b, 0)}" for b in BUCKETS),
    ]
    for op in OPS:
        for sample in plan.samples.get(op, []):
            key = mask_email(sample["member_key"])
            fields = mask_fields(sample["fields"])
            lines.append(f"  {op:<6} {key} {mask_email(sample['email'])} {json.dumps(fields, default=str)}")
    if blocked:
        lines.append(f"  circuit breaker: {blocked}")
    return "\n".join(lines)


def breaker_reason(plan: Plan, max_change_share: float, *, established: bool = True,
                   min_change_rows: int = 0) -> str | None:
    """Why the circuit breaker blocks this plan, or None.

    Blocks when the segment emptied while members are on the list, or when the planned change is
    more than `max_change_share` of the audience already on the list. The share rule protects an
    established audience only: until a run has completed (`established`), e.g. a first sync or its
    restart after a crash, it does not apply. Neither rule applies to changes of fewer than
    `min_change_rows` rows: a segment of three people losing two is no incident.
    """
    if plan.changes < min_change_rows and plan.previous_audience < min_change_rows:
        return None
    if plan.previous_audience > 0 and plan.audience == 0:
        return f"the segment emptied ({plan.previous_audience} members on the list)"
    if plan.previous_audience > 0 and established and plan.changes >= min_change_rows:
        share = plan.changes / plan.previous_audience
        if share > max_change_share:
            return (
                f"planned change {plan.changes} is {share:.0%} of the {plan.previous_audience} members on the list "
                f"(limit {max_change_share:.0%})"
            )
    return None
