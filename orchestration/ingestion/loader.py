"""Load landing files into the Parquet raw layer, exactly once, quarantining what cannot be read.

For one entity and a set of file dates:
1. every file is hashed and compared with the manifest of its day's partition (a file whose size and
   modification time are those it had when last hashed is not read again: `HASH_CACHE_FILE`): an
   unchanged day is skipped, a file re-delivered under the same name with other bytes (or a loaded file
   that vanished) leaves the day's partition untouched and is reported, a file whose bytes equal one
   already loaded is recorded as a duplicate delivery and not read again;
2. the remaining days are read in chunks of bounded size by DuckDB itself: each line as text with its
   line number, then parsed, typed and validated in one set-based statement; a line that fails
   goes to quarantine with the reason, never lost, never stopping the file;
3. each day is written into a hidden temporary folder (data, `_quarantine` and `_manifest` Parquet
   files together) and renamed over `dt=YYYY-MM-DD/`, so a day is replaced whole or not at all.

One bad file never stops a chunk: when DuckDB cannot read a chunk (invalid UTF-8, a line longer than
`max_line_bytes`, a corrupt or truncated gzip), its files are read one at a time, and only a file that fails
alone is decoded in Python: a line that is not UTF-8 or too long is quarantined with its number, a file
that cannot be decoded at all (decompression error, UTF-16/32, binary) is quarantined whole with its reason.
The clean path stays one set-based read.

Landing paths and values only ever reach DuckDB as bound parameters, never as SQL text, and paths as
literal names, never as glob patterns (`_literal_path`).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from orchestration.ingestion.entities import Entity, Field
from orchestration.ingestion.landing import LandingFile

# DuckDB's CSV reader as a line reader: one VARCHAR column, no quoting, a 4-byte delimiter that
# does not occur in text, so every physical line arrives whole and in order (WITH ORDINALITY). It splits
# at \n, \r\n and a lone \r, skips a UTF-8 byte-order mark, and raises on invalid UTF-8 and on a line
# longer than its max_line_size (counted with the line's terminator).
_LINE_READER = (
    "columns={'line': 'VARCHAR'}, header=false, auto_detect=false, "
    "delim=E'\\x1e\\x1f\\x1e\\x1f', quote='', escape='', strict_mode=false, compression='auto'"
)
# Longest line (bytes, without its terminator) read as a record; a longer one is quarantined. Far above any
# record of the contract (a few KB): it bounds the memory a single line can take. C360_MAX_LINE_BYTES.
DEFAULT_MAX_LINE_BYTES = 1024 * 1024
# Of a line quarantined because it could not be decoded or was too long, raw_text keeps this many
# characters, undecodable bytes written as \xNN.
RAW_TEXT_CHARS = 1000
# `*`, `?` and `[` make DuckDB's readers expand a path as a glob pattern.
_GLOB_CHARS = re.compile(r"([\[*?])")
# One RFC 4180 field: quoted ("" escapes a quote) or bare. Used to split POS CSV lines in SQL.
_CSV_FIELD = r'(?:^|,)("(?:[^"]|"")*"|[^,"]*)'
DATA_FILE = "data_0.parquet"
QUARANTINE_FILE = "_quarantine.parquet"
MANIFEST_FILE = "_manifest.parquet"
DEFAULT_CHUNK_BYTES = 256 * 1024 * 1024
# Per entity folder: (file, size, modification time) -> sha256 of the files hashed before, so a run does
# not read again the gigabytes of landing files that did not change. Only a hint: lost or unreadable, the
# files are hashed again.
HASH_CACHE_FILE = "_hash_cache.parquet"
# A file's modification time is cached with its hash only when it is this much older than the hashing:
# a later write then gets a later time even on file systems that keep times in 2-second steps (FAT).
MTIME_SETTLED_NS = 2_000_000_000
# Set to 1 to hash every landing file on every run, trusting no cached (size, modification time).
REHASH_ENV = "C360_LANDING_REHASH"


@dataclass
class FileResult:
    """What happened to one landing file."""

    rel_path: str
    sha256: str
    size_bytes: int
    status: str  # loaded | duplicate | conflict | quarantined (could not be decoded: `detail` says why)
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    blank_lines: int = 0
    detail: str = ""
    rows_suppressed: int = 0  # records of erased people dropped (suppression.Suppressor), in rows_read


@dataclass
class PartitionResult:
    """What happened to one day (partition) of one entity."""

    partition: date
    status: str  # loaded | unchanged | conflict | missing_file | withdrawn
    files: list[FileResult] = field(default_factory=list)
    detail: str = ""

    @property
    def rows_read(self) -> int:
        """Lines read from the day's files (blank lines excluded)."""
        return sum(f.rows_read for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Records written to the raw partition."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_quarantined(self) -> int:
        """Lines written to quarantine."""
        return sum(f.rows_quarantined for f in self.files)


@dataclass
class EntityLoadResult:
    """The outcome of loading a range of days of one entity."""

    entity: Entity
    partitions: list[PartitionResult] = field(default_factory=list)

    def count(self, status: str) -> int:
        """Number of partitions with that status."""
        return sum(p.status == status for p in self.partitions)

    @property
    def rows_read(self) -> int:
        """Lines read in this load."""
        return sum(p.rows_read for p in self.partitions if p.status == "loaded")

    @property
    def rows_loaded(self) -> int:
        """Records written in this load."""
        return sum(p.rows_loaded for p in self.partitions if p.status == "loaded")

    @property
    def rows_quarantined(self) -> int:
        """Lines quarantined in this load."""
        return sum(p.rows_quarantined for p in self.partitions if p.status == "loaded")

    @property
    def bytes_read(self) -> int:
        """Bytes of landing files read in this load."""
        return sum(
            f.size_bytes for p in self.partitions if p.status == "loaded" for f in p.files
            if f.status == "loaded"
        )

    @property
    def problems(self) -> list[str]:
        """Human-readable errors: conflicting or vanished files, with the file named."""
        return [p.detail for p in self.partitions if p.status in ("conflict", "missing_file")]

    @property
    def quarantined_files(self) -> list[str]:
        """Files of this load quarantined whole because they could not be decoded, each with its reason."""
        return [f"{f.rel_path}: {f.detail}" for p in self.partitions if p.status == "loaded" for f in p.files
                if f.status == "quarantined"]


def connect(memory_limit: str = "3GB", threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection for ingestion work, in UTC with bounded memory."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _existing_manifest(con, raw_root: Path, entity: Entity) -> dict[date, dict[str, tuple[str, str]]]:
    """Per loaded day: file -> (sha256, status), read from the partitions' `_manifest` files."""
    pattern = str(raw_root / entity.name / "dt=*" / MANIFEST_FILE)
    try:
        rows = con.execute(
            "SELECT partition_date, file, sha256, status FROM read_parquet(?)", [pattern]
        ).fetchall()
    except duckdb.IOException:
        return {}
    out: dict[date, dict[str, tuple[str, str]]] = {}
    for day, file, sha, status in rows:
        out.setdefault(day, {})[file] = (sha, status)
    return out


def _recover_interrupted_swaps(entity_root: Path) -> None:
    """Put back a partition whose swap was interrupted between its two renames."""
    if not entity_root.is_dir():
        return
    for old in entity_root.glob(".old-dt=*"):
        target = entity_root / old.name[len(".old-"):].rsplit(".", 1)[0]
        if not target.exists():
            old.rename(target)
        else:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in entity_root.glob(".tmp-*"):
        if tmp.is_dir():
            shutil.rmtree(tmp, ignore_errors=True)
        else:  # a hash cache being written (its writer then only misses the cache) or left by a crash
            tmp.unlink(missing_ok=True)


def _hash_file(f: LandingFile) -> tuple[str, int | None]:
    """The file's sha256, and the modification time that may stand for these bytes later (else None).

    The time stands for the bytes only when the file had it at the scan and it is older than the hashing
    by MTIME_SETTLED_NS: a write during or after the hashing then leaves a later time. (A write in the same
    time step as the hashing is the "racy" case that version control systems guard the same way.)
    """
    started = time.time_ns()
    before = os.stat(f.path)
    digest = f.sha256()
    settled = (
        before.st_mtime_ns == f.mtime_ns and before.st_size == f.size
        and before.st_mtime_ns < started - MTIME_SETTLED_NS
    )
    return digest, before.st_mtime_ns if settled else None


def _hash_all(files: Sequence[LandingFile]) -> dict[Path, tuple[str, int | None]]:
    """_hash_file of every file, on as many threads as cores (hashlib and file reads release the GIL)."""
    if len(files) < 2:
        return {f.path: _hash_file(f) for f in files}
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        return dict(zip((f.path for f in files), pool.map(_hash_file, files), strict=True))


def _read_hash_cache(con, entity_root: Path) -> dict[str, tuple[int, int, str]]:
    """file -> (size, mtime_ns, sha256) from the entity's hash cache; empty when absent or unreadable."""
    path = entity_root / HASH_CACHE_FILE
    if not path.is_file():
        return {}
    try:
        rows = con.execute("SELECT file, size_bytes, mtime_ns, sha256 FROM read_parquet(?)", [str(path)]).fetchall()
    except duckdb.Error:
        return {}
    return {file: (size, mtime, sha) for file, size, mtime, sha in rows}


def _write_hash_cache(con, entity_root: Path, entries: dict[str, tuple[int, int, str]]) -> None:
    """Replace the entity's hash cache whole (a new file renamed over the old: readers never see half).

    Best effort: a cache that cannot be written (or a concurrent writer's that wins) costs only hashing.
    """
    tmp = entity_root / f".tmp-{uuid.uuid4().hex[:12]}{HASH_CACHE_FILE}"
    files = sorted(entries)
    try:
        entity_root.mkdir(parents=True, exist_ok=True)
        con.execute(
            "COPY (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::BIGINT[]) AS size_bytes, "
            "unnest(?::BIGINT[]) AS mtime_ns, unnest(?::VARCHAR[]) AS sha256) "
            f"TO '{_sql_path(tmp)}' (FORMAT parquet)",
            [files, *[[entries[f][i] for f in files] for i in range(3)]],
        )
        os.replace(tmp, entity_root / HASH_CACHE_FILE)
    except (OSError, duckdb.Error):
        tmp.unlink(missing_ok=True)


def hash_landing_files(con, raw_root: Path, entity: Entity, files: Sequence[LandingFile],
                       wanted: Sequence[LandingFile]) -> dict[Path, str]:
    """sha256 of each `wanted` file: from the entity's hash cache when the file's size and modification time
    are those it had when hashed (the quick check of rsync and version control: re-delivering a file
    rewrites it and changes its time), else by reading it. Settled new hashes are added to the cache, and
    files no longer in `files` (the entity's whole landing folder) dropped from it. C360_LANDING_REHASH=1
    reads every file."""
    entity_root = raw_root / entity.name
    rehash = os.environ.get(REHASH_ENV, "") not in ("", "0")
    cache = _read_hash_cache(con, entity_root)
    digests: dict[Path, str] = {}
    for f in wanted:
        cached = cache.get(f.rel_path)
        if cached and cached[:2] == (f.size, f.mtime_ns) and not rehash:
            digests[f.path] = cached[2]
    hashed = _hash_all([f for f in wanted if f.path not in digests])
    by_path = {f.path: f for f in wanted}
    landed = {f.rel_path for f in files}
    kept = {rel: entry for rel, entry in cache.items() if rel in landed}
    for path, (digest, mtime) in hashed.items():
        digests[path] = digest
        rel = by_path[path].rel_path
        if mtime is not None:
            kept[rel] = (by_path[path].size, mtime, digest)
        else:  # rewritten moments ago: hashed again next time
            kept.pop(rel, None)
    if kept != cache:
        _write_hash_cache(con, entity_root, kept)
    return digests


def plan_partitions(
    con, raw_root: Path, entity: Entity, files: Sequence[LandingFile], days: Iterable[date],
    replaceable: Iterable[date] = (),
) -> tuple[list[PartitionResult], dict[date, list[tuple[LandingFile, FileResult]]]]:
    """Decide, per day, whether it is unchanged, in conflict, or to be (re)loaded.

    Returns the results of the days that are not loaded and, for the days to load, their files with
    a pending FileResult (status `loaded` or `duplicate`). The `replaceable` days are loaded but have not
    passed their audit (ingestion/ledger.py): nothing downstream read them, so a file of theirs rewritten or
    removed is not a conflict; the day is loaded again from the files now landed (`withdrawn` when none is left).
    """
    replaceable = set(replaceable)
    by_day: dict[date, list[LandingFile]] = {}
    for f in files:
        by_day.setdefault(f.file_date, []).append(f)
    manifest = _existing_manifest(con, raw_root, entity)
    # A content hash already loaded on another day, or earlier in this run, marks a duplicate delivery.
    # A `redacted` file (records of erased people purged since: orchestration.privacy.purge) still counts, and
    # so does a `retired` one (deleted from the landing zone by retention: ingestion/retention.py).
    seen: dict[str, tuple[date, str]] = {
        sha: (day, file) for day, day_files in manifest.items() for file, (sha, status) in day_files.items()
        if status in ("loaded", "redacted", "retired")
    }
    decided: list[PartitionResult] = []
    to_load: dict[date, list[tuple[LandingFile, FileResult]]] = {}
    wanted = sorted(set(days))
    digests = hash_landing_files(con, raw_root, entity, files, [f for day in wanted for f in by_day.get(day, [])])
    for day in wanted:
        landed = by_day.get(day, [])
        previous = manifest.get(day, {})
        if not landed and not previous:
            continue
        hashed = [(f, digests[f.path]) for f in landed]
        # A file quarantined whole was never loaded: replacing or removing it reloads the day.
        kept = {file: sha for file, (sha, status) in previous.items() if status != "quarantined"}
        conflicts = [f.rel_path for f, sha in hashed if f.rel_path in kept and kept[f.rel_path] != sha]
        if day in replaceable and previous and (conflicts or set(previous) - {f.rel_path for f in landed}):
            seen = {sha: where for sha, where in seen.items() if where[0] != day}
            conflicts, previous, kept = [], {}, {}
            if not landed:
                decided.append(PartitionResult(day, "withdrawn", [], f"{entity.name} {day}: every file of the "
                                               "day, not yet audited, was removed: the partition is withdrawn"))
                continue
        retired = {file for file, (_, status) in previous.items() if status == "retired"}
        if retired and not conflicts:
            # The day cannot be loaded again: some of its files are gone on purpose. The same bytes delivered
            # again change nothing; anything else is a conflict that names the files.
            loaded_files = {(file, sha) for file, (sha, _) in previous.items()}
            extra = [f.rel_path for f, sha in hashed if (f.rel_path, sha) not in loaded_files]
            removed = sorted(set(kept) - retired - {f.rel_path for f in landed})
            if extra:
                decided.append(PartitionResult(
                    day, "conflict",
                    [FileResult(f.rel_path, sha, f.size, "conflict") for f, sha in hashed if f.rel_path in extra],
                    f"{entity.name} {day}: {', '.join(extra)} landed for a day whose files were deleted by landing "
                    "retention (C360_LANDING_RETENTION_DAYS): the day cannot be loaded again with them; the "
                    "previously loaded partition is kept",
                ))
            elif removed:
                decided.append(PartitionResult(
                    day, "missing_file", [],
                    f"{entity.name} {day}: previously loaded file no longer in the landing zone: "
                    f"{', '.join(removed)}; the previously loaded partition is kept",
                ))
            else:
                decided.append(PartitionResult(day, "unchanged"))
            continue
        if conflicts:
            decided.append(PartitionResult(
                day, "conflict",
                [FileResult(f.rel_path, sha, f.size, "conflict") for f, sha in hashed if f.rel_path in conflicts],
                f"{entity.name} {day}: file re-delivered with different bytes: {', '.join(conflicts)}; "
                "the previously loaded partition is kept",
            ))
            continue
        vanished = sorted(set(kept) - {f.rel_path for f in landed})
        if vanished:
            decided.append(PartitionResult(
                day, "missing_file", [],
                f"{entity.name} {day}: previously loaded file no longer in the landing zone: "
                f"{', '.join(vanished)}; the previously loaded partition is kept",
            ))
            continue
        if previous and {(f.rel_path, sha) for f, sha in hashed} == {(f, sha) for f, (sha, _) in previous.items()}:
            decided.append(PartitionResult(day, "unchanged"))
            continue
        pending = []
        for f, sha in hashed:
            original = seen.get(sha)
            if original and original != (day, f.rel_path):
                result = FileResult(f.rel_path, sha, f.size, "duplicate", detail=f"same bytes as {original[1]}")
            else:
                result = FileResult(f.rel_path, sha, f.size, "loaded")
                seen[sha] = (day, f.rel_path)
            pending.append((f, result))
        to_load[day] = pending
    return decided, to_load


def _chunks(
    to_load: dict[date, list[tuple[LandingFile, FileResult]]], chunk_bytes: int
) -> Iterable[list[date]]:
    """Group whole days into chunks of at most `chunk_bytes` of landing files (one day at least)."""
    chunk: list[date] = []
    size = 0
    for day in sorted(to_load):
        day_size = sum(f.size for f, r in to_load[day] if r.status == "loaded")
        if chunk and size + day_size > chunk_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(day)
        size += day_size
    if chunk:
        yield chunk


def _lines_sql(n_files: int, max_line_bytes: int) -> str:
    """One line-reader scan per file, so line numbers restart at 1 in each file. Parameters per file:
    its name, its date and its `_literal_path`."""
    # DuckDB counts the terminator in max_line_size: +2 lets every line of max_line_bytes through even with
    # \r\n, so a line it refuses is always one the Python decoder also finds too long.
    one = (
        "SELECT ?::VARCHAR AS _file, ?::DATE AS dt, ordinality AS _line, line "
        f"FROM read_csv(?, {_LINE_READER}, max_line_size={int(max_line_bytes) + 2}) WITH ORDINALITY"
    )
    return "\nUNION ALL\n".join([one] * n_files)


def _literal_path(path: Path) -> str:
    """The path as DuckDB's readers must get it to read that one file: `*`, `?` and `[` (glob syntax, which
    would match other files) each become a one-character class (`[*]`) that matches only itself."""
    return _GLOB_CHARS.sub(r"[\1]", str(path))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _typed(f: Field) -> str:
    """The column holding the field's typed value inside the parse statement (prefixed, so a field
    named like a working column cannot clash)."""
    return _q(f"__typed_{f.name}")


_NUMBER_PATTERNS = {"int": "-?[0-9]+", "money": "-?[0-9]+(\\.[0-9]+)?"}


def _type_check(f: Field) -> tuple[str, str] | None:
    """SQL that is true when the non-null text value `v.<f>` cannot become the field's type, and SQL for a
    note appended to the reason (evaluated only for the values that fail)."""
    if f.type in _NUMBER_PATTERNS:
        # The pattern refuses what TRY_CAST would accept but is not a plain number (`1e3`, `+5`); a number of
        # the pattern whose TRY_CAST is NULL does not fit the type (BIGINT, DECIMAL(18,2)): never a NULL.
        plain = f"regexp_full_match(trim(v.{_q(f.name)}), '{_NUMBER_PATTERNS[f.type]}')"
        return f"(NOT {plain} OR {_typed(f)} IS NULL)", f"CASE WHEN {plain} THEN ' (out of range)' ELSE '' END"
    if f.type in ("timestamp", "bool"):
        # the TRY_CAST of `_typed_value` failed on a non-null text (an impossible date among them)
        return f"{_typed(f)} IS NULL", "''"
    return None


def _typed_value(f: Field) -> str:
    v = f"v.{_q(f.name)}"
    if f.type == "string":
        value = v
    elif f.type == "json":
        value = f"{v}::JSON"
    elif f.type in ("int", "money"):
        value = f"TRY_CAST(trim({v}) AS {f.duckdb_type})"
    else:
        value = f"TRY_CAST({v} AS {f.duckdb_type})"
    return f"{value} AS {_typed(f)}"


def _blank_sql(line: str = "line") -> str:
    """True for a blank line: NULL or only spaces (`trim` strips spaces only). Only a line that starts
    with a space needs the `trim`, which copies the string; a CASE evaluates it for those lines alone
    (AND/OR in a projection evaluate both sides for every row)."""
    return (f"(CASE WHEN {line} IS NULL OR {line} = '' THEN true "
            f"WHEN starts_with({line}, ' ') THEN trim({line}) = '' ELSE false END)")


def _record_sql(entity: Entity, lines: str, decode_errors: bool = False) -> str:
    """SQL turning the line reader's `(_file, dt, _line, line)` into one row per line that is not a CSV
    header: `(_file, dt, _line, _blank, line, rec JSON, parse_error)`; `rec` is NULL on blank and bad lines.

    With `decode_errors`, the lines also carry `_decode_error` (a line the Python decoder refused, its
    `line` the escaped text): such a line is quarantined with that reason and never parsed."""
    undecoded = "_decode_error IS NOT NULL" if decode_errors else "false"
    decode_error = "_decode_error" if decode_errors else "NULL::VARCHAR"
    if entity.format == "jsonl":
        # One JSON parse validates the line (TRY_CAST to JSON accepts exactly what json_valid accepts, and
        # keeps the text as delivered); a line starting with `{` is an object, others are asked.
        return f"""
        SELECT _file, dt, _line, _blank, line, rec,
          CASE WHEN _blank THEN NULL
               WHEN {undecoded} THEN {decode_error}
               WHEN rec IS NULL THEN 'not valid JSON (malformed or truncated line)'
               WHEN NOT starts_with(line, '{{') AND json_type(rec) <> 'OBJECT' THEN 'not a JSON object'
          END AS parse_error
        FROM (
          SELECT *, CASE WHEN NOT _blank AND NOT {undecoded} THEN TRY_CAST(line AS JSON) END AS rec
          FROM (SELECT _file, dt, _line, line, {decode_error} AS _decode_error,
                       NOT {undecoded} AND {_blank_sql()} AS _blank FROM ({lines}))
        )"""
    # CSV: split each line into RFC 4180 fields in SQL, name them by the file's own header row (line 1).
    # (A file whose header cannot be decoded is quarantined whole before it gets here.)
    return f"""
        WITH kinds AS (
          SELECT _file, dt, _line, line, {decode_error} AS _decode_error,
                 _line > 1 AND NOT {undecoded} AND {_blank_sql()} AS _blank FROM ({lines})
        ), split AS (
          SELECT _file, dt, _line, line,
            regexp_extract_all(line, '{_CSV_FIELD}', 1) AS raw_fields
          FROM kinds WHERE NOT _blank AND NOT {undecoded}
        ), cells AS (
          SELECT *, list_transform(raw_fields, lambda x: CASE WHEN x LIKE '"%"' AND length(x) >= 2
                     THEN replace(x[2:-2], '""', '"') ELSE x END) AS fields,
                 array_to_string(raw_fields, ',') = line AS well_formed
          FROM split
        ), headers AS (
          SELECT _file, list_transform(fields, lambda x: trim(x)) AS header FROM cells WHERE _line = 1
        )
        SELECT c._file, c.dt, c._line, false AS _blank, c.line,
          CASE WHEN c.well_formed AND len(c.fields) = len(h.header)
               THEN to_json(map_from_entries(list_transform(list_zip(h.header, c.fields),
                        lambda p: {{'k': p[1], 'v': nullif(p[2], '')}}))) END AS rec,
          CASE WHEN NOT c.well_formed THEN 'malformed CSV line (unbalanced quotes)'
               WHEN len(c.fields) > len(h.header)
                 THEN 'too many columns: expected ' || len(h.header) || ', found ' || len(c.fields)
               WHEN len(c.fields) < len(h.header)
                 THEN 'too few columns: expected ' || len(h.header) || ', found ' || len(c.fields)
          END AS parse_error
        FROM cells c JOIN headers h USING (_file)
        WHERE c._line > 1
        UNION ALL
        SELECT _file, dt, _line, true, line, NULL, NULL FROM kinds WHERE _blank
        UNION ALL
        SELECT _file, dt, _line, false, line, NULL, _decode_error FROM kinds WHERE {undecoded}"""


def _parse_sql(entity: Entity, lines: str, decode_errors: bool = False) -> str:
    """The statement that types and validates every line of the chunk: one row per line (CSV headers
    excluded) with `_blank`, `_reason` (NULL when loaded), the typed fields, `_record` (loaded lines) and
    `raw_text` (quarantined lines)."""
    structure = "{" + ", ".join(
        f'"{f.name}": "{"JSON" if f.type == "json" else "VARCHAR"}"' for f in entity.fields
    ) + "}"
    # Typed values are computed once, in their own projection; the checks below compare against them
    # instead of casting a second time.
    typed = ",\n      ".join(_typed_value(f) for f in entity.fields)
    checks = []
    for f in entity.fields:
        v = f"v.{_q(f.name)}"
        if f.required:
            checks.append(f"CASE WHEN {v} IS NULL THEN 'missing required field: {f.name}' END")
        check = _type_check(f)
        if check:
            bad, note = check
            checks.append(
                f"CASE WHEN {v} IS NOT NULL AND {bad} THEN 'wrong type for {f.name}: expected {f.type}, got '"
                f" || left({v}, 40) || {note} END"
            )
    event_field = next((f for f in entity.fields if f.name == entity.event_time), None)
    event = (_typed(event_field) if event_field is not None and event_field.type == "timestamp"
             else f"TRY_CAST(v.{_q(entity.event_time)} AS TIMESTAMPTZ)")
    # The contract: records are never newer than their file's date plus one day.
    checks.append(
        f"CASE WHEN {event} >= (dt + INTERVAL 2 DAY)::TIMESTAMPTZ "
        f"THEN 'timestamp in the future (clock skew): {entity.event_time} ' || v.{_q(entity.event_time)} "
        "|| ' is more than a day after the file date' END"
    )
    columns = ", ".join(f"{_typed(f)} AS {_q(f.name)}" for f in entity.fields)
    return f"""
    WITH records AS ({_record_sql(entity, lines, decode_errors)}),
    structured AS (
      SELECT *, CASE WHEN parse_error IS NULL AND NOT _blank THEN json_transform(rec, '{structure}') END AS v
      FROM records
    ),
    typed AS (
      SELECT _file, dt, _line, _blank, line, rec, parse_error, v,
      {typed}
      FROM structured
    ),
    checked AS (
      SELECT *, CASE WHEN NOT _blank THEN
               coalesce(parse_error, nullif(concat_ws('; ', {", ".join(checks)}), '')) END AS _reason
      FROM typed
    )
    SELECT _file, dt, _line, _blank, _reason, {columns},
      CASE WHEN _reason IS NULL AND NOT _blank THEN rec END AS _record,
      CASE WHEN _reason IS NOT NULL THEN line END AS raw_text
    FROM checked"""


def _write_day(tmp_root: Path, final_dir: Path) -> None:
    """Swap a fully written temporary partition folder in place of the old one."""
    final_dir.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final_dir.exists():
        old = final_dir.parent / f".old-{final_dir.name}.{uuid.uuid4().hex[:8]}"
        final_dir.rename(old)
    tmp_root.rename(final_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_day(final_dir: Path) -> None:
    """Take a partition out of the lake: renamed aside, then deleted (a crash in between puts it back at the next
    load, _recover_interrupted_swaps, which withdraws it again)."""
    if final_dir.exists():
        old = final_dir.parent / f".old-{final_dir.name}.{uuid.uuid4().hex[:8]}"
        final_dir.rename(old)
        shutil.rmtree(old, ignore_errors=True)


def load_entity(
    con: duckdb.DuckDBPyConnection,
    entity: Entity,
    files: Sequence[LandingFile],
    raw_root: Path,
    days: Iterable[date],
    *,
    loaded_at: datetime | None = None,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    replaceable: Iterable[date] = (),
    suppress: Callable[[duckdb.DuckDBPyConnection, str], dict[str, int]] | None = None,
) -> EntityLoadResult:
    """Load the given days of one entity from its landing files into the raw layer.

    A line longer than `max_line_bytes` (without its terminator) is quarantined, not loaded; `replaceable`: see
    plan_partitions; `suppress` (suppression.Suppressor) drops the records of erased people from each chunk
    before it is written."""
    loaded_at = loaded_at or datetime.now(UTC)
    entity_root = raw_root / entity.name
    _recover_interrupted_swaps(entity_root)
    decided, to_load = plan_partitions(con, raw_root, entity, files, days, replaceable)
    result = EntityLoadResult(entity, decided)
    for withdrawn in (p for p in decided if p.status == "withdrawn"):
        _remove_day(entity_root / f"dt={withdrawn.partition.isoformat()}")
    for chunk in _chunks(to_load, chunk_bytes):
        result.partitions.extend(_load_chunk(con, entity, {d: to_load[d] for d in chunk}, entity_root, loaded_at,
                                             max_line_bytes, suppress))
    result.partitions.sort(key=lambda p: p.partition)
    return result


_EMPTY_LINES = (
    "SELECT NULL::VARCHAR AS _file, NULL::DATE AS dt, NULL::BIGINT AS _line, NULL::VARCHAR AS line WHERE false"
)
# Partitioned COPYs append the file index to the pattern (`_quarantine0.parquet`); renamed afterwards.
_WRITTEN = {DATA_FILE: DATA_FILE, "_quarantine0.parquet": QUARANTINE_FILE, "_manifest0.parquet": MANIFEST_FILE}


_NEWLINE = re.compile(rb"\r\n|\r|\n")
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "UTF-32 BE"), (b"\xff\xfe", "UTF-16 LE"),
         (b"\xfe\xff", "UTF-16 BE"))
_UTF8_BOM = b"\xef\xbb\xbf"
# Of a line longer than the limit, only this many bytes are kept (for its escaped raw_text).
_PREFIX_BYTES = 4 * RAW_TEXT_CHARS


def _split_lines(stream, limit: int) -> Iterator[tuple[bytes, int]]:
    """(content, length) of each line of a binary stream, split as DuckDB's line reader splits (at \n, \r\n
    or a lone \r); of a line longer than `limit` bytes only its first `_PREFIX_BYTES` are kept, so memory
    stays bounded whatever the file holds."""
    buf = b""
    long_prefix: bytes | None = None  # the start of a too-long line still being read
    long_len = 0
    while True:
        block = stream.read(1 << 20)
        data = buf + block
        pos = 0
        for m in _NEWLINE.finditer(data):
            if block and m.group() == b"\r" and m.end() == len(data):
                break  # the \r may be the first half of a \r\n split across blocks
            content = data[pos:m.start()]
            pos = m.end()
            if long_prefix is not None:
                yield long_prefix, long_len + len(content)
                long_prefix = None
            else:
                yield (content if len(content) <= limit else content[:_PREFIX_BYTES]), len(content)
        rest = data[pos:]
        if not block:
            if long_prefix is not None:
                yield long_prefix, long_len + len(rest)
            elif rest:
                yield (rest if len(rest) <= limit else rest[:_PREFIX_BYTES]), len(rest)
            return
        keep = b"\r" if rest.endswith(b"\r") else b""
        rest = rest[:len(rest) - len(keep)]
        if long_prefix is not None:
            long_len += len(rest)
            buf = keep
        elif len(rest) > limit:
            long_prefix, long_len, buf = rest[:_PREFIX_BYTES], len(rest), keep
        else:
            buf = rest + keep


def _escaped(content: bytes, length: int) -> str:
    """Printable text of a line that could not be loaded as it is: undecodable bytes as \\xNN, NUL as \\x00,
    at most RAW_TEXT_CHARS characters (then the line's length in bytes)."""
    text = content.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")
    if len(text) > RAW_TEXT_CHARS or length > len(content):
        return f"{text[:RAW_TEXT_CHARS]}... [{length:,} bytes]"
    return text


@dataclass
class _Decoded:
    """A landing file decoded in Python: a reason to quarantine it whole, or its lines' errors (number,
    reason, escaped text) and the UTF-8 copy DuckDB reads instead (good lines verbatim, bad lines empty)."""

    file_error: str | None = None
    line_errors: list[tuple[int, str, str]] = field(default_factory=list)


def _decode_lines(stream, copy, max_line_bytes: int, csv: bool) -> _Decoded:
    """Check every line of a decompressed stream for UTF-8 and length, writing the copy as it goes."""
    decoded = _Decoded()
    for number, (content, length) in enumerate(_split_lines(stream, max_line_bytes), start=1):
        if number == 1:
            bom = next((name for mark, name in _BOMS if content.startswith(mark)), None)
            if bom:
                return _Decoded(f"{bom} text (byte-order mark): the landing zone is UTF-8, re-export the file "
                                "as UTF-8")
            if b"\x00" in content:
                return _Decoded("NUL bytes in the first line: binary data or UTF-16/UTF-32 text without a "
                                "byte-order mark, not UTF-8 text")
            if content.startswith(_UTF8_BOM):  # allowed, and skipped as DuckDB skips it
                content, length = content[3:], length - 3
        reason = None
        if length > max_line_bytes:
            reason = f"line of {length:,} bytes is longer than the limit of {max_line_bytes:,} bytes"
        else:
            try:
                content.decode("utf-8")
            except UnicodeDecodeError as error:
                reason = (f"not valid UTF-8: byte 0x{content[error.start]:02x} at byte {error.start + 1} of the "
                          "line (raw_text shows undecodable bytes as \\xNN)")
        if reason and csv and number == 1:
            return _Decoded(f"CSV header line: {reason}")
        if reason:
            decoded.line_errors.append((number, reason, _escaped(content, length)))
            copy.write(b"\n")
        else:
            copy.write(content + b"\n")
    return decoded


def _decode_file(f: LandingFile, copy_path: Path, max_line_bytes: int) -> _Decoded:
    """Decode one landing file line by line in Python: what runs for a file DuckDB could not read alone."""
    fd = os.open(f.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as raw, copy_path.open("wb") as copy:
        compressed = f.path.name.endswith(".gz")
        if not compressed and raw.read(2) == b"\x1f\x8b":
            return _Decoded("gzip-compressed data in a file not named .gz")
        raw.seek(0)
        if not compressed:
            return _decode_lines(raw, copy, max_line_bytes, f.entity.format == "csv")
        try:
            with gzip.GzipFile(fileobj=raw) as stream:
                return _decode_lines(stream, copy, max_line_bytes, f.entity.format == "csv")
        except EOFError:
            return _Decoded("truncated gzip: the compressed data ends before its end-of-stream marker")
        except (gzip.BadGzipFile, zlib.error) as error:
            return _Decoded(f"cannot decompress: {error} (not a gzip file, or corrupt)")


# DuckDB's errors for what a file holds (invalid UTF-8, a too-long line, bad gzip), as opposed to a lack of
# memory or an interruption, which must fail the run and not blame a file.
_CONTENT_ERRORS = (duckdb.InvalidInputException, duckdb.IOException)


def _read_one_by_one(
    con, reading: list[tuple[LandingFile, FileResult]], work: Path, max_line_bytes: int
) -> tuple[dict[str, str], list[tuple[str, int, str, str]]]:
    """Fill `raw_lines` file by file after DuckDB failed on the chunk: a file DuckDB reads alone is read as
    in the chunk; a file it cannot read is decoded in Python, and then either quarantined whole or read from
    its checked UTF-8 copy. Returns the files quarantined whole (file -> reason) and the lines refused by
    the decoder (file, line, reason, escaped text)."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE raw_lines AS {_EMPTY_LINES}")
    file_errors: dict[str, str] = {}
    line_errors: list[tuple[str, int, str, str]] = []
    one = f"INSERT INTO raw_lines {_lines_sql(1, max_line_bytes)}"
    for f, _ in reading:
        try:
            con.execute(one, [f.rel_path, f.file_date, _literal_path(f.path)])
            continue
        except _CONTENT_ERRORS as error:
            duckdb_error = error
        copy = work / f".decoded-{uuid.uuid4().hex[:12]}.txt"
        try:
            decoded = _decode_file(f, copy, max_line_bytes)
            if decoded.file_error:
                file_errors[f.rel_path] = decoded.file_error
                continue
            if not decoded.line_errors:  # DuckDB failed on a file the decoder finds sound: not a content issue
                raise RuntimeError(f"{f.rel_path} cannot be read: {duckdb_error}") from duckdb_error
            try:
                con.execute(one, [f.rel_path, f.file_date, _literal_path(copy)])
            except _CONTENT_ERRORS as error:
                message = str(error).splitlines()[0][:300]
                file_errors[f.rel_path] = f"unreadable even with its bad lines removed: {message}"
                continue
            line_errors += [(f.rel_path, *e) for e in decoded.line_errors]
        finally:
            copy.unlink(missing_ok=True)
    return file_errors, line_errors


def _mark_line_errors(con, line_errors: list[tuple[str, int, str, str]]) -> None:
    """Give `raw_lines` a `_decode_error` column and set it, with the escaped text as `line`, on the lines
    the decoder refused (each an empty line of its file's copy)."""
    con.execute("ALTER TABLE raw_lines ADD COLUMN _decode_error VARCHAR")
    if not line_errors:
        return
    files, numbers, reasons, texts = (list(c) for c in zip(*line_errors, strict=True))
    matched = con.execute(
        "UPDATE raw_lines SET line = e.raw_text, _decode_error = e.reason FROM (SELECT unnest(?::VARCHAR[]) AS "
        "file, unnest(?::BIGINT[]) AS line, unnest(?::VARCHAR[]) AS reason, unnest(?::VARCHAR[]) AS raw_text) e "
        "WHERE raw_lines._file = e.file AND raw_lines._line = e.line",
        [files, numbers, reasons, texts],
    ).fetchone()[0]
    if matched != len(line_errors):  # the copy's lines must number as the decoder counted: never lose one
        raise RuntimeError(f"{matched} of {len(line_errors)} undecodable lines matched their line numbers")


def _load_chunk(
    con, entity: Entity, days: dict[date, list[tuple[LandingFile, FileResult]]], entity_root: Path,
    loaded_at: datetime, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES,
    suppress: Callable[[duckdb.DuckDBPyConnection, str], dict[str, int]] | None = None,
) -> list[PartitionResult]:
    """Read, validate and write the days of one chunk, then swap each day's folder into place.

    The lines are read, then parsed and typed once into the temp table `parsed`; the data, quarantine and
    manifest COPYs then all write into the same `dt=` folders of one hidden work folder, so each day is
    one folder to rename and nothing is left to clean up.
    """
    reading = [(f, r) for pending in days.values() for f, r in pending if r.status == "loaded"]
    work = entity_root / f".tmp-{uuid.uuid4().hex[:12]}"
    work.mkdir(parents=True)
    target = _sql_path(work)
    try:
        params: list[object] = []
        for f, _ in reading:
            params += [f.rel_path, f.file_date, _literal_path(f.path)]
        # The lines are materialised first: planning the parse over a union of hundreds of file scans
        # costs more than copying the lines once.
        lines = _lines_sql(len(reading), max_line_bytes) if reading else _EMPTY_LINES
        file_errors: dict[str, str] = {}
        fallback = False
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE raw_lines AS {lines}", params)
        except _CONTENT_ERRORS:
            file_errors, line_errors = _read_one_by_one(con, reading, work, max_line_bytes)
            _mark_line_errors(con, line_errors)
            fallback = True
        con.execute(f"CREATE OR REPLACE TEMP TABLE parsed AS {_parse_sql(entity, 'SELECT * FROM raw_lines', fallback)}")
        con.execute("DROP TABLE raw_lines")
        for f, r in reading:
            if f.rel_path in file_errors:
                r.status, r.detail = "quarantined", file_errors[f.rel_path]
        quarantined = [(f.rel_path, f.file_date, file_errors[f.rel_path]) for f, _ in reading
                       if f.rel_path in file_errors]
        # A file quarantined whole: one row with no line number and no text (its bytes could not be decoded).
        whole_files = (
            "UNION ALL SELECT ?, ?, file, NULL::BIGINT, 'file quarantined whole: ' || reason, NULL::VARCHAR, "
            "?::TIMESTAMPTZ, dt FROM (SELECT unnest(?::VARCHAR[]) AS file, unnest(?::DATE[]) AS dt, "
            "unnest(?::VARCHAR[]) AS reason)"
        ) if quarantined else ""
        whole_params = [entity.source, entity.entity, loaded_at, *(list(c) for c in zip(*quarantined, strict=True))
                        ] if quarantined else []
        # Suppression at the door: erased people's records never reach the lake (counted per file).
        suppressed = suppress(con, entity.name) if suppress is not None else {}

        # No ORDER BY: `parsed` is already in file and line order, and a partitioned COPY does not keep
        # a sort within its files anyway (readers order by `_file, _line` themselves).
        columns = ", ".join(_q(f.name) for f in entity.fields)
        con.execute(
            f"COPY (SELECT {columns}, _record, _file, _line, ?::TIMESTAMPTZ AS _loaded_at, dt "
            "FROM parsed WHERE _reason IS NULL AND NOT _blank) "
            f"TO '{target}' (FORMAT parquet, PARTITION_BY (dt), COMPRESSION zstd, "
            "FILENAME_PATTERN 'data_{i}', OVERWRITE_OR_IGNORE)",
            [loaded_at],
        )
        con.execute(
            "COPY (SELECT ? AS source, ? AS entity, _file AS file, _line AS line, _reason AS reason, "
            f"raw_text, ?::TIMESTAMPTZ AS loaded_at, dt FROM parsed WHERE _reason IS NOT NULL {whole_files}) "
            f"TO '{target}' (FORMAT parquet, PARTITION_BY (dt), FILENAME_PATTERN '_quarantine', OVERWRITE_OR_IGNORE)",
            [entity.source, entity.entity, loaded_at, *whole_params],
        )
        counts = {
            file: rest
            for file, *rest in con.execute(
                "SELECT _file, count(*) FILTER (WHERE NOT _blank), "
                "count(*) FILTER (WHERE NOT _blank AND _reason IS NULL), "
                "count(*) FILTER (WHERE _reason IS NOT NULL), count(*) FILTER (WHERE _blank) "
                "FROM parsed GROUP BY _file"
            ).fetchall()
        }
        con.execute("DROP TABLE parsed")

        manifest_rows = []
        for day, pending in days.items():
            for _, r in pending:
                if r.status == "loaded":
                    r.rows_read, r.rows_loaded, r.rows_quarantined, r.blank_lines = counts.get(
                        r.rel_path, (0, 0, 0, 0))
                    if suppressed.get(r.rel_path):
                        r.rows_suppressed = suppressed[r.rel_path]
                        r.rows_read += r.rows_suppressed
                        r.detail = f"{r.rows_suppressed} records of erased people suppressed"
                manifest_rows.append(
                    (day, r.rel_path, r.size_bytes, r.sha256, r.status, r.detail,
                     r.rows_read, r.rows_loaded, r.rows_quarantined, r.blank_lines)
                )
        _write_manifests(con, entity, manifest_rows, loaded_at, work)

        # Each day's folder now holds its data, quarantine and manifest files: name them, swap it in.
        out: list[PartitionResult] = []
        for day, pending in sorted(days.items()):
            key = f"dt={day.isoformat()}"
            day_dir = work / key
            for written in os.listdir(day_dir):
                if written not in _WRITTEN:  # e.g. a second data file: the raw views would miss it
                    raise RuntimeError(f"unexpected file {written} written for {entity.name} {key}")
                if _WRITTEN[written] != written:
                    os.rename(day_dir / written, day_dir / _WRITTEN[written])
            _write_day(day_dir, entity_root / key)
            out.append(PartitionResult(day, "loaded", [r for _, r in pending]))
        work.rmdir()
        return out
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)
        con.execute("DROP TABLE IF EXISTS raw_lines")
        con.execute("DROP TABLE IF EXISTS parsed")


def _sql_path(path: Path) -> str:
    """Our own output paths (never landing names) as SQL string literals."""
    return str(path).replace("'", "''")


MANIFEST_COLUMNS = (
    "source VARCHAR, entity VARCHAR, partition_date DATE, file VARCHAR, size_bytes BIGINT, sha256 VARCHAR, "
    "status VARCHAR, detail VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_quarantined BIGINT, "
    "blank_lines BIGINT, loaded_at TIMESTAMPTZ"
)


def _write_manifests(
    con, entity: Entity, rows: list[tuple], loaded_at: datetime, target: Path
) -> None:
    """One `_manifest` Parquet file per day, written in a single partitioned COPY.

    `rows` are (partition_date, file, size_bytes, sha256, status, detail, rows_read, rows_loaded,
    rows_quarantined, blank_lines); they are bound as one list per column (a single statement, where a
    row-by-row insert costs about a millisecond a file).
    """
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in range(10)]
    types = ("DATE", "VARCHAR", "BIGINT", "VARCHAR", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "BIGINT", "BIGINT")
    names = ("partition_date", "file", "size_bytes", "sha256", "status", "detail", "rows_read", "rows_loaded",
             "rows_quarantined", "blank_lines")
    unnested = ", ".join(f"unnest(?::{t}[]) AS {n}" for t, n in zip(types, names, strict=True))
    con.execute(
        f"COPY (SELECT ?::VARCHAR AS source, ?::VARCHAR AS entity, {', '.join(names)}, "
        f"?::TIMESTAMPTZ AS loaded_at, partition_date AS dt FROM (SELECT {unnested})) "
        f"TO '{_sql_path(target)}' (FORMAT parquet, PARTITION_BY (dt), FILENAME_PATTERN '_manifest', "
        "OVERWRITE_OR_IGNORE)",
        [entity.source, entity.entity, loaded_at, *[list(c) for c in columns]],
    )


def raw_schema_sql(entity: Entity) -> str:
    """Column list of a raw table, used for the empty view of an entity that has no partition yet."""
    cols = [f"CAST(NULL AS {f.duckdb_type}) AS {_q(f.name)}" for f in entity.fields]
    cols += [
        "CAST(NULL AS JSON) AS _record", "CAST(NULL AS VARCHAR) AS _file", "CAST(NULL AS BIGINT) AS _line",
        "CAST(NULL AS TIMESTAMPTZ) AS _loaded_at", "CAST(NULL AS DATE) AS dt",
    ]
    return "SELECT " + ", ".join(cols) + " WHERE false"


def has_partitions(raw_root: Path, entity: Entity, file_name: str = DATA_FILE) -> bool:
    """True when at least one partition of the entity has a file of that name."""
    root = raw_root / entity.name
    return root.is_dir() and any(root.glob(f"dt=*/{file_name}"))


__all__ = [
    "EntityLoadResult", "FileResult", "PartitionResult", "connect", "load_entity",
    "plan_partitions", "raw_schema_sql", "has_partitions", "MANIFEST_COLUMNS",
]
