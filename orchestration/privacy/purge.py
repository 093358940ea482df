"""Purge every stored copy of the people who asked to be erased, and keep a hashed suppression list.

The dbt models already keep erased people out of every model built after the request; what they leave are
the copies stored before it: raw lake partitions and the quarantine, the staging tables, the warehouse's
freed blocks, an older serving.duckdb, the outbox, temporary files. The purge, run after the identity graph
is built and before publish:

1. takes the keyed hashes of every identifier the identity graph linked to an erased person
   (`intermediate.int_identity_resolved`, `is_erased`) that the suppression list does not hold yet, and
   finds their plain values (email, shop customer id, anonymous id) among the graph's nodes
   (`intermediate.int_identity_edges`), in memory only;
2. rewrites each raw lake partition holding one of them without those records, through the loader's atomic
   swap, its manifest marking the file `redacted` (same sha256: the untouched landing file is neither a
   conflict nor loaded again), and removes the quarantined lines that hold one;
3. deletes the rows holding one from every table of the working warehouse and of serving.duckdb (on a copy
   renamed over it, as publish does, so BI readers are never blocked), then checkpoints; a file rows were
   deleted from is then rewritten whole (COPY FROM DATABASE, renamed over it), since freed blocks are not
   overwritten;
4. rewrites the outbox without them and removes leftover temporary files of publish and the outbox;
5. appends the hashes to the suppression list (`<lake>/privacy/suppression.parquet`), which ingestion
   checks every new record against and the next purge skips.

Kept on purpose: the deletion request itself (`raw.privacy__deletion_requests`, its staging table) and the
activation schema's state (`activation.sync_state`, `activation.suppressions`): the activation step needs
them to delete the person in every destination, and removes them once each destination confirmed.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from orchestration.ingestion.entities import ENTITIES, Entity
from orchestration.ingestion.loader import DATA_FILE, MANIFEST_FILE, QUARANTINE_FILE, _write_day
from orchestration.ingestion.suppression import identifier_predicate, suppression_file
from orchestration.privacy.keys import ErasureKeyMismatch, check_key, erasure_hash_sql, set_erasure_key

log = logging.getLogger(__name__)

# The request itself stays: it is what keeps the person erased in every later build.
KEPT_ENTITIES = frozenset({"privacy__deletion_requests"})
# Warehouse tables left to their owners: the requests, and activation's state until each destination
# confirmed the deletion (activation.erasure removes it then).
KEPT_TABLES = frozenset({("staging", "stg_privacy__deletion_requests")})
COMPACTION_FILE = "warehouse_rewrite_pending.json"
KEPT_SCHEMAS = frozenset({"activation", "raw", "information_schema", "pg_catalog"})

# Text columns that may hold an email or anonymous id inside free text or a record, by name (JSON columns and
# records always): URLs, message bodies and subjects, notes and details, the raw payloads kept for lineage.
FREE_TEXT_COLUMN = re.compile(
    r"record|url|referr?er|body|subject|detail|note|text|comment|message|traits|context|properties|payload|tags"
    r"|line_items|fulfillments|refunds|discount_codes|phone")
# Text columns that hold identity-graph node strings ('email:…', 'shop:…', 'anon:…'), by name.
NODE_COLUMN = re.compile(r"node|identifier|label|owner")
# Identity-graph node prefixes by kind (macros/identity.sql).
NODE_PREFIX = {"shop": "shop:", "email": "email:", "anon": "anon:"}


@dataclass
class PurgeResult:
    """What one purge removed, and what it cost."""

    identifiers: int = 0  # newly erased identifiers purged (hashes added to the suppression list)
    raw_rows: dict[str, int] = field(default_factory=dict)
    partitions_rewritten: int = 0
    quarantine_lines: int = 0
    warehouse_rows: dict[str, int] = field(default_factory=dict)
    serving_rows: dict[str, int] = field(default_factory=dict)
    compacted: list[str] = field(default_factory=list)
    temp_files_removed: int = 0
    outbox_rows: int = 0
    bytes_rewritten: int = 0
    seconds: float = 0.0
    phase_seconds: dict[str, float] = field(default_factory=dict)  # where the time went, by phase
    # Rows deleted from the working warehouse since it was last rewritten whole, the first of them at: their
    # values may still be in freed blocks until then.
    compaction_pending_since: datetime | None = None

    def metadata(self) -> dict:
        """Counts for Dagster metadata: no identifier, only how many and where."""
        return {
            "identifiers_purged": self.identifiers,
            "raw_rows_removed": sum(self.raw_rows.values()),
            "raw_partitions_rewritten": self.partitions_rewritten,
            "quarantine_lines_removed": self.quarantine_lines,
            "warehouse_rows_removed": sum(self.warehouse_rows.values()),
            "serving_rows_removed": sum(self.serving_rows.values()),
            "files_compacted": ", ".join(self.compacted) or "none",
            "warehouse_rewrite_pending_since": (self.compaction_pending_since.isoformat()
                                                if self.compaction_pending_since else "none"),
            "temp_files_removed": self.temp_files_removed,
            "outbox_rows_removed": self.outbox_rows,
            "bytes_rewritten": self.bytes_rewritten,
            "seconds": round(self.seconds, 2),
            **{f"seconds_{phase}": round(t, 2) for phase, t in self.phase_seconds.items()},
        }

    def timed(self, phase: str, started: float) -> float:
        """Add the time since `started` to `phase`; returns now (the next phase's start)."""
        now = time.perf_counter()
        self.phase_seconds[phase] = self.phase_seconds.get(phase, 0.0) + now - started
        return now


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def read_suppression(con: duckdb.DuckDBPyConnection, lake_root: Path) -> set[str]:
    """Hashes already purged and suppressed at ingestion (empty before the first purge)."""
    path = suppression_file(lake_root)
    if not path.is_file():
        return set()
    return {r[0] for r in con.execute(f"SELECT identifier_hash FROM read_parquet({_lit(path)})").fetchall()}


def _append_suppression(con, lake_root: Path, rows: list[tuple[str, str]], now: datetime) -> None:
    """Add (hash, identifier_type) rows to the suppression list: a new file renamed over the old one."""
    path = suppression_file(lake_root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex[:8]}-{path.name}")
    old = f"SELECT * FROM read_parquet({_lit(path)}) UNION ALL " if path.is_file() else ""
    con.execute(
        f"COPY ({old}SELECT unnest(?::VARCHAR[]) AS identifier_hash, unnest(?::VARCHAR[]) AS identifier_type, "
        f"?::TIMESTAMPTZ AS purged_at) TO {_lit(tmp)} (FORMAT parquet)",
        [[r[0] for r in rows], [r[1] for r in rows], now],
    )
    os.replace(tmp, path)


def erased_values(con: duckdb.DuckDBPyConnection, salt: str, known: set[str]) -> list[tuple[str, str, str]]:
    """(hash, kind, plain value) of every identifier the identity graph marks erased and `known` lacks.

    The plain values are found by hashing the graph's nodes the way the models do (HMAC-SHA256 of the node
    with the erasure key `salt`, keys.erasure_hash_sql); they only live in the purge's memory.
    """
    set_erasure_key(con, salt)
    rows = con.execute(
        f"""
        WITH erased AS (
            SELECT DISTINCT identifier_hash FROM intermediate.int_identity_resolved
            WHERE is_erased AND identifier_hash NOT IN (SELECT unnest(?::VARCHAR[]))
        ), nodes AS (
            SELECT node_a AS node FROM intermediate.int_identity_edges
            UNION SELECT node_b FROM intermediate.int_identity_edges
        )
        SELECT h.identifier_hash, n.node
        FROM nodes AS n JOIN erased AS h ON {erasure_hash_sql('n.node')} = h.identifier_hash
        """,
        [sorted(known)],
    ).fetchall()
    out = []
    for digest, node in rows:
        kind, _, value = node.partition(":")
        out.append((digest, kind, value))
    return out


def check_models_key(con: duckdb.DuckDBPyConnection, salt: str) -> None:
    """Stop when the models hashed with another key than `salt`: then the hash of a request's own identifier
    (its email, its shop customer id) is not among the identity graph's erased hashes."""
    if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'staging' "
                       "AND table_name = 'stg_privacy__deletion_requests'").fetchone()[0]:
        return
    set_erasure_key(con, salt)
    missing = con.execute(
        f"""
        WITH requested AS (
            SELECT 'email:' || email AS node FROM staging.stg_privacy__deletion_requests WHERE email IS NOT NULL
            UNION SELECT 'shop:' || CAST(customer_id AS VARCHAR) FROM staging.stg_privacy__deletion_requests
            WHERE customer_id IS NOT NULL
        )
        SELECT count(*) FROM requested
        WHERE {erasure_hash_sql('node')} NOT IN (
            SELECT identifier_hash FROM intermediate.int_identity_resolved WHERE is_erased)
        """
    ).fetchone()[0]
    if missing:
        raise ErasureKeyMismatch(
            f"erasure purge: {missing} identifiers of deletion requests have no erased hash made with this "
            "erasure key: dbt built the models with another C360_ERASURE_SALT than this process's. Set the same "
            "key for both; nothing was purged."
        )


