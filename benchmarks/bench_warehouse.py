"""Benchmark: dbt build of the warehouse (full refresh, then one new day incremental) against a floor.

    python -m benchmarks.bench_warehouse --tier demo [--days 365] [--workdir /tmp/c360-bench]

Reuses (or creates, with benchmarks.bench_ingestion) the landing zone and lake in --workdir. Stages, each
in a child process so its peak RSS is its own:
  floor           one DuckDB aggregation pass over the raw web events (the largest table)
  copy floor      one copy of the raw web events into a DuckDB table, with dbt's settings: what a warehouse
                  that stores the events pays at least (the aggregation pass stores nothing)
  full refresh    `dbt build --full-refresh` as of the day before the last export date
  incremental     `dbt build` as of the last export date (incremental models add one day), with the vars of
                  the daily Dagster run (reload_from_date: that day)
  segments        `dbt build --select segments`: the eight segment models and their tests, on the built marts
Prints stage, rows, seconds, peak RSS, ratios to both floors. Not a test: no thresholds here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from orchestration.transform.project import DBT_PROJECT_DIR, PRODUCTION_BUILD_FLAGS, dbt_vars_args


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _warehouse(args) -> Path:
    return Path(args.workdir) / "warehouse.duckdb"


def stage_prepare(args) -> dict:
    """Create the raw views of the warehouse over the benchmark's lake."""
    import duckdb

    from orchestration.ingestion.raw_views import create_raw_views

    con = duckdb.connect(str(_warehouse(args)))
    create_raw_views(con, Path(args.workdir) / "lake" / "raw")
    last = con.execute("SELECT max(partition_date) FROM raw.load_manifest").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM raw.web__events").fetchone()[0]
    con.close()
    return {"rows": rows, "seconds": 0.0, "last_date": last.isoformat()}


def stage_floor(args) -> dict:
    """One aggregation pass over raw web events: what any model reading them must at least pay."""
    import duckdb

    con = duckdb.connect(str(_warehouse(args)), read_only=True)
    started = time.perf_counter()
    rows = con.execute(
        'SELECT count(*), count(DISTINCT "anonymousId"), min("timestamp"), max("timestamp"), '
        "count(DISTINCT event) FROM raw.web__events"
    ).fetchone()[0]
    seconds = time.perf_counter() - started
    con.close()
    return {"rows": rows, "seconds": seconds}


def stage_copy_floor(args) -> dict:
    """Every raw web event copied once into a table of a scratch DuckDB file, with the dbt profile's memory
    limit and settings: the full build stores the events (int_web_events_enriched), so it cannot cost less."""
    import duckdb

    scratch = Path(args.workdir) / "copy_floor.duckdb"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    try:
        for setting in ("SET TimeZone = 'UTC'", "SET preserve_insertion_order = false",
                        f"SET memory_limit = '{os.environ.get('C360_DUCKDB_MEMORY_LIMIT', '4GB')}'"):
            con.execute(setting)
        con.execute(f"ATTACH '{_warehouse(args)}' AS warehouse (READ_ONLY)")
        started = time.perf_counter()
        con.execute("CREATE TABLE web_events AS SELECT * FROM warehouse.raw.web__events")
        seconds = time.perf_counter() - started
        rows = con.execute("SELECT count(*) FROM web_events").fetchone()[0]
    finally:
        con.close()
        scratch.unlink(missing_ok=True)
    return {"rows": rows, "seconds": seconds}


def stage_dbt(args) -> dict:
    """One `dbt build` in this process (dbt-duckdb runs DuckDB in-process, so RSS includes it)."""
    from dbt.cli.main import dbtRunner

    os.environ["DUCKDB_DATABASE"] = str(_warehouse(args))
    target = Path(args.workdir) / "dbt-target"
    cli = ["build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(target), "--log-path", str(target / "logs"), "--quiet",
           *dbt_vars_args(args.as_of, args.reload_from), *PRODUCTION_BUILD_FLAGS]
    if args.full_refresh:
        cli.append("--full-refresh")
    if args.select:
        cli += ["--select", args.select]
    started = time.perf_counter()
    result = dbtRunner().invoke(cli)
    seconds = time.perf_counter() - started
    if not result.success:
        raise SystemExit(f"dbt build failed: {result.exception}")
    # Rows are counted by the parent: dbt-duckdb keeps this process's connection open.
    return {"rows": 0, "seconds": seconds, "slowest": _slowest_nodes(target / "run_results.json")}


