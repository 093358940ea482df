"""A backfill day by day equals a run over the same days: `c360 run` once over two export dates, and
`c360 run --from D --to D` day after day (how a daily schedule meets them), give the same marts. Two days,
not more: each `c360 run` costs about two minutes of CI, and the second day already meets the first's state.
The runs go one after another, not side by side: two `c360` processes share the dbt project's target folders
(the manifest, each step's target), and in a fresh clone both wrote the manifest at once (a clean-clone CI
failed on a half-written manifest.json)."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import duckdb
from pipeline_helpers import c360

END = date(2026, 10, 31)
DAYS = [END - timedelta(days=1), END]


def marts(home) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = {
            "customer_360": "SELECT * EXCLUDE (as_of_date) FROM marts.customer_360 ORDER BY customer_key",
            "fct_orders": "SELECT * FROM marts.fct_orders ORDER BY order_key",
            "cohorts": "SELECT * FROM marts.customer_cohorts_monthly ORDER BY ALL",
            "segments": "SELECT * FROM segments.seg_category_cross_sell ORDER BY customer_key",
        }
        return {name: con.execute(sql).fetchall() for name, sql in tables.items()}
    finally:
        con.close()


def test_a_backfill_day_by_day_equals_one_run_over_the_days(tmp_path):
    from orchestration.sample_data import generate

    once, daily = tmp_path / "once", tmp_path / "daily"
    generate(once / "landing", tier="tiny", days=len(DAYS), end_date=END, sources={"shop"})
    shutil.copytree(once / "landing", daily / "landing")

    ran = c360(["run"], once)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    for day in DAYS:
        step = c360(["run", "--from", day.isoformat(), "--to", day.isoformat()], daily)
        assert step.returncode == 0, step.stdout[-2000:] + step.stderr[-2000:]
        assert f"for export dates {day} .. {day}" in step.stdout
    expected, got = marts(once), marts(daily)
    assert expected["customer_360"] and expected["fct_orders"]
    for name in expected:
        assert got[name] == expected[name], name
    # The daily history saw every as-of date; the single run one.
    con = duckdb.connect(str(daily / "warehouse.duckdb"), read_only=True)
    recorded = [r[0] for r in con.execute(
        "SELECT DISTINCT as_of_date FROM segments.segment_sizes_daily ORDER BY 1").fetchall()]
    con.close()
    assert recorded == DAYS
