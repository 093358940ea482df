"""DuckDB plumbing: the connection, seeded pseudo-random macros and weighted pickers.

Randomness is `hash(hash(seed, salt, key...))` mapped to [0, 1): a pure function of its inputs, so any
query can draw "random" numbers set-wise and the same seed always gives the same data, whatever
the thread count or evaluation order. The outer hash matters: DuckDB combines multi-argument hashes
cheaply, so without it draws with different salts for the same key come out strongly correlated.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import duckdb

SLOTS = 1000  # resolution of the weighted pickers


def default_memory_limit() -> str:
    """`C360_GENERATOR_MEMORY` (e.g. "4GB") if set, else half the machine's RAM, within 2-16 GB."""
    if os.environ.get("C360_GENERATOR_MEMORY"):
        return os.environ["C360_GENERATOR_MEMORY"]
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        total = 8 << 30
    return f"{max(2, min(16, total // 2 >> 30))}GB"


def connect(seed: int, temp_dir: Path, memory_limit: str | None = None, threads: int | None = None):
    """An in-memory DuckDB with bounded memory, spilling to `temp_dir`, and the generator macros."""
    con = duckdb.connect(config={"memory_limit": memory_limit or default_memory_limit(),
                                 "temp_directory": str(temp_dir)})
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # Ordered results must not depend on threads; we always ORDER BY explicitly anyway.
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    _macros(con, int(seed))
    return con


def _macros(con: duckdb.DuckDBPyConnection, seed: int) -> None:
    s = f"{seed}::BIGINT"
    con.execute(f"""
        CREATE OR REPLACE MACRO rnd(k, x) AS hash(hash({s}, k::INTEGER, x::BIGINT)) / 18446744073709551616.0;
        CREATE OR REPLACE MACRO rnd3(k, x, y) AS
            hash(hash(hash({s}, k::INTEGER, x::BIGINT), y::BIGINT)) / 18446744073709551616.0;
        CREATE OR REPLACE MACRO hx(k, x) AS printf('%016x', hash(hash({s}, k::INTEGER, x::BIGINT)));
        CREATE OR REPLACE MACRO addsec(t, s) AS t + to_seconds(floor(s)::BIGINT);
        CREATE OR REPLACE MACRO expo(u, mean) AS -ln(1 - u) * mean;
        CREATE OR REPLACE MACRO gauss(u1, u2) AS sqrt(-2 * ln(greatest(u1, 1e-12))) * cos(2 * pi() * u2);
        CREATE OR REPLACE MACRO ts_z(t) AS strftime(t, '%Y-%m-%dT%H:%M:%SZ');
        CREATE OR REPLACE MACRO money(x) AS x::DECIMAL(18, 2)::VARCHAR;
    """)


def quantize(weights: Sequence[float], slots: int = SLOTS) -> list[int]:
    """Map `slots` equal slices of [0, 1) to indices in proportion to `weights` (a lookup table)."""
    total = float(sum(weights))
    out: list[int] = []
    cum = 0.0
    for i, w in enumerate(weights):
        cum += w / total
        out.extend([i] * (round(cum * slots) - len(out)))
    out.extend([len(weights) - 1] * (slots - len(out)))
    return out[:slots]


def picker(con: duckdb.DuckDBPyConnection, name: str, weights: Sequence[float]) -> None:
    """Create macro `name(u)`: a 0-based index drawn with the given weights for u in [0, 1)."""
    table = ",".join(str(i) for i in quantize(weights))
    con.execute(f"CREATE OR REPLACE MACRO {name}(u) AS [{table}][floor(u * {SLOTS})::INTEGER + 1]")


def sql_list(values: Sequence[object]) -> str:
    """A SQL list literal of strings/numbers (trusted static data)."""

    def lit(v: object) -> str:
        """One SQL literal."""
        if v is None:
            return "NULL"
        if isinstance(v, str):
            return "'" + v.replace("'", "''") + "'"
        return repr(v)

    return "[" + ", ".join(lit(v) for v in values) + "]"
