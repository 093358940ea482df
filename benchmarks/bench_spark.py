"""Benchmark: the same dbt build on DuckDB and on local Spark, same machine, same lake, same run.

    python -m benchmarks.bench_spark --lake /tmp/c360-bench/lake/raw --as-of 2026-10-31 [--workdir DIR]
                                     [--skip-tests]

Each engine runs `dbt build` (seeds, models and their tests; `--skip-tests`: seeds and models only) in a
child process; peak memory is the sampled RSS of that process tree (dbt and, for Spark, its JVM). Prints
the totals, then the models that take longest on Spark with their DuckDB time, and a per-model summary
that separates Spark's fixed cost per statement from the time that grows with data. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from orchestration.transform.project import DBT_PROJECT_DIR

DBT = str(Path(sys.executable).parent / "dbt")


def _tree_rss_mb(pid: int) -> float:
    import psutil

    try:
        proc = psutil.Process(pid)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            total += p.memory_info().rss
    return total / 1024 / 1024


def run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """(seconds, peak RSS MB of the process tree, completed process)."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss_mb(proc.pid))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    sampler.join()
    return time.perf_counter() - started, peak[0], subprocess.CompletedProcess(cmd, proc.returncode, out, "")


def dbt_command(work: Path, target: str, as_of: str, skip_tests: bool) -> list[str]:
    """The dbt build of one engine."""
    cmd = [DBT, "build", "--target", target, "--vars", json.dumps({"as_of_date": as_of}),
           "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
           "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    if skip_tests:
        cmd += ["--resource-type", "model", "--resource-type", "seed"]
    return cmd


def model_times(work: Path) -> dict[str, float]:
    """Seconds per model of the last dbt command in `work`."""
    results = json.loads((work / "target" / "run_results.json").read_text())["results"]
    return {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results if r["unique_id"].startswith("model.")}


def main(argv: list[str] | None = None) -> int:
    """Run both builds and print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lake", required=True, type=Path, help="the raw layer: <C360_HOME>/lake/raw")
    parser.add_argument("--as-of", required=True)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/c360-bench-spark"))
    parser.add_argument("--skip-tests", action="store_true")
    args = parser.parse_args(argv)
    raw_root, work = args.lake.resolve(), args.workdir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("C360_", "DUCKDB_"))}
    base_env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"

    import shutil

    import duckdb

    from orchestration.ingestion.raw_views import create_raw_views
    from orchestration.privacy.keys import DEFAULT_ERASURE_KEY
    from orchestration.transform.spark import erasure_pad_env, register_raw_tables_in_subprocess

    rows = {}
    duck_work = work / "duckdb"
    shutil.rmtree(duck_work, ignore_errors=True)
    duck_work.mkdir(parents=True)
    database = duck_work / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        create_raw_views(con, raw_root)
        web_events = con.execute("SELECT count(*) FROM raw.web__events").fetchone()[0]
    duck_env = {**base_env, "DUCKDB_DATABASE": str(database)}
    seconds, peak, done = run_measured(dbt_command(duck_work, "dev", args.as_of, args.skip_tests), duck_env)
    if done.returncode != 0:
        print(done.stdout[-3000:])
        return 1
    with duckdb.connect(str(database), read_only=True) as con:
        customers = con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0]
    rows["duckdb"] = (seconds, peak)

    spark_work = work / "spark"
    shutil.rmtree(spark_work, ignore_errors=True)
    spark_work.mkdir(parents=True)
    # Both engines hash erased people's identifiers with the default erasure key (C360_ vars are left out).
    spark_env = {**base_env, "C360_SPARK_HOME": str(spark_work / "home"), **erasure_pad_env(DEFAULT_ERASURE_KEY)}
    started = time.perf_counter()
    register_raw_tables_in_subprocess(raw_root, env=spark_env)
    register_seconds = time.perf_counter() - started
    seconds, peak, done = run_measured(dbt_command(spark_work, "spark", args.as_of, args.skip_tests), spark_env)
    if done.returncode != 0:
        print(done.stdout[-3000:])
        return 1
    rows["spark"] = (seconds, peak)

    what = "dbt build (seeds, models)" if args.skip_tests else "dbt build (seeds, models, tests)"
    print(f"\n{what}, as of {args.as_of}: {web_events:,} raw web events, {customers:,} customer_360 rows\n")
    print("| engine | seconds | peak RSS MB | ratio to DuckDB |")
    print("|---|---:|---:|---:|")
    for engine, (secs, mb) in rows.items():
        print(f"| {engine} | {secs:,.1f} | {mb:,.0f} | {secs / rows['duckdb'][0]:.1f}x |")
    print(f"| spark: registering the raw tables (own JVM) | {register_seconds:,.1f} | | |")

    duck_times, spark_times = model_times(duck_work), model_times(spark_work)
    print("\nSlowest models on Spark:\n")
    print("| model | DuckDB s | Spark s | ratio |")
    print("|---|---:|---:|---:|")
    for name, secs in sorted(spark_times.items(), key=lambda kv: -kv[1])[:12]:
        duck = duck_times.get(name, float("nan"))
        print(f"| {name} | {duck:.2f} | {secs:.2f} | {secs / duck if duck else float('nan'):.1f}x |")
    fixed = statistics.median(sorted(spark_times.values())[: max(1, len(spark_times) // 4)])
    variable = {n: max(0.0, t - fixed) for n, t in spark_times.items()}
    print(f"\nModels: {len(spark_times)}. Spark's per-statement floor (median of the fastest quarter): {fixed:.2f} s; "
          f"time above that floor: {sum(variable.values()):.1f} s of {sum(spark_times.values()):.1f} s. "
          f"DuckDB models total: {sum(duck_times.values()):.1f} s.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
