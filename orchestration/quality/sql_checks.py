"""Set-based checks in DuckDB SQL, where a per-row expectation cannot say it: referential integrity,
per-customer revenue reconciliation, run-to-run volume of raw partitions, and null-share drift.

What dbt tests already guard is not repeated: dbt compares customer_360's *total* revenue with the
intermediate order table and fct_orders' customers with the lifecycle table. These checks compare the two
published marts with each other, customer by customer (errors that cancel out in a total still show), and
count failing keys into audit.check_results.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb

from orchestration.quality.config import NullDriftConfig, VolumeConfig
from orchestration.quality.results import CheckRecord, to_jsonable

REVENUE_ORDERS = "is_revenue_order AND customer_key IS NOT NULL"


def relation_exists(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    """Whether `schema.name` is a table or view of the warehouse."""
    schema, name = relation.split(".", 1)
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = ? AND table_name = ?", [schema, name]
    ).fetchone()[0])


def orphan_keys(
    con: duckdb.DuckDBPyConnection,
    *,
    asset: str,
    name: str,
    child: str,
    child_key: str,
    parent: str,
    parent_key: str,
    severity: str,
    limit: int,
    report_columns: Sequence[str] = (),
) -> CheckRecord:
    """Referential integrity: every non-null `child.child_key` exists in `parent.parent_key`."""
    cols = ", ".join(dict.fromkeys([child_key, *report_columns]))
    base = (
        f"FROM {child} AS c WHERE c.{child_key} IS NOT NULL AND NOT EXISTS "
        f"(SELECT 1 FROM {parent} AS p WHERE p.{parent_key} = c.{child_key})"
    )
    total, orphans = con.execute(
        f"SELECT (SELECT count(*) FROM {child} WHERE {child_key} IS NOT NULL), (SELECT count(*) {base})"
    ).fetchone()
    keys = []
    if orphans:
        cursor = con.execute(f"SELECT {cols} {base} ORDER BY {child_key} LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        keys = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    return CheckRecord(
        asset, "sql", name, "sql", severity, "failed" if orphans else "passed",
        observed_value={"orphans": orphans, "checked": total}, element_count=total, unexpected_count=orphans,
        unexpected_keys=to_jsonable(keys),
        details={"rule": f"every {child}.{child_key} exists in {parent}.{parent_key}"},
    )


def revenue_reconciliation(
    con: duckdb.DuckDBPyConnection, *, asset: str, severity: str, limit: int,
    customers: str = "marts.customer_360", orders: str = "marts.fct_orders",
) -> CheckRecord:
    """Each person's lifetime net revenue and order count in customer_360 equal the sum of their counted
    orders in fct_orders (revenue orders with a customer_key: the rule of the dbt reconciliation test)."""
    # customer_360 is summed per key too: a person duplicated in the mart shows as a mismatch
    compare = f"""
        WITH c AS (
            SELECT customer_key, sum(lifetime_net_revenue) AS net_revenue, sum(orders_count) AS orders
            FROM {customers} GROUP BY customer_key
        ),
        o AS (
            SELECT customer_key, sum(net_revenue) AS net_revenue, count(*) AS orders
            FROM {orders} WHERE {REVENUE_ORDERS} GROUP BY customer_key
        )
        SELECT coalesce(c.customer_key, o.customer_key) AS customer_key,
               coalesce(c.net_revenue, 0) AS customer_net_revenue, coalesce(o.net_revenue, 0) AS order_net_revenue,
               coalesce(c.orders, 0) AS customer_orders, coalesce(o.orders, 0) AS order_count
        FROM c FULL OUTER JOIN o ON o.customer_key = c.customer_key
        WHERE coalesce(c.net_revenue, 0) <> coalesce(o.net_revenue, 0)
           OR coalesce(c.orders, 0) <> coalesce(o.orders, 0)"""
    totals = con.execute(f"""
        SELECT (SELECT sum(lifetime_net_revenue) FROM {customers}), (SELECT sum(orders_count) FROM {customers}),
               (SELECT sum(net_revenue) FROM {orders} WHERE {REVENUE_ORDERS}),
               (SELECT count(*) FROM {orders} WHERE {REVENUE_ORDERS}),
               (SELECT count(*) FROM {customers})
    """).fetchone()
    mismatched = con.execute(f"SELECT count(*) FROM ({compare})").fetchone()[0]
    keys = []
    if mismatched:
        cursor = con.execute(f"{compare} ORDER BY customer_key LIMIT {int(limit)}")
        names = [d[0] for d in cursor.description]
        keys = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    observed = {
        "customer_net_revenue": totals[0], "customer_orders": totals[1],
        "order_net_revenue": totals[2], "order_count": totals[3], "customers_mismatched": mismatched,
    }
    return CheckRecord(
        asset, "sql", "revenue_reconciles_with_fct_orders_per_customer", "sql", severity,
        "failed" if mismatched else "passed", observed_value=to_jsonable(observed), element_count=totals[4],
        unexpected_count=mismatched, unexpected_keys=to_jsonable(keys),
        details={"rule": f"per customer: {customers}.lifetime_net_revenue and orders_count = sum(net_revenue) and "
                         f"count(*) of {orders} where {REVENUE_ORDERS}"},
    )


def partition_row_counts(con: duckdb.DuckDBPyConnection, entity_root: Path, first: date, last: date,
                         data_file: str) -> dict[date, int]:
    """Rows per export date between two dates, from the Parquet footers (no data is read)."""
    files = []
    day = first
    while day <= last:
        path = entity_root / f"dt={day.isoformat()}" / data_file
        if path.exists():
            files.append((day, str(path)))
        day += timedelta(days=1)
    if not files:
        return {}
    rows = con.execute(
        "SELECT file_name, sum(num_rows) FROM parquet_file_metadata(?) GROUP BY file_name",
        [[p for _, p in files]],
    ).fetchall()
    by_path = {str(Path(f)): int(n) for f, n in rows}
    return {d: by_path.get(str(Path(p)), 0) for d, p in files}


def volume_drop(
    con: duckdb.DuckDBPyConnection,
    *,
    asset: str,
    entity_root: Path,
    days: Sequence[date],
    config: VolumeConfig,
    data_file: str,
    limit: int,
) -> CheckRecord:
    """A day's raw rows against the median of the `baseline_days` days before it.

    Days without a partition count as zero rows (an export that did not arrive is a drop too), but only
    from the entity's first loaded day on. A day is judged only with `min_baseline_days` of history before
    it (a first export often carries the backlog) and while its baseline reaches `min_baseline_rows`, so
    small or sparse sources do not raise false alarms.
    """
    name = "row_count_not_dropping_against_previous_days"
    rule = (f"rows of a day >= (1 - {config.max_drop_share}) x median of the previous {config.baseline_days} days, "
            f"judged after {config.min_baseline_days} days of history and when that median >= "
            f"{config.min_baseline_rows}")
    if not days:
        return CheckRecord(asset, "sql", name, "sql", config.severity, "skipped",
                           details={"rule": rule, "reason": "no partition in the run"})
    first, last = min(days), max(days)
    counts = partition_row_counts(con, entity_root, first - timedelta(days=config.baseline_days), last, data_file)
    loaded = sorted(d.name.removeprefix("dt=") for d in entity_root.glob("dt=*") if (d / data_file).exists())
    first_loaded = date.fromisoformat(loaded[0]) if loaded else None
    judged, drops = 0, []
    for day in sorted(set(days)):
        if first_loaded is None or (day - first_loaded).days < config.min_baseline_days:
            continue
        window = [day - timedelta(days=i) for i in range(1, config.baseline_days + 1)]
        window = [d for d in window if d >= first_loaded]
        baseline = statistics.median(counts.get(d, 0) for d in window)
        if baseline < config.min_baseline_rows:
            continue
        judged += 1
        rows = counts.get(day, 0)
        if rows < (1 - config.max_drop_share) * baseline:
            drops.append({"dt": day.isoformat(), "rows": rows, "baseline": baseline,
                          "drop_share": round(1 - rows / baseline, 4)})
    status = "failed" if drops else ("passed" if judged else "skipped")
    return CheckRecord(
        asset, "sql", name, "sql", config.severity, status,
        observed_value={"days_in_run": len(set(days)), "days_judged": judged, "days_dropped": len(drops),
                        "rows_in_run": sum(counts.get(d, 0) for d in set(days))},
        element_count=judged, unexpected_count=len(drops), unexpected_keys=drops[:limit],
        details={"rule": rule, **({} if judged else {"reason": "no day with a baseline above min_baseline_rows"})},
    )


def null_profile(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> tuple[int, dict[str, int]]:
    """Row count and null count per column (one scan)."""
    present = {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}
    cols = [c for c in columns if c in present]
    if not cols:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0], {}
    row = con.execute(
        f"SELECT count(*), {', '.join(f'count(*) - count({c})' for c in cols)} FROM {table}"
    ).fetchone()
    return int(row[0]), {c: int(n) for c, n in zip(cols, row[1:], strict=True)}


def last_passed_profile(con: duckdb.DuckDBPyConnection, asset: str, run_id: str) -> dict[str, float] | None:
    """Null shares recorded by the last run (not this one) whose audit of the asset passed."""
    row = con.execute(
        "SELECT run_id FROM audit.column_profiles WHERE asset = ? AND audit_passed AND run_id <> ? "
        "ORDER BY checked_at DESC LIMIT 1", [asset, run_id],
    ).fetchone()
    if row is None:
        return None
    return dict(con.execute(
        "SELECT column_name, null_share FROM audit.column_profiles WHERE asset = ? AND run_id = ?", [asset, row[0]]
    ).fetchall())


def null_share_drift(
    *, asset: str, rows: int, nulls: dict[str, int], baseline: dict[str, float] | None, config: NullDriftConfig,
    limit: int,
) -> CheckRecord:
    """Columns whose share of nulls rose by more than `max_increase` since the last passed audit."""
    name = "null_share_not_rising_against_last_passed_run"
    rule = (f"null share of {', '.join(nulls)} rises by at most {config.max_increase} "
            f"(judged from {config.min_rows} rows)")
    shares = {c: (n / rows if rows else 0.0) for c, n in nulls.items()}
    if baseline is None or rows < config.min_rows or not nulls:
        reason = ("no earlier run whose audit passed" if baseline is None else
                  f"fewer than {config.min_rows} rows" if rows < config.min_rows else "no column to profile")
        return CheckRecord(asset, "sql", name, "sql", config.severity, "skipped", observed_value=shares,
                           element_count=rows, details={"rule": rule, "reason": reason})
    rising: list[dict[str, Any]] = []
    for column, share in shares.items():
        before = baseline.get(column)
        if before is not None and share - before > config.max_increase:
            rising.append({"column": column, "null_share": round(share, 6), "baseline": round(before, 6)})
    return CheckRecord(
        asset, "sql", name, "sql", config.severity, "failed" if rising else "passed",
        observed_value={c: round(s, 6) for c, s in shares.items()}, element_count=rows,
        unexpected_count=len(rising), unexpected_keys=rising[:limit], details={"rule": rule, "baseline": baseline},
    )


def save_profile(con: duckdb.DuckDBPyConnection, *, run_id: str, checked_at, asset: str, rows: int,
                 nulls: dict[str, int], audit_passed: bool) -> None:
    """Record this run's null counts (the baseline of later runs when the audit passed)."""
    if not nulls:
        return
    con.executemany(
        "INSERT INTO audit.column_profiles VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [(run_id, checked_at, asset, c, rows, n, (n / rows if rows else 0.0), audit_passed) for c, n in nulls.items()],
    )