# Around an email or anonymous id in free text: not part of a longer one ("xerin@…" is someone else).
_BEFORE = r"(^|[^a-z0-9._%+\-])"
_AFTER = r"($|[^a-z0-9_%+\-.]|\.($|[^a-z0-9]))"
# A shop id as the value of a customer-id field of a JSON record, or as a bare CSV field.
_SHOP_FIELDS = r'"(id|customer_id|shop_customer_id|referrer_customer_id|userid)"\s*:\s*"?'


def _alternation(values: Sequence[str]) -> str | None:
    """One RE2 alternation of literal values (longest first), or None when there are none."""
    if not values:
        return None
    return "(" + "|".join(re.escape(v) for v in sorted(set(values), key=lambda v: (-len(v), v))) + ")"


def _load_values(con, values: list[tuple[str, str, str]]) -> None:
    """The erased values as the temp table `erased_values(kind, value)` (lower-cased emails), and as three
    regular expressions in session variables for free text: one compiled pattern per scan, whatever the
    number of values, instead of a test per row and value."""
    con.execute("CREATE OR REPLACE TEMP TABLE erased_values (kind VARCHAR, value VARCHAR)")
    if values:
        con.execute(
            "INSERT INTO erased_values SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
            [[v[1] for v in values], [v[2].lower() if v[1] == "email" else v[2] for v in values]],
        )
    texts = _alternation([v[2].lower() for v in values if v[1] in ("email", "anon")])
    shops = _alternation([v[2] for v in values if v[1] == "shop"])
    text = texts and _BEFORE + texts + _AFTER
    shop = shops and [_SHOP_FIELDS + shops + "([^0-9]|$)", "(^|,)" + shops + "(,|$)"]
    # One pattern per kind of column, so each value is read once: free text, and records (shop ids too).
    con.execute("SET VARIABLE c360_erased_text = ?", [text])
    con.execute("SET VARIABLE c360_erased_record = ?", ["|".join(f"({p})" for p in [text, *(shop or [])] if p) or None])


