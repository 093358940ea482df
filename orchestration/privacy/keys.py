"""The erasure key: keyed hashes of erased people's identifiers, and the key's fingerprint.

What is kept of an erased person is a keyed hash of each identity-graph node of theirs (`email:<email>`,
`shop:<id>`, `anon:<id>`): HMAC-SHA256 with the secret key `C360_ERASURE_SALT`, as lower-case hex. Every stage
computes it in SQL without the key in the SQL text: the two HMAC pads derived from the key are set on each
DuckDB connection as session variables (`set_erasure_key`, and dbt's plugin orchestration.transform.erasure_key),
and `erasure_hash_sql` reads them with `getvariable`. So the key is in no compiled SQL, manifest or log.

The hashes (the models' `int_erased_identifiers`, the purge's suppression list, the activation's erasure log)
are only useful if every stage hashes with the same key: with another one nothing matches, nobody is
suppressed and nothing says so. So the first purge stores a fingerprint of the key (HMAC-SHA256 of a fixed
label, never the key) next to the suppression list, and each later stage compares its own key's fingerprint
with it; a difference stops the stage with `ErasureKeyMismatch`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

FINGERPRINT_FILE = "key_fingerprint.json"
# The hash scheme, recorded beside the fingerprint: a home whose hashes were made otherwise (md5 of the salt
# and the node, before HMAC) has none, and is told so instead of matching nobody.
SCHEME = "hmac-sha256"
_LABEL = b"c360 erasure key fingerprint v2 hmac-sha256"

ERASURE_KEY_ENV = "C360_ERASURE_SALT"
DEFAULT_ERASURE_KEY = "c360"
# DuckDB session variables holding the HMAC pads (BLOBs of 64 bytes): as secret as the key itself.
IPAD_VARIABLE = "c360_erasure_ipad"
OPAD_VARIABLE = "c360_erasure_opad"
_BLOCK = 64  # SHA-256's block size (RFC 2104's B)
_MISSING = (f"the erasure key is not set on this DuckDB connection (variables {IPAD_VARIABLE}, {OPAD_VARIABLE}): "
            f"Python stages call orchestration.privacy.keys.set_erasure_key with {ERASURE_KEY_ENV}; dbt needs the "
            "plugin orchestration.transform.erasure_key in profiles.yml")


class ErasureKeyMismatch(RuntimeError):
    """Two stages hash identifiers with different erasure keys."""


def erasure_pads(key: str) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer pads of the key (RFC 2104): the key's UTF-8 bytes, hashed first when
    longer than a block, zero-padded to 64 bytes, XOR 0x36 and XOR 0x5c."""
    raw = key.encode()
    if len(raw) > _BLOCK:
        raw = hashlib.sha256(raw).digest()
    raw = raw.ljust(_BLOCK, b"\0")
    return bytes(b ^ 0x36 for b in raw), bytes(b ^ 0x5C for b in raw)


def set_erasure_key(con, key: str) -> None:
    """Set the key's pads on a DuckDB connection (or cursor: variables are per connection), as bound
    parameters, so that `erasure_hash_sql` works there and no SQL text holds them."""
    ipad, opad = erasure_pads(key)
    con.execute(f"SET VARIABLE {IPAD_VARIABLE} = ?", [ipad])
    con.execute(f"SET VARIABLE {OPAD_VARIABLE} = ?", [opad])


def _pad(variable: str) -> str:
    # An unset variable would hash every value to NULL and match nobody, silently: fail instead. The cast
    # matters: unset, getvariable is of type NULL, and DuckDB folds `NULL || x` to NULL before error() runs.
    return f"coalesce(CAST(getvariable('{variable}') AS BLOB), error('{_MISSING}'))"


def erasure_hash_sql(expr: str) -> str:
    """DuckDB SQL of HMAC-SHA256(key, `expr`) as lower-case hex, `expr` a VARCHAR (NULL gives NULL); the key
    comes from the connection's variables (set_erasure_key). The same expression as dbt's erasure_hash macro."""
    inner = f"unhex(sha256({_pad(IPAD_VARIABLE)} || encode({expr})))"
    return f"sha256({_pad(OPAD_VARIABLE)} || {inner})"


def erasure_hash(key: str, node: str) -> str:
    """HMAC-SHA256(key, node) in Python: what erasure_hash_sql computes in SQL."""
    return hmac.new(key.encode(), node.encode(), hashlib.sha256).hexdigest()


def fingerprint(key: str) -> str:
    """A short, one-way fingerprint of the key: identifies it, reveals nothing of it."""
    return hmac.new(key.encode(), _LABEL, hashlib.sha256).hexdigest()[:16]


def fingerprint_path(lake_root: Path) -> Path:
    """Where the fingerprint is kept: beside the suppression list."""
    return lake_root / "privacy" / FINGERPRINT_FILE


def check_key(lake_root: Path, key: str, stage: str, *, record: bool = False) -> str:
    """Compare the key's fingerprint with the stored one (stored first when `record` and none is); raises
    ErasureKeyMismatch on a difference, or when the stored hashes were made with another hash scheme.
    Returns the fingerprint."""
    mine = fingerprint(key)
    path = fingerprint_path(lake_root)
    if path.is_file():
        stored = json.loads(path.read_text())
        if stored.get("scheme") != SCHEME:
            raise ErasureKeyMismatch(
                f"{stage}: the hashes kept of erased people ({path.parent}) were made with an older hash scheme "
                f"(md5 of {ERASURE_KEY_ENV} and the identifier); this version hashes with HMAC-SHA256, so none "
                f"of them would match. Move {path.parent} aside (keep it: it lists who was erased) and run again: "
                "the next purge hashes again every identifier linked to the deletion requests, which are kept. "
                "Nothing was suppressed or purged."
            )
        if stored["fingerprint"] != mine:
            raise ErasureKeyMismatch(
                f"{stage}: the erasure key ({ERASURE_KEY_ENV}) has fingerprint {mine}, but the hashes kept of erased "
                f"people were made with the key of fingerprint {stored['fingerprint']} ({path}). Set the same key "
                "for every stage and for dbt; nothing was suppressed or purged with the wrong one."
            )
    elif record:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"fingerprint": mine, "scheme": SCHEME,
                                   "recorded_at": datetime.now(UTC).isoformat()}))
        os.replace(tmp, path)
    return mine
