"""Erasure benchmark: the purge of N newly erased people on a copy of a built C360_HOME.

It copies a home that `c360 run` built (lake, warehouse, serving.duckdb, outbox), picks N people of the
identity graph with a shop account, marks every identifier of theirs erased in the copy's
`intermediate.int_identity_resolved` (what the models do once their requests arrive), and times the purge:
raw partitions rewritten, warehouse and serving rows deleted, the files rewritten whole. It prints seconds and
bytes rewritten, next to the size of the home, so the cost can be set against a day's run.

    python -m benchmarks.bench_erasure --home data [--requests 25] [--rewrite-days 7]

The erasure key is the home's C360_ERASURE_SALT (default c360), read from the environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from orchestration.privacy.keys import DEFAULT_ERASURE_KEY, ERASURE_KEY_ENV, erasure_hash_sql, set_erasure_key
from orchestration.privacy.purge import purge_erased


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def mark_erased(warehouse: Path, requests: int, salt: str) -> int:
    """Mark every identifier of `requests` people (shop accounts, lowest ids first) erased; returns how many
    identifiers that is."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            """
            CREATE TEMP TABLE chosen AS
            SELECT component_label FROM intermediate.int_identity_resolved
            WHERE NOT is_erased AND identifier_type = 'shop_customer_id'
            ORDER BY component_label LIMIT ?
            """,
            [requests],
        )
        # The models' own hashes of the nodes (identity graph: HMAC-SHA256 of the node with the key).
        n = con.execute(
            """
            UPDATE intermediate.int_identity_resolved SET is_erased = true
            WHERE component_label IN (SELECT component_label FROM chosen)
            """
        ).fetchone()[0]
        set_erasure_key(con, salt)
        bad = con.execute(
            "SELECT count(*) FROM intermediate.int_identity_resolved WHERE is_erased AND identifier IS NOT NULL "
            f"AND identifier_hash <> {erasure_hash_sql('identifier')}").fetchone()[0]
        if bad:
            raise SystemExit(f"{bad} hashes were not made with this key: pass the home's --salt (C360_ERASURE_SALT)")
        return n
    finally:
        con.close()


def main() -> None:
    """Copy the home, mark N people erased, time the purge."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="a C360_HOME that `c360 run` built")
    parser.add_argument("--requests", type=int, default=25)
    parser.add_argument("--salt", default=os.environ.get(ERASURE_KEY_ENV, DEFAULT_ERASURE_KEY),
                        help=f"the erasure key (default: ${ERASURE_KEY_ENV}, else {DEFAULT_ERASURE_KEY})")
    parser.add_argument("--rewrite-days", type=int, default=7,
                        help="C360_ERASURE_REWRITE_DAYS: 0 rewrites warehouse.duckdb in this purge (default 7: later)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-erasure-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        for part in ("lake", "warehouse.duckdb", "serving.duckdb", "outbox"):
            src = args.home / part
            if src.is_dir():
                shutil.copytree(src, home / part)
            elif src.is_file():
                shutil.copy2(src, home / part)
        identifiers = mark_erased(home / "warehouse.duckdb", args.requests, args.salt)
        con = duckdb.connect(str(home / "warehouse.duckdb"))
        started = time.perf_counter()
        result = purge_erased(con, warehouse_db=home / "warehouse.duckdb", serving_db=home / "serving.duckdb",
                              lake_root=home / "lake", outbox_dir=home / "outbox", salt=args.salt,
                              close_warehouse=con.close, compact_within_days=args.rewrite_days)
        seconds = time.perf_counter() - started
        sizes = {p: _size(home / p) for p in ("lake", "warehouse.duckdb", "serving.duckdb") if (home / p).exists()}
        print(f"home {args.home}: " + ", ".join(f"{p} {n / 1e6:,.1f} MB" for p, n in sizes.items()))
        print(f"{args.requests} requests, {identifiers} identifiers marked erased")
        print(f"{result.partitions_rewritten} raw partitions ({sum(result.raw_rows.values()):,} records), "
              f"{sum(result.warehouse_rows.values()):,} warehouse rows, {sum(result.serving_rows.values()):,} "
              f"serving rows; files rewritten whole: {', '.join(result.compacted) or 'none'}")
        print()
        print("| phase | seconds |")
        print("|---|---:|")
        for phase, spent in result.phase_seconds.items():
            print(f"| {phase} | {spent:,.1f} |")
        print(f"| **purge** | **{seconds:,.1f}** |")
        print(f"\nbytes rewritten: {result.bytes_rewritten / 1e6:,.1f} MB")

if __name__ == "__main__":
    main()