def _in_values(expr: str, kind: str) -> str:
    """The value is an erased one of that kind (temp table erased_values)."""
    return f"coalesce({expr} IN (SELECT value FROM erased_values WHERE kind = '{kind}'), false)"


def raw_predicate(entity_name: str) -> str | None:
    """SQL true for a raw record of an erased person (None: the entity holds no identifier)."""
    return identifier_predicate(entity_name, _in_values)


def _text_predicate(column: str, *, shop_ids: bool = True) -> str:
    """SQL true for free text (a quarantined line, a record kept as JSON) holding an erased value: an email or
    anonymous id anywhere; with `shop_ids`, also a shop id as a customer-id field's value or a bare CSV field.
    The patterns are the session variables `_load_values` sets (a null pattern matches nothing)."""
    pattern = "c360_erased_record" if shop_ids else "c360_erased_text"
    return f"coalesce(regexp_matches({column}, getvariable('{pattern}'), 'i'), false)"


def _purge_raw_entity(con, raw_root: Path, entity: Entity, now: datetime, result: PurgeResult) -> None:
    """Rewrite the entity's partitions holding erased records or quarantined lines: every such day written in one
    partitioned COPY per file kind into a hidden folder, then each day swapped in (the loader's swap)."""
    root = raw_root / entity.name
    if not root.is_dir():
        return
    predicate = raw_predicate(entity.name) if entity.name not in KEPT_ENTITIES else None
    removed: dict[str, int] = {}  # landing file -> erased records removed (file names are unique per entity)
    days: set[str] = set()
    if predicate and any(root.glob(f"dt=*/{DATA_FILE}")):
        for path, file, n in con.execute(
            f"SELECT filename, _file, count(*) FROM read_parquet({_lit(root / 'dt=*' / DATA_FILE)}, "
            f"filename=true, hive_partitioning=false) WHERE {predicate} GROUP BY ALL"
        ).fetchall():
            days.add(Path(path).parent.name)
            removed[file] = n
    if entity.name not in KEPT_ENTITIES and any(root.glob(f"dt=*/{QUARANTINE_FILE}")):
        days |= {Path(r[0]).parent.name for r in con.execute(
            f"SELECT DISTINCT filename FROM read_parquet({_lit(root / 'dt=*' / QUARANTINE_FILE)}, filename=true, "
            f"hive_partitioning=false) WHERE {_text_predicate('raw_text')}"
        ).fetchall()}
    if not days:
        return
    work = root / f".tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir()
    try:
        _rewrite_partitions(con, root, sorted(days), work, predicate, removed, now, result)
        for day in sorted(days):
            written = work / day
            result.bytes_rewritten += sum(p.stat().st_size for p in written.iterdir())
            _write_day(written, root / day)
            result.partitions_rewritten += 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.raw_rows[entity.name] = result.raw_rows.get(entity.name, 0) + sum(removed.values())


