"""The audit of one guarded asset: read its batches, validate its suite, run its SQL checks, record it all.

Used by the Dagster asset checks (orchestration/quality/checks.py), the tests and the benchmark alike. The
warehouse is opened through a `connect()` callable (DuckDBResource.get_connection in Dagster) and only for
each short read or write: never while Great Expectations computes.

Raw tables are read from their Parquet partitions (the files behind the `raw.*` views) with an in-memory
DuckDB, per export date of the run: the warehouse is not even opened until the results are written.
"""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from orchestration.ingestion.entities import ENTITIES, get_entity
from orchestration.ingestion.loader import DATA_FILE, raw_schema_sql
from orchestration.quality import sql_checks
from orchestration.quality.config import AuditConfig
from orchestration.quality.manifest import contract_columns, load_manifest, model_node, segment_spec
from orchestration.quality.results import CheckRecord, RunSummary, write_summary
from orchestration.quality.suites import Suite, load_suite, suite_path
from orchestration.settings import Settings

log = logging.getLogger(__name__)
Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]

CUSTOMER_360 = ("marts", "customer_360")
FCT_ORDERS = ("marts", "fct_orders")
SEGMENT_SUITE = "segment"


@dataclass(frozen=True)
class AuditTarget:
    """A guarded asset: its key, the relation holding it, its suite and the other assets its checks read."""

    asset_path: tuple[str, ...]
    kind: str  # raw | table | segment
    suite_file: Path
    relation: str
    deps: tuple[tuple[str, ...], ...] = ()

    @property
    def asset(self) -> str:
        """The asset key as Dagster prints it (`marts/customer_360`)."""
        return "/".join(self.asset_path)

    def suite(self) -> Suite:
        """The checked-in suite of the target."""
        return load_suite(self.suite_file)

    def sql_severities(self, config: AuditConfig) -> list[str]:
        """Severities of the SQL checks this target runs (they decide blocking with the suite's)."""
        if self.kind == "raw":
            return [config.volume_for(self.asset_path[-1]).severity]
        drift = [config.null_drift.severity] if config.null_drift.columns.get(self.relation) else []
        if self.asset_path == CUSTOMER_360:
            return ["critical", "critical", *drift]  # fct_orders' customers exist here; revenue reconciles
        return ["critical", *drift] if self.kind == "segment" else drift

    def blocking(self, config: AuditConfig) -> bool:
        """A target with any critical expectation or check blocks what is downstream of its asset."""
        return self.suite().has_critical or "critical" in self.sql_severities(config)


def audit_targets(segment_names: list[str], expectations_dir: Path | None = None) -> list[AuditTarget]:
    """Every guarded asset: the raw tables, customer_360, fct_orders and each segment table."""
    targets = [
        AuditTarget(("raw", e.name), "raw", suite_path("raw", e.name, expectations_dir), f"raw.{e.name}")
        for e in ENTITIES
    ]
    # The checks comparing the two marts run with customer_360's (which reads fct_orders): a blocking check
    # waits for the blocking checks of what it reads, so the two cannot read each other.
    targets.append(AuditTarget(CUSTOMER_360, "table", suite_path("marts", "customer_360", expectations_dir),
                               "marts.customer_360", deps=(FCT_ORDERS,)))
    targets.append(AuditTarget(FCT_ORDERS, "table", suite_path("marts", "fct_orders", expectations_dir),
                               "marts.fct_orders"))
    for name in segment_names:
        targets.append(AuditTarget(("segments", name), "segment",
                                   suite_path("segments", SEGMENT_SUITE, expectations_dir), f"segments.{name}",
                                   deps=(CUSTOMER_360,)))
    return targets


@dataclass
class AuditRun:
    """What a run tells the audit: its id, its as-of date (if pinned) and the export dates it loaded."""

    run_id: str
    as_of_date: date | None = None
    partition_days: list[date] | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))


def duckdb_connector(database: Path) -> Connect:
    """A `connect()` for a warehouse file outside Dagster (tests, benchmark)."""
    return lambda: contextlib.closing(duckdb.connect(str(database)))


