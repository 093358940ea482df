"""Typed records -> landing-file lines, with the record-level dirt injected, all in one SQL pass.

Input: a relation with one column per entities.py field (timestamps as naive-UTC TIMESTAMP, money as
DECIMAL, nested values as JSON) plus `_rid` (unique per entity) and `_persona` (never dirtied).
Output rows: (dt, ord, rid, cp, line, tag). `dt` is the export date the line is written to, `tag` the
dirt the line carries (NULL when clean), `cp` 1 for injected extra lines (duplicates, garbage).
"""

from __future__ import annotations

import datetime as dt

from orchestration.ingestion.entities import ENTITIES, Entity, Field

from .context import Ctx
from .dirt import (
    DRIFT_FIELDS,
    EMAIL_FIELDS,
    GARBAGE_LINES,
    OFFSETS,
    TOO_MANY_COLUMNS_VALUE,
    TYPED,
    WRONG_VALUES,
    thresholds,
)
from .sqlkit import sql_list

SQL_TYPES = {"string": "VARCHAR", "int": "BIGINT", "timestamp": "TIMESTAMP", "money": "DECIMAL(18, 2)",
             "bool": "BOOLEAN", "json": "JSON"}
# Entities whose pre-window history is exported on the first day (an initial sync of state).
BACKFILLED = ("shop__customers", "shop__orders", "reviews__reviews", "support__tickets", "loyalty__ledger",
              "loyalty__tier_changes", "subscriptions__subscriptions", "referrals__referrals")
MAX_SHIFT_DAYS = 7  # late arrivals move at most 6 days, cross-file duplicates 1: chunks look back this far


def salt(entity: Entity) -> int:
    """A per-entity salt for dirt draws (stable: derived from the entity's position in the contract)."""
    return 5000 + 10 * [e.name for e in ENTITIES].index(entity.name)


def create_table(ctx: Ctx, entity: Entity) -> str:
    """Create the empty typed record table `rec_<entity>`; returns its name."""
    cols = ", ".join(f'"{f.name}" {SQL_TYPES[f.type]}' for f in entity.fields)
    name = f"rec_{entity.name}"
    ctx.run(f"CREATE OR REPLACE TABLE {name} ({cols}, _rid BIGINT, _persona BOOLEAN)")
    return name


def snapshot(ctx: Ctx, entity: Entity) -> None:
    """Trim `rec_<entity>` to what is exported: history before day 1 only as its latest state per key
    (an initial sync sends state, not every past version), and nothing after the last export day."""
    et = f'"{entity.event_time}"'
    table = f"rec_{entity.name}"
    ctx.run(f"DELETE FROM {table} WHERE {et} >= $END OR {et} IS NULL")
    if entity.name not in BACKFILLED:
        ctx.run(f"DELETE FROM {table} WHERE {et} < $BEGIN")
    elif entity.semantics == "upsert":
        key = ", ".join(f'"{k}"' for k in entity.key)
        ctx.run(f"""
            DELETE FROM {table} WHERE _rid IN (
                SELECT _rid FROM {table} WHERE {et} < $BEGIN
                QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {et} DESC, _rid DESC) > 1)
        """)


def _q(name: str) -> str:
    return f'"{name}"'


def _ts(col: str) -> str:
    """ISO-8601 in UTC (`Z`), or the same instant in another offset for `offset_timestamps` dirt."""
    z = f"strftime({col}, '%Y-%m-%dT%H:%M:%SZ')"
    pick = f"(floor(_u2 * {len(OFFSETS)})::INT + 1)"
    mins = sql_list([m for m, _ in OFFSETS])
    sufs = sql_list([s for _, s in OFFSETS])
    return (f"CASE WHEN tag = 'offset_timestamps' THEN strftime({col} + to_minutes({mins}[{pick}]), "
            f"'%Y-%m-%dT%H:%M:%S') || {sufs}[{pick}] ELSE {z} END")


def _messy_email(col: str) -> str:
    """Four mixed-case / padded variants of a (lower-case) email, picked by the record's draw."""
    return f"""(CASE floor(_u2 * 4)::INT
        WHEN 0 THEN upper({col})
        WHEN 1 THEN ' ' || upper({col}[1]) || {col}[2:]
        WHEN 2 THEN replace({col}, '@example', '@Example') || ' '
        ELSE '  ' || upper({col}[1]) || {col}[2:] || ' ' END)"""


