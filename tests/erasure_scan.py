"""A scanner for one person's identifiers in every store the project keeps: what an erasure must reach.

It looks in every Parquet file (lake partitions, quarantine, manifests, caches), every table of every DuckDB
file, and every other file byte by byte (outbox, dbt docs and logs, the run report, Dagster's event log),
under the given roots. Parquet and DuckDB values are read through DuckDB (they are compressed on disk); each
DuckDB file is also grepped byte by byte, for copies left in freed blocks. A finding names the store and
the identifier found.
"""

from __future__ import annotations

import contextlib
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass(frozen=True)
class Person:
    """The identifiers of one person: text found anywhere is a finding; `cells` only as a whole value."""

    texts: tuple[str, ...]  # e.g. email, anonymous ids, phone: found as a substring anywhere
    cells: tuple[str, ...]  # e.g. first and last name: found as a whole cell value (not inside words)
    shop_ids: tuple[int, ...]  # found in a customer-id column or a JSON customer-id field

    def byte_patterns(self) -> list[re.Pattern[bytes]]:
        """Regular expressions over raw bytes (text files, logs, sqlite, DuckDB blocks)."""
        out = [re.compile(re.escape(t.encode()), re.IGNORECASE) for t in self.texts]
        out += [re.compile(rb"[\"'>]" + re.escape(c.encode()) + rb"[\"'<]") for c in self.cells]
        for shop_id in self.shop_ids:
            out.append(re.compile(
                rb"(customer_id|customerId|userId|user_id)\\?[\"']?\s*[:=]\s*\\?[\"']?" + str(shop_id).encode()
                + rb"\b"))
        return out


ERIN = Person(
    texts=("erin.erased@example.com", "a-p1007"),
    cells=("Erin", "Erased", "Erin Erased"),
    shop_ids=(1007,),
)


def _row_filter(person: Person, columns: list[tuple[str, str]]) -> str | None:
    """SQL true for a row holding one of the person's identifiers, over (name, type) columns."""
    texts = [t.lower().replace("'", "''") for t in person.texts]
    cells = [c.lower().replace("'", "''") for c in person.cells]
    parts = []
    for name, typ in columns:
        q = '"' + name.replace('"', '""') + '"'
        text = f"lower(CAST({q} AS VARCHAR))"
        parts += [f"contains({text}, '{t}')" for t in texts]
        if typ.upper() in ("VARCHAR", "JSON") or typ.upper().startswith(("STRUCT", "MAP", "VARCHAR[]")):
            parts += [f"{text} = '{c}'" for c in cells]
            for shop_id in person.shop_ids:
                parts.append(
                    f"regexp_matches({text}, '\"(customer_id|customerid|userid|user_id)\":\"?{shop_id}([^0-9]|$)')")
        if "customer_id" in name.lower() or name.lower() in ("userid", "user_id"):
            parts += [f"{text} = '{s}'" for s in person.shop_ids]
    return " OR ".join(parts) if parts else None


def _scan_relation(con, relation: str, person: Person, label: str) -> list[str]:
    columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    where = _row_filter(person, columns)
    if where is None:
        return []
    n = con.execute(f"SELECT count(*) FROM {relation} WHERE {where}").fetchone()[0]
    return [f"{label}: {n} rows"] if n else []


def scan_parquet(paths: list[Path], person: Person) -> list[str]:
    """Rows of Parquet files holding the person, per file (files of one schema read in one scan)."""
    con = duckdb.connect()
    try:
        files = "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"
        relation = f"read_parquet({files}, union_by_name=true, hive_partitioning=false)"
        columns = [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
        where = _row_filter(person, columns)
        if where is None:
            return []
        rows = con.execute(
            f"SELECT filename, count(*) FROM read_parquet({files}, union_by_name=true, hive_partitioning=false, "
            f"filename=true) WHERE {where} GROUP BY filename ORDER BY filename").fetchall()
        return [f"parquet {f}: {n} rows" for f, n in rows]
    finally:
        con.close()


def scan_duckdb(path: Path, person: Person) -> list[str]:
    """Rows of every table of a DuckDB file holding the person, and the person's bytes in the file."""
    found = scan_bytes(path, person)
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS db (READ_ONLY)")
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'db'").fetchall()
        for schema, table in tables:
            relation = f'db."{schema}"."{table}"'
            try:
                found += _scan_relation(con, relation, person, f"duckdb {path.name} {schema}.{table}")
            except duckdb.Error as exc:  # a column type that does not cast to text
                found.append(f"duckdb {path.name} {schema}.{table}: not scanned ({exc})")
    finally:
        con.close()
    return found


def scan_bytes(path: Path, person: Person) -> list[str]:
    """The person's identifiers in a file's raw bytes (gzip files decompressed)."""
    data = path.read_bytes()
    if path.suffix == ".gz":
        with contextlib.suppress(OSError, EOFError):
            data = gzip.decompress(data)
    hits = sorted({m.group(0).decode(errors="replace") for p in person.byte_patterns() for m in p.finditer(data)})
    return [f"bytes {path}: {', '.join(hits[:5])}"] if hits else []


def scan_stores(roots: list[Path], person: Person = ERIN, *, exclude: tuple[str, ...] = ()) -> list[str]:
    """Every finding of the person under `roots` (files or folders); paths containing an `exclude` part are
    skipped (e.g. the brand's own landing zone)."""
    found: list[str] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files = [p for p in files if not any(part in exclude for part in p.parts)]
        # Parquet files of one kind (an entity's data, quarantine or manifest files) share a schema.
        groups: dict[tuple[Path, str], list[Path]] = {}
        for path in files:
            if path.suffix == ".parquet":
                kind = path.parent.parent if path.parent.name.startswith("dt=") else path.parent
                groups.setdefault((kind, path.name), []).append(path)
        for group in groups.values():
            found += scan_parquet(group, person)
        for path in files:
            if path.suffix == ".parquet":
                continue
            if path.suffix == ".duckdb":
                found += scan_duckdb(path, person)
            elif path.name.endswith(".duckdb.wal"):
                found += scan_bytes(path, person)
            else:
                found += scan_bytes(path, person)
    return found


if __name__ == "__main__":  # python tests/erasure_scan.py <root>...
    import sys

    for line in scan_stores([Path(a) for a in sys.argv[1:]], exclude=("landing",)):
        print(line)
