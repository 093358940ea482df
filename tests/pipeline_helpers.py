"""Running the `c360` command as a user would, and reading people back from the warehouse it built."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

C360 = [sys.executable, "-m", "orchestration.cli"]
# The export dates of the shop-only landing zone of conftest's `shop_only_run`.
SHOP_ONLY_DAYS = (date(2026, 10, 30), date(2026, 10, 31))
# The erasure key (C360_ERASURE_SALT) of every `c360` command the tests run: distinctive, so a test can look
# for it in every file a run leaves (it must be in none), longer than an HMAC block (64 bytes, hashed first)
# and not ASCII, the least common case of the key.
ERASURE_KEY = " ".join(("c360 test-suite erasure key", "never written anywhere", "schlüssel")) + " " + "ß" * 8


def c360(args: list[str], home: Path, **env) -> subprocess.CompletedProcess:
    """Run `c360 <args>` in a subprocess with its own C360_HOME (and nothing of the caller's C360/Dagster env);
    the erasure key is ERASURE_KEY unless `env` sets another."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DAGSTER_", "DUCKDB_"))}
    environment.update({"C360_HOME": str(home), "C360_ERASURE_SALT": ERASURE_KEY, **env})
    return subprocess.run([*C360, *args], env=environment, capture_output=True, text=True, timeout=900)


def person(con, shop_id: int) -> dict:
    """The customer_360 row of a shop customer, as a dict."""
    cursor = con.execute("SELECT * FROM marts.customer_360 WHERE shop_customer_id = ?", [shop_id])
    row = cursor.fetchone()
    assert row is not None, f"customer {shop_id} missing from customer_360"
    return dict(zip([d[0] for d in cursor.description], row, strict=True))
