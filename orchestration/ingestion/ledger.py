"""The raw layer's ledger: per (entity, export date), is the loaded partition audited, and built into the warehouse?

Write-audit-publish at the raw layer. A partition swapped into the lake is *loaded*; it is *audited* once its
entity's raw audit (the blocking `quality_audit` check) passed on it, and *built* once the run's dbt build that
reloads it (its `reload_from_date` on or before the day) succeeded. A day is done only when all three hold for its
current load; every other loaded day is taken up by the next run (its audit covers the day again, and the dbt
build reloads from the earliest such day), so a rerun never passes over a failed audit and a crash never leaves a
day out of the incremental tables.

Where it lives, and why there: in the lake, beside the partitions, not in the warehouse. *Loaded* is the
partition's own `_manifest.parquet` (its `loaded_at` names the load): it is swapped in by the same rename as the
data, so there is no moment where the lake holds a day the ledger does not know. The marks of the later stages
are kept per entity in `<entity>/_ledger.parquet`, keyed by (export date, loaded_at) and replaced whole by a
rename, so a reload of the day (a new `loaded_at`) voids them by itself, and a crash before a mark is written
only means the stage is done again. Run planning (`c360 run`, the schedule, the sensor) reads it while another
run may hold the warehouse's single-writer lock, and the Spark target reads the same lake.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.ingestion.loader import MANIFEST_FILE

LEDGER_FILE = "_ledger.parquet"
LEDGER_COLUMNS = (
    "entity VARCHAR, partition_date DATE, loaded_at TIMESTAMPTZ, audited_at TIMESTAMPTZ, audit_run_id VARCHAR, "
    "built_at TIMESTAMPTZ, build_run_id VARCHAR"
)
STAGES = ("audited", "built")


@dataclass(frozen=True)
class DayState:
    """One loaded partition and how far it got."""

    entity: str
    day: date
    loaded_at: datetime
    audited: bool
    built: bool

    @property
    def done(self) -> bool:
        """Audited and built: nothing left for a later run."""
        return self.audited and self.built


def _literal(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _sources(raw_root: Path, entity: str | None) -> tuple[str, str]:
    """The SQL scans of the manifests (loaded days) and the ledger files (marks) of one entity or of all."""
    folder = entity or "*"
    manifests = raw_root / folder / "dt=*" / MANIFEST_FILE
    marks = raw_root / folder / LEDGER_FILE
    loaded = (
        f"SELECT source || '__' || entity AS entity, partition_date, max(loaded_at) AS loaded_at "
        f"FROM read_parquet({_literal(manifests)}, union_by_name = true) GROUP BY ALL"
    )
    have_marks = any(raw_root.glob(f"{folder}/{LEDGER_FILE}"))
    names = ", ".join(part.split(" ", 1)[0] for part in LEDGER_COLUMNS.split(", "))
    marked = (f"SELECT {names} FROM read_parquet({_literal(marks)}, union_by_name = true)" if have_marks else
              "SELECT " + ", ".join(f"CAST(NULL AS {part.split(' ', 1)[1]}) AS {part.split(' ', 1)[0]}"
                                    for part in LEDGER_COLUMNS.split(", ")) + " WHERE false")
    return loaded, marked


def ledger_sql(raw_root: Path, entity: str | None = None) -> str:
    """A query of the ledger: one row per loaded partition with its marks (NULL when not reached), from the lake.

    Columns: entity, partition_date, loaded_at, audited_at, audit_run_id, built_at, build_run_id. A mark counts
    only for the load it was made on (same loaded_at)."""
    loaded, marked = _sources(raw_root, entity)
    return f"""
        SELECT l.entity, l.partition_date, l.loaded_at, m.audited_at, m.audit_run_id, m.built_at, m.build_run_id
        FROM ({loaded}) AS l
        LEFT JOIN ({marked}) AS m
          ON m.entity = l.entity AND m.partition_date = l.partition_date AND m.loaded_at = l.loaded_at"""


def read_ledger(raw_root: Path, entity: str | None = None, con: duckdb.DuckDBPyConnection | None = None
                ) -> list[DayState]:
    """Every loaded partition (of `entity`, or of all) with its state, sorted by entity and date."""
    if not any(raw_root.glob(f"{entity or '*'}/dt=*/{MANIFEST_FILE}")):
        return []
    own = con is None
    con = con or duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        rows = con.execute(
            f"SELECT entity, partition_date, loaded_at, audited_at IS NOT NULL, built_at IS NOT NULL "
            f"FROM ({ledger_sql(raw_root, entity)}) ORDER BY entity, partition_date"
        ).fetchall()
    finally:
        if own:
            con.close()
    return [DayState(*row) for row in rows]


def unfinished(raw_root: Path, up_to: date | None = None, entity: str | None = None) -> list[DayState]:
    """Loaded partitions not yet audited and built (on or before `up_to`): what the next run must take up."""
    return [s for s in read_ledger(raw_root, entity) if not s.done and (up_to is None or s.day <= up_to)]


def unaudited_days(raw_root: Path, entity: str, up_to: date | None = None) -> list[date]:
    """Export dates of `entity` whose current load has not passed its raw audit."""
    return [s.day for s in unfinished(raw_root, up_to, entity) if not s.audited]


def mark(raw_root: Path, entity: str, stage: str, loads: Iterable[tuple[date, datetime]], run_id: str,
         at: datetime | None = None) -> int:
    """Record that `stage` (audited | built) holds for the given loads (export date, loaded_at) of `entity`.

    `loads` are the loads the stage saw when it started: a day loaded again since then keeps its new load
    unmarked. Marks of loads that are no longer current are dropped. The entity's ledger file is replaced
    whole (written aside, then renamed), so a crash leaves the previous one. Returns how many loads were marked.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, not {stage!r}")
    loads = sorted(set(loads))
    if not loads or not any((raw_root / entity).glob(f"dt=*/{MANIFEST_FILE}")):
        return 0
    at = at or datetime.now(UTC)
    entity_root = raw_root / entity
    target = entity_root / LEDGER_FILE
    tmp = entity_root / f".tmp-{uuid.uuid4().hex[:12]}{LEDGER_FILE}"
    own = {"audited": ("audited_at", "audit_run_id"), "built": ("built_at", "build_run_id")}[stage]
    other = {"audited": ("built_at", "build_run_id"), "built": ("audited_at", "audit_run_id")}[stage]
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        con.execute(
            f"""CREATE TEMP TABLE marked AS
            WITH current AS ({ledger_sql(raw_root, entity)}),
            new AS (SELECT unnest(?::DATE[]) AS partition_date, unnest(?::TIMESTAMPTZ[]) AS loaded_at)
            SELECT c.entity, c.partition_date, c.loaded_at,
                   CASE WHEN n.partition_date IS NOT NULL THEN ?::TIMESTAMPTZ ELSE c.{own[0]} END AS {own[0]},
                   CASE WHEN n.partition_date IS NOT NULL THEN ?::VARCHAR ELSE c.{own[1]} END AS {own[1]},
                   c.{other[0]}, c.{other[1]}, n.partition_date IS NOT NULL AS is_new
            FROM current AS c LEFT JOIN new AS n USING (partition_date, loaded_at)
            WHERE n.partition_date IS NOT NULL OR c.audited_at IS NOT NULL OR c.built_at IS NOT NULL""",
            [[d for d, _ in loads], [t for _, t in loads], at, run_id],
        )
        count = con.execute("SELECT count(*) FILTER (WHERE is_new) FROM marked").fetchone()[0]
        names = ", ".join(part.split(" ", 1)[0] for part in LEDGER_COLUMNS.split(", "))
        con.execute(f"COPY (SELECT {names} FROM marked ORDER BY partition_date) TO {_literal(tmp)} (FORMAT parquet)")
        os.replace(tmp, target)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)
    return int(count)


