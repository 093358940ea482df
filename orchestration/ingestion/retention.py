"""Landing retention (opt-in): delete landing files once the lake holds them for good.

The landing zone is the brand's export drop; by default the project never deletes from it. With
`C360_LANDING_RETENTION_DAYS=N`, a landing file whose export date is more than N days before today is deleted
once its day is loaded, audited and built (the raw ledger, ingestion/ledger.py) and the file is exactly the one
loaded (same size and sha256). So a person's records, purged from the lake after an erasure, do not stay in
an old export file the project keeps reading.

Before a file is deleted, its day's manifest marks it `retired` (same sha256, same load: the ledger's marks
stay valid), so the loader knows the file is gone on purpose: its absence is not a "missing file" problem, the
same bytes delivered again are a duplicate, and different bytes under its name, or a new file for that day,
are a conflict (the day cannot be loaded again without the retired file). The manifest is rewritten first and
renamed over the old one; a crash before the deletion leaves a retired file that is still there, which the
loader treats as unchanged and the next retention deletes.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.ingestion.entities import ENTITIES
from orchestration.ingestion.landing import scan_entity
from orchestration.ingestion.ledger import read_ledger
from orchestration.ingestion.loader import MANIFEST_FILE, hash_landing_files

RETIRED = "retired"
# Manifest statuses of files whose records are in the lake (a duplicate's records are its original's).
_IN_LAKE = ("loaded", "redacted", "duplicate")


@dataclass
class RetentionResult:
    """What one retention pass deleted, and what it left for later."""

    files_deleted: int = 0
    bytes_deleted: int = 0
    days_retired: int = 0
    kept_not_done: int = 0  # old files whose day is not yet audited and built
    kept_changed: int = 0  # old files whose bytes differ from what was loaded (a conflict the loader reports)
    by_entity: dict[str, int] = field(default_factory=dict)

    def metadata(self) -> dict:
        """Counts for Dagster metadata (no file names: they may hold a date and a part name only, but stay out)."""
        return {"landing_files_deleted": self.files_deleted, "landing_bytes_deleted": self.bytes_deleted,
                "landing_days_retired": self.days_retired, "landing_files_kept_not_done": self.kept_not_done,
                "landing_files_kept_changed": self.kept_changed}


def _lit(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _retire_in_manifest(con: duckdb.DuckDBPyConnection, manifest: Path, files: list[str], today: date,
                        days: int) -> None:
    """Rewrite the day's manifest with `files` marked retired (a new file renamed over the old one)."""
    tmp = manifest.with_name(f".tmp-{uuid.uuid4().hex[:12]}{MANIFEST_FILE}")
    try:
        con.execute(
            f"""COPY (
                SELECT * REPLACE (
                    CASE WHEN list_contains(?::VARCHAR[], file) THEN '{RETIRED}' ELSE status END AS status,
                    CASE WHEN list_contains(?::VARCHAR[], file) THEN concat_ws('; ', nullif(detail, ''),
                        'landing file deleted ' || ? || ' (C360_LANDING_RETENTION_DAYS=' || ? || ')')
                        ELSE detail END AS detail)
                FROM read_parquet({_lit(manifest)}, hive_partitioning = false)
            ) TO {_lit(tmp)} (FORMAT parquet)""",
            [files, files, today.isoformat(), str(days)],
        )
        os.replace(tmp, manifest)
    finally:
        tmp.unlink(missing_ok=True)


def retire_landing_files(landing_root: Path, raw_root: Path, retention_days: int, today: date | None = None,
                         con: duckdb.DuckDBPyConnection | None = None) -> RetentionResult:
    """Delete the landing files older than `retention_days` whose day is loaded, audited and built and whose
    bytes are those loaded; mark them retired in the manifest first (see the module docstring)."""
    if retention_days < 0:
        raise ValueError("C360_LANDING_RETENTION_DAYS must be 0 or more")
    today = today or datetime.now(UTC).date()
    cutoff = today - timedelta(days=retention_days)
    result = RetentionResult()
    own = con is None
    con = con or duckdb.connect()
    try:
        done = {(s.entity, s.day) for s in read_ledger(raw_root, con=con) if s.done}
        for entity in ENTITIES:
            files, _ = scan_entity(landing_root, entity)
            old = [f for f in files if f.file_date < cutoff]
            if not old:
                continue
            finished = [f for f in old if (entity.name, f.file_date) in done]
            result.kept_not_done += len(old) - len(finished)
            if not finished:
                continue
            loaded = dict(con.execute(
                f"SELECT file, sha256 FROM read_parquet({_lit(raw_root / entity.name / 'dt=*' / MANIFEST_FILE)}, "
                "hive_partitioning = false) WHERE list_contains(?::VARCHAR[], status)", [list(_IN_LAKE)]
            ).fetchall())
            digests = hash_landing_files(con, raw_root, entity, files, [f for f in finished if f.rel_path in loaded])
            by_day: dict[date, list] = {}
            for f in finished:
                if f.path not in digests:
                    continue  # quarantined whole, or never loaded: left for the brand to see
                if digests[f.path] != loaded[f.rel_path]:
                    result.kept_changed += 1
                    continue
                by_day.setdefault(f.file_date, []).append(f)
            for day, retiring in sorted(by_day.items()):
                manifest = raw_root / entity.name / f"dt={day.isoformat()}" / MANIFEST_FILE
                _retire_in_manifest(con, manifest, [f.rel_path for f in retiring], today, retention_days)
                for f in retiring:
                    f.path.unlink(missing_ok=True)
                    result.files_deleted += 1
                    result.bytes_deleted += f.size
                result.days_retired += 1
                result.by_entity[entity.name] = result.by_entity.get(entity.name, 0) + len(retiring)
    finally:
        if own:
            con.close()
    return result