def _files_of(root: Path, days: list[str], name: str) -> list[Path]:
    return [root / day / name for day in days if (root / day / name).is_file()]


def _partitioned_copy(con, select: str, files: list[Path], work: Path, pattern: str, final: str,
                      options: str = "") -> None:
    """COPY `select` (over `src`, the files read with their names) into `<work>/dt=<day>/<final>` per day (the
    day folders exist)."""
    paths = "[" + ", ".join(_lit(f) for f in files) + "]"
    out = work / f"_{final}"  # COPY ... PARTITION_BY writes into a folder of its own
    con.execute(
        f"COPY (SELECT * EXCLUDE (filename), regexp_extract(filename, 'dt=([^/]+)/[^/]+$', 1) AS _day "
        f"FROM ({select.format(src=f'read_parquet({paths}, filename=true, hive_partitioning=false)')})) "
        f"TO {_lit(out)} (FORMAT parquet, PARTITION_BY (_day), FILENAME_PATTERN '{pattern}', "
        f"WRITE_PARTITION_COLUMNS false{options})")
    for written in out.glob(f"_day=*/{pattern.replace('{i}', '0')}.parquet"):
        written.rename(work / f"dt={written.parent.name[len('_day='):]}" / final)
    shutil.rmtree(out)


def _keep_empty_days(con, files: list[Path], work: Path, name: str) -> None:
    """A day the partitioned COPY wrote nothing for (every row of it removed) still gets its file, empty."""
    for day_file in files:
        target = work / day_file.parent.name / name
        if not target.exists():
            con.execute(f"COPY (SELECT * FROM read_parquet({_lit(day_file)}, hive_partitioning=false) "
                        f"WHERE false) TO {_lit(target)} (FORMAT parquet)")