class Auditor:
    """Runs targets' audits against one warehouse and C360_HOME."""

    def __init__(self, settings: Settings, connect: Connect, config: AuditConfig | None = None,
                 manifest_path: Path | None = None):
        from orchestration.quality.validation import GX_DOCS_FOLDER, GxRunner

        self.settings = settings
        self.connect = connect
        self.config = config or AuditConfig.load()
        self.manifest_path = manifest_path
        self.gx = GxRunner(settings.home / "docs" / GX_DOCS_FOLDER, settings.home / "quality" / "validations",
                           keep_runs=self.config.docs_keep_runs, keys_limit=self.config.unexpected_keys_limit,
                           index_limit=self.config.docs_index_limit)

    def audit(self, target: AuditTarget, run: AuditRun) -> RunSummary:
        """Audit one target in one run, append the results to audit.* and update the Data Docs."""
        started = time.perf_counter()
        suite = target.suite()
        if target.kind == "raw":
            records, gx_run, partitions, as_of, label = self._audit_raw(target, suite, run)
            profile = None
        else:
            records, gx_run, partitions, as_of, label, profile = self._audit_table(target, suite, run)
        docs_path = None
        if gx_run is not None:
            try:
                docs_path = str(self.gx.publish(suite, gx_run, run.run_id, label))
            except Exception as exc:  # the docs are a report: their failure is recorded, it does not block
                log.exception("Data Docs of %s not written", target.asset)
                records.append(CheckRecord(target.asset, suite.name, "data_docs_written", "expectation", "warning",
                                           "error", details={"error": str(exc)}, partitions=partitions))
        summary = RunSummary(
            run.run_id, run.checked_at, as_of, target.asset, suite.name, partitions, records,
            gx_run.rows if gx_run else 0, 0.0, docs_path,
        )
        summary.seconds = round(time.perf_counter() - started, 3)
        with self.connect() as con:
            write_summary(con, summary)
            if profile is not None:
                rows, nulls = profile
                sql_checks.save_profile(con, run_id=run.run_id, checked_at=run.checked_at, asset=target.asset,
                                        rows=rows, nulls=nulls, audit_passed=summary.passed)
        return summary

    # raw partitions ---------------------------------------------------------------------------------------

    def _audit_raw(self, target: AuditTarget, suite: Suite, run: AuditRun):
        from orchestration.quality.validation import split_key

        entity = get_entity(target.asset_path[-1])
        root = self.settings.raw_root / entity.name
        days = sorted(set(run.partition_days or [])) or _latest_day(root)
        files = [(d, root / f"dt={d.isoformat()}" / DATA_FILE) for d in days]
        files = [(d, p) for d, p in files if p.exists()]
        partitions = f"{days[0]}..{days[-1]}" if days else None
        as_of = run.as_of_date or (days[-1] if days else None)
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone = 'UTC'")
            contract = [r[0] for r in con.execute(f"DESCRIBE {raw_schema_sql(entity)}").fetchall()]
            params = {"contract_columns": contract}
            groups, rows_per_file = _raw_schemas(con, [p for _, p in files])
            available = sorted({c for cols in groups for c in cols} | set(suite.derived_columns))
            needed = suite.columns_needed(available)
            schema_frames = [(_days_label(group_days), pd.DataFrame(columns=list(cols)))
                             for cols, group_days in _schema_groups(groups, files).items()]
            chunks = _chunks([(d, p, rows_per_file.get(str(p), 0)) for d, p in files], self.config.max_batch_rows)
            data_specs = [e for e in suite.expectations if not e.is_schema]
            if len(chunks) > 1 and not split_key(suite, data_specs, ["dt"]):
                log.warning("%s: suite cannot be split by export date; validating the run's partitions at once",
                            suite.name)
                chunks = [[f for c in chunks for f in c]]

            def batches() -> Iterator[pd.DataFrame]:
                """The run's partitions, a group of export dates at a time."""
                for chunk in chunks:
                    yield _read_raw(con, [p for _, p, _ in chunk], needed, suite.derived_columns)

            gx_run = self.gx.validate(
                suite, asset=target.asset, columns=available, schema_frames=schema_frames, data_batches=batches(),
                params=params, partitions=partitions,
                skip_all_reason=None if files else "no partition of this entity in the run",
            )
            volume = sql_checks.volume_drop(
                con, asset=target.asset, entity_root=root, days=days, config=self.config.volume_for(entity.name),
                data_file=DATA_FILE, limit=self.config.unexpected_keys_limit,
            )
        finally:
            con.close()
        volume.partitions = partitions
        label = f"{target.relation}.dt={partitions}" if partitions else target.relation
        return [*gx_run.records, volume], gx_run, partitions, as_of, label

    # marts and segments -----------------------------------------------------------------------------------

    def _audit_table(self, target: AuditTarget, suite: Suite, run: AuditRun):
        from orchestration.quality.validation import split_key, uniqueness_key

        limit = self.config.unexpected_keys_limit
        records: list[CheckRecord] = []
        with self.connect() as con:
            if not sql_checks.relation_exists(con, target.relation):
                records.append(CheckRecord(target.asset, suite.name, "relation_exists", "expectation", "critical",
                                           "failed", details={"reason": f"{target.relation} does not exist"}))
                return records, None, None, run.as_of_date, target.relation, None
            columns = [r[0] for r in con.execute(f"DESCRIBE {target.relation}").fetchall()]
            row_count = con.execute(f"SELECT count(*) FROM {target.relation}").fetchone()[0]
            as_of = run.as_of_date or _table_as_of(con)
            params = self._table_params(con, target, run, as_of)
            records += self._table_sql_checks(con, target, limit)
            profile = None
            drift_columns = self.config.null_drift.columns.get(target.relation)
            if drift_columns:
                from orchestration.quality.results import ensure_audit_schema

                ensure_audit_schema(con)
                profile = sql_checks.null_profile(con, target.relation, drift_columns)
                baseline = sql_checks.last_passed_profile(con, target.asset, run.run_id)
                records.append(sql_checks.null_share_drift(
                    asset=target.asset, rows=profile[0], nulls=profile[1], baseline=baseline,
                    config=self.config.null_drift, limit=limit,
                ))
        needed = suite.columns_needed(columns)
        key = [k for k in uniqueness_key(suite) if k in columns]
        n_batches = max(1, math.ceil(row_count / self.config.max_batch_rows))
        data_specs = [e for e in suite.expectations if not e.is_schema]
        if n_batches > 1 and not (key and split_key(suite, data_specs, key)):
            log.warning("%s: suite cannot be split; validating %s rows at once", suite.name, row_count)
            n_batches = 1

        def batches() -> Iterator[pd.DataFrame]:
            """The needed columns, one hash slice of the key at a time."""
            select = f"SELECT {', '.join(_q(c) for c in needed) or 'NULL AS _none'} FROM {target.relation}"
            for i in range(n_batches):
                where = f" WHERE hash({', '.join(_q(k) for k in key)}) % {n_batches} = {i}" if n_batches > 1 else ""
                with self.connect() as con:  # held for the read only, not while GX validates
                    con.execute("SET TimeZone = 'UTC'")
                    frame = con.execute(select + where).df()
                yield frame

        gx_run = self.gx.validate(
            suite, asset=target.asset, columns=columns, data_batches=batches(), params=params,
            schema_frames=[(target.relation, pd.DataFrame(columns=columns))],
        )
        return records + gx_run.records, gx_run, None, as_of, target.relation, profile

    def _table_params(self, con, target: AuditTarget, run: AuditRun, as_of: date | None) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if as_of:
            params["as_of_end"] = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
        if run.as_of_date:
            params["run_as_of_dates"] = [pd.Timestamp(run.as_of_date)]
        manifest = load_manifest(self.manifest_path)
        if target.kind == "segment":
            spec = segment_spec(manifest, target.asset_path[-1])
            bounds = self.config.bounds_for(spec.name)
            customers = con.execute(f"SELECT count(*) FROM {'.'.join(CUSTOMER_360)}").fetchone()[0]
            params.update(
                allowed_email_consent=spec.allowed_email_consent,
                required_columns=list(spec.required_columns),
                max_members=int(math.floor(bounds.max_share * customers)),
                min_members=bounds.min_members,
            )
            if spec.contract_columns:
                params["contract_columns"] = list(spec.contract_columns)
        else:
            contract = contract_columns(model_node(manifest, target.asset_path[-1]))
            if contract:
                params["contract_columns"] = contract
        return params

    def _table_sql_checks(self, con, target: AuditTarget, limit: int) -> list[CheckRecord]:
        customers = ".".join(CUSTOMER_360)
        if target.asset_path == CUSTOMER_360:
            return [
                sql_checks.orphan_keys(
                    con, asset=target.asset, name="fct_orders_customers_exist_in_customer_360",
                    child=".".join(FCT_ORDERS), child_key="customer_key", parent=customers, parent_key="customer_key",
                    severity="critical", limit=limit, report_columns=["order_key"],
                ),
                sql_checks.revenue_reconciliation(con, asset=target.asset, severity="critical", limit=limit),
            ]
        if target.kind == "segment":
            return [sql_checks.orphan_keys(
                con, asset=target.asset, name="members_exist_in_customer_360", child=target.relation,
                child_key="customer_key", parent=customers, parent_key="customer_key", severity="critical",
                limit=limit,
            )]
        return []


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _table_as_of(con) -> date | None:
    """The as-of date customer_360 was built for (when the run does not say)."""
    if not sql_checks.relation_exists(con, ".".join(CUSTOMER_360)):
        return None
    return con.execute(f"SELECT max(as_of_date) FROM {'.'.join(CUSTOMER_360)}").fetchone()[0]


