"""Activation benchmark: Klaviyo sync of a 100k-member segment against the local fake, and 1M planning.

For the first sync and for a 1% change (inserts, updates, removals) it reports the API calls made and
the wall time against the local Klaviyo enforcing the M-tier limits from the spec
(`x-klaviyo-ratelimit`), next to the minimum that the batch sizes and rate limits allow. The rate
windows can be shrunk by `--time-scale` so the run finishes quickly; the unscaled minimum time the
limits impose is printed as well. Then it times planning (one SQL join) for a 1M-member segment.

    python -m benchmarks.bench_activation [--members 100000] [--plan-members 1000000] [--time-scale 10]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from collections import Counter, deque
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "activation"))  # the local fake servers live with the tests

from fake_klaviyo import FakeKlaviyo  # noqa: E402

from orchestration.activation import SegmentSpec, SyncOptions, run_sync  # noqa: E402
from orchestration.activation.destinations.klaviyo import (  # noqa: E402
    MAX_IDS_PER_LIST_CALL,
    MAX_PAGE,
    MAX_PROFILES_PER_JOB,
    RATE_LIMITS,
)
from orchestration.activation.plan import build_plan  # noqa: E402
from orchestration.activation.state import connect_warehouse  # noqa: E402

SPEC = SegmentSpec(
    model="seg_bench", purpose="marketing", holdout_share=0.0, identifier="email", mode="mirror",
    destinations=("file", "klaviyo"), list_name="C360 bench",
    fields={"first_name": "first_name", "points_balance": "points", "tier": "tier"},
)


def publish(serving: Path, n: int, *, version: int = 0) -> None:
    """Write a segment of n members; version 1 = a 1% change (0.5% updated, 0.25% left, 0.25% joined)."""
    tmp = serving.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    con.execute("CREATE SCHEMA segments")
    quarter = n // 400  # 0.25%
    lo, hi = (1, n) if version == 0 else (1 + quarter, n + quarter)
    con.execute(
        f"""
        CREATE TABLE segments.seg_bench AS
        SELECT printf('c%08d', i) AS customer_key, printf('person%08d@example.com', i) AS email,
               'Name' || i AS first_name, false AS is_holdout, 'subscribed' AS email_consent,
               'bench' AS segment_reason,
               CASE WHEN {version} = 1 AND i % 200 = 7 THEN i + 1 ELSE i END AS points,
               CASE WHEN i % 3 = 0 THEN 'gold' ELSE 'silver' END AS tier
        FROM range({lo}, {hi} + 1) t(i)
        """
    )
    con.close()
    tmp.replace(serving)


def earliest_finish(n: int, windows: list[tuple[int, float]]) -> float:
    """Earliest time (s) the n-th call can start under sliding windows, sending as fast as allowed."""
    log: deque[float] = deque()
    t = 0.0
    longest = max(s for _, s in windows)
    for _ in range(n):
        while True:
            while log and log[0] <= t - longest:
                log.popleft()
            wait = 0.0
            for count, seconds in windows:
                recent = [x for x in log if x > t - seconds]
                if len(recent) >= count:
                    wait = max(wait, recent[len(recent) - count] + seconds - t)
            if wait <= 0:
                break
            t += wait
        log.append(t)
    return t


def minimum(calls: Counter) -> tuple[int, float]:
    """Total calls and the time the per-endpoint limits impose (endpoints limited independently)."""
    bound = 0.0
    for op, n in calls.items():
        burst, steady = RATE_LIMITS[op]
        bound = max(bound, earliest_finish(n, [(burst, 1.0), (steady, 60.0)]))
    return sum(calls.values()), bound


def run(args) -> None:
    """Run the benchmark and print the table."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        serving, warehouse = root / "serving.duckdb", root / "warehouse.duckdb"
        server = FakeKlaviyo(time_scale=args.time_scale)
        env = {"KLAVIYO_API_KEY": server.api_key, "KLAVIYO_BASE_URL": server.url}
        options = SyncOptions(time_scale=args.time_scale, poll_interval=0.5, max_change_share=1.0)
        try:
            n = args.members
            publish(serving, n)
            start = time.perf_counter()
            first = run_sync(SPEC, "klaviyo", serving_db=serving, warehouse_db=warehouse, outbox_dir=root / "out",
                             env=env, options=options)
            wall = time.perf_counter() - start
            jobs = math.ceil(n / MAX_PROFILES_PER_JOB)
            need = Counter(get_lists=1, create_list=1, bulk_import_profiles=jobs, get_bulk_import_profiles_job=jobs)
            rows.append(("first sync", n, first.planned, first.api_calls, server.count(status=429), wall, need))

            publish(serving, n, version=1)
            mark = len(server.calls)
            start = time.perf_counter()
            change = run_sync(SPEC, "klaviyo", serving_db=serving, warehouse_db=warehouse,
                              outbox_dir=root / "out", env=env, options=options)
            wall = time.perf_counter() - start
            p = change.planned
            upserts = math.ceil((p["insert"] + p["update"]) / MAX_PROFILES_PER_JOB)
            need = Counter(bulk_import_profiles=upserts, get_bulk_import_profiles_job=upserts,
                           get_profiles=math.ceil(p["remove"] / MAX_PAGE),
                           remove_profiles_from_list=math.ceil(p["remove"] / MAX_IDS_PER_LIST_CALL))
            throttled = sum(1 for _, s in server.calls[mark:] if s == 429)
            rows.append(("1% change", n, p, change.api_calls, throttled, wall, need))
            assert server.members("C360 bench") == {f"person{i:08d}@example.com"
                                                    for i in range(1 + n // 400, n + n // 400 + 1)}
            assert server.violations == [], server.violations[:3]
        finally:
            server.close()

        print(f"\nKlaviyo sync, M-tier limits from the spec, rate windows scaled 1/{args.time_scale:g}")
        head = (f"{'run':<11} {'members':>8} {'ins/upd/rem':>17} {'calls':>6} {'min calls':>9} {'429s':>5} "
                f"{'wall s':>7} {'min s (unscaled)':>17}")
        print(head)
        print("-" * len(head))
        for name, n, p, calls, throttled, wall, need in rows:
            min_calls, min_s = minimum(need)
            ops = f"{p['insert']}/{p['update']}/{p['remove']}"
            print(f"{name:<11} {n:>8} {ops:>17} {calls:>6} {min_calls:>9} {throttled:>5} {wall:>7.2f} {min_s:>17.2f}")
        print("min calls: one import job per 10,000 profiles (+1 status poll each), list removals by 1,000 ids "
              "after an id lookup per 100 emails; min s: when the last of those calls may start under the "
              "per-endpoint burst/steady windows.")

        # planning for a large segment: one SQL join against a state holding the previous sync
        m = args.plan_members
        big_serving, big_wh = root / "big_serving.duckdb", root / "big_wh.duckdb"
        publish(big_serving, m)
        con = connect_warehouse(big_wh, big_serving)
        start = time.perf_counter()
        plan = build_plan(con, SPEC, "klaviyo", erasure_key="c360", erased_table=False, requires_email=True,
                          load_rows=False)
        t_first = time.perf_counter() - start
        con.execute(  # state as a completed first sync leaves it
            "INSERT INTO activation.sync_state SELECT 'seg_bench:klaviyo', member_key, customer_key, email, row_hash, "
            "true, true, NULL, NULL, NULL, now()::TIMESTAMP, now()::TIMESTAMP, 'bench' FROM plan"
        )
        con.close()
        publish(big_serving, m, version=1)
        con = connect_warehouse(big_wh, big_serving)
        start = time.perf_counter()
        plan = build_plan(con, SPEC, "klaviyo", erasure_key="c360", erased_table=False, requires_email=True)
        t_change = time.perf_counter() - start
        con.close()
        p = plan.counts
        print(f"\nPlanning {m:,} members (one SQL join, counts and samples; goal < 10 s)")
        print(f"  first plan (empty state):             {t_first:6.2f} s   inserts {m:,}")
        print(f"  1% change, incl. loading changed rows: {t_change:6.2f} s   "
              f"insert/update/remove/unchanged {p['insert']}/{p['update']}/{p['remove']}/{p['unchanged']}")


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--plan-members", type=int, default=1_000_000)
    parser.add_argument("--time-scale", type=float, default=10.0,
                        help="divide the rate windows and waits by this factor (1 = real time)")
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
