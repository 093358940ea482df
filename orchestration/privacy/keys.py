"""The erasure key's fingerprint: every stage that hashes identifiers must use the same key.

The hashes kept of erased people (the models' `int_erased_identifiers`, the purge's suppression list, the
activation's erasure log) are only useful if every stage hashes with the same key: with another one nothing
matches, nobody is suppressed and nothing says so. So the first purge stores a fingerprint of the key
(HMAC-SHA256 of a fixed label, never the key) next to the suppression list, and each later stage compares its
own key's fingerprint with it; a difference stops the stage with `ErasureKeyMismatch`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path

FINGERPRINT_FILE = "key_fingerprint.json"
_LABEL = b"c360 erasure key fingerprint v1"


class ErasureKeyMismatch(RuntimeError):
    """Two stages hash identifiers with different erasure keys."""


def fingerprint(key: str) -> str:
    """A short, one-way fingerprint of the key: identifies it, reveals nothing of it."""
    return hmac.new(key.encode(), _LABEL, hashlib.sha256).hexdigest()[:16]


def fingerprint_path(lake_root: Path) -> Path:
    """Where the fingerprint is kept: beside the suppression list."""
    return lake_root / "privacy" / FINGERPRINT_FILE


def check_key(lake_root: Path, key: str, stage: str, *, record: bool = False) -> str:
    """Compare the key's fingerprint with the stored one (stored first when `record` and none is); raises
    ErasureKeyMismatch on a difference. Returns the fingerprint."""
    mine = fingerprint(key)
    path = fingerprint_path(lake_root)
    if path.is_file():
        stored = json.loads(path.read_text())["fingerprint"]
        if stored != mine:
            raise ErasureKeyMismatch(
                f"{stage}: the erasure key (C360_ERASURE_SALT) has fingerprint {mine}, but the hashes kept of erased "
                f"people were made with the key of fingerprint {stored} ({path}). Set the same key for every "
                "stage and for dbt; nothing was suppressed or purged with the wrong one."
            )
    elif record:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps({"fingerprint": mine, "recorded_at": datetime.now(UTC).isoformat()}))
        os.replace(tmp, path)
    return mine