def _latest_day(entity_root: Path) -> list[date]:
    """The latest loaded export date (what an audit outside a partitioned run looks at)."""
    days = sorted(d.name.removeprefix("dt=") for d in entity_root.glob("dt=*") if (d / DATA_FILE).exists())
    return [date.fromisoformat(days[-1])] if days else []


def _raw_schemas(con, paths: list[Path]) -> tuple[dict[tuple[str, ...], list[str]], dict[str, int]]:
    """Column set of each partition file (plus the hive column dt) and its row count, from the footers."""
    if not paths:
        return {}, {}
    files = [str(p) for p in paths]
    columns: dict[str, list[str]] = {f: [] for f in files}
    for file_name, name in con.execute(
        "SELECT file_name, name FROM parquet_schema(?) WHERE num_children IS NULL OR num_children = 0", [files]
    ).fetchall():
        columns.setdefault(file_name, []).append(name)
    rows = dict(con.execute(
        "SELECT file_name, sum(num_rows)::BIGINT FROM parquet_file_metadata(?) GROUP BY file_name", [files]
    ).fetchall())
    groups: dict[tuple[str, ...], list[str]] = {}
    for f in files:
        groups.setdefault((*columns.get(f, []), "dt"), []).append(f)
    return groups, {f: int(n) for f, n in rows.items()}


