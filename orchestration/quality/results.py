"""The `audit` schema of the working warehouse: one row per expectation or SQL check per run, one row per
audited asset per run, and column profiles (the baseline of null-share drift).

JSON values (observed values, failing keys, details) are stored as JSON text in VARCHAR columns so any
engine or BI tool reads them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import duckdb

CHECK_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS audit.check_results (
    run_id VARCHAR NOT NULL,          -- the Dagster run (or any caller's run id)
    checked_at TIMESTAMP NOT NULL,    -- UTC
    as_of_date DATE,                  -- the as-of date the warehouse was built for
    asset VARCHAR NOT NULL,           -- Dagster asset key, e.g. marts/customer_360
    partitions VARCHAR,               -- raw assets: the export dates validated (first..last), else null
    suite VARCHAR NOT NULL,           -- GX suite name, or 'sql' for set-based checks
    check_name VARCHAR NOT NULL,      -- expectation (type and columns, or meta.name) or SQL check name
    check_kind VARCHAR NOT NULL,      -- expectation | sql
    severity VARCHAR NOT NULL,        -- critical | warning
    status VARCHAR NOT NULL,          -- passed | failed | error | skipped
    success BOOLEAN,                  -- null when skipped
    observed_value VARCHAR,           -- JSON text
    element_count BIGINT,
    unexpected_count BIGINT,
    unexpected_keys VARCHAR,          -- JSON text: a few failing rows' keys
    details VARCHAR                   -- JSON text: evaluated arguments, reasons
)"""

CHECK_RUNS_DDL = """
CREATE TABLE IF NOT EXISTS audit.check_runs (
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    as_of_date DATE,
    asset VARCHAR NOT NULL,
    partitions VARCHAR,
    suite VARCHAR NOT NULL,
    passed BOOLEAN NOT NULL,          -- no critical check failed
    severity VARCHAR,                 -- ERROR (a critical failure), WARN (warnings only), null when clean
    checks BIGINT NOT NULL,
    critical_failed BIGINT NOT NULL,
    warning_failed BIGINT NOT NULL,
    skipped BIGINT NOT NULL,
    rows_validated BIGINT NOT NULL,
    seconds DOUBLE NOT NULL,
    docs_path VARCHAR
)"""

COLUMN_PROFILES_DDL = """
CREATE TABLE IF NOT EXISTS audit.column_profiles (
    run_id VARCHAR NOT NULL,
    checked_at TIMESTAMP NOT NULL,
    asset VARCHAR NOT NULL,
    column_name VARCHAR NOT NULL,
    row_count BIGINT NOT NULL,
    null_count BIGINT NOT NULL,
    null_share DOUBLE NOT NULL,
    audit_passed BOOLEAN NOT NULL     -- the baseline of the next run is the last profile whose audit passed
)"""