def _rewrite_partitions(con, root: Path, days: list[str], work: Path, predicate: str | None, removed: dict[str, int],
                        now: datetime, result: PurgeResult) -> None:
    """Write each of `days` without the erased records and quarantined lines into `<work>/<day>/`."""
    for day in days:
        (work / day).mkdir()
    data = _files_of(root, days, DATA_FILE)
    if data:
        keep = f"WHERE NOT ({predicate})" if predicate else ""
        _partitioned_copy(con, f"SELECT * FROM {{src}} {keep}", data, work, "data_{i}", DATA_FILE,
                          ", COMPRESSION zstd")
        _keep_empty_days(con, data, work, DATA_FILE)
    quarantine = _files_of(root, days, QUARANTINE_FILE)
    if quarantine:
        paths = "[" + ", ".join(_lit(f) for f in quarantine) + "]"
        before = con.execute(f"SELECT count(*) FROM read_parquet({paths})").fetchone()[0]
        _partitioned_copy(con, f"SELECT * FROM {{src}} WHERE NOT {_text_predicate('raw_text')}", quarantine, work,
                          "_quarantine{i}", QUARANTINE_FILE)
        _keep_empty_days(con, quarantine, work, QUARANTINE_FILE)
        kept = [work / f.parent.name / QUARANTINE_FILE for f in quarantine]
        result.quarantine_lines += before - con.execute(
            "SELECT count(*) FROM read_parquet([" + ", ".join(_lit(f) for f in kept) + "])").fetchone()[0]
    manifests = _files_of(root, days, MANIFEST_FILE)
    if manifests:
        # Each file keeps its sha256 (the landing file did not change) and is marked redacted, with the records
        # it still contributes.
        stamp = now.strftime("%Y-%m-%d")
        counts = "(SELECT unnest(" + _lit_list(list(removed)) + ") AS file, unnest(" + \
            "[" + ", ".join(str(removed[f]) for f in removed) + "]::BIGINT[]) AS n)"
        _partitioned_copy(con, f"""
            SELECT m.* REPLACE (
                CASE WHEN r.n IS NOT NULL THEN 'redacted' ELSE m.status END AS status,
                CASE WHEN r.n IS NOT NULL THEN concat_ws('; ', nullif(m.detail, ''),
                    r.n || ' records of erased people removed {stamp}') ELSE m.detail END AS detail,
                m.rows_loaded - coalesce(r.n, 0) AS rows_loaded)
            FROM {{src}} AS m LEFT JOIN {counts} AS r USING (file)""", manifests, work, "_manifest{i}", MANIFEST_FILE)


def _lit_list(values: list[str]) -> str:
    return "[" + ", ".join(_lit(v) for v in values) + "]::VARCHAR[]"


def _table_predicate(columns: Sequence[tuple[str, str]]) -> str | None:
    """SQL true for a warehouse row of an erased person, from its columns' names and types: email columns
    (normalised), customer-id and anonymous-id columns, identity-graph node strings and JSON or text holding
    an email or anonymous id (the raw record kept for lineage)."""
    parts = []
    for name, typ in columns:
        lowered, text_type = name.lower(), typ.upper() in ("VARCHAR", "JSON")
        col = _q(name)
        if "email" in lowered and text_type:
            parts.append(_in_values(f"nullif(lower(trim({col})), '')", "email"))
        if lowered.endswith("customer_id") or lowered in ("userid", "user_id"):
            parts.append(_in_values(f"CAST({col} AS VARCHAR)", "shop"))
        if lowered in ("anonymous_id", "anonymousid", "anon_id"):
            parts.append(_in_values(f"CAST({col} AS VARCHAR)", "anon"))
        if text_type:
            # Identity-graph node strings where a column holds them (an equality probe); text holding an email
            # or anonymous id only in columns of free text or records (a regular expression over every code, id
            # and category column of the event tables would cost more than all the rest); a shop id only where
            # the text is a record (JSON, a raw line), as a customer-id field: elsewhere a number may be anything.
            if NODE_COLUMN.search(lowered):
                parts.append(f"coalesce({col} IN (SELECT prefix || value FROM erased_nodes), false)")
            record = typ.upper() == "JSON" or lowered in ("_record", "line", "record") \
                or lowered.startswith(("source_", "raw"))
            if record or FREE_TEXT_COLUMN.search(lowered):
                parts.append(f"coalesce({_text_predicate(col, shop_ids=record)}, false)")
    return " OR ".join(parts) if parts else None