def _slowest_nodes(run_results: Path, top: int = 8) -> list[tuple[str, float]]:
    """The slowest models and tests of a dbt invocation, and the sum of each kind."""
    results = json.loads(run_results.read_text())["results"]
    kinds: dict[str, float] = {}
    for r in results:
        kind = r["unique_id"].split(".")[0]
        kinds[f"all {kind}s"] = kinds.get(f"all {kind}s", 0.0) + r["execution_time"]
    slowest = sorted(results, key=lambda r: -r["execution_time"])[:top]
    return [(r["unique_id"].split(".", 2)[-1], r["execution_time"]) for r in slowest] + sorted(kinds.items())


def _customer_rows(args) -> int:
    import duckdb

    con = duckdb.connect(str(_warehouse(args)), read_only=True)
    rows = con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0]
    con.close()
    return rows


def _segment_rows(args) -> int:
    import duckdb

    con = duckdb.connect(str(_warehouse(args)), read_only=True)
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                         "WHERE table_schema = 'segments' AND table_name LIKE 'seg_%'").fetchall()]
    rows = sum(con.execute(f'SELECT count(*) FROM segments."{t}"').fetchone()[0] for t in tables)
    con.close()
    return rows


STAGES = {"prepare": stage_prepare, "floor": stage_floor, "copy_floor": stage_copy_floor, "dbt": stage_dbt}


def child(stage: str, args, *extra: str) -> dict:
    """Run one stage in a child process; returns its measurements."""
    cmd = [sys.executable, "-m", "benchmarks.bench_warehouse", "--stage", stage, "--workdir", args.workdir,
           "--tier", args.tier, "--days", str(args.days), *extra]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Run the benchmark (or, with --stage, one stage in this process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workdir", default="/tmp/c360-bench")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    parser.add_argument("--reload-from", help=argparse.SUPPRESS)
    parser.add_argument("--full-refresh", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--select", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result))
        return
    if not (Path(args.workdir) / "lake" / "raw").is_dir():
        subprocess.run([sys.executable, "-m", "benchmarks.bench_ingestion", "--tier", args.tier,
                        "--days", str(args.days), "--workdir", args.workdir], check=True)
    _warehouse(args).unlink(missing_ok=True)
    prepared = child("prepare", args)
    last = date.fromisoformat(prepared["last_date"])
    floor = child("floor", args)
    copy_floor = child("copy_floor", args)
    full = child("dbt", args, "--as-of", (last - timedelta(days=1)).isoformat(), "--full-refresh")
    full["rows"] = _customer_rows(args)
    incremental = child("dbt", args, "--as-of", last.isoformat(), "--reload-from", last.isoformat())
    incremental["rows"] = _customer_rows(args)
    segments = child("dbt", args, "--as-of", last.isoformat(), "--select", "segments")
    segments["rows"] = _segment_rows(args)
    print(f"| stage ({args.tier}, {prepared['rows']:,} raw web events) | rows | seconds | peak RSS MB | "
          "ratio to floor | ratio to copy floor |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, m in (("floor: one aggregation pass over raw.web__events", floor),
                    ("copy floor: raw.web__events copied into a table", copy_floor),
                    ("dbt build --full-refresh (customer_360 rows)", full),
                    ("dbt build, one new day incremental", incremental),
                    ("dbt build --select segments (segment members)", segments)):
        ratios = [m["seconds"] / f["seconds"] if f["seconds"] else 0 for f in (floor, copy_floor)]
        print(f"| {name} | {m['rows']:,} | {m['seconds']:.2f} | {m['peak_rss_mb']:,.0f} | {ratios[0]:.1f}x | "
              f"{ratios[1]:.1f}x |")
    print(f"\nincremental / full: {incremental['seconds'] / full['seconds']:.0%}")
    for name, m in (("full refresh", full), ("incremental", incremental)):
        print(f"\nslowest nodes, {name} (seconds; summed over dbt's threads):")
        for node, seconds in m["slowest"]:
            print(f"  {seconds:8.2f}  {node}")
    print(f"segments / full: {segments['seconds'] / full['seconds']:.0%}")


if __name__ == "__main__":
    main()