def ensure_ledger_file(raw_root: Path, entity: str) -> None:
    """An empty ledger file for an entity with partitions but no marks yet, so the warehouse's `raw.load_ledger`
    view (raw_views.py), which globs every entity's file, reads marks as soon as they are written."""
    target = raw_root / entity / LEDGER_FILE
    if target.exists() or not any((raw_root / entity).glob(f"dt=*/{MANIFEST_FILE}")):
        return
    tmp = target.with_name(f".tmp-{uuid.uuid4().hex[:12]}{LEDGER_FILE}")
    con = duckdb.connect()
    try:
        empty = ", ".join(f"CAST(NULL AS {part.split(' ', 1)[1]}) AS {part.split(' ', 1)[0]}"
                          for part in LEDGER_COLUMNS.split(", "))
        con.execute(f"COPY (SELECT {empty} WHERE false) TO {_literal(tmp)} (FORMAT parquet)")
        os.replace(tmp, target)
    finally:
        con.close()
        tmp.unlink(missing_ok=True)


def current_loads(raw_root: Path, entity: str | None = None, days: Iterable[date] | None = None
                  ) -> dict[str, list[tuple[date, datetime]]]:
    """Per entity, the current (export date, loaded_at) of its loaded partitions (of `days`, if given): what a
    stage about to start will see, to be marked once it succeeded."""
    wanted = None if days is None else set(days)
    out: dict[str, list[tuple[date, datetime]]] = {}
    for state in read_ledger(raw_root, entity):
        if wanted is None or state.day in wanted:
            out.setdefault(state.entity, []).append((state.day, state.loaded_at))
    return out


def describe(states: list[DayState]) -> str | None:
    """One sentence on the loaded days an earlier run left unfinished (None when there are none)."""
    if not states:
        return None
    unaudited = sorted({s.day for s in states if not s.audited})
    unbuilt = sorted({s.day for s in states if s.audited and not s.built} - set(unaudited))
    parts = []
    if unaudited:
        entities = sorted({s.entity for s in states if not s.audited})
        parts.append(f"re-auditing {days_text(unaudited)} loaded by an earlier run and not yet audited "
                     f"({', '.join(entities)})")
    if unbuilt:
        parts.append(f"building {days_text(unbuilt)} audited by an earlier run but not yet built")
    first = min(s.day for s in states)
    return "; ".join(parts) + f": this run audits and reloads from {first}"


def days_text(days: list[date]) -> str:
    """`2 export dates (2026-02-01, 2026-02-03)`: a count and the first few days."""
    noun = "export date" if len(days) == 1 else "export dates"
    shown = ", ".join(d.isoformat() for d in days[:3]) + (", ..." if len(days) > 3 else "")
    return f"{len(days)} {noun} ({shown})"
