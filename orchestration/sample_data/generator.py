"""`generate()`: simulate the shop in DuckDB and write a landing zone that follows LANDING_ZONE.md."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from orchestration.ingestion.entities import ENTITIES, Entity

from . import calendar, catalogue, world
from .builders import esp, experience, loyalty, pos, privacy, programs, shop, web
from .config import TIERS, DirtRates
from .context import Ctx
from .personas import PERSONAS, persona_records
from .progress import GenerationProgress, ProgressCallback
from .render import SQL_TYPES, create_table, snapshot
from .sqlkit import connect
from .summary import EntitySummary, GeneratorSummary
from .writer import EntityStats, file_dirt, write_entity

DEFAULT_END = dt.date(2026, 10, 31)
log = logging.getLogger(__name__)

# Builders that fill `rec_<entity>` from the world tables (materialised: small enough at every tier).
MATERIALISED: dict[str, Callable[[Ctx], None]] = {
    "shop__customers": shop.customers,
    "shop__orders": shop.orders,
    "pos__transactions": pos.transactions,
    "reviews__reviews": experience.reviews,
    "support__tickets": experience.tickets,
    "loyalty__ledger": loyalty.ledger,
    "loyalty__tier_changes": loyalty.tier_changes,
    "subscriptions__subscriptions": programs.subscriptions,
    "referrals__referrals": programs.referrals,
    "privacy__deletion_requests": privacy.deletion_requests,
}
# Streams too big to hold at `large`: generated per chunk of export days.
STREAMED: dict[str, Callable[[dt.date, dt.date], str]] = {
    "web__events": web.events_sql,
    "esp__email_events": esp.events_sql,
}


def _insert_personas(ctx: Ctx, entity: Entity, rows: list[dict]) -> None:
    """Insert the hand-written persona records (a few dozen rows) into `rec_<entity>`."""
    if not rows:
        return
    frame = pd.DataFrame(rows)
    types = {f.name: SQL_TYPES[f.type] for f in entity.fields}
    cols = ", ".join(f'CAST("{c}" AS {types.get(c, "BIGINT")}) AS "{c}"' for c in frame.columns)
    ctx.con.register("persona_frame", frame)
    ctx.con.execute(f"INSERT INTO rec_{entity.name} BY NAME SELECT {cols}, true AS _persona FROM persona_frame")
    ctx.con.unregister("persona_frame")


def _source(entity: Entity) -> Callable[[dt.date, dt.date], str]:
    """SQL of an entity's typed records for export days lo..hi (streams: persona rows + generated)."""
    table = f"rec_{entity.name}"
    stream = STREAMED.get(entity.name)
    if stream is None:
        return lambda lo, hi: f"SELECT * FROM {table}"
    # Streams hand nested values over as JSON text (VARCHAR): a JSON-typed union would re-parse them all.
    as_text = ", ".join(f'"{f.name}"::VARCHAR AS "{f.name}"' for f in entity.fields if f.type == "json")
    return lambda lo, hi: f"SELECT * REPLACE ({as_text}) FROM {table} UNION ALL BY NAME ({stream(lo, hi)})"


def generate(out: Path, tier: str = "demo", days: int = 365, seed: int = 42, end_date: dt.date = DEFAULT_END,
             dirt: DirtRates | None = None, gzip: bool = False,
             sources: Iterable[str] | None = None, progress: ProgressCallback | None = None) -> GeneratorSummary:
    """Write a landing zone for export dates end_date-days+1 .. end_date under `out` and return a summary.

    Deterministic: the same arguments give byte-identical files. `sources` limits which sources are
    written (None: all); `dirt` sets dirt rates (default `DirtRates()`, `DirtRates.none()` for clean data).
    `progress` is called at each stage and after every file written (progress.py).
    """
    report = progress or (lambda _: None)
    t0 = time.perf_counter()
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose one of {sorted(TIERS)}")
    if days < 1:
        raise ValueError("days must be >= 1")
    dirt = dirt or DirtRates()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = set(sources) if sources is not None else {e.source for e in ENTITIES}
    unknown = wanted - {e.source for e in ENTITIES}
    if unknown:
        raise ValueError(f"unknown sources: {sorted(unknown)}")
    selected = [e for e in ENTITIES if e.source in wanted]
    start = end_date - dt.timedelta(days=days - 1)
    # DuckDB spills next to the output (a `_` folder, which ingestion ignores), not into a small /tmp.
    tmp = Path(tempfile.mkdtemp(prefix="_generator_tmp_", dir=out))
    con = None
    try:
        report(GenerationProgress("simulating the world"))
        con = connect(seed, tmp)
        ctx = Ctx(con, seed, TIERS[tier], dirt, start, end_date)
        catalogue.load(con)
        calendar.build(con, ctx.sim_start, end_date)
        world.build_customers(ctx)
        world.build_orders(ctx)
        esp.plan(ctx)
        log.info("world simulated in %.1fs", time.perf_counter() - t0)
        report(GenerationProgress("building the records"))
        personas = persona_records(end_date)
        for entity in ENTITIES:
            create_table(ctx, entity)
            if entity.name in MATERIALISED:
                MATERIALISED[entity.name](ctx)
            _insert_personas(ctx, entity, personas.get(entity.name, []))
            snapshot(ctx, entity)
        log.info("records built in %.1fs", time.perf_counter() - t0)
        if any(e.name == "web__events" for e in selected):
            web.plan(ctx)
        stats = {e.name: EntityStats() for e in selected}
        if "shop__orders" in stats:
            stats["shop__orders"].dirt.update(shop.order_dirt(ctx))
        for number, entity in enumerate(selected, start=1):
            def written(day: dt.date, name: str = entity.name, number: int = number) -> None:
                report(GenerationProgress("writing", name, number, len(selected), (day - start).days + 1, days,
                                          sum(s.bytes for s in stats.values())))

            # Day 0: the entity's first chunk is being rendered, no file of it written yet.
            report(GenerationProgress("writing", entity.name, number, len(selected), 0, days,
                                      sum(s.bytes for s in stats.values())))
            write_entity(ctx, entity, _source(entity), out, gzip, stats[entity.name],
                         chunk_days=None if entity.name in STREAMED else max(ctx.tier.chunk_days, 30),
                         on_file=written)
            log.info("%s written (%d lines) at %.1fs", entity.name, stats[entity.name].lines,
                     time.perf_counter() - t0)
    finally:
        if con is not None:
            con.close()
        shutil.rmtree(tmp, ignore_errors=True)
    extra = file_dirt(seed, selected, stats, dirt.empty_files, dirt.redelivered_files, gzip, out)
    summary = GeneratorSummary(
        parameters={
            "tier": tier, "days": days, "seed": seed, "end_date": str(end_date), "start_date": str(start),
            "gzip": gzip, "sources": sorted(wanted), "customers": TIERS[tier].customers, "dirt": dirt.as_dict(),
        },
        entities={
            name: EntitySummary(files=s.files, lines=s.lines, bytes=s.bytes, records=s.records,
                                dirt=dict(sorted(s.dirt.items())))
            for name, s in stats.items()
        },
        files=extra,
        personas=[{"key": key, **info} for key, info in PERSONAS.items()],
        elapsed_seconds=round(time.perf_counter() - t0, 3),
    )
    summary.write(out / "_generator_summary.json")
    return summary