def _value(entity: Entity, f: Field, csv: bool) -> str:
    """SQL text of one field's rendered value (JSON or CSV cell), before wrong-type/missing dirt."""
    col = _q(f.name)
    if f.name == entity.event_time:
        # Clock skew: the event time jumps 2-21 days past the *file* date, keeping its time of day.
        col = (f"(CASE WHEN tag = 'far_future' THEN (_dt0 + (2 + floor(_u3 * 20))::INT)::TIMESTAMP "
               f"+ ({col} - {col}::DATE::TIMESTAMP) ELSE {col} END)")
    if EMAIL_FIELDS.get(entity.name) == f.name:
        col = f"(CASE WHEN tag = 'email_case' THEN {_messy_email(col)} ELSE {col} END)"
    null = "''" if csv else "'null'"
    if f.type == "string":
        if csv:
            return (f"coalesce(CASE WHEN regexp_matches({col}, '[\",\\r\\n]') "
                    f"THEN '\"' || replace({col}, '\"', '\"\"') || '\"' ELSE {col} END, '')")
        return f"coalesce(to_json({col})::VARCHAR, 'null')"
    if f.type in ("int", "money"):
        v = f"{col}::VARCHAR"
        return f"coalesce({v}, {null})" if csv or f.type == "int" else f"coalesce('\"' || {v} || '\"', 'null')"
    if f.type == "timestamp":
        v = _ts(col)
        return f"coalesce({v}, '')" if csv else f"coalesce('\"' || {v} || '\"', 'null')"
    if f.type == "bool":
        return f"CASE WHEN {col} THEN 'true' WHEN NOT {col} THEN 'false' ELSE {null} END"
    return f"coalesce({col}::VARCHAR, 'null')"  # json


def _cells(entity: Entity, csv: bool) -> list[str]:
    """Per-field SQL fragments with missing-required and wrong-type dirt applied."""
    required = list(entity.required_fields)
    typed = [f.name for f in entity.fields if f.type in TYPED]
    out = []
    for f in entity.fields:
        v = _value(entity, f, csv)
        bad = WRONG_VALUES.get(f.type)
        if csv:
            missing, wrong, normal = "''", f"'{bad}'", v
        else:
            missing, wrong, normal = "NULL", f"'\"{f.name}\":\"{bad}\"'", f"'\"{f.name}\":' || {v}"
        branches = []
        if f.name in required:
            branches.append(f"WHEN tag = 'missing_required' AND _mi = {required.index(f.name)} THEN {missing}")
        if f.name in typed:
            branches.append(f"WHEN tag = 'wrong_type' AND _wi = {typed.index(f.name)} THEN {wrong}")
        out.append(f"CASE {' '.join(branches)} ELSE {normal} END" if branches else normal)
    return out


def _line(entity: Entity) -> str:
    """SQL for a record's rendered line (JSON object or CSV row) with field-level dirt, untruncated.

    Big expressions appear once: DuckDB hoists repeated subexpressions and would then compute every
    copy for every row.
    """
    if entity.format == "csv":
        cells = _cells(entity, csv=True)
        line = " || ',' || ".join(f"({c})" for c in cells)
        return f"CASE WHEN tag = 'too_many_columns' THEN {line} || ',{TOO_MANY_COLUMNS_VALUE}' ELSE {line} END"
    drift = sql_list([f',"{k}":{v}' for k, v in DRIFT_FIELDS])
    extra = f"CASE WHEN tag = 'extra_fields' THEN {drift}[floor(_u2 * {len(DRIFT_FIELDS)})::INT + 1] END"
    cells = _cells(entity, csv=False)
    # One variadic concat; a removed field is NULL and `',' || NULL` drops its comma with it. Only when
    # the first field is the removed one must the second piece lose its comma.
    pieces = [cells[0]]
    for i, c in enumerate(cells[1:], start=1):
        if i == 1 and entity.fields[0].name in entity.required_fields:
            pieces.append(f"CASE WHEN tag = 'missing_required' AND _mi = 0 THEN {c} ELSE ',' || {c} END")
        else:
            pieces.append(f"',' || {c}")
    return f"concat('{{', {', '.join(pieces)}, {extra}, '}}')"


def _truncate(entity: Entity, line: str) -> str:
    """Cut a line: JSON at 30-80% (a strict prefix of an object is never valid JSON); CSV inside its
    first nine cells, so quantity and unit_price are gone whatever the reader does with short rows."""
    if entity.format == "csv":
        prefix = f"length(array_to_string(string_split({line}, ',')[1:9], ','))"
        return f"left({line}, greatest(1, floor({prefix} * (0.3 + 0.6 * _u2)))::INT)"
    return f"left({line}, floor(length({line}) * (0.3 + 0.5 * _u2))::INT)"


