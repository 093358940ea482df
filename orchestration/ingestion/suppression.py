"""Suppression at the door: records of people who asked to be erased are dropped as they are loaded.

The purge (orchestration.privacy.purge) keeps a list of keyed hashes of every identifier of every erased
person (`<lake>/privacy/suppression.parquet`). A record arriving later that carries one of them (an old file
delivered again, a new order with the same email, a web event with the same anonymous id) is removed from the
chunk being loaded before anything is written, and counted per file; a line that cannot be parsed and holds an
email of theirs is not quarantined either. The plain values are never needed: each record's identifiers are
hashed the way the models hash identity-graph nodes, HMAC-SHA256 of `<kind>:<value>` with the erasure key
(orchestration.privacy.keys).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from orchestration.privacy.keys import check_key, erasure_hash_sql, set_erasure_key

SUPPRESSION_FILE = "suppression.parquet"

# Per raw entity: the columns holding an identifier, by node kind (shop customer id, email, anonymous id).
# `json:<column>:<key>` reads a field of a JSON column.
RAW_IDENTIFIERS: dict[str, dict[str, tuple[str, ...]]] = {
    "shop__customers": {"shop": ("id",), "email": ("email",)},
    "shop__orders": {"shop": ("customer_id",), "email": ("email",)},
    "pos__transactions": {"shop": ("shop_customer_id",), "email": ("customer_email",)},
    "web__events": {"shop": ("userId",), "anon": ("anonymousId",), "email": ("json:traits:email",)},
    "esp__email_events": {"email": ("email",)},
    "reviews__reviews": {"shop": ("customer_id",), "email": ("customer_email",)},
    "support__tickets": {"email": ("requester_email",)},
    "loyalty__ledger": {"shop": ("customer_id",)},
    "loyalty__tier_changes": {"shop": ("customer_id",)},
    "subscriptions__subscriptions": {"shop": ("customer_id",), "email": ("email",)},
    "referrals__referrals": {"shop": ("referrer_customer_id",), "email": ("referee_email",)},
}
# An email inside free text (a quarantined line), for hashing.
_EMAIL_IN_TEXT = r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def identifier_predicate(entity_name: str, match: Callable[[str, str], str]) -> str | None:
    """SQL true for a record of the entity holding an identifier `match(value_sql, kind)` accepts; emails
    normalised as the models do (lower, trimmed). None: the entity holds no identifier."""
    spec = RAW_IDENTIFIERS.get(entity_name)
    if not spec:
        return None
    parts = []
    for kind, columns in spec.items():
        for column in columns:
            if column.startswith("json:"):
                _, json_col, key = column.split(":")
                expr = f"json_extract_string({_q(json_col)}, '$.{key}')"
            else:
                expr = f"CAST({_q(column)} AS VARCHAR)"
            if kind == "email":
                expr = f"nullif(lower(trim({expr})), '')"
            parts.append(f"coalesce({match(expr, kind)}, false)")
    return " OR ".join(parts)


def hashed_match(expr: str, kind: str) -> str:
    """The value's node hash is in the temp table `suppressed_hashes` (the key set on the connection)."""
    node = f"'{kind}:' || {expr}"
    return f"{erasure_hash_sql(node)} IN (SELECT identifier_hash FROM suppressed_hashes)"


@dataclass(frozen=True)
class Suppressor:
    """Drops the records of erased people from a chunk being loaded (see the module docstring)."""

    suppression_file: Path
    salt: str

    def __call__(self, con: duckdb.DuckDBPyConnection, entity_name: str, table: str = "parsed") -> dict[str, int]:
        """Delete the erased people's records (and quarantined lines with their email) from `table`, a chunk
        with columns `_file`, `_reason`, `_blank`, `raw_text` and the entity's fields; per file, how many."""
        if not self.suppression_file.is_file() or entity_name not in RAW_IDENTIFIERS:
            return {}
        # With another key than the list's, no record would match: stop instead of loading them.
        check_key(self.suppression_file.parent.parent, self.salt, f"ingestion of {entity_name}")
        set_erasure_key(con, self.salt)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE suppressed_hashes AS SELECT DISTINCT identifier_hash FROM read_parquet(?)",
            [str(self.suppression_file)],
        )
        try:
            if not con.execute("SELECT count(*) FROM suppressed_hashes").fetchone()[0]:
                return {}
            record = identifier_predicate(entity_name, hashed_match)
            text = (f"EXISTS (SELECT 1 FROM (SELECT unnest(regexp_extract_all(raw_text, '{_EMAIL_IN_TEXT}')) AS e) "
                    f"WHERE {hashed_match('lower(e)', 'email')})")
            where = f"(_reason IS NULL AND NOT _blank AND ({record})) OR (_reason IS NOT NULL AND {text})"
            counts = dict(con.execute(
                f"SELECT _file, count(*) FROM {table} WHERE {where} GROUP BY _file"
            ).fetchall())
            if counts:
                con.execute(f"DELETE FROM {table} WHERE {where}")
            return counts
        finally:
            con.execute("DROP TABLE IF EXISTS suppressed_hashes")


def suppression_file(lake_root: Path) -> Path:
    """Where the purge keeps the suppression list."""
    return lake_root / "privacy" / SUPPRESSION_FILE
