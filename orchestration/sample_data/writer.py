"""Write rendered lines to `<out>/<source>/<entity>/<YYYY-MM-DD>[-<part>].<ext>[.gz]`.

DuckDB renders and sorts the lines; Python fetches them in vector batches and joins each day's slice
in C: no per-record Python, bytes exactly as rendered, and gzip with mtime=0 keeps the output
byte-identical between runs.
"""

from __future__ import annotations

import datetime as dt
import gzip as gz
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from orchestration.ingestion.entities import Entity

from .context import Ctx
from .render import header, render_sql


@dataclass
class EntityStats:
    """Counts for one entity, filled while writing."""

    files: int = 0
    lines: int = 0
    bytes: int = 0
    records: int = 0  # source records written (each record's own line, dirty or not)
    dirt: dict[str, int] = field(default_factory=dict)
    written: list[tuple[dt.date, Path]] = field(default_factory=list)


def file_ext(entity: Entity, gzip: bool) -> str:
    """`jsonl`/`csv`, plus `.gz` when compressing."""
    return entity.format + (".gz" if gzip else "")


def chunks(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Consecutive [lo, hi] date ranges of at most `days` days covering start..end."""
    lo = start
    while lo <= end:
        hi = min(end, lo + dt.timedelta(days=days - 1))
        yield lo, hi
        lo = hi + dt.timedelta(days=1)


FETCH_VECTORS = 64  # 64 x 2048 lines per fetched batch


class _DayFile:
    """One export day's file, written bucket by bucket (gzip streamed with mtime=0: reproducible)."""

    def __init__(self, path: Path, day: dt.date, entity: Entity, gzip: bool):
        self.path = path
        self.day = day
        self.raw = path.open("wb")
        self.out = gz.GzipFile(fileobj=self.raw, mode="wb", compresslevel=6, mtime=0) if gzip else self.raw
        self.sep = "\r\n" if entity.format == "csv" else "\n"
        if entity.format == "csv":
            self.out.write((header(entity) + self.sep).encode("utf-8"))

    def write(self, body: str) -> None:
        """Append lines (already joined) plus a line break."""
        self.out.write((body + self.sep).encode("utf-8"))

    def close(self) -> int:
        """Close the file; returns its size in bytes."""
        if self.out is not self.raw:
            self.out.close()
        self.raw.close()
        return self.path.stat().st_size


def write_entity(ctx: Ctx, entity: Entity, source_sql: Callable[[dt.date, dt.date], str], out: Path,
                 gzip: bool, stats: EntityStats, chunk_days: int | None = None,
                 on_file: Callable[[dt.date], None] | None = None) -> None:
    """Render and write every export day of `entity`, chunk by chunk (bounded memory); `on_file(day)` is called
    after each day's file is written."""
    folder = out / entity.source / entity.entity
    folder.mkdir(parents=True, exist_ok=True)
    for lo, hi in chunks(ctx.start, ctx.end, chunk_days or ctx.tier.chunk_days):
        src = source_sql(lo - dt.timedelta(days=7), hi)
        ctx.con.execute(f"CREATE OR REPLACE TEMP TABLE chunk_out AS {render_sql(ctx, entity, src, lo, hi)}")
        for tag, n in ctx.con.execute(
            "SELECT tag, count(*) FROM chunk_out WHERE tag IS NOT NULL GROUP BY tag ORDER BY tag"
        ).fetchall():
            stats.dirt[tag] = stats.dirt.get(tag, 0) + n
        stats.records += ctx.con.execute("SELECT count(*) FROM chunk_out WHERE cp = 0").fetchone()[0]
        # One sorted pass; each fetched batch is split where the day changes and joined in C (no per-line
        # Python loop), then appended to that day's file.
        cur = ctx.con.execute("SELECT dt, line FROM chunk_out ORDER BY dt, ord, rid, cp")
        current: _DayFile | None = None
        while len(batch := cur.fetch_df_chunk(FETCH_VECTORS)):
            days = batch["dt"].to_numpy()
            lines = batch["line"].to_numpy()
            cuts = [0, *(np.flatnonzero(days[1:] != days[:-1]) + 1).tolist(), len(days)]
            for a, b in zip(cuts, cuts[1:], strict=False):
                day = pd.Timestamp(days[a]).date()
                if current is None or current.day != day:
                    if current is not None:
                        _finish(current, entity, stats, on_file)
                    current = _DayFile(folder / f"{day}.{file_ext(entity, gzip)}", day, entity, gzip)
                current.write(current.sep.join(lines[a:b]))
                stats.lines += b - a
        if current is not None:
            _finish(current, entity, stats, on_file)
        ctx.con.execute("DROP TABLE chunk_out")


def _finish(f: _DayFile, entity: Entity, stats: EntityStats, on_file: Callable[[dt.date], None] | None) -> None:
    stats.files += 1
    stats.lines += 1 if entity.format == "csv" else 0
    stats.bytes += f.close()
    stats.written.append((f.day, f.path))
    if on_file is not None:
        on_file(f.day)


def file_dirt(seed: int, entities: list[Entity], stats: dict[str, EntityStats], n_empty: int,
              n_redelivered: int, gzip: bool, out: Path) -> dict[str, list[str]]:
    """Add re-delivered copies (`<date>-redelivery.<ext>`, identical bytes) and 0-byte files
    (`<date>-empty.<ext>`). Picks are seeded, over files sorted by path, so they are reproducible."""
    written = sorted((str(p), e.name, d) for e in entities for d, p in stats[e.name].written)
    rng = random.Random(f"{seed}:file-dirt")
    result: dict[str, list[str]] = {"redelivered": [], "empty": []}
    for path_s, name, _day in rng.sample(written, min(n_redelivered, len(written))):
        path = Path(path_s)
        ext = path.name.split(".", 1)[1]
        copy = path.with_name(path.name.split(".", 1)[0] + "-redelivery." + ext)
        data = path.read_bytes()
        copy.write_bytes(data)
        s = stats[name]
        s.files += 1
        s.bytes += len(data)
        text = gz.decompress(data) if gzip else data
        s.lines += text.count(b"\n")
        s.dirt["redelivered_files"] = s.dirt.get("redelivered_files", 0) + 1
        s.dirt["redelivered_lines"] = s.dirt.get("redelivered_lines", 0) + text.count(b"\n")
        result["redelivered"].append(copy.relative_to(out).as_posix())
    by_entity = {e.name: e for e in entities}
    for path_s, name, _day in rng.sample(written, min(n_empty, len(written))):
        path = Path(path_s)
        empty = path.with_name(path.name.split(".", 1)[0] + "-empty." + file_ext(by_entity[name], gzip))
        empty.write_bytes(b"")
        stats[name].files += 1
        stats[name].dirt["empty_files"] = stats[name].dirt.get("empty_files", 0) + 1
        result["empty"].append(empty.relative_to(out).as_posix())
    return result