def _schema_groups(groups: dict[tuple[str, ...], list[str]], files: list[tuple[date, Path]]
                   ) -> dict[tuple[str, ...], list[date]]:
    day_of = {str(p): d for d, p in files}
    return {cols: sorted(day_of[f] for f in fs) for cols, fs in groups.items()}


def _days_label(days: list[date]) -> str:
    return days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def _chunks(files: list[tuple[date, Path, int]], max_rows: int) -> list[list[tuple[date, Path, int]]]:
    """Consecutive partitions grouped up to `max_rows` rows (a partition is never split)."""
    chunks: list[list[tuple[date, Path, int]]] = []
    current: list[tuple[date, Path, int]] = []
    size = 0
    for item in files:
        if current and size + item[2] > max_rows:
            chunks.append(current)
            current, size = [], 0
        current.append(item)
        size += item[2]
    if current:
        chunks.append(current)
    return chunks


def _read_raw(con, paths: list[Path], needed: list[str], derived: dict[str, str]) -> pd.DataFrame:
    """The needed columns of some partitions (with their export date and derived columns) as pandas."""
    select = [_q(c) for c in needed if c not in derived]
    select += [f"{expr} AS {_q(name)}" for name, expr in derived.items() if name in needed]
    return con.execute(
        f"SELECT {', '.join(select)} FROM read_parquet(?, hive_partitioning = true, union_by_name = true, "
        "hive_types = {'dt': DATE})",
        [[str(p) for p in paths]],
    ).df()