def purge_database(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, int]:
    """Delete the erased people's rows from every base table of `catalog` (the temp table erased_values must
    exist); returns rows deleted per table. Checkpoints when anything was deleted."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE erased_nodes AS SELECT CASE kind WHEN 'shop' THEN 'shop:' WHEN 'email' "
        "THEN 'email:' ELSE 'anon:' END AS prefix, value FROM erased_values"
    )
    tables = con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? AND NOT temporary "
        "ORDER BY ALL", [catalog]).fetchall()
    deleted: dict[str, int] = {}
    for schema, table in tables:
        if schema in KEPT_SCHEMAS or (schema, table) in KEPT_TABLES:
            continue
        columns = con.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = ? AND schema_name = ? "
            "AND table_name = ?", [catalog, schema, table]).fetchall()
        predicate = _table_predicate(columns)
        if predicate is None:
            continue
        n = con.execute(f"DELETE FROM {_q(catalog)}.{_q(schema)}.{_q(table)} WHERE {predicate}").fetchone()[0]
        if n:
            deleted[f"{schema}.{table}"] = n
    if deleted:
        con.execute(f"CHECKPOINT {_q(catalog)}")
    return deleted


def compact(database: Path) -> int:
    """Rewrite a DuckDB file whole (COPY FROM DATABASE into a new file, renamed over it), so no freed block
    keeps deleted values; returns the new file's size. No other connection may hold the file."""
    tmp = database.with_name(f".{database.name}.{uuid.uuid4().hex[:8]}.compact")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_lit(database)} AS src")
        con.execute(f"ATTACH {_lit(tmp)} AS fresh")
        con.execute("COPY FROM DATABASE src TO fresh")
        con.execute("DETACH fresh")
        con.execute("DETACH src")
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        con.close()
    os.replace(tmp, database)
    database.with_name(database.name + ".wal").unlink(missing_ok=True)
    return database.stat().st_size


def purge_serving(con: duckdb.DuckDBPyConnection, serving_db: Path) -> tuple[dict[str, int], int]:
    """Purge serving.duckdb the way publish writes it: on a copy, rewritten whole and renamed over the file, so
    BI readers holding it open keep their version and never block the purge. Returns (rows deleted per table,
    bytes written); the file is left as it was when nothing of the erased people is in it."""
    work = serving_db.with_name(f".{serving_db.name}.{uuid.uuid4().hex[:8]}.purge")
    shutil.copy2(serving_db, work)
    try:
        con.execute(f"ATTACH {_lit(work)} AS purge_serving")
        try:
            deleted = purge_database(con, "purge_serving")
        finally:
            con.execute("DETACH purge_serving")
        if not deleted:
            return {}, 0
        written = compact(work)
        os.replace(work, serving_db)
        return deleted, written
    finally:
        work.unlink(missing_ok=True)
        work.with_name(work.name + ".wal").unlink(missing_ok=True)


def remove_temp_files(serving_db: Path, outbox_dir: Path) -> int:
    """Remove leftovers of interrupted writes that may hold personal data: publish's temporary serving files
    and the outbox's `.tmp` files. Runs inside the one-writer pool, so none is being written."""
    removed = 0
    candidates = list(serving_db.parent.glob(f".{serving_db.name}.*.tmp"))
    candidates += list(serving_db.parent.glob(f".{serving_db.name}.*.tmp.wal"))
    if outbox_dir.is_dir():
        candidates += list(outbox_dir.rglob("*.tmp"))
    for path in candidates:
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def compaction_pending_since(lake_root: Path) -> datetime | None:
    """When rows were first deleted from the working warehouse since it was last rewritten whole (None: never)."""
    path = lake_root / "privacy" / COMPACTION_FILE
    if not path.is_file():
        return None
    return datetime.fromisoformat(json.loads(path.read_text())["pending_since"])


def _set_compaction_pending(lake_root: Path, since: datetime | None) -> None:
    path = lake_root / "privacy" / COMPACTION_FILE
    if since is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"pending_since": since.isoformat()}))
    os.replace(tmp, path)


