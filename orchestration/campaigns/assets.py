"""The lift statistics step as a Dagster asset: marts.campaign_lift (dbt: counts and revenue moments) in,
marts.campaign_lift_stats (intervals, p-values, verdicts) out, published with the marts; and its blocking check.

No `from __future__ import annotations` here: Dagster inspects the `context` annotation at runtime.
"""

import duckdb
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from dagster_duckdb import DuckDBResource

from orchestration.campaigns.lift import INPUT_COLUMNS, OUTPUT_COLUMNS, VERDICTS, lift_statistics
from orchestration.ingestion.assets import DUCKDB_POOL
from orchestration.settings import Settings

LIFT = AssetKey(["marts", "campaign_lift"])
LIFT_STATS = AssetKey(["marts", "campaign_lift_stats"])
TABLE = "marts.campaign_lift_stats"
CHECK_NAME = "lift_stats_consistent"


def write_lift_stats(con: duckdb.DuckDBPyConnection, min_members: int) -> pd.DataFrame:
    """Compute the statistics of every row of marts.campaign_lift and replace marts.campaign_lift_stats with
    them (undefined figures stored as null); returns what was written."""
    lift = con.execute(f"select {', '.join(INPUT_COLUMNS)} from marts.campaign_lift order by segment_name").df()
    frame = lift_statistics(lift, min_members)
    columns = ", ".join(
        f"cast(case when isnan({name}) then null else {name} end as double) as {name}" if kind == "double"
        else f"cast({name} as {kind}) as {name}"
        for name, kind in OUTPUT_COLUMNS.items())
    con.register("new_lift_stats", frame)
    try:
        con.execute(f"create or replace table {TABLE} as select {columns} from new_lift_stats")
    finally:
        con.unregister("new_lift_stats")
    return frame


def inconsistencies(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """What is wrong with marts.campaign_lift_stats against marts.campaign_lift, by rule: the segments (or
    '(table)') that break it. Empty when every rule holds."""
    verdicts = ", ".join(f"'{v}'" for v in VERDICTS)
    rules = {
        "same_segments": """
            select coalesce(l.segment_name, s.segment_name) from marts.campaign_lift as l
            full outer join marts.campaign_lift_stats as s on s.segment_name = l.segment_name
            where l.segment_name is null or s.segment_name is null
                or l.treated_members <> s.treated_members or l.holdout_members <> s.holdout_members""",
        "p_value_in_0_1": """
            select segment_name from marts.campaign_lift_stats
            where not (coalesce(conversion_p_value, 0) between 0 and 1)
                or not (coalesce(revenue_p_value, 0) between 0 and 1)""",
        "interval_holds_estimate": """
            select segment_name from marts.campaign_lift_stats
            where conversion_lift_low > conversion_lift + 1e-12 or conversion_lift > conversion_lift_high + 1e-12
                or revenue_lift_low > revenue_lift_per_member + 1e-9
                or revenue_lift_per_member > revenue_lift_high + 1e-9
                or relative_lift_low > relative_lift_high""",
        "verdict": f"""
            select segment_name from marts.campaign_lift_stats
            where verdict is null or verdict not in ({verdicts})
                or (verdict = 'too few members') <> (least(treated_members, holdout_members) < min_members_per_arm)
                or (verdict = 'significant')
                    <> (verdict <> 'too few members' and coalesce(conversion_p_value, 1) < 0.05)""",
    }
    found = {}
    for rule, sql in rules.items():
        names = [str(r[0]) for r in con.execute(sql).fetchall()]
        if names:
            found[rule] = names
    return found


def verdict_table(frame: pd.DataFrame) -> str:
    """Markdown: each segment's verdict, conversion lift with its interval and p-value."""
    def points(value) -> str:
        return "–" if pd.isna(value) else f"{value * 100:+.1f}"

    lines = ["| segment | verdict | lift (pts) | 95% interval | p |", "|---|---|---:|---|---:|"]
    for r in frame.itertuples(index=False):
        p = "–" if pd.isna(r.conversion_p_value) else f"{r.conversion_p_value:.3g}"
        lines.append(f"| {r.segment_name} | {r.verdict} | {points(r.conversion_lift)} | "
                     f"{points(r.conversion_lift_low)} to {points(r.conversion_lift_high)} | {p} |")
    return "\n".join(lines)


def build_lift_stats_asset(settings: Settings):
    """The asset that writes marts.campaign_lift_stats after marts.campaign_lift (verdict threshold:
    settings.lift_min_members)."""

    @asset(
        key=LIFT_STATS,
        deps=[LIFT],
        group_name="marts",
        kinds={"python", "duckdb"},
        pool=DUCKDB_POOL,
        description="campaign_lift with its uncertainty: 95% intervals, p-values, incremental conversions and "
                    "revenue, the minimum detectable lift and a verdict per marketing segment and '_all_marketing'.",
    )
    def campaign_lift_stats(context: AssetExecutionContext, warehouse: DuckDBResource) -> MaterializeResult:
        """Compute the lift statistics from campaign_lift's counts and moments (one row per segment)."""
        with warehouse.get_connection() as con:
            frame = write_lift_stats(con, settings.lift_min_members)
        counts = frame["verdict"].value_counts()
        context.log.info(f"{TABLE}: {len(frame)} rows, " + ", ".join(f"{int(n)} {v}" for v, n in counts.items()))
        return MaterializeResult(metadata={
            "rows": len(frame),
            "min_members_per_arm": settings.lift_min_members,
            "global_holdout_share": settings.global_holdout_share,
            **{f"verdict_{v.replace(' ', '_')}": int(counts.get(v, 0)) for v in VERDICTS},
            "verdicts": MetadataValue.md(verdict_table(frame)),
        })

    return campaign_lift_stats


def build_lift_stats_check():
    """The blocking check of marts.campaign_lift_stats: a row per campaign_lift row with the same sizes,
    p-values in [0, 1], intervals around their estimates, verdicts that follow the rule."""

    @asset_check(asset=LIFT_STATS, name=CHECK_NAME, blocking=True, pool=DUCKDB_POOL,
                 description="One row per campaign_lift row with its sizes; p-values in [0, 1]; each interval holds "
                             "its estimate; the verdict follows the minimum per arm and p < 0.05.")
    def lift_stats_consistent(context: AssetCheckExecutionContext, warehouse: DuckDBResource) -> AssetCheckResult:
        with warehouse.get_connection() as con:
            found = inconsistencies(con)
        return AssetCheckResult(
            passed=not found, severity=AssetCheckSeverity.ERROR,
            description=("; ".join(f"{rule}: {', '.join(names[:5])}" for rule, names in found.items())
                         if found else "consistent with campaign_lift")[:1000],
            metadata={rule: len(names) for rule, names in found.items()},
        )

    return lift_stats_consistent
