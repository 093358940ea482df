"""A backfill day by day equals a run over the same days: `c360 run` once over two export dates (the shared
`shop_only_run`), and `c360 run --from D --to D` day after day (how a daily schedule meets them), give the same
marts. Two days, not more: each `c360 run` costs about two minutes of CI, and the second day already meets the
first's state. The runs go one after another, not side by side: two `c360` processes share the dbt project's
target folders (the manifest, each step's target), and in a fresh clone both wrote the manifest at once (a
clean-clone CI failed on a half-written manifest.json)."""

from __future__ import annotations

import shutil

import duckdb
from pipeline_helpers import SHOP_ONLY_DAYS, c360


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


def test_a_backfill_day_by_day_equals_one_run_over_the_days(shop_only_run, tmp_path):
    once, ran = shop_only_run
    daily = tmp_path / "daily"
    shutil.copytree(once / "landing", daily / "landing")
    assert f"for export dates {SHOP_ONLY_DAYS[0]} .. {SHOP_ONLY_DAYS[-1]}" in ran.stdout

    for day in SHOP_ONLY_DAYS:
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
    assert recorded == list(SHOP_ONLY_DAYS)
