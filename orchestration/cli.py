"""`c360`: the shell surface of the warehouse (ARCHITECTURE.md, "The surface a user touches").

Verbs arrive with the features behind them: `generate` writes a landing zone, `run` materialises
everything through Dagster on the persistent instance so the run shows up in the UI, `sync` sends the
published segments to their destinations (or prints the plan), `report` rewrites the HTML run report.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

from orchestration.settings import Settings

DAGSTER_YAML = """\
# Written by c360 on first use. One pool of size 1 for every DuckDB writer (one writer at a time).
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


LOCK_TIMEOUT_HELP = ("while another run or sync holds C360_HOME, wait at most this long, then exit with code 3 "
                     "(0: exit at once; default: wait until it finishes)")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text}") from exc


def ensure_dagster_home(settings: Settings) -> Path:
    """Create the persistent Dagster instance directory (with its dagster.yaml) and export DAGSTER_HOME."""
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def cmd_generate(args: argparse.Namespace) -> int:
    """Write a sample landing zone."""
    import logging

    from orchestration.disk import disk_problem, generate_bytes_needed
    from orchestration.sample_data import DirtRates, generate
    from orchestration.sample_data.progress import ProgressLines

    settings = Settings.from_env()
    out = Path(args.out).resolve() if args.out else settings.landing_root
    if not args.no_disk_check:
        problem = disk_problem(out, generate_bytes_needed(args.tier, args.days, args.gzip),
                               f"generate --tier {args.tier} --days {args.days}")
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    dirt = DirtRates.none() if args.clean else DirtRates()
    # The generator logs each stage and entity as it finishes: progress on the terminal (stderr).
    progress = logging.StreamHandler(sys.stderr)
    progress.setFormatter(logging.Formatter("  %(message)s"))
    generator_log = logging.getLogger("orchestration.sample_data")
    generator_log.addHandler(progress)
    generator_log.setLevel(logging.INFO)
    started = time.perf_counter()
    # A progress line with a bar every few seconds while files are written, and while a stage runs long.
    printer = ProgressLines(sys.stderr)
    with printer.ticking():
        summary = generate(out, tier=args.tier, days=args.days, seed=args.seed, end_date=args.end_date, dirt=dirt,
                           gzip=args.gzip, progress=printer)
    elapsed = time.perf_counter() - started
    files = sum(e.files for e in summary.entities.values())
    lines = sum(e.lines for e in summary.entities.values())
    size = sum(e.bytes for e in summary.entities.values())
    print(f"wrote {files:,} files, {lines:,} lines, {size / 1e6:,.1f} MB to {out} in {elapsed:,.1f} s")
    for name, e in sorted(summary.entities.items()):
        print(f"  {name:32s} {e.files:6,} files {e.lines:12,} lines {e.quarantine_expected:8,} bad lines")
    return 0


def warehouse_lock_problem(settings: Settings) -> str | None:
    """A sentence when another process holds the working warehouse (DuckDB allows one writer), else None."""
    import duckdb

    if not settings.duckdb_database.exists():
        return None
    try:
        duckdb.connect(str(settings.duckdb_database)).close()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise
        return (f"{settings.duckdb_database} is in use by another process ({str(exc).splitlines()[0]}). "
                "Wait for the other `c360 run` to finish, or close the tool that opened it: BI tools belong on "
                f"{settings.serving_database.name}, opened read-only.")
    return None


def engine_problem(target: str) -> str | None:
    """Why the warehouse cannot be built on `target` here (None when it can)."""
    import importlib.util
    import shutil

    from orchestration.transform.project import DBT_TARGETS

    if target not in DBT_TARGETS:
        return f"C360_TARGET must be one of {', '.join(DBT_TARGETS)}, got {target!r}"
    if target == "spark":
        if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("dbt.adapters.spark") is None:
            return "the Spark engine needs PySpark and dbt-spark: pip install -e '.[spark]'"
        if not (os.environ.get("JAVA_HOME") or shutil.which("java")):
            return "the Spark engine needs Java 17 or newer (java on PATH or JAVA_HOME)"
    return None


def run_exclusively(settings: Settings, command: str, timeout: float | None, work) -> int:
    """Call `work()` holding the C360_HOME lock, after crash recovery; exit code 3 when the home stays busy.

    Waits for another holder (saying who it is) up to `timeout` seconds (None: until it finishes)."""
    from orchestration.home_lock import HomeBusy, home_lock
    from orchestration.recovery import recover_home

    def waiting(message: str) -> None:
        print(f"note: {message}", file=sys.stderr, flush=True)

    try:
        with home_lock(settings.home, command=command, timeout=timeout, on_wait=waiting):
            for line in recover_home(settings).lines():
                print(f"note: {line}", file=sys.stderr, flush=True)
            return work()
    except HomeBusy as busy:
        print(f"error: {busy}", file=sys.stderr)
        return 3