def _compact_when_due(result: PurgeResult, warehouse_db: Path, lake_root: Path, now: datetime, within_days: int,
                      close_warehouse, lap: float) -> None:
    """Rewrite the working warehouse whole when a deletion from it has waited `within_days` (DELETE and
    CHECKPOINT free blocks without overwriting them; only a new file holds none of the deleted values)."""
    if close_warehouse is None:
        return
    pending = compaction_pending_since(lake_root)
    if result.warehouse_rows and pending is None:
        pending = now
        _set_compaction_pending(lake_root, pending)
    result.compaction_pending_since = pending
    if pending is None or now - pending < timedelta(days=within_days):
        return
    close_warehouse()
    result.bytes_rewritten += compact(warehouse_db)
    result.compacted.append(warehouse_db.name)
    _set_compaction_pending(lake_root, None)
    result.compaction_pending_since = None
    result.timed("compact_warehouse", lap)


def purge_erased(
    warehouse: duckdb.DuckDBPyConnection,
    *,
    warehouse_db: Path,
    serving_db: Path,
    lake_root: Path,
    outbox_dir: Path,
    salt: str,
    now: datetime | None = None,
    close_warehouse=None,
    compact_within_days: int = 0,
) -> PurgeResult:
    """Purge every stored copy of the identifiers erased since the last purge (see the module docstring).

    `warehouse` is a connection to the working warehouse; `close_warehouse`, when given, closes it so that the
    working warehouse can be rewritten whole once rows were deleted from it (freed blocks keep deleted values):
    at the first purge at least `compact_within_days` days after the first deletion not yet rewritten (0: at
    once), whether or not that purge finds anyone new.
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    graph = warehouse.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'intermediate' "
        "AND table_name IN ('int_identity_resolved', 'int_identity_edges')").fetchone()[0]  # edges: a view on DuckDB
    if graph < 2:  # the identity graph is not built (yet): nobody is known to be erased
        log.warning("purge: the identity graph (intermediate.int_identity_resolved, _edges) is not built; skipped")
        return PurgeResult(temp_files_removed=remove_temp_files(serving_db, outbox_dir))
    check_models_key(warehouse, salt)
    check_key(lake_root, salt, "erasure purge", record=True)
    result = PurgeResult()
    result.temp_files_removed = remove_temp_files(serving_db, outbox_dir)
    known = read_suppression(warehouse, lake_root)
    values = erased_values(warehouse, salt, known)
    if not values:
        _compact_when_due(result, warehouse_db, lake_root, now, compact_within_days, close_warehouse, started)
        result.seconds = time.perf_counter() - started
        return result
    _load_values(warehouse, values)
    lap = result.timed("find", started)
    raw_root = lake_root / "raw"
    for entity in ENTITIES:
        _purge_raw_entity(warehouse, raw_root, entity, now, result)
    lap = result.timed("lake", lap)
    catalog = warehouse.execute("SELECT current_database()").fetchone()[0]
    result.warehouse_rows = purge_database(warehouse, catalog)
    lap = result.timed("warehouse", lap)
    if serving_db.is_file():
        result.serving_rows, written = purge_serving(warehouse, serving_db)
        result.bytes_rewritten += written
        if written:
            result.compacted.append(serving_db.name)
    lap = result.timed("serving", lap)
    emails = {v[2].lower() for v in values if v[1] == "email"}
    if emails and outbox_dir.is_dir():
        from orchestration.activation.destinations.file import scrub_outbox

        result.outbox_rows = scrub_outbox(outbox_dir, emails, emails)
    hashes = sorted({(v[0], {"shop": "shop_customer_id", "email": "email", "anon": "anonymous_id"}[v[1]])
                     for v in values})
    _append_suppression(warehouse, lake_root, hashes, now)
    result.identifiers = len(hashes)
    lap = result.timed("outbox_and_list", lap)
    _compact_when_due(result, warehouse_db, lake_root, now, compact_within_days, close_warehouse, lap)
    result.seconds = time.perf_counter() - started
    log.info("purge: %s", result.metadata())
    return result
