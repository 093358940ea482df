"""Which dirt applies to which entity, and the literal bad values injected.

The renderer assigns at most one kind per record from these rates; this module only describes the
kinds. Bad values are chosen so they are certainly rejected: a truncated line is a strict prefix of a
JSON object (never valid), a wrong-typed value never TRY_CASTs to its DuckDB type.
"""

from __future__ import annotations

from orchestration.ingestion.entities import Entity

from .config import RECORD_KINDS, DirtRates

# The field holding a person's email, where one exists (email_case dirt goes there).
EMAIL_FIELDS: dict[str, str] = {
    "shop__customers": "email",
    "shop__orders": "email",
    "pos__transactions": "customer_email",
    "esp__email_events": "email",
    "reviews__reviews": "customer_email",
    "support__tickets": "requester_email",
    "subscriptions__subscriptions": "email",
    "referrals__referrals": "referee_email",
    "privacy__deletion_requests": "email",
}
# Non-castable strings per logical type (all fail TRY_CAST to BIGINT/DECIMAL/TIMESTAMPTZ/BOOLEAN).
WRONG_VALUES: dict[str, str] = {"int": "x1", "money": "abc", "timestamp": "not-a-date", "bool": "maybe"}
TYPED = tuple(WRONG_VALUES)
# Lines that are not JSON at all (proxy error pages, log lines, a CSV header, Python reprs).
GARBAGE_LINES: tuple[str, ...] = (
    "<html><body><h1>502 Bad Gateway</h1></body></html>",
    "ERROR 2026 export worker: connection reset by peer",
    "id,email,created_at,updated_at",
    "{'id': 1, 'email': 'single.quotes@example.com'}",
    "--- export resumed after timeout ---",
)
# Unknown keys that appear when a source adds fields (schema drift): (name, JSON value).
DRIFT_FIELDS: tuple[tuple[str, str], ...] = (
    ("x_export_batch", "4172"),
    ("x_source_version", '"v2.3.1"'),
    ("x_partner_ref", '"prt_8f2a"'),
    ("x_locale", '"en-US"'),
)
# Offsets for the "other offsets" dirt: (minutes east of UTC, suffix).
OFFSETS: tuple[tuple[int, str], ...] = (
    (180, "+03:00"), (-300, "-05:00"), (330, "+05:30"), (-480, "-08:00"), (60, "+01:00"), (-180, "-03:00"),
)
TOO_MANY_COLUMNS_VALUE = "register-2"
# Labels used in the summary: duplicates are split by where the copy lands.
LABELS: tuple[str, ...] = (
    "duplicates_same_file", "duplicates_other_file", "late_arrivals", "email_case", "not_json", "truncated",
    "missing_required", "wrong_type", "too_many_columns", "extra_fields", "offset_timestamps", "far_future",
)


def applicable(kind: str, entity: Entity) -> bool:
    """Whether record-level dirt `kind` can be injected into `entity`."""
    if kind == "email_case":
        return entity.name in EMAIL_FIELDS
    if kind in ("not_json", "extra_fields"):
        return entity.format == "jsonl"
    if kind == "too_many_columns":
        return entity.format == "csv"
    if kind == "wrong_type":
        return any(f.type in TYPED for f in entity.fields)
    if kind == "missing_required":
        return bool(entity.required_fields)
    return True


def thresholds(rates: DirtRates, entity: Entity) -> list[tuple[str, float]]:
    """(kind, upper bound) ranges on [0, 1): a record whose draw falls below a bound gets that kind."""
    out, cum = [], 0.0
    for kind in RECORD_KINDS:
        rate = getattr(rates, kind)
        if rate > 0 and applicable(kind, entity):
            cum += rate
            out.append((kind, cum))
    return out