def ensure_audit_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the audit schema and its tables when missing."""
    con.execute("CREATE SCHEMA IF NOT EXISTS audit")
    for ddl in (CHECK_RESULTS_DDL, CHECK_RUNS_DDL, COLUMN_PROFILES_DDL):
        con.execute(ddl)


def to_jsonable(value: Any) -> Any:
    """Plain JSON values from what GX and DuckDB return (numpy scalars, dates, decimals, NaN)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [to_jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return to_jsonable(value.item())
    if hasattr(value, "isoformat"):  # pandas Timestamp
        return value.isoformat()
    return str(value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(to_jsonable(value), sort_keys=True)


@dataclass
class CheckRecord:
    """The outcome of one expectation or SQL check on one asset in one run."""

    asset: str
    suite: str
    check_name: str
    check_kind: str  # expectation | sql
    severity: str  # critical | warning
    status: str  # passed | failed | error | skipped
    observed_value: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_keys: list[Any] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    partitions: str | None = None

    @property
    def success(self) -> bool | None:
        """True/False, or None for a skipped check."""
        return None if self.status == "skipped" else self.status == "passed"

    @property
    def failed(self) -> bool:
        """Failed or raised an error (an error counts as a failure of the check's severity)."""
        return self.status in ("failed", "error")

    def row(self, run_id: str, checked_at: datetime, as_of: date | None) -> tuple:
        """The row of audit.check_results."""
        return (
            run_id, checked_at, as_of, self.asset, self.partitions, self.suite, self.check_name, self.check_kind,
            self.severity, self.status, self.success, _json(self.observed_value), self.element_count,
            self.unexpected_count, _json(self.unexpected_keys or None), _json(self.details or None),
        )


@dataclass
class RunSummary:
    """The audit of one asset in one run: what audit.check_runs and the Dagster metadata show."""

    run_id: str
    checked_at: datetime
    as_of_date: date | None
    asset: str
    suite: str
    partitions: str | None
    records: list[CheckRecord]
    rows_validated: int
    seconds: float
    docs_path: str | None = None

    @property
    def critical_failures(self) -> list[CheckRecord]:
        """Critical checks that failed (they block)."""
        return [r for r in self.records if r.failed and r.severity == "critical"]

    @property
    def warning_failures(self) -> list[CheckRecord]:
        """Warning checks that failed (reported only)."""
        return [r for r in self.records if r.failed and r.severity == "warning"]

    @property
    def skipped(self) -> list[CheckRecord]:
        """Checks that could not apply (a missing parameter or an optional column not there yet)."""
        return [r for r in self.records if r.status == "skipped"]

    @property
    def passed(self) -> bool:
        """No critical failure."""
        return not self.critical_failures

    @property
    def severity(self) -> str | None:
        """ERROR with a critical failure, WARN with only warnings failing, else None."""
        if self.critical_failures:
            return "ERROR"
        return "WARN" if self.warning_failures else None

    def run_row(self) -> tuple:
        """The row of audit.check_runs."""
        return (
            self.run_id, self.checked_at, self.as_of_date, self.asset, self.partitions, self.suite, self.passed,
            self.severity, len(self.records), len(self.critical_failures), len(self.warning_failures),
            len(self.skipped), self.rows_validated, self.seconds, self.docs_path,
        )


def write_summary(con: duckdb.DuckDBPyConnection, summary: RunSummary) -> None:
    """Append a run's check results and its run row (one transaction: a reader never sees half of it)."""
    ensure_audit_schema(con)
    con.execute("BEGIN TRANSACTION")
    try:
        rows = [r.row(summary.run_id, summary.checked_at, summary.as_of_date) for r in summary.records]
        if rows:
            con.executemany(f"INSERT INTO audit.check_results VALUES ({', '.join(['?'] * 16)})", rows)
        con.execute(f"INSERT INTO audit.check_runs VALUES ({', '.join(['?'] * 15)})", list(summary.run_row()))
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise


def failed_blocking_checks(con: duckdb.DuckDBPyConnection, run_id: str) -> list[dict[str, Any]]:
    """Critical checks that failed in a run, for the publish step to refuse publishing (empty = go)."""
    ensure_audit_schema(con)
    cursor = con.execute(
        "SELECT asset, partitions, suite, check_name, status, unexpected_count, unexpected_keys "
        "FROM audit.check_results WHERE run_id = ? AND severity = 'critical' AND status IN ('failed', 'error') "
        "ORDER BY asset, check_name",
        [run_id],
    )
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def summary_rows(records: Iterable[CheckRecord]) -> str:
    """A markdown table of failed checks for Dagster metadata (a few keys each)."""
    lines = ["| severity | check | status | unexpected | keys |", "|---|---|---|---|---|"]
    for r in records:
        keys = json.dumps(to_jsonable(r.unexpected_keys[:3])) if r.unexpected_keys else ""
        lines.append(
            f"| {r.severity} | {r.check_name.replace('|', '/')} | {r.status} | "
            f"{'' if r.unexpected_count is None else r.unexpected_count} | {keys.replace('|', '/')[:200]} |"
        )
    return "\n".join(lines)