def cmd_run(args: argparse.Namespace) -> int:
    """Materialise everything for the landing zone's dates through Dagster and print a summary."""
    if args.landing:
        os.environ["LANDING_ROOT"] = str(Path(args.landing).resolve())
    if args.target:
        os.environ["C360_TARGET"] = args.target
    problem = engine_problem(os.environ.get("C360_TARGET") or "duckdb")
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    ensure_dagster_home(settings)
    return run_exclusively(settings, "c360 run", args.lock_timeout, lambda: _run_locked(args, settings))


def _run_locked(args: argparse.Namespace, settings: Settings) -> int:
    from orchestration.ingestion.landing import scan_landing
    from orchestration.run import run_main_job

    scan = scan_landing(settings.landing_root)
    missing = [f"{e}" for e in ("shop__customers", "shop__orders") if not scan.files.get(e)]
    if missing:
        print(
            f"error: the landing zone {settings.landing_root} has no files for the required "
            f"entities {', '.join(missing)}. Write sample data with `c360 generate` or point "
            "--landing / LANDING_ROOT at your exports.",
            file=sys.stderr,
        )
        return 2
    if args.date_from and args.date_to and args.date_from > args.date_to:
        print(f"error: --from {args.date_from} is after --to {args.date_to}", file=sys.stderr)
        return 2
    locked = warehouse_lock_problem(settings)
    if locked:
        print(f"error: {locked}", file=sys.stderr)
        return 2
    if not args.no_disk_check and not settings.duckdb_database.exists():
        from orchestration.disk import disk_problem, first_run_bytes_needed

        # A first run builds everything from the whole history: the raw layer, the warehouse and its spill.
        problem = disk_problem(settings.duckdb_database.parent, first_run_bytes_needed(scan),
                               f"a first run over {settings.landing_root}")
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    outcome = run_main_job(settings, scan, as_of=args.as_of, first=args.date_from, last=args.date_to,
                           no_sync=args.no_sync, sync_past=args.sync_past)
    print(outcome.render())
    return 0 if outcome.ok else 1


def cmd_sync(args: argparse.Namespace) -> int:
    """Sync published segments to their destinations (through Dagster), or print the plan (--dry-run)."""
    settings = Settings.from_env()
    if not settings.serving_database.exists():
        print(f"error: {settings.serving_database} does not exist yet: `c360 run` builds, audits and publishes it "
              "first (activation reads only the published, audited data).", file=sys.stderr)
        return 2
    ensure_dagster_home(settings)
    from orchestration.sync import run_sync_command

    return run_exclusively(settings, "c360 sync", args.lock_timeout, lambda: run_sync_command(
        settings, segment=args.segment, destination=args.destination, dry_run=args.dry_run, force=args.force))


def cmd_report(args: argparse.Namespace) -> int:
    """(Re)write the HTML run report from serving.duckdb, the data-quality page and the documentation's entry
    page."""
    settings = Settings.from_env()
    if not settings.serving_database.exists():
        print(f"error: {settings.serving_database} does not exist yet: `c360 run` publishes it first.",
              file=sys.stderr)
        return 2
    from orchestration.report.build import build_report
    from orchestration.report.site import INDEX, REPORT, table_doc_links, write_docs_site

    docs = settings.home / "docs"
    out = Path(args.out).resolve() if args.out else docs / REPORT
    home = Path(os.path.relpath(docs / INDEX, out.parent)).as_posix()
    result = build_report(settings.serving_database, out, doc_links=table_doc_links(docs, out.parent), home=home)
    site = write_docs_site(docs, settings.home / "quality" / "validations", settings.home)
    print(f"wrote {result.path}: {len(result.rendered)} sections")
    print(f"wrote {site.quality}: {site.tables} tables validated ({site.failing_tables} failing in their latest "
          f"validation), {site.validations} validations stored")
    print(f"documentation: {site.index}")
    for key, reason in result.missing.items():
        print(f"  {key}: not drawn, missing input ({reason})")
    for key, error in result.failed.items():
        print(f"  {key}: could not be drawn ({error})")
    # A section that failed to draw is a bug or bad data, not a missing input: say so in the exit status.
    return 1 if result.failed else 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("customer360")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


TIER_HELP = """\
size of the sample, for 365 days (default demo): tiny = 300 customers, 15 MB, 2 s; demo = 20,000 customers,
1.1 GB, 15 s, a first `c360 run` about 8 min (its purge of the sample's 25 erased people under a minute);
large = 1M customers and 50M web events: about 41 GB of disk (another ~40 GB free for the first `c360 run`),
~10 min and up to 12 GB of memory to generate (C360_GENERATOR_MEMORY lowers it), ~30 min for the first run"""


