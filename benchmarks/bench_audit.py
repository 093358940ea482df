"""Benchmark: the audit (GX suites + SQL checks) against the build it guards.

    python -m benchmarks.bench_audit --tier demo [--days 365] [--workdir /tmp/c360-bench-audit]

Stages, each in a child process so its peak RSS is its own:
  generate       the tier's landing zone
  ingest         every export date into the Parquet lake, and the raw views
  build          `dbt build` (seeds, models, tests) as of the last export date
  audit raw      every raw suite over every partition (the first run of a new warehouse: a full backfill)
  audit marts    customer_360 (with its cross-checks against fct_orders), fct_orders, every built segment
  audit daily    what a daily run audits: the raw partitions of the last export date, then the marts again
Prints stage, rows, seconds, peak RSS and share of the build (ingest + dbt build). Goal: the audit under 25%
of the build, peak RSS under 6 GB at `large`. Not a test: no thresholds are enforced here.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

END = date(2026, 10, 31)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _settings(args):
    from orchestration.settings import Settings

    home = Path(args.workdir)
    return Settings(home=home, landing_root=home / "landing", duckdb_database=home / "warehouse.duckdb",
                    serving_database=home / "serving.duckdb")


def stage_generate(args) -> dict:
    """Write the landing zone of the tier."""
    from orchestration.sample_data import generate

    landing = Path(args.workdir) / "landing"
    started = time.perf_counter()
    summary = generate(landing, tier=args.tier, days=args.days, end_date=END)
    return {"rows": sum(e.lines for e in summary.entities.values()), "seconds": time.perf_counter() - started}


def stage_ingest(args) -> dict:
    """Load every export date of every entity, then create the raw views."""
    import duckdb

    from orchestration.ingestion.entities import ENTITIES
    from orchestration.ingestion.landing import scan_entity
    from orchestration.ingestion.loader import connect, load_entity
    from orchestration.ingestion.raw_views import create_raw_views

    settings = _settings(args)
    started = time.perf_counter()
    con = connect()
    rows = 0
    try:
        for entity in ENTITIES:
            files, _ = scan_entity(settings.landing_root, entity)
            if files:
                result = load_entity(con, entity, files, settings.raw_root, sorted({f.file_date for f in files}))
                rows += result.rows_loaded
    finally:
        con.close()
    with duckdb.connect(str(settings.duckdb_database)) as wh:
        create_raw_views(wh, settings.raw_root)
    return {"rows": rows, "seconds": time.perf_counter() - started}


def stage_build(args) -> dict:
    """`dbt build` in this process (dbt-duckdb runs DuckDB in-process, so RSS includes it)."""
    from dbt.cli.main import dbtRunner

    from orchestration.transform.project import DBT_PROJECT_DIR

    settings = _settings(args)
    os.environ["DUCKDB_DATABASE"] = str(settings.duckdb_database)
    target = Path(args.workdir) / "dbt-target"
    cli = ["build", "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(target), "--log-path", str(target / "logs"), "--quiet",
           "--vars", json.dumps({"as_of_date": END.isoformat()})]
    started = time.perf_counter()
    result = dbtRunner().invoke(cli)
    seconds = time.perf_counter() - started
    failed = sorted(r.node.name for r in (result.result or []) if str(r.status) in ("error", "fail"))
    # Rows are counted by the parent: dbt-duckdb keeps this process's connection open.
    return {"rows": 0, "seconds": seconds, "failed": failed}


def _audit(args, raw_days: list[date] | None, raw: bool, marts: bool) -> dict:
    """Audit the chosen targets over `raw_days` (None: every loaded export date), as one run."""
    import duckdb

    from orchestration.quality.audit import Auditor, AuditRun, audit_targets, duckdb_connector
    from orchestration.quality.manifest import load_manifest, segment_model_names

    settings = _settings(args)
    manifest = Path(args.workdir) / "dbt-target" / "manifest.json"

    with duckdb.connect(str(settings.duckdb_database), read_only=True) as con:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'segments'").fetchall()}
        days = [r[0] for r in con.execute(
            "SELECT DISTINCT partition_date FROM raw.load_manifest ORDER BY 1").fetchall()]
    segments = [n for n in segment_model_names(load_manifest(manifest)) if n in tables]
    targets = [t for t in audit_targets(segments)
               if (raw and t.kind == "raw") or (marts and t.kind != "raw")]
    started = time.perf_counter()
    auditor = Auditor(settings, duckdb_connector(settings.duckdb_database), manifest_path=manifest)
    run = AuditRun(args.run_id, END, raw_days if raw_days is not None else days)
    rows = critical = warnings = 0
    per_target = {}
    for target in targets:
        summary = auditor.audit(target, run)
        rows += summary.rows_validated
        critical += len(summary.critical_failures)
        warnings += len(summary.warning_failures)
        failed = [r.check_name for r in summary.critical_failures + summary.warning_failures]
        per_target[target.asset] = {"seconds": summary.seconds, "rows": summary.rows_validated, "failed": failed}
    return {"rows": rows, "seconds": time.perf_counter() - started, "critical_failed": critical,
            "warning_failed": warnings, "targets": per_target}


def stage_audit_raw(args) -> dict:
    """Every raw suite over every loaded partition."""
    return _audit(args, None, raw=True, marts=False)


def stage_audit_marts(args) -> dict:
    """customer_360, fct_orders and the built segments."""
    return _audit(args, None, raw=False, marts=True)


def stage_audit_daily(args) -> dict:
    """A daily run: the last export date's raw partitions, then the marts."""
    return _audit(args, [END], raw=True, marts=True)


