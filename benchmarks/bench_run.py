"""Benchmark: the whole `c360 run` (landing zone -> raw -> dbt -> checks -> predictions -> segments -> publish ->
sync -> reports) as a user runs it, and where its time goes.

    python -m benchmarks.bench_run --tier demo [--days N] [--workdir /tmp/c360-bench-run]

Writes the landing zone into --workdir once (kept for the next time), then, in a new C360_HOME:
  first run      every export date but the last: `c360 run --as-of <the day before the last>`
  one new day    `c360 run`: loads the last export date and builds as of it (what the daily schedule does)
Each run is a child process (wall seconds and peak RSS of it and its dbt processes). Where the time went is
read back from the run's Dagster steps, summed by stage; `dbt itself` is what dbt reports for its own work
(run_results.json), the rest of the dbt steps is starting dbt and streaming its events into Dagster; `outside
the Dagster run` is parsing the project and setting the run up. Not a test: no thresholds here.
The runs get this shell's tuning variables (C360_DUCKDB_MEMORY_LIMIT, C360_DBT_THREADS, ...; the table says
which), never its locations: the benchmark's own home and landing zone.
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
from datetime import date, timedelta
from pathlib import Path

from orchestration.transform.project import DBT_PROJECT_DIR

# Step-key prefixes of the main job -> their stage, in the order of the flow. A raw asset's audit is a check.
STAGE_OF_STEP = (
    ("raw__", "raw layer (landing -> Parquet)"),
    ("warehouse_", "dbt steps (build and tests)"),
    ("customer_predictions", "predictions"),
    ("segment_history", "segment history"),
    ("serving__", "publish (serving.duckdb)"),
    ("activation__", "activation (file, Klaviyo, Mailchimp)"),
    ("report__dbt_docs", "dbt docs"),
    ("report__", "run report"),
)
CHECKS = "checks (GX suites, SQL checks)"
DBT_STEPS = STAGE_OF_STEP[1][1]
DBT_ITSELF = "  of which dbt itself"
OUTSIDE = "outside the Dagster run (parse, set-up)"
ROWS = (*(s for _, s in STAGE_OF_STEP[:2]), DBT_ITSELF, *(s for _, s in STAGE_OF_STEP[2:]), CHECKS, OUTSIDE)


def stage_of(step_key: str) -> str:
    """The benchmark's stage of a step of the main job."""
    if step_key.endswith("_quality_audit"):
        return CHECKS
    return next((stage for prefix, stage in STAGE_OF_STEP if step_key.startswith(prefix)), "other")


# Where a run reads and writes (Settings.from_env, Dagster's instance): set by the benchmark, never inherited.
LOCATION_VARIABLES = ("C360_HOME", "LANDING_ROOT", "DUCKDB_DATABASE", "SERVING_DATABASE", "DAGSTER_HOME",
                      "C360_SPARK_HOME")


def tuning_variables() -> dict[str, str]:
    """This shell's C360_ settings the runs inherit (memory limit, dbt threads, engine, ...)."""
    return {k: v for k, v in sorted(os.environ.items())
            if k.startswith("C360_") and k not in LOCATION_VARIABLES}


def stage_run(args) -> dict:
    """One `c360 run` in a child process; its wall time and the peak RSS of it and its dbt processes."""
    env = {k: v for k, v in os.environ.items() if k not in LOCATION_VARIABLES}
    env.update({"C360_HOME": args.home, "LANDING_ROOT": str(Path(args.workdir) / "landing")})
    cli = [sys.executable, "-m", "orchestration.cli", "run", *(["--as-of", args.as_of] if args.as_of else [])]
    started = time.perf_counter()
    done = subprocess.run(cli, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"c360 run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    # RUSAGE_CHILDREN: the largest of the waited-for descendants (c360 and every dbt it started).
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "peak_rss_mb": peak, "summary": done.stdout.splitlines()[0]}


def breakdown(home: Path, wall: float) -> dict[str, float]:
    """Seconds per stage of the home's latest Dagster run, dbt's own work apart, and the time outside it."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        run = instance.get_runs(limit=1)[0]
        stats = instance.get_run_stats(run.run_id)
        steps = instance.get_run_step_stats(run.run_id)
    from orchestration.transform.assets import step_target_path

    seconds: dict[str, float] = {DBT_ITSELF: 0.0}
    for step in steps:
        stage = stage_of(step.step_key)
        seconds[stage] = seconds.get(stage, 0.0) + (step.end_time or 0) - (step.start_time or 0)
        results = DBT_PROJECT_DIR / step_target_path(step.step_key) / "run_results.json"
        if stage == DBT_STEPS and results.exists():
            seconds[DBT_ITSELF] += json.loads(results.read_text())["elapsed_time"]
    seconds[OUTSIDE] = wall - (stats.end_time - stats.start_time)
    return seconds


def child(args, home: Path, as_of: str | None) -> dict:
    """Run `c360 run` through a child of this script, so each run's peak RSS is its own."""
    cmd = [sys.executable, "-m", "benchmarks.bench_run", "--stage", "run", "--workdir", args.workdir,
           "--tier", args.tier, "--home", str(home), *(["--as-of", as_of] if as_of else [])]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    """Run the benchmark (or, with --stage, one run in this process)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tier", default="demo", choices=["tiny", "demo", "large"])
    parser.add_argument("--days", type=int, default=365, help="export dates to generate")
    parser.add_argument("--workdir", default="/tmp/c360-bench-run")
    parser.add_argument("--stage", choices=["run"], help=argparse.SUPPRESS)
    parser.add_argument("--home", help=argparse.SUPPRESS)
    parser.add_argument("--as-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(stage_run(args)))
        return
    workdir = Path(args.workdir)
    landing = workdir / "landing"
    if not landing.is_dir():
        from orchestration.sample_data import generate

        generate(landing, tier=args.tier, days=args.days)
    from orchestration.ingestion.landing import scan_landing

    last = scan_landing(landing).dates[-1]
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    runs = {
        "first run": child(args, home, (last - timedelta(days=1)).isoformat()),
    }
    first = breakdown(home, runs["first run"]["seconds"])
    runs["one new day"] = child(args, home, None)
    daily = breakdown(home, runs["one new day"]["seconds"])
    settings = ", ".join(f"{k}={v}" for k, v in tuning_variables().items()) or "defaults"
    print(f"`c360 run` at {args.tier} (export dates up to {last}), {date.today()}; settings: {settings}\n")
    print("| | first run | one new day |\n|---|---:|---:|")
    print(f"| wall seconds | {runs['first run']['seconds']:.1f} | {runs['one new day']['seconds']:.1f} |")
    print(f"| peak RSS MB | {runs['first run']['peak_rss_mb']:,.0f} | {runs['one new day']['peak_rss_mb']:,.0f} |")
    for stage in ROWS:
        print(f"| {stage} | {first.get(stage, 0.0):.1f} | {daily.get(stage, 0.0):.1f} |")
    for name, run in runs.items():
        print(f"\n{name}: {run['summary']}")


if __name__ == "__main__":
    main()