def cmd_erase(args: argparse.Namespace) -> int:
    """Record an ad-hoc erasure request in the landing zone; the next `c360 run` carries it out."""
    from orchestration.privacy.requests import record_erasure_request

    settings = Settings.from_env()
    try:
        recorded = record_erasure_request(settings.landing_root, email=args.email, customer_id=args.customer_id)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"recorded erasure request {recorded.request_id} in {recorded.path}; "
          "the next `c360 run` removes the person from every store and destination")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `c360`."""
    parser = argparse.ArgumentParser(
        prog="c360", description="Customer-360 warehouse: landing zone -> DuckDB -> dbt marts -> audited segments "
        "-> email tools. Start with `c360 generate --tier demo` then `c360 run`.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a sample landing zone",
                         description="Write a deterministic, deliberately dirty sample landing zone (with the "
                         "personas of the design). Refuses to start when the disk has too little free space.")
    gen.add_argument("--tier", choices=["tiny", "demo", "large"], default="demo", help=TIER_HELP)
    gen.add_argument("--days", type=int, default=365, help="number of export days (default 365)")
    gen.add_argument("--seed", type=int, default=42,
                     help="random seed (default 42): the same tier, days, seed and end date write the same bytes")
    gen.add_argument("--out", help="landing root to write (default: $LANDING_ROOT)")
    gen.add_argument("--end-date", type=_date, default=date(2026, 10, 31),
                     help="last export date (default 2026-10-31, so output is reproducible)")
    gen.add_argument("--gzip", action="store_true", help="write .gz files")
    gen.add_argument("--clean", action="store_true", help="inject no dirt")
    gen.add_argument("--no-disk-check", action="store_true",
                     help="write even when the free disk looks too small for the tier")
    gen.set_defaults(func=cmd_generate)

    run = sub.add_parser("run", help="ingest, build, audit, publish and sync")
    run.add_argument("--landing", help="landing root (default: $LANDING_ROOT)")
    run.add_argument("--target", choices=["duckdb", "spark"],
                     help="the engine dbt builds on (default: $C360_TARGET, else duckdb)")
    run.add_argument("--as-of", type=_date, help="build as known at the end of this day (default: latest file)")
    run.add_argument("--from", dest="date_from", type=_date, help="backfill: first export date to (re)load")
    run.add_argument("--to", dest="date_to", type=_date,
                     help="backfill: last export date to (re)load (the build is as of it unless --as-of)")
    run.add_argument("--no-disk-check", action="store_true",
                     help="start a first run even when the free disk beside the warehouse looks smaller than "
                     "the landing zone (a first run writes about as much as the landing files hold)")
    run.add_argument("--no-sync", action="store_true", help="publish, but sync no segment anywhere")
    run.add_argument("--sync-past", action="store_true",
                     help="a run as of a date before the latest export also syncs Klaviyo and Mailchimp "
                          "(default: only the file outbox gets a past state)")
    run.add_argument("--lock-timeout", type=float, metavar="SECONDS", help=LOCK_TIMEOUT_HELP)
    run.set_defaults(func=cmd_run)

    sync = sub.add_parser("sync", help="sync published segments to the email tools and the outbox")
    sync.add_argument("--segment", help="one segment (seg_<name> or <name>; default: every segment)")
    sync.add_argument("--destination", choices=["file", "klaviyo", "mailchimp"], help="one destination")
    sync.add_argument("--dry-run", action="store_true", help="print the plan (counts and a sample), send nothing")
    sync.add_argument("--force", action="store_true", help="send even when the circuit breaker would stop it")
    sync.add_argument("--lock-timeout", type=float, metavar="SECONDS", help=LOCK_TIMEOUT_HELP)
    sync.set_defaults(func=cmd_sync)

    erase = sub.add_parser("erase", help="record an erasure request (right to be forgotten) for the next run")
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's email address")
    who.add_argument("--customer-id", type=int, help="the person's shop customer id")
    erase.set_defaults(func=cmd_erase)

    report = sub.add_parser("report", help="(re)write the HTML run report from serving.duckdb, and the docs' "
                            "entry page", description="(Re)write the HTML run report from serving.duckdb, the "
                            "data-quality page and the documentation's entry page ($C360_HOME/docs/index.html). "
                            "Exits 1 when a section could not be drawn (a section missing its input is only listed).")
    report.add_argument("--out", help="where to write it (default: $C360_HOME/docs/report.html)")
    report.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `c360` console script."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