STAGES = {"generate": stage_generate, "ingest": stage_ingest, "build": stage_build, "audit_raw": stage_audit_raw,
          "audit_marts": stage_audit_marts, "audit_daily": stage_audit_daily}


def child(stage: str, args, run_id: str = "bench") -> dict:
    """Run one stage in a child process; returns its measurements."""
    cmd = [sys.executable, "-m", "benchmarks.bench_audit", "--stage", stage, "--workdir", args.workdir,
           "--tier", args.tier, "--days", str(args.days), "--run-id", run_id]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _count(args, sql: str) -> int:
    import duckdb

    with duckdb.connect(str(_settings(args).duckdb_database), read_only=True) as con:
        return con.execute(sql).fetchone()[0]


def main() -> None:
    """Run the benchmark (or, with --stage, one stage in this process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--workdir", default="/tmp/c360-bench-audit")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--run-id", default="bench", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        result = STAGES[args.stage](args)
        result["peak_rss_mb"] = _peak_rss_mb()
        print(json.dumps(result, default=str))
        return
    shutil.rmtree(args.workdir, ignore_errors=True)
    Path(args.workdir).mkdir(parents=True)
    generated = child("generate", args)
    ingested = child("ingest", args)
    built = child("build", args)
    built["rows"] = _count(args, "SELECT count(*) FROM marts.customer_360")
    raw = child("audit_raw", args, "bench-backfill")
    marts = child("audit_marts", args, "bench-backfill")
    daily = child("audit_daily", args, "bench-daily")
    build_seconds = ingested["seconds"] + built["seconds"]
    orders = _count(args, "SELECT count(*) FROM marts.fct_orders")
    rows = [
        ("generate (landing lines; not part of the build)", generated, None),
        ("ingest (raw rows)", ingested, ingested["seconds"] / build_seconds),
        (f"dbt build (customer_360 rows; fct_orders {orders:,})", built, built["seconds"] / build_seconds),
        ("audit raw: every partition (rows validated)", raw, raw["seconds"] / build_seconds),
        ("audit marts + segments (rows validated)", marts, marts["seconds"] / build_seconds),
        ("audit total, first run (raw + marts)", {"rows": raw["rows"] + marts["rows"],
                                                   "seconds": raw["seconds"] + marts["seconds"],
                                                   "peak_rss_mb": max(raw["peak_rss_mb"], marts["peak_rss_mb"])},
         (raw["seconds"] + marts["seconds"]) / build_seconds),
        ("audit daily run (last day's raw + marts)", daily, daily["seconds"] / build_seconds),
    ]
    print(f"\n| stage ({args.tier}, {args.days} days) | rows | seconds | peak RSS MB | share of build |")
    print("|---|---:|---:|---:|---:|")
    for name, m, share in rows:
        print(f"| {name} | {m['rows']:,} | {m['seconds']:.1f} | {m['peak_rss_mb']:,.0f} | "
              f"{'' if share is None else f'{share:.0%}'} |")
    print(f"\nbuild = ingest + dbt build = {build_seconds:.1f} s; dbt failures: {built['failed'] or 'none'}")
    for name, m in (("first run", raw | {"targets": {**raw["targets"], **marts["targets"]}}), ("daily", daily)):
        slow = sorted(m["targets"].items(), key=lambda kv: -kv[1]["seconds"])[:5]
        print(f"slowest audits ({name}): " + ", ".join(f"{k} {v['seconds']:.1f}s" for k, v in slow))
    failures = {k: v["failed"] for k, v in {**raw["targets"], **marts["targets"]}.items() if v["failed"]}
    print(f"failed checks (first run): {failures or 'none'}")


if __name__ == "__main__":
    main()
