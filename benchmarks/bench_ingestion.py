"""Benchmark: generate a tier, time raw ingestion against the floor of DuckDB reading the same files once.

    python -m benchmarks.bench_ingestion --tier demo [--days 365] [--workdir /tmp/c360-bench] [--repeat 3]

The floor (issue 3) is `SELECT count(*)` over every landing file of each entity with DuckDB's own reader
for its format (`read_json` for JSONL, `read_csv` for the POS CSV): one pass over the same bytes, no
validation, no writing. Ingestion reads the same files (minus identical re-deliveries, which it only
hashes), validates, quarantines and writes the Parquet raw layer.

Each stage runs in its own child process so its peak RSS is its own; with --repeat N the floor and the
ingestion alternate N times (the landing files stay in the page cache for both) and the median run is
reported. With --references, two stages show what parts of the contract cost on their own: hashing every
file (exactly-once), and the plainest JSON -> Parquet conversion (no line numbers, validation, quarantine,
original record or manifest). Prints one table: stage, rows, bytes, seconds, CPU seconds (user + system,
all threads: less sensitive than wall time to other load on the machine), rows/s, peak RSS, ratio to the
floor.
Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def stage_generate(args) -> dict:
    """Write the landing zone of the tier."""
    from orchestration.sample_data import generate

    landing = Path(args.workdir) / "landing"
    shutil.rmtree(landing, ignore_errors=True)
    started = time.perf_counter()
    cpu = _cpu_seconds()
    summary = generate(landing, tier=args.tier, days=args.days, seed=args.seed, end_date=date(2026, 10, 31))
    seconds = time.perf_counter() - started
    rows = sum(e.lines for e in summary.entities.values())
    size = sum(e.bytes for e in summary.entities.values())
    return {"rows": rows, "bytes": size, "seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu}


def _landing_files(args):
    from orchestration.ingestion.landing import scan_landing

    return scan_landing(Path(args.workdir) / "landing")


def stage_floor(args) -> dict:
    """DuckDB reading every landing file once: count(*) over read_json / read_csv per entity."""
    from orchestration.ingestion.loader import connect

    scan = _landing_files(args)
    con = connect()
    rows = size = 0
    started, cpu = time.perf_counter(), _cpu_seconds()
    for name, files in scan.files.items():
        if not files:
            continue
        paths = [str(f.path) for f in files]
        size += sum(f.size for f in files)
        reader = "read_csv(?, all_varchar = true, ignore_errors = true, null_padding = true)" \
            if name == "pos__transactions" else \
            "read_json(?, format = 'newline_delimited', ignore_errors = true, maximum_object_size = 16777216)"
        rows += con.execute(f"SELECT count(*) FROM {reader}", [paths]).fetchone()[0]
    return {"rows": rows, "bytes": size, "seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu}


def stage_hash(args) -> dict:
    """Reference: sha256 of every landing file, as ingestion's exactly-once manifest needs on its first load
    (2 threads; later loads hash only files whose size or modification time changed)."""
    from orchestration.ingestion.loader import _hash_all

    files = [f for fs in _landing_files(args).files.values() for f in fs]
    started, cpu = time.perf_counter(), _cpu_seconds()
    _hash_all(files)
    return {"rows": 0, "bytes": sum(f.size for f in files), "seconds": time.perf_counter() - started,
            "cpu_seconds": _cpu_seconds() - cpu}


def stage_convert(args) -> dict:
    """Reference: the plainest JSON -> Parquet conversion of the same files with DuckDB, per entity and day:
    read_json with its own type detection, COPY to one Parquet file. No line numbers, no validation or
    quarantine, no original record, no hashing, no manifest: what a loader without the contract would pay."""
    from orchestration.ingestion.loader import connect

    scan = _landing_files(args)
    out_root = Path(args.workdir) / "convert"
    shutil.rmtree(out_root, ignore_errors=True)
    con = connect()
    rows = size = 0
    started, cpu = time.perf_counter(), _cpu_seconds()
    for name, files in scan.files.items():
        by_day: dict = {}
        for f in files:
            by_day.setdefault(f.file_date, []).append(f)
        reader = "read_csv(?, all_varchar = true, ignore_errors = true, null_padding = true)" \
            if name == "pos__transactions" else \
            "read_json(?, format = 'newline_delimited', ignore_errors = true, maximum_object_size = 16777216)"
        for day, day_files in by_day.items():
            target = out_root / name / f"dt={day.isoformat()}"
            target.mkdir(parents=True)
            size += sum(f.size for f in day_files)
            rows += con.execute(f"COPY (SELECT * FROM {reader}) TO '{target / 'data_0.parquet'}' (FORMAT parquet)",
                                [[str(f.path) for f in day_files]]).fetchone()[0]
    seconds = time.perf_counter() - started
    shutil.rmtree(out_root, ignore_errors=True)
    return {"rows": rows, "bytes": size, "seconds": seconds, "cpu_seconds": _cpu_seconds() - cpu}


def stage_ingest(args) -> dict:
    """Load every entity and day into a fresh lake with the ingestion code (what the raw assets run)."""
    from orchestration.ingestion.loader import connect, load_entity

    scan = _landing_files(args)
    raw_root = Path(args.workdir) / "lake" / "raw"
    if not args.keep_lake:
        shutil.rmtree(raw_root, ignore_errors=True)
    con = connect()
    rows = size = 0
    started, cpu = time.perf_counter(), _cpu_seconds()
    for name, files in scan.files.items():
        if not files:
            continue
        from orchestration.ingestion.entities import get_entity

        result = load_entity(con, get_entity(name), files, raw_root, sorted({f.file_date for f in files}))
        rows += result.rows_loaded + result.rows_quarantined
        size += result.bytes_read
    return {"rows": rows, "bytes": size, "seconds": time.perf_counter() - started, "cpu_seconds": _cpu_seconds() - cpu}


STAGES = {"generate": stage_generate, "floor": stage_floor, "ingest": stage_ingest, "hash": stage_hash,
          "convert": stage_convert}


def run_stage_in_child(stage: str, args, extra: list[str] | None = None) -> dict:
    """Run one stage in a child process and return its measurements (with its own peak RSS)."""
    cmd = [sys.executable, "-m", "benchmarks.bench_ingestion", "--stage", stage, "--tier", args.tier,
           "--days", str(args.days), "--seed", str(args.seed), "--workdir", args.workdir, *(extra or [])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def median_run(runs: list[dict]) -> dict:
    """The run with the median wall time (the lower middle one for an even count), with the spread."""
    ordered = sorted(runs, key=lambda m: m["seconds"])
    chosen = dict(ordered[(len(ordered) - 1) // 2])
    chosen["spread"] = f"{ordered[0]['seconds']:.2f}-{ordered[-1]['seconds']:.2f}" if len(runs) > 1 else ""
    return chosen


def print_table(rows: list[tuple[str, dict]], floor_seconds: float) -> None:
    """Print the measurements as a Markdown table."""
    print("| stage | rows | bytes | seconds | (min-max) | CPU s | rows/s | peak RSS MB | ratio to floor |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, m in rows:
        rate = m["rows"] / m["seconds"] if m["seconds"] else 0
        ratio = m["seconds"] / floor_seconds if floor_seconds else 0
        print(f"| {name} | {m['rows']:,} | {m['bytes']:,} | {m['seconds']:.2f} | {m.get('spread', '')} | "
              f"{m['cpu_seconds']:.2f} | {rate:,.0f} | {m['peak_rss_mb']:,.0f} | {ratio:.2f}x |")


def main() -> None:
    """Run the benchmark (or, with --stage, one stage in this process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", default="/tmp/c360-bench")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the landing zone in --workdir")
    parser.add_argument("--repeat", type=int, default=1, help="alternate floor and ingestion N times, report medians")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--keep-lake", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--references", action="store_true",
                        help="also time hashing alone and a plain JSON -> Parquet conversion (no contract)")
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    measured: list[tuple[str, dict]] = []
    if not args.skip_generate:
        measured.append((f"generate ({args.tier}, {args.days} days)", run_stage_in_child("generate", args)))
    floors, ingests, agains = [], [], []
    for _ in range(max(1, args.repeat)):
        floors.append(run_stage_in_child("floor", args))
        ingests.append(run_stage_in_child("ingest", args))
        agains.append(run_stage_in_child("ingest", args, ["--keep-lake"]))
    floor = median_run(floors)
    measured.append(("floor: count(*) via read_json/read_csv, same files, once", floor))
    measured.append(("ingest: landing -> Parquet raw layer", median_run(ingests)))
    measured.append(("ingest again (all days unchanged)", median_run(agains)))
    if args.references:
        measured.append(("reference: sha256 of every file (exactly-once manifest)", run_stage_in_child("hash", args)))
        measured.append(("reference: plain read_json -> Parquet per day, no contract",
                         run_stage_in_child("convert", args)))
    print("Floor: DuckDB `SELECT count(*) FROM read_json(<files>)` per JSONL entity and `read_csv` for POS, over "
          "the same landing files once (page cache warm for every stage).")
    print_table(measured, floor["seconds"])


if __name__ == "__main__":
    main()