def render_sql(ctx: Ctx, entity: Entity, src: str, lo: dt.date, hi: dt.date) -> str:
    """SQL producing (dt, ord, rid, cp, line, tag) for the lines written to export dates lo..hi."""
    et = _q(entity.event_time)
    kinds = thresholds(ctx.dirt, entity)
    kind_case = " ".join(f"WHEN _u < {bound!r} THEN '{kind}'" for kind, bound in kinds)
    kind_case = f"CASE {kind_case} END" if kinds else "NULL"
    email = EMAIL_FIELDS.get(entity.name)
    email_ok = f"{_q(email)} IS NOT NULL" if email else "false"
    n_req = max(len(entity.required_fields), 1)
    n_typed = max(len([f for f in entity.fields if f.type in TYPED]), 1)
    s = salt(entity)
    shift_bound = max([b for k, b in kinds if k in ("duplicates", "late_arrivals")], default=0.0)
    garbage = sql_list(list(GARBAGE_LINES))
    return ctx.q(f"""
        WITH b AS (
            SELECT *, {et} AS _et, greatest($D0, {et}::DATE) AS _dt0,
                   CASE WHEN _persona THEN 2.0 ELSE rnd({s}, _rid) END AS _u,
                   rnd({s + 1}, _rid) AS _u2, rnd({s + 2}, _rid) AS _u3
            FROM ({src}) src
            WHERE greatest($D0, {et}::DATE) BETWEEN DATE '{lo}' - {MAX_SHIFT_DAYS} AND DATE '{hi}'
              -- before lo, only records drawn as duplicates/late arrivals can land in lo..hi
              AND (greatest($D0, {et}::DATE) >= DATE '{lo}' OR rnd({s}, _rid) < {shift_bound!r})
              AND {et} < $END {"" if entity.name in BACKFILLED else f"AND {et} >= $BEGIN"}
        ), k AS (
            SELECT *, {kind_case} AS _k, floor(_u3 * {n_req})::INT AS _mi, floor(_u3 * {n_typed})::INT AS _wi
            FROM b
        ), t AS (
            SELECT *,
                   CASE _k
                       WHEN 'duplicates' THEN CASE WHEN _u2 < 0.5 AND _dt0 < $E THEN 'duplicates_other_file'
                                                   ELSE 'duplicates_same_file' END
                       WHEN 'late_arrivals' THEN CASE WHEN _dt0 + 2 <= $E THEN 'late_arrivals' END
                       WHEN 'email_case' THEN CASE WHEN {email_ok} THEN 'email_case' END
                       ELSE _k END AS tag
            FROM k
        ), c AS (
            SELECT *,
                   CASE WHEN tag = 'late_arrivals' THEN least(_dt0 + (2 + floor(_u2 * 5))::INT, $E) ELSE _dt0 END
                       AS _dt,
                   unnest(CASE WHEN tag IN ('duplicates_same_file', 'duplicates_other_file', 'not_json')
                               THEN [0, 1] ELSE [0] END) AS cp
            FROM t
        ), o AS (
            SELECT *, CASE WHEN cp = 1 AND tag = 'duplicates_other_file' THEN _dt + 1 ELSE _dt END AS out_dt
            FROM c
        ), l AS (
            SELECT out_dt, _et, _u2, _u3, _rid, cp, tag,
                   CASE WHEN cp = 1 AND tag = 'not_json' THEN NULL ELSE {_line(entity)} END AS line0
            FROM o
            WHERE out_dt BETWEEN DATE '{lo}' AND DATE '{hi}'
        )
        SELECT out_dt AS dt,
               CASE WHEN cp = 1 AND tag LIKE 'duplicates%' THEN epoch(out_dt::TIMESTAMP) + _u3 * 86400
                    ELSE epoch(_et) END AS ord,
               _rid AS rid, cp,
               CASE WHEN cp = 1 AND tag = 'not_json' THEN {garbage}[floor(_u2 * {len(GARBAGE_LINES)})::INT + 1]
                    WHEN tag = 'truncated' THEN {_truncate(entity, "line0")}
                    ELSE line0 END AS line,
               CASE WHEN cp = 1 THEN tag WHEN tag IN ('duplicates_same_file', 'duplicates_other_file', 'not_json')
                    THEN NULL ELSE tag END AS tag
        FROM l
    """)


def header(entity: Entity) -> str:
    """CSV header row."""
    return ",".join(f.name for f in entity.fields)
