"""Segment membership history, kept across runs: who entered and left each segment, and daily sizes.

History is state, not a pure function of the inputs (a full refresh of dbt must not erase it), so it is
kept by this step rather than by a dbt model. One set-based pass per run, in one transaction:

- `segments.segment_memberships` (segment_name, customer_key, entered_at, exited_at, is_holdout): a row per
  stay in a segment. A member seen for the first time at as-of date D enters at D; an open member missing
  at D exits at D (exited_at = the first as-of date they were no longer in it).
- `segments.segment_sizes_daily` (as_of_date, segment_name, purpose, members, holdout_members, entered,
  exited): one row per segment and as-of date recorded.
- `segments.segment_definitions`: each segment's purpose, holdout share, destinations and description.

Recording the same as-of date again (a rerun, or a late file for that day) first undoes what that date
recorded, so the result is the same as recording it once. A date older than the newest one recorded is
refused (history is not rewritten backwards); the caller reports it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from orchestration.segments.catalog import SegmentDefinition

DDL = """
create schema if not exists segments;
create table if not exists segments.segment_memberships (
    segment_name varchar not null,
    customer_key varchar not null,
    entered_at date not null,
    exited_at date,
    is_holdout boolean not null
);
create table if not exists segments.segment_sizes_daily (
    as_of_date date not null,
    segment_name varchar not null,
    purpose varchar not null,
    members bigint not null,
    holdout_members bigint not null,
    entered bigint not null,
    exited bigint not null
);
create table if not exists segments.segment_definitions (
    segment_name varchar not null,
    purpose varchar not null,
    holdout_share double not null,
    destinations varchar,
    description varchar
);
"""


class HistoryOutOfOrder(RuntimeError):
    """The as-of date is older than the newest date the history already holds."""


@dataclass(frozen=True)
class HistoryResult:
    """What one recording did, per segment: members now, entries and exits at this date."""

    as_of_date: date
    sizes: dict[str, dict[str, int]]

    @property
    def entered(self) -> int:
        """Entries recorded at this date, all segments."""
        return sum(s["entered"] for s in self.sizes.values())

    @property
    def exited(self) -> int:
        """Exits recorded at this date, all segments."""
        return sum(s["exited"] for s in self.sizes.values())


def _segments_as_of(con: duckdb.DuckDBPyConnection, segments: Sequence[SegmentDefinition]) -> date:
    """The as-of date the segment tables were built for (they must agree)."""
    dates = set()
    for segment in segments:
        table = f'"{segment.schema}"."{segment.name}"'
        row = con.execute(f"select min(as_of_date), max(as_of_date), count(*) from {table}").fetchone()
        if row[2]:
            if row[0] != row[1]:
                raise ValueError(f"{segment.name} holds rows of several as-of dates ({row[0]} .. {row[1]})")
            dates.add(row[0])
    if len(dates) > 1:
        raise ValueError(f"segments were built for different as-of dates: {sorted(dates)}")
    if dates:
        return dates.pop()
    # Every segment empty: the build's as-of date is still in customer_360.
    return con.execute("select max(as_of_date) from marts.customer_360").fetchone()[0]


def record_segment_history(
    con: duckdb.DuckDBPyConnection, segments: Sequence[SegmentDefinition]
) -> HistoryResult:
    """Record the current members of `segments` (tables already built) in the history, as of the date they
    were built for. Raises HistoryOutOfOrder for a date older than the newest recorded."""
    con.execute(DDL)
    as_of = _segments_as_of(con, segments)
    newest = con.execute("select max(as_of_date) from segments.segment_sizes_daily").fetchone()[0]
    if newest is not None and as_of < newest:
        raise HistoryOutOfOrder(
            f"segment history already holds {newest}; the segments were built as of {as_of}, an earlier date. "
            "History is not rewritten backwards: the memberships stay as recorded."
        )
    names = [s.name for s in segments]
    current = " union all ".join(
        f"select '{s.name}' as segment_name, customer_key, bool_or(is_holdout) as is_holdout "
        f'from "{s.schema}"."{s.name}" group by customer_key'
        for s in segments
    ) or "select null::varchar as segment_name, null::varchar as customer_key, null::boolean as is_holdout limit 0"
    con.execute("begin transaction")
    try:
        con.execute(f"create or replace temp table current_members as {current}")
        # Undo what this date recorded before (a rerun of the same as-of date), then record it afresh.
        con.execute("delete from segments.segment_memberships where entered_at = ?", [as_of])
        con.execute("update segments.segment_memberships set exited_at = null where exited_at = ?", [as_of])
        con.execute("delete from segments.segment_sizes_daily where as_of_date = ?", [as_of])
        con.execute(
            """
            update segments.segment_memberships as m set exited_at = ?
            where m.exited_at is null and list_contains(?, m.segment_name)
                and not exists (
                    select 1 from current_members as c
                    where c.segment_name = m.segment_name and c.customer_key = m.customer_key
                )
            """,
            [as_of, names],
        )
        con.execute(
            """
            insert into segments.segment_memberships
            select c.segment_name, c.customer_key, ?, null, c.is_holdout
            from current_members as c
            where not exists (
                select 1 from segments.segment_memberships as m
                where m.segment_name = c.segment_name and m.customer_key = c.customer_key and m.exited_at is null
            )
            """,
            [as_of],
        )
        purposes = " union all ".join(f"select '{s.name}' as segment_name, '{s.purpose}' as purpose" for s in segments)
        con.execute(
            f"""
            insert into segments.segment_sizes_daily
            with purposes as ({purposes}),
            sizes as (
                select segment_name, count(*) as members, count(*) filter (where is_holdout) as holdout_members
                from current_members group by segment_name
            ),
            moves as (
                select
                    segment_name,
                    count(*) filter (where entered_at = $as_of) as entered,
                    count(*) filter (where exited_at = $as_of) as exited
                from segments.segment_memberships
                group by segment_name
            )
            select $as_of, p.segment_name, p.purpose, coalesce(s.members, 0), coalesce(s.holdout_members, 0),
                coalesce(m.entered, 0), coalesce(m.exited, 0)
            from purposes as p
            left join sizes as s on s.segment_name = p.segment_name
            left join moves as m on m.segment_name = p.segment_name
            """,
            {"as_of": as_of},
        )
        con.execute("delete from segments.segment_definitions")
        con.executemany(
            "insert into segments.segment_definitions values (?, ?, ?, ?, ?)",
            [
                (s.name, s.purpose, s.holdout_share, json.dumps(list(s.activation.get("destinations", []))),
                 s.description)
                for s in segments
            ],
        )
        con.execute("drop table current_members")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    rows = con.execute(
        "select segment_name, members, holdout_members, entered, exited from segments.segment_sizes_daily "
        "where as_of_date = ? order by segment_name",
        [as_of],
    ).fetchall()
    return HistoryResult(
        as_of_date=as_of,
        sizes={r[0]: {"members": r[1], "holdout_members": r[2], "entered": r[3], "exited": r[4]} for r in rows},
    )
